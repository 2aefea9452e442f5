//! [`ScaleNet`]: N membership cores on the emulated network, pumped by the event queue.
//!
//! Run loop (the cores' invariant): after every call into a core, drain its transmits, timers,
//! events and sync requests; route each transmit through the link model, queue each timer at
//! its `at`, and observe each event. Everything iterates by node number, so the run is a
//! function of the seed alone.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use lightspeed_mesh::Role;
use lightspeed_mesh::membership::{Membership, MembershipConfig, MembershipEvent, NodeId};
use lightspeed_mesh::topology::{LinkClaim, NodeAttrs, SimKeys, TopologyConfig};
use lightspeed_protocol::Micros;

use super::ScaleError;
use super::net::{Event, Fate, LinkModel, Queue, mix};

/// How long an idle node waits before announcing to its seeds again (a real node retries
/// while it has no members, see [`Membership::join`]).
const REJOIN_AFTER_US: u64 = 2_000_000;

/// Which event a [`Watch`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Up,
    Down,
}

/// When each other node first reported `target` as `want`.
pub(super) struct Watch {
    pub(super) target: usize,
    pub(super) want: Want,
    pub(super) since: Micros,
    /// Indexed by observer; `None` for nodes not watching (the target, nodes down at start).
    pub(super) seen: Vec<Option<Micros>>,
    watching: Vec<bool>,
    pub(super) observers: usize,
    pub(super) count: usize,
}

/// Suspicions and downs reported about nodes that were running at the time.
#[derive(Debug, Default, Clone)]
pub(super) struct Flaps {
    pub(super) suspicions: u64,
    pub(super) refutations: u64,
    pub(super) false_downs: u64,
    pub(super) falsely_down: BTreeSet<usize>,
    pub(super) rejoins: u64,
}

/// Traffic counters, per node, since the start.
#[derive(Debug, Clone, Default)]
pub(super) struct Traffic {
    pub(super) bytes: Vec<u64>,
    pub(super) datagrams: Vec<u64>,
}

/// The simulated mesh.
pub(super) struct ScaleNet {
    pub(super) now: Micros,
    nodes: Vec<Option<Membership>>,
    names: Vec<String>,
    lives: Vec<u32>,
    seeds: Vec<Vec<usize>>,
    last_join: Vec<Micros>,
    queue: Queue,
    pub(super) links: LinkModel,
    seed: u64,
    keys: SimKeys,
    pub(super) config: MembershipConfig,
    topology: TopologyConfig,
    links_per_node: usize,
    published: Vec<bool>,
    pub(super) traffic: Traffic,
    pub(super) lost: u64,
    pub(super) delivered: u64,
    pub(super) refused: u64,
    pub(super) processed: u64,
    pub(super) sync_requests: u64,
    pub(super) sync_bytes: u64,
    pub(super) watch: Option<Watch>,
    pub(super) flaps: Option<Flaps>,
    full: Vec<bool>,
    full_target: usize,
    pub(super) full_count: usize,
    /// When [`ScaleNet::full_count`] first reached the tracked node count.
    pub(super) full_at: Option<Micros>,
    claims_done: Vec<bool>,
    pub(super) claims_count: usize,
}

pub(super) fn addr_of(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 4433))
}

fn index(name: &str) -> Option<usize> {
    name.strip_prefix("node-")?.parse().ok()
}

impl ScaleNet {
    /// `slots` nodes, none started.
    pub(super) fn new(
        slots: usize,
        seed: u64,
        config: MembershipConfig,
        topology: TopologyConfig,
        links: LinkModel,
        links_per_node: usize,
    ) -> ScaleNet {
        ScaleNet {
            now: Micros::ZERO,
            nodes: (0..slots).map(|_| None).collect(),
            names: (0..slots).map(|i| format!("node-{i:04}")).collect(),
            lives: vec![0; slots],
            seeds: vec![Vec::new(); slots],
            last_join: vec![Micros::ZERO; slots],
            queue: Queue::default(),
            links,
            seed,
            keys: SimKeys::new(seed),
            config,
            topology,
            links_per_node,
            published: vec![false; slots],
            traffic: Traffic {
                bytes: vec![0; slots],
                datagrams: vec![0; slots],
            },
            lost: 0,
            delivered: 0,
            refused: 0,
            processed: 0,
            sync_requests: 0,
            sync_bytes: 0,
            watch: None,
            flaps: None,
            full: vec![false; slots],
            full_target: 0,
            full_count: 0,
            full_at: None,
            claims_done: vec![false; slots],
            claims_count: 0,
        }
    }

    pub(super) fn is_running(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(Option::is_some)
    }

    pub(super) fn running(&self) -> usize {
        self.nodes.iter().flatten().count()
    }

