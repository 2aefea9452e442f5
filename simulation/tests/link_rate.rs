//! The bandwidth cap: throughput, queueing delay and tail drops, measured exactly.
//!
//! No randomness is involved (no jitter, loss or reorder), so these are exact checks.

use std::time::Duration;

use lightspeed_protocol::time::Micros;
use lightspeed_sim::link::{DropReason, Link, LinkConfig, SendOutcome};

const DELAY_US: u64 = 10_000;
/// 8 Mbit/s: a 1 000-byte packet takes exactly 1 000 µs on the wire.
const RATE_BPS: u64 = 8_000_000;
const SIZE: usize = 1_000;

fn capped() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_micros(DELAY_US),
        rate_bps: Some(RATE_BPS),
        queue_limit_bytes: 64 * 1024,
        ..LinkConfig::default()
    }
}

/// Sends one packet every `gap_us` µs for `duration_us`, and returns `(send, release)` of each
/// delivered packet plus the link.
fn run(gap_us: u64, per_tick: u64, duration_us: u64) -> (Vec<(u64, u64)>, Link<u64>) {
    let mut link = Link::new(capped(), 20).unwrap();
    let mut out = Vec::new();
    for t in (0..duration_us).step_by(gap_us as usize) {
        for _ in 0..per_tick {
            link.send(Micros(t), t, SIZE);
        }
        while let Some((release, sent)) = link.poll_with_time(Micros(t)) {
            out.push((sent, release.0));
        }
    }
    while let Some((release, sent)) = link.poll_with_time(Micros(u64::MAX)) {
        out.push((sent, release.0));
    }
    (out, link)
}

#[test]
fn below_the_rate_packets_only_pay_serialization() {
    let (out, link) = run(2_000, 1, 1_000_000);
    assert_eq!(out.len(), 500);
    assert!(out.iter().all(|&(s, r)| r == s + 1_000 + DELAY_US));
    assert_eq!(link.stats().dropped.total(), 0);
}

#[test]
fn saturating_sender_gets_the_rate_with_bounded_queueing_and_tail_drops() {
    // Offered: 2 packets per ms = 16 Mbit/s for 10 s, twice the cap.
    let (out, link) = run(1_000, 2, 10_000_000);
    let stats = link.stats();

    // Throughput: once saturated, one packet leaves per 1 000 µs, never faster.
    assert!(out.windows(2).all(|w| w[1].1 - w[0].1 >= 1_000));
    let in_window = out
        .iter()
        .filter(|&&(_, r)| (1_000_000..10_000_000).contains(&r))
        .count();
    assert_eq!(
        in_window, 9_000,
        "packets released in 9 s at 1 000 packets/s"
    );

    // Queueing delay grows while the queue fills, then sits just under the queue's drain time:
    // at most (65 536 − 1 000) bytes ahead = 64 536 µs.
    let waits: Vec<u64> = out.iter().map(|&(s, r)| r - s - DELAY_US - 1_000).collect();
    assert_eq!(waits[0], 0);
    // The backlog grows by one packet per ms while both packets of a tick are accepted, so it
    // fills after ~64 ms, i.e. ~128 accepted packets.
    let ramp = 128;
    assert!(waits[..ramp].windows(2).all(|w| w[0] <= w[1]));
    assert!(waits[10] < waits[60] && waits[60] < waits[120]);
    let max_wait = *waits.iter().max().unwrap();
    assert!(
        (63_536..=64_536).contains(&max_wait),
        "max queueing delay {max_wait} µs"
    );
    assert!(
        waits[ramp + 8..].iter().all(|&w| w >= 62_000),
        "the queue stays full"
    );

    // Everything not delivered was tail-dropped: 20 000 offered, ~10 000 sent plus the ~64
    // left queued at the end.
    assert_eq!(stats.dropped.queue_full, stats.sent - stats.delivered);
    assert_eq!(stats.dropped.total(), stats.dropped.queue_full);
    assert!(
        (9_900..=9_950).contains(&stats.dropped.queue_full),
        "{stats:?}"
    );
    assert_eq!(stats.delivered_bytes, out.len() as u64 * SIZE as u64);
}

#[test]
fn a_packet_larger_than_the_queue_is_always_dropped() {
    let mut link = Link::new(capped(), 21).unwrap();
    assert_eq!(
        link.send(Micros(0), 0u64, 64 * 1024 + 1),
        SendOutcome::Dropped(DropReason::QueueFull)
    );
    assert!(matches!(
        link.send(Micros(0), 1, 64 * 1024),
        SendOutcome::Queued { .. }
    ));
    // The queue is now exactly full; the next byte does not fit until time passes.
    assert_eq!(
        link.send(Micros(0), 2, 1),
        SendOutcome::Dropped(DropReason::QueueFull)
    );
    assert!(matches!(
        link.send(Micros(1_000), 3, 1_000),
        SendOutcome::Queued { .. }
    ));
}
