//! `lightspeed-node demo`: a whole accelerated game session on this machine.
//!
//! One process runs a game-server echo, a proxy, a relay and an edge — real nodes with real
//! sockets, QUIC with a throwaway mesh CA, and the data plane — plus the link emulator on the
//! edge ↔ relay leg and a game client that sends a game profile's packet rate and sizes through
//! the edge's redirect port. It prints a line per second and a summary (or one JSON object).

mod mesh;
mod report;
mod traffic;

use std::time::Duration;

use anyhow::Context as _;

use crate::cli::DemoArgs;

pub use report::Summary;

/// Runs the demo to completion.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lightspeed-demo")
        .build()
        .context("cannot start the tokio runtime")?;
    actix_rt::System::with_tokio_rt(move || runtime).block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let mesh = mesh::DemoMesh::start(&args).await?;
    let result = traffic::drive(&args, &mesh).await;
    let summary = mesh.summarize(&args, result?).await;
    mesh.stop().await;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        summary.print_human();
    }
    Ok(())
}

/// Extra time after the last packet for echoes still in flight.
const DRAIN: Duration = Duration::from_millis(500);
