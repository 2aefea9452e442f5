//! Loss (iid and Gilbert-Elliott), duplication, outages and the in-flight cap, measured.

use std::time::Duration;

use lightspeed_protocol::time::Micros;
use lightspeed_sim::link::{DropReason, Link, LinkConfig, LossModel, Outage, SendOutcome};

/// Sends `n` packets at 1 µs intervals on a zero-delay link and returns, per packet, whether
/// it was lost.
fn loss_pattern(loss: LossModel, seed: u64, n: u64) -> Vec<bool> {
    let config = LinkConfig {
        loss,
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, seed).unwrap();
    let pattern: Vec<bool> = (0..n)
        .map(|seq| {
            let outcome = link.send(Micros(seq), seq, 100);
            let lost = outcome == SendOutcome::Dropped(DropReason::Loss);
            assert_eq!(link.poll(Micros(seq)).is_none(), lost);
            lost
        })
        .collect();
    let stats = link.stats();
    assert_eq!(
        stats.dropped.loss,
        pattern.iter().filter(|&&l| l).count() as u64
    );
    assert_eq!(stats.delivered + stats.dropped.total(), n);
    pattern
}

// p = 0.03, n = 100 000 independent packets: standard error √(p(1−p)/n) ≈ 0.00054; the bound
// 0.0033 is > 6 of them.
#[test]
fn iid_loss_rate_matches_p() {
    let pattern = loss_pattern(LossModel::Iid { p: 0.03 }, 10, 100_000);
    let rate = pattern.iter().filter(|&&l| l).count() as f64 / pattern.len() as f64;
    assert!((rate - 0.03).abs() < 0.0033, "loss rate {rate}");
}

// Mean loss L = 0.05 in bursts of B = 4: p_bg = 0.25, p_gb ≈ 0.01316, second eigenvalue
// λ = 1 − p_gb − p_bg ≈ 0.737. The bad-state indicator is autocorrelated, so the loss rate over
// n = 1 000 000 packets has variance L(1−L)/n · (1+λ)/(1−λ) ≈ 6.6 · L(1−L)/n: standard error
// ≈ 0.00056, bound 0.0035 (> 6). Bursts are geometric with mean 4, variance (1−p_bg)/p_bg² = 12;
// about n·L/B = 12 500 bursts give a standard error of √(12/12 500) ≈ 0.031, bound 0.19 (> 6).
#[test]
fn gilbert_elliott_loss_rate_and_burst_length_match() {
    let model = LossModel::gilbert_elliott_from_mean(0.05, 4.0).unwrap();
    let pattern = loss_pattern(model, 11, 1_000_000);
    let lost = pattern.iter().filter(|&&l| l).count();
    let rate = lost as f64 / pattern.len() as f64;
    assert!(
        (rate - model.mean_loss_rate()).abs() < 0.0035,
        "loss rate {rate}"
    );
    let bursts = pattern.windows(2).filter(|w| w[1] && !w[0]).count() + usize::from(pattern[0]);
    let mean_burst = lost as f64 / bursts as f64;
    assert!((mean_burst - 4.0).abs() < 0.19, "mean burst {mean_burst}");
    // Same loss rate iid has mean burst 1/(1−L) ≈ 1.05: the burstiness is real.
    assert!(bursts < 15_000);
}

#[test]
fn gilbert_elliott_with_lossy_good_state_matches_stationary_rate() {
    // π_B = 0.02/(0.02+0.1) = 1/6; rate = 5/6·0.01 + 1/6·0.5 ≈ 0.09167. With n = 1 000 000 and
    // λ = 0.88 the bad-state share has standard error √(π(1−π)/n·(1+λ)/(1−λ)) ≈ 0.0015, times
    // the 0.49 loss difference ≈ 0.00073, with the binomial part (≈ 0.00022) ≈ 0.00076 in all:
    // bound 0.005 (> 6).
    let model = LossModel::GilbertElliott {
        p_good_to_bad: 0.02,
        p_bad_to_good: 0.1,
        loss_in_good: 0.01,
        loss_in_bad: 0.5,
    };
    let pattern = loss_pattern(model, 12, 1_000_000);
    let rate = pattern.iter().filter(|&&l| l).count() as f64 / pattern.len() as f64;
    let want = model.mean_loss_rate();
    assert!((want - 0.091_666).abs() < 1e-5);
    assert!(
        (rate - want).abs() < 0.005,
        "loss rate {rate}, expected {want}"
    );
}

