//! A deterministic in-memory network for membership tests: a simulated clock, seeded delay
//! and loss, crashes, restarts, and the full-state sync a real node does over a QUIC stream
//! when it becomes active.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use rand_foca::rngs::Xoshiro256PlusPlus;
use rand_foca::{RngExt, SeedableRng};

use super::{Membership, MembershipConfig, MembershipEvent, MembershipTimer, NodeId};
use crate::Role;
use crate::identity::{MeshCa, MeshTrust, NodeIdentity};
use crate::topology::{
    ClaimSigner, EcdsaSigner, Keyring, LinkClaim, MeshKeyring, NodeAttrs, SimKeys, Topology,
    TopologyConfig,
};

enum Event {
    Deliver {
        to: usize,
        from: String,
        bytes: Vec<u8>,
    },
    Timer {
        node: usize,
        life: u32,
        timer: MembershipTimer,
    },
    Sync {
        to: usize,
        from: usize,
    },
}

/// One observed membership event.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) at: Micros,
    pub(super) node: usize,
    pub(super) event: MembershipEvent,
}

pub(super) struct TestNet {
    pub(super) now: Micros,
    pub(super) nodes: Vec<Option<Membership>>,
    pub(super) names: Vec<String>,
    lives: Vec<u32>,
    by_name: BTreeMap<String, usize>,
    queue: BTreeMap<(Micros, u64), Event>,
    seq: u64,
    rng: Xoshiro256PlusPlus,
    seed: u64,
    keys: SimKeys,
    pub(super) config: MembershipConfig,
    pub(super) topology: TopologyConfig,
    pub(super) delay_us: (u64, u64),
    pub(super) loss: f64,
    pub(super) seen: Vec<Seen>,
    pub(super) trace: String,
    pub(super) delivered: u64,
    pub(super) syncs: u64,
    /// Real mesh certificates and ECDSA keys instead of [`SimKeys`].
    real: Option<(MeshTrust, Vec<NodeIdentity>)>,
}

pub(super) fn addr_of(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i / 250) as u8, (i % 250) as u8 + 1], 4433))
}

impl TestNet {
    pub(super) fn new(seed: u64, n: usize, config: MembershipConfig) -> TestNet {
        let names: Vec<String> = (0..n).map(|i| format!("node-{i:03}")).collect();
        TestNet {
            now: Micros::ZERO,
            nodes: (0..n).map(|_| None).collect(),
            by_name: names.iter().cloned().zip(0..).collect(),
            names,
            lives: vec![0; n],
            queue: BTreeMap::new(),
            seq: 0,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            seed,
            keys: SimKeys::new(seed),
            config,
            topology: TopologyConfig::default(),
            delay_us: (1_000, 5_000),
            loss: 0.0,
            seen: Vec::new(),
            trace: String::new(),
            delivered: 0,
            syncs: 0,
            real: None,
        }
    }

    /// Issues every node a certificate from a fresh mesh CA; claims are then signed with ECDSA
    /// and checked against the CA exactly as in a real node.
    pub(super) fn with_mesh_ca(mut self) -> TestNet {
        let ca = MeshCa::generate("sim").unwrap();
        let ids = self
            .names
            .iter()
            .map(|n| ca.issue_node(n).unwrap())
            .collect();
        self.real = Some((ca.trust(), ids));
        self
    }

    pub(super) fn id(&self, i: usize, bump: u32) -> NodeId {
        NodeId::new(&self.names[i], addr_of(i), bump).unwrap()
    }

    /// Starts (or restarts) node `i` with `bump`; it joins through `seed` if given.
    pub(super) fn start(&mut self, i: usize, bump: u32, seed: Option<usize>) {
        self.lives[i] += 1;
        let name = self.names[i].clone();
        let cap = self.topology.max_nodes;
        let (keyring, signer): (Box<dyn Keyring>, Box<dyn ClaimSigner>) = match &self.real {
            Some((trust, ids)) => (
                Box::new(MeshKeyring::new(trust, cap).unwrap()),
                Box::new(EcdsaSigner::new(&ids[i]).unwrap()),
            ),
            None => (
                Box::new(self.keys.keyring(cap)),
                Box::new(self.keys.signer(&name)),
            ),
        };
        let topology = Topology::new(self.topology.clone(), &name, keyring);
        let m = Membership::new(
            self.id(i, bump),
            self.config.clone(),
            self.seed ^ (i as u64) << 20 ^ u64::from(self.lives[i]),
            topology,
            signer,
        )
        .unwrap();
        self.nodes[i] = Some(m);
        if let Some(s) = seed {
            let seed_id = NodeId::seed(&self.names[s], addr_of(s)).unwrap();
            let now = self.now;
            self.with(i, |m| m.join(now, &[seed_id]).unwrap());
        }
    }

