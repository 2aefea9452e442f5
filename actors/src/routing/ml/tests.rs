use std::time::Duration;

use lightspeed_protocol::Micros;

use super::eval::{Regret, evaluate};
use super::features::{FeatureTracker, N_FEATURES, bound};
use super::model::{ModelError, PathModel, TrainConfig};
use super::record::{RecordedCandidate, RecordedRound, Recorder, RecorderConfig};
use super::selector::{Fallback, MlConfig, MlSelector};
use crate::routing::paths::{Candidate, NodeId, Path, PathMetrics};
use crate::routing::selector::{History, NearestSelector, Selector};

const MIN: u64 = 60_000_000;

fn cand(path: Path, rtt_ms: u32) -> Candidate {
    Candidate {
        path,
        metrics: PathMetrics {
            rtt_us: rtt_ms * 1_000,
            jitter_us: 0,
            loss_ppm: 0,
        },
        cost_us: rtt_ms * 1_000,
    }
}

const A: Path = Path::direct(NodeId(9));
const B: Path = Path::via(NodeId(1), NodeId(9));

#[test]
fn features_are_bounded_and_nan_free() {
    assert_eq!(bound(f64::NAN), 0.0);
    assert_eq!(bound(f64::INFINITY), 10_000.0);
    assert_eq!(bound(-1e300), -10_000.0);
    let t = FeatureTracker::default();
    let mut out = Vec::new();
    t.features(Micros(0), &[cand(A, u32::MAX / 1_000)], &mut out);
    assert_eq!(out.len(), 1);
    assert!(
        out.iter()
            .flatten()
            .all(|v| v.is_finite() && v.abs() <= 10_000.0)
    );
}

#[test]
fn the_daily_profile_foresees_yesterdays_peak() {
    // A path at 50 ms that jumps to 90 ms from 18:00 to 19:00, one sample a minute for a day.
    let mut t = FeatureTracker::new(1);
    let rtt = |min: u64| {
        if (18 * 60..19 * 60).contains(&(min % 1_440)) {
            90
        } else {
            50
        }
    };
    for min in 0..1_440 + 17 * 60 + 50 {
        t.observe(Micros(min * MIN), &[cand(A, rtt(min))]);
    }
    let mut out = Vec::new();
    // Day 2, 17:50: yesterday's next quarter was 40 ms worse than this one.
    t.features(
        Micros((1_440 + 17 * 60 + 50) * MIN),
        &[cand(A, 50)],
        &mut out,
    );
    let f = out.first().copied().unwrap_or([0.0; N_FEATURES]);
    assert!(
        (f[11] - 40.0).abs() < 1e-6,
        "profile_change_ahead {}",
        f[11]
    );
    assert!(f[12].abs() < 1e-6, "rtt_above_profile {}", f[12]);
    assert_eq!(t.tracked(), 1);
}

#[test]
fn recorder_labels_each_round_with_the_next_windows_mean() {
    let cfg = RecorderConfig {
        window: Duration::from_secs(180),
        interval: Duration::from_secs(120),
        max_pending: 4,
    };
    let mut r = Recorder::new(cfg);
    let feats = [[0.0; N_FEATURES]; 2];
    let mut done = Vec::new();
    for (min, (a, b)) in [(10, 40), (20, 40), (30, 40), (40, 50), (50, 40)]
        .into_iter()
        .enumerate()
    {
        let now = Micros(min as u64 * MIN);
        done.extend(r.observe(now, &[cand(A, a), cand(B, b)], &feats));
    }
    // Rounds at 0 and 2 min are recorded (interval 2 min); the first completes at 3 min
    // with the means of minutes 1-3, the second is still waiting.
    assert_eq!(done.len(), 1);
    let first = &done[0];
    assert_eq!(first.at_us, 0);
    assert_eq!(first.window_us, 180_000_000);
    assert_eq!(first.candidates[0].future_rtt_us, Some(30_000));
    assert_eq!(first.candidates[1].future_rtt_us, Some(43_333));
    assert_eq!(first.candidates[1].hops, vec![1, 9]);
    assert_eq!(first.candidates[0].features.len(), N_FEATURES);
    assert_eq!(r.pending(), 2);
    assert_eq!(r.skipped(), 0);
}

#[test]
fn recorder_skips_rounds_when_full() {
    let cfg = RecorderConfig {
        window: Duration::from_secs(3_600),
        interval: Duration::from_secs(60),
        max_pending: 2,
    };
    let mut r = Recorder::new(cfg);
    for min in 0..5 {
        assert!(r.observe(Micros(min * MIN), &[cand(A, 40)], &[]).is_empty());
    }
    assert_eq!((r.pending(), r.skipped()), (2, 3));
}

/// Rounds of two candidates where feature 13 alone says which will be good: candidate 0 is
/// cheaper now but bad whenever its feature 13 is high.
fn synthetic_rounds(n: usize) -> Vec<RecordedRound> {
    (0..n)
        .map(|i| {
            let trap = i % 3 == 0;
            let row = |hops: Vec<u32>, cost_ms: u32, f13: f64, future_ms: u32| {
                let mut features = vec![0.0; N_FEATURES];
                features[0] = f64::from(cost_ms);
                features[13] = f13;
                RecordedCandidate {
                    hops,
                    rtt_us: cost_ms * 1_000,
                    jitter_us: 0,
                    loss_ppm: 0,
                    cost_us: cost_ms * 1_000,
                    features,
                    future_rtt_us: Some(future_ms * 1_000),
                }
            };
            let candidates = if trap {
                vec![row(vec![9], 40, 30.0, 80), row(vec![1, 9], 45, 0.0, 45)]
            } else {
                vec![row(vec![9], 40, 0.0, 40), row(vec![1, 9], 45, 0.0, 41)]
            };
            RecordedRound {
                v: 1,
                features_v: 1,
                at_us: i as u64 * MIN,
                window_us: 30 * MIN,
                candidates,
            }
        })
        .collect()
}

