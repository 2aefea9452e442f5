//! Multipath duplication (pure): whether a session sends its game packets over its second,
//! disjoint path too, and the downstream loss window that feeds the adaptive decision.
//!
//! Duplicates carry the same sequence number on both paths, so the receiver's replay window
//! drops the later copy before FEC or the game see it (counted as `deduplicated`).
//!
//! Cross-path parity ([`MultipathMode::Parity`]) sends no copies: the FEC repair packets go
//! on the other path instead of behind the data they protect.

use std::time::Duration;

use lightspeed_protocol::Micros;

/// Whether a session sends over a second, disjoint path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultipathMode {
    /// One path only.
    Off,
    /// Always duplicate on the second path.
    Always,
    /// Duplicate only while the primary path is lossy or spiking ([`DuplicateGate`]).
    Adaptive,
    /// Cross-path parity: game data on the active path only, FEC repair packets on the
    /// standby (when bound), so a loss burst on one path rarely takes a group's data and
    /// its repairs together. Costs nothing beyond the FEC overhead already configured.
    Parity,
}

impl MultipathMode {
    /// The configuration word: `off`, `duplicate`, `adaptive` or `parity`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MultipathMode::Off => "off",
            MultipathMode::Always => "duplicate",
            MultipathMode::Adaptive => "adaptive",
            MultipathMode::Parity => "parity",
        }
    }

    /// Parses a configuration word (see [`MultipathMode::as_str`]).
    pub fn parse(word: &str) -> Option<MultipathMode> {
        [
            MultipathMode::Off,
            MultipathMode::Always,
            MultipathMode::Adaptive,
            MultipathMode::Parity,
        ]
        .into_iter()
        .find(|m| m.as_str() == word)
    }
}

/// Thresholds of [`DuplicateGate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipathConfig {
    /// The session's mode. Default [`MultipathMode::Adaptive`].
    pub mode: MultipathMode,
    /// Primary loss that turns duplication on. Default 1,000 ppm: the residual the FEC aims
    /// for; above it one path alone is not good enough.
    pub on_loss_ppm: u32,
    /// Primary loss below which duplication may turn off. Default 200 ppm: a fifth of the on
    /// threshold, so loss wandering around 0.1 % keeps one state.
    pub off_loss_ppm: u32,
    /// RTT above the path's baseline that counts as a spike. Default 20 ms: the loss rule's
    /// latency bound; a smaller rise is ordinary queueing.
    pub spike: Duration,
    /// Calm time (loss under `off_loss_ppm`, RTT within half a spike of baseline) before
    /// duplication turns off. Default 5 s.
    pub calm_hold: Duration,
}

impl Default for MultipathConfig {
    fn default() -> MultipathConfig {
        MultipathConfig {
            mode: MultipathMode::Adaptive,
            on_loss_ppm: 1_000,
            off_loss_ppm: 200,
            spike: Duration::from_millis(20),
            calm_hold: Duration::from_secs(5),
        }
    }
}

/// The on/off switch of duplication on the second path, with hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateGate {
    cfg: MultipathConfig,
    on: bool,
    calm_since: Option<Micros>,
}

impl DuplicateGate {
    /// A gate, off (or on in [`MultipathMode::Always`]).
    pub fn new(cfg: MultipathConfig) -> DuplicateGate {
        DuplicateGate {
            cfg,
            on: cfg.mode == MultipathMode::Always,
            calm_since: None,
        }
    }

    /// Feeds the primary path's latest loss and RTT against its baseline RTT; returns whether
    /// to duplicate now.
    pub fn update(
        &mut self,
        now: Micros,
        loss_ppm: u32,
        rtt: Duration,
        baseline: Duration,
    ) -> bool {
        match self.cfg.mode {
            MultipathMode::Off | MultipathMode::Parity => return false,
            MultipathMode::Always => return true,
            MultipathMode::Adaptive => {}
        }
        let rise = rtt.saturating_sub(baseline);
        if loss_ppm >= self.cfg.on_loss_ppm || rise >= self.cfg.spike {
            self.on = true;
            self.calm_since = None;
        } else if self.on {
            let calm = loss_ppm <= self.cfg.off_loss_ppm && rise < self.cfg.spike / 2;
            if !calm {
                self.calm_since = None;
            } else {
                let since = *self.calm_since.get_or_insert(now);
                if now.saturating_since(since) >= self.cfg.calm_hold {
                    self.on = false;
                    self.calm_since = None;
                }
            }
        }
        self.on
    }

    /// Whether duplication is on.
    pub fn is_on(&self) -> bool {
        self.on
    }
}

/// Sequence numbers per loss block of [`LossWindow`]: 128 packets are two seconds of a 64 Hz
/// game; one loss in a block (7,800 ppm) is over the 0.1 % on-threshold, so a single loss
/// turns adaptive duplication on within two seconds, and a clean block reads 0.
pub const LOSS_BLOCK: u64 = 128;

/// Loss of the packets the peer sent, from sequence-number gaps, block by block.
///
/// It reads the endpoint's cumulative figures (highest extended sequence number, packets
/// accepted), so it counts loss after deduplication: while a session duplicates, it sees what
/// both paths together lost, not the primary alone. The gate's calm hold then turns
/// duplication off, and the next block on the primary alone turns it back on if the primary
/// still loses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossWindow {
    start: Option<(u64, u64)>,
}

impl LossWindow {
    /// Feeds the cumulative `(highest, received)`; returns the loss of a completed block in
    /// parts per million.
    pub fn update(&mut self, highest: u64, received: u64) -> Option<u32> {
        let Some((h0, r0)) = self.start else {
            self.start = Some((highest, received));
            return None;
        };
        let span = highest.saturating_sub(h0);
        if span < LOSS_BLOCK {
            return None;
        }
        let got = received.saturating_sub(r0).min(span);
        self.start = Some((highest, received));
        Some(((span - got) * 1_000_000 / span) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_window_reports_each_block_of_128() {
        let mut w = LossWindow::default();
        assert_eq!(w.update(1, 1), None);
        assert_eq!(w.update(100, 100), None);
        // 128 sequence numbers later, 127 arrived: one loss = 7,812 ppm.
        assert_eq!(w.update(129, 128), Some(7_812));
        assert_eq!(w.update(257, 256), Some(0));
    }

    #[test]
    fn adaptive_gate_follows_loss_and_spikes_with_a_calm_hold() {
        let mut g = DuplicateGate::new(MultipathConfig::default());
        let base = Duration::from_millis(20);
        let t = Micros::from_millis;
        assert!(!g.update(t(0), 0, base, base));
        assert!(
            g.update(t(100), 7_812, base, base),
            "a lossy block turns it on"
        );
        assert!(g.update(t(2_000), 0, base, base));
        assert!(g.update(t(6_999), 0, base, base), "not before 5 s of calm");
        assert!(!g.update(t(7_000), 0, base, base));
        let spike = base + Duration::from_millis(25);
        assert!(
            g.update(t(7_100), 0, spike, base),
            "an RTT spike turns it on"
        );
        let always = MultipathConfig {
            mode: MultipathMode::Always,
            ..MultipathConfig::default()
        };
        assert!(DuplicateGate::new(always).update(t(0), 0, base, base));
        let off = MultipathConfig {
            mode: MultipathMode::Off,
            ..MultipathConfig::default()
        };
        assert!(!DuplicateGate::new(off).update(t(0), 1_000_000, spike, base));
    }
}