    pub(super) fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
        let _ = writeln!(self.trace, "{} crash {}", self.now.0, self.names[i]);
    }

    /// Graceful leave: the node's last datagrams go out, then it stops.
    pub(super) fn leave(&mut self, i: usize) {
        let now = self.now;
        self.with(i, |m| m.leave(now).unwrap());
        self.nodes[i] = None;
    }

    pub(super) fn publish(&mut self, i: usize, links: Vec<LinkClaim>) {
        let now = self.now;
        let attrs = NodeAttrs {
            roles: vec![Role::Relay],
            region: "sim".into(),
            load_pct: (i % 100) as u8,
            control_addr: addr_of(i),
            data_addr: Some(SocketAddr::new(addr_of(i).ip(), 4434)),
        };
        self.with(i, |m| m.publish(now, attrs, links).unwrap());
    }

    /// Runs `f` on node `i` if it is up, then routes everything it produced.
    pub(super) fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Membership) -> R) -> Option<R> {
        let result = f(self.nodes[i].as_mut()?);
        self.pump(i);
        Some(result)
    }

    fn push(&mut self, at: Micros, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn pump(&mut self, i: usize) {
        let life = self.lives[i];
        let Some(m) = self.nodes[i].as_mut() else {
            return;
        };
        // Every test run checks that the incremental mirror never drifts from foca's table.
        m.check_mirror();
        let mut transmits = Vec::new();
        while let Some(t) = m.poll_transmit() {
            transmits.push(t);
        }
        let mut timers = Vec::new();
        while let Some(t) = m.poll_timer() {
            timers.push(t);
        }
        let mut events = Vec::new();
        while let Some(e) = m.poll_event() {
            events.push(e);
        }
        let mut syncs = Vec::new();
        while let Some(from) = m.poll_sync_request() {
            syncs.push(from);
        }
        for t in transmits {
            let Some(&to) = self.by_name.get(t.to.name()) else {
                continue;
            };
            if self.rng.random_bool(self.loss) {
                continue;
            }
            let delay = self.rng.random_range(self.delay_us.0..=self.delay_us.1);
            let from = self.names[i].clone();
            self.push(
                Micros(self.now.0 + delay),
                Event::Deliver {
                    to,
                    from,
                    bytes: t.bytes,
                },
            );
        }
        for t in timers {
            self.push(
                t.at,
                Event::Timer {
                    node: i,
                    life,
                    timer: t.timer,
                },
            );
        }
        for from in syncs {
            // The full-state sync a real node pulls over a QUIC stream: one round trip later.
            if let Some(&from) = self.by_name.get(from.name()) {
                self.syncs += 1;
                self.push(
                    Micros(self.now.0 + 2 * self.delay_us.1),
                    Event::Sync { to: i, from },
                );
            }
        }
        for event in events {
            let _ = writeln!(self.trace, "{} {} {:?}", self.now.0, self.names[i], event);
            self.seen.push(Seen {
                at: self.now,
                node: i,
                event,
            });
        }
    }

    /// Processes every event due up to `until`, then sets the clock to `until`.
    pub(super) fn run_until(&mut self, until: Micros) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            match event {
                Event::Deliver { to, from, bytes } => {
                    let now = self.now;
                    if self
                        .with(to, |m| m.handle_data(now, &from, &bytes))
                        .is_some()
                    {
                        self.delivered += 1;
                    }
                }
                Event::Timer { node, life, timer } => {
                    if self.lives[node] == life {
                        let now = self.now;
                        self.with(node, |m| m.handle_timer(now, timer));
                    }
                }
                Event::Sync { to, from } => {
                    let items = self.nodes[from].as_ref().map(|m| m.sync_items());
                    let now = self.now;
                    for item in items.unwrap_or_default() {
                        self.with(to, |m| m.apply_sync_item(now, &item));
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    pub(super) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs in `step`s until `done` holds or `limit` passes; returns the time taken.
    pub(super) fn run_until_cond(
        &mut self,
        step: Duration,
        limit: Duration,
        mut done: impl FnMut(&TestNet) -> bool,
    ) -> Option<Duration> {
        let start = self.now;
        while self.now.saturating_since(start) < limit {
            if done(self) {
                return Some(self.now.saturating_since(start));
            }
            self.run_for(step);
        }
        done(self).then(|| self.now.saturating_since(start))
    }

    /// True when every running node sees every other running node alive.
    pub(super) fn converged(&self) -> bool {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect();
        up.iter().all(|&i| {
            let Some(m) = &self.nodes[i] else {
                return false;
            };
            let members: Vec<&str> = m.members().map(|(id, _)| id.name()).collect();
            members.len() == up.len() - 1
                && up
                    .iter()
                    .filter(|&&j| j != i)
                    .all(|&j| members.contains(&self.names[j].as_str()))
        })
    }

    /// Events seen after `since` at nodes other than `about`, concerning `about`.
    pub(super) fn events_about(&self, about: usize, since: Micros) -> Vec<&Seen> {
        let name = &self.names[about];
        self.seen
            .iter()
            .filter(|s| s.at >= since && s.node != about)
            .filter(|s| match &s.event {
                MembershipEvent::Up { id, .. }
                | MembershipEvent::Suspect { id, .. }
                | MembershipEvent::Alive { id, .. }
                | MembershipEvent::Down { id, .. }
                | MembershipEvent::Left { id } => id.name() == name,
                _ => false,
            })
            .collect()
    }

    pub(super) fn sent_bytes(&self) -> u64 {
        self.nodes
            .iter()
            .flatten()
            .map(|m| m.counters().sent_bytes)
            .sum()
    }
}
