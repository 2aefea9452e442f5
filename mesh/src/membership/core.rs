//! [`Membership`]: foca plus topology gossip, driven by `now`, bytes and timers.
//!
//! Run-loop invariant for the driver (DiscoveryActor, or a simulation): after every call that
//! takes `now`, drain [`Membership::poll_transmit`], [`Membership::poll_timer`] and
//! [`Membership::poll_event`] until each returns `None`; fire each timer at its `at` with
//! [`Membership::handle_timer`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use foca::{Foca, OwnedNotification, PostcardCodec, Timer};
use lightspeed_protocol::Micros;
use parking_lot::Mutex;
use rand_foca::SeedableRng;
use rand_foca::rngs::Xoshiro256PlusPlus;

use super::error::{MembershipCounters, MembershipError};
use super::events::{MemberState, MembershipEvent, Mirror, active};
use super::handler::{ClaimHandler, RELAY_WINDOW, SeenItems, Shared};
use super::inspect::inspect;
use super::runtime::{Collector, MembershipTimer, ScheduledTimer, Transmit};
use super::{MAX_PACKET_SIZE, MembershipConfig, NodeId};
use crate::topology::{ClaimSigner, LinkClaim, NodeAttrs, Topology};

type Swim = Foca<NodeId, PostcardCodec, Xoshiro256PlusPlus, ClaimHandler>;

/// SWIM membership with topology claims riding as custom broadcasts. Pure and deterministic
/// for a given seed and input sequence.
pub struct Membership {
    foca: Swim,
    out: Collector,
    shared: Arc<Mutex<Shared>>,
    signer: Box<dyn ClaimSigner>,
    mirror: Mirror,
    events: VecDeque<MembershipEvent>,
    config: MembershipConfig,
    counters: MembershipCounters,
    syncs: VecDeque<NodeId>,
    /// Who relayed the claim most recently parked for a missing certificate, and since when
    /// claims have been waiting.
    parked_from: Option<NodeId>,
    parked_since: Option<Micros>,
    last_sync_request: Option<Micros>,
    /// The datagram handed to foca when [`inspect`] left updates out.
    scratch: Vec<u8>,
}

/// Claims waiting this long for their origin's certificate trigger a full-state sync.
pub const SYNC_AFTER_PARKED: Duration = Duration::from_secs(2);

/// At most one sync request per this interval, so a stream of unverifiable claims cannot make
/// a node pull snapshots continuously.
pub const SYNC_BACKOFF: Duration = Duration::from_secs(10);

impl Membership {
    /// A node with identity `id` that has not joined anything yet. `seed` feeds foca's member
    /// selection; `topology` holds the graph (and the keyring that checks claims); `signer`
    /// signs this node's claims and must carry `id`'s name.
    pub fn new(
        id: NodeId,
        config: MembershipConfig,
        seed: u64,
        topology: Topology,
        signer: Box<dyn ClaimSigner>,
    ) -> Result<Membership, MembershipError> {
        let foca_config = config.to_foca().map_err(MembershipError::InvalidConfig)?;
        if signer.name() != id.name() {
            return Err(MembershipError::SignerMismatch {
                signer: signer.name().to_owned(),
                identity: id.name().to_owned(),
            });
        }
        let shared = Arc::new(Mutex::new(Shared {
            topology,
            now: Micros::ZERO,
            relay: Default::default(),
            relaying: None,
            duplicates: 0,
            // Not the member-selection seed itself: a digest key derived from it.
            seen: SeenItems::new(seed.rotate_left(29) ^ 0x5EE9_17E3_D16E_5700),
        }));
        let handler = ClaimHandler {
            shared: shared.clone(),
        };
        let rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Ok(Membership {
            foca: Foca::with_custom_broadcast(id, foca_config, rng, PostcardCodec, handler),
            out: Collector::default(),
            shared,
            signer,
            mirror: Mirror::default(),
            events: VecDeque::new(),
            config,
            counters: MembershipCounters::default(),
            syncs: VecDeque::new(),
            parked_from: None,
            parked_since: None,
            last_sync_request: None,
            scratch: Vec::with_capacity(MAX_PACKET_SIZE),
        })
    }

