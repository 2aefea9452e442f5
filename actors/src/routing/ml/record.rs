//! Recorded measurements for training (pure): each recorded round holds every candidate's
//! metrics and features at that moment and the RTT the path then showed over the next window.
//!
//! On disk (docs/routing.md, "Recorded measurements") a recording is JSON lines, one
//! [`RecordedRound`] per line; the driver serialises what [`Recorder::observe`] returns and
//! rotates the file. The recorder itself holds at most [`RecorderConfig::max_pending`] rounds
//! waiting for their window to pass.

use std::collections::VecDeque;
use std::time::Duration;

use lightspeed_protocol::Micros;
use serde::{Deserialize, Serialize};

use super::super::paths::{Candidate, Path};
use super::features::{FEATURES_VERSION, FeatureVec};

/// Format version of a [`RecordedRound`] line.
pub const RECORD_VERSION: u32 = 1;

/// One candidate of a recorded round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCandidate {
    /// Relays then proxy, as the recording node's ids (meaningful within one recording).
    pub hops: Vec<u32>,
    /// Measured RTT then (µs).
    pub rtt_us: u32,
    /// Measured jitter then (µs).
    pub jitter_us: u32,
    /// Measured loss then (ppm).
    pub loss_ppm: u32,
    /// Cost then (µs).
    pub cost_us: u32,
    /// Features then, in `FEATURE_NAMES` order.
    pub features: Vec<f64>,
    /// Mean RTT measured on this path during the window after the round (µs); absent when the
    /// path was not measured again within it.
    pub future_rtt_us: Option<u32>,
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRound {
    /// Line format version ([`RECORD_VERSION`]).
    pub v: u32,
    /// Feature layout version (`FEATURES_VERSION`).
    pub features_v: u32,
    /// Wall time of the round (µs since the UNIX epoch).
    pub at_us: u64,
    /// Length of the window `future_rtt_us` covers (µs).
    pub window_us: u64,
    /// The candidates.
    pub candidates: Vec<RecordedCandidate>,
}

/// How the recorder samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    /// The window after a round whose mean RTT is its label. Default 30 min: a session keeps
    /// a path for a long time (switch margins, dwell), so the question worth learning is which
    /// path stays good for the next half hour, not the next second.
    pub window: Duration,
    /// Least time between recorded rounds. Default 5 min: consecutive rounds a second apart
    /// say the same thing; 288 rounds a day of 17 candidates is ~1.3 MB of JSON a day
    /// (measured on the `diurnal` simulation).
    pub interval: Duration,
    /// Rounds held waiting for their window. Default 64 (more than window / interval = 6);
    /// a new round is skipped, and counted, when they are all taken.
    pub max_pending: usize,
}

impl Default for RecorderConfig {
    fn default() -> RecorderConfig {
        RecorderConfig {
            window: Duration::from_secs(30 * 60),
            interval: Duration::from_secs(5 * 60),
            max_pending: 64,
        }
    }
}

#[derive(Debug, Clone)]
struct Pending {
    round: RecordedRound,
    paths: Vec<Path>,
    sums: Vec<(u64, u32)>,
}

/// Turns rounds of candidates into labelled [`RecordedRound`]s once their window has passed.
#[derive(Debug, Clone)]
pub struct Recorder {
    cfg: RecorderConfig,
    pending: VecDeque<Pending>,
    last_recorded: Option<Micros>,
    skipped: u64,
}

impl Recorder {
    /// An empty recorder.
    pub fn new(cfg: RecorderConfig) -> Recorder {
        Recorder {
            cfg,
            pending: VecDeque::with_capacity(cfg.max_pending.min(1_024)),
            last_recorded: None,
            skipped: 0,
        }
    }

    /// Feeds one round measured at wall time `wall` with its candidates' `features` (same
    /// order); returns the rounds whose window has now passed, oldest first.
    pub fn observe(
        &mut self,
        wall: Micros,
        candidates: &[Candidate],
        features: &[FeatureVec],
    ) -> Vec<RecordedRound> {
        let window = self.cfg.window;
        for p in &mut self.pending {
            let at = Micros(p.round.at_us);
            if wall <= at || wall > at + window {
                continue;
            }
            for c in candidates {
                if let Some(i) = p.paths.iter().position(|x| *x == c.path)
                    && let Some(s) = p.sums.get_mut(i)
                {
                    s.0 += u64::from(c.metrics.rtt_us);
                    s.1 += 1;
                }
            }
        }
        let mut done = Vec::new();
        while let Some(p) = self.pending.front() {
            if wall < Micros(p.round.at_us) + window {
                break;
            }
            if let Some(p) = self.pending.pop_front() {
                done.push(finish(p));
            }
        }
        let due = self
            .last_recorded
            .is_none_or(|last| wall >= last + self.cfg.interval);
        if due && !candidates.is_empty() {
            if self.pending.len() < self.cfg.max_pending {
                self.pending
                    .push_back(start(wall, window, candidates, features));
                self.last_recorded = Some(wall);
            } else {
                self.skipped += 1;
            }
        }
        done
    }

    /// Rounds not recorded because `max_pending` were waiting.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Rounds waiting for their window.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

fn start(
    wall: Micros,
    window: Duration,
    candidates: &[Candidate],
    features: &[FeatureVec],
) -> Pending {
    let rows = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| RecordedCandidate {
            hops: c.path.hops().iter().map(|n| n.0).collect(),
            rtt_us: c.metrics.rtt_us,
            jitter_us: c.metrics.jitter_us,
            loss_ppm: c.metrics.loss_ppm,
            cost_us: c.cost_us,
            features: features.get(i).map(|f| f.to_vec()).unwrap_or_default(),
            future_rtt_us: None,
        })
        .collect();
    Pending {
        round: RecordedRound {
            v: RECORD_VERSION,
            features_v: FEATURES_VERSION,
            at_us: wall.0,
            window_us: window.as_micros().min(u128::from(u64::MAX)) as u64,
            candidates: rows,
        },
        paths: candidates.iter().map(|c| c.path).collect(),
        sums: vec![(0, 0); candidates.len()],
    }
}

fn finish(mut p: Pending) -> RecordedRound {
    for (row, (sum, n)) in p.round.candidates.iter_mut().zip(&p.sums) {
        row.future_rtt_us = sum
            .checked_div(u64::from(*n))
            .map(|m| m.min(u64::from(u32::MAX)) as u32);
    }
    p.round
}
