//! # lightspeed-node (library half)
//!
//! Everything the `lightspeed-node` binary is made of, as a library so tests (and later tools)
//! can load configs and start the admin server in-process. See `main.rs` for the crate's
//! purpose and layout.

#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod demo;
pub mod engine;
pub mod lifecycle;
pub mod mesh_cmd;
pub mod metrics;
pub mod ml;
mod probe_metrics;
pub mod reload;
mod session_metrics;
pub mod shutdown;
pub mod telemetry;
