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

use lightspeed_actors::node::NodeHandle;
use lightspeed_actors::spec::MeshSpec;
use lightspeed_mesh::Role;
use lightspeed_mesh::membership::{MembershipConfig, SeedEntry};

use crate::admin::{AdminState, RoleRequest};
use crate::config::{Config, MeshPreset, MeshSection};
use crate::reload::{ConfigSource, reload};
use crate::shutdown::Shutdown;

/// How often the admin session gauge is refreshed.
const GAUGE_PERIOD: Duration = Duration::from_millis(250);

/// The routing part of the edge spec; opens `edge.ml_record` when automatic routing records.
fn routing_spec(config: &Config) -> anyhow::Result<lightspeed_actors::spec::RoutingSpec> {
    use crate::config::{RouteMode, SelectorName};
    use lightspeed_actors::spec::{PolicyOverrides, RecordSink, RoutingSpec, SelectorKind};
    let e = &config.edge;
    let auto = e.route == RouteMode::Auto;
    let record = match (&e.ml_record, auto) {
        (Some(path), true) => {
            let file = crate::ml::record_file::RecordFile::open(path, e.ml_record_max_bytes)
                .with_context(|| format!("edge.ml_record: opening {}", path.display()))?;
            let file = std::sync::Mutex::new(file);
            let shown = path.display().to_string();
            Some(RecordSink(std::sync::Arc::new(move |rounds: &[_]| {
                if let Ok(mut f) = file.lock()
                    && let Err(e) = f.append(rounds)
                {
                    tracing::warn!(file = %shown, error = %e, "recording routing rounds failed");
                }
            })))
        }
        _ => None,
    };
    Ok(RoutingSpec {
        auto,
        selector: match e.selector {
            SelectorName::Nearest => SelectorKind::Nearest,
            SelectorName::Ml => SelectorKind::Ml,
        },
        ml_model: e.ml_model.clone(),
        policy: PolicyOverrides {
            select_margin: e.policy.select_margin,
            switch_margin: e.policy.switch_margin,
            keep_margin: e.policy.keep_margin,
            min_dwell: e.policy.min_dwell,
            veto: e.policy.veto,
        },
        record,
    })
}

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
            backup_via: config.edge.backup_via.clone(),
            multipath: config.edge.multipath.mode(),
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
            routing: routing_spec(config)?,
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
        mesh: config.mesh.as_ref().map(mesh_spec).transpose()?,
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

/// The runtime form of `[mesh]`.
pub(crate) fn mesh_spec(mesh: &MeshSection) -> anyhow::Result<MeshSpec> {
    let seeds = mesh
        .seeds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<SeedEntry>()
                .with_context(|| format!("mesh.seeds[{i}]"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut membership = match mesh.preset {
        MeshPreset::Lan => MembershipConfig::lan(mesh.cluster_size),
        MeshPreset::Wan => MembershipConfig::wan(mesh.cluster_size),
    };
    if let Some(p) = mesh.probe_period {
        // The preset's probe RTT bound is half its period; keep that ratio.
        membership.probe_period = p;
        membership.probe_rtt = p / 2;
    }
    if let Some(s) = mesh.suspect_timeout {
        membership.suspect_to_down_after = s;
    }
    if let Some(g) = mesh.gossip_period {
        membership.gossip_period = g;
    }
    let mut spec = MeshSpec::new(seeds, membership);
    spec.probe_interval = mesh.probe_interval;
    spec.reach = mesh
        .reach
        .iter()
        .map(|r| (r.peer.clone(), r.data_addr))
        .collect();
    spec.publish.refresh = mesh.refresh;
    spec.publish.min_interval = spec.publish.min_interval.min(mesh.refresh);
    Ok(spec)
}

/// Runs the node until `shutdown` is requested, re-reading `source` on every message of
/// `reloads` (SIGHUP). An error ends the process with exit code 1.
pub async fn run(
    config: Config,
    admin: AdminState,
    mut shutdown: Shutdown,
    source: ConfigSource,
    mut reloads: tokio::sync::mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    let mut running = config.clone();
    let mut spec = spec_from_config(&config)?;
    if let Some(mesh) = &mut spec.mesh {
        mesh.region = config.node.region.clone().unwrap_or_default();
    }
    // StartError's message already carries its cause's text (`binding ...: Address in use`);
    // chained with `.context`, the binary's `{:#}` would print every cause twice.
    let node = lightspeed_actors::node::start_with_book(
        spec,
        Arc::clone(&admin.counters),
        admin.mesh.clone(),
        admin.book.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the node: {e}"))?;
    // Queries to game servers (`[proxy.server_probe]`): the task runs on every node (a proxy
    // role can be taken at runtime) and does nothing but read the table while off.
    let (probe_tx, probe_rx) = tokio::sync::watch::channel(
        config
            .proxy
            .server_probe
            .settings(&config.proxy.destination_policy()),
    );
    let probe_task = lightspeed_actors::server_probe::spawn(
        Arc::clone(&node.dp),
        config.proxy.egress_bind,
        probe_rx,
        Arc::clone(&admin.server_probe),
    );
    let mut role_requests = admin.take_role_requests();
    let mut gauge = tokio::time::interval(GAUGE_PERIOD);
    loop {
        tokio::select! {
            _ = shutdown.requested() => break,
            _ = gauge.tick() => admin.sessions.store(node.sessions(), Ordering::Relaxed),
            Some(request) = recv(&mut role_requests) => {
                let result = change_roles(&node, &admin, request.roles);
                let _ = request.reply.send(result);
            }
            Some(()) = reloads.recv() => {
                if let Ok(new) = reload(&node, &admin, &running, &source, &probe_tx) {
                    running = new;
                }
            }
        }
    }
    // It holds the data plane: stopped first so the node's sockets go with the node.
    probe_task.abort();
    node.shutdown().await;
    admin.sessions.store(0, Ordering::Relaxed);
    Ok(())
}

async fn recv(rx: &mut Option<tokio::sync::mpsc::Receiver<RoleRequest>>) -> Option<RoleRequest> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Applies a runtime role change, or says why it cannot be.
fn change_roles(
    node: &NodeHandle,
    admin: &AdminState,
    mut roles: Vec<Role>,
) -> Result<Vec<Role>, String> {
    roles.sort();
    roles.dedup();
    check_roles(node, admin, &roles)?;
    apply_roles(node, admin, roles.clone());
    Ok(roles)
}

/// Why `roles` cannot be taken at runtime, if they cannot.
pub(crate) fn check_roles(
    node: &NodeHandle,
    admin: &AdminState,
    roles: &[Role],
) -> Result<(), String> {
    let had_edge = admin.roles().contains(&Role::Edge);
    if roles.contains(&Role::Edge) != had_edge {
        return Err("the edge role cannot be added or removed at runtime (it needs redirect sockets); restart with --role".into());
    }
    if node.control_addr.is_none() && (roles.contains(&Role::Proxy) || roles.contains(&Role::Relay))
    {
        return Err("proxy and relay need the QUIC control server, which this node did not start (no certificate, or no [mesh] section and no proxy/relay role at start)".into());
    }
    Ok(())
}

/// Takes `roles` (checked with [`check_roles`]): admission and gossip follow at once.
pub(crate) fn apply_roles(node: &NodeHandle, admin: &AdminState, roles: Vec<Role>) {
    node.set_roles(roles.clone());
    admin.set_roles(roles.clone());
    tracing::info!(roles = ?roles, "roles changed");
}
