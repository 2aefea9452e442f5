use super::*;
use lightspeed_mesh::dataplane::endpoint::EndpointStats;

fn health(id: u32, stats: EndpointStats) -> SessionHealth {
    SessionHealth {
        id: SessionId(id),
        role: "edge",
        stats,
    }
}

fn edge_record(id: u32) -> SessionRecord {
    SessionRecord::new(
        SessionId(id),
        SessionRole::Edge,
        vec!["edge-bkk".into(), "relay-sgp".into(), "proxy-lax".into()],
        FecScheme::Sliding {
            window: 4,
            repairs: 1,
            interval: 1,
        },
        Micros(1_000_000),
    )
}

#[test]
fn refresh_takes_the_endpoint_figures_and_hands_back_ended_sessions() {
    let book = SessionBook::default();
    book.insert(edge_record(1));
    book.insert(edge_record(2));
    let stats = EndpointStats {
        data_sent: 640,
        received: 1_200,
        delivered: 630,
        recovered: 12,
        srtt_us: 191_000,
        jitter_us: 900,
        first_seq: Some(1),
        highest_seq: 1_250,
        ..EndpointStats::default()
    };
    assert!(
        book.refresh(&[health(1, stats), health(2, stats)])
            .is_empty()
    );
    let r = book.get(SessionId(1)).unwrap();
    assert_eq!(r.local.expected, 1_250);
    assert_eq!(r.local.received, 1_200);
    assert_eq!(r.srtt_us(), Some(191_000));
    assert_eq!((r.rtt_sum_us, r.rtt_samples), (191_000, 1));
    let ended = book.refresh(&[health(2, stats)]);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, SessionId(1));
    assert!(book.get(SessionId(1)).is_none());
    assert_eq!(book.totals().ended, 1);
}

#[test]
fn rows_show_both_directions_fec_history_and_no_invented_savings() {
    let book = SessionBook::default();
    book.insert(edge_record(7));
    book.update(SessionId(7), |r| {
        // Downstream as the edge measured it; upstream as the proxy reported it.
        r.local = LinkReport {
            data_sent: 1_000,
            expected: 2_000,
            received: 1_900,
            delivered: 998,
            recovered: 48,
            peer_data_sent: 1_000,
            delivered_then: 999,
            srtt_us: 191_000,
            loss_runs: 80,
            server_rtt_us: 0,
        };
        r.remote = Some(LinkReport {
            data_sent: 1_000,
            expected: 4_000,
            received: 3_960,
            delivered: 1_000,
            recovered: 20,
            peer_data_sent: 1_000,
            delivered_then: 1_000,
            srtt_us: 0,
            loss_runs: 30,
            server_rtt_us: 4_000,
        });
    });
    book.fec_changed(SessionId(7), FecScheme::Off, Micros(6_000_000));
    book.fec_changed(SessionId(7), FecScheme::Off, Micros(6_500_000));
    book.fec_changed(
        SessionId(7),
        FecScheme::ReedSolomon { k: 3, m: 2 },
        Micros(9_000_000),
    );
    let row = row(&book.get(SessionId(7)).unwrap(), Micros(11_000_000));
    assert_eq!(row.id, "00000007");
    // The proxy reported its server leg: the edge shows the whole path.
    assert_eq!(row.server_rtt_ms, Some(4.0));
    assert_eq!(row.end_to_end_rtt_ms, Some(195.0));
    assert_eq!(row.age_ms, 10_000);
    assert_eq!(row.rtt_ms, Some(191.0));
    let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() < 1e-12);
    assert!(near(row.upstream.loss_before_fec, 0.01), "{row:?}");
    assert_eq!(row.upstream.loss_after_fec, Some(0.0));
    assert!(near(row.downstream.loss_before_fec, 0.05), "{row:?}");
    assert!(near(row.downstream.loss_after_fec, 0.001), "{row:?}");
    assert_eq!(row.downstream.recovered, Some(48));
    assert_eq!(row.fec.scheme, "rs(3,2)");
    assert_eq!(row.fec.changes, 2);
    assert_eq!(row.fec.last_change_ms_ago, Some(2_000));
    assert_eq!(row.fec.used, vec!["sliding(4,1,1)", "off", "rs(3,2)"]);
    assert_eq!(
        row.saved_ms, None,
        "no direct measurement, no savings claimed"
    );
    assert_eq!(book.totals().fec_changes, 2);

    book.set_direct_rtt(SessionId(7), Some(206_000));
    book.path_switched(SessionId(7), vec!["edge-bkk".into(), "proxy-lax".into()]);
    let r = book.get(SessionId(7)).unwrap();
    assert_eq!(r.saved_ms(), Some(15.0));
    assert_eq!(r.path_switches, 1);
    let t = book.totals();
    assert_eq!(t.path_switches, 1);
    assert_eq!(t.by_scheme, [0, 0, 1, 0, 0]);
    assert_eq!(t.expected, [4_000, 2_000]);
    assert_eq!(t.lost_before, [40, 100]);
    assert_eq!(t.lost_after, [0, 1]);
    assert_eq!(t.mean_rtt_us, Some(191_000));
}

#[test]
fn a_proxy_row_takes_the_rtt_from_the_edge_and_unreported_figures_are_null() {
    let mut r = SessionRecord::new(
        SessionId(3),
        SessionRole::Proxy,
        vec!["127.0.0.1:5000".into(), "proxy-lax".into()],
        FecScheme::Off,
        Micros(0),
    );
    let row0 = row(&r, Micros(0));
    assert_eq!(row0.rtt_ms, None);
    assert_eq!(row0.downstream.loss_before_fec, None);
    assert_eq!(row0.downstream.sent, Some(0));
    r.remote = Some(LinkReport {
        srtt_us: 40_000,
        ..LinkReport::default()
    });
    assert_eq!(r.srtt_us(), Some(40_000));
    assert_eq!(row(&r, Micros(0)).server_rtt_ms, None);
    // The proxy's own server leg, refreshed from its figures like the rest of `local`.
    let book = SessionBook::default();
    book.insert(r);
    book.refresh(&[health(
        3,
        EndpointStats {
            server_rtt_us: 9_000,
            ..EndpointStats::default()
        },
    )]);
    let r = book.get(SessionId(3)).unwrap();
    let proxy_row = row(&r, Micros(0));
    assert_eq!(proxy_row.server_rtt_ms, Some(9.0));
    assert_eq!(proxy_row.end_to_end_rtt_ms, Some(49.0));
    assert_eq!(scheme_name(FecScheme::Duplicate), "dup");
    assert_eq!(scheme_kind(FecScheme::Xor { k: 4 }), "xor");
}
