//! Process tests of `lightspeed-node ml train|evaluate`: a model trained from a recording and
//! evaluated on it, and exit code 2 with a message naming the problem for bad input.

mod support;

use std::process::Command;

use lightspeed_actors::routing::ml::record::RecordedCandidate;
use lightspeed_actors::routing::ml::{PathModel, RecordedRound};
use support::{BIN, TempDir, run};

/// JSON lines of `n` rounds of two candidates: the direct path is cheaper now but, when
/// feature 13 says so (every third round), it is 35 ms worse over the window.
fn recording(n: usize) -> String {
    let row = |hops: Vec<u32>, cost_ms: u32, f13: f64, future_ms: u32| {
        let mut features = vec![0.0; 14];
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
    let mut text = String::new();
    for i in 0..n {
        let trap = i % 3 == 0;
        let round = RecordedRound {
            v: 1,
            features_v: 1,
            at_us: i as u64 * 300_000_000,
            window_us: 1_800_000_000,
            candidates: vec![
                row(
                    vec![9],
                    40,
                    if trap { 30.0 } else { 0.0 },
                    if trap { 80 } else { 40 },
                ),
                row(vec![1, 9], 45, 0.0, if trap { 45 } else { 41 }),
            ],
        };
        text.push_str(&serde_json::to_string(&round).unwrap());
        text.push('\n');
    }
    text
}

#[test]
fn train_then_evaluate_a_recording() {
    let dir = TempDir::new("ml-train");
    let data = dir.file("rounds.jsonl", &recording(90));
    let model = dir.path("model.json");
    let model_s = model.to_string_lossy().into_owned();
    let out = Command::new(BIN)
        .args([
            "ml", "train", "--data", &data, "--out", &model_s, "--trees", "7",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("trained 7 trees on 180 rows from 90 rounds"),
        "{stdout}"
    );
    let loaded = PathModel::from_json(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(loaded.trees(), 7);

    let out = Command::new(BIN)
        .args([
            "ml", "evaluate", "--model", &model_s, "--data", &data, "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rounds"], 90);
    assert_eq!(report["rows"], 180);
    assert_eq!(report["ml"]["mean_ms"], 0.0);
    // Nearest takes the trap in 30 of 90 rounds: 35 ms each.
    assert!((report["nearest"]["mean_ms"].as_f64().unwrap() - 35.0 / 3.0).abs() < 1e-9);
    assert_eq!(report["differing_picks"], 30);
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = TempDir::new("ml-bad");
    let good = recording(30);
    let broken = dir.file("broken.jsonl", &format!("{good}{{\"v\":1,\n"));
    let (code, err) = run(&["ml", "train", "--data", &broken, "--out", "/dev/null"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("data {broken} line 31: not a recorded round")),
        "{err}"
    );

    let missing = dir.path("missing.jsonl").to_string_lossy().into_owned();
    let (code, err) = run(&["ml", "train", "--data", &missing, "--out", "/dev/null"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("reading data {missing}")), "{err}");

    let empty = dir.file("empty.jsonl", "\n");
    let (code, err) = run(&["ml", "train", "--data", &empty, "--out", "/dev/null"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no labelled rows"), "{err}");

    let data = dir.file("ok.jsonl", &good);
    let model = dir.file("model.json", "{\"format\":\"something else\"}");
    let (code, err) = run(&["ml", "evaluate", "--model", &model, "--data", &data]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("model {model}: model file is not a valid model")),
        "{err}"
    );

    let (code, err) = run(&["ml", "train", "--data", &data]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn an_unwritable_output_exits_1() {
    let dir = TempDir::new("ml-out");
    let data = dir.file("ok.jsonl", &recording(30));
    let out = dir
        .path("no/such/dir/model.json")
        .to_string_lossy()
        .into_owned();
    let (code, err) = run(&[
        "ml", "train", "--data", &data, "--out", &out, "--trees", "3",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("writing {out}")), "{err}");
}
