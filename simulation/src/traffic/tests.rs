use super::*;
use lightspeed_edge::profiles::{profile, profiles};

fn spec(pps: u32, min: usize, mean: usize, max: usize, jitter_us: u64) -> TrafficSpec {
    TrafficSpec {
        pps,
        size_min: min,
        size_mean: mean,
        size_max: max,
        jitter: Duration::from_micros(jitter_us),
    }
}

#[test]
fn sends_stay_on_the_tick_clock_within_the_jitter() {
    // 64 pps: nominal interval 15_625 µs exactly.
    let mut t = GameTraffic::from_spec(spec(64, 60, 120, 300, 500), 7)
        .expect("valid")
        .starting_at(Micros(1_000));
    let mut prev = None;
    let mut lateness = Vec::new();
    for k in 0..10_000u64 {
        let (at, _) = t.next_send();
        let nominal = 1_000 + k * 15_625;
        assert!(at.0 >= nominal && at.0 <= nominal + 500, "tick {k}: {at:?}");
        lateness.push(at.0 - nominal);
        if let Some(p) = prev {
            assert!(at > p, "tick {k} not after the previous send");
        }
        prev = Some(at);
    }
    // The displacement is really random: it spans most of [0, 500] and is not constant.
    assert!(lateness.iter().any(|&l| l < 50) && lateness.iter().any(|&l| l > 450));
    // Mean rate: 9_999 intervals over 9_999 * 15_625 µs ± 500 µs.
    let elapsed = prev.map_or(0, |p| p.0) as f64 - 1_000.0;
    let rate = 9_999.0 / (elapsed / 1e6);
    let tol = 64.0 * 500.0 / (9_999.0 * 15_625.0);
    assert!((rate - 64.0).abs() <= tol + 1e-9, "rate {rate}");
    assert_eq!(t.scheduled(), 10_000);
}

#[test]
fn fractional_intervals_do_not_drift() {
    // 63 pps: 15_873.015... µs, floors must not accumulate.
    let mut t = GameTraffic::from_spec(spec(63, 60, 60, 60, 0), 1).expect("valid");
    let times: Vec<_> = (0..=63 * 100).map(|_| t.next_send().0.0).collect();
    assert_eq!(times.first(), Some(&0));
    assert_eq!(
        times.last(),
        Some(&100_000_000),
        "exactly 100 s for 6_300 packets"
    );
    let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|&g| g == 15_873 || g == 15_874));
}

/// Mean of `n` draws is within 5 standard errors of `mean`, using the bound
/// sd <= (max - min) / 2 that holds for any law on [min, max].
fn assert_mean_size(s: TrafficSpec, n: usize, seed: u64) {
    let mut t = GameTraffic::from_spec(s, seed).expect("valid");
    let mut sum = 0u64;
    let mut low = 0usize;
    for _ in 0..n {
        let (_, size) = t.next_send();
        assert!(
            (s.size_min..=s.size_max).contains(&size),
            "{size} out of {s:?}"
        );
        sum += size as u64;
        if size < s.size_mean {
            low += 1;
        }
    }
    let observed = sum as f64 / n as f64;
    let tol = 5.0 * (s.size_max - s.size_min) as f64 / 2.0 / (n as f64).sqrt();
    assert!(
        (observed - s.size_mean as f64).abs() <= tol,
        "{s:?}: mean {observed} vs {} ± {tol}",
        s.size_mean
    );
    // Below-mean sizes come only from the low half, which is picked with the low share
    // and then lands on `mean` itself with probability 1/(mean-min+1).
    let p = s.low_share() * (1.0 - 1.0 / (s.size_mean - s.size_min + 1) as f64);
    let share = low as f64 / n as f64;
    let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-12;
    assert!((share - p).abs() <= tol, "{s:?}: low share {share} vs {p}");
}

#[test]
fn sizes_match_the_mean_and_stay_in_bounds() {
    assert_mean_size(spec(30, 60, 300, 1200, 0), 200_000, 1);
    assert_mean_size(spec(30, 60, 110, 300, 0), 200_000, 2);
    assert_mean_size(spec(30, 20, 20, 20, 0), 1_000, 3);
    assert_mean_size(spec(30, 100, 100, 900, 0), 50_000, 4);
    assert_mean_size(spec(30, 100, 900, 900, 0), 50_000, 5);
}

#[test]
fn every_game_profile_yields_valid_traffic_matching_its_means() {
    for p in profiles() {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let s = TrafficSpec::from_profile(p, dir);
            assert_eq!(s.pps, p.traffic(dir).pps);
            assert!(s.jitter <= DEFAULT_JITTER_CAP && s.jitter < s.interval());
            assert!(GameTraffic::new(p, dir, 9).is_ok(), "{} {dir:?}", p.id);
            assert_mean_size(s, 50_000, 11);
        }
    }
}

#[test]
fn same_seed_same_schedule_other_seed_other_schedule() {
    let cs2 = profile("cs2").expect("cs2");
    let run = |seed| {
        GameTraffic::new(cs2, Direction::ServerToClient, seed)
            .expect("valid")
            .take(1_000)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
    assert_eq!(run(42).len(), 1_000);
}

#[test]
fn invalid_specs_are_refused_with_the_reason() {
    let bad = |s: TrafficSpec| GameTraffic::from_spec(s, 0).map(|_| ()).unwrap_err();
    assert_eq!(bad(spec(0, 60, 100, 200, 0)), TrafficError::Rate { pps: 0 });
    assert_eq!(
        bad(spec(MAX_PPS + 1, 60, 100, 200, 0)),
        TrafficError::Rate { pps: MAX_PPS + 1 }
    );
    assert_eq!(
        bad(spec(30, 60, 40, 200, 0)),
        TrafficError::SizeOrder {
            min: 60,
            mean: 40,
            max: 200
        }
    );
    assert_eq!(
        bad(spec(30, 60, 100, 70_000, 0)),
        TrafficError::SizeTooLarge { max: 70_000 }
    );
    // 128 pps: 7_812 µs interval; a jitter of one full interval could reorder sends.
    assert_eq!(
        bad(spec(128, 60, 100, 200, 7_812)),
        TrafficError::JitterTooLarge {
            jitter_us: 7_812,
            interval_us: 7_812
        }
    );
    assert!(GameTraffic::from_spec(spec(128, 60, 100, 200, 7_811), 0).is_ok());
    assert!(GameTraffic::from_spec(spec(MAX_PPS, 20, 20, 20, 99), 0).is_ok());
}
