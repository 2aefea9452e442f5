//! `lightspeed-sim run FILE [--json OUT] [--seed N] [--plot OUT.svg]`: runs a topology
//! scenario with real nodes on loopback, prints a table per phase, writes the JSON report and
//! the plot, and exits 1 when an expectation fails (2 when the run itself could not be done).
//!
//! `lightspeed-sim scale --nodes N --seed S [--json OUT]`: runs N membership cores under a
//! simulated clock and prints join, crash-detection, false-positive and gossip figures. The
//! JSON is byte-identical for the same arguments; the wall time goes to standard error only.
//!
//! `lightspeed-sim diurnal [--seed N] [--json OUT] [--record DIR]`: trains the ML selector on
//! simulated days of a topology with daily latency cycles and compares it with nearest on the
//! days after (docs/routing.md, "Selectors"). Deterministic for the same arguments.
//!
//! Errors are `anyhow` with context at this edge; the library's are typed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lightspeed_sim::diurnal::{self, DiurnalParams};
use lightspeed_sim::scale::{self, Preset, ScaleParams};
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
    /// Simulate N membership cores under a simulated clock (see docs/simulation.md, "Scale").
    Scale {
        /// Nodes in the mesh (3 to 4000).
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        /// Seed of the network model and every node.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Membership timing preset.
        #[arg(long, value_enum, default_value_t = Preset::Lan)]
        preset: Preset,
        /// iid loss on every link during the loss phase.
        #[arg(long, default_value_t = 0.10)]
        loss: f64,
        /// Length of the loss phase, seconds.
        #[arg(long, default_value_t = 60)]
        loss_window: u64,
        /// Links each node claims (0: no topology claims).
        #[arg(long, default_value_t = 4)]
        links: usize,
        /// Write the JSON report here (`-` for standard output, replacing the table).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Compare the ML selector with nearest on simulated days of daily latency cycles.
    Diurnal {
        /// Seed of the world and of the forest.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Relays (2 to 8).
        #[arg(long, default_value_t = 4)]
        relays: u32,
        /// Days recorded for training (2 to 60).
        #[arg(long, default_value_t = 7)]
        train_days: u64,
        /// Days compared after training (1 to 60).
        #[arg(long, default_value_t = 3)]
        test_days: u64,
        /// Write the JSON report here (`-` for standard output, replacing the table).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the recorded rounds here as train.jsonl and test.jsonl (the format
        /// `lightspeed-node ml train` reads).
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
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

fn run_diurnal(
    p: &DiurnalParams,
    json: Option<PathBuf>,
    record: Option<PathBuf>,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let run = diurnal::run(p)?;
    let to_stdout = json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let table = diurnal::render_table(&run.report);
    if to_stdout {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    eprintln!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    if let Some(path) = &json {
        let text = serde_json::to_string_pretty(&run.report)?;
        if to_stdout {
            println!("{text}");
        } else {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if let Some(dir) = &record {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, rounds) in [
            ("train.jsonl", &run.train_rounds),
            ("test.jsonl", &run.test_rounds),
        ] {
            let mut text = String::new();
            for r in rounds {
                text.push_str(&serde_json::to_string(r)?);
                text.push('\n');
            }
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(true)
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Diurnal {
            seed,
            relays,
            train_days,
            test_days,
            json,
            record,
        } => {
            let params = DiurnalParams {
                relays,
                train_days,
                test_days,
                ..DiurnalParams::new(seed)
            };
            run_diurnal(&params, json, record)
        }
        Command::Scale {
            nodes,
            seed,
            preset,
            loss,
            loss_window,
            links,
            json,
        } => {
            let params = ScaleParams {
                preset,
                loss,
                loss_window: Duration::from_secs(loss_window),
                links_per_node: links,
                ..ScaleParams::new(nodes, seed)
            };
            let started = Instant::now();
            let report = scale::run_with_progress(&params, &mut |phase| {
                eprintln!(
                    "  [{phase} done: wall {:.1} s]",
                    started.elapsed().as_secs_f64()
                );
            })?;
            let wall = started.elapsed();
            let to_stdout = json.as_deref().is_some_and(|p| p.as_os_str() == "-");
            if to_stdout {
                eprint!("{}", scale::render_table(&report));
            } else {
                print!("{}", scale::render_table(&report));
            }
            eprintln!("wall time: {:.1} s", wall.as_secs_f64());
            if let Some(path) = &json {
                let text = serde_json::to_string_pretty(&report)?;
                if to_stdout {
                    println!("{text}");
                } else {
                    std::fs::write(path, text + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            Ok(true)
        }
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
