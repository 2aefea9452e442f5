use std::time::Duration;

use lightspeed_protocol::Micros;

use super::failover::*;
use super::paths::*;
use super::policy::*;
use super::selector::{History, NearestSelector};

const LA: NodeId = NodeId(3);
const SGP: NodeId = NodeId(1);

#[test]
fn at_64_pps_a_path_is_dead_after_three_gaps_of_silence() {
    let gap = packet_gap(64);
    assert_eq!(gap, Duration::from_micros(15_625));
    let cfg = LivenessConfig::default();
    assert_eq!(cfg.threshold(gap), Duration::from_micros(46_875));
    // 128 pps: three gaps are 23.4 ms, the 40 ms floor applies.
    assert_eq!(cfg.threshold(packet_gap(128)), Duration::from_millis(40));

    let mut live = PathLiveness::new(cfg, gap, Micros::ZERO, Duration::from_millis(191));
    let mut t = Micros::ZERO;
    // Traffic both ways every gap for one second; echoes arrive from 191 ms on.
    while t < Micros::from_millis(1_000) {
        live.on_sent();
        if t >= Micros::from_millis(191) {
            live.on_received(t);
        }
        assert_eq!(live.check(t), Liveness::Alive);
        t = t + gap;
    }
    let last = live.last_rx();
    // The fault: the edge keeps sending, nothing comes back.
    live.on_sent();
    assert_eq!(
        live.check(last + Duration::from_micros(46_874)),
        Liveness::Alive
    );
    assert_eq!(
        live.check(last + Duration::from_micros(46_875)),
        Liveness::Dead {
            silent_for: Duration::from_micros(46_875)
        }
    );
    assert_eq!(live.deadline(), last + Duration::from_micros(46_875));
    let (sent, received) = live.counts();
    assert_eq!(sent, 65);
    assert_eq!(received, 51);
}

#[test]
fn silence_while_the_edge_sends_nothing_is_no_evidence() {
    let gap = packet_gap(64);
    let mut live = PathLiveness::new(LivenessConfig::default(), gap, Micros::ZERO, Duration::ZERO);
    live.on_sent();
    live.on_received(Micros::from_millis(10));
    assert_eq!(live.check(Micros::from_millis(5_000)), Liveness::Alive);
    live.on_sent();
    assert!(matches!(
        live.check(Micros::from_millis(5_000)),
        Liveness::Dead { .. }
    ));
}

#[test]
fn failover_budget_bkk_sgp_la_fits_300_ms() {
    let gap = packet_gap(64);
    let threshold = LivenessConfig::default().threshold(gap);
    // Old path via SGP (191 ms), new path direct (206 ms):
    // 95.5 + 46.875 + 15.625 + 103 = 261 ms.
    let budget = failover_budget(
        threshold,
        gap,
        Duration::from_millis(191),
        Duration::from_millis(206),
    );
    assert_eq!(budget, Duration::from_millis(261));
    assert!(budget <= Duration::from_millis(300));
    // A 250 ms path failing over to another 250 ms path does not fit.
    let long = failover_budget(
        threshold,
        gap,
        Duration::from_millis(250),
        Duration::from_millis(250),
    );
    assert_eq!(long, Duration::from_micros(312_500));
}

#[test]
fn relay_death_moves_the_session_to_direct_and_records_the_failover() {
    let c = [
        Candidate {
            path: Path::direct(LA),
            metrics: PathMetrics {
                rtt_us: 206_000,
                ..PathMetrics::default()
            },
            cost_us: 206_000,
        },
        Candidate {
            path: Path::via(SGP, LA),
            metrics: PathMetrics {
                rtt_us: 191_000,
                ..PathMetrics::default()
            },
            cost_us: 191_000,
        },
    ];
    let mut policy = PathPolicy::new(PolicyConfig::default());
    let sel = NearestSelector;
    let hist = History::default();
    let _ = policy.decide(Micros::ZERO, &c, &sel, &hist);
    let gap = packet_gap(64);
    let mut live = PathLiveness::new(LivenessConfig::default(), gap, Micros::ZERO, Duration::ZERO);
    let fault = Micros::from_millis(5_000);
    live.on_received(fault);
    live.on_sent();
    let dead_at = live.deadline();
    assert!(matches!(live.check(dead_at), Liveness::Dead { .. }));

    let mut clock = FailoverClock::default();
    clock.start(live.last_rx(), dead_at);
    policy.veto(dead_at, Path::via(SGP, LA));
    let d = policy.decide(dead_at, &c, &sel, &hist);
    assert!(matches!(d, Decision::Switch { to, .. } if to.path == Path::direct(LA)));
    assert!(clock.in_progress());
    // The game's next packet leaves within a gap; its echo is back one direct RTT later.
    let echo = dead_at + gap + Duration::from_millis(206);
    let rec = clock.on_received(echo).unwrap();
    assert_eq!(rec.detect, Duration::from_micros(46_875));
    assert_eq!(rec.total, Duration::from_micros(268_500));
    // Delivered at the proxy half an RTT before the echo: 165.5 ms after the last packet.
    assert_eq!(
        rec.total - Duration::from_millis(103),
        Duration::from_micros(165_500)
    );
    assert_eq!(clock.on_received(echo), None);
}

#[test]
fn adaptive_duplication_turns_on_at_once_and_off_after_five_calm_seconds() {
    let base = Duration::from_millis(191);
    let mut g = DuplicateGate::new(MultipathConfig::default());
    let ms = Micros::from_millis;
    assert!(!g.update(ms(0), 0, base, base));
    assert!(g.update(ms(1_000), 1_500, base, base), "0.15 % loss");
    assert!(
        g.update(ms(2_000), 500, base, base),
        "0.05 %: between the thresholds"
    );
    assert!(g.update(ms(3_000), 100, base, base));
    assert!(g.update(ms(7_999), 100, base, base));
    assert!(!g.update(ms(8_000), 100, base, base), "5 s calm");
    assert!(
        g.update(ms(9_000), 0, base + Duration::from_millis(25), base),
        "spike"
    );
    // A 12 ms rise is no spike but not calm either: stays on.
    assert!(g.update(ms(20_000), 0, base + Duration::from_millis(12), base));
    let off = MultipathConfig {
        mode: MultipathMode::Off,
        ..MultipathConfig::default()
    };
    assert!(!DuplicateGate::new(off).update(ms(0), 500_000, base, base));
    let always = MultipathConfig {
        mode: MultipathMode::Always,
        ..MultipathConfig::default()
    };
    let mut a = DuplicateGate::new(always);
    assert!(a.is_on());
    assert!(a.update(ms(0), 0, base, base));
}
