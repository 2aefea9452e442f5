//! From the gossiped topology to a session's paths (pure).
//!
//! Each probe round the route actor hands [`Planner::round`] the topology snapshot and the
//! edge's own link measurements. The planner interns node names to [`NodeId`]s that stay
//! stable from round to round (so a [`PathPolicy`]'s current path still matches), fills a
//! [`RouteGraph`] — relays are the live nodes with the relay role, the one proxy is the
//! edge's configured proxy, links are the fresh claims — and lists the [`candidates`].
//! [`Planner::plan`] then runs a session's policy over them and returns its primary path and
//! the cheapest disjoint standby ([`best_disjoint`]), each with the addresses the data plane
//! needs.
//!
//! Addresses: every link claim carries `via`, the address its origin sends to for the far
//! end. Hop *i*'s address on a path is therefore the `via` of hop *i − 1*'s claim to it (the
//! edge's own measurement for hop 0), and the proxy's address is the `via` of the last
//! relay's claim — which is what the proxy itself looks up when it installs that relay
//! (`session_paths::install_chain`). A link without a `via` cannot carry a session and is
//! left out of the graph.

use std::collections::HashMap;
use std::net::SocketAddr;

use lightspeed_mesh::Role;
use lightspeed_mesh::topology::{LinkClaim, TopologySnapshot};
use lightspeed_protocol::Micros;

use super::paths::{
    Candidate, CostModel, EnumConfig, LinkMetrics, NodeId, Path, RouteGraph, best_disjoint,
    candidates,
};
use super::policy::{Decision, PathPolicy};
use super::selector::{History, Selector};

/// Names interned at most; beyond it the interner starts over (ids change once, and every
/// session reselects its path: [`super::policy::Reason::CurrentUnavailable`]). The topology
/// holds at most 4,096 nodes, so this takes churn of a whole mesh twice over.
pub const MAX_NAMES: usize = 8_192;

/// Stable ids for node names.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    names: Vec<String>,
    ids: HashMap<String, NodeId>,
}

impl Interner {
    /// The id of `name`, interning it if new.
    pub fn id(&mut self, name: &str) -> NodeId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
            self.ids.clear();
        }
        let id = NodeId(self.names.len() as u32);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The name of `id`.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.names.get(id.0 as usize).map(String::as_str)
    }
}

/// One path with what the data plane and the control messages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPath {
    /// The path as the policy knows it.
    pub path: Path,
    /// Its metrics and cost this round.
    pub candidate: Candidate,
    /// Relays, edge side first: name and data address as the previous hop reaches it.
    pub relays: Vec<(String, SocketAddr)>,
    /// The proxy's name.
    pub proxy: String,
    /// The proxy's data address as the last hop before it (the edge, when direct) reaches it.
    pub proxy_addr: SocketAddr,
}

impl PlannedPath {
    /// Where the edge sends on this path.
    pub fn first_hop(&self) -> SocketAddr {
        self.relays.first().map_or(self.proxy_addr, |r| r.1)
    }

    /// Node names from the edge's first hop to the proxy.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.relays
            .iter()
            .map(|r| r.0.as_str())
            .chain(std::iter::once(self.proxy.as_str()))
    }
}

/// One round's graph and candidates.
#[derive(Debug, Clone)]
pub struct Round {
    /// Candidates, cheapest first. The route actor may rewrite their costs (ml forecast)
    /// before sessions decide.
    pub candidates: Vec<Candidate>,
    addrs: HashMap<(NodeId, NodeId), SocketAddr>,
    direct: Option<LinkMetrics>,
}

impl Round {
    /// The edge's own measurement of its direct link to the proxy.
    pub fn direct(&self) -> Option<LinkMetrics> {
        self.direct
    }
}

/// What a session should run on after a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The policy's decision.
    pub decision: Decision,
    /// The path the policy has the session on (after the decision), when it is a candidate.
    pub primary: Option<PlannedPath>,
    /// The cheapest candidate disjoint from the primary and not vetoed.
    pub standby: Option<PlannedPath>,
}

/// Builds rounds and plans for one edge and its proxy.
#[derive(Debug, Clone)]
pub struct Planner {
    edge: String,
    proxy: String,
    names: Interner,
    /// The cost model.
    pub cost: CostModel,
    /// Enumeration bounds.
    pub enumeration: EnumConfig,
}

impl Planner {
    /// A planner for the edge `edge` whose sessions end at `proxy`.
    pub fn new(edge: &str, proxy: &str) -> Planner {
        Planner {
            edge: edge.to_owned(),
            proxy: proxy.to_owned(),
            names: Interner::default(),
            cost: CostModel::default(),
            enumeration: EnumConfig::default(),
        }
    }

