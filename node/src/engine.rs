//! The node engine: actors, QUIC control plane and data-plane loops for the configured roles.
//!
//! Seam with the shell (`main.rs`, [`crate::lifecycle`]): the shell has loaded and validated
//! the config, initialised tracing, started the admin server on a multi-thread tokio runtime,
//! and calls [`run`]. The engine updates the shared handles in [`AdminState`] (roles, session
//! count, counters) and returns once `shutdown` fires; the shell gives it 5 s.

use crate::admin::AdminState;
use crate::config::Config;
use crate::shutdown::Shutdown;

/// Runs the node until `shutdown` is requested. An error ends the process with exit code 1.
pub async fn run(config: Config, admin: AdminState, mut shutdown: Shutdown) -> anyhow::Result<()> {
    tracing::info!(
        name = %config.node.name,
        "engine not built yet; idling until shutdown"
    );
    let _ = admin;
    shutdown.requested().await;
    Ok(())
}
