//! Delay, jitter, FIFO order and reordering of the link emulator, measured.

use std::time::Duration;

use lightspeed_protocol::time::Micros;
use lightspeed_sim::link::{JitterDistribution, Link, LinkConfig, SendOutcome};

/// Sends `n` packets numbered 0.. every `gap_us`, starting at 0, polling as the clock goes,
/// and returns `(seq, send_time, release_time)` in delivery order.
fn run(config: LinkConfig, seed: u64, n: u64, gap_us: u64) -> Vec<(u64, u64, u64)> {
    let mut link = Link::new(config, seed).expect("valid config");
    let mut out = Vec::with_capacity(n as usize);
    let mut collect = |link: &mut Link<u64>, now: Micros| {
        while let Some((release, seq)) = link.poll_with_time(now) {
            assert!(release <= now);
            out.push((seq, seq * gap_us, release.0));
        }
    };
    for seq in 0..n {
        let now = Micros(seq * gap_us);
        collect(&mut link, now);
        assert!(matches!(
            link.send(now, seq, 100),
            SendOutcome::Queued { .. }
        ));
    }
    collect(&mut link, Micros(u64::MAX));
    assert_eq!(link.in_flight(), 0);
    out
}

fn mean_std(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut n, mut sum, mut sum_sq) = (0.0, 0.0, 0.0);
    for x in xs {
        n += 1.0;
        sum += x;
        sum_sq += x * x;
    }
    let mean = sum / n;
    (mean, (sum_sq / n - mean * mean).sqrt())
}

#[test]
fn without_jitter_every_packet_arrives_exactly_after_the_delay() {
    let config = LinkConfig {
        delay: Duration::from_micros(12_345),
        ..LinkConfig::default()
    };
    let out = run(config, 1, 10_000, 37);
    assert_eq!(out.len(), 10_000);
    for (i, &(seq, sent, release)) in out.iter().enumerate() {
        assert_eq!(seq, i as u64);
        assert_eq!(release, sent + 12_345);
    }
}

#[test]
fn perfect_link_releases_at_the_send_instant() {
    let mut link = Link::new(LinkConfig::default(), 0).unwrap();
    assert_eq!(
        link.send(Micros(500), 'a', 1),
        SendOutcome::Queued { duplicated: false }
    );
    assert_eq!(link.next_release(), Some(Micros(500)));
    assert_eq!(link.poll(Micros(500)), Some('a'));
    assert_eq!(link.next_release(), None);
}

// Sparse traffic (one packet per second against a jitter tail of at most 37 × 5 ms) never
// meets the FIFO clamp, so the delivered extra delay is the drawn one. With n = 100 000:
// exponential mean 5 000 µs has standard error 5 000/√n ≈ 15.8 µs, its standard deviation
// ≈ 5 000·√(2/n) ≈ 22.4 µs (kurtosis 9); bounds of 100 and 140 µs are > 6 standard errors.
#[test]
fn exponential_jitter_mean_and_std_match_the_config() {
    let config = LinkConfig {
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(5),
        jitter_distribution: JitterDistribution::Exponential,
        ..LinkConfig::default()
    };
    let out = run(config, 2, 100_000, 1_000_000);
    let (mean, std) = mean_std(out.iter().map(|&(_, s, r)| (r - s - 30_000) as f64));
    assert!((mean - 5_000.0).abs() < 100.0, "mean extra delay {mean} µs");
    assert!((std - 5_000.0).abs() < 140.0, "std of extra delay {std} µs");
}

// Half-normal with σ = 4 ms at n = 100 000: mean σ√(2/π) ≈ 3 191.5 µs with standard error
// σ·0.603/√n ≈ 7.6 µs; std σ√(1−2/π) ≈ 2 411.5 µs with standard error ≈ 2 411.5·√((κ−1)/4n)
// ≈ 6.5 µs (kurtosis κ ≈ 3.87). Bounds of 50 µs are > 6 standard errors.
#[test]
fn half_normal_jitter_mean_and_std_match_the_config() {
    let config = LinkConfig {
        jitter: Duration::from_millis(4),
        jitter_distribution: JitterDistribution::HalfNormal,
        ..LinkConfig::default()
    };
    let out = run(config, 3, 100_000, 1_000_000);
    let (mean, std) = mean_std(out.iter().map(|&(_, s, r)| (r - s) as f64));
    let sigma = 4_000.0;
    let want_mean = sigma * (2.0 / std::f64::consts::PI).sqrt();
    let want_std = sigma * (1.0 - 2.0 / std::f64::consts::PI).sqrt();
    assert!(
        (mean - want_mean).abs() < 50.0,
        "mean {mean} vs {want_mean}"
    );
    assert!((std - want_std).abs() < 50.0, "std {std} vs {want_std}");
}

