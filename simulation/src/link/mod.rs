//! Link emulator: a pure, seeded model of one directed network link.
//!
//! The kernel's netem is not available on our machines, so this is ours (DESIGN.md §9). It
//! models delay, jitter, independent and bursty (Gilbert-Elliott) loss, reordering,
//! duplication, a bandwidth cap with a bounded queue, and scheduled or scripted outages.
//!
//! It touches no socket, reads no clock and starts no thread: time comes in as `now`
//! ([`Micros`](lightspeed_protocol::time::Micros)), randomness from a ChaCha8 stream seeded
//! with a `u64`. Drivers put the world around it: a UDP forwarder wraps it in sockets and a
//! timer, the scenario runner drives thousands of them under a simulated clock. It is generic
//! over the packet type `T` (a buffer, an index into an arena, a test sequence number, …).
//!
//! # Using it
//!
//! ```
//! use std::time::Duration;
//! use lightspeed_protocol::time::Micros;
//! use lightspeed_sim::link::{Link, LinkConfig, LossModel, SendOutcome};
//!
//! let config = LinkConfig {
//!     delay: Duration::from_millis(20),
//!     loss: LossModel::Iid { p: 0.01 },
//!     ..LinkConfig::default()
//! };
//! let mut link = Link::new(config, 42).expect("valid config");
//! if let SendOutcome::Queued { .. } = link.send(Micros(0), "hello", 5) {
//!     assert_eq!(link.next_release(), Some(Micros(20_000)));
//!     assert_eq!(link.poll(Micros(19_999)), None);
//!     assert_eq!(link.poll(Micros(20_000)), Some("hello"));
//! }
//! ```
//!
//! Driver loop invariant: after every [`Link::send`] and whenever the clock reaches
//! [`Link::next_release`], call [`Link::poll`] until it returns `None`. Scripted timelines
//! change a live link with [`Link::set_config`] (degrade / restore), [`Link::set_down`]
//! (stop new traffic) and [`Link::drop_in_flight`] (cut what is on the wire).
//!
//! # The model
//!
//! A packet offered with `send(now, packet, size_bytes)` goes through these stages, in order.
//! Its whole fate is decided at that moment; `poll` only hands it out when its time comes.
//!
//! 1. **Outage.** If the link is down ([`Link::set_down`]) or `now` lies in one of the
//!    half-open windows [`LinkConfig::outages`], the packet is dropped
//!    ([`DropReason::Outage`]). Packets sent before the window still arrive.
//! 2. **Capacity.** If the emulator already holds [`LinkConfig::max_in_flight`] packets, the
//!    packet is dropped ([`DropReason::InFlightFull`]). This bounds memory per link.
//! 3. **Bottleneck** (only with [`LinkConfig::rate_bps`]). A FIFO transmitter sends
//!    `size_bytes × 8 / rate_bps` seconds per packet, back to back. The queue in front of it
//!    holds at most [`LinkConfig::queue_limit_bytes`], counting the untransmitted part of
//!    everything accepted; a packet that does not fit is tail-dropped
//!    ([`DropReason::QueueFull`]). A saturating sender therefore gets exactly `rate_bps` of
//!    throughput, and its packets wait up to `queue_limit_bytes × 8 / rate_bps` in the queue.
//! 4. **Loss** ([`LinkConfig::loss`], see [`LossModel`]): none, iid with probability `p`, or a
//!    Gilbert-Elliott two-state chain stepped once per packet reaching this stage. Loss comes
//!    after the bottleneck, like loss on the wire behind a router: lost packets have used
//!    bandwidth ([`DropReason::Loss`]).
//! 5. **Duplication.** With probability [`LinkConfig::duplicate`] a clone of the surviving
//!    packet is made; the copy goes through stage 6 on its own (own jitter draw, own reorder
//!    draw) and is released no earlier than the original unless reordering picks one of them.
//! 6. **Propagation.** Release time = departure from the bottleneck (or `now`) +
//!    [`LinkConfig::delay`] + extra delay drawn from [`LinkConfig::jitter_distribution`]
//!    with scale [`LinkConfig::jitter`] ([`JitterDistribution`] gives the exact moments).
//!    - **Jitter alone never reorders.** The release time is raised to that of the packet
//!      queued before it, as in a real FIFO queue. So back-to-back packets see more extra
//!      delay than drawn; the drawn distribution is what packets spaced further apart than
//!      the jitter tail see.
//!    - **Reordering** ([`LinkConfig::reorder`]): with that probability a packet is *held*:
//!      released [`LinkConfig::reorder_hold`] after the in-order time it would otherwise have
//!      had, while the packets behind it do not wait for it. Every packet sent less than
//!      `reorder_hold` after it (and not held itself) overtakes it. Held packets keep their
//!      order among themselves. In the RFC 4737 sense (a packet is reordered if one sent
//!      after it arrived first), with packets sent every `g` and `k = ⌈reorder_hold / g⌉`
//!      (without jitter), a packet is reordered with probability
//!      `reorder × (1 − reorder^(k−1))`; non-held packets are never reordered.
//!
//! Packets leave `poll` in release-time order, ties in send order.
//!
//! # Determinism
//!
//! All randomness comes from one `ChaCha8Rng::seed_from_u64(seed)` owned by the link, drawn
//! in a fixed order per packet: loss, duplicate, then jitter and reorder for the original and
//! again for the copy. A probability of 0 (or a zero jitter) draws nothing, so writing out a
//! zero in a configuration never changes a run. Same seed + same configuration + same calls
//! ⇒ identical outputs. Time is integer; the only floating point is `ln`, `sqrt` and `cos`
//! of the jitter draws, whose last bit may differ between platforms' math libraries — after
//! rounding to whole microseconds that almost never shows, but cross-platform bit equality
//! of jittered runs is not promised.
//!
//! # Memory
//!
//! Per link: the configuration, a ChaCha8 state (~300 bytes) and two release queues of
//! `(release, seq, size, T)` entries, preallocated for 64 packets (the reorder queue only if
//! `reorder > 0`) and growing
//! (amortized, never per packet in steady state) up to [`LinkConfig::max_in_flight`] in
//! total. No other allocation happens on `send`/`poll`, except `T::clone` for a duplicate.
//!
//! # Counters
//!
//! [`LinkStats`] counts packets and bytes sent and delivered, copies made, packets held for
//! reordering, drops per [`DropReason`], and packets in flight, with the invariant
//! `sent + duplicated == delivered + dropped.total() + in_flight`.

mod config;
mod emulator;
mod jitter;
mod loss;
mod serde_time;
mod stats;

pub use config::{
    JitterDistribution, LinkConfig, LinkConfigError, MAX_DELAY, MAX_IN_FLIGHT_LIMIT, MAX_OUTAGES,
    Outage,
};
pub use emulator::Link;
pub use loss::LossModel;
pub use stats::{DropCounts, DropReason, LinkStats, SendOutcome};
