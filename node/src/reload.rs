//! Configuration reload on SIGHUP: re-read the file the node started from, validate it as at
//! start, and apply what can change at runtime — roles (the same path as `ctl roles set`),
//! static peers, mesh seeds, the reach book and `[proxy.server_probe]` — without touching
//! sessions. An invalid file
//! is refused with a logged error naming the field, and the running configuration stays.
//! Fields that need sockets or identities rebuilt (listen addresses, TLS, limits, the edge
//! and proxy sections but `[proxy.server_probe]`, mesh timings) are reported as needing a
//! restart and not applied. The server prober takes the reloaded destination policy with its
//! settings; it only ever queries servers of admitted sessions, so it never queries what the
//! policy in force at start refused either.

use std::path::PathBuf;

use lightspeed_actors::node::NodeHandle;
use lightspeed_actors::server_probe::ProbeConfig;
use lightspeed_actors::spec::PeerSpec;
use lightspeed_mesh::Role;

use crate::admin::AdminState;
use crate::config::{self, Config, Overrides};

/// Where the running configuration came from, to read it again.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// The `--config` file (`None`: built-in defaults, nothing to reload).
    pub path: Option<PathBuf>,
    /// Command-line overrides, applied again on every reload (so `--role` wins over the file).
    pub overrides: Overrides,
}

/// Re-reads `source` and applies it over `running`; returns the new running configuration,
/// or why the reload was refused (already logged).
pub fn reload(
    node: &NodeHandle,
    admin: &AdminState,
    running: &Config,
    source: &ConfigSource,
    server_probe: &tokio::sync::watch::Sender<ProbeConfig>,
) -> Result<Config, String> {
    let refuse = |e: String| {
        tracing::error!(error = %e, "config reload refused; the running config stays");
        Err(e)
    };
    if source.path.is_none() {
        return refuse("no --config file to reload".into());
    }
    let new = match config::load(source.path.as_deref(), &source.overrides) {
        Ok(c) => c,
        Err(e) => return refuse(e.to_string()),
    };
    let mesh = match new.mesh.as_ref().map(crate::engine::mesh_spec).transpose() {
        Ok(m) => m,
        Err(e) => return refuse(format!("{e:#}")),
    };
    let mut roles = new.node.roles.clone();
    roles.sort();
    roles.dedup();
    if let Err(e) = crate::engine::check_roles(node, admin, &roles) {
        return refuse(format!("node.roles: {e}"));
    }
    let restart = needs_restart(running, &new);
    if !restart.is_empty() {
        tracing::warn!(
            fields = %restart.join(", "),
            "config reload: these changes take effect at the next restart"
        );
    }
    if admin.roles() != roles {
        crate::engine::apply_roles(node, admin, roles.clone());
    }
    let peers: Vec<PeerSpec> = new
        .peers
        .iter()
        .map(|p| PeerSpec {
            name: p.name.clone(),
            control: p.control,
            data: p.data,
            server_name: p.tls_name().to_string(),
        })
        .collect();
    let (seeds, reach) = mesh.map(|m| (m.seeds, m.reach)).unwrap_or_default();
    tracing::info!(
        roles = ?roles,
        peers = peers.len(),
        seeds = seeds.len(),
        reach = reach.len(),
        "config reloaded"
    );
    node.reload_peers(peers, seeds, reach);
    if running.proxy.server_probe != new.proxy.server_probe
        || (
            &running.proxy.allow_destinations,
            &running.proxy.deny_destinations,
            running.proxy.allow_loopback_for_testing,
        ) != (
            &new.proxy.allow_destinations,
            &new.proxy.deny_destinations,
            new.proxy.allow_loopback_for_testing,
        )
    {
        tracing::info!(kind = ?new.proxy.server_probe.kind, "config reload: server probe settings applied");
        server_probe.send_replace(
            new.proxy
                .server_probe
                .settings(&new.proxy.destination_policy()),
        );
    }
    Ok(new)
}

/// The sections whose change a reload cannot apply.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    let (a, b) = (&old.node, &new.node);
    if a.name != b.name {
        out.push("node.name");
    }
    if a.region != b.region {
        out.push("node.region");
    }
    if (
        a.data_listen,
        a.data_advertise,
        a.control_listen,
        a.admin_listen,
    ) != (
        b.data_listen,
        b.data_advertise,
        b.control_listen,
        b.admin_listen,
    ) {
        out.push("node listen/advertise addresses");
    }
    if a.log_format != b.log_format {
        out.push("node.log_format");
    }
    if old.tls != new.tls {
        out.push("tls");
    }
    if old.limits != new.limits {
        out.push("limits");
    }
    let without_probe = |c: &Config| crate::config::ProxySection {
        server_probe: Default::default(),
        ..c.proxy.clone()
    };
    if without_probe(old) != without_probe(new) {
        out.push("proxy (all but proxy.server_probe)");
    }
    if old.edge != new.edge {
        out.push("edge");
    }
    let timings = |c: &Config| {
        c.mesh.as_ref().map(|m| {
            (
                m.preset,
                m.cluster_size,
                m.probe_period,
                m.suspect_timeout,
                m.gossip_period,
                m.probe_interval,
                m.refresh,
            )
        })
    };
    if timings(old) != timings(new) {
        out.push("mesh (presence or timings)");
    }
    if old.node.roles.contains(&Role::Edge) != new.node.roles.contains(&Role::Edge) {
        out.push("node.roles (edge)");
    }
    out
}
