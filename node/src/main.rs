//! # lightspeed-node
//!
//! The single LightSpeed binary: one process, any of the edge, relay and proxy roles.
//! `lightspeed-node --config FILE [--role ROLES]` runs a node; `lightspeed-node demo` runs the
//! loopback demo.
//!
//! What it is: the shell around the node engine — command line, TOML config with validation,
//! logging, the admin HTTP server (`/health`, `/metrics`), signals and shutdown.
//! What it is not: no protocol, session or routing logic lives here; the engine drives the
//! library crates (`lightspeed-mesh`, `lightspeed-actors`, `lightspeed-edge`).
//!
//! Exit codes: 0 after a clean stop (SIGINT/SIGTERM); 2 for a bad flag or config, with a
//! message naming the field; 1 for a runtime failure (e.g. the admin port is taken), with
//! context. Error policy: typed errors (`thiserror`) in `config`, `anyhow` with context at the
//! edges.
//!
//! Layout (library modules, `src/`):
//! - `cli.rs`: clap definitions, `--role` parsing, demo arguments.
//! - `config/`: the TOML schema, defaults, validation, CIDRs, the proxy destination policy.
//! - `telemetry.rs`: tracing subscriber (human or JSON, `RUST_LOG`).
//! - `lifecycle.rs`: runtime, admin server, engine, signals, 5 s shutdown grace.
//! - `reload.rs`: SIGHUP config reload (roles, peers, seeds, reach book).
//! - `admin.rs`, `metrics.rs`, `session_metrics.rs`: the admin routes and the OpenMetrics
//!   exporter (session families from the session book).
//! - `shutdown.rs`: the shutdown signal handed to every task.
//! - `engine.rs`: the node engine's entry point; `demo.rs`: the demo's.
//! - `ml/`: `ml train` / `ml evaluate`, and the routing recording file.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;
use lightspeed_node::cli::{Cli, Command};
use lightspeed_node::{config, ctl, demo, lifecycle, mesh_cmd, ml, telemetry};

fn main() -> ExitCode {
    // Usage errors exit 2 and --help/--version exit 0, inside clap.
    let cli = Cli::parse();
    if let Some(Command::Ml(cmd)) = cli.command.clone() {
        return ml::run(cmd);
    }
    let one_shot = match cli.command.clone() {
        Some(Command::Demo(args)) => Some(demo::run(args)),
        Some(Command::Mesh(cmd)) => Some(mesh_cmd::run(cmd)),
        Some(Command::Ctl(args)) => Some(ctl::run(args)),
        Some(Command::Ml(_)) | None => None,
    };
    if let Some(result) = one_shot {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }

    let config = match config::load(cli.config.as_deref(), &cli.overrides()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = telemetry::init(config.node.log_format) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let source = lightspeed_node::reload::ConfigSource {
        path: cli.config.clone(),
        overrides: cli.overrides(),
    };
    match lifecycle::run(config, source) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
