//! Determinism by seed, and property tests: any valid configuration and any call sequence
//! never panics, conserves packets and respects release times and the in-flight cap.

use std::time::Duration;

use lightspeed_protocol::time::Micros;
use lightspeed_sim::link::{
    JitterDistribution, Link, LinkConfig, LinkStats, LossModel, Outage, SendOutcome,
};
use proptest::prelude::*;

fn everything_on() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(3),
        jitter_distribution: JitterDistribution::HalfNormal,
        loss: LossModel::gilbert_elliott_from_mean(0.02, 3.0).unwrap(),
        reorder: 0.05,
        reorder_hold: Duration::from_millis(4),
        duplicate: 0.01,
        rate_bps: Some(20_000_000),
        queue_limit_bytes: 30_000,
        max_in_flight: 10_000,
        outages: vec![Outage {
            start: Micros(400_000),
            end: Micros(450_000),
        }],
    }
}

/// Sends 20 000 packets of varying size every 50 µs and returns every outcome, every delivery
/// `(release, seq)` and the final counters.
fn trace(seed: u64) -> (Vec<SendOutcome>, Vec<(Micros, u32)>, LinkStats) {
    let mut link = Link::new(everything_on(), seed).unwrap();
    let (mut outcomes, mut deliveries) = (Vec::new(), Vec::new());
    for seq in 0..20_000u32 {
        let now = Micros(u64::from(seq) * 50);
        outcomes.push(link.send(now, seq, 200 + (seq as usize * 7919) % 1_200));
        while let Some(d) = link.poll_with_time(now) {
            deliveries.push(d);
        }
    }
    while let Some(d) = link.poll_with_time(Micros(u64::MAX)) {
        deliveries.push(d);
    }
    (outcomes, deliveries, link.stats())
}

#[test]
fn same_seed_same_run_different_seed_different_run() {
    let a = trace(7);
    let b = trace(7);
    assert_eq!(a, b);
    let c = trace(8);
    assert_ne!(a.1, c.1);
    // Every feature was exercised, so the comparison covered all of them.
    let s = a.2;
    assert!(s.dropped.loss > 0 && s.dropped.outage > 0 && s.dropped.queue_full > 0);
    assert!(s.duplicated > 0 && s.reordered > 0);
    assert_eq!(s.in_flight, 0);
    assert_eq!(s.sent + s.duplicated, s.delivered + s.dropped.total());
}

fn probability() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64]
}

fn loss_model() -> impl Strategy<Value = LossModel> {
    prop_oneof![
        Just(LossModel::None),
        probability().prop_map(|p| LossModel::Iid { p }),
        (probability(), probability(), probability(), probability()).prop_map(|(a, b, c, d)| {
            LossModel::GilbertElliott {
                p_good_to_bad: a,
                p_bad_to_good: b,
                loss_in_good: c,
                loss_in_bad: d,
            }
        }),
    ]
}

fn outages() -> impl Strategy<Value = Vec<Outage>> {
    prop::collection::vec((0..100_000u64, 1..100_000u64), 0..4).prop_map(|gaps| {
        let mut t = 0;
        gaps.into_iter()
            .map(|(gap, len)| {
                let start = t + gap;
                t = start + len;
                Outage {
                    start: Micros(start),
                    end: Micros(t),
                }
            })
            .collect()
    })
}

