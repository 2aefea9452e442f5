//! The trained model (pure): a bagged forest of linfa decision trees answering one
//! classification question per candidate — "will this path be within `tolerance` of the best
//! candidate's mean RTT over the next window?" — with the share of trees voting yes as its
//! probability.
//!
//! linfa 0.8 has no regression trees and `linfa-ensemble`'s forest draws features with
//! replacement, drops sample weights, returns only the majority class and breaks ties through
//! a `HashMap` (so two runs can differ); the bagging here is ours, seeded, sampling rows with
//! and features without replacement (docs/decisions/0008-ml-selector.md).
//!
//! Persistence is the trees themselves (linfa-trees' serde) in a versioned JSON envelope;
//! [`PathModel::from_json`] checks the envelope and walks every tree so a model that would
//! index past its features or miss a child is refused instead of panicking at prediction.

use linfa::Dataset;
use linfa::traits::{Fit, Predict};
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::features::{FEATURES_VERSION, FeatureVec, N_FEATURES, bound};
use super::record::RecordedRound;

/// The `format` field of a model file.
pub const MODEL_FORMAT: &str = "lightspeed-ml-selector";
/// Version of the model file layout.
pub const MODEL_VERSION: u32 = 1;
/// Most training rows accepted: 2 M rows of 14 features is ~220 MB of f64 in memory.
pub const MAX_ROWS: usize = 2_000_000;
/// Most trees a model file may hold.
pub const MAX_TREES: usize = 512;

/// Training parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Trees in the forest. Default 31: odd, and past ~30 trees the vote share stops moving.
    pub trees: usize,
    /// Depth limit of each tree. Default 8: 256 leaves is plenty for 14 features and keeps a
    /// model file around a megabyte.
    pub max_depth: usize,
    /// Share of rows each tree draws (with replacement). Default 0.5.
    pub sample_fraction: f64,
    /// Share of features each tree sees (without replacement). Default 0.7.
    pub feature_fraction: f64,
    /// A candidate is labelled "good" when its future mean RTT is within this of the round's
    /// best (µs). Default 2,000: within measurement noise of the best.
    pub tolerance_us: u32,
    /// Seed of the bagging.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig {
            trees: 31,
            max_depth: 8,
            sample_fraction: 0.5,
            feature_fraction: 0.7,
            tolerance_us: 2_000,
            seed: 1,
        }
    }
}

