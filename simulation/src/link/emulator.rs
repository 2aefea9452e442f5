//! [`Link`]: the stateful, seeded emulator of one directed link.

use std::collections::VecDeque;
use std::time::Duration;

use lightspeed_protocol::time::Micros;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{LinkConfig, LinkConfigError};
use super::jitter;
use super::loss::{LossState, chance};
use super::stats::{DropReason, LinkStats, SendOutcome};

/// Slots reserved per release queue at construction, so light traffic never allocates; a
/// queue grows (amortized, up to `max_in_flight`) only past its high-water mark. Kept small
/// because simulations hold thousands of links.
const INITIAL_CAPACITY: usize = 64;

/// A packet between `send` and `poll`.
#[derive(Debug, Clone)]
struct InFlight<T> {
    release: Micros,
    /// Send order, to break ties between the two release queues.
    seq: u64,
    size: u32,
    packet: T,
}

/// One directed link: packets go in with [`send`](Self::send) and come out of
/// [`poll`](Self::poll) once their release time has come. See the [module
/// documentation](super) for the model.
///
/// Every decision about a packet (drop, duplicate, release time) is taken when it is sent,
/// from a ChaCha8 stream seeded by `seed`: the same seed, configuration and calls give the
/// same results.
#[derive(Debug, Clone)]
pub struct Link<T> {
    config: LinkConfig,
    rng: ChaCha8Rng,
    loss: LossState,
    down: bool,
    /// When the bottleneck finishes sending what it has accepted, in nanoseconds (µs would
    /// accumulate rounding error of up to 1 µs per packet).
    busy_until_ns: u64,
    /// Release time of the last packet put in `fifo`; later packets never leave before it.
    fifo_tail: Micros,
    /// Same for `held`.
    held_tail: Micros,
    /// Packets in FIFO order; release times are non-decreasing.
    fifo: VecDeque<InFlight<T>>,
    /// Packets picked for reordering; release times are non-decreasing too.
    held: VecDeque<InFlight<T>>,
    next_seq: u64,
    stats: LinkStats,
}