    /// Starts node `i` (its next life) and announces it to `seeds`.
    pub(super) fn start(&mut self, i: usize, seeds: &[usize]) -> Result<(), ScaleError> {
        let Some(life) = self.lives.get_mut(i) else {
            return Err(ScaleError::Params("node index out of range"));
        };
        *life += 1;
        let bump = *life;
        let name = &self.names[i];
        let id = NodeId::new(name, addr_of(i), bump).map_err(|_| ScaleError::Params("name"))?;
        let topology = lightspeed_mesh::topology::Topology::new(
            self.topology.clone(),
            name,
            Box::new(self.keys.keyring(self.topology.max_nodes)),
        );
        let m = Membership::new(
            id,
            self.config.clone(),
            mix(self.seed ^ mix((i as u64) << 20 | u64::from(bump))),
            topology,
            Box::new(self.keys.signer(name)),
        )?;
        self.nodes[i] = Some(m);
        self.seeds[i] = seeds.to_vec();
        self.published[i] = false;
        self.join(i);
        Ok(())
    }

    fn join(&mut self, i: usize) {
        self.last_join[i] = self.now;
        let ids: Vec<NodeId> = self.seeds[i]
            .iter()
            .filter_map(|&s| NodeId::seed(&self.names[s], addr_of(s)).ok())
            .collect();
        let now = self.now;
        if !ids.is_empty() {
            self.with(i, |m| m.join(now, &ids).is_ok());
        }
    }

    /// Announces again every running node that still has no member.
    pub(super) fn rejoin_idle(&mut self) {
        for i in 0..self.nodes.len() {
            let idle = self.nodes[i].as_ref().is_some_and(|m| m.num_members() == 0);
            if idle && self.now.0.saturating_sub(self.last_join[i].0) >= REJOIN_AFTER_US {
                self.join(i);
            }
        }
    }

    /// Stops node `i` without a word to anyone.
    pub(super) fn crash(&mut self, i: usize) {
        if let Some(slot) = self.nodes.get_mut(i) {
            *slot = None;
        }
    }

