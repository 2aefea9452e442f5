use std::time::Duration;

use lightspeed_protocol::Micros;

use super::paths::*;
use super::policy::*;
use super::selector::{History, NearestSelector};

const SGP: NodeId = NodeId(1);
const TYO: NodeId = NodeId(2);
const LA: NodeId = NodeId(3);

fn cand(path: Path, rtt_ms: u32, loss_ppm: u32) -> Candidate {
    let metrics = PathMetrics {
        rtt_us: rtt_ms * 1_000,
        jitter_us: 0,
        loss_ppm,
    };
    Candidate {
        path,
        metrics,
        cost_us: CostModel::default().cost(&metrics, path.relays().len()),
    }
}

fn decide(p: &mut PathPolicy, now_ms: u64, c: &[Candidate]) -> Decision {
    p.decide(
        Micros::from_millis(now_ms),
        c,
        &NearestSelector,
        &History::default(),
    )
}

/// The bkk-sgp-la numbers, composed from the links by `candidates`.
fn bkk(sgp_la_ms: u32) -> Vec<Candidate> {
    let mut g = RouteGraph::new(NodeId(0));
    g.add_relay(SGP);
    g.add_proxy(LA, None).unwrap();
    g.add_link(NodeId(0), LA, LinkMetrics::rtt_ms(206)).unwrap();
    g.add_link(NodeId(0), SGP, LinkMetrics::rtt_ms(31)).unwrap();
    g.add_link(SGP, LA, LinkMetrics::rtt_ms(sgp_la_ms)).unwrap();
    candidates(&g, &CostModel::default(), &EnumConfig::default())
}

#[test]
fn bkk_sgp_la_stays_direct_at_209_and_selects_the_relay_at_191() {
    let mut p = PathPolicy::new(PolicyConfig::default());
    let d = decide(&mut p, 0, &bkk(178));
    assert!(
        matches!(d, Decision::Switch { to, reason: Reason::Direct } if to.path == Path::direct(LA))
    );

    let mut fresh = PathPolicy::new(PolicyConfig::default());
    let d = decide(&mut fresh, 0, &bkk(160));
    assert!(matches!(
        d,
        Decision::Switch { to, reason: Reason::SavesLatency { saved_us: 15_000 } }
            if to.path == Path::via(SGP, LA) && to.metrics.rtt_us == 191_000
    ));

    // The session already on direct: SGP–LA improves to 160 ms. It waits out the dwell, then
    // switches because 15 ms meets the (stricter) 15 ms switch margin.
    assert_eq!(decide(&mut p, 9_999, &bkk(160)), Decision::Stay);
    assert!(matches!(
        decide(&mut p, 10_000, &bkk(160)),
        Decision::Switch {
            reason: Reason::Better { gain_us: 15_000 },
            ..
        }
    ));
    // At 165 ms (saves 10: enough to select, not to switch) a session on direct stays.
    let mut q = PathPolicy::new(PolicyConfig::default());
    let _ = decide(&mut q, 0, &bkk(178));
    assert_eq!(decide(&mut q, 60_000, &bkk(165)), Decision::Stay);
}

#[test]
fn flap_bait_costs_crossing_within_the_margins_cause_at_most_one_switch() {
    let cfg = PolicyConfig {
        min_dwell: Duration::ZERO,
        ..PolicyConfig::default()
    };
    // Two relay paths whose costs swap every second by 8 ms, direct far behind.
    let mut p = PathPolicy::new(cfg);
    let mut switches = 0;
    for i in 0..200u64 {
        let (a, b) = if i % 2 == 0 { (192, 200) } else { (200, 192) };
        let c = [
            cand(Path::direct(LA), 230, 0),
            cand(Path::via(SGP, LA), a, 0),
            cand(Path::via(TYO, LA), b, 0),
        ];
        if matches!(decide(&mut p, i * 1_000, &c), Decision::Switch { .. }) {
            switches += 1;
        }
    }
    assert_eq!(switches, 1, "only the initial selection");

    // Relay savings over direct alternating 12 / 6 ms: inside the 5..15 ms band.
    let mut p = PathPolicy::new(cfg);
    let mut switches = 0;
    for i in 0..200u64 {
        let relay = if i % 2 == 0 { 194 } else { 200 };
        let c = [
            cand(Path::direct(LA), 206, 0),
            cand(Path::via(SGP, LA), relay, 0),
        ];
        if matches!(decide(&mut p, i * 1_000, &c), Decision::Switch { .. }) {
            switches += 1;
        }
    }
    assert_eq!(switches, 1);
    assert_eq!(p.current().map(|c| c.0), Some(Path::via(SGP, LA)));
}

#[test]
fn dwell_limits_switches_when_costs_swing_beyond_the_margin() {
    let mut p = PathPolicy::new(PolicyConfig::default());
    let mut switches = 0;
    // Costs swap by 30 ms every second for 100 s: dwell of 10 s allows at most one optional
    // switch per 10 s.
    for i in 0..100u64 {
        let (a, b) = if i % 2 == 0 { (170, 200) } else { (200, 170) };
        let c = [
            cand(Path::direct(LA), 230, 0),
            cand(Path::via(SGP, LA), a, 0),
            cand(Path::via(TYO, LA), b, 0),
        ];
        if matches!(decide(&mut p, i * 1_000, &c), Decision::Switch { .. }) {
            switches += 1;
        }
    }
    assert!(switches <= 11, "{switches} switches");
}

