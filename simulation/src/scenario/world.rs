//! The running topology: real nodes on loopback, an emulated link ([`UdpLink`]) for every
//! `[[link]]`, for each player's last mile and for each proxy → game-server leg, and the echo
//! game server. Timeline actions change it.
//!
//! Addressing (static paths): a node reaches a neighbour through the front of the link between
//! them, so the edge's peer entry for the `i`-th relay on the path is the front of the link
//! from the hop before it, and the game proxy advertises the front of the link from the last
//! hop before it. QUIC control traffic goes node to node directly, not through the links.
//! With a direct standby (`backup_route = []`) the edge's peer entry for the proxy is the
//! front of the edge → proxy link: the edge's first hop on the standby.
//!
//! Every forwarder is bound before any node starts and pointed at its node once that node is
//! up, so fronts are known from the start. Mesh mode adds a second forwarder per link for the
//! other initiator direction and gives every node a reach book (`world_mesh`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lightspeed_actors::health;
use lightspeed_actors::node::{self, NodeHandle};
use lightspeed_actors::spec::{
    EdgeSpec, Limits, NodeSpec, PeerSpec, PolicyOverrides, ProxySpec, RedirectSpec, RoutingSpec,
    TlsSpec,
};
use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::table::SessionState;
use lightspeed_mesh::dataplane::{Counters, DropReason};
use lightspeed_mesh::identity::{Identity, MeshCa};
use lightspeed_mesh::policy::DestinationPolicy;

use super::RunError;
use super::links::LinkSlot;
use super::model::{LinkDef, Scenario};
use super::world_mesh::{MeshWorld, add_stats};
use crate::echo::EchoServer;
use crate::link::LinkConfig;
use crate::udp_link::UdpLinkStats;

const TOKEN: &str = "scenario-player-token-0123456789abcdef";
pub(super) struct NodeSlot {
    pub(super) spec: NodeSpec,
    /// `None` before a late node joins and while a node is down.
    pub(super) handle: Option<NodeHandle>,
}

/// Longest wait for the edge's topology before the players start, with `route = "auto"`:
/// claims are republished at most every 0.5 s and every 2 s, so 5 s is two refreshes.
const TOPOLOGY_WAIT: Duration = Duration::from_secs(5);

/// FEC figures summed over the game's edge and proxy sessions.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FecTotals {
    pub(super) data: u64,
    pub(super) parity: u64,
    pub(super) recovered: u64,
    /// Second copies sent on the standby path (multipath).
    pub(super) duplicates: u64,
    /// Later copies dropped by the replay windows.
    pub(super) deduplicated: u64,
    /// Path changes of the edge's sessions (its session book's running total).
    pub(super) switches: u64,
    /// The proxy sessions' server leg, µs (mean over those that measured one).
    pub(super) server_rtt_us: Option<u64>,
    /// Parity the edge's sessions sent.
    pub(super) edge_parity: u64,
    /// Of that, parity sent on a standby path (cross-path parity).
    pub(super) cross_parity: u64,
}

/// Everything started for a run.
pub(super) struct World {
    dir: PathBuf,
    pub(super) nodes: Vec<NodeSlot>,
    pub(super) links: Vec<LinkSlot>,
    /// Mesh mode: per `[[link]]`, in the same order, the forwarder the other end initiates
    /// through (empty otherwise).
    pub(super) reverse: Vec<LinkSlot>,
    /// One per player: player → edge redirect.
    pub(super) clients: Vec<LinkSlot>,
    /// One per player: proxy egress → echo server.
    pub(super) servers: Vec<LinkSlot>,
    echo: Option<EchoServer>,
    pub(super) edge: String,
    pub(super) proxy: String,
    /// Mesh mode's shared parts.
    pub(super) mesh: Option<MeshWorld>,
}