    /// This node's current identity (it changes on rejoin and on leave).
    pub fn identity(&self) -> &NodeId {
        self.foca.identity()
    }

    /// The settings in force.
    pub fn config(&self) -> &MembershipConfig {
        &self.config
    }

    /// Drop and traffic counters.
    pub fn counters(&self) -> MembershipCounters {
        MembershipCounters {
            sent: self.out.sent,
            sent_bytes: self.out.sent_bytes,
            duplicate_items: self.shared.lock().duplicates,
            ..self.counters
        }
    }

    /// Announces this node to `seeds` (identities learnt from QUIC handshakes with the seed
    /// addresses). Call again later while [`Membership::num_members`] is 0: an announce to a
    /// seed that is down is simply lost.
    pub fn join(&mut self, now: Micros, seeds: &[NodeId]) -> Result<(), MembershipError> {
        self.begin(now);
        let own = self.identity().name().to_owned();
        let mut result = Ok(());
        for seed in seeds.iter().filter(|s| s.name() != own) {
            if let Err(e) = self.foca.announce(seed.clone(), &mut self.out) {
                result = Err(swim(e));
            }
        }
        self.finish();
        result
    }

    /// Feeds a datagram received over the QUIC connection whose verified certificate names
    /// `from`. The header's sender must be `from`, so nobody can speak for another node.
    pub fn handle_data(
        &mut self,
        now: Micros,
        from: &str,
        data: &[u8],
    ) -> Result<(), MembershipError> {
        if data.len() > MAX_PACKET_SIZE {
            self.counters.too_large += 1;
            return Err(MembershipError::TooLarge(data.len()));
        }
        let inspected = inspect(
            &mut self.mirror,
            &mut self.scratch,
            self.foca.identity().key(),
            self.config.max_members,
            from,
            data,
        );
        let (sender, filtered) = match inspected {
            Ok(inspected) => inspected,
            Err(e) => {
                match e {
                    MembershipError::SpoofedSender { .. } => self.counters.spoofed += 1,
                    MembershipError::TooManyMembers => self.counters.table_full += 1,
                    MembershipError::NameClash => self.counters.name_clash += 1,
                    _ => self.counters.undecodable += 1,
                }
                return Err(e);
            }
        };
        self.counters.accepted += 1;
        self.begin(now);
        let parked_before = self.shared.lock().topology.pending_len();
        let result = if filtered {
            self.foca.handle_data(&self.scratch, &mut self.out)
        } else {
            self.foca.handle_data(data, &mut self.out)
        };
        let result = result.map_err(swim);
        if self.shared.lock().topology.pending_len() > parked_before {
            // It relayed a claim it could verify, so it holds the certificate we lack.
            self.parked_from = Some(sender);
        }
        self.finish();
        result
    }

    /// Fires a timer drained from [`Membership::poll_timer`].
    pub fn handle_timer(
        &mut self,
        now: Micros,
        timer: MembershipTimer,
    ) -> Result<(), MembershipError> {
        // foca 2.0 answers a suspicion timer with its "you are down" courtesy message
        // (TurnUndead) whenever the member is still in its table, even when the member has
        // refuted the suspicion meanwhile and is not declared down. The live member then
        // renews its identity: a forced rejoin nobody reported as a failure (about one node
        // in three per minute at 10 % loss). The timer does nothing else in that case, so it
        // is dropped here unless it will really declare the member down.
        if let Timer::ChangeSuspectToDown {
            member_id,
            incarnation,
            ..
        } = &timer.0
            && !self.mirror.is_suspect(member_id, *incarnation)
        {
            self.counters.refuted_timers += 1;
            return Ok(());
        }
        self.begin(now);
        // A failed probe's suspicion is noted by the collector (it schedules a timer naming
        // the member).
        match &timer.0 {
            Timer::ChangeSuspectToDown { member_id: id, .. } | Timer::RemoveDown(id) => {
                self.mirror.note(id)
            }
            _ => {}
        }
        let gossip = matches!(timer.0, Timer::PeriodicGossip(_));
        let mut result = match self.foca.handle_timer(timer.0, &mut self.out) {
            // A probe timer left over from before this node lost its last member.
            Err(foca::Error::NotConnected) => Ok(()),
            other => other.map_err(swim),
        };
        // Gossip messages fill up with membership updates first; during churn a dedicated
        // broadcast message keeps claims moving.
        if gossip && self.foca.custom_broadcast_backlog() > 0 && self.foca.updates_backlog() > 0 {
            result = result.and(self.foca.broadcast(&mut self.out).map_err(swim));
        }
        self.finish();
        result
    }

