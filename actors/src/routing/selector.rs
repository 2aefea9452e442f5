//! Which candidate a session prefers, behind one trait (pure).
//!
//! [`NearestSelector`] takes the lowest cost. [`super::ml::MlSelector`] (linfa decision trees
//! trained on recorded measurements, falling back to nearest without a model) is the other;
//! docs/routing.md says how it compares. The policy
//! ([`super::policy::PathPolicy`]) still applies its margins to whatever a selector picks.

use std::collections::VecDeque;

use lightspeed_protocol::Micros;

use super::paths::{Candidate, Path, PathMetrics};

/// Picks one candidate.
pub trait Selector {
    /// Index into `candidates` of the preferred path, `None` when there is none.
    fn choose(&self, candidates: &[Candidate], history: &History) -> Option<usize>;
}

/// Lowest cost; ties go to fewer relays, then to the earlier candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct NearestSelector;

impl Selector for NearestSelector {
    fn choose(&self, candidates: &[Candidate], _history: &History) -> Option<usize> {
        candidates
            .iter()
            .enumerate()
            .min_by_key(|(i, c)| (c.cost_us, c.path.relays().len(), *i))
            .map(|(i, _)| i)
    }
}

/// One past measurement of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// When it was measured.
    pub at: Micros,
    /// Which path.
    pub path: Path,
    /// What was measured.
    pub metrics: PathMetrics,
}

/// Recent path measurements for selectors that learn from the past; bounded ring, the
/// oldest is dropped first.
#[derive(Debug, Clone)]
pub struct History {
    ring: VecDeque<Observation>,
    capacity: usize,
}

/// Default history length: 256 observations are minutes of one-per-second probe rounds of
/// a few paths, about 10 KB.
pub const HISTORY_CAPACITY: usize = 256;

impl Default for History {
    fn default() -> History {
        History::with_capacity(HISTORY_CAPACITY)
    }
}

impl History {
    /// An empty history holding at most `capacity` observations (at least one).
    pub fn with_capacity(capacity: usize) -> History {
        let capacity = capacity.max(1);
        History {
            ring: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Records an observation, dropping the oldest when full.
    pub fn record(&mut self, obs: Observation) {
        if self.ring.len() >= self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(obs);
    }

    /// Observations, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Observation> {
        self.ring.iter()
    }

    /// Number held.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::paths::NodeId;
    use super::*;

    fn cand(path: Path, cost_us: u32) -> Candidate {
        Candidate {
            path,
            metrics: PathMetrics::default(),
            cost_us,
        }
    }

    #[test]
    fn nearest_takes_lowest_cost_then_fewer_relays() {
        let la = NodeId(3);
        let c = [
            cand(Path::via2(NodeId(1), NodeId(2), la), 190_000),
            cand(Path::via(NodeId(1), la), 190_000),
            cand(Path::direct(la), 206_000),
        ];
        assert_eq!(NearestSelector.choose(&c, &History::default()), Some(1));
        assert_eq!(NearestSelector.choose(&[], &History::default()), None);
    }

    #[test]
    fn history_keeps_the_newest_observations() {
        let mut h = History::with_capacity(2);
        for ms in [1, 2, 3] {
            h.record(Observation {
                at: Micros::from_millis(ms),
                path: Path::direct(NodeId(0)),
                metrics: PathMetrics::default(),
            });
        }
        let at: Vec<Micros> = h.iter().map(|o| o.at).collect();
        assert_eq!(at, vec![Micros::from_millis(2), Micros::from_millis(3)]);
        assert_eq!(h.len(), 2);
        assert!(!h.is_empty());
    }
}