#[test]
fn jitter_without_reorder_keeps_fifo_order() {
    // Packets every 100 µs against 5 ms of jitter: most draws would overtake.
    let config = LinkConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        ..LinkConfig::default()
    };
    let out = run(config, 4, 50_000, 100);
    assert_eq!(out.len(), 50_000);
    assert!(
        out.iter()
            .enumerate()
            .all(|(i, &(seq, _, _))| seq == i as u64)
    );
    assert!(out.windows(2).all(|w| w[0].2 <= w[1].2));
    // The clamp is what kept the order: packets waited for their predecessors, so the mean
    // extra delay is well above the 5 ms drawn on average.
    let (mean, _) = mean_std(out.iter().map(|&(_, s, r)| (r - s - 10_000) as f64));
    assert!(
        mean > 10_000.0,
        "mean extra delay {mean} µs shows no FIFO clamping"
    );
}

/// RFC 4737: a packet is reordered if a packet sent after it arrived before it.
fn reordered_fraction(out: &[(u64, u64, u64)]) -> f64 {
    let mut max_seen = None;
    let mut reordered = 0u64;
    for &(seq, _, _) in out {
        match max_seen {
            Some(m) if seq < m => reordered += 1,
            _ => max_seen = Some(seq),
        }
    }
    reordered as f64 / out.len() as f64
}

// Packets every 1 ms, hold 5 ms (k = 5), no jitter: a held packet is overtaken iff one of
// the next 4 is not held, so P(reordered) = r(1 − r⁴) = 0.09999 for r = 0.1. The indicators
// are 4-dependent with negligible covariance, so the standard error at n = 100 000 is
// ≈ √(p(1−p)/n) ≈ 0.00095; the bound 0.006 is > 6 of them.
#[test]
fn reorder_fraction_matches_and_held_packets_fall_back_by_the_hold() {
    let r = 0.1;
    let config = LinkConfig {
        delay: Duration::from_millis(10),
        reorder: r,
        reorder_hold: Duration::from_millis(5),
        ..LinkConfig::default()
    };
    let mut link = Link::new(config.clone(), 5).unwrap();
    let n = 100_000u64;
    let mut out = Vec::new();
    for seq in 0..n {
        let now = Micros(seq * 1_000);
        link.send(now, seq, 100);
        while let Some((t, s)) = link.poll_with_time(now) {
            out.push((s, s * 1_000, t.0));
        }
    }
    while let Some((t, s)) = link.poll_with_time(Micros(u64::MAX)) {
        out.push((s, s * 1_000, t.0));
    }
    assert_eq!(out.len() as u64, n);
    let want = r * (1.0 - r.powi(4));
    let got = reordered_fraction(&out);
    assert!(
        (got - want).abs() < 0.006,
        "reordered fraction {got}, expected {want}"
    );
    let held = link.stats().reordered as f64 / n as f64;
    assert!((held - r).abs() < 0.006, "held fraction {held}");
    // Every packet arrives either in order (send + 10 ms) or held (send + 15 ms).
    let late = out.iter().filter(|&&(_, s, t)| t == s + 15_000).count() as u64;
    assert!(
        out.iter()
            .all(|&(_, s, t)| t == s + 10_000 || t == s + 15_000)
    );
    assert_eq!(late, link.stats().reordered);
}

#[test]
fn lowering_the_delay_at_runtime_does_not_let_new_packets_overtake() {
    let slow = LinkConfig {
        delay: Duration::from_millis(100),
        ..LinkConfig::default()
    };
    let mut link = Link::new(slow.clone(), 6).unwrap();
    link.send(Micros(0), 0u32, 10);
    link.set_config(LinkConfig {
        delay: Duration::from_millis(10),
        ..slow
    })
    .unwrap();
    link.send(Micros(1_000), 1, 10);
    link.send(Micros(200_000), 2, 10);
    assert_eq!(
        link.poll_with_time(Micros(u64::MAX)),
        Some((Micros(100_000), 0))
    );
    assert_eq!(
        link.poll_with_time(Micros(u64::MAX)),
        Some((Micros(100_000), 1))
    );
    assert_eq!(
        link.poll_with_time(Micros(u64::MAX)),
        Some((Micros(210_000), 2))
    );
}
