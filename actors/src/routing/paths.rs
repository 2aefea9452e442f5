//! Candidate paths and their cost (pure).
//!
//! A path runs edge → (relay) → (relay) → proxy (→ game server). The caller fills a
//! [`RouteGraph`] from the gossiped topology and the edge's own probes, naming nodes by
//! [`NodeId`]s it interns itself, so the same node keeps the same id from one evaluation to the
//! next and paths compare across evaluations. [`candidates`] then lists the direct path, every
//! one-relay path and the two-relay paths through the nearest relays, each with composed
//! metrics and a cost, cheapest first.
//!
//! Composition (links are independent):
//! - RTT adds up along the path.
//! - Jitter (a standard deviation) adds in quadrature: `sqrt(Σ jᵢ²)`.
//! - Loss compounds: `1 − Π(1 − lᵢ)`.
//!
//! The cost model is in [`CostModel`]; docs/routing.md explains its weights.

use std::collections::BTreeMap;

/// A node as the caller names it (an index into its own interner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// Measurements of one directed link (or of a path), as the topology reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkMetrics {
    /// Round-trip time (µs).
    pub rtt_us: u32,
    /// Jitter, a standard deviation of the RTT (µs).
    pub jitter_us: u32,
    /// Probe round-trip loss (parts per million).
    pub loss_ppm: u32,
}

impl LinkMetrics {
    /// A link with only an RTT in milliseconds (tests and examples).
    pub const fn rtt_ms(ms: u32) -> LinkMetrics {
        LinkMetrics {
            rtt_us: ms * 1_000,
            jitter_us: 0,
            loss_ppm: 0,
        }
    }
}

/// Largest number of relays on a path (DESIGN.md §6: direct, one relay, two relays).
pub const MAX_RELAYS: usize = 2;

/// Largest graph accepted: the topology's own bound (4,096 nodes × 64 links).
pub const MAX_LINKS: usize = 262_144;

/// Largest number of proxies a graph may offer; a session's game server is reached through
/// its region's few proxies, 16 is generous and caps enumeration at 16 × (1 + F + F²) paths.
pub const MAX_PROXIES: usize = 16;

/// A path from the edge: its relays (edge side first) then the proxy. Copy, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Path {
    hops: [NodeId; MAX_RELAYS + 1],
    len: u8,
}

impl Path {
    /// The direct path edge → proxy.
    pub const fn direct(proxy: NodeId) -> Path {
        Path {
            hops: [proxy, proxy, proxy],
            len: 1,
        }
    }

    /// edge → relay → proxy.
    pub const fn via(relay: NodeId, proxy: NodeId) -> Path {
        Path {
            hops: [relay, proxy, proxy],
            len: 2,
        }
    }

    /// edge → first → second → proxy.
    pub const fn via2(first: NodeId, second: NodeId, proxy: NodeId) -> Path {
        Path {
            hops: [first, second, proxy],
            len: 3,
        }
    }

    /// Relays then proxy.
    pub fn hops(&self) -> &[NodeId] {
        self.hops.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The relays, edge side first (empty for the direct path).
    pub fn relays(&self) -> &[NodeId] {
        let hops = self.hops();
        hops.get(..hops.len().saturating_sub(1)).unwrap_or(&[])
    }

    /// The proxy the path ends at.
    pub fn proxy(&self) -> NodeId {
        self.hops
            .get(usize::from(self.len).saturating_sub(1))
            .copied()
            .unwrap_or(self.hops[0])
    }

    /// True for edge → proxy with no relay.
    pub fn is_direct(&self) -> bool {
        self.len == 1
    }
}

/// Composed measurements of a whole path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathMetrics {
    /// Sum of the link RTTs (µs).
    pub rtt_us: u32,
    /// Quadrature sum of the link jitters (µs).
    pub jitter_us: u32,
    /// Compound loss (ppm).
    pub loss_ppm: u32,
}

/// Composes link metrics along a path (see the module doc).
pub fn compose(links: &[LinkMetrics]) -> PathMetrics {
    let mut rtt: u32 = 0;
    let mut jitter_sq = 0.0_f64;
    let mut delivered = 1.0_f64;
    for l in links {
        rtt = rtt.saturating_add(l.rtt_us);
        jitter_sq += f64::from(l.jitter_us).powi(2);
        delivered *= 1.0 - ppm_to_fraction(l.loss_ppm);
    }
    PathMetrics {
        rtt_us: rtt,
        jitter_us: jitter_sq.sqrt().round().min(f64::from(u32::MAX)) as u32,
        loss_ppm: fraction_to_ppm(1.0 - delivered),
    }
}

/// A loss in ppm as a fraction in `[0, 1]`.
pub fn ppm_to_fraction(ppm: u32) -> f64 {
    f64::from(ppm.min(1_000_000)) / 1e6
}

