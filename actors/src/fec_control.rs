//! Adaptive FEC of one edge session (pure): turns the cumulative figures both ends report
//! once a second into a [`LossEstimate`], feeds [`AdaptiveFec`] and keeps track of the switch
//! being negotiated with the proxy.
//!
//! The estimate:
//! - **loss** is measured before FEC, from sequence numbers, in both directions (the edge's
//!   own for downstream, the proxy's report for upstream); the worse direction counts, since
//!   one scheme serves both. It is the loss over the last [`WINDOW_SAMPLES`] samples (about
//!   10 s), or over the last [`RECENT_SAMPLES`] (about 2 s) when that is more than twice as
//!   high (a step up): protection goes up within two seconds of loss appearing, while turning
//!   it off needs ten clean seconds (plus the core's own 5 s hold), and the short window's
//!   noise around a steady loss does not move the scheme. A direction counts only with at least
//!   [`MIN_EXPECTED`] packets in the span, so an idle game decides nothing.
//! - **packet rate**: game datagrams per second over the short window, the slower direction
//!   that carries any (its packet gap bounds the block length); the game profile's rate
//!   until traffic flows.
//! - **burstiness**: the mean length of a loss burst, lost packets per run of consecutive
//!   missing sequence numbers (`LinkReport::loss_runs`, counted by each receiving endpoint),
//!   over the long window, the burstier direction with at least [`MIN_BURST_RUNS`] runs;
//!   1.0 (independent loss) until then. Sequence numbers cover data and parity alike, so a
//!   burst that takes a packet and its repair counts 2, which is what the codes face.
//! - **second path**: the standby's loss and extra delay as the edge measures them
//!   ([`FecControl::set_second_path`]: keepalive probes, with the planned route's loss as a
//!   prior), while the standby is bound and could carry parity; none otherwise, and then no
//!   cross-path scheme is considered. While parity runs on the second path, the sequence
//!   numbers mix both paths' losses (the repairs' share `o / (1 + o)` crosses the second
//!   path), so the primary's loss is taken back out: `p = (1 + o) · measured − o · p₂`.
//!
//! One switch at a time: while one is negotiated nothing new is decided. A switch whose
//! request got no answer is retried unchanged, because the proxy may have armed its decoder
//! for that switch point ([`lightspeed_mesh::dataplane::fec_switch`]); one the proxy refused
//! is dropped and the controller returns to the scheme in use.

use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::control::LinkReport;
use lightspeed_protocol::fec::FecScheme;

use crate::fec_policy::{self, DEFAULT_PPS};
use crate::routing::adaptive_fec::{
    self, AdaptiveFec, FecChoice, FecConfig, LossEstimate, Placement,
};

/// Samples (one per report, about a second apart) the long loss window spans.
pub const WINDOW_SAMPLES: usize = 10;
/// Samples the short window spans: quick to see loss appear.
pub const RECENT_SAMPLES: usize = 2;
/// Fewest packets a direction must have sent within a window for its loss to count: below
/// that one lost packet is more than 1 %, noise rather than a measurement.
pub const MIN_EXPECTED: u64 = 100;
/// Fewest loss runs a direction must have had within the long window for its mean burst to
/// count: one or two runs of three say little about the mean.
pub const MIN_BURST_RUNS: u64 = 5;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Dir {
    expected: u64,
    received: u64,
    runs: u64,
    data: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sample {
    at: Micros,
    up: Dir,
    down: Dir,
}

/// A switch announced to the proxy and not yet answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The scheme asked for.
    pub scheme: FecScheme,
    /// The edge's first sequence number of it.
    pub from_seq: u32,
    /// When it was first sent.
    pub since: Micros,
}

/// The session's second path as the edge measures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondPath {
    /// Its loss (ppm).
    pub loss_ppm: u32,
    /// How much later a packet on it arrives than one on the primary (one way).
    pub extra_delay: Duration,
}

/// The adaptive FEC controller of one edge session.
#[derive(Debug, Clone)]
pub struct FecControl {
    cfg: FecConfig,
    adaptive: AdaptiveFec,
    /// Ring of the latest samples, `len` of them valid, newest at `head`.
    samples: [Sample; WINDOW_SAMPLES + 1],
    head: usize,
    len: usize,
    pending: Option<Pending>,
    pps_hint: u32,
    estimate: Option<LossEstimate>,
    second: Option<SecondPath>,
    /// The last second-path figure given: the loss its repairs saw while they crossed it,
    /// still in the window after it went.
    last_second: Option<SecondPath>,
}

