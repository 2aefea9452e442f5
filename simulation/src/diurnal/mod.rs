//! Diurnal runs: does the ML selector beat nearest on a topology whose link latencies follow
//! daily cycles (`lightspeed-sim diurnal`)? A model-level run, like `scale`: the routing cores
//! (`RouteGraph`, `candidates`, `PathPolicy`, the selectors, the recorder) under a simulated
//! clock, no sockets, no nodes — a scenario file drives real nodes for seconds to minutes,
//! and this needs simulated days.
//!
//! The run, one probe round per simulated minute:
//! 1. days `0..train_days`: both arms run; the ML arm has no model yet, so it chooses like
//!    nearest while its tracker learns each path's daily profile and the recorder labels
//!    every fifth minute's candidates with their mean RTT over the next 30 min;
//! 2. at the end of training the forest is trained on those rounds;
//! 3. days `train_days..train_days + test_days`: each arm's session goes through its own
//!    [`PathPolicy`](lightspeed_actors::routing::policy::PathPolicy) with the same
//!    thresholds; after each decision, the chosen path's true RTT over the next minute is
//!    compared with the best candidate's (the oracle, which knows it): the latency regret.
//!
//! Determinism: the world is drawn from the seed (`world.rs`), the forest's bagging from the
//! train seed, everything runs in one thread in a fixed order; the report is a function of
//! [`DiurnalParams`].
//!
//! Layout: `world.rs` (the topology and its latencies), `run.rs` (the driver),
//! `report.rs` ([`DiurnalReport`] and its table).

mod report;
mod run;
mod world;

use lightspeed_actors::routing::ml::{MlConfig, ModelError, RecorderConfig, TrainConfig};

pub use report::{Arm, DiurnalReport, ParamsReport, TrainingReport, render_table};
pub use run::{DiurnalRun, run};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct DiurnalParams {
    /// Seed of the world (links, daily peaks, noise).
    pub seed: u64,
    /// Relays (2 to 8).
    pub relays: u32,
    /// Days recorded for training (at least 2: the profile needs a day to exist).
    pub train_days: u64,
    /// Days compared after training (at least 1).
    pub test_days: u64,
    /// The recorder's window and sampling.
    pub recorder: RecorderConfig,
    /// The forest.
    pub train: TrainConfig,
    /// The selector.
    pub ml: MlConfig,
}

impl DiurnalParams {
    /// The defaults for `seed`: 4 relays, 7 training days, 3 test days.
    pub fn new(seed: u64) -> DiurnalParams {
        DiurnalParams {
            seed,
            relays: 4,
            train_days: 7,
            test_days: 3,
            recorder: RecorderConfig::default(),
            train: TrainConfig {
                seed,
                ..TrainConfig::default()
            },
            ml: MlConfig::default(),
        }
    }

    fn check(&self) -> Result<(), DiurnalError> {
        if !(2..=8).contains(&self.relays) {
            return Err(DiurnalError::Params(format!(
                "relays {} (2..=8)",
                self.relays
            )));
        }
        if !(2..=60).contains(&self.train_days) || !(1..=60).contains(&self.test_days) {
            return Err(DiurnalError::Params(format!(
                "train days {} (2..=60), test days {} (1..=60)",
                self.train_days, self.test_days
            )));
        }
        Ok(())
    }
}

/// Why a diurnal run could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiurnalError {
    /// A parameter is out of range.
    #[error("bad diurnal parameter: {0}")]
    Params(String),
    /// Training or evaluating the model failed.
    #[error("training the model: {0}")]
    Train(ModelError),
}
