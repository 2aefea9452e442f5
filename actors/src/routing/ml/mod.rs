//! The ML path selector (pure): features, recorded measurements, the model, the selector
//! and offline evaluation. docs/routing.md ("Selectors") says how it is trained and what it
//! showed on the `diurnal` simulation; docs/decisions/0008-ml-selector.md why linfa-trees.
//!
//! Layout:
//! - `features.rs`: [`features::FeatureTracker`], per-path recent samples and daily profile,
//!   and the bounded feature vector.
//! - `record.rs`: [`record::Recorder`] and the on-disk line format [`record::RecordedRound`].
//! - `model.rs`: [`model::PathModel`], a bagged forest of linfa decision trees; labelling,
//!   training, probabilities, the checked JSON model file.
//! - `selector.rs`: [`selector::MlSelector`], the [`super::selector::Selector`] that uses a
//!   model and falls back to nearest.
//! - `eval.rs`: [`eval::evaluate`], accuracy and regret of a model on a recording.

pub mod eval;
pub mod features;
pub mod model;
pub mod record;
pub mod selector;

#[cfg(test)]
mod tests;

pub use model::{ModelError, PathModel, TrainConfig};
pub use record::{RecordedRound, Recorder, RecorderConfig};
pub use selector::{Fallback, MlConfig, MlSelector};