/// `scheme` as an [`AdaptiveFec`] state when it was not chosen by the core (the session's
/// start, a proxy's different answer): overhead from its shape, prediction unknown.
pub fn describe(scheme: FecScheme, pps: Option<u32>) -> FecChoice {
    let (overhead, gaps) = adaptive_fec::shape(scheme);
    FecChoice {
        scheme,
        placement: Placement::SamePath,
        deadline: fec_policy::deadline_for(scheme, pps),
        overhead,
        residual: 0.0,
        recovery_gaps: gaps,
        meets_target: true,
        late: 0.0,
    }
}

impl FecControl {
    /// A controller for a session that started on `initial` at `now`; `pps_hint` is the game
    /// profile's packet rate when known.
    pub fn new(cfg: FecConfig, initial: FecScheme, pps_hint: Option<u32>, now: Micros) -> Self {
        let hint = pps_hint.filter(|p| *p > 0).unwrap_or(DEFAULT_PPS);
        FecControl {
            cfg,
            adaptive: AdaptiveFec::new(cfg, describe(initial, Some(hint)), now),
            samples: [Sample::default(); WINDOW_SAMPLES + 1],
            head: 0,
            len: 0,
            pending: None,
            pps_hint: hint,
            estimate: None,
            second: None,
            last_second: None,
        }
    }

    /// The scheme in use (or being switched to).
    pub fn current(&self) -> FecChoice {
        self.adaptive.current()
    }

    /// The switch waiting for the proxy's answer.
    pub fn pending(&self) -> Option<Pending> {
        self.pending
    }

    /// The latest estimate, when both directions had enough packets.
    pub fn estimate(&self) -> Option<LossEstimate> {
        self.estimate
    }

    /// The second path's figures for the next [`FecControl::observe`]: `Some` only while the
    /// standby is bound, answering and disjoint (parity could go there), `None` otherwise.
    pub fn set_second_path(&mut self, second: Option<SecondPath>) {
        self.second = second;
        self.last_second = second.or(self.last_second);
    }

    /// Feeds the edge's own figures (`local`) and the proxy's latest report (`remote`) at
    /// `now`; returns the scheme to switch to when the policy decides a change.
    pub fn observe(
        &mut self,
        now: Micros,
        local: &LinkReport,
        remote: &LinkReport,
    ) -> Option<FecChoice> {
        let sample = Sample {
            at: now,
            up: Dir {
                expected: remote.expected,
                received: remote.received,
                runs: remote.loss_runs,
                data: local.data_sent,
            },
            down: Dir {
                expected: local.expected,
                received: local.received,
                runs: local.loss_runs,
                data: remote.data_sent,
            },
        };
        // A second sample at the same instant replaces the first instead of shortening the
        // windows.
        let newer = self.back(0).is_none_or(|last| now > last.at);
        if self.len > 0 && newer {
            self.head = (self.head + 1) % self.samples.len();
        }
        if let Some(slot) = self.samples.get_mut(self.head) {
            *slot = sample;
        }
        if newer {
            self.len = (self.len + 1).min(self.samples.len());
        }
        self.estimate = self.compute();
        if self.pending.is_some() {
            return None;
        }
        let est = self.estimate?;
        self.adaptive.update(now, &est)
    }

    /// The sample `back` reports before the newest.
    fn back(&self, back: usize) -> Option<&Sample> {
        if back >= self.len {
            return None;
        }
        let n = self.samples.len();
        self.samples.get((self.head + n - back) % n)
    }

    /// Loss (ppm) over the span from `back` samples ago to now, when a direction sent enough.
    fn loss_over(&self, back: usize) -> Option<u32> {
        let (new, old) = (self.back(0)?, self.back(back)?);
        [(new.up, old.up), (new.down, old.down)]
            .iter()
            .filter_map(|(n, o)| {
                let expected = n.expected.saturating_sub(o.expected);
                let received = n.received.saturating_sub(o.received).min(expected);
                (expected >= MIN_EXPECTED)
                    .then(|| ((expected - received) * 1_000_000 / expected) as u32)
            })
            .max()
    }

