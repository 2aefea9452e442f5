//! The emulated network of a scale run: a one-way delay per pair of nodes, drawn once from the
//! seed, per-datagram jitter and iid loss, and the event queue of the simulated clock.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use lightspeed_mesh::membership::MembershipTimer;
use lightspeed_protocol::Micros;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// SplitMix64's finaliser: a cheap, well-mixed hash of one word.
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The links between every pair of nodes. Pair delays are a hash of the seed and the pair
/// rather than a table, so 2,000 nodes cost no 4-million-entry matrix.
pub(super) struct LinkModel {
    seed: u64,
    delay_us: (u64, u64),
    jitter_us: u64,
    /// iid loss on every link, changed between phases.
    pub(super) loss: f64,
    rng: ChaCha8Rng,
}

/// What the network does with one datagram.
pub(super) enum Fate {
    /// Arrives after this many microseconds.
    Delivered(u64),
    /// Lost.
    Lost,
}

impl LinkModel {
    pub(super) fn new(seed: u64, delay_us: (u64, u64), jitter_us: u64) -> LinkModel {
        LinkModel {
            seed,
            delay_us,
            jitter_us,
            loss: 0.0,
            rng: ChaCha8Rng::seed_from_u64(mix(seed ^ 0x6E65_7477_6F72_6B00)),
        }
    }

    /// The base one-way delay between `a` and `b` (the same both ways), uniform over the
    /// configured range.
    pub(super) fn base_delay_us(&self, a: usize, b: usize) -> u64 {
        let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
        let h = mix(self.seed ^ mix(lo << 32 | hi));
        let span = self.delay_us.1.saturating_sub(self.delay_us.0) + 1;
        self.delay_us.0 + h % span
    }

    /// Draws the fate of one datagram from `a` to `b`.
    pub(super) fn send(&mut self, a: usize, b: usize) -> Fate {
        if self.loss > 0.0 && self.rng.random_bool(self.loss) {
            return Fate::Lost;
        }
        let jitter = if self.jitter_us > 0 {
            self.rng.random_range(0..=self.jitter_us)
        } else {
            0
        };
        Fate::Delivered(self.base_delay_us(a, b) + jitter)
    }
}

/// Something due at a simulated instant.
pub(super) enum Event {
    /// A datagram arrives at `to` from `from`.
    Deliver { to: u32, from: u32, bytes: Vec<u8> },
    /// A timer of node `node` in its `life`-th life (stale after a crash or restart).
    Timer {
        node: u32,
        life: u32,
        /// Boxed: a timer holds a member identity (~130 bytes), and the queue moves its
        /// entries on every push and pop.
        timer: Box<MembershipTimer>,
    },
    /// A full-state sync from `from` reaches `to` (a QUIC stream in a real node: reliable,
    /// one round trip).
    Sync { to: u32, life: u32, from: u32 },
}

struct Entry {
    at: Micros,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so the max-heap pops the earliest; equal times pop in insertion order.
    fn cmp(&self, other: &Entry) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Events by time, first in first out among equal times, so a run is a function of the seed.
#[derive(Default)]
pub(super) struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Queue {
    pub(super) fn push(&mut self, at: Micros, event: Event) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
    }

    /// The earliest event if it is due by `until`.
    pub(super) fn pop_due(&mut self, until: Micros) -> Option<(Micros, Event)> {
        if self.heap.peek()?.at > until {
            return None;
        }
        self.heap.pop().map(|e| (e.at, e.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_delays_are_symmetric_in_range_and_seeded() {
        let m = LinkModel::new(1, (5_000, 80_000), 0);
        let mut distinct = std::collections::BTreeSet::new();
        for a in 0..40 {
            for b in 0..40 {
                let d = m.base_delay_us(a, b);
                assert_eq!(d, m.base_delay_us(b, a));
                assert!((5_000..=80_000).contains(&d));
                distinct.insert(d);
            }
        }
        assert!(distinct.len() > 700, "{}", distinct.len());
        assert_ne!(
            LinkModel::new(2, (5_000, 80_000), 0).base_delay_us(3, 4),
            m.base_delay_us(3, 4)
        );
    }

    #[test]
    fn queue_pops_by_time_then_insertion_order() {
        let mut q = Queue::default();
        let sync = |to| Event::Sync {
            to,
            life: 0,
            from: 0,
        };
        q.push(Micros(20), sync(1));
        q.push(Micros(10), sync(2));
        q.push(Micros(20), sync(3));
        q.push(Micros(10), sync(4));
        let mut order = Vec::new();
        while let Some((at, Event::Sync { to, .. })) = q.pop_due(Micros(20)) {
            order.push((at.0, to));
        }
        assert_eq!(order, [(10, 2), (10, 4), (20, 1), (20, 3)]);
        q.push(Micros(30), sync(5));
        assert!(q.pop_due(Micros(29)).is_none());
        assert!(q.pop_due(Micros(30)).is_some());
    }
}
