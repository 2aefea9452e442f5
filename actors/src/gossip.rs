//! The membership driver the DiscoveryActor owns: the pure [`Membership`] core, the QUIC
//! datagram links its packets travel on, the member table and the link samples this node
//! publishes as topology claims.
//!
//! Nothing here reads a clock or schedules anything: the actor passes `now` and schedules the
//! timers [`Gossip::drain`] returns.
//!
//! Link figures come from the HealthActor's probes over the data port ([`LinkShare`]): this
//! driver tells it whom to probe (live members with a published data address and probe key,
//! at the reach book's address when the operator gave one) and publishes what it measured,
//! with the address each peer was reached at.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use lightspeed_protocol::SessionKey;

use lightspeed_mesh::Role;
use lightspeed_mesh::membership::{
    MemberState, Membership, MembershipEvent, NodeId, ScheduledTimer,
};
use lightspeed_mesh::quic::{DatagramLinks, NodeDatagram};
use lightspeed_mesh::topology::{LinkClaim, LocalProbeInfo, NodeAttrs, ProbeTarget, Publisher};
use lightspeed_protocol::Micros;

use crate::link_probe::LinkShare;
use crate::mesh_view::{GossipCounters, MemberRow, MemberStatus, MeshSnapshot};
use crate::spec::{MeshSpec, PeerSpec, SharedRoles};

/// One member as this node last heard of it.
#[derive(Debug, Clone)]
struct Member {
    id: NodeId,
    state: MemberStatus,
    incarnation: u16,
}

/// Membership core plus transport and tables.
pub struct Gossip {
    core: Membership,
    links: Arc<DatagramLinks>,
    spec: MeshSpec,
    roles: SharedRoles,
    data_addr: SocketAddr,
    publisher: Publisher,
    members: BTreeMap<String, Member>,
    links_share: Arc<LinkShare>,
    probe_key: Option<SessionKey>,
    sync_requests: Vec<NodeId>,
    /// The `via` addresses of the last publication: a change (a reach book reload, a peer
    /// that moved) republishes at once, whatever the figures did.
    published_via: BTreeMap<String, SocketAddr>,
    counters: GossipCounters,
    left: bool,
}

impl Gossip {
    /// A driver for `core`, sending over `links`; link figures come from `share`, and
    /// `probe_key` (published in this node's claim) is what peers seal probes to it with.
    pub fn new(
        core: Membership,
        links: Arc<DatagramLinks>,
        spec: MeshSpec,
        roles: SharedRoles,
        data_addr: SocketAddr,
        share: Arc<LinkShare>,
        probe_key: Option<SessionKey>,
    ) -> Gossip {
        let publisher = Publisher::new(spec.publish);
        Gossip {
            core,
            links,
            spec,
            roles,
            data_addr,
            publisher,
            members: BTreeMap::new(),
            links_share: share,
            probe_key,
            sync_requests: Vec::new(),
            published_via: BTreeMap::new(),
            counters: GossipCounters::default(),
            left: false,
        }
    }

    /// Replaces the reach book (config reload); takes effect at the next tick.
    pub fn set_reach(&mut self, reach: BTreeMap<String, SocketAddr>) {
        self.spec.reach = reach;
    }

    /// Where this node sends data for `name`: the reach book's address, else `gossiped`.
    fn reach(&self, name: &str, gossiped: SocketAddr) -> SocketAddr {
        self.spec.reach.get(name).copied().unwrap_or(gossiped)
    }

    /// The settings in force.
    pub fn spec(&self) -> &MeshSpec {
        &self.spec
    }

    /// The datagram links.
    pub fn links(&self) -> &Arc<DatagramLinks> {
        &self.links
    }

    /// True while no other member is known (the node should (re)join through its seeds).
    pub fn needs_join(&self) -> bool {
        !self.left && self.core.num_members() == 0
    }

    /// Announces to seeds whose names the QUIC handshake proved.
    pub fn join(&mut self, now: Micros, seeds: &[NodeId]) {
        if self.left || seeds.is_empty() {
            return;
        }
        if let Err(e) = self.core.join(now, seeds) {
            tracing::debug!(error = %e, "membership join");
        }
    }

    /// Feeds one datagram from an authenticated node.
    pub fn datagram(&mut self, now: Micros, dg: &NodeDatagram) {
        if self.left {
            return;
        }
        self.counters.packets_received += 1;
        self.counters.bytes_received += dg.bytes.len() as u64;
        if let Err(e) = self.core.handle_data(now, &dg.from, &dg.bytes) {
            self.counters.refused += 1;
            tracing::debug!(from = %dg.from, error = %e, "membership datagram refused");
        }
    }

