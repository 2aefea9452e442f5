//! The failover half of [`super::EdgeSession`] (pure): per-path state, the switch to the
//! standby when the active path falls silent, undoing a switch the old path disproves, the
//! inputs of the adaptive duplicate gate, and what the adaptive FEC reads of the standby (its
//! probe loss and extra delay) and sets on it (cross-path parity).

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::header::ProbeReplyBody;
use lightspeed_protocol::time::rtt_from_echo;

use super::probe_loss::ProbeLoss;
use super::{EdgeEvent, EdgeSession, UNDO_WINDOW, other};
use crate::dataplane::liveness::{Liveness, LivenessConfig, PathLiveness};
use crate::dataplane::multipath::MultipathMode;

/// A keepalive probe unanswered for this long, or three of the path's RTTs if longer, counts
/// as lost: a reply is never that late on a live path, and a figure that waited longer would
/// lag the path by more than the FEC's one-second round.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the adaptive FEC reads of a session's standby path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandbyFigures {
    /// The standby's path id.
    pub path: u8,
    /// Its loss from keepalive probes (round trip), blended with its prior when one was set
    /// ([`ProbeLoss::loss_ppm`]).
    pub loss_ppm: u32,
    /// How much later a packet sent on it arrives than one on the active path: half the
    /// difference of their smoothed RTTs, zero when it is the faster one.
    pub extra_delay: Duration,
}

/// One path of a session at its edge.
#[derive(Debug)]
pub(super) struct PathSlot {
    pub(super) hop: SocketAddr,
    pub(super) bound: bool,
    pub(super) next_bind: Micros,
    pub(super) bind_sent: Micros,
    pub(super) next_probe: Micros,
    pub(super) live: PathLiveness,
    /// Declared dead, and nothing heard on it since.
    pub(super) dead: bool,
    pub(super) srtt: Option<Duration>,
    pub(super) min_rtt: Option<Duration>,
    /// Keepalive probes sent on this path and whether they were answered.
    pub(super) probes: ProbeLoss,
    /// The path's planned loss (ppm, e.g. its route's composed link loss), the prior of
    /// its probe figure.
    pub(super) loss_prior: Option<u32>,
}

impl PathSlot {
    pub(super) fn new(
        hop: SocketAddr,
        cfg: LivenessConfig,
        gap: Duration,
        now: Micros,
    ) -> PathSlot {
        PathSlot {
            hop,
            bound: false,
            next_bind: now,
            bind_sent: now,
            next_probe: now,
            live: PathLiveness::new(cfg, gap, now, Duration::ZERO),
            dead: false,
            srtt: None,
            min_rtt: None,
            probes: ProbeLoss::default(),
            loss_prior: None,
        }
    }

    pub(super) fn rtt_sample(&mut self, rtt: Duration) {
        self.srtt = Some(self.srtt.map_or(rtt, |s| (s * 7 + rtt) / 8));
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
    }

    pub(super) fn rtt(&self, fallback: Duration) -> Duration {
        self.srtt.unwrap_or(fallback)
    }

    pub(super) fn usable(&self, now: Micros) -> bool {
        self.bound && !self.dead && self.live.check(now) == Liveness::Alive
    }
}

impl EdgeSession {
    /// Declares the active path dead when it is, and moves the game to a usable standby.
    pub(super) fn check_failover(&mut self, now: Micros) -> EdgeEvent {
        let a = self.active;
        let b = other(a);
        let Some(slot) = self.slot_mut(a) else {
            return EdgeEvent::None;
        };
        if !slot.bound || slot.dead {
            return EdgeEvent::None;
        }
        let Liveness::Dead { silent_for } = slot.live.check(now) else {
            return EdgeEvent::None;
        };
        slot.dead = true;
        let last_rx = slot.live.last_rx();
        if !self.slot(b).is_some_and(|s| s.usable(now)) {
            // No standby to go to: the session-wide `dead_after` rule decides.
            return EdgeEvent::None;
        }
        let (cfg, gap, keepalive) = (self.timing.liveness, self.timing.gap, self.timing.keepalive);
        if let Some(s) = self.slot_mut(b) {
            let rtt = s.rtt(keepalive);
            s.live = PathLiveness::new(cfg, gap, now, rtt);
            let hop = s.hop;
            self.endpoint.set_route(hop, b as u8);
        }
        if let Some(s) = self.slot_mut(a) {
            s.live = PathLiveness::new(cfg, keepalive, now, Duration::ZERO);
            // One probe now: a false alarm shows itself within one RTT.
            s.next_probe = now;
        }
        self.active = b;
        self.clock.start(last_rx, now);
        self.failover_to = Some(b);
        self.undo = Some((a, now));
        EdgeEvent::Switched {
            from: a as u8,
            to: b as u8,
            detect: silent_for,
        }
    }

