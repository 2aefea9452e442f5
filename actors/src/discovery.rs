//! Peer discovery: the static peers of the configuration, plus — with a `[mesh]` section —
//! gossip membership ([`Gossip`], a SWIM core over QUIC datagrams) joined through seeds.
//!
//! [`LookupPeer`] answers from static peers first, then from live members that have published
//! their addresses, so a proxy can install relays that only membership knows.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;
use lightspeed_mesh::membership::{
    NodeId, ScheduledTimer, SeedConfig, SeedEntry, SeedList, SeedResolver,
};
use lightspeed_mesh::quic::{ClientConfig, Endpoint, NodeDatagram, learn_seed_name};
use lightspeed_protocol::Micros;
use lightspeed_protocol::control::SyncItem;

use crate::gossip::Gossip;
use crate::mesh_view::MeshView;
use crate::spec::PeerSpec;

/// Time for one seed handshake.
const SEED_HANDSHAKE: Duration = Duration::from_secs(2);

/// How long [`Leave`] lets the leave notices travel before answering.
const LEAVE_LINGER: Duration = Duration::from_millis(300);

/// What the actor needs to reach seeds.
pub struct SeedDialer {
    /// Endpoint the seed handshakes are dialled from.
    pub endpoint: Endpoint,
    /// Client configuration that accepts any mesh node name ([`lightspeed_mesh::quic::seed_client_config`]).
    pub config: ClientConfig,
    /// The seeds and their resolution schedule.
    pub seeds: SeedList,
}

/// Knows the node's peers.
pub struct DiscoveryActor {
    peers: HashMap<String, PeerSpec>,
    gossip: Option<(Gossip, SeedDialer)>,
    resolver: Option<SeedResolver>,
    view: MeshView,
    origin: Instant,
    joining: bool,
}

impl std::fmt::Debug for DiscoveryActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryActor")
            .field("peers", &self.peers.len())
            .field("gossip", &self.gossip.is_some())
            .finish_non_exhaustive()
    }
}

impl DiscoveryActor {
    /// Starts from the configured peers, without gossip.
    pub fn new(peers: &[PeerSpec]) -> DiscoveryActor {
        DiscoveryActor {
            peers: peers.iter().map(|p| (p.name.clone(), p.clone())).collect(),
            gossip: None,
            resolver: None,
            view: MeshView::default(),
            origin: Instant::now(),
            joining: false,
        }
    }

    /// Starts from the configured peers and runs `gossip`, joining through `seeds`,
    /// publishing the member table into `view`. `origin` is the clock origin the core was
    /// created with.
    pub fn with_gossip(
        peers: &[PeerSpec],
        gossip: Gossip,
        seeds: SeedDialer,
        view: MeshView,
        origin: Instant,
    ) -> DiscoveryActor {
        DiscoveryActor {
            gossip: Some((gossip, seeds)),
            view,
            origin,
            ..DiscoveryActor::new(peers)
        }
    }

    fn now(&self) -> Micros {
        Micros(u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// Sends the core's output and schedules its timers.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let Some((gossip, dialer)) = &mut self.gossip else {
            return;
        };
        for timer in gossip.drain() {
            let delay = timer.at.saturating_since(now);
            ctx.run_later(delay, move |act, ctx| act.fire(timer, ctx));
        }
        let endpoint = dialer.endpoint.clone();
        for from in gossip.take_sync_requests() {
            self.start_sync(from, endpoint.clone(), ctx);
        }
    }

    /// Pulls a full topology sync from `from` and applies it.
    fn start_sync(&mut self, from: NodeId, endpoint: Endpoint, ctx: &mut Context<Self>) {
        let started = Instant::now();
        let (addr, name) = (from.addr(), from.name().to_owned());
        let pull = async move { crate::topology_sync::pull(endpoint, addr, &name).await };
        ctx.spawn(pull.into_actor(self).map(move |result, act, ctx| {
            let now = act.now();
            match (result, &mut act.gossip) {
                (Ok(items), Some((gossip, _))) => {
                    let (before, after) = gossip.apply_sync(now, &items);
                    tracing::info!(
                        from = %from.name(),
                        items = items.len(),
                        nodes_before = before,
                        nodes_after = after,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "topology synced"
                    );
                }
                (Err(e), _) => {
                    tracing::warn!(from = %from.name(), error = %e, "topology sync failed")
                }
                _ => {}
            }
            act.pump(ctx);
            act.refresh_view();
        }));
    }