    /// Fires a timer returned by [`Gossip::drain`].
    pub fn timer(&mut self, now: Micros, timer: ScheduledTimer) {
        if self.left {
            return;
        }
        if let Err(e) = self.core.handle_timer(now, timer.timer) {
            tracing::debug!(error = %e, "membership timer");
        }
    }

    /// Leaves the mesh gracefully (the leave notices still have to be drained and sent).
    pub fn leave(&mut self, now: Micros) {
        if self.left {
            return;
        }
        if let Err(e) = self.core.leave(now) {
            tracing::debug!(error = %e, "membership leave");
        }
        self.left = true;
    }

    /// Tells the prober whom to probe, and publishes this node's claim (with the measured
    /// links) when the publish policy says so, or at once when `force` (a role change).
    pub fn probe_and_publish(&mut self, now: Micros, force: bool) {
        if self.left {
            return;
        }
        let own = self.core.identity().name().to_owned();
        let live: Vec<String> = self
            .core
            .members()
            .filter(|(id, _)| id.name() != own)
            .map(|(id, _)| id.name().to_owned())
            .collect();
        let targets: Vec<ProbeTarget> = self.core.with_topology(|t| {
            live.iter()
                .filter_map(|name| {
                    let node = t.node(name)?;
                    let data = node.attrs?.data_addr?;
                    Some(ProbeTarget {
                        name: name.clone(),
                        addr: self.reach(name, data),
                        key: node.probe_key?.clone(),
                    })
                })
                .collect()
        });
        self.links_share.set_targets(targets);
        let mut via = BTreeMap::new();
        let links: Vec<LinkClaim> = self
            .links_share
            .measured()
            .into_iter()
            .filter(|(l, _)| live.contains(&l.to))
            .map(|(l, addr)| {
                via.insert(l.to.clone(), addr);
                l
            })
            .collect();
        let moved = via != self.published_via;
        let info = LocalProbeInfo {
            key: self.probe_key.clone(),
            via: via.clone(),
        };
        self.core
            .with_topology_mut(|t| t.set_local_probe_info(info));
        let attrs = self.attrs();
        if force || moved || self.publisher.should_publish(now, &attrs, &links) {
            match self.core.publish(now, attrs.clone(), links.clone()) {
                Ok(()) => {
                    self.publisher.published(now, attrs, links);
                    self.published_via = via;
                }
                Err(e) => tracing::warn!(error = %e, "publishing topology claim"),
            }
        }
        self.core.with_topology_mut(|t| t.expire(now));
    }

    fn attrs(&self) -> NodeAttrs {
        let mut roles = self.roles.read().clone();
        roles.sort();
        roles.dedup();
        NodeAttrs {
            roles,
            region: self.spec.region.clone(),
            load_pct: 0,
            control_addr: self.core.identity().addr(),
            data_addr: Some(self.data_addr),
        }
    }

    /// Sends what the core produced, updates the member table from its events, and returns
    /// the timers to schedule.
    pub fn drain(&mut self) -> Vec<ScheduledTimer> {
        while let Some(t) = self.core.poll_transmit() {
            self.counters.packets_sent += 1;
            self.counters.bytes_sent += t.bytes.len() as u64;
            if !self.links.send(t.to.name(), t.to.addr(), t.bytes) {
                self.counters.send_dropped += 1;
            }
        }
        // At most a few (on becoming active, on stuck claims); the actor pulls each.
        while let Some(from) = self.core.poll_sync_request() {
            if self.sync_requests.len() < 4 && !self.sync_requests.contains(&from) {
                self.sync_requests.push(from);
            }
        }
        while let Some(event) = self.core.poll_event() {
            self.apply(event);
        }
        std::iter::from_fn(|| self.core.poll_timer()).collect()
    }