prop_compose! {
    fn valid_config()(
        delay in 0..200_000u64,
        jitter in prop_oneof![Just(0u64), 0..60_000_000u64],
        half_normal in any::<bool>(),
        loss in loss_model(),
        reorder in probability(),
        hold in 0..100_000u64,
        duplicate in probability(),
        rate in prop::option::of(1..2_000_000_000u64),
        queue in 1..200_000usize,
        max_in_flight in 1..500usize,
        outages in outages(),
    ) -> LinkConfig {
        LinkConfig {
            delay: Duration::from_micros(delay),
            jitter: Duration::from_micros(jitter),
            jitter_distribution: if half_normal {
                JitterDistribution::HalfNormal
            } else {
                JitterDistribution::Exponential
            },
            loss,
            reorder,
            reorder_hold: Duration::from_micros(hold),
            duplicate,
            rate_bps: rate,
            queue_limit_bytes: queue,
            max_in_flight,
            outages,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Send after advancing the clock by `dt`.
    Send {
        dt: u64,
        size: usize,
    },
    /// Send at an arbitrary instant, possibly in the past or near `u64::MAX`.
    SendAt {
        at: u64,
        size: usize,
    },
    Poll {
        dt: u64,
    },
    SetDown(bool),
    SetConfig(LinkConfig),
    /// A configuration that may well be invalid (e.g. NaN or out-of-range probabilities).
    SetWild {
        p: f64,
        rate: u64,
        max_in_flight: usize,
    },
    DropInFlight,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..20_000u64, 0..70_000usize).prop_map(|(dt, size)| Op::Send { dt, size }),
        1 => (any::<u64>(), 0..70_000usize).prop_map(|(at, size)| Op::SendAt { at, size }),
        4 => (0..50_000u64).prop_map(|dt| Op::Poll { dt }),
        1 => any::<bool>().prop_map(Op::SetDown),
        1 => valid_config().prop_map(Op::SetConfig),
        1 => (any::<f64>(), 0..3u64, 0..3usize)
            .prop_map(|(p, rate, max_in_flight)| Op::SetWild { p, rate, max_in_flight }),
        1 => Just(Op::DropInFlight),
    ]
}

fn check_conservation<T>(link: &Link<T>) {
    let s = link.stats();
    assert_eq!(
        s.sent + s.duplicated,
        s.delivered + s.dropped.total() + s.in_flight
    );
    assert_eq!(s.in_flight, link.in_flight() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_valid_config_and_calls_conserve_packets(
        config in valid_config(),
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 0..300),
    ) {
        prop_assert_eq!(config.validate(), Ok(()));
        let mut cap = config.max_in_flight;
        let mut link = Link::new(config, seed).unwrap();
        let mut now = 0u64;
        let mut seq = 0u64;
        for op in ops {
            match op {
                Op::Send { dt, size } => {
                    now += dt;
                    link.send(Micros(now), seq, size);
                    seq += 1;
                }
                Op::SendAt { at, size } => {
                    link.send(Micros(at), seq, size);
                    seq += 1;
                }
                Op::Poll { dt } => now += dt,
                Op::SetDown(down) => link.set_down(down),
                Op::SetConfig(c) => {
                    cap = cap.max(c.max_in_flight);
                    prop_assert_eq!(link.set_config(c), Ok(()));
                }
                Op::SetWild { p, rate, max_in_flight } => {
                    let before = link.config().clone();
                    let wild = LinkConfig {
                        loss: LossModel::Iid { p },
                        duplicate: p,
                        rate_bps: Some(rate),
                        max_in_flight,
                        ..before.clone()
                    };
                    let valid = wild.validate().is_ok();
                    prop_assert_eq!(link.set_config(wild).is_ok(), valid);
                    if valid {
                        cap = cap.max(max_in_flight);
                    } else {
                        prop_assert_eq!(link.config(), &before);
                    }
                }
                Op::DropInFlight => {
                    let n = link.in_flight();
                    prop_assert_eq!(link.drop_in_flight(), n);
                }
            }
            prop_assert!(link.in_flight() <= cap);
            // Whatever is due comes out, in release order, and nothing early.
            let due = link.next_release().is_some_and(|next| next <= Micros(now));
            let (mut polled, mut last) = (0, Micros::ZERO);
            while let Some((release, _)) = link.poll_with_time(Micros(now)) {
                prop_assert!(release <= Micros(now) && release >= last);
                last = release;
                polled += 1;
            }
            prop_assert_eq!(polled > 0, due);
            prop_assert!(link.next_release().is_none_or(|next| next > Micros(now)));
            check_conservation(&link);
        }
        while link.poll(Micros(u64::MAX)).is_some() {}
        prop_assert_eq!(link.in_flight(), 0);
        check_conservation(&link);
    }

    #[test]
    fn invalid_configs_are_refused_without_panicking(
        p in any::<f64>(),
        delay_us in any::<u64>(),
        start in any::<u64>(),
        end in any::<u64>(),
    ) {
        let config = LinkConfig {
            delay: Duration::from_micros(delay_us),
            reorder: p,
            outages: vec![Outage { start: Micros(start), end: Micros(end) }],
            ..LinkConfig::default()
        };
        let valid = (0.0..=1.0).contains(&p) && delay_us <= 60_000_000 && start < end;
        prop_assert_eq!(config.validate().is_ok(), valid);
        prop_assert_eq!(Link::<u8>::new(config, 0).is_ok(), valid);
    }
}
