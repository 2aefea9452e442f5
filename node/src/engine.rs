//! The node engine: turns the validated config into a [`NodeSpec`] and runs the actor system,
//! QUIC control plane and data-plane loops for the configured roles.
//!
//! Seam with the shell ([`crate::lifecycle`]): the shell has loaded and validated the config,
//! initialised tracing, started the admin server inside an actix `System` on a multi-thread
//! tokio runtime, and calls [`run`] on the system's arbiter. The engine keeps the shared
//! handles in [`AdminState`] current and returns once `shutdown` fires, after closing every
//! session.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use lightspeed_actors::spec::{
    EdgeSpec, Limits, NodeSpec, PeerSpec, ProxySpec, RedirectSpec, TlsSpec,
};

use crate::admin::AdminState;
use crate::config::Config;
use crate::shutdown::Shutdown;

/// How often the admin session gauge is refreshed.
const GAUGE_PERIOD: Duration = Duration::from_millis(250);

/// The runtime form of a validated config.
pub fn spec_from_config(config: &Config) -> anyhow::Result<NodeSpec> {
    let ca_cert = config
        .tls
        .ca_cert
        .clone()
        .context("tls.ca_cert: required: the mesh CA certificate")?;
    let edge = match (&config.edge.token, &config.edge.proxy) {
        (Some(token), Some(proxy)) => Some(EdgeSpec {
            token: token.expose().to_string(),
            proxy: proxy.clone(),
            via: config.edge.via.clone(),
            fec: config.edge.fec,
            fec_deadline: config.edge.fec_deadline,
            keepalive: config.edge.keepalive,
            redirects: config
                .edge
                .redirect
                .iter()
                .map(|r| RedirectSpec {
                    listen: r.listen,
                    target: r.target,
                    game: r.game.clone(),
                })
                .collect(),
        }),
        _ => None,
    };
    Ok(NodeSpec {
        name: config.node.name.clone(),
        roles: config.node.roles.clone(),
        data_listen: config.node.data_listen,
        data_advertise: config.node.data_advertise,
        control_listen: config.node.control_listen,
        tls: TlsSpec {
            ca_cert,
            cert: config.tls.cert.clone(),
            key: config.tls.key.clone(),
        },
        limits: Limits {
            max_sessions: config.limits.max_sessions,
            idle_timeout: config.limits.idle_timeout,
            per_session_pps: config.limits.per_session_pps,
            per_source_pps: config.limits.per_source_pps,
            max_pending_flows: config.limits.max_pending_flows,
        },
        proxy: ProxySpec {
            tokens: config
                .proxy
                .tokens
                .iter()
                .map(|t| t.expose().to_string())
                .collect(),
            policy: config.proxy.destination_policy(),
            egress_bind: config.proxy.egress_bind,
        },
        edge,
        peers: config
            .peers
            .iter()
            .map(|p| PeerSpec {
                name: p.name.clone(),
                control: p.control,
                data: p.data,
                server_name: p.tls_name().to_string(),
            })
            .collect(),
    })
}

/// Runs the node until `shutdown` is requested. An error ends the process with exit code 1.
pub async fn run(config: Config, admin: AdminState, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let spec = spec_from_config(&config)?;
    // StartError's message already carries its cause's text (`binding ...: Address in use`);
    // chained with `.context`, the binary's `{:#}` would print every cause twice.
    let node = lightspeed_actors::node::start(spec, Arc::clone(&admin.counters))
        .await
        .map_err(|e| anyhow::anyhow!("starting the node: {e}"))?;
    let mut gauge = tokio::time::interval(GAUGE_PERIOD);
    loop {
        tokio::select! {
            _ = shutdown.requested() => break,
            _ = gauge.tick() => admin.sessions.store(node.sessions(), Ordering::Relaxed),
        }
    }
    node.shutdown().await;
    admin.sessions.store(0, Ordering::Relaxed);
    Ok(())
}