#[test]
fn a_failed_path_is_vetoed_for_thirty_seconds() {
    let mut p = PathPolicy::new(PolicyConfig::default());
    let c = bkk(160);
    let _ = decide(&mut p, 0, &c);
    p.veto(Micros::from_millis(1_000), Path::via(SGP, LA));
    assert_eq!(p.current(), None);
    assert!(matches!(
        decide(&mut p, 1_000, &c),
        Decision::Switch { to, reason: Reason::Direct } if to.path.is_direct()
    ));
    assert!(p.is_vetoed(Micros::from_millis(30_999), &Path::via(SGP, LA)));
    assert_eq!(decide(&mut p, 30_999, &c), Decision::Stay);
    assert!(matches!(
        decide(&mut p, 31_000, &c),
        Decision::Switch { to, reason: Reason::Better { .. } } if to.path == Path::via(SGP, LA)
    ));
    // Everything vetoed: no path.
    p.veto(Micros::from_millis(40_000), Path::via(SGP, LA));
    p.veto(Micros::from_millis(40_000), Path::direct(LA));
    assert_eq!(decide(&mut p, 40_000, &c), Decision::NoPath);
    // The veto table is bounded; later vetoes are kept.
    for i in 0..40u32 {
        p.veto(Micros::from_millis(50_000), Path::via(NodeId(100 + i), LA));
    }
    assert!(p.is_vetoed(Micros::from_millis(50_000), &Path::via(NodeId(139), LA)));
}

#[test]
fn loss_rule_trades_up_to_twenty_ms_for_halving_the_loss_and_lets_go_when_loss_clears() {
    let lossy = |relay_ms, direct_loss| {
        [
            cand(Path::direct(LA), 200, direct_loss),
            cand(Path::via(SGP, LA), relay_ms, 0),
        ]
    };
    // Direct 200 ms at 0.5 % (cost 205), relay 215 ms clean: the cost rule says direct.
    let mut p = PathPolicy::new(PolicyConfig::default());
    assert!(matches!(
        decide(&mut p, 0, &lossy(215, 5_000)),
        Decision::Switch { to, reason: Reason::CutsLoss { from_ppm: 5_000, to_ppm: 0 } }
            if to.path == Path::via(SGP, LA)
    ));
    // +25 ms is beyond the bound.
    let mut q = PathPolicy::new(PolicyConfig::default());
    assert!(matches!(
        decide(&mut q, 0, &lossy(225, 5_000)),
        Decision::Switch {
            reason: Reason::Direct,
            ..
        }
    ));
    // Loss at 0.07 % (above the 0.05 % exit): the relay is kept.
    assert_eq!(decide(&mut p, 20_000, &lossy(215, 700)), Decision::Stay);
    // Loss at 0.03 %: it no longer pays, back to direct.
    assert!(matches!(
        decide(&mut p, 21_000, &lossy(215, 300)),
        Decision::Switch { to, reason: Reason::NoLongerPays } if to.path.is_direct()
    ));
    // On direct, loss rises to 0.5 %: switch by the loss rule after the dwell.
    assert_eq!(decide(&mut p, 25_000, &lossy(215, 5_000)), Decision::Stay);
    assert!(matches!(
        decide(&mut p, 31_000, &lossy(215, 5_000)),
        Decision::Switch {
            reason: Reason::CutsLoss { .. },
            ..
        }
    ));
}

#[test]
fn without_a_direct_path_the_selector_pick_is_taken() {
    let mut p = PathPolicy::new(PolicyConfig::default());
    let c = [
        cand(Path::via(TYO, LA), 250, 0),
        cand(Path::via(SGP, LA), 240, 0),
    ];
    assert!(matches!(
        decide(&mut p, 0, &c),
        Decision::Switch { to, reason: Reason::NoDirect } if to.path == Path::via(SGP, LA)
    ));
    assert_eq!(decide(&mut p, 1, &[]), Decision::NoPath);
}

#[test]
fn dwell_scales_with_the_game_packet_rate() {
    assert_eq!(PolicyConfig::for_pps(64).min_dwell, Duration::from_secs(10));
    assert_eq!(PolicyConfig::for_pps(128).min_dwell, Duration::from_secs(5));
    assert_eq!(PolicyConfig::for_pps(30).min_dwell, Duration::from_secs(20));
    assert_eq!(
        PolicyConfig::for_pps(1_000).min_dwell,
        Duration::from_secs(3)
    );
    assert_eq!(PolicyConfig::for_pps(0).min_dwell, Duration::from_secs(20));
    let cs2 = lightspeed_edge::profiles::profile("cs2").unwrap();
    assert_eq!(
        PolicyConfig::for_profile(cs2).min_dwell,
        PolicyConfig::for_pps(cs2.upstream.pps).min_dwell
    );
    assert_eq!(
        PolicyConfig::for_pps(64).select_margin,
        Duration::from_millis(10)
    );
}
