//! `lightspeed-node demo`: a self-contained run of edge, relay and proxy on loopback with a
//! simulated lossy link, printing what FEC and routing did. Not built yet.

use crate::cli::DemoArgs;

/// Runs the demo with already-validated arguments.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("demo is not built yet")
}