impl<T> Link<T> {
    /// A link with `config` whose random choices come from `seed`.
    ///
    /// # Errors
    /// Whatever [`LinkConfig::validate`] reports.
    pub fn new(config: LinkConfig, seed: u64) -> Result<Self, LinkConfigError> {
        config.validate()?;
        let capacity = config.max_in_flight.min(INITIAL_CAPACITY);
        Ok(Link {
            rng: ChaCha8Rng::seed_from_u64(seed),
            loss: LossState::default(),
            down: false,
            busy_until_ns: 0,
            fifo_tail: Micros::ZERO,
            held_tail: Micros::ZERO,
            fifo: VecDeque::with_capacity(capacity),
            // Most links never reorder; a later `set_config` enabling it grows this once.
            held: VecDeque::with_capacity(if config.reorder > 0.0 { capacity } else { 0 }),
            next_seq: 0,
            stats: LinkStats::default(),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Replaces the configuration (a scripted "degrade link" / "restore link"). Packets already
    /// in flight keep the release times they were given; the loss chain state, the bottleneck
    /// backlog and the FIFO order carry over (a smaller delay cannot make new packets
    /// overtake old ones). Lowering `max_in_flight` below the current count drops nothing:
    /// new packets are refused until the count falls below it.
    ///
    /// # Errors
    /// Whatever [`LinkConfig::validate`] reports; the old configuration then stays.
    pub fn set_config(&mut self, config: LinkConfig) -> Result<(), LinkConfigError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Takes the link down (every packet sent is dropped as [`DropReason::Outage`]) or brings
    /// it back up. Packets already in flight are unaffected; see
    /// [`drop_in_flight`](Self::drop_in_flight) to cut them too.
    pub fn set_down(&mut self, down: bool) {
        self.down = down;
    }

    /// Whether [`set_down`](Self::set_down) took the link down (scheduled outages aside).
    pub fn is_down(&self) -> bool {
        self.down
    }

    /// Whether a packet sent at `now` would be dropped as [`DropReason::Outage`].
    pub fn is_out(&self, now: Micros) -> bool {
        self.down || self.config.in_outage(now)
    }

    /// Drops every packet in flight, counted as [`DropReason::Outage`]; returns how many. For
    /// scenarios that cut a link (or kill a node) rather than stop new traffic only.
    pub fn drop_in_flight(&mut self) -> usize {
        let count = self.in_flight();
        let dropped = &mut self.stats.dropped.outage;
        *dropped = dropped.saturating_add(u64::try_from(count).unwrap_or(u64::MAX));
        self.fifo.clear();
        self.held.clear();
        self.stats.in_flight = 0;
        count
    }

    /// Packets held by the emulator, not yet returned by `poll`.
    pub fn in_flight(&self) -> usize {
        self.fifo.len().saturating_add(self.held.len())
    }

    /// Counters since construction.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Earliest release time among the packets in flight, `None` if there are none. A driver
    /// arms its timer for this instant (it may be in the past: poll right away).
    pub fn next_release(&self) -> Option<Micros> {
        self.next_queue().map(|(_, release)| release)
    }

    /// The next packet whose release time is `<= now`, in release order (ties in send order).
    /// Call until `None` after every `send` and timer expiry.
    pub fn poll(&mut self, now: Micros) -> Option<T> {
        self.poll_with_time(now).map(|(_, packet)| packet)
    }

    /// Like [`poll`](Self::poll), also returning the packet's release time (the instant it
    /// "arrived", which is earlier than `now` if the driver polls late).
    pub fn poll_with_time(&mut self, now: Micros) -> Option<(Micros, T)> {
        let (held, release) = self.next_queue()?;
        if release > now {
            return None;
        }
        let queue = if held { &mut self.held } else { &mut self.fifo };
        let entry = queue.pop_front()?;
        self.stats.delivered = self.stats.delivered.saturating_add(1);
        self.stats.delivered_bytes = self
            .stats
            .delivered_bytes
            .saturating_add(u64::from(entry.size));
        self.stats.in_flight = self.stats.in_flight.saturating_sub(1);
        Some((entry.release, entry.packet))
    }

    /// Which queue releases next (`true` = held) and when.
    fn next_queue(&self) -> Option<(bool, Micros)> {
        match (self.fifo.front(), self.held.front()) {
            (Some(f), Some(h)) if (h.release, h.seq) < (f.release, f.seq) => {
                Some((true, h.release))
            }
            (Some(f), _) => Some((false, f.release)),
            (None, Some(h)) => Some((true, h.release)),
            (None, None) => None,
        }
    }

    /// Counts a drop and reports it.
    fn dropped(&mut self, reason: DropReason) -> SendOutcome {
        self.stats.dropped.count(reason);
        SendOutcome::Dropped(reason)
    }

    /// The bottleneck stage: the instant the packet has been fully transmitted, or `None` if
    /// the queue has no room for it.
    fn transmit(&mut self, now: Micros, size: u64) -> Option<Micros> {
        let Some(rate) = self.config.rate_bps else {
            return Some(now);
        };
        let now_ns = now.0.saturating_mul(1_000);
        let start_ns = self.busy_until_ns.max(now_ns);
        // Fluid backlog: bytes still to transmit, including the rest of the packet on the wire.
        let backlog = u128::from(start_ns - now_ns) * u128::from(rate) / 8_000_000_000;
        let limit = self.config.queue_limit_bytes as u128;
        if backlog + u128::from(size) > limit {
            return None;
        }
        let serialize_ns = (u128::from(size) * 8_000_000_000).div_ceil(u128::from(rate));
        self.busy_until_ns =
            start_ns.saturating_add(u64::try_from(serialize_ns).unwrap_or(u64::MAX));
        Some(Micros(self.busy_until_ns.div_ceil(1_000)))
    }

    /// The propagation stage: gives the packet its release time and queues it, or refuses it
    /// if the emulator is full.
    fn propagate(&mut self, departure: Micros, packet: T, size: u32) -> bool {
        if self.in_flight() >= self.config.max_in_flight {
            return false;
        }
        let extra = jitter::sample_us(
            &mut self.rng,
            self.config.jitter_distribution,
            self.config.jitter,
        );
        let candidate = departure + self.config.delay + Duration::from_micros(extra);
        let in_order = candidate.max(self.fifo_tail);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        if chance(&mut self.rng, self.config.reorder) {
            let release = (in_order + self.config.reorder_hold).max(self.held_tail);
            self.held_tail = release;
            self.stats.reordered = self.stats.reordered.saturating_add(1);
            self.held.push_back(InFlight {
                release,
                seq,
                size,
                packet,
            });
        } else {
            self.fifo_tail = in_order;
            self.fifo.push_back(InFlight {
                release: in_order,
                seq,
                size,
                packet,
            });
        }
        self.stats.in_flight = self.stats.in_flight.saturating_add(1);
        true
    }
}

impl<T: Clone> Link<T> {
    /// Offers `packet` of `size_bytes` (what the bottleneck and byte counters charge; use the
    /// on-wire size) to the link at `now`. Everything about its fate is decided here: the
    /// packet is either dropped now or will come out of [`poll`](Self::poll).
    ///
    /// `T: Clone` is needed for duplication only; the clone happens only for a duplicated
    /// packet.
    pub fn send(&mut self, now: Micros, packet: T, size_bytes: usize) -> SendOutcome {
        let size32 = u32::try_from(size_bytes).unwrap_or(u32::MAX);
        let size = u64::from(size32);
        self.stats.sent = self.stats.sent.saturating_add(1);
        self.stats.sent_bytes = self.stats.sent_bytes.saturating_add(size);

        if self.is_out(now) {
            return self.dropped(DropReason::Outage);
        }
        // Checked before the bottleneck so a refused packet does not use bandwidth.
        if self.in_flight() >= self.config.max_in_flight {
            return self.dropped(DropReason::InFlightFull);
        }
        let Some(departure) = self.transmit(now, size) else {
            return self.dropped(DropReason::QueueFull);
        };
        if self.loss.lose(&self.config.loss, &mut self.rng) {
            return self.dropped(DropReason::Loss);
        }
        let copy = chance(&mut self.rng, self.config.duplicate).then(|| packet.clone());
        // Cannot fail: the emulator had room before the bottleneck, which queues nothing.
        if !self.propagate(departure, packet, size32) {
            return self.dropped(DropReason::InFlightFull);
        }
        let mut duplicated = false;
        if let Some(copy) = copy {
            self.stats.duplicated = self.stats.duplicated.saturating_add(1);
            duplicated = self.propagate(departure, copy, size32);
            if !duplicated {
                self.stats.dropped.count(DropReason::InFlightFull);
            }
        }
        SendOutcome::Queued { duplicated }
    }
}
