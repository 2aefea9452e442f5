//! # lightspeed-node
//!
//! The single LightSpeed binary: one process, one actor system, any of the edge, relay and proxy
//! roles. CLI, TOML config, admin HTTP and telemetry setup live here; everything else is a
//! library crate.
//!
//! What it is not: no protocol or routing logic lives in the binary.
//!
//! Layout: `main.rs` only, until the tunnel work adds the CLI, config and admin modules.

#![forbid(unsafe_code)]

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version") | Some("-V") => println!("lightspeed-node {}", env!("CARGO_PKG_VERSION")),
        _ => {
            eprintln!(
                "lightspeed-node {}: node roles are not built yet; see README.md",
                env!("CARGO_PKG_VERSION")
            );
            std::process::exit(2);
        }
    }
}