/// A fraction as ppm, clamped to `[0, 1_000_000]`.
pub fn fraction_to_ppm(fraction: f64) -> u32 {
    (fraction.clamp(0.0, 1.0) * 1e6).round() as u32
}

/// How metrics become one cost in µs of "latency-equivalent".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    /// µs of cost per µs of jitter. Default 2: games buffer snapshots to ride out jitter and
    /// a buffer of about two standard deviations hides ~95 % of it, so jitter costs the
    /// player about twice its value in added delay.
    pub jitter_weight: f64,
    /// µs of cost per 1 % of loss. Default 10,000 (10 ms per 1 %): a policy weight, not a
    /// physical quantity, chosen so that 1 % loss — where players start to see rubber-banding —
    /// weighs as much as the 10 ms acceleration margin; 0.1 % (the loss rule's threshold)
    /// weighs 1 ms.
    pub loss_us_per_pct: u32,
    /// µs added per relay. Default 0: the measured link RTTs already include the relay's host,
    /// and forwarding costs microseconds (docs/performance.md); ties go to fewer hops anyway.
    pub relay_hop_us: u32,
}

impl Default for CostModel {
    fn default() -> CostModel {
        CostModel {
            jitter_weight: 2.0,
            loss_us_per_pct: 10_000,
            relay_hop_us: 0,
        }
    }
}

impl CostModel {
    /// Cost of a path with `relays` relays and metrics `m` (µs, saturating).
    pub fn cost(&self, m: &PathMetrics, relays: usize) -> u32 {
        let jitter = f64::from(m.jitter_us) * self.jitter_weight.max(0.0);
        let loss = f64::from(m.loss_ppm) / 10_000.0 * f64::from(self.loss_us_per_pct);
        let hops = f64::from(self.relay_hop_us) * relays as f64;
        let total = f64::from(m.rtt_us) + jitter + loss + hops;
        total.round().min(f64::from(u32::MAX)) as u32
    }
}

/// One candidate path with its metrics and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The path.
    pub path: Path,
    /// Composed metrics, including the proxy's leg to the game server when known.
    pub metrics: PathMetrics,
    /// Cost under the [`CostModel`] (µs).
    pub cost_us: u32,
}

/// Why a graph refused an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// More than [`MAX_LINKS`] links; the link was not added.
    #[error("route graph holds the maximum of {MAX_LINKS} links")]
    TooManyLinks,
    /// More than [`MAX_PROXIES`] proxies; the proxy was not added.
    #[error("route graph holds the maximum of {MAX_PROXIES} proxies")]
    TooManyProxies,
    /// A link from a node to itself; it was not added.
    #[error("link from a node to itself")]
    SelfLink,
}

/// The routing view of the mesh from one edge: which nodes may relay, which proxies reach the
/// game server, and the measured directed links.
#[derive(Debug, Clone)]
pub struct RouteGraph {
    edge: NodeId,
    relays: Vec<NodeId>,
    proxies: Vec<(NodeId, Option<LinkMetrics>)>,
    links: BTreeMap<(NodeId, NodeId), LinkMetrics>,
}

impl RouteGraph {
    /// An empty graph seen from `edge`.
    pub fn new(edge: NodeId) -> RouteGraph {
        RouteGraph {
            edge,
            relays: Vec::new(),
            proxies: Vec::new(),
            links: BTreeMap::new(),
        }
    }

    /// Marks `node` as able to relay (ignored for the edge itself and repeats).
    pub fn add_relay(&mut self, node: NodeId) {
        if node != self.edge && !self.relays.contains(&node) {
            self.relays.push(node);
        }
    }

    /// Offers `node` as a proxy, with its leg to the game server when it has measured it.
    /// Adding a proxy again replaces its leg.
    ///
    /// # Errors
    /// [`GraphError::TooManyProxies`].
    pub fn add_proxy(
        &mut self,
        node: NodeId,
        server_leg: Option<LinkMetrics>,
    ) -> Result<(), GraphError> {
        if let Some(p) = self.proxies.iter_mut().find(|(n, _)| *n == node) {
            p.1 = server_leg;
            return Ok(());
        }
        if self.proxies.len() >= MAX_PROXIES {
            return Err(GraphError::TooManyProxies);
        }
        self.proxies.push((node, server_leg));
        Ok(())
    }

    /// Records the directed link `from → to` (replacing an earlier measurement).
    ///
    /// # Errors
    /// [`GraphError::SelfLink`], [`GraphError::TooManyLinks`].
    pub fn add_link(
        &mut self,
        from: NodeId,
        to: NodeId,
        metrics: LinkMetrics,
    ) -> Result<(), GraphError> {
        if from == to {
            return Err(GraphError::SelfLink);
        }
        if self.links.len() >= MAX_LINKS && !self.links.contains_key(&(from, to)) {
            return Err(GraphError::TooManyLinks);
        }
        self.links.insert((from, to), metrics);
        Ok(())
    }

