use super::paths::*;

const BKK: NodeId = NodeId(0);
const SGP: NodeId = NodeId(1);
const TYO: NodeId = NodeId(2);
const LA: NodeId = NodeId(3);

fn asia_graph() -> RouteGraph {
    let mut g = RouteGraph::new(BKK);
    g.add_relay(SGP);
    g.add_relay(TYO);
    g.add_relay(BKK); // the edge itself is never a relay
    g.add_proxy(LA, None).unwrap();
    for (a, b, ms) in [
        (BKK, LA, 206),
        (BKK, SGP, 31),
        (SGP, LA, 178),
        (BKK, TYO, 60),
        (TYO, LA, 110),
        (SGP, TYO, 70),
        (TYO, SGP, 70),
    ] {
        g.add_link(a, b, LinkMetrics::rtt_ms(ms)).unwrap();
    }
    g
}

#[test]
fn composition_sums_rtt_adds_jitter_in_quadrature_and_compounds_loss() {
    let m = compose(&[
        LinkMetrics {
            rtt_us: 31_000,
            jitter_us: 3_000,
            loss_ppm: 10_000,
        },
        LinkMetrics {
            rtt_us: 178_000,
            jitter_us: 4_000,
            loss_ppm: 20_000,
        },
    ]);
    assert_eq!(m.rtt_us, 209_000);
    assert_eq!(m.jitter_us, 5_000);
    // 1 − 0.99 × 0.98 = 0.0298
    assert_eq!(m.loss_ppm, 29_800);
    assert_eq!(compose(&[]), PathMetrics::default());
}

#[test]
fn cost_is_rtt_plus_twice_jitter_plus_ten_ms_per_percent_loss() {
    let m = PathMetrics {
        rtt_us: 200_000,
        jitter_us: 5_000,
        loss_ppm: 5_000,
    };
    assert_eq!(CostModel::default().cost(&m, 2), 200_000 + 10_000 + 5_000);
    let hop = CostModel {
        relay_hop_us: 1_000,
        ..CostModel::default()
    };
    assert_eq!(hop.cost(&m, 2), 217_000);
}

#[test]
fn enumerates_direct_one_and_two_relay_paths_cheapest_first() {
    let c = candidates(&asia_graph(), &CostModel::default(), &EnumConfig::default());
    let got: Vec<(Path, u32)> = c
        .iter()
        .map(|c| (c.path, c.metrics.rtt_us / 1_000))
        .collect();
    assert_eq!(
        got,
        vec![
            (Path::via(TYO, LA), 170),
            (Path::direct(LA), 206),
            (Path::via(SGP, LA), 209),
            (Path::via2(SGP, TYO, LA), 211),
            (Path::via2(TYO, SGP, LA), 308),
        ]
    );
    for cand in &c {
        let hops = cand.path.hops();
        assert!(!hops.contains(&BKK));
        assert!(
            hops.iter()
                .enumerate()
                .all(|(i, h)| !hops[i + 1..].contains(h))
        );
    }
}

#[test]
fn server_leg_is_part_of_every_path_to_its_proxy() {
    let mut g = asia_graph();
    g.add_proxy(
        LA,
        Some(LinkMetrics {
            rtt_us: 2_000,
            jitter_us: 0,
            loss_ppm: 1_000,
        }),
    )
    .unwrap();
    let c = candidates(&g, &CostModel::default(), &EnumConfig::default());
    let direct = c.iter().find(|c| c.path.is_direct()).unwrap();
    assert_eq!(direct.metrics.rtt_us, 208_000);
    assert_eq!(direct.metrics.loss_ppm, 1_000);
    assert_eq!(direct.cost_us, 209_000);
}

#[test]
fn enumeration_is_bounded_by_fanout_and_count() {
    let mut g = RouteGraph::new(NodeId(0));
    g.add_proxy(NodeId(1), None).unwrap();
    g.add_link(NodeId(0), NodeId(1), LinkMetrics::rtt_ms(300))
        .unwrap();
    for r in 10..40 {
        g.add_relay(NodeId(r));
        g.add_link(NodeId(0), NodeId(r), LinkMetrics::rtt_ms(r))
            .unwrap();
        g.add_link(NodeId(r), NodeId(1), LinkMetrics::rtt_ms(100))
            .unwrap();
        for s in 10..40 {
            if s != r {
                g.add_link(NodeId(r), NodeId(s), LinkMetrics::rtt_ms(5))
                    .unwrap();
            }
        }
    }
    let cfg = EnumConfig {
        relay_fanout: 3,
        max_candidates: 1_000,
    };
    let c = candidates(&g, &CostModel::default(), &cfg);
    // 1 direct + 3 one-relay + 3 × 2 two-relay (first and last hop among the 3 nearest).
    assert_eq!(c.len(), 10);
    assert_eq!(c[0].path, Path::via(NodeId(10), NodeId(1)));
    let capped = candidates(
        &g,
        &CostModel::default(),
        &EnumConfig {
            relay_fanout: 16,
            max_candidates: 32,
        },
    );
    assert_eq!(capped.len(), 32);
    assert!(capped.windows(2).all(|w| w[0].cost_us <= w[1].cost_us));
}

#[test]
fn disjointness_is_no_shared_relay_and_no_shared_link() {
    assert!(disjoint(&Path::direct(LA), &Path::via(SGP, LA)));
    assert!(disjoint(&Path::via(SGP, LA), &Path::via(TYO, LA)));
    assert!(!disjoint(&Path::via(SGP, LA), &Path::via2(SGP, TYO, LA)));
    assert!(!disjoint(
        &Path::via2(TYO, SGP, LA),
        &Path::via2(SGP, TYO, LA)
    ));
    assert!(!disjoint(&Path::direct(LA), &Path::direct(LA)));
    assert!(disjoint(&Path::direct(LA), &Path::direct(NodeId(9))));
    let c = candidates(&asia_graph(), &CostModel::default(), &EnumConfig::default());
    // Primary via TYO (170 ms); the cheapest path avoiding TYO is direct (206 ms).
    assert_eq!(
        best_disjoint(&c, 0).map(|i| c[i].path),
        Some(Path::direct(LA))
    );
    assert_eq!(best_disjoint(&c, 99), None);
}

#[test]
fn graph_refuses_self_links_and_too_many_proxies() {
    let mut g = RouteGraph::new(BKK);
    assert_eq!(
        g.add_link(SGP, SGP, LinkMetrics::rtt_ms(1)),
        Err(GraphError::SelfLink)
    );
    for p in 0..MAX_PROXIES as u32 {
        g.add_proxy(NodeId(100 + p), None).unwrap();
    }
    assert_eq!(
        g.add_proxy(NodeId(999), None),
        Err(GraphError::TooManyProxies)
    );
    assert_eq!(g.add_proxy(NodeId(100), None), Ok(()));
    assert_eq!(Path::via2(SGP, TYO, LA).relays(), &[SGP, TYO]);
    assert_eq!(Path::via2(SGP, TYO, LA).proxy(), LA);
}