fn small() -> TrainConfig {
    TrainConfig {
        trees: 7,
        feature_fraction: 1.0,
        ..TrainConfig::default()
    }
}

#[test]
fn a_trained_model_avoids_the_trap_and_survives_a_round_trip() {
    let rounds = synthetic_rounds(300);
    let model = PathModel::train(&rounds, &small()).unwrap();
    assert_eq!((model.trees(), model.trained_rows()), (7, 600));
    let report = evaluate(&model, &rounds, Duration::from_millis(20)).unwrap();
    assert_eq!(report.rounds, 300);
    assert!(report.accuracy > 0.99, "{report:?}");
    // Nearest falls into every trap: 80 − 45 = 35 ms on a third of the rounds.
    assert!(
        (report.nearest.mean_ms - 35.0 / 3.0).abs() < 0.01,
        "{report:?}"
    );
    assert_eq!(report.ml, Regret::default());
    assert_eq!(report.differing_picks, 100);

    let again = PathModel::from_json(&model.to_json().unwrap()).unwrap();
    let x = [{
        let mut f = [0.0; N_FEATURES];
        f[13] = 30.0;
        f
    }];
    let (mut p1, mut p2) = (Vec::new(), Vec::new());
    model.probabilities(&x, &mut p1);
    again.probabilities(&x, &mut p2);
    assert_eq!(p1, p2);
    assert!(p1[0] < 0.2, "{p1:?}");
}

#[test]
fn training_is_deterministic() {
    let rounds = synthetic_rounds(120);
    let a = PathModel::train(&rounds, &small())
        .unwrap()
        .to_json()
        .unwrap();
    let b = PathModel::train(&rounds, &small())
        .unwrap()
        .to_json()
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn training_refuses_what_it_cannot_learn_from() {
    assert_eq!(
        PathModel::train(&[], &small()).unwrap_err(),
        ModelError::NoRows
    );
    let mut one = synthetic_rounds(3);
    one.iter_mut().for_each(|r| r.candidates.truncate(1));
    one[0].candidates[0].future_rtt_us = Some(40_000);
    assert_eq!(
        PathModel::train(&one, &small()).unwrap_err(),
        ModelError::OneClass("good")
    );
    let mut old = synthetic_rounds(3);
    old[1].features_v = 99;
    assert!(matches!(
        PathModel::train(&old, &small()),
        Err(ModelError::Version { found: 99, .. })
    ));
    let bad = TrainConfig {
        trees: 0,
        ..small()
    };
    assert!(matches!(
        PathModel::train(&synthetic_rounds(9), &bad),
        Err(ModelError::Params(_))
    ));
}

#[test]
fn broken_model_files_are_refused_not_panicked_on() {
    let json = PathModel::train(&synthetic_rounds(60), &small())
        .unwrap()
        .to_json()
        .unwrap();
    for (text, want) in [
        ("not json".to_string(), "not a valid model"),
        (json.replace("\"v\":1", "\"v\":2"), "incompatible"),
        (
            json.replace("\"features\":[", "\"features\":[99,"),
            "out of range",
        ),
        (
            json.replacen("\"left_child\":{", "\"left_child\":null,\"x\":{", 1),
            "missing child",
        ),
        (
            json.replace("\"n_features\":14", "\"n_features\":3"),
            "3 features",
        ),
    ] {
        let err = PathModel::from_json(&text).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn the_selector_falls_back_to_nearest_with_a_reason() {
    let c = [cand(B, 45), cand(A, 40)];
    let s = MlSelector::from_json(MlConfig::default(), "{}");
    assert!(matches!(
        s.fallback_reason(),
        Some(Fallback::Unusable(ModelError::Format(_)))
    ));
    assert!(s.model().is_none());
    assert_eq!(s.choose(&c, &History::default()), Some(1));
    assert_eq!(
        s.choose(&c, &History::default()),
        NearestSelector.choose(&c, &History::default())
    );
    let none = MlSelector::fallback(MlConfig::default(), Fallback::NoModel);
    assert_eq!(none.fallback_reason(), Some(&Fallback::NoModel));
    assert_eq!(none.choose(&[], &History::default()), None);
}

#[test]
fn the_selector_uses_the_model() {
    let model = PathModel::train(&synthetic_rounds(300), &small()).unwrap();
    let mut s = MlSelector::new(MlConfig::default(), model);
    assert!(s.fallback_reason().is_none());
    // With no profile yet every feature but the metrics is 0: no trap seen, cheapest wins.
    let c = [cand(B, 45), cand(A, 40)];
    s.observe(Micros(0), &c);
    assert_eq!(s.choose(&c, &History::default()), Some(1));
    let mut p = Vec::new();
    assert_eq!(s.predict(&c, &mut p), Some(()));
    assert_eq!(p.len(), 2);
    let mut f = Vec::new();
    s.features(&c, &mut f);
    assert_eq!(f[1][0], 40.0);
}