    /// Moves the game to path `id` at once, by choice (a routing decision, not a failure):
    /// only to a bound standby that answers, so no packet waits for a Bind. The old active
    /// path stays bound as the standby, so what is in flight on it still arrives, and the
    /// proxy moves its replies with the next upstream packet. False when `id` is the active
    /// path, unknown, unbound or silent.
    pub fn switch_to(&mut self, id: u8, now: Micros) -> bool {
        let (p, old) = (usize::from(id), self.active);
        if p == old || !self.slot(p).is_some_and(|s| s.usable(now)) {
            return false;
        }
        let (cfg, gap, keepalive) = (self.timing.liveness, self.timing.gap, self.timing.keepalive);
        if let Some(s) = self.slot_mut(old) {
            s.live = PathLiveness::new(cfg, keepalive, now, Duration::ZERO);
        }
        let Some(s) = self.slot_mut(p) else {
            return false;
        };
        let rtt = s.rtt(keepalive);
        s.live = PathLiveness::new(cfg, gap, now, rtt);
        let hop = s.hop;
        self.active = p;
        self.endpoint.set_route(hop, id);
        // A chosen switch ends any failover bookkeeping: nothing is left to undo or time.
        self.undo = None;
        self.failover_to = None;
        true
    }

    /// Moves the game back to path `p` if the last failover left it less than
    /// [`UNDO_WINDOW`] ago and it just delivered a packet.
    pub(super) fn undo_if_spurious(&mut self, p: usize, now: Micros) -> Option<EdgeEvent> {
        let (left, at) = self.undo?;
        if now.saturating_since(at) > UNDO_WINDOW {
            self.undo = None;
            return None;
        }
        if left != p {
            return None;
        }
        self.undo = None;
        self.failover_to = None;
        let _ = self.clock.on_received(now);
        let (cfg, gap, keepalive) = (self.timing.liveness, self.timing.gap, self.timing.keepalive);
        if let Some(s) = self.slot_mut(other(p)) {
            s.live = PathLiveness::new(cfg, keepalive, now, Duration::ZERO);
        }
        let s = self.slot_mut(p)?;
        let rtt = s.rtt(keepalive);
        s.live = PathLiveness::new(cfg, gap, now, rtt);
        s.live.on_received(now);
        let hop = s.hop;
        self.active = p;
        self.endpoint.set_route(hop, p as u8);
        Some(EdgeEvent::SwitchUndone { to: p as u8 })
    }

    pub(super) fn probe_reply(&mut self, p: usize, now: Micros, payload: &[u8]) {
        let Some(body) = ProbeReplyBody::from_bytes(payload) else {
            return;
        };
        let rtt = rtt_from_echo(now, body.echo_timestamp, body.hold_us);
        if let Some(s) = self.slot_mut(p) {
            s.rtt_sample(rtt);
            s.probes.on_reply(body.echo_timestamp);
        }
        if p == self.active {
            self.update_gate(now);
        }
    }

    pub(super) fn data_back(&mut self, p: usize, now: Micros) -> EdgeEvent {
        let stats = self.endpoint.stats();
        if let Some(ppm) = self.loss.update(stats.highest_seq, stats.received) {
            self.loss_ppm = ppm;
            self.update_gate(now);
        }
        if self.failover_to == Some(p)
            && let Some(record) = self.clock.on_received(now)
        {
            self.failover_to = None;
            return EdgeEvent::FailedOver {
                to: p as u8,
                record,
            };
        }
        EdgeEvent::None
    }

