//! `lightspeed-sim run FILE [--json OUT] [--seed N] [--plot OUT.svg]`: runs a topology
//! scenario with real nodes on loopback, prints a table per phase, writes the JSON report and
//! the plot, and exits 1 when an expectation fails (2 when the run itself could not be done).
//!
//! Errors are `anyhow` with context at this edge; the library's are typed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lightspeed_sim::scenario::{self, RunOptions, Scenario};

/// LightSpeed simulation.
#[derive(Debug, Parser)]
#[command(name = "lightspeed-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file (see docs/simulation.md).
    Run {
        /// The scenario TOML.
        file: PathBuf,
        /// Write the JSON report here (`-` for standard output, replacing the table).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Replace the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Write an SVG plot of RTT over time here.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Validate scenario files without running them.
    Check {
        /// Scenario TOML files.
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Check { files } => {
            for f in &files {
                Scenario::load(f).with_context(|| format!("{}", f.display()))?;
                println!("{}: ok", f.display());
            }
            Ok(true)
        }
        Command::Run {
            file,
            json,
            seed,
            plot,
        } => {
            let sc = Scenario::load(&file).with_context(|| format!("{}", file.display()))?;
            let report = scenario::run_blocking(&sc, &RunOptions { seed })
                .with_context(|| format!("running {}", sc.name))?;
            let to_stdout = json.as_deref().is_some_and(|p| p.as_os_str() == "-");
            if to_stdout {
                eprint!("{}", scenario::render_table(&report));
            } else {
                print!("{}", scenario::render_table(&report));
            }
            if let Some(path) = &json {
                let text = serde_json::to_string_pretty(&report)?;
                if to_stdout {
                    println!("{text}");
                } else {
                    std::fs::write(path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            if let Some(path) = &plot {
                std::fs::write(path, scenario::render_svg(&report))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(report.passed)
        }
    }
}