    fn fire(&mut self, timer: ScheduledTimer, ctx: &mut Context<Self>) {
        let now = self.now();
        if let Some((gossip, _)) = &mut self.gossip {
            gossip.timer(now, timer);
        }
        self.pump(ctx);
    }

    fn refresh_view(&self) {
        if let Some((gossip, _)) = &self.gossip {
            *self.view.write() = gossip.snapshot(self.now());
        }
    }

    /// Resolves due seed names, learns seed node names by handshake, and announces.
    fn try_join(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let Some((gossip, dialer)) = &mut self.gossip else {
            return;
        };
        if !gossip.needs_join() || self.joining {
            return;
        }
        let due = dialer.seeds.due(now);
        let addrs = dialer.seeds.addrs();
        let endpoint = dialer.endpoint.clone();
        let config = dialer.config.clone();
        if !due.is_empty() && self.resolver.is_none() {
            match SeedResolver::system() {
                Ok(r) => self.resolver = Some(r),
                Err(e) => tracing::warn!(error = %e, "no DNS resolver for seeds"),
            }
        }
        if let Some(resolver) = self.resolver.clone() {
            for (index, query) in due {
                let resolver = resolver.clone();
                ctx.spawn(
                    async move { resolver.resolve(&query).await }
                        .into_actor(self)
                        .map(move |result, act, _ctx| {
                            let now = act.now();
                            if let Err(e) = &result {
                                tracing::warn!(error = %e, "seed lookup failed");
                            }
                            if let Some((_, dialer)) = &mut act.gossip {
                                dialer.seeds.resolved(now, index, result.map_err(|_| ()));
                            }
                        }),
                );
            }
        }
        if addrs.is_empty() {
            return;
        }
        self.joining = true;
        ctx.spawn(
            async move {
                let mut seeds = Vec::new();
                for addr in addrs {
                    match learn_seed_name(&endpoint, config.clone(), addr, SEED_HANDSHAKE).await {
                        Ok(name) => match NodeId::seed(&name, addr) {
                            Ok(id) => seeds.push(id),
                            Err(e) => tracing::warn!(%addr, error = %e, "seed name unusable"),
                        },
                        Err(e) => tracing::debug!(%addr, error = %e, "seed unreachable"),
                    }
                }
                seeds
            }
            .into_actor(self)
            .map(|seeds, act, ctx| {
                act.joining = false;
                let now = act.now();
                if let Some((gossip, _)) = &mut act.gossip
                    && gossip.needs_join()
                {
                    tracing::debug!(seeds = ?seeds, "joining through seeds");
                    gossip.join(now, &seeds);
                }
                act.pump(ctx);
            }),
        );
    }

    fn tick(&mut self, force: bool, ctx: &mut Context<Self>) {
        let now = self.now();
        if let Some((gossip, _)) = &mut self.gossip {
            gossip.probe_and_publish(now, force);
        }
        self.pump(ctx);
        self.refresh_view();
    }
}

impl Actor for DiscoveryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some((gossip, _)) = &self.gossip else {
            return;
        };
        let (retry, probe) = (gossip.spec().join_retry, gossip.spec().probe_interval);
        self.tick(true, ctx);
        self.try_join(ctx);
        ctx.run_interval(retry, |act, ctx| act.try_join(ctx));
        ctx.run_interval(probe, |act, ctx| act.tick(false, ctx));
    }
}

/// A membership datagram from an authenticated node.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Inbound(pub NodeDatagram);

impl Handler<Inbound> for DiscoveryActor {
    type Result = ();
    fn handle(&mut self, msg: Inbound, ctx: &mut Context<Self>) {
        let now = self.now();
        let Some((gossip, _)) = &mut self.gossip else {
            return;
        };
        gossip.datagram(now, &msg.0);
        self.pump(ctx);
    }
}

/// The node's roles changed: republish its attributes now.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RolesChanged;

impl Handler<RolesChanged> for DiscoveryActor {
    type Result = ();
    fn handle(&mut self, _msg: RolesChanged, ctx: &mut Context<Self>) {
        self.tick(true, ctx);
    }
}

/// New static peers, seeds and reach book (a config reload). Sessions are untouched; the
/// next lookups, join attempts and probes use the new values, and the claim is republished
/// at once (its `via` addresses may have changed).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Reload {
    /// `[[peers]]`.
    pub peers: Vec<PeerSpec>,
    /// `[mesh] seeds` (ignored without gossip).
    pub seeds: Vec<SeedEntry>,
    /// `[[mesh.reach]]`.
    pub reach: BTreeMap<String, SocketAddr>,
}