    /// Runs `f` on node `i` if it is running, then routes what it produced.
    fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Membership) -> R) -> Option<R> {
        let result = f(self.nodes.get_mut(i)?.as_mut()?);
        self.pump(i);
        Some(result)
    }

    fn pump(&mut self, i: usize) {
        let now = self.now;
        let life = self.lives[i];
        let Some(m) = self.nodes[i].as_mut() else {
            return;
        };
        while let Some(t) = m.poll_transmit() {
            let Some(to) = index(t.to.name()).filter(|&to| to < self.lives.len()) else {
                continue;
            };
            self.traffic.bytes[i] += t.bytes.len() as u64;
            self.traffic.datagrams[i] += 1;
            match self.links.send(i, to) {
                Fate::Lost => self.lost += 1,
                Fate::Delivered(delay) => self.queue.push(
                    Micros(now.0 + delay),
                    Event::Deliver {
                        to: to as u32,
                        from: i as u32,
                        bytes: t.bytes,
                    },
                ),
            }
        }
        while let Some(t) = m.poll_timer() {
            let event = Event::Timer {
                node: i as u32,
                life,
                timer: Box::new(t.timer),
            };
            self.queue.push(t.at, event);
        }
        while let Some(from) = m.poll_sync_request() {
            if let Some(from) = index(from.name()).filter(|&f| f < self.lives.len()) {
                self.sync_requests += 1;
                let rtt = 2 * self.links.base_delay_us(i, from);
                let event = Event::Sync {
                    to: i as u32,
                    life,
                    from: from as u32,
                };
                self.queue.push(Micros(now.0 + rtt), event);
            }
        }
        let mut events = Vec::new();
        while let Some(e) = m.poll_event() {
            events.push(e);
        }
        let full = self.full_target > 0 && m.num_members() + 1 >= self.full_target;
        if full != self.full[i] {
            self.full[i] = full;
            if full {
                self.full_count += 1;
                if self.full_count == self.full_target && self.full_at.is_none() {
                    self.full_at = Some(now);
                }
            } else {
                self.full_count -= 1;
            }
        }
        for e in events {
            self.observe(i, e);
        }
    }

    /// Counts in [`ScaleNet::full_count`] the nodes that see at least `nodes - 1` live
    /// members, as of their latest input.
    pub(super) fn track_full(&mut self, nodes: usize) {
        self.full.iter_mut().for_each(|f| *f = false);
        self.full_target = nodes;
        self.full_count = 0;
        self.full_at = None;
    }

    fn observe(&mut self, observer: usize, event: MembershipEvent) {
        let (id, kind) = match &event {
            MembershipEvent::Up { id, .. } => (id, Some(Want::Up)),
            MembershipEvent::Down { id, .. } => (id, Some(Want::Down)),
            MembershipEvent::Suspect { id, .. } | MembershipEvent::Alive { id, .. } => (id, None),
            MembershipEvent::Active => {
                self.publish_once(observer);
                return;
            }
            MembershipEvent::Rejoined { .. } => {
                if let Some(f) = &mut self.flaps {
                    f.rejoins += 1;
                    f.falsely_down.insert(observer);
                }
                return;
            }
            _ => return,
        };
        let Some(target) = index(id.name()) else {
            return;
        };
        if let Some(w) = &mut self.watch
            && w.target == target
            && kind == Some(w.want)
            && w.watching.get(observer) == Some(&true)
            && w.seen[observer].is_none()
        {
            w.seen[observer] = Some(self.now);
            w.count += 1;
        }
        let live = self.is_running(target);
        if let Some(f) = &mut self.flaps
            && live
        {
            match event {
                MembershipEvent::Suspect { .. } => f.suspicions += 1,
                MembershipEvent::Alive { .. } => f.refutations += 1,
                MembershipEvent::Down { .. } => {
                    f.false_downs += 1;
                    f.falsely_down.insert(target);
                }
                _ => {}
            }
        }
    }

    /// Starts watching for every running node but `target` to report it as `want`.
    pub(super) fn watch(&mut self, target: usize, want: Want) {
        let watching: Vec<bool> = (0..self.nodes.len())
            .map(|i| i != target && self.is_running(i))
            .collect();
        self.watch = Some(Watch {
            target,
            want,
            since: self.now,
            seen: vec![None; self.nodes.len()],
            observers: watching.iter().filter(|&&w| w).count(),
            watching,
            count: 0,
        });
    }

    /// Stops watching and returns what was seen (an empty watch if none was set).
    pub(super) fn finish_watch(&mut self) -> Watch {
        self.watch.take().unwrap_or(Watch {
            target: usize::MAX,
            want: Want::Up,
            since: self.now,
            seen: Vec::new(),
            watching: Vec::new(),
            observers: 0,
            count: 0,
        })
    }

    /// Publishes node `i`'s claim the first time it has members (a claim needs someone to
    /// gossip to): its attributes and links to its next `links_per_node` peers.
    fn publish_once(&mut self, i: usize) {
        if self.links_per_node == 0 || self.published[i] {
            return;
        }
        self.published[i] = true;
        let slots = self.nodes.len();
        let links = (1..=self.links_per_node.min(slots.saturating_sub(1)))
            .map(|d| {
                let j = (i + d) % slots;
                LinkClaim {
                    to: self.names[j].clone(),
                    rtt_us: (2 * self.links.base_delay_us(i, j)) as u32,
                    jitter_us: 500,
                    loss_ppm: 0,
                    age_ms: 0,
                }
            })
            .collect();
        let attrs = NodeAttrs {
            roles: vec![Role::Relay],
            region: format!("r{}", i % 8),
            load_pct: (mix(i as u64) % 100) as u8,
            control_addr: addr_of(i),
            data_addr: Some(SocketAddr::new(addr_of(i).ip(), 4434)),
        };
        let now = self.now;
        if self.with(i, |m| m.publish(now, attrs, links).is_err()) == Some(true) {
            self.refused += 1;
        }
    }

    /// Marks nodes among the first `n` that hold the claims of at least `n` nodes; returns how
    /// many do. A node that got there stays counted (claims outlive every window here).
    pub(super) fn check_claims(&mut self, n: usize) -> usize {
        for i in 0..n.min(self.nodes.len()) {
            if self.claims_done[i] {
                continue;
            }
            let Some(m) = &self.nodes[i] else { continue };
            // Counting attributes builds a view per node; a graph with fewer nodes cannot
            // be complete, and that is most checks.
            let held = m.with_topology(|t| {
                if t.len() < n {
                    t.len()
                } else {
                    t.nodes().filter(|v| v.attrs.is_some()).count()
                }
            });
            if held >= n {
                self.claims_done[i] = true;
                self.claims_count += 1;
            }
        }
        self.claims_count
    }

    /// Processes every event due up to `until`, then sets the clock to `until`.
    pub(super) fn run_until(&mut self, until: Micros) {
        while let Some((at, event)) = self.queue.pop_due(until) {
            self.now = at;
            self.processed += 1;
            match event {
                Event::Deliver { to, from, bytes } => {
                    let (to, from) = (to as usize, from as usize);
                    let from_name = &self.names[from];
                    let Some(m) = self.nodes[to].as_mut() else {
                        continue;
                    };
                    self.delivered += 1;
                    if m.handle_data(at, from_name, &bytes).is_err() {
                        self.refused += 1;
                    }
                    self.pump(to);
                }
                Event::Timer { node, life, timer } => {
                    let node = node as usize;
                    if self.lives[node] == life
                        && self.with(node, |m| m.handle_timer(at, *timer).is_err()) == Some(true)
                    {
                        self.refused += 1;
                    }
                }
                Event::Sync { to, life, from } => {
                    let (to, from) = (to as usize, from as usize);
                    if self.lives[to] != life {
                        continue;
                    }
                    let items = self.nodes[from].as_ref().map(Membership::sync_items);
                    let items = items.unwrap_or_default();
                    self.sync_bytes += items.iter().map(|i| i.len() as u64).sum::<u64>();
                    self.with(to, |m| {
                        for item in &items {
                            m.apply_sync_item(at, item);
                        }
                    });
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// True when every running node holds every other running node as a live member.
    pub(super) fn converged(&self) -> bool {
        let running = self.running();
        self.nodes
            .iter()
            .flatten()
            .all(|m| m.num_members() + 1 == running)
    }
}
