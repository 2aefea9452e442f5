//! The ML selector (pure): ranks candidates by cost plus a penalty for the model's doubt that
//! the path stays near the best over the next window, and falls back to nearest without a
//! usable model.
//!
//! Driving: call [`MlSelector::observe`] with each round's candidates and the wall time
//! before `PathPolicy::decide`; the selector keeps its own per-path profile
//! ([`FeatureTracker`]) because the [`History`] a policy passes holds minutes, and a daily
//! cycle needs a day. The policy's margins still apply to the pick, on measured costs: the
//! selector can choose among the paths the margins allow, it cannot move a session early.

use std::cell::RefCell;
use std::time::Duration;

use lightspeed_protocol::Micros;

use super::super::paths::Candidate;
use super::super::selector::{History, NearestSelector, Selector};
use super::features::{FeatureTracker, FeatureVec};
use super::model::{ModelError, PathModel};

/// How predictions become a choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlConfig {
    /// Cost added to a candidate the model is sure will not stay near the best (scaled by
    /// `1 − p`). Default 20 ms: above the policy's 15 ms switch margin, so the model can
    /// overrule a cheaper-now path it expects to degrade, but not a far cheaper one.
    pub doubt_penalty: Duration,
    /// Quarter hours the profile features look ahead. Default 2: the recorder's 30 min window.
    pub ahead_bins: u64,
}

impl Default for MlConfig {
    fn default() -> MlConfig {
        MlConfig {
            doubt_penalty: Duration::from_millis(20),
            ahead_bins: 2,
        }
    }
}

/// Why the selector is using nearest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fallback {
    /// No model was given.
    NoModel,
    /// The model file could not be used; the reason is kept for the log.
    Unusable(ModelError),
}

/// The ML selector.
#[derive(Debug)]
pub struct MlSelector {
    cfg: MlConfig,
    model: Result<PathModel, Fallback>,
    tracker: FeatureTracker,
    wall: Micros,
    scratch: RefCell<(Vec<FeatureVec>, Vec<f64>)>,
}

impl MlSelector {
    /// A selector using `model`.
    pub fn new(cfg: MlConfig, model: PathModel) -> MlSelector {
        MlSelector::build(cfg, Ok(model))
    }

    /// A selector that chooses like nearest (and still tracks, so it can record).
    pub fn fallback(cfg: MlConfig, why: Fallback) -> MlSelector {
        MlSelector::build(cfg, Err(why))
    }

    /// A selector from a model document: falls back to nearest, keeping the reason, when the
    /// document is not a usable model.
    pub fn from_json(cfg: MlConfig, text: &str) -> MlSelector {
        match PathModel::from_json(text) {
            Ok(m) => MlSelector::new(cfg, m),
            Err(e) => MlSelector::fallback(cfg, Fallback::Unusable(e)),
        }
    }

    fn build(cfg: MlConfig, model: Result<PathModel, Fallback>) -> MlSelector {
        MlSelector {
            cfg,
            model,
            tracker: FeatureTracker::new(cfg.ahead_bins),
            wall: Micros::ZERO,
            scratch: RefCell::new((Vec::with_capacity(64), Vec::with_capacity(64))),
        }
    }

    /// Starts using `model`, keeping what the tracker learned so far.
    pub fn set_model(&mut self, model: PathModel) {
        self.model = Ok(model);
    }

    /// Why nearest is used, `None` when the model is.
    pub fn fallback_reason(&self) -> Option<&Fallback> {
        self.model.as_ref().err()
    }

    /// The model in use.
    pub fn model(&self) -> Option<&PathModel> {
        self.model.as_ref().ok()
    }

    /// Feeds a round of candidates measured at wall time `wall` (µs since the UNIX epoch).
    pub fn observe(&mut self, wall: Micros, candidates: &[Candidate]) {
        self.wall = wall;
        self.tracker.observe(wall, candidates);
    }

    /// The features of `candidates` as of the last [`MlSelector::observe`] (for recording).
    pub fn features(&self, candidates: &[Candidate], out: &mut Vec<FeatureVec>) {
        self.tracker.features(self.wall, candidates, out);
    }

    /// The model's probability that each candidate stays near the best, `None` without one.
    pub fn predict(&self, candidates: &[Candidate], out: &mut Vec<f64>) -> Option<()> {
        let model = self.model.as_ref().ok()?;
        let mut features = Vec::with_capacity(candidates.len());
        self.tracker.features(self.wall, candidates, &mut features);
        model.probabilities(&features, out);
        Some(())
    }
}

impl MlSelector {
    /// Replaces each candidate's cost by its forecast, `cost + penalty·(1 − p)`, so that a
    /// policy's margins compare what the model expects over the window rather than what was
    /// measured; nearest over forecast costs picks what [`Selector::choose`] picks. Without a
    /// model the costs are left as measured.
    pub fn forecast(&self, candidates: &mut [Candidate]) {
        let mut probs = Vec::with_capacity(candidates.len());
        if self.predict(candidates, &mut probs).is_none() {
            return;
        }
        let penalty_us = self.cfg.doubt_penalty.as_micros().min(u128::from(u32::MAX)) as f64;
        for (c, p) in candidates.iter_mut().zip(&probs) {
            let doubt = ((1.0 - p.clamp(0.0, 1.0)) * penalty_us).round() as u32;
            c.cost_us = c.cost_us.saturating_add(doubt);
        }
    }
}

/// Index of the lowest `cost + penalty·(1 − p)`; ties go to fewer relays, then the earlier.
pub fn pick(candidates: &[Candidate], probs: &[f64], penalty: Duration) -> Option<usize> {
    let penalty_us = penalty.as_micros().min(u128::from(u32::MAX)) as f64;
    candidates
        .iter()
        .zip(probs)
        .enumerate()
        .map(|(i, (c, p))| {
            let doubt = (1.0 - p.clamp(0.0, 1.0)) * penalty_us;
            let score = (f64::from(c.cost_us) + doubt).round() as u64;
            (score, c.path.relays().len(), i)
        })
        .min()
        .map(|(_, _, i)| i)
}

impl Selector for MlSelector {
    fn choose(&self, candidates: &[Candidate], history: &History) -> Option<usize> {
        let Ok(model) = &self.model else {
            return NearestSelector.choose(candidates, history);
        };
        let Ok(mut s) = self.scratch.try_borrow_mut() else {
            return NearestSelector.choose(candidates, history);
        };
        let (features, probs) = &mut *s;
        self.tracker.features(self.wall, candidates, features);
        model.probabilities(features, probs);
        pick(candidates, probs, self.cfg.doubt_penalty)
    }
}
