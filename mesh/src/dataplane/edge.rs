//! The edge end of a session (pure): binds each of its paths with retried Binds, queues the
//! game's first datagrams (bounded) until the BindAck, then forwards, sends keepalive probes
//! on every path, fails over to the standby path when the active one goes silent, duplicates
//! on the standby when multipath asks for it, and reports a session no path answers for.
//!
//! A session has up to two paths, ids 0 and 1 (the header's `path` byte; relays do not
//! change it). Each is bound separately by a Bind stamped with its id, so the proxy learns a
//! downstream address per path. Game data goes on the *active* path; with multipath on, a
//! second copy with the same sequence number goes on the standby, and the receiver's replay
//! window keeps whichever arrives first. When the active path is silent for
//! `max(3 packet gaps, 40 ms)` while the edge sends ([`PathLiveness`]), the next packet goes
//! to the standby, at once and without a control round trip.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::header::{Packet, PacketType};

use super::DropReason;
use super::endpoint::{Endpoint, EndpointOutput, EndpointStats};
use super::liveness::{FailoverClock, FailoverRecord, LivenessConfig, PathLiveness};
use super::multipath::{DuplicateGate, LossWindow, MultipathConfig, MultipathMode};

/// Datagrams held while the session binds. The game's first packets are its connection
/// handshake, so they are kept rather than dropped; 32 covers ~250 ms of a 128 Hz game.
pub const MAX_PENDING: usize = 32;
/// Held datagrams older than this when the session binds are dropped, not sent: a game
/// packet a quarter second old is worse than none (the game has moved on, and a burst of
/// stale input can be replayed as if current).
pub const MAX_PENDING_AGE: Duration = Duration::from_millis(250);
/// Interval between Bind attempts until a BindAck arrives.
pub const BIND_RETRY: Duration = Duration::from_millis(100);
/// A failover is undone when the path it left delivers anything within this of the switch:
/// the silence was a delay spike, not a death (TCP's spurious-timeout detection, RFC 4015,
/// does the same with late ACKs). After a real crash nothing arrives on the dead path, since
/// whatever was in flight landed before the silence threshold; one second covers the probe
/// sent on the old path at the switch and any late echoes.
pub const UNDO_WINDOW: Duration = Duration::from_secs(1);
/// Paths per session: a primary and one standby, disjoint (multipath needs no more, and the
/// header's path byte and the proxy's per-path state stay fixed-size).
pub const PATHS: usize = 2;

/// Edge session timing.
#[derive(Debug, Clone, Copy)]
pub struct EdgeTiming {
    /// Keepalive probe interval once bound (on every path).
    pub keepalive: Duration,
    /// A session with no authenticated packet on any path for this long is reported dead.
    pub dead_after: Duration,
    /// Expected time between the game's downstream packets (its profile's rate): the
    /// active path's silence threshold is `liveness.threshold(gap)`.
    pub gap: Duration,
    /// The silence rule.
    pub liveness: LivenessConfig,
    /// Multipath mode and adaptive thresholds.
    pub multipath: MultipathConfig,
}

impl EdgeTiming {
    /// Timing with the default silence rule and multipath off.
    pub fn new(keepalive: Duration, dead_after: Duration, gap: Duration) -> EdgeTiming {
        EdgeTiming {
            keepalive,
            dead_after,
            gap,
            liveness: LivenessConfig::default(),
            multipath: MultipathConfig {
                mode: MultipathMode::Off,
                ..MultipathConfig::default()
            },
        }
    }
}

/// What the driver must know after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeEvent {
    /// Nothing beyond the outputs already emitted.
    None,
    /// The active path's BindAck arrived: the session forwards now.
    Bound,
    /// A standby path's BindAck arrived.
    StandbyBound(u8),
    /// The active path went silent; game data moved to the standby (`to`) at once.
    Switched {
        /// The silent path.
        from: u8,
        /// The path now carrying the game.
        to: u8,
        /// From the last packet heard on `from` to the declaration.
        detect: Duration,
    },
    /// The path a failover left delivered again within [`UNDO_WINDOW`]: the game is back on
    /// it (the silence was a delay spike).
    SwitchUndone {
        /// The path carrying the game again.
        to: u8,
    },
    /// The first game packet came back on the path a failover moved to.
    FailedOver {
        /// That path.
        to: u8,
        /// Its timing.
        record: FailoverRecord,
    },
    /// No answer on any path for `dead_after`.
    PathDead,
    /// The proxy closed the session.
    Closed,
}