// d = 0.02, n = 100 000: standard error √(d(1−d)/n) ≈ 0.00044; bound 0.0027 (> 6).
#[test]
fn duplication_rate_matches_and_copies_are_delivered() {
    let config = LinkConfig {
        delay: Duration::from_millis(5),
        duplicate: 0.02,
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 13).unwrap();
    let n = 100_000u64;
    let mut copies = 0u64;
    let mut delivered = Vec::new();
    for seq in 0..n {
        let now = Micros(seq * 10);
        if let SendOutcome::Queued { duplicated: true } = link.send(now, seq, 80) {
            copies += 1;
        }
        while let Some(seq) = link.poll(now) {
            delivered.push(seq);
        }
    }
    while let Some(seq) = link.poll(Micros(u64::MAX)) {
        delivered.push(seq);
    }
    assert_eq!(link.stats().dropped.total(), 0);
    let stats = link.stats();
    assert_eq!(stats.duplicated, copies);
    assert_eq!(delivered.len() as u64, n + copies);
    assert_eq!(stats.delivered_bytes, (n + copies) * 80);
    // Without jitter or reorder a copy arrives right after its original.
    let twice = delivered.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(twice, copies);
    let rate = copies as f64 / n as f64;
    assert!((rate - 0.02).abs() < 0.0027, "duplication rate {rate}");
}

#[test]
fn outages_drop_everything_inside_and_nothing_outside() {
    let windows = [
        (1_000_000, 2_000_000),
        (5_000_000, 5_500_000),
        (5_500_000, 5_600_000),
    ];
    let config = LinkConfig {
        delay: Duration::from_millis(300),
        outages: windows
            .iter()
            .map(|&(s, e)| Outage {
                start: Micros(s),
                end: Micros(e),
            })
            .collect(),
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 14).unwrap();
    let inside = |t: u64| windows.iter().any(|&(s, e)| s <= t && t < e);
    let mut expected = Vec::new();
    for t in (0..7_000_000).step_by(100) {
        let outcome = link.send(Micros(t), t, 50);
        if inside(t) {
            assert_eq!(outcome, SendOutcome::Dropped(DropReason::Outage), "at {t}");
        } else {
            assert_eq!(outcome, SendOutcome::Queued { duplicated: false }, "at {t}");
            expected.push(t);
        }
    }
    let mut delivered = Vec::new();
    while let Some(t) = link.poll(Micros(u64::MAX)) {
        delivered.push(t);
    }
    // Packets sent just before a window (still in flight when it opens) arrive too.
    assert_eq!(delivered, expected);
    assert_eq!(link.stats().dropped.outage, 16_000);
}

#[test]
fn set_down_and_drop_in_flight_cut_the_link() {
    let config = LinkConfig {
        delay: Duration::from_millis(50),
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 15).unwrap();
    for t in 0..10 {
        link.send(Micros(t), t, 10);
    }
    link.set_down(true);
    assert!(link.is_down() && link.is_out(Micros(10)));
    assert_eq!(
        link.send(Micros(10), 10, 10),
        SendOutcome::Dropped(DropReason::Outage)
    );
    assert_eq!(link.poll(Micros(50_000)), Some(0));
    assert_eq!(link.drop_in_flight(), 9);
    assert_eq!(link.poll(Micros(u64::MAX)), None);
    link.set_down(false);
    assert!(matches!(
        link.send(Micros(20), 11, 10),
        SendOutcome::Queued { .. }
    ));
    let stats = link.stats();
    assert_eq!(
        (stats.sent, stats.delivered, stats.dropped.outage),
        (12, 1, 10)
    );
    assert_eq!(stats.in_flight, 1);
}

#[test]
fn in_flight_cap_is_hard_and_counted() {
    let config = LinkConfig {
        delay: Duration::from_secs(1),
        duplicate: 1.0,
        max_in_flight: 11,
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 16).unwrap();
    let outcomes: Vec<SendOutcome> = (0..8).map(|t| link.send(Micros(t), t, 10)).collect();
    let queued = SendOutcome::Queued { duplicated: true };
    assert_eq!(outcomes[..5], [queued; 5]);
    // Sixth: the original takes the 11th slot and its copy is refused.
    assert_eq!(outcomes[5], SendOutcome::Queued { duplicated: false });
    assert_eq!(
        outcomes[6..],
        [SendOutcome::Dropped(DropReason::InFlightFull); 2]
    );
    let stats = link.stats();
    assert_eq!(link.in_flight(), 11);
    assert_eq!(stats.dropped.in_flight_full, 3);
    assert_eq!(stats.sent + stats.duplicated, 11 + 3);
}