    pub(super) fn update_gate(&mut self, now: Micros) {
        let Some(s) = self.slot(self.active) else {
            return;
        };
        let (Some(rtt), Some(base)) = (s.srtt, s.min_rtt) else {
            return;
        };
        self.gate.update(now, self.loss_ppm, rtt, base);
    }
}

impl EdgeSession {
    /// Loss of path `id` (ppm) from its keepalive probes, blended with its prior
    /// ([`EdgeSession::set_path_loss_prior`]); `None` for an unknown path, or without a prior
    /// until enough probes settled ([`super::probe_loss::MIN_PROBES`]).
    pub fn path_loss_ppm(&self, id: u8, now: Micros) -> Option<u32> {
        let s = self.slot(usize::from(id))?;
        let timeout = PROBE_TIMEOUT.max(s.rtt(PROBE_TIMEOUT) * 3);
        s.probes.loss_ppm(now, timeout, s.loss_prior)
    }

    /// Sets the planned loss of path `id` (ppm; `None` forgets it), the prior its probe
    /// figure starts from. A path set up again ([`EdgeSession::set_standby`]) starts with
    /// none. False for an unknown path.
    pub fn set_path_loss_prior(&mut self, id: u8, ppm: Option<u32>) -> bool {
        match self.slot_mut(usize::from(id)) {
            Some(s) => {
                s.loss_prior = ppm;
                true
            }
            None => false,
        }
    }

    /// Whether the paths' roles are settled: no failover that may still be undone. Within
    /// [`UNDO_WINDOW`] of a failover the game may be back on its old path with the next
    /// packet, so the active path and the standby may swap back at any moment; the adaptive
    /// FEC sits such a moment out rather than judge the standby by the other path's figures.
    pub fn paths_settled(&self, now: Micros) -> bool {
        self.undo
            .is_none_or(|(_, at)| now.saturating_since(at) > UNDO_WINDOW)
    }

    /// The standby's figures for the adaptive FEC, while parity could go there: it is bound
    /// and answering, has a loss figure, and is not already carrying copies of the game
    /// (`multipath = "duplicate"`/`"adaptive"`, whose measured loss is both paths' together).
    pub fn standby_figures(&self, now: Micros) -> Option<StandbyFigures> {
        let mode = self.timing.multipath.mode;
        if mode == MultipathMode::Always || mode == MultipathMode::Adaptive {
            return None;
        }
        let b = other(self.active);
        let s = self.slot(b).filter(|s| s.usable(now))?;
        let loss_ppm = self.path_loss_ppm(b as u8, now)?;
        let active = self.slot(self.active).and_then(|a| a.srtt);
        let extra_delay = match (s.srtt, active) {
            (Some(sb), Some(sa)) => sb.saturating_sub(sa) / 2,
            _ => Duration::ZERO,
        };
        Some(StandbyFigures {
            path: b as u8,
            loss_ppm,
            extra_delay,
        })
    }

    /// Turns cross-path parity on or off at run time (the adaptive FEC's choice): FEC repairs
    /// go on the standby while it is usable, else behind the data as before. The operator's
    /// `multipath = "parity"` keeps it on whatever this says.
    pub fn set_cross_parity(&mut self, on: bool) {
        self.cross_parity = on;
    }

    /// Whether the adaptive FEC asked for cross-path parity.
    pub fn cross_parity(&self) -> bool {
        self.cross_parity
    }

    /// Parity packets sent on the standby so far (cross-path parity, either cause).
    pub fn parity_on_standby(&self) -> u64 {
        self.parity_on_standby
    }

    /// Counts the parity the endpoint sent since it had sent `before`, when it went to the
    /// standby (`cross`).
    pub(super) fn count_parity(&mut self, cross: bool, before: u64) {
        if cross {
            let sent = self.endpoint.stats().parity_sent.saturating_sub(before);
            self.parity_on_standby = self.parity_on_standby.saturating_add(sent);
        }
    }
}