/// A session at its edge.
#[derive(Debug)]
pub struct EdgeSession {
    /// The tunnel endpoint; its peer is the active path's first hop.
    pub endpoint: Endpoint,
    nonce: [u8; 8],
    paths: [Option<PathSlot>; PATHS],
    active: usize,
    timing: EdgeTiming,
    pending: VecDeque<(Micros, Vec<u8>)>,
    dead_reported: bool,
    gate: DuplicateGate,
    loss: LossWindow,
    loss_ppm: u32,
    clock: FailoverClock,
    failover_to: Option<usize>,
    /// The path the last failover left and when, while it may still be undone.
    undo: Option<(usize, Micros)>,
    /// Cross-path parity chosen at run time by the adaptive FEC (see
    /// [`EdgeSession::set_cross_parity`]), besides the operator's `multipath = "parity"`.
    cross_parity: bool,
    /// Parity packets sent on the standby path (cross-path parity, either cause).
    parity_on_standby: u64,
}

fn other(p: usize) -> usize {
    1 - p.min(1)
}

impl EdgeSession {
    /// A session that starts binding its path 0 towards `first_hop` at `now`.
    pub fn new(
        mut endpoint: Endpoint,
        first_hop: SocketAddr,
        nonce: [u8; 8],
        timing: EdgeTiming,
        now: Micros,
    ) -> EdgeSession {
        endpoint.set_route(first_hop, 0);
        EdgeSession {
            endpoint,
            nonce,
            paths: [
                Some(PathSlot::new(first_hop, timing.liveness, timing.gap, now)),
                None,
            ],
            active: 0,
            timing,
            pending: VecDeque::new(),
            dead_reported: false,
            gate: DuplicateGate::new(timing.multipath),
            loss: LossWindow::default(),
            loss_ppm: 0,
            clock: FailoverClock::default(),
            failover_to: None,
            undo: None,
            cross_parity: false,
            parity_on_standby: 0,
        }
    }

    /// True once the active path's BindAck arrived.
    pub fn is_bound(&self) -> bool {
        self.slot(self.active).is_some_and(|s| s.bound)
    }

    /// The path carrying the game's packets.
    pub fn active_path(&self) -> u8 {
        self.active as u8
    }

    /// The first hop of path `id`, if the session has that path.
    pub fn hop(&self, id: u8) -> Option<SocketAddr> {
        self.slot(usize::from(id)).map(|s| s.hop)
    }

    /// Whether path `id` is bound.
    pub fn path_bound(&self, id: u8) -> bool {
        self.slot(usize::from(id)).is_some_and(|s| s.bound)
    }

    /// Smoothed RTT of path `id` from its keepalive probes.
    pub fn path_rtt(&self, id: u8) -> Option<Duration> {
        self.slot(usize::from(id)).and_then(|s| s.srtt)
    }

    /// The endpoint's figures with the RTT of the path carrying the game. The endpoint's own
    /// RTT averages the probe replies of both paths, so with a standby on a slower path it
    /// reads somewhere between the two: never what the player gets.
    pub fn stats(&self) -> EndpointStats {
        let mut stats = self.endpoint.stats();
        if let Some(rtt) = self.path_rtt(self.active_path()) {
            stats.srtt_us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        }
        stats
    }

    /// Whether game datagrams are duplicated on the standby now.
    pub fn duplicating(&self, now: Micros) -> bool {
        let standby = self.slot(other(self.active));
        let mode = self.timing.multipath.mode;
        let wanted =
            mode == MultipathMode::Always || (mode == MultipathMode::Adaptive && self.gate.is_on());
        wanted && standby.is_some_and(|s| s.usable(now))
    }

    fn slot(&self, p: usize) -> Option<&PathSlot> {
        self.paths.get(p).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, p: usize) -> Option<&mut PathSlot> {
        self.paths.get_mut(p).and_then(Option::as_mut)
    }

    /// Sets (or replaces) the standby path `id` through `first_hop`; it starts binding at
    /// `now`. Refused (false) for the active path or an id beyond [`PATHS`].
    pub fn set_standby(&mut self, id: u8, first_hop: SocketAddr, now: Micros) -> bool {
        let p = usize::from(id);
        if p == self.active || p >= PATHS {
            return false;
        }
        let slot = PathSlot::new(first_hop, self.timing.liveness, self.timing.keepalive, now);
        if let Some(s) = self.paths.get_mut(p) {
            *s = Some(slot);
        }
        true
    }