    /// Mean loss burst over the span from `back` samples ago to now: lost packets per run of
    /// consecutive losses, the burstier direction of those with at least [`MIN_BURST_RUNS`]
    /// runs in the span (fewer say nothing about the mean); 1.0 when none has.
    fn burst_over(&self, back: usize) -> f64 {
        let (Some(new), Some(old)) = (self.back(0), self.back(back)) else {
            return 1.0;
        };
        [(new.up, old.up), (new.down, old.down)]
            .iter()
            .filter_map(|(n, o)| {
                let expected = n.expected.saturating_sub(o.expected);
                let received = n.received.saturating_sub(o.received).min(expected);
                let runs = n.runs.saturating_sub(o.runs);
                (runs >= MIN_BURST_RUNS).then(|| (expected - received) as f64 / runs as f64)
            })
            .fold(1.0, f64::max)
    }

    fn compute(&self) -> Option<LossEstimate> {
        let span = (self.len - 1).min(WINDOW_SAMPLES);
        let long = self.loss_over(span);
        let recent = self.loss_over(RECENT_SAMPLES.min(span));
        // The short window only counts as a step up in loss: at twice the long window's.
        // Within that band it is noise (a 2 s window at 1 % holds a handful of losses) and
        // would raise and lower protection every few seconds.
        let loss_ppm = match (long, recent) {
            (Some(l), Some(r)) if r > l.saturating_mul(2) => r,
            (Some(l), _) => l,
            (None, r) => r?,
        };
        let (new, old) = (self.back(0)?, self.back(RECENT_SAMPLES.min(span))?);
        let secs = new.at.saturating_since(old.at).as_secs_f64();
        let pps = [(new.up, old.up), (new.down, old.down)]
            .iter()
            .map(|(n, o)| n.data.saturating_sub(o.data))
            .filter(|d| *d > 0 && secs > 0.0)
            .map(|d| (d as f64 / secs).round().max(1.0) as u32)
            .min()
            .unwrap_or(self.pps_hint);
        let loss_ppm = self.primary_loss(loss_ppm);
        Some(LossEstimate {
            loss_ppm,
            mean_burst: self.burst_over(span),
            pps,
            second_path_loss_ppm: self.second.map(|s| s.loss_ppm),
            second_path_delay: self.second.map_or(Duration::ZERO, |s| s.extra_delay),
        })
    }

    /// The primary's loss from the `measured` one (both paths' packets together) while the
    /// scheme in use sends its parity on the second path (see the module doc). A standby that
    /// just went still counts with its last figure: the window holds its packets.
    fn primary_loss(&self, measured: u32) -> u32 {
        let cur = self.adaptive.current();
        let cross = cur.placement == Placement::SecondPath;
        let Some(second) = self.last_second.filter(|_| cross) else {
            return measured;
        };
        let o = cur.overhead.max(0.0);
        let p = (1.0 + o) * f64::from(measured) - o * f64::from(second.loss_ppm);
        p.clamp(0.0, 1e6) as u32
    }

    /// The packet rate of the latest estimate, else the hint.
    pub fn pps(&self) -> u32 {
        self.estimate.map_or(self.pps_hint, |e| e.pps)
    }

    /// A switch to `scheme` from sequence number `from_seq` was sent to the proxy.
    pub fn begin(&mut self, scheme: FecScheme, from_seq: u32, now: Micros) {
        self.pending = Some(Pending {
            scheme,
            from_seq,
            since: now,
        });
    }

    /// The proxy accepted the switch, with `accepted` (which both ends now use).
    pub fn done(&mut self, accepted: FecScheme, now: Micros) {
        self.pending = None;
        if accepted != self.adaptive.current().scheme {
            self.reset(accepted, now);
        }
    }

    /// The proxy refused the switch; both ends stay on `in_use`.
    pub fn refused(&mut self, in_use: FecScheme, now: Micros) {
        self.pending = None;
        self.reset(in_use, now);
    }

    fn reset(&mut self, scheme: FecScheme, now: Micros) {
        self.adaptive = AdaptiveFec::new(self.cfg, describe(scheme, Some(self.pps())), now);
    }

    /// How long the pending switch has waited.
    pub fn pending_for(&self, now: Micros) -> Option<Duration> {
        self.pending.map(|p| now.saturating_since(p.since))
    }
}

#[cfg(test)]
#[path = "fec_control_tests.rs"]
mod tests;