    /// Leaves gracefully: the mesh will report this node as left, not failed. Drain and send
    /// the outputs before shutting down; the instance accepts no further input.
    pub fn leave(&mut self, now: Micros) -> Result<(), MembershipError> {
        self.begin(now);
        let leaving = self.identity().leaving();
        let result = self
            .foca
            .change_identity(leaving, &mut self.out)
            .and_then(|()| self.foca.leave_cluster(&mut self.out))
            .map_err(swim);
        self.finish();
        result
    }

    /// Publishes this node's attributes and links as signed claim parts (plus its certificate)
    /// and starts gossiping them. Rate-limit calls with [`crate::topology::Publisher`].
    pub fn publish(
        &mut self,
        now: Micros,
        attrs: NodeAttrs,
        links: Vec<LinkClaim>,
    ) -> Result<(), MembershipError> {
        self.begin(now);
        let epoch = self.identity().bump();
        let items = {
            let mut shared = self.shared.lock();
            shared
                .topology
                .publish_local(now, &*self.signer, epoch, attrs, links)?
        };
        let mut result = Ok(());
        for item in &items {
            if let Err(e) = self.foca.add_broadcast(item) {
                result = Err(swim(e));
            }
        }
        result = result.and(self.foca.broadcast(&mut self.out).map_err(swim));
        self.finish();
        result
    }

    /// Every item a newly joined member needs (see [`Topology::sync_items`]).
    pub fn sync_items(&self) -> Vec<Vec<u8>> {
        self.shared.lock().topology.sync_items()
    }

    /// Applies an item from a full-state sync received over a QUIC stream (copies of items
    /// already settled are skipped unparsed). Such items are not
    /// relayed (the mesh already has them), except parts that were waiting for a certificate.
    pub fn apply_sync_item(&mut self, now: Micros, item: &[u8]) {
        self.begin(now);
        let _ = self.shared.lock().apply_received(item);
        self.finish();
    }

    /// Live (alive or suspect) members, in name order.
    pub fn members(&self) -> impl Iterator<Item = (&NodeId, MemberState)> {
        let mut live: Vec<(&NodeId, MemberState)> = self
            .foca
            .iter_membership_state()
            .filter(|m| active(m.state()))
            .map(|m| (m.id(), m.state().into()))
            .collect();
        live.sort_unstable_by(|a, b| a.0.key().cmp(b.0.key()));
        live.into_iter()
    }

    /// How many live members foca holds.
    pub fn num_members(&self) -> usize {
        self.foca.num_members()
    }

    /// Reads the topology graph.
    pub fn with_topology<R>(&self, f: impl FnOnce(&Topology) -> R) -> R {
        f(&self.shared.lock().topology)
    }

