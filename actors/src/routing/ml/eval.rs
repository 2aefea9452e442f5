//! Offline evaluation of a model on a recording (pure): classification accuracy, and the
//! latency regret of each round's pick (the model's, nearest's) against the candidate whose
//! future mean RTT was lowest. No policy runs here: every round is an independent choice, so
//! the figures say how good the ranking is, not how a session would fare (the `diurnal`
//! simulation answers that).

use std::time::Duration;

use serde::Serialize;

use super::super::paths::{Candidate, NodeId, Path, PathMetrics};
use super::features::FeatureVec;
use super::model::{ModelError, PathModel, label, to_vec};
use super::record::RecordedRound;
use super::selector::pick;

/// Mean and 95th percentile of a regret (ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Regret {
    /// Mean (ms).
    pub mean_ms: f64,
    /// 95th percentile (ms).
    pub p95_ms: f64,
}

impl Regret {
    /// Mean and nearest-rank p95 of `samples_us` (µs), zeros when empty.
    pub fn of(samples_us: &mut [u32]) -> Regret {
        if samples_us.is_empty() {
            return Regret::default();
        }
        samples_us.sort_unstable();
        let n = samples_us.len();
        let sum: u64 = samples_us.iter().map(|&x| u64::from(x)).sum();
        let rank = (n * 95).div_ceil(100).clamp(1, n) - 1;
        Regret {
            mean_ms: sum as f64 / n as f64 / 1_000.0,
            p95_ms: f64::from(samples_us.get(rank).copied().unwrap_or(0)) / 1_000.0,
        }
    }
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Rounds with at least one labelled candidate.
    pub rounds: usize,
    /// Labelled candidates.
    pub rows: usize,
    /// Share of candidates whose label the model's vote (p ≥ 0.5) got right.
    pub accuracy: f64,
    /// Share of candidates labelled good.
    pub good_share: f64,
    /// Regret of the model's pick.
    pub ml: Regret,
    /// Regret of the lowest-cost pick.
    pub nearest: Regret,
    /// Rounds where the two picks differ.
    pub differing_picks: usize,
}

/// Evaluates `model` on `rounds` with the selector's doubt `penalty`.
///
/// # Errors
/// Those of [`label`].
pub fn evaluate(
    model: &PathModel,
    rounds: &[RecordedRound],
    penalty: Duration,
) -> Result<EvalReport, ModelError> {
    let (x, y) = label(rounds, model.tolerance_us())?;
    let mut probs = Vec::new();
    model.probabilities(&x, &mut probs);
    let right = probs
        .iter()
        .zip(&y)
        .filter(|(p, y)| (**p >= 0.5) == **y)
        .count();
    let (mut ml, mut nearest, mut differing, mut counted) = (Vec::new(), Vec::new(), 0, 0);
    let (mut cands, mut feats): (Vec<Candidate>, Vec<FeatureVec>) = (Vec::new(), Vec::new());
    let mut futures = Vec::new();
    for r in rounds {
        cands.clear();
        feats.clear();
        futures.clear();
        for c in &r.candidates {
            let (Some(f), Some(fut)) = (to_vec(&c.features), c.future_rtt_us) else {
                continue;
            };
            cands.push(Candidate {
                path: as_path(&c.hops),
                metrics: PathMetrics {
                    rtt_us: c.rtt_us,
                    jitter_us: c.jitter_us,
                    loss_ppm: c.loss_ppm,
                },
                cost_us: c.cost_us,
            });
            feats.push(f);
            futures.push(fut);
        }
        let Some(best) = futures.iter().copied().min() else {
            continue;
        };
        counted += 1;
        model.probabilities(&feats, &mut probs);
        let m = pick(&cands, &probs, penalty);
        let ones = vec![1.0; cands.len()];
        let n = pick(&cands, &ones, penalty);
        differing += usize::from(m != n);
        let regret = |i: Option<usize>| {
            i.and_then(|i| futures.get(i))
                .map_or(0, |f| f.saturating_sub(best))
        };
        ml.push(regret(m));
        nearest.push(regret(n));
    }
    Ok(EvalReport {
        rounds: counted,
        rows: x.len(),
        accuracy: ratio(right, y.len()),
        good_share: ratio(y.iter().filter(|&&g| g).count(), y.len()),
        ml: Regret::of(&mut ml),
        nearest: Regret::of(&mut nearest),
        differing_picks: differing,
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The hop count is all the selector reads of a recorded path (ties go to fewer relays).
fn as_path(hops: &[u32]) -> Path {
    let n = |i: usize| NodeId(hops.get(i).copied().unwrap_or(0));
    match hops.len() {
        0 | 1 => Path::direct(n(0)),
        2 => Path::via(n(0), n(1)),
        _ => Path::via2(n(0), n(1), n(2)),
    }
}
