//! Read access to the graph: node and link views for route computation, and an owned
//! snapshot for the admin API.

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use serde::Serialize;

use lightspeed_protocol::SessionKey;

use super::claim::{ClaimVersion, ClaimedLink, NodeAttrs};
use super::graph::{NodeEntry, Topology};
use crate::Role;

/// One node as the graph holds it.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    /// Node name.
    pub name: &'a str,
    /// Attributes from its latest part 0, if one has arrived.
    pub attrs: Option<&'a NodeAttrs>,
    /// The key its link probes are sealed with (from its latest part 0). A secret of the
    /// mesh: never show it.
    pub probe_key: Option<&'a SessionKey>,
    /// Highest version among its stored parts.
    pub version: ClaimVersion,
    /// Membership reports it down or left.
    pub down: bool,
    /// When any of its parts last arrived (local clock).
    pub updated_at: Micros,
}

/// One directed link, `from` → `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkView<'a> {
    /// The measuring node (the claim's origin).
    pub from: &'a str,
    /// The far end.
    pub to: &'a str,
    /// Smoothed RTT, µs.
    pub rtt_us: u32,
    /// Jitter, µs.
    pub jitter_us: u32,
    /// Loss, parts per million.
    pub loss_ppm: u32,
    /// When the measurement was taken, on the local clock (arrival minus its stated age).
    pub measured_at: Micros,
    /// The data-plane address `from` sends to for `to`, when it said.
    pub via: Option<SocketAddr>,
}

impl LinkView<'_> {
    /// True when the measurement is older than `stale_after` at `now`.
    pub fn is_stale(&self, now: Micros, stale_after: Duration) -> bool {
        now.saturating_since(self.measured_at) > stale_after
    }
}

fn view<'a>(name: &'a str, entry: &'a NodeEntry) -> NodeView<'a> {
    NodeView {
        name,
        attrs: entry.attrs().map(|(a, _)| a),
        probe_key: entry.parts.get(&0).and_then(|p| p.body.probe_key.as_ref()),
        version: entry
            .parts
            .values()
            .map(|p| p.body.version)
            .max()
            .unwrap_or_default(),
        down: entry.down,
        updated_at: entry.updated_at,
    }
}

fn links_of<'a>(from: &'a str, entry: &'a NodeEntry) -> impl Iterator<Item = LinkView<'a>> + 'a {
    entry.parts.values().flat_map(move |part| {
        part.body
            .links
            .iter()
            .map(move |ClaimedLink { link: l, via }| LinkView {
                from,
                to: &l.to,
                rtt_us: l.rtt_us,
                jitter_us: l.jitter_us,
                loss_ppm: l.loss_ppm,
                measured_at: Micros(
                    part.received_at
                        .0
                        .saturating_sub(u64::from(l.age_ms) * 1_000),
                ),
                via: *via,
            })
    })
}

impl Topology {
    /// Every node held, in name order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.nodes.iter().map(|(name, entry)| view(name, entry))
    }

    /// One node.
    pub fn node(&self, name: &str) -> Option<NodeView<'_>> {
        self.nodes.get_key_value(name).map(|(n, e)| view(n, e))
    }

    /// How many nodes are held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no node is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every link claimed by a node that is not down, ordered by (from, to).
    pub fn links(&self) -> impl Iterator<Item = LinkView<'_>> {
        self.nodes
            .iter()
            .filter(|(_, e)| !e.down)
            .flat_map(|(name, entry)| links_of(name, entry))
    }

    /// The links `name` claims (its measured neighbours), empty if unknown.
    pub fn neighbours(&self, name: &str) -> Vec<LinkView<'_>> {
        self.nodes
            .get_key_value(name)
            .map(|(n, e)| links_of(n, e).collect())
            .unwrap_or_default()
    }

    /// An owned copy of the graph for the admin API.
    pub fn snapshot(&self, now: Micros) -> TopologySnapshot {
        let stale_after = self.config.stale_after;
        TopologySnapshot {
            local: self.local.clone(),
            nodes: self
                .nodes()
                .map(|n| NodeSnapshot {
                    name: n.name.to_owned(),
                    roles: n.attrs.map(|a| a.roles.clone()).unwrap_or_default(),
                    region: n.attrs.map(|a| a.region.clone()).unwrap_or_default(),
                    load_pct: n.attrs.map(|a| a.load_pct),
                    control_addr: n.attrs.map(|a| a.control_addr),
                    data_addr: n.attrs.and_then(|a| a.data_addr),
                    version: n.version,
                    down: n.down,
                    age_ms: now.saturating_since(n.updated_at).as_millis() as u64,
                })
                .collect(),
            links: self
                .nodes
                .iter()
                .flat_map(|(name, entry)| links_of(name, entry))
                .map(|l| LinkSnapshot {
                    from: l.from.to_owned(),
                    to: l.to.to_owned(),
                    rtt_us: l.rtt_us,
                    jitter_us: l.jitter_us,
                    loss_ppm: l.loss_ppm,
                    age_ms: now.saturating_since(l.measured_at).as_millis() as u64,
                    stale: l.is_stale(now, stale_after),
                    via: l.via,
                })
                .collect(),
        }
    }
}

/// The graph as JSON-friendly owned data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopologySnapshot {
    /// The node that produced the snapshot.
    pub local: String,
    /// Nodes in name order.
    pub nodes: Vec<NodeSnapshot>,
    /// Links in (from, to) order, including those of down nodes.
    pub links: Vec<LinkSnapshot>,
}

/// A node in a [`TopologySnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSnapshot {
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Region label.
    pub region: String,
    /// Load, percent.
    pub load_pct: Option<u8>,
    /// Control address.
    pub control_addr: Option<SocketAddr>,
    /// Data-plane address.
    pub data_addr: Option<SocketAddr>,
    /// Latest version held.
    pub version: ClaimVersion,
    /// Reported down by membership.
    pub down: bool,
    /// Time since its last part arrived, ms.
    pub age_ms: u64,
}

/// A link in a [`TopologySnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkSnapshot {
    /// Measuring node.
    pub from: String,
    /// Far end.
    pub to: String,
    /// RTT, µs.
    pub rtt_us: u32,
    /// Jitter, µs.
    pub jitter_us: u32,
    /// Loss, ppm.
    pub loss_ppm: u32,
    /// Age of the measurement, ms.
    pub age_ms: u64,
    /// Older than the configured staleness bound.
    pub stale: bool,
    /// The data-plane address `from` sends to for `to`, when it said.
    pub via: Option<SocketAddr>,
}