    /// The link `from → to`, if measured.
    pub fn link(&self, from: NodeId, to: NodeId) -> Option<LinkMetrics> {
        self.links.get(&(from, to)).copied()
    }

    /// The edge this graph is seen from.
    pub fn edge(&self) -> NodeId {
        self.edge
    }
}

/// Bounds on enumeration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumConfig {
    /// Relays considered as first hop (the cheapest edge → relay links) and as last hop (the
    /// cheapest relay → proxy links) of two-relay paths. Default 16: a few nearby relays is
    /// where any gain is, and 16² pairs per proxy keeps one evaluation well under a
    /// millisecond.
    pub relay_fanout: usize,
    /// Candidates returned, cheapest first. Default 32.
    pub max_candidates: usize,
}

impl Default for EnumConfig {
    fn default() -> EnumConfig {
        EnumConfig {
            relay_fanout: 16,
            max_candidates: 32,
        }
    }
}

/// Candidate paths through `graph`, cheapest first (ties: fewer relays first), at most
/// `cfg.max_candidates`. A path appears only when all its links are measured; no node repeats.
pub fn candidates(graph: &RouteGraph, model: &CostModel, cfg: &EnumConfig) -> Vec<Candidate> {
    let edge = graph.edge;
    let link_cost = |m: LinkMetrics| model.cost(&compose(&[m]), 0);
    let mut first: Vec<(u32, NodeId, LinkMetrics)> = graph
        .relays
        .iter()
        .filter_map(|&r| graph.link(edge, r).map(|m| (link_cost(m), r, m)))
        .collect();
    first.sort_by_key(|(c, r, _)| (*c, *r));
    first.truncate(cfg.relay_fanout);

    let mut out = Vec::new();
    for &(proxy, leg) in &graph.proxies {
        if proxy == edge {
            continue;
        }
        let mut push = |path: Path, links: &[LinkMetrics]| {
            let mut all = [LinkMetrics::default(); MAX_RELAYS + 2];
            let mut n = 0;
            for l in links.iter().chain(leg.iter()) {
                if let Some(slot) = all.get_mut(n) {
                    *slot = *l;
                    n += 1;
                }
            }
            let metrics = compose(all.get(..n).unwrap_or(&[]));
            let cost_us = model.cost(&metrics, path.relays().len());
            out.push(Candidate {
                path,
                metrics,
                cost_us,
            });
        };
        if let Some(d) = graph.link(edge, proxy) {
            push(Path::direct(proxy), &[d]);
        }
        let mut last: Vec<(u32, NodeId, LinkMetrics)> = graph
            .relays
            .iter()
            .filter(|&&r| r != proxy)
            .filter_map(|&r| graph.link(r, proxy).map(|m| (link_cost(m), r, m)))
            .collect();
        last.sort_by_key(|(c, r, _)| (*c, *r));
        for &(_, r, to_r) in first.iter().filter(|(_, r, _)| *r != proxy) {
            if let Some(to_p) = graph.link(r, proxy) {
                push(Path::via(r, proxy), &[to_r, to_p]);
            }
        }
        last.truncate(cfg.relay_fanout);
        for &(_, r1, to_r1) in first.iter().filter(|(_, r, _)| *r != proxy) {
            for &(_, r2, to_p) in last.iter().filter(|(_, r, _)| *r != r1) {
                if let Some(mid) = graph.link(r1, r2) {
                    push(Path::via2(r1, r2, proxy), &[to_r1, mid, to_p]);
                }
            }
        }
    }
    out.sort_by_key(|c| (c.cost_us, c.path.relays().len()));
    out.truncate(cfg.max_candidates);
    out
}

/// True when `a` and `b` share no relay and no link, so one relay or link failing cannot take
/// both down. They may share the proxy (the session ends there whatever the path).
pub fn disjoint(a: &Path, b: &Path) -> bool {
    if a == b {
        return false;
    }
    if a.relays().iter().any(|r| b.relays().contains(r)) {
        return false;
    }
    // With no shared relay, the only link two paths can share is the direct edge → proxy.
    !(a.is_direct() && b.is_direct() && a.proxy() == b.proxy())
}

/// The cheapest candidate disjoint from `candidates[primary]`, for multipath.
pub fn best_disjoint(candidates: &[Candidate], primary: usize) -> Option<usize> {
    let p = candidates.get(primary)?.path;
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| disjoint(&p, &c.path))
        .min_by_key(|(i, c)| (c.cost_us, *i))
        .map(|(i, _)| i)
}
