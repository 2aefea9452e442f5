//! Running a node from a validated config: runtime, admin server, engine, signals, shutdown.
//!
//! Order matters: signal handlers are installed first (so SIGTERM during startup is a clean
//! stop, not a kill), then the admin port is bound (a busy port fails before the engine
//! starts), then the engine runs until SIGINT/SIGTERM, after which it gets [`ENGINE_GRACE`] to
//! stop. SIGHUP asks the engine to reload the config file ([`crate::reload`]).

use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::config::Config;
use crate::engine;
use crate::reload::ConfigSource;
use crate::shutdown;

/// How long the engine may take to stop after a shutdown request: long enough to send session
/// close messages to peers, short enough for `systemctl stop` and container runtimes
/// (Docker's default grace is 10 s).
pub const ENGINE_GRACE: Duration = Duration::from_secs(5);

/// How long open admin connections may linger after shutdown.
const ADMIN_GRACE: Duration = Duration::from_secs(1);

/// Builds the node's actix `System` on a multi-thread tokio runtime and runs the node on it
/// until a signal. Actors live on the system arbiter; packet loops are tokio tasks on the
/// runtime's worker threads.
pub fn run(config: Config, source: ConfigSource) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lightspeed")
        .build()
        .context("cannot start the tokio runtime")?;
    actix_rt::System::with_tokio_rt(move || runtime).block_on(serve(config, source))
}

async fn flatten(task: JoinHandle<anyhow::Result<()>>, what: &str) -> anyhow::Result<()> {
    task.await
        .with_context(|| format!("{what} task panicked or was cancelled"))?
}

/// Runs the node on the current runtime until SIGINT or SIGTERM (or until the engine or the
/// admin server stops on its own), then shuts down; SIGHUP reloads `source`.
pub async fn serve(config: Config, source: ConfigSource) -> anyhow::Result<()> {
    let mut sigint = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot install SIGHUP handler")?;
    // One pending reload is enough: a second SIGHUP while one waits reads the same file.
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while sighup.recv().await.is_some() {
            tracing::info!(signal = "SIGHUP", "reloading the config");
            let _ = reload_tx.try_send(());
        }
    });

    let state = AdminState::new(config.node.name.clone(), config.node.roles.clone());
    let listener = admin::bind(config.node.admin_listen).await?;
    let admin_addr = listener
        .local_addr()
        .context("cannot read the admin listener's address")?;

    let roles: Vec<&str> = config.node.roles.iter().map(|r| r.as_str()).collect();
    tracing::info!(
        name = %config.node.name,
        roles = %roles.join(","),
        version = env!("CARGO_PKG_VERSION"),
        "lightspeed-node starting"
    );
    if config.proxy.allow_loopback_for_testing
        && config.node.roles.contains(&lightspeed_mesh::Role::Proxy)
    {
        tracing::warn!("proxy.allow_loopback_for_testing is on: loopback destinations are allowed");
    }

    let (trigger, engine_shutdown) = shutdown::channel();
    let mut admin_task = tokio::spawn(admin::serve(listener, state.clone(), trigger.subscribe()));
    tracing::info!(addr = %admin_addr, "admin HTTP listening");
    // On the system arbiter: the engine starts actors, which need the actix System.
    let mut engine_task = actix_rt::spawn(engine::run(
        config,
        state,
        engine_shutdown,
        source,
        reload_rx,
    ));

    let early = tokio::select! {
        _ = sigint.recv() => { tracing::info!(signal = "SIGINT", "shutting down"); None }
        _ = sigterm.recv() => { tracing::info!(signal = "SIGTERM", "shutting down"); None }
        r = &mut engine_task => Some(("engine", r)),
        r = &mut admin_task => Some(("admin server", r)),
    };
    trigger.trigger();

    if let Some((what, joined)) = early {
        // One part stopped by itself: stop the other and report why.
        let result = joined
            .with_context(|| format!("{what} task panicked or was cancelled"))
            .and_then(|r| r);
        let other = if what == "engine" {
            admin_task
        } else {
            engine_task
        };
        other.abort();
        return match result {
            Ok(()) if what == "engine" => {
                tracing::info!("engine stopped");
                Ok(())
            }
            Ok(()) => Err(anyhow::anyhow!("admin server stopped unexpectedly")),
            Err(e) => Err(e.context(format!("{what} failed"))),
        };
    }

    match tokio::time::timeout(ENGINE_GRACE, flatten(engine_task, "engine")).await {
        Ok(result) => result.context("engine failed during shutdown")?,
        Err(_) => {
            anyhow::bail!("engine did not stop within {ENGINE_GRACE:?} of the shutdown request")
        }
    }
    if let Ok(result) = tokio::time::timeout(ADMIN_GRACE, flatten(admin_task, "admin server")).await
    {
        result?;
    }
    tracing::info!("stopped");
    Ok(())
}