    fn apply(&mut self, event: MembershipEvent) {
        let (id, state, incarnation) = match event {
            MembershipEvent::Up { id, incarnation }
            | MembershipEvent::Alive { id, incarnation } => (id, MemberStatus::Alive, incarnation),
            MembershipEvent::Suspect { id, incarnation } => {
                (id, MemberStatus::Suspect, incarnation)
            }
            MembershipEvent::Down { id, incarnation } => (id, MemberStatus::Down, incarnation),
            MembershipEvent::Left { id } => (id, MemberStatus::Left, 0),
            other => {
                tracing::info!(event = ?other, "membership");
                return;
            }
        };
        let name = id.name().to_owned();
        let previous = self.members.get(&name);
        let restarted = previous.is_some_and(|p| p.id.bump() != id.bump());
        let was_alive = previous.is_some_and(|p| p.state == MemberStatus::Alive);
        if state == MemberStatus::Down || state == MemberStatus::Left || restarted {
            // A new life or a dead one: never keep writing into the old connection.
            self.links.forget(&name);
        }
        if !(was_alive && state == MemberStatus::Alive && !restarted) {
            tracing::info!(
                member = %name,
                state = state.as_str(),
                addr = %id.addr(),
                bump = id.bump(),
                incarnation,
                "membership change"
            );
        }
        self.members.insert(
            name,
            Member {
                id,
                state,
                incarnation,
            },
        );
    }

    /// Members to pull a full topology sync from (see [`crate::topology_sync`]).
    pub fn take_sync_requests(&mut self) -> Vec<NodeId> {
        std::mem::take(&mut self.sync_requests)
    }

    /// Every item a member pulling a sync needs (certificates, then claim parts).
    pub fn sync_items(&self) -> Vec<Vec<u8>> {
        self.core.sync_items()
    }

    /// Applies the items of a sync; returns how many claim parts it held before and after.
    pub fn apply_sync(&mut self, now: Micros, items: &[Vec<u8>]) -> (usize, usize) {
        let count = |g: &Gossip| g.core.with_topology(|t| t.nodes().count());
        let before = count(self);
        for item in items {
            self.core.apply_sync_item(now, item);
        }
        (before, count(self))
    }

    /// A membership-discovered peer's addresses, when it is alive and has published them.
    pub fn lookup(&self, name: &str) -> Option<PeerSpec> {
        let member = self.members.get(name)?;
        if member.state != MemberStatus::Alive && member.state != MemberStatus::Suspect {
            return None;
        }
        let data = self
            .core
            .with_topology(|t| t.node(name).and_then(|n| n.attrs.and_then(|a| a.data_addr)))?;
        Some(PeerSpec {
            name: name.to_owned(),
            control: member.id.addr(),
            data: self.reach(name, data),
            server_name: name.to_owned(),
        })
    }

    /// The data address `from` says it sends to for `to` (the `via` of its link claim).
    pub fn via_of(&self, from: &str, to: &str) -> Option<SocketAddr> {
        self.core.with_topology(|t| {
            t.neighbours(from)
                .iter()
                .find(|l| l.to == to)
                .and_then(|l| l.via)
        })
    }

    /// Names of the members alive now.
    pub fn alive(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(|(_, m)| m.state == MemberStatus::Alive)
            .map(|(n, _)| n.as_str())
    }

    /// The admin view at `now`.
    pub fn snapshot(&self, now: Micros) -> MeshSnapshot {
        let topology = self.core.with_topology(|t| t.snapshot(now));
        let own = self.core.identity().clone();
        let core = self.core.counters();
        let mut members: Vec<MemberRow> = self
            .members
            .values()
            .map(|m| (&m.id, m.state, m.incarnation, false))
            .chain(std::iter::once((
                &own,
                if self.left {
                    MemberStatus::Left
                } else {
                    MemberStatus::Alive
                },
                0,
                true,
            )))
            .map(|(id, state, incarnation, local)| {
                let node = topology.nodes.iter().find(|n| n.name == id.name());
                MemberRow {
                    name: id.name().to_owned(),
                    control_addr: id.addr(),
                    data_addr: node.and_then(|n| n.data_addr),
                    roles: node.map(|n| n.roles.clone()).unwrap_or_else(|| {
                        if local {
                            self.roles.read().clone()
                        } else {
                            Vec::new()
                        }
                    }),
                    region: node.map(|n| n.region.clone()).unwrap_or_default(),
                    state,
                    incarnation,
                    bump: id.bump(),
                    local,
                }
            })
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        MeshSnapshot {
            enabled: true,
            members,
            topology: Some(topology),
            counters: GossipCounters {
                packets_sent: core.sent,
                bytes_sent: core.sent_bytes,
                ..self.counters
            },
        }
    }

    /// Live members according to the core (alive or suspect), for tests and logs.
    pub fn live_members(&self) -> usize {
        self.core
            .members()
            .filter(|(_, s)| matches!(s, MemberState::Alive | MemberState::Suspect))
            .count()
    }

    /// Roles this node holds now.
    pub fn roles(&self) -> Vec<Role> {
        self.roles.read().clone()
    }
}