    /// Changes the topology graph (ageing with [`Topology::expire`], tests).
    pub fn with_topology_mut<R>(&mut self, f: impl FnOnce(&mut Topology) -> R) -> R {
        f(&mut self.shared.lock().topology)
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next timer to schedule.
    pub fn poll_timer(&mut self) -> Option<ScheduledTimer> {
        self.out.timers.pop_front()
    }

    /// The next member to pull a full-state sync from over a QUIC stream (apply the items
    /// with [`Membership::apply_sync_item`]). Requested when this node becomes active, and
    /// when claims have waited [`SYNC_AFTER_PARKED`] for a certificate (at most once per
    /// [`SYNC_BACKOFF`]).
    pub fn poll_sync_request(&mut self) -> Option<NodeId> {
        self.syncs.pop_front()
    }

    /// The next membership event.
    pub fn poll_event(&mut self) -> Option<MembershipEvent> {
        self.events.pop_front()
    }

    fn begin(&mut self, now: Micros) {
        self.out.now = now;
        self.shared.lock().now = now;
    }

    /// After any foca call: relay parts freed from parking, turn notifications into events,
    /// report member changes, count output.
    fn finish(&mut self) {
        let still_parked = {
            let mut shared = self.shared.lock();
            for item in shared.topology.take_unparked() {
                shared.relay.push(None, item);
            }
            shared.topology.pending_len()
        };
        while self.foca.custom_broadcast_backlog() < RELAY_WINDOW {
            let Some((id, item)) = self.shared.lock().relay.pop() else {
                break;
            };
            self.shared.lock().relaying = id;
            let _ = self.foca.add_broadcast(&item);
            // In case foca refused the item before asking the handler.
            self.shared.lock().relaying = None;
        }
        self.request_sync_if_stuck(still_parked);
        for note in std::mem::take(&mut self.out.notifications) {
            match note {
                OwnedNotification::MemberUp(id) | OwnedNotification::MemberDown(id) => {
                    self.mirror.note(&id)
                }
                OwnedNotification::Rename(old, new) => {
                    self.mirror.note(&old);
                    self.mirror.note(&new);
                }
                OwnedNotification::Active => {
                    self.events.push_back(MembershipEvent::Active);
                    if let Some(member) = self.foca.iter_members().next() {
                        self.syncs.push_back(member.id().clone());
                    }
                }
                OwnedNotification::Idle => self.events.push_back(MembershipEvent::Idle),
                OwnedNotification::Defunct => self.events.push_back(MembershipEvent::Defunct),
                OwnedNotification::Rejoin(id) => {
                    self.events.push_back(MembershipEvent::Rejoined { id })
                }
            }
        }
        for id in self.out.suspected.drain(..) {
            self.mirror.note(&id);
        }
        {
            let first_new = self.events.len();
            self.mirror
                .sync(self.foca.iter_membership_state(), &mut self.events);
            let mut shared = self.shared.lock();
            for event in self.events.range(first_new..) {
                match event {
                    MembershipEvent::Up { id, .. } => shared.topology.mark_up(id.name()),
                    MembershipEvent::Down { id, .. } | MembershipEvent::Left { id } => {
                        shared.topology.mark_down(id.name())
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Membership {
    /// Panics if the mirror differs from foca's member table (tests).
    #[cfg(test)]
    pub(super) fn check_mirror(&self) {
        self.mirror.check(self.foca.iter_membership_state());
    }

    fn request_sync_if_stuck(&mut self, parked: usize) {
        let now = self.out.now;
        if parked == 0 {
            self.parked_since = None;
            return;
        }
        let since = *self.parked_since.get_or_insert(now);
        let backed_off = self
            .last_sync_request
            .is_none_or(|t| now.saturating_since(t) >= SYNC_BACKOFF);
        if now.saturating_since(since) >= SYNC_AFTER_PARKED && backed_off {
            let from = self
                .parked_from
                .take()
                .or_else(|| self.foca.iter_members().next().map(|m| m.id().clone()));
            if let Some(from) = from {
                self.syncs.push_back(from);
                self.last_sync_request = Some(now);
            }
        }
    }
}

fn swim(e: foca::Error) -> MembershipError {
    MembershipError::Swim(e.to_string())
}
