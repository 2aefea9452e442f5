//! Mesh mode (`[scenario] mesh = true`): every node joins a gossip mesh (SWIM over QUIC,
//! certificates from the run's mesh CA) with fast test timings, and probes its links over the
//! data port through the emulated forwarders.
//!
//! Addressing: for every `[[link]]` X–Y there is a forwarder X → Y (the one static paths use,
//! initiated from the side [`super::world::orient`] picks) and one Y → X with the same
//! per-direction shapes, so whichever end initiates — probes start from both — crosses the
//! emulated link. Node X's reach book maps each linked peer Y to the front of the X → Y
//! forwarder, and every other node to a blackhole (a bound socket nobody reads): nodes
//! without a link never exchange data-plane packets, so the measured topology is exactly the
//! scenario's link graph. QUIC control and gossip traffic goes node to node directly on
//! loopback, not through the forwarders: membership is not delayed or lost by link shapes or
//! partitions, only by nodes stopping.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_actors::spec::{MeshSpec, NodeSpec};
use lightspeed_mesh::membership::{MembershipConfig, SeedEntry};

use super::RunError;
use super::members::View;
use super::model::Scenario;
use super::report::SeenLink;
use super::world::{World, setup};
use crate::link::{DropCounts, LinkStats};

/// How often each node probes each linked peer (and refreshes its mesh view).
pub(super) const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// SWIM timings: the LAN preset sped up as in the node's membership tests (300 ms probes,
/// 1 s suspicion, 100 ms gossip), so a crash is seen everywhere in ~2 s.
fn membership(nodes: usize) -> MembershipConfig {
    let mut m = MembershipConfig::lan(u32::try_from(nodes).unwrap_or(u32::MAX));
    m.probe_period = Duration::from_millis(300);
    m.probe_rtt = Duration::from_millis(150);
    m.suspect_to_down_after = Duration::from_secs(1);
    m.gossip_period = Duration::from_millis(100);
    m
}

/// What mesh mode shares across the run.
pub(super) struct MeshWorld {
    /// Where unlinked peers are "reached": bound, never read.
    blackhole: std::net::UdpSocket,
    membership: MembershipConfig,
}

impl MeshWorld {
    pub(super) fn new(sc: &Scenario) -> Result<MeshWorld, RunError> {
        let blackhole = std::net::UdpSocket::bind(super::world::loopback())
            .map_err(|e| setup("blackhole socket")(Box::new(e)))?;
        Ok(MeshWorld {
            blackhole,
            membership: membership(sc.nodes.len()),
        })
    }

    fn blackhole(&self) -> Option<SocketAddr> {
        self.blackhole.local_addr().ok()
    }
}

/// `a + b`, counter by counter (two forwarders of one link).
pub(super) fn add_stats(a: &LinkStats, b: &LinkStats) -> LinkStats {
    let d = |x: &DropCounts, y: &DropCounts| DropCounts {
        loss: x.loss + y.loss,
        outage: x.outage + y.outage,
        queue_full: x.queue_full + y.queue_full,
        in_flight_full: x.in_flight_full + y.in_flight_full,
    };
    LinkStats {
        sent: a.sent + b.sent,
        sent_bytes: a.sent_bytes + b.sent_bytes,
        delivered: a.delivered + b.delivered,
        delivered_bytes: a.delivered_bytes + b.delivered_bytes,
        duplicated: a.duplicated + b.duplicated,
        reordered: a.reordered + b.reordered,
        dropped: d(&a.dropped, &b.dropped),
        in_flight: a.in_flight + b.in_flight,
    }
}

impl World {
    /// In mesh mode, gives `spec` its mesh settings: the reach book and, as seeds, every node
    /// running now.
    pub(super) fn mesh_spec(&self, sc: &Scenario, spec: &mut NodeSpec, region: &str) {
        let Some(mesh) = &self.mesh else { return };
        let me = spec.name.clone();
        let mut reach = BTreeMap::new();
        for peer in sc.nodes.iter().filter(|n| n.name != me) {
            let front = self
                .links
                .iter()
                .chain(&self.reverse)
                .find(|l| l.from == me && l.to == peer.name)
                .map(super::links::LinkSlot::front);
            if let Some(addr) = front.or_else(|| mesh.blackhole()) {
                reach.insert(peer.name.clone(), addr);
            }
        }
        let mut m = MeshSpec::new(self.seeds(&me), mesh.membership.clone());
        m.region = region.to_string();
        m.probe_interval = PROBE_INTERVAL;
        m.reach = reach;
        m.publish.refresh = Duration::from_secs(2);
        m.publish.min_interval = Duration::from_millis(500);
        m.join_retry = Duration::from_millis(500);
        spec.mesh = Some(m);
    }

    /// Control addresses of the running nodes other than `me`.
    pub(super) fn seeds(&self, me: &str) -> Vec<SeedEntry> {
        self.nodes
            .iter()
            .filter(|n| n.spec.name != me)
            .filter_map(|n| n.handle.as_ref()?.control_addr)
            .map(SeedEntry::Addr)
            .collect()
    }

    /// Every running node's member table (empty without mesh mode).
    pub(super) fn views(&self) -> Vec<View> {
        if self.mesh.is_none() {
            return Vec::new();
        }
        self.nodes
            .iter()
            .filter_map(|n| {
                let h = n.handle.as_ref()?;
                Some(View::of(&n.spec.name, &h.view.read()))
            })
            .collect()
    }

    /// Every running node's topology graph: the links it holds claims for.
    pub(super) fn topology(&self) -> Vec<SeenLink> {
        if self.mesh.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for n in &self.nodes {
            let Some(h) = &n.handle else { continue };
            let view = h.view.read();
            let Some(t) = &view.topology else { continue };
            out.extend(t.links.iter().map(|l| SeenLink {
                observer: n.spec.name.clone(),
                from: l.from.clone(),
                to: l.to.clone(),
                rtt_ms: f64::from(l.rtt_us) / 1e3,
                loss: f64::from(l.loss_ppm) / 1e6,
                stale: l.stale,
            }));
        }
        out
    }
}