impl Handler<Reload> for DiscoveryActor {
    type Result = ();
    fn handle(&mut self, msg: Reload, ctx: &mut Context<Self>) {
        self.peers = msg.peers.into_iter().map(|p| (p.name.clone(), p)).collect();
        if let Some((gossip, dialer)) = &mut self.gossip {
            gossip.set_reach(msg.reach);
            dialer.seeds = SeedList::new(SeedConfig::default(), msg.seeds);
        }
        self.tick(true, ctx);
    }
}

/// Leave the mesh gracefully; answers once the notices had time to leave.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Leave;

impl Handler<Leave> for DiscoveryActor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _msg: Leave, ctx: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let Some((gossip, _)) = &mut self.gossip else {
            return Box::pin(actix::fut::ready(()));
        };
        gossip.leave(now);
        self.pump(ctx);
        self.refresh_view();
        Box::pin(actix::clock::sleep(LEAVE_LINGER).into_actor(self))
    }
}

impl Handler<crate::session::Stop> for DiscoveryActor {
    type Result = ();
    fn handle(&mut self, _msg: crate::session::Stop, ctx: &mut Context<Self>) {
        // Its timers would otherwise keep it gossiping after the node stopped.
        ctx.stop();
    }
}

/// One page of this node's topology items for a syncing member (`None` without gossip).
#[derive(Debug, Message)]
#[rtype(result = "Option<(Vec<SyncItem>, Option<u32>)>")]
pub struct SyncPage {
    /// Index of the first item.
    pub from: u32,
}

impl Handler<SyncPage> for DiscoveryActor {
    type Result = Option<(Vec<SyncItem>, Option<u32>)>;
    fn handle(&mut self, msg: SyncPage, _ctx: &mut Context<Self>) -> Self::Result {
        let (gossip, _) = self.gossip.as_ref()?;
        Some(crate::topology_sync::page(&gossip.sync_items(), msg.from))
    }
}

/// Looks a peer up by node name.
#[derive(Debug, Message)]
#[rtype(result = "Option<PeerSpec>")]
pub struct LookupPeer(pub String);

impl Handler<LookupPeer> for DiscoveryActor {
    type Result = Option<PeerSpec>;
    fn handle(&mut self, msg: LookupPeer, _ctx: &mut Context<Self>) -> Option<PeerSpec> {
        self.peers.get(&msg.0).cloned().or_else(|| {
            self.gossip
                .as_ref()
                .and_then(|(gossip, _)| gossip.lookup(&msg.0))
        })
    }
}

/// The data address node `from` reaches node `to` at, from `from`'s gossiped link claim
/// (`None` without gossip or without such a claim). A proxy uses it for the last relay's
/// upstream, since the address the relay measured is the one that works from there.
#[derive(Debug, Message)]
#[rtype(result = "Option<SocketAddr>")]
pub struct ViaOf {
    /// The measuring node.
    pub from: String,
    /// The far end.
    pub to: String,
}

impl Handler<ViaOf> for DiscoveryActor {
    type Result = Option<SocketAddr>;
    fn handle(&mut self, msg: ViaOf, _ctx: &mut Context<Self>) -> Option<SocketAddr> {
        let (gossip, _) = self.gossip.as_ref()?;
        gossip.via_of(&msg.from, &msg.to)
    }
}

/// Lists every known peer: static ones, then live members with published addresses.
#[derive(Debug, Message)]
#[rtype(result = "Vec<PeerSpec>")]
pub struct ListPeers;

impl Handler<ListPeers> for DiscoveryActor {
    type Result = Vec<PeerSpec>;
    fn handle(&mut self, _msg: ListPeers, _ctx: &mut Context<Self>) -> Vec<PeerSpec> {
        let mut v: Vec<_> = self.peers.values().cloned().collect();
        if let Some((gossip, _)) = &self.gossip {
            for name in gossip.alive() {
                if !self.peers.contains_key(name) {
                    v.extend(gossip.lookup(name));
                }
            }
        }
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

/// Where a node's control plane can be reached from other nodes: the listen address, or —
/// when it listens on a wildcard — the data-plane advertise address's IP with the control port.
pub fn control_advertise(listen: SocketAddr, data_advertise: SocketAddr) -> SocketAddr {
    if listen.ip().is_unspecified() {
        SocketAddr::new(data_advertise.ip(), listen.port())
    } else {
        listen
    }
}
