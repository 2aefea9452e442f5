use super::*;

fn ms(v: u64) -> Micros {
    Micros::from_millis(v)
}

fn target(name: &str, port: u16, key: u8) -> ProbeTarget {
    ProbeTarget {
        name: name.into(),
        addr: SocketAddr::from(([192, 0, 2, 1], port)),
        key: SessionKey([key; 32]),
    }
}

#[test]
fn probes_each_peer_once_per_interval_and_measures_echoes() {
    let mut p = LinkProber::new(ProberConfig::default());
    let changes = p.set_targets(ms(0), vec![target("b", 2, 2), target("a", 1, 1)]);
    assert_eq!(
        changes,
        vec![
            SlotKey {
                slot: 0,
                key: Some(SessionKey([1; 32]))
            },
            SlotKey {
                slot: 1,
                key: Some(SessionKey([2; 32]))
            },
        ],
        "slots follow name order"
    );
    let first = p.poll(ms(0));
    assert_eq!(first.len(), 2, "new peers are probed at once");
    assert_eq!((first[0].slot, first[0].seq, first[0].to.port()), (0, 0, 1));
    assert!(p.poll(ms(999)).is_empty());
    assert_eq!(p.next_due(), Some(ms(1_000)));
    // a answers after 20 ms (5 of them held by the peer); b never does.
    assert_eq!(
        p.on_echo(ms(20), 0, 0, Duration::from_millis(5)),
        Reply::Sample(Duration::from_millis(15))
    );
    assert_eq!(p.on_echo(ms(21), 0, 0, Duration::ZERO), Reply::Duplicate);
    assert_eq!(p.on_echo(ms(21), 7, 0, Duration::ZERO), Reply::Unknown);
    assert_eq!(p.on_echo(ms(21), 1, 5, Duration::ZERO), Reply::Unknown);
    let second = p.poll(ms(1_000));
    assert_eq!(second.iter().map(|o| o.seq).collect::<Vec<_>>(), [1, 1]);
    let links = p.links(ms(3_000));
    assert_eq!(links.len(), 1, "only measured links are claimed");
    assert_eq!(links[0].0.to, "a");
    assert_eq!(links[0].0.rtt_us, 15_000);
    assert_eq!(links[0].1, SocketAddr::from(([192, 0, 2, 1], 1)));
    // b: both probes older than the 1 s timeout are lost.
    assert_eq!(p.stats("b", ms(3_000)).unwrap().lost, 2);
}

#[test]
fn a_late_driver_never_bursts() {
    let mut p = LinkProber::new(ProberConfig::default());
    p.set_targets(ms(0), vec![target("a", 1, 1)]);
    assert_eq!(p.poll(ms(0)).len(), 1);
    // The driver was stalled for 10 s: one probe, and the next an interval later.
    assert_eq!(p.poll(ms(10_000)).len(), 1);
    assert!(p.poll(ms(10_500)).is_empty());
    assert_eq!(p.next_due(), Some(ms(11_000)));
}

#[test]
fn leaving_peers_free_their_slot_and_new_keys_or_addresses_are_applied() {
    let mut p = LinkProber::new(ProberConfig {
        max_peers: 2,
        ..ProberConfig::default()
    });
    p.set_targets(ms(0), vec![target("a", 1, 1), target("b", 2, 2)]);
    let _ = p.poll(ms(0));
    p.on_echo(ms(10), 1, 0, Duration::ZERO);
    // c is beyond max_peers; a leaves; b restarts with a new key.
    let changes = p.set_targets(
        ms(100),
        vec![target("b", 2, 9), target("c", 3, 3), target("d", 4, 4)],
    );
    assert_eq!(
        changes,
        vec![
            SlotKey { slot: 0, key: None },
            SlotKey {
                slot: 1,
                key: Some(SessionKey([9; 32]))
            },
            SlotKey {
                slot: 0,
                key: Some(SessionKey([3; 32]))
            },
        ]
    );
    assert_eq!(p.len(), 2);
    assert_eq!(
        p.stats("b", ms(100)).unwrap().answered,
        1,
        "same path: the estimate survives a new key"
    );
    // b moved: a fresh estimate, probed at once.
    p.set_targets(ms(200), vec![target("b", 5, 9), target("c", 3, 3)]);
    assert_eq!(p.stats("b", ms(200)).unwrap().answered, 0);
    let due = p.poll(ms(200));
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].to.port(), 5);
}

#[test]
fn sequence_numbers_are_matched_across_the_32_bit_wrap() {
    let mut p = LinkProber::new(ProberConfig::default());
    p.set_targets(ms(0), vec![target("a", 1, 1)]);
    for i in 0..5u64 {
        let out = p.poll(ms(i * 1_000));
        assert_eq!(out[0].seq, i as u32);
    }
    // An echo of probe 3 after probe 4 went out still counts.
    assert_eq!(
        p.on_echo(ms(4_010), 0, 3, Duration::ZERO),
        Reply::Sample(Duration::from_millis(1_010))
    );
    // Numbers never sent are unknown (they would map below zero).
    assert_eq!(p.on_echo(ms(4_010), 0, 7, Duration::ZERO), Reply::Unknown);
}
