//! Per-path liveness and failover timing (pure): the detector the edge's data plane runs on
//! each of a session's paths, and the clock that times a failover.
//!
//! A path is alive while packets keep coming back on it: the game's own downstream traffic,
//! and keepalive echoes when the game is quiet. [`PathLiveness`] declares it dead after
//! `max(gaps × packet gap, floor)` of silence while the edge has been sending on it; the edge
//! then moves the game to its standby path at once ([`super::edge`]) and [`FailoverClock`]
//! records how long that took. The routing cores re-export these
//! (`lightspeed_actors::routing::failover`), which add the worst-case budget.

use std::time::Duration;

use lightspeed_protocol::Micros;

/// Silence rule of [`PathLiveness`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessConfig {
    /// Packet gaps of silence that make a path dead. Default 3: one missing packet is
    /// ordinary loss; at 1 % independent loss and 64 pps two in a row happen about every
    /// 2.5 minutes (1e-4 × 64/s) and three in a row about every 4 hours (1e-6 × 64/s).
    pub gaps: u32,
    /// Least silence that makes a path dead. Default 40 ms: at high packet rates three gaps
    /// (23 ms at 128 pps) are within ordinary jitter spikes; 40 ms is not.
    pub floor: Duration,
}

impl Default for LivenessConfig {
    fn default() -> LivenessConfig {
        LivenessConfig {
            gaps: 3,
            floor: Duration::from_millis(40),
        }
    }
}

impl LivenessConfig {
    /// Silence after which a path with packet gap `gap` is dead.
    pub fn threshold(&self, gap: Duration) -> Duration {
        gap.saturating_mul(self.gaps).max(self.floor)
    }
}

/// Time between packets at `pps` (a zero rate is treated as 1 pps, a keepalive-only flow).
pub fn packet_gap(pps: u32) -> Duration {
    Duration::from_micros(1_000_000 / u64::from(pps.max(1)))
}

/// Whether a path still carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Packets arrive, or the silence is still within the threshold.
    Alive,
    /// Nothing came back for `silent_for` while the edge kept sending.
    Dead {
        /// Time since the last packet received (or since the path started).
        silent_for: Duration,
    },
}

/// Echo and keepalive timing of one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLiveness {
    threshold: Duration,
    last_rx: Micros,
    sent_since_rx: u64,
    sent: u64,
    received: u64,
}

impl PathLiveness {
    /// Starts watching a path at `now`. `gap` is the expected time between packets coming
    /// back (the game's downstream rate, or the keepalive interval when that is shorter);
    /// `rtt` delays the first judgement until the first echo could have arrived.
    pub fn new(cfg: LivenessConfig, gap: Duration, now: Micros, rtt: Duration) -> PathLiveness {
        PathLiveness {
            threshold: cfg.threshold(gap),
            last_rx: now + rtt,
            sent_since_rx: 0,
            sent: 0,
            received: 0,
        }
    }

    /// The silence threshold in use.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// The edge sent a packet on this path at `now`; `rtt` is the path's round-trip estimate.
    /// After a quiet spell (every packet answered, then silence longer than the threshold:
    /// the game was in a menu, say), the silence clock restarts, since no answer to this
    /// packet can come before `now + rtt`; otherwise the first packet after the spell would
    /// find the path "silent" for the whole spell.
    pub fn on_sent_at(&mut self, now: Micros, rtt: Duration) {
        if self.sent_since_rx == 0 && now.saturating_since(self.last_rx) >= self.threshold {
            self.last_rx = now + rtt;
        }
        self.on_sent();
    }

    /// When [`PathLiveness::check`] would say dead if nothing arrives, while something sent is
    /// unanswered (`None` otherwise: silence is then no evidence).
    pub fn pending_deadline(&self) -> Option<Micros> {
        (self.sent_since_rx > 0).then(|| self.deadline())
    }

    /// The edge sent a packet (game data or keepalive) on this path.
    pub fn on_sent(&mut self) {
        self.sent = self.sent.saturating_add(1);
        self.sent_since_rx = self.sent_since_rx.saturating_add(1);
    }

    /// A packet came back on this path at `now` (data with an echo, or a keepalive echo).
    pub fn on_received(&mut self, now: Micros) {
        self.received = self.received.saturating_add(1);
        self.sent_since_rx = 0;
        self.last_rx = self.last_rx.max(now);
    }

    /// Judges the path at `now`. Silence while the edge sent nothing is no evidence.
    pub fn check(&self, now: Micros) -> Liveness {
        let silent_for = now.saturating_since(self.last_rx);
        if self.sent_since_rx > 0 && silent_for >= self.threshold {
            Liveness::Dead { silent_for }
        } else {
            Liveness::Alive
        }
    }

    /// When [`PathLiveness::check`] will first say dead if nothing arrives (the driver's
    /// next timer).
    pub fn deadline(&self) -> Micros {
        self.last_rx + self.threshold
    }

    /// Last packet received (or the start plus one RTT): the best estimate of the fault time.
    pub fn last_rx(&self) -> Micros {
        self.last_rx
    }

    /// Packets sent and received on this path.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.received)
    }
}

/// One completed failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverRecord {
    /// From the last packet heard on the old path to the declaration of its death.
    pub detect: Duration,
    /// From the last packet heard on the old path to the first packet back on the new one.
    pub total: Duration,
}

/// Times a failover: started when a path is declared dead, finished by the first packet
/// back on the new path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailoverClock {
    started: Option<(Micros, Micros)>,
}

impl FailoverClock {
    /// A path whose last packet came at `last_rx` was declared dead at `now`.
    pub fn start(&mut self, last_rx: Micros, now: Micros) {
        self.started = Some((last_rx, now));
    }

    /// A packet came back on the new path at `now`; returns the record of the failover in
    /// progress, if any (later packets return `None`).
    pub fn on_received(&mut self, now: Micros) -> Option<FailoverRecord> {
        let (last_rx, detected) = self.started.take()?;
        Some(FailoverRecord {
            detect: detected.saturating_since(last_rx),
            total: now.saturating_since(last_rx),
        })
    }

    /// True while a failover waits for its first packet.
    pub fn in_progress(&self) -> bool {
        self.started.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_spell_restarts_the_silence_clock() {
        let gap = packet_gap(64);
        let rtt = Duration::from_millis(100);
        let mut live = PathLiveness::new(LivenessConfig::default(), gap, Micros::ZERO, rtt);
        live.on_sent_at(Micros::ZERO, rtt);
        live.on_received(Micros::from_millis(100));
        assert_eq!(live.pending_deadline(), None, "everything answered");
        // The game was quiet for 5 s; its next packet cannot be answered before 5.1 s.
        live.on_sent_at(Micros::from_millis(5_000), rtt);
        assert_eq!(live.check(Micros::from_millis(5_001)), Liveness::Alive);
        assert_eq!(
            live.pending_deadline(),
            Some(Micros::from_millis(5_100) + Duration::from_micros(46_875))
        );
        // While packets are unanswered, more sends do not move the clock.
        live.on_sent_at(Micros::from_millis(5_200), rtt);
        assert!(matches!(
            live.check(Micros::from_millis(5_147)),
            Liveness::Dead { .. }
        ));
    }
}