pub(super) fn setup(
    what: impl Into<String>,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> RunError {
    let what = what.into();
    move |reason| RunError::Setup { what, reason }
}

pub(super) fn identity(dir: &Path, ca: &MeshCa, name: &str) -> Result<TlsSpec, RunError> {
    let node_dir = dir.join(name);
    ca.issue_node(name)
        .and_then(|n| Identity::new(ca.trust(), n))
        .and_then(|i| i.save(&node_dir))
        .map_err(|e| setup(format!("identity of {name}"))(Box::new(e)))?;
    Ok(TlsSpec {
        ca_cert: node_dir.join("ca.crt"),
        cert: Some(node_dir.join("node.crt")),
        key: Some(node_dir.join("node.key")),
    })
}

pub(super) fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub(super) fn seed_for(seed: u64, salt: u64) -> u64 {
    // SplitMix64 step: distinct, well-mixed seeds per link from the scenario seed.
    let mut z = seed.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) async fn start_node(spec: NodeSpec) -> Result<NodeHandle, RunError> {
    let name = spec.name.clone();
    node::start(spec, Arc::new(Counters::default()))
        .await
        .map_err(|e| setup(format!("node {name}"))(Box::new(e)))
}

impl World {
    /// Starts every node and link of `sc` (late joiners wait for their `join` event).
    pub(super) async fn start(sc: &Scenario, dir: PathBuf) -> Result<World, RunError> {
        let _ = std::fs::remove_dir_all(&dir);
        let ca = MeshCa::generate(&sc.name).map_err(|e| setup("mesh CA")(Box::new(e)))?;
        let echo = EchoServer::bind(loopback())
            .await
            .map_err(|e| setup("echo game server")(Box::new(e)))?;
        let g = &sc.game;
        let mut servers = Vec::new();
        for p in 0..g.players {
            let s = seed_for(sc.seed, 1_000 + u64::from(p));
            let l = &g.server_link;
            let ends = (g.proxy.clone(), format!("server-{p}"));
            let base = (l.clone(), l.clone());
            let target = Some(echo.local_addr());
            servers.push(LinkSlot::start(ends, loopback(), target, base, s).await?);
        }
        let path = g.path();
        let mut world = World {
            dir: dir.clone(),
            nodes: Vec::new(),
            links: Vec::new(),
            reverse: Vec::new(),
            clients: Vec::new(),
            servers,
            echo: Some(echo),
            edge: g.edge.clone(),
            proxy: g.proxy.clone(),
            mesh: None,
        };
        for (i, l) in sc.links.iter().enumerate() {
            let (from, to) = orient(sc, l);
            let (up, down) = directed(l, &from);
            let seed = seed_for(sc.seed, i as u64);
            let ends = (from.clone(), to.clone());
            let base = (up.clone(), down.clone());
            world
                .links
                .push(LinkSlot::start(ends, loopback(), None, base, seed).await?);
            if sc.mesh {
                let seed = seed_for(sc.seed, 500 + i as u64);
                let slot = LinkSlot::start((to, from), loopback(), None, (down, up), seed).await?;
                world.reverse.push(slot);
            }
        }
        if sc.mesh {
            world.mesh = Some(MeshWorld::new(sc)?);
        }
        // The front the game's proxy is reached at from the last hop before it.
        let proxy_front = path.iter().rev().nth(1).and_then(|last| {
            world
                .links
                .iter()
                .find(|l| l.from == *last && l.to == g.proxy)
                .map(LinkSlot::front)
        });

        // Transit nodes first (they need nobody), the game's proxy last (it looks relays up).
        let mut order: Vec<_> = sc.nodes.iter().filter(|n| n.name != g.edge).collect();
        order.sort_by_key(|n| n.name == g.proxy);
        for def in order {
            let mut spec = base_spec(
                &def.name,
                def.roles.clone(),
                identity(&dir, &ca, &def.name)?,
            );
            if def.roles.contains(&Role::Proxy) {
                spec.proxy = ProxySpec {
                    tokens: vec![TOKEN.into()],
                    policy: DestinationPolicy {
                        allow_loopback_for_testing: true,
                        ..DestinationPolicy::default()
                    },
                    egress_bind: None,
                };
            }
            if def.name == g.proxy {
                spec.data_advertise = proxy_front;
            }
            spec.peers = world.peers(|_, _| None);
            world.mesh_spec(sc, &mut spec, &def.region);
            if sc.joins_late(&def.name) {
                world.nodes.push(NodeSlot { spec, handle: None });
            } else {
                world.push_node(spec).await?;
            }
        }

        let edge_def = sc.node(&g.edge);
        let roles = edge_def.map_or_else(|| vec![Role::Edge], |d| d.roles.clone());
        // A mesh member needs a certificate; a plain edge connects anonymously.
        let tls = if sc.mesh || roles.iter().any(|r| *r != Role::Edge) {
            identity(&dir, &ca, &g.edge)?
        } else {
            TlsSpec {
                ca_cert: dir.join(&g.proxy).join("ca.crt"),
                cert: None,
                key: None,
            }
        };
        let mut spec = base_spec(&g.edge, roles, tls);
        spec.edge = Some(EdgeSpec {
            token: TOKEN.into(),
            proxy: g.proxy.clone(),
            via: g.route.clone(),
            backup_via: g.backup_route.clone(),
            multipath: g.multipath,
            fec: g.fec,
            fec_deadline: Duration::from_millis(2),
            keepalive: Duration::from_millis(250),
            redirects: world
                .servers
                .iter()
                .map(|s| RedirectSpec {
                    listen: loopback(),
                    target: s.front(),
                    game: Some(g.profile.clone()),
                })
                .collect(),
            routing: RoutingSpec {
                auto: g.auto_route,
                policy: PolicyOverrides {
                    min_dwell: g.min_dwell,
                    ..PolicyOverrides::default()
                },
                ..RoutingSpec::default()
            },
        });
        let backup = g.backup_path();
        spec.peers = world.peers(|name, w| {
            // The address the hop before `name` on a path sends to. The proxy's own entry
            // is used only as the first hop of a direct standby (the primary's first hop
            // comes in the grant), so with one it is the front of the edge → proxy link.
            let front = |path: &[String]| {
                let pos = path.iter().position(|p| p == name)?;
                let prev = path.get(pos.checked_sub(1)?)?;
                w.links
                    .iter()
                    .find(|l| l.joins(prev, name))
                    .map(LinkSlot::front)
            };
            match backup.as_deref() {
                Some(b) if name == g.proxy && b.len() == 2 => front(b),
                Some(b) => front(&path).or_else(|| front(b)),
                None => front(&path),
            }
        });
        let region = edge_def.map(|d| d.region.clone()).unwrap_or_default();
        world.mesh_spec(sc, &mut spec, &region);
        let edge = world.push_node(spec).await?;
        for (p, redirect) in edge.iter().enumerate() {
            let s = seed_for(sc.seed, 2_000 + p as u64);
            let l = &g.client_link;
            let ends = (format!("player-{p}"), g.edge.clone());
            let base = (l.clone(), l.clone());
            world
                .clients
                .push(LinkSlot::start(ends, loopback(), Some(*redirect), base, s).await?);
        }
        if g.auto_route {
            world.await_topology(sc).await;
        }
        Ok(world)
    }

    /// With `route = "auto"`: waits (at most [`TOPOLOGY_WAIT`]) until the edge's topology
    /// holds every scenario link in both directions, so the game's first sessions are planned
    /// from measurements rather than set up on the fallback direct path.
    async fn await_topology(&self, sc: &Scenario) {
        let Some(edge) = self
            .nodes
            .iter()
            .find(|n| n.spec.name == self.edge)
            .and_then(|n| n.handle.as_ref())
        else {
            return;
        };
        let want = 2 * sc.links.len();
        let deadline = tokio::time::Instant::now() + TOPOLOGY_WAIT;
        while tokio::time::Instant::now() < deadline {
            let have = edge
                .view
                .read()
                .topology
                .as_ref()
                .map_or(0, |t| t.links.iter().filter(|l| !l.stale).count());
            if have >= want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peer entries for every running node; `data` may override a peer's data address.
    fn peers(&self, data: impl Fn(&str, &World) -> Option<SocketAddr>) -> Vec<PeerSpec> {
        self.nodes
            .iter()
            .filter_map(|n| {
                let h = n.handle.as_ref()?;
                Some(PeerSpec {
                    name: n.spec.name.clone(),
                    control: h.control_addr?,
                    data: data(&n.spec.name, self).or_else(|| h.dp.local_addr().ok())?,
                    server_name: n.spec.name.clone(),
                })
            })
            .collect()
    }

    /// Starts a node and keeps it; returns its redirect addresses.
    async fn push_node(&mut self, mut spec: NodeSpec) -> Result<Vec<SocketAddr>, RunError> {
        let handle = start_node(spec.clone()).await?;
        pin_addresses(&mut spec, &handle);
        let redirects = handle.redirects.clone();
        self.point_links_at(&spec.name, spec.data_listen);
        self.nodes.push(NodeSlot {
            spec,
            handle: Some(handle),
        });
        Ok(redirects)
    }

    /// Every inter-node forwarder, both directions.
    pub(super) fn all_links_mut(&mut self) -> impl Iterator<Item = &mut LinkSlot> {
        self.links.iter_mut().chain(self.reverse.iter_mut())
    }

    /// Points every forwarder leading to `name` at its data address.
    pub(super) fn point_links_at(&mut self, name: &str, data: SocketAddr) {
        for l in self.all_links_mut().filter(|l| l.to == name) {
            l.retarget(data);
        }
    }

    /// Where player `p` sends its game packets.
    pub(super) fn player_target(&self, p: usize) -> Option<SocketAddr> {
        self.clients.get(p).map(LinkSlot::front)
    }

    /// Cumulative figures of every inter-node link, in `links` order; in mesh mode each adds
    /// its other-direction forwarder, turned round (its up is the link's down).
    pub(super) fn link_stats(&self) -> Vec<UdpLinkStats> {
        self.links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let s = l.stats();
                match self.reverse.get(i).map(LinkSlot::stats) {
                    Some(r) => UdpLinkStats {
                        up: add_stats(&s.up, &r.down),
                        down: add_stats(&s.down, &r.up),
                        data_dropped: s.data_dropped + r.data_dropped,
                    },
                    None => s,
                }
            })
            .collect()
    }

    /// FEC figures of the game's sessions at the edge and the proxy (while they run).
    pub(super) fn fec_totals(&self) -> FecTotals {
        let mut t = FecTotals::default();
        let (mut leg_sum, mut legs) = (0u64, 0u64);
        for n in &self.nodes {
            if n.spec.name != self.edge && n.spec.name != self.proxy {
                continue;
            }
            let Some(h) = &n.handle else { continue };
            for s in health::snapshot(&h.dp.table) {
                t.data += s.stats.data_sent;
                t.parity += s.stats.parity_sent;
                t.recovered += s.stats.recovered;
                t.duplicates += s.stats.duplicates_sent;
                if s.role == "edge" {
                    t.edge_parity += s.stats.parity_sent;
                }
                if s.role == "proxy" && s.stats.server_rtt_us > 0 {
                    leg_sum += s.stats.server_rtt_us;
                    legs += 1;
                }
            }
            t.deduplicated += h.dp.counters.drops(DropReason::Deduplicated);
            for e in h.dp.table.entries() {
                if let SessionState::Edge { session, .. } = &*e.state.lock() {
                    t.cross_parity += session.parity_on_standby();
                }
            }
            if n.spec.name == self.edge {
                t.switches += h.book.totals().path_switches;
            }
        }
        t.server_rtt_us = (legs > 0).then(|| leg_sum / legs);
        t
    }

    /// Stops every node, link and the echo server, and removes the identity files.
    pub(super) async fn stop(mut self) {
        // The edge first, so no new sessions start while the rest goes down.
        self.nodes.reverse();
        for n in &mut self.nodes {
            if let Some(h) = n.handle.take() {
                h.shutdown().await;
            }
        }
        if let Some(e) = self.echo.take() {
            e.shutdown().await;
        }
        self.links.clear();
        self.reverse.clear();
        self.clients.clear();
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The sending end and the target end of a link: along the path for path links; otherwise
/// `a → b`, except that the edge (started last) is always the sending end.
pub(super) fn orient(sc: &Scenario, l: &LinkDef) -> (String, String) {
    let path = sc.game.path();
    let along = path.windows(2).find_map(|w| match w {
        [x, y] if l.joins(x, y) => Some((x.clone(), y.clone())),
        _ => None,
    });
    along.unwrap_or_else(|| {
        if l.b == sc.game.edge {
            (l.b.clone(), l.a.clone())
        } else {
            (l.a.clone(), l.b.clone())
        }
    })
}

/// `(from → to, to → from)` configurations of a link whose sending end is `from`.
fn directed(l: &LinkDef, from: &str) -> (LinkConfig, LinkConfig) {
    if l.a == from {
        (l.a_to_b.clone(), l.b_to_a.clone())
    } else {
        (l.b_to_a.clone(), l.a_to_b.clone())
    }
}

/// Records the ports a node actually bound, so a restart asks for the same ones.
pub(super) fn pin_addresses(spec: &mut NodeSpec, handle: &NodeHandle) {
    if let Ok(a) = handle.dp.local_addr() {
        spec.data_listen = a;
    }
    if let Some(c) = handle.control_addr {
        spec.control_listen = c;
    }
    if let Some(e) = spec.edge.as_mut() {
        for (r, bound) in e.redirects.iter_mut().zip(&handle.redirects) {
            r.listen = *bound;
        }
    }
}

fn base_spec(name: &str, roles: Vec<Role>, tls: TlsSpec) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        roles,
        data_listen: loopback(),
        data_advertise: None,
        control_listen: loopback(),
        tls,
        limits: Limits::default(),
        proxy: ProxySpec::default(),
        edge: None,
        peers: Vec::new(),
        mesh: None,
    }
}