    /// Forgets the standby path `id` (false for the active path).
    pub fn drop_standby(&mut self, id: u8) -> bool {
        let p = usize::from(id);
        if p == self.active {
            return false;
        }
        self.paths.get_mut(p).is_some_and(|s| s.take().is_some())
    }

    /// A datagram from the game client. Returns a failover when this packet found the active
    /// path dead: the packet itself already went to the standby.
    pub fn from_game(
        &mut self,
        now: Micros,
        payload: &[u8],
        out: &mut impl EndpointOutput,
    ) -> Result<EdgeEvent, DropReason> {
        if !self.is_bound() {
            if self.pending.len() >= MAX_PENDING {
                return Err(DropReason::FlowPending);
            }
            self.pending.push_back((now, payload.to_vec()));
            return Ok(EdgeEvent::None);
        }
        let event = self.check_failover(now);
        self.send(now, payload, out);
        if event != EdgeEvent::None {
            // The probe on the dead path, after the game's packet.
            self.probe_due(now, out);
        }
        Ok(event)
    }

    /// Where FEC parity goes: the usable standby under cross-path parity (the operator's
    /// `multipath = "parity"` or the adaptive FEC's choice), else with the data. A standby
    /// that is unbound, silent or dead puts parity back behind the data at once.
    fn parity_route(&self, now: Micros) -> Option<(SocketAddr, u8)> {
        let b = other(self.active);
        (self.timing.multipath.mode == MultipathMode::Parity || self.cross_parity)
            .then(|| {
                self.slot(b)
                    .filter(|s| s.usable(now))
                    .map(|s| (s.hop, b as u8))
            })
            .flatten()
    }

    fn send(&mut self, now: Micros, payload: &[u8], out: &mut impl EndpointOutput) {
        let route = self.parity_route(now);
        self.endpoint.set_parity_route(route);
        let a = self.active;
        let b = other(a);
        let dup = self.duplicating(now);
        let dup_to = dup
            .then(|| self.slot(b).map(|s| (s.hop, b as u8)))
            .flatten();
        let parity_before = self.endpoint.stats().parity_sent;
        self.endpoint.send_data_dup(now, payload, dup_to, out);
        self.count_parity(route.is_some(), parity_before);
        let fallback = self.timing.keepalive;
        if let Some(s) = self.slot_mut(a) {
            s.live.on_sent_at(now, s.rtt(fallback));
        }
        if dup_to.is_some()
            && let Some(s) = self.slot_mut(b)
        {
            s.live.on_sent_at(now, s.rtt(fallback));
        }
    }

    /// Handles an authenticated packet from `from`.
    pub fn on_packet(
        &mut self,
        now: Micros,
        from: SocketAddr,
        packet: &Packet<'_>,
        out: &mut impl EndpointOutput,
    ) -> Result<EdgeEvent, DropReason> {
        let p = usize::from(packet.header.path);
        if self.slot(p).map(|s| s.hop) != Some(from) {
            return Err(DropReason::NotBound);
        }
        let two_paths = self.slot(other(p)).is_some_and(|s| s.bound);
        let result = self.endpoint.on_packet(now, packet, out);
        let is_data = packet.header.packet_type == PacketType::Data;
        if let Err(DropReason::Replay) = result
            && is_data
            && two_paths
        {
            // The later copy of a duplicated packet: still proof that this path works.
            self.heard(p, now);
            return Err(DropReason::Deduplicated);
        }
        let handled = result?;
        self.heard(p, now);
        if let Some(event) = self.undo_if_spurious(p, now) {
            return Ok(event);
        }
        match handled {
            Some(PacketType::BindAck) if packet.payload == self.nonce => {
                Ok(self.bind_ack(p, now, out))
            }
            Some(PacketType::BindAck) => Ok(EdgeEvent::None),
            Some(PacketType::Close) => Ok(EdgeEvent::Closed),
            Some(_) => Err(DropReason::WrongType),
            None => {
                self.dead_reported = false;
                match packet.header.packet_type {
                    PacketType::ProbeReply => self.probe_reply(p, now, packet.payload),
                    PacketType::Data => return Ok(self.data_back(p, now)),
                    _ => {}
                }
                Ok(EdgeEvent::None)
            }
        }
    }

    fn heard(&mut self, p: usize, now: Micros) {
        if let Some(s) = self.slot_mut(p) {
            s.live.on_received(now);
            s.dead = false;
        }
    }

