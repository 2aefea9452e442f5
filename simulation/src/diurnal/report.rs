//! [`DiurnalReport`]: what a diurnal run measured, and its table. Figures are rounded to the
//! microsecond so the JSON is byte-identical for a seed.

use std::fmt::Write as _;

use lightspeed_actors::routing::ml::model::label;
use lightspeed_actors::routing::ml::{PathModel, RecordedRound};
use serde::Serialize;

use super::run::round3;
use super::{DiurnalError, DiurnalParams};

/// One arm's figures over the test days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm {
    /// Mean latency regret against the oracle (ms).
    pub mean_regret_ms: f64,
    /// 95th percentile of the regret (ms).
    pub p95_regret_ms: f64,
    /// Mean true RTT of the path used (ms).
    pub mean_rtt_ms: f64,
    /// Path changes.
    pub switches: u64,
}

/// The parameters, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamsReport {
    /// Seed.
    pub seed: u64,
    /// Relays.
    pub relays: u32,
    /// Training days.
    pub train_days: u64,
    /// Test days.
    pub test_days: u64,
    /// Candidates per round.
    pub candidates: usize,
    /// Label window (min).
    pub window_min: u64,
    /// Minutes between recorded rounds.
    pub record_interval_min: u64,
    /// Trees.
    pub trees: usize,
    /// Tree depth limit.
    pub max_depth: usize,
    /// Doubt penalty (ms).
    pub doubt_penalty_ms: u64,
}

impl ParamsReport {
    pub(super) fn of(p: &DiurnalParams, candidates: usize) -> ParamsReport {
        ParamsReport {
            seed: p.seed,
            relays: p.relays,
            train_days: p.train_days,
            test_days: p.test_days,
            candidates,
            window_min: p.recorder.window.as_secs() / 60,
            record_interval_min: p.recorder.interval.as_secs() / 60,
            trees: p.train.trees,
            max_depth: p.train.max_depth,
            doubt_penalty_ms: p.ml.doubt_penalty.as_millis() as u64,
        }
    }
}

/// The training set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingReport {
    /// Recorded rounds.
    pub rounds: usize,
    /// Labelled rows.
    pub rows: usize,
    /// Share labelled "stays near the best".
    pub good_share: f64,
}

impl TrainingReport {
    pub(super) fn of(
        rounds: &[RecordedRound],
        m: &PathModel,
    ) -> Result<TrainingReport, DiurnalError> {
        let (_, y) = label(rounds, m.tolerance_us()).map_err(DiurnalError::Train)?;
        let good = y.iter().filter(|&&g| g).count();
        Ok(TrainingReport {
            rounds: rounds.len(),
            rows: y.len(),
            good_share: round3(good as f64 / y.len().max(1) as f64),
        })
    }
}

/// Everything a diurnal run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiurnalReport {
    /// What was simulated.
    pub params: ParamsReport,
    /// The training set.
    pub training: TrainingReport,
    /// Rounds compared (one a minute over the test days).
    pub test_rounds: usize,
    /// Nearest through the path policy.
    pub nearest: Arm,
    /// ML through the same policy: the ML selector's pick, margins on measured costs.
    pub ml: Arm,
    /// ML forecast costs through the same policy: margins on `cost + penalty·(1 − p)`.
    pub ml_forecast: Arm,
    /// Nearest's raw pick every round, no policy (no hysteresis).
    pub nearest_selector_only: Arm,
    /// ML's raw pick every round, no policy.
    pub ml_selector_only: Arm,
    /// The model's accuracy on the test days' recorded rounds.
    pub offline_accuracy: f64,
    /// ML's mean regret through the policy is below nearest's.
    pub ml_beats_nearest: bool,
    /// The forecast arm's mean regret is below nearest's.
    pub ml_forecast_beats_nearest: bool,
}

/// The report as a table.
pub fn render_table(r: &DiurnalReport) -> String {
    let p = &r.params;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "diurnal: seed {}, {} relays, {} candidates, train {} days, test {} days ({} rounds)",
        p.seed, p.relays, p.candidates, p.train_days, p.test_days, r.test_rounds
    );
    let _ = writeln!(
        s,
        "model: {} trees depth {}, trained on {} rows ({:.1} % good), window {} min, test accuracy {:.1} %",
        p.trees,
        p.max_depth,
        r.training.rows,
        r.training.good_share * 100.0,
        p.window_min,
        r.offline_accuracy * 100.0
    );
    let _ = writeln!(
        s,
        "{:<24} {:>12} {:>12} {:>10} {:>9}",
        "arm", "mean regret", "p95 regret", "mean rtt", "switches"
    );
    for (name, a) in [
        ("nearest (policy)", &r.nearest),
        ("ml (policy)", &r.ml),
        ("ml forecast (policy)", &r.ml_forecast),
        ("nearest (selector only)", &r.nearest_selector_only),
        ("ml (selector only)", &r.ml_selector_only),
    ] {
        let _ = writeln!(
            s,
            "{name:<24} {:>9.2} ms {:>9.2} ms {:>7.2} ms {:>9}",
            a.mean_regret_ms, a.p95_regret_ms, a.mean_rtt_ms, a.switches
        );
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(
        s,
        "beats nearest on mean regret through the policy: ml {}, ml forecast {}",
        yes(r.ml_beats_nearest),
        yes(r.ml_forecast_beats_nearest)
    );
    s
}