/// Why a model could not be trained, loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No labelled candidate in the recording (no round had a future RTT).
    #[error("no labelled rows in the recording")]
    NoRows,
    /// Every row has the same label; there is nothing to learn.
    #[error("every labelled row is {0}; need both good and bad candidates")]
    OneClass(&'static str),
    /// More than [`MAX_ROWS`] rows.
    #[error("more than {MAX_ROWS} training rows")]
    TooManyRows,
    /// A recorded round has another line or feature version.
    #[error("round at {at_us} has version {found}, expected {expected}")]
    Version {
        /// The round's wall time (µs).
        at_us: u64,
        /// Its version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A training parameter is out of range.
    #[error("bad training parameter: {0}")]
    Params(String),
    /// linfa refused to fit a tree.
    #[error("fitting a tree failed: {0}")]
    Fit(String),
    /// The model file is not JSON of the expected shape.
    #[error("model file is not a valid model: {0}")]
    Format(String),
    /// The model file is well formed but does not fit this build.
    #[error("model is incompatible: {0}")]
    Incompatible(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bag {
    features: Vec<usize>,
    tree: DecisionTree<f64, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ModelFile {
    format: String,
    v: u32,
    features_v: u32,
    n_features: usize,
    tolerance_us: u32,
    window_us: u64,
    trained_rows: usize,
    trees: Vec<Bag>,
}

/// A trained forest.
#[derive(Debug, Clone)]
pub struct PathModel {
    file: ModelFile,
}

/// Labelled rows from recorded rounds: features, and whether the candidate was within
/// `tolerance_us` of the round's best future RTT. Candidates without a future RTT are left out.
///
/// # Errors
/// [`ModelError::Version`], [`ModelError::TooManyRows`].
pub fn label(
    rounds: &[RecordedRound],
    tolerance_us: u32,
) -> Result<(Vec<FeatureVec>, Vec<bool>), ModelError> {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for r in rounds {
        if r.features_v != FEATURES_VERSION {
            return Err(ModelError::Version {
                at_us: r.at_us,
                found: r.features_v,
                expected: FEATURES_VERSION,
            });
        }
        let Some(best) = r.candidates.iter().filter_map(|c| c.future_rtt_us).min() else {
            continue;
        };
        for c in &r.candidates {
            let (Some(f), Some(v)) = (to_vec(&c.features), c.future_rtt_us) else {
                continue;
            };
            if x.len() >= MAX_ROWS {
                return Err(ModelError::TooManyRows);
            }
            x.push(f);
            y.push(v <= best.saturating_add(tolerance_us));
        }
    }
    Ok((x, y))
}

/// A recorded feature list as a vector (bounded), `None` when its length is wrong.
pub fn to_vec(features: &[f64]) -> Option<FeatureVec> {
    let mut v = [0.0; N_FEATURES];
    if features.len() != N_FEATURES {
        return None;
    }
    for (d, s) in v.iter_mut().zip(features) {
        *d = bound(*s);
    }
    Some(v)
}

impl PathModel {
    /// Trains on recorded rounds.
    ///
    /// # Errors
    /// Those of [`label`], [`ModelError::NoRows`], [`ModelError::OneClass`],
    /// [`ModelError::Params`], [`ModelError::Fit`].
    pub fn train(rounds: &[RecordedRound], cfg: &TrainConfig) -> Result<PathModel, ModelError> {
        if cfg.trees == 0 || cfg.trees > MAX_TREES || cfg.max_depth == 0 || cfg.max_depth > 32 {
            return Err(ModelError::Params(format!(
                "trees {} (1..={MAX_TREES}), depth {} (1..=32)",
                cfg.trees, cfg.max_depth
            )));
        }
        let frac_ok = |f: f64| f > 0.0 && f <= 1.0;
        if !frac_ok(cfg.sample_fraction) || !frac_ok(cfg.feature_fraction) {
            return Err(ModelError::Params("fractions must be in (0, 1]".into()));
        }
        let (x, y) = label(rounds, cfg.tolerance_us)?;
        if x.is_empty() {
            return Err(ModelError::NoRows);
        }
        if y.iter().all(|&b| b) {
            return Err(ModelError::OneClass("good"));
        }
        if y.iter().all(|&b| !b) {
            return Err(ModelError::OneClass("bad"));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let rows = ((x.len() as f64 * cfg.sample_fraction).ceil() as usize).max(1);
        let k = ((N_FEATURES as f64 * cfg.feature_fraction).ceil() as usize).clamp(1, N_FEATURES);
        let mut trees = Vec::with_capacity(cfg.trees);
        for _ in 0..cfg.trees {
            let mut features = sample(&mut rng, N_FEATURES, k).into_vec();
            features.sort_unstable();
            let mut records = Array2::<f64>::zeros((rows, k));
            let mut targets = Array1::<usize>::zeros(rows);
            let mut weights = Array1::<f32>::zeros(rows);
            for r in 0..rows {
                let i = rng.random_range(0..x.len());
                let (Some(xi), Some(&yi)) = (x.get(i), y.get(i)) else {
                    continue;
                };
                for (j, &f) in features.iter().enumerate() {
                    records[(r, j)] = xi.get(f).copied().unwrap_or(0.0);
                }
                targets[r] = usize::from(yi);
                // linfa-trees breaks equal class weights through a HashMap's order; a
                // slightly heavier "good" class makes every leaf's vote deterministic.
                weights[r] = if yi { 1.0 + 1.0 / 1024.0 } else { 1.0 };
            }
            let data = Dataset::new(records, targets).with_weights(weights);
            let tree = DecisionTree::params()
                .max_depth(Some(cfg.max_depth))
                .min_weight_leaf(4.0)
                .fit(&data)
                .map_err(|e| ModelError::Fit(e.to_string()))?;
            trees.push(Bag { features, tree });
        }
        Ok(PathModel {
            file: ModelFile {
                format: MODEL_FORMAT.into(),
                v: MODEL_VERSION,
                features_v: FEATURES_VERSION,
                n_features: N_FEATURES,
                tolerance_us: cfg.tolerance_us,
                window_us: rounds.first().map_or(0, |r| r.window_us),
                trained_rows: x.len(),
                trees,
            },
        })
    }

    /// Probability (share of trees) that each row's candidate is "good", into `out`.
    pub fn probabilities(&self, rows: &[FeatureVec], out: &mut Vec<f64>) {
        out.clear();
        out.resize(rows.len(), 0.0);
        if rows.is_empty() || self.file.trees.is_empty() {
            return;
        }
        for bag in &self.file.trees {
            let mut sub = Array2::<f64>::zeros((rows.len(), bag.features.len()));
            for (r, row) in rows.iter().enumerate() {
                for (j, &f) in bag.features.iter().enumerate() {
                    sub[(r, j)] = row.get(f).copied().map_or(0.0, bound);
                }
            }
            let votes: Array1<usize> = bag.tree.predict(&sub);
            for (p, v) in out.iter_mut().zip(votes.iter()) {
                *p += (*v == 1) as u8 as f64;
            }
        }
        let n = self.file.trees.len() as f64;
        out.iter_mut().for_each(|p| *p /= n);
    }

    /// The model as a JSON document.
    ///
    /// # Errors
    /// [`ModelError::Format`] (not expected: every value is finite).
    pub fn to_json(&self) -> Result<String, ModelError> {
        serde_json::to_string(&self.file).map_err(|e| ModelError::Format(e.to_string()))
    }

    /// Reads and checks a model document.
    ///
    /// # Errors
    /// [`ModelError::Format`], [`ModelError::Incompatible`].
    pub fn from_json(text: &str) -> Result<PathModel, ModelError> {
        let file: ModelFile =
            serde_json::from_str(text).map_err(|e| ModelError::Format(e.to_string()))?;
        let bad = |s: String| Err(ModelError::Incompatible(s));
        if file.format != MODEL_FORMAT {
            return bad(format!(
                "format {:?}, expected {MODEL_FORMAT:?}",
                file.format
            ));
        }
        if file.v != MODEL_VERSION || file.features_v != FEATURES_VERSION {
            return bad(format!(
                "model v{} features v{}, this build reads v{MODEL_VERSION} features v{FEATURES_VERSION}",
                file.v, file.features_v
            ));
        }
        if file.n_features != N_FEATURES {
            return bad(format!(
                "{} features, expected {N_FEATURES}",
                file.n_features
            ));
        }
        if file.trees.is_empty() || file.trees.len() > MAX_TREES {
            return bad(format!("{} trees (1..={MAX_TREES})", file.trees.len()));
        }
        for (i, bag) in file.trees.iter().enumerate() {
            if bag.features.is_empty() || bag.features.iter().any(|&f| f >= N_FEATURES) {
                return bad(format!("tree {i} selects a feature out of range"));
            }
            if let Err(why) = check_node(bag.tree.root_node(), bag.features.len()) {
                return bad(format!("tree {i}: {why}"));
            }
        }
        Ok(PathModel { file })
    }

    /// Trees in the forest.
    pub fn trees(&self) -> usize {
        self.file.trees.len()
    }

    /// Rows it was trained on.
    pub fn trained_rows(&self) -> usize {
        self.file.trained_rows
    }

    /// The label tolerance it was trained with (µs).
    pub fn tolerance_us(&self) -> u32 {
        self.file.tolerance_us
    }
}

/// Every split names a column the tree was given and has both children; every class is 0/1.
fn check_node(node: &TreeNode<f64, usize>, columns: usize) -> Result<(), String> {
    if node.is_leaf() {
        return match node.prediction() {
            Some(0 | 1) => Ok(()),
            other => Err(format!("leaf predicts {other:?}, expected 0 or 1")),
        };
    }
    let (feature, value, _) = node.split();
    if feature >= columns || !value.is_finite() {
        return Err(format!("split on column {feature} at {value}"));
    }
    let children = node.children();
    if children.len() != 2 {
        return Err("a split without two children".into());
    }
    for child in children {
        match child {
            Some(c) => check_node(c, columns)?,
            None => return Err("a split with a missing child".into()),
        }
    }
    Ok(())
}