    fn bind_ack(&mut self, p: usize, now: Micros, out: &mut impl EndpointOutput) -> EdgeEvent {
        let (cfg, keepalive, gap) = (self.timing.liveness, self.timing.keepalive, self.timing.gap);
        let active_bound = self.is_bound();
        let active = self.active;
        let Some(s) = self.slot_mut(p) else {
            return EdgeEvent::None;
        };
        if s.bound {
            return EdgeEvent::None;
        }
        s.bound = true;
        s.rtt_sample(now.saturating_since(s.bind_sent));
        s.next_probe = now + keepalive;
        let hop = s.hop;
        // The active path has not bound (its relay is down, say) but this one has: use it.
        let becomes_active = p == active || !active_bound;
        let gap = if becomes_active { gap } else { keepalive };
        s.live = PathLiveness::new(cfg, gap, now, Duration::ZERO);
        if !becomes_active {
            return EdgeEvent::StandbyBound(p as u8);
        }
        self.active = p;
        self.endpoint.set_route(hop, p as u8);
        self.dead_reported = false;
        while let Some((held_at, payload)) = self.pending.pop_front() {
            if now.saturating_since(held_at) > MAX_PENDING_AGE {
                out.dropped(DropReason::FlowPending);
            } else {
                self.send(now, &payload, out);
            }
        }
        self.pending = VecDeque::new();
        EdgeEvent::Bound
    }

    /// Sends the Binds and keepalive probes that are due, on every path.
    fn probe_due(&mut self, now: Micros, out: &mut impl EndpointOutput) {
        let nonce = self.nonce;
        let (keepalive, active) = (self.timing.keepalive, self.active);
        for p in 0..PATHS {
            let Some(s) = self.paths.get_mut(p).and_then(Option::as_mut) else {
                continue;
            };
            let due = if s.bound { s.next_probe } else { s.next_bind };
            if now < due {
                continue;
            }
            self.endpoint.set_route(s.hop, p as u8);
            if s.bound {
                self.endpoint.send_probe(now, out);
                s.probes.on_sent(now);
                let rtt = s.rtt(keepalive);
                s.live.on_sent_at(now, rtt);
                s.next_probe = now + keepalive;
            } else {
                self.endpoint
                    .send_control(now, PacketType::Bind, &nonce, out);
                s.bind_sent = now;
                s.next_bind = now + BIND_RETRY;
            }
        }
        if let Some(s) = self.slot(active) {
            let hop = s.hop;
            self.endpoint.set_route(hop, active as u8);
        }
    }

    /// Runs timers: Bind retries, keepalive probes, FEC deadlines, failover, and the
    /// session-wide dead-path rule.
    pub fn poll(&mut self, now: Micros, out: &mut impl EndpointOutput) -> EdgeEvent {
        let route = self.parity_route(now);
        self.endpoint.set_parity_route(route);
        let parity_before = self.endpoint.stats().parity_sent;
        self.endpoint.poll_timers(now, out);
        self.count_parity(route.is_some(), parity_before);
        self.probe_due(now, out);
        if !self.is_bound() {
            return EdgeEvent::None;
        }
        let event = self.check_failover(now);
        if event != EdgeEvent::None {
            self.probe_due(now, out);
            return event;
        }
        let silent = now.saturating_since(self.endpoint.last_seen());
        if silent >= self.timing.dead_after && !self.dead_reported {
            self.dead_reported = true;
            return EdgeEvent::PathDead;
        }
        EdgeEvent::None
    }

    /// When [`EdgeSession::poll`] must next run.
    pub fn next_timeout(&self) -> Micros {
        let mut next = self.endpoint.next_deadline().unwrap_or(Micros(u64::MAX));
        for (p, s) in self.paths.iter().enumerate() {
            let Some(s) = s else { continue };
            let timer = if s.bound { s.next_probe } else { s.next_bind };
            next = next.min(timer);
            if p == self.active
                && s.bound
                && !s.dead
                && let Some(d) = s.live.pending_deadline()
            {
                next = next.min(d);
            }
        }
        next
    }
}

#[path = "edge_failover.rs"]
mod failover;
use failover::PathSlot;
pub use failover::{PROBE_TIMEOUT, StandbyFigures};

#[path = "probe_loss.rs"]
pub mod probe_loss;

#[cfg(test)]
#[path = "roles_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "multipath_tests.rs"]
mod multipath_tests;
#[cfg(test)]
#[path = "parity_path_tests.rs"]
mod parity_path_tests;
