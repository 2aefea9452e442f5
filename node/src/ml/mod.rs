//! `lightspeed-node ml train|evaluate`: the ML path selector's offline side, and the file the
//! node records routing measurements to.
//!
//! Exit codes follow the rest of the CLI: 2 when the input is at fault (a data file missing
//! or malformed, naming the file and line; a model file that is not a usable model; a
//! recording that cannot be learned from), 1 when writing the output fails.
//!
//! Layout: `mod.rs` (the commands), `record_file.rs` ([`record_file::RecordFile`]).

pub mod record_file;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use lightspeed_actors::routing::ml::eval::evaluate;
use lightspeed_actors::routing::ml::record::RECORD_VERSION;
use lightspeed_actors::routing::ml::{MlConfig, PathModel, RecordedRound, TrainConfig};

use crate::cli::MlCommand;

/// Most rounds read from data files: 500,000 rounds of ~20 candidates is ~1 GB in memory.
pub const MAX_ROUNDS: usize = 500_000;
/// Longest accepted data line (bytes): a round of 32 candidates is ~16 KB.
pub const MAX_LINE: usize = 1 << 20;
/// Largest accepted model file: a 512-tree forest of depth 12 is well under this.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// Why a command failed, and so its exit code.
#[derive(Debug)]
enum Failure {
    /// Bad input: exit 2.
    Input(anyhow::Error),
    /// Output or runtime failure: exit 1.
    Output(anyhow::Error),
}

/// Runs an `ml` subcommand; prints the error and returns the exit code.
pub fn run(cmd: MlCommand) -> ExitCode {
    let result = match cmd {
        MlCommand::Train {
            data,
            out,
            trees,
            seed,
        } => train(&data, &out, trees, seed),
        MlCommand::Evaluate { model, data, json } => evaluate_cmd(&model, &data, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Output(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn train(data: &[PathBuf], out: &Path, trees: u16, seed: u64) -> Result<(), Failure> {
    let rounds = read_rounds(data).map_err(Failure::Input)?;
    let cfg = TrainConfig {
        trees: usize::from(trees),
        seed,
        ..TrainConfig::default()
    };
    let model = PathModel::train(&rounds, &cfg)
        .with_context(|| format!("training on {} rounds", rounds.len()))
        .map_err(Failure::Input)?;
    let json = model
        .to_json()
        .context("encoding the model")
        .map_err(Failure::Output)?;
    std::fs::write(out, json)
        .with_context(|| format!("writing {}", out.display()))
        .map_err(Failure::Output)?;
    println!(
        "trained {} trees on {} rows from {} rounds; model written to {}",
        model.trees(),
        model.trained_rows(),
        rounds.len(),
        out.display()
    );
    Ok(())
}

fn evaluate_cmd(model: &Path, data: &[PathBuf], json: bool) -> Result<(), Failure> {
    let model = load_model(model).map_err(Failure::Input)?;
    let rounds = read_rounds(data).map_err(Failure::Input)?;
    let report = evaluate(&model, &rounds, MlConfig::default().doubt_penalty)
        .context("evaluating")
        .map_err(Failure::Input)?;
    if json {
        let text = serde_json::to_string_pretty(&report)
            .context("encoding the report")
            .map_err(Failure::Output)?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "{} rounds, {} rows ({:.1} % good): accuracy {:.1} %",
        report.rounds,
        report.rows,
        report.good_share * 100.0,
        report.accuracy * 100.0
    );
    println!("regret against the best future RTT, one independent pick per round (no policy):");
    println!(
        "  ml      mean {:.2} ms  p95 {:.2} ms",
        report.ml.mean_ms, report.ml.p95_ms
    );
    println!(
        "  nearest mean {:.2} ms  p95 {:.2} ms",
        report.nearest.mean_ms, report.nearest.p95_ms
    );
    println!("  picks differ in {} rounds", report.differing_picks);
    Ok(())
}

/// Reads and checks a model file.
///
/// # Errors
/// The file cannot be read, is too large, or is not a usable model.
pub fn load_model(path: &Path) -> anyhow::Result<PathModel> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading model {}", path.display()))?
        .len();
    if len > MAX_MODEL_BYTES {
        return Err(anyhow!(
            "model {} is {len} bytes, more than {MAX_MODEL_BYTES}",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading model {}", path.display()))?;
    PathModel::from_json(&text).with_context(|| format!("model {}", path.display()))
}

/// Reads recorded rounds (JSON lines) from `paths`, in order; blank lines are skipped.
///
/// # Errors
/// A file cannot be read, a line is not a round of this version, or there are too many.
pub fn read_rounds(paths: &[PathBuf]) -> anyhow::Result<Vec<RecordedRound>> {
    let mut rounds = Vec::new();
    for path in paths {
        let file = std::fs::File::open(path)
            .with_context(|| format!("reading data {}", path.display()))?;
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        for n in 1.. {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_line(&mut line)
                .with_context(|| format!("reading data {} line {n}", path.display()))?;
            if read == 0 {
                break;
            }
            if read > MAX_LINE {
                return Err(anyhow!(
                    "data {} line {n}: longer than {MAX_LINE} bytes",
                    path.display()
                ));
            }
            if line.trim().is_empty() {
                continue;
            }
            let round: RecordedRound = serde_json::from_str(&line).with_context(|| {
                format!("data {} line {n}: not a recorded round", path.display())
            })?;
            if round.v != RECORD_VERSION {
                return Err(anyhow!(
                    "data {} line {n}: record version {}, this build reads {RECORD_VERSION}",
                    path.display(),
                    round.v
                ));
            }
            if rounds.len() >= MAX_ROUNDS {
                return Err(anyhow!("more than {MAX_ROUNDS} rounds in the data files"));
            }
            rounds.push(round);
        }
    }
    Ok(rounds)
}
