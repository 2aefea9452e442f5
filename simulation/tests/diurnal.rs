//! Diurnal runs in miniature: the report is a function of the parameters (byte for byte),
//! and each arm's figures are computed against the oracle. Whether ml wins is reported, not
//! asserted: docs/routing.md carries the full-size numbers.

use lightspeed_sim::diurnal::{self, DiurnalError, DiurnalParams};

fn small(seed: u64) -> DiurnalParams {
    let mut p = DiurnalParams::new(seed);
    p.relays = 3;
    p.train_days = 2;
    p.test_days = 1;
    p.train.trees = 7;
    p
}

/// One test, runs in sequence: each run is seconds of debug-build work.
#[test]
fn deterministic_and_every_arm_is_measured_against_the_oracle() {
    let run = diurnal::run(&small(2)).unwrap();
    let again = diurnal::run(&small(2)).unwrap();
    let json = |r: &diurnal::DiurnalRun| serde_json::to_string(&r.report).unwrap();
    assert_eq!(json(&run), json(&again));
    assert_eq!(run.train_rounds, again.train_rounds);
    let other = diurnal::run(&small(3)).unwrap();
    assert_ne!(json(&run), json(&other), "another seed, another world");

    let r = &run.report;
    eprintln!("{}", diurnal::render_table(r));
    assert_eq!(r.test_rounds, 1_440);
    assert_eq!(
        r.params.candidates, 10,
        "direct + 3 one-relay + 6 two-relay paths"
    );
    // Every fifth minute of two days, less the last half hour still waiting for its window.
    assert_eq!(r.training.rounds, 2 * 288 - 6);
    assert_eq!(r.training.rows, (2 * 288 - 6) * 10);
    assert!(r.training.good_share > 0.0 && r.training.good_share < 0.5);
    for a in [
        &r.nearest,
        &r.ml,
        &r.ml_forecast,
        &r.nearest_selector_only,
        &r.ml_selector_only,
    ] {
        assert!(a.mean_regret_ms >= 0.0 && a.p95_regret_ms >= 0.0, "{a:?}");
        assert!(a.mean_rtt_ms > 20.0 && a.mean_rtt_ms < 200.0, "{a:?}");
    }
    // Hysteresis costs nearest regret and saves it switches.
    assert!(r.nearest.mean_regret_ms > r.nearest_selector_only.mean_regret_ms);
    assert!(r.nearest.switches < r.nearest_selector_only.switches);
    assert_eq!(
        r.ml_beats_nearest,
        r.ml.mean_regret_ms < r.nearest.mean_regret_ms
    );
    assert!(r.offline_accuracy > 0.5, "{}", r.offline_accuracy);
    assert!(
        run.test_rounds
            .iter()
            .all(|x| x.at_us >= 2 * 86_400_000_000)
    );
}

#[test]
fn bad_parameters_are_refused() {
    let mut p = small(1);
    p.relays = 1;
    assert!(matches!(diurnal::run(&p), Err(DiurnalError::Params(_))));
    let mut p = small(1);
    p.train_days = 1;
    assert!(matches!(diurnal::run(&p), Err(DiurnalError::Params(_))));
}