    /// The proxy's name.
    pub fn proxy(&self) -> &str {
        &self.proxy
    }

    /// The proxy's id (interned on first use).
    pub fn proxy_id(&mut self) -> NodeId {
        self.names.id(&self.proxy)
    }

    /// The name behind an id of this planner.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.names.name(id)
    }

    /// This round's candidates from the gossiped `topology` and the edge's `own` link
    /// measurements (fresher than its own gossiped claim, which they replace). Stale links,
    /// links of down nodes, links without a `via` and totally lossy links are left out.
    pub fn round(&mut self, topology: &TopologySnapshot, own: &[(LinkClaim, SocketAddr)]) -> Round {
        let edge = self.names.id(&self.edge);
        let proxy = self.names.id(&self.proxy);
        let mut graph = RouteGraph::new(edge);
        // One proxy per planner: the configured one, never more than MAX_PROXIES.
        let _ = graph.add_proxy(proxy, None);
        let down: std::collections::HashSet<&str> = topology
            .nodes
            .iter()
            .filter(|n| n.down)
            .map(|n| n.name.as_str())
            .collect();
        for n in &topology.nodes {
            if !n.down && n.roles.contains(&Role::Relay) && n.name != self.proxy {
                let id = self.names.id(&n.name);
                graph.add_relay(id);
            }
        }
        let mut addrs = HashMap::new();
        let mut add = |names: &mut Interner, from: &str, to: &str, m: LinkMetrics, via| {
            if m.loss_ppm >= 1_000_000 || down.contains(to) {
                return;
            }
            let (f, t) = (names.id(from), names.id(to));
            if graph.add_link(f, t, m).is_ok() {
                addrs.insert((f, t), via);
            }
        };
        let has_own = !own.is_empty();
        for l in &topology.links {
            let Some(via) = l.via else { continue };
            if l.stale || down.contains(l.from.as_str()) || (has_own && l.from == self.edge) {
                continue;
            }
            let m = LinkMetrics {
                rtt_us: l.rtt_us,
                jitter_us: l.jitter_us,
                loss_ppm: l.loss_ppm,
            };
            add(&mut self.names, &l.from, &l.to, m, via);
        }
        let edge_name = self.edge.clone();
        for (l, via) in own {
            let m = LinkMetrics {
                rtt_us: l.rtt_us,
                jitter_us: l.jitter_us,
                loss_ppm: l.loss_ppm,
            };
            add(&mut self.names, &edge_name, &l.to, m, *via);
        }
        let direct = graph.link(edge, proxy);
        Round {
            candidates: candidates(&graph, &self.cost, &self.enumeration),
            addrs,
            direct,
        }
    }

    /// The addresses of `candidate`'s hops (`None` when a link of it is not in the round).
    pub fn planned(&self, round: &Round, candidate: &Candidate) -> Option<PlannedPath> {
        let edge = self.names.ids.get(&self.edge).copied()?;
        let mut prev = edge;
        let mut relays = Vec::with_capacity(candidate.path.relays().len());
        for &r in candidate.path.relays() {
            let addr = *round.addrs.get(&(prev, r))?;
            relays.push((self.names.name(r)?.to_owned(), addr));
            prev = r;
        }
        let proxy = candidate.path.proxy();
        Some(PlannedPath {
            path: candidate.path,
            candidate: *candidate,
            relays,
            proxy: self.names.name(proxy)?.to_owned(),
            proxy_addr: *round.addrs.get(&(prev, proxy))?,
        })
    }

    /// Runs `policy` over the round and returns the session's primary and standby.
    pub fn plan(
        &self,
        now: Micros,
        round: &Round,
        policy: &mut PathPolicy,
        selector: &dyn Selector,
        history: &History,
    ) -> Plan {
        let decision = policy.decide(now, &round.candidates, selector, history);
        let current = policy.current().map(|(p, _)| p);
        let primary = current
            .and_then(|p| round.candidates.iter().find(|c| c.path == p))
            .and_then(|c| self.planned(round, c));
        // Vetoed paths are out of the standby choice too; the list is short (≤ 32).
        let allowed: Vec<Candidate> = round
            .candidates
            .iter()
            .filter(|c| Some(c.path) == current || !policy.is_vetoed(now, &c.path))
            .copied()
            .collect();
        let standby = allowed
            .iter()
            .position(|c| Some(c.path) == current)
            .and_then(|at| best_disjoint(&allowed, at))
            .and_then(|s| allowed.get(s))
            .and_then(|c| self.planned(round, c));
        Plan {
            decision,
            primary,
            standby,
        }
    }
}
