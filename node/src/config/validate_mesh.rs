//! Checks of the `[mesh]` section: timings in range, seeds that parse, a reach book that
//! names each peer once with an address packets can be sent to.

use std::collections::HashMap;
use std::time::Duration;

use lightspeed_mesh::membership::SeedEntry;

use super::Config;
use super::validate::{Check, dns_name, fail, remote};

pub(super) fn mesh(config: &Config) -> Check {
    let Some(m) = &config.mesh else {
        return Ok(());
    };
    if config.tls.cert.is_none() {
        return fail(
            "tls.cert",
            "required with a [mesh] section (mesh members are certificate-authenticated)",
        );
    }
    for (i, seed) in m.seeds.iter().enumerate() {
        if let Err(e) = seed.parse::<SeedEntry>() {
            return fail(format!("mesh.seeds[{i}]"), e.to_string());
        }
    }
    if m.probe_interval < Duration::from_millis(10) || m.probe_interval > Duration::from_secs(60) {
        return fail(
            "mesh.probe_interval",
            format!(
                "{:?} is out of range; allowed 10ms to 60s",
                m.probe_interval
            ),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, r) in m.reach.iter().enumerate() {
        let field = format!("mesh.reach[{i}]");
        dns_name(&format!("{field}.peer"), &r.peer)?;
        if r.peer == config.node.name {
            return fail(
                format!("{field}.peer"),
                format!("'{}' is this node's own name (node.name)", r.peer),
            );
        }
        if let Some(first) = seen.insert(&r.peer, i) {
            return fail(
                format!("{field}.peer"),
                format!("'{}' is already listed in mesh.reach[{first}]", r.peer),
            );
        }
        remote(&format!("{field}.data_addr"), r.data_addr)?;
    }
    Ok(())
}
