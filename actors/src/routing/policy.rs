//! When a session moves to another path (pure): the rules that make acceleration pay and keep
//! it from flapping.
//!
//! Rules (DESIGN.md §6, defaults in [`PolicyConfig`]):
//! - **Select** (a session's first choice, or after its path became unusable): take the
//!   selector's pick only if it is cheaper than the direct path by `select_margin`; else, when
//!   the direct path loses more than `loss_threshold`, take the cheapest relayed path that at
//!   least halves the loss for at most `loss_max_extra_rtt` more RTT; else go direct.
//! - **Switch** (a session already on a path): only after `min_dwell` on it, and only to a
//!   path `switch_margin` cheaper (stricter than selecting), or by the loss rule, or because the
//!   relayed path it is on no longer pays (saves less than `keep_margin` and the loss rule no
//!   longer holds).
//! - **Veto**: a path that just failed is not selected again for `veto`.
//!
//! Driving invariant: call [`PathPolicy::decide`] after every new set of candidates (each
//! probe round) and after [`PathPolicy::veto`]; act on the returned [`Decision`] at once — the
//! policy has already taken it as the session's path.

use std::time::Duration;

use lightspeed_edge::profiles::GameProfile;
use lightspeed_protocol::Micros;

use super::paths::{Candidate, Path, ppm_to_fraction};
use super::selector::{History, Selector};

/// Thresholds of the path policy. Every field says its default and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyConfig {
    /// Cost a relayed path must save over direct to be selected. Default 10 ms: below that a
    /// player cannot tell, and every relay is one more place to fail.
    pub select_margin: Duration,
    /// Cost a new path must save over the current one to switch to it. Default 15 ms: stricter
    /// than selecting so that measurement noise around the select margin cannot move a
    /// running session (each switch can reorder or lose a packet in flight).
    pub switch_margin: Duration,
    /// A relayed path is kept while it saves at least this much over direct. Default 5 ms:
    /// with `select_margin` it makes a 5 ms hysteresis band.
    pub keep_margin: Duration,
    /// Direct-path loss above which the loss rule applies. Default 1,000 ppm (0.1 %), the
    /// residual loss the FEC aims for (DESIGN.md §5).
    pub loss_threshold_ppm: u32,
    /// Direct-path loss below which a path chosen by the loss rule stops paying. Default
    /// 500 ppm: half the threshold, so a loss hovering at 0.1 % does not flap.
    pub loss_exit_ppm: u32,
    /// Extra RTT the loss rule accepts. Default 20 ms: a steady 20 ms costs less than the
    /// rubber-banding of losing more than 1 in 1,000 packets.
    pub loss_max_extra_rtt: Duration,
    /// Largest fraction of the direct path's loss a path chosen by the loss rule may have.
    /// Default 0.5: a path must at least halve the loss to be worth the extra RTT.
    pub loss_cut_ratio: f64,
    /// Least time on a path before an optional switch. Default 10 s: 640 packets at 64 pps,
    /// enough to see a 0.1 % loss change and more than a probe round of every link.
    /// [`PolicyConfig::for_pps`] scales it to the game's packet rate.
    pub min_dwell: Duration,
    /// How long a failed path stays out of selection. Default 30 s: a crashed relay is out of
    /// the membership well within that (SWIM suspicion), a flapping link gets no second
    /// chance to break the same session at once.
    pub veto: Duration,
}

impl Default for PolicyConfig {
    fn default() -> PolicyConfig {
        PolicyConfig {
            select_margin: Duration::from_millis(10),
            switch_margin: Duration::from_millis(15),
            keep_margin: Duration::from_millis(5),
            loss_threshold_ppm: 1_000,
            loss_exit_ppm: 500,
            loss_max_extra_rtt: Duration::from_millis(20),
            loss_cut_ratio: 0.5,
            min_dwell: Duration::from_secs(10),
            veto: Duration::from_secs(30),
        }
    }
}

/// Packets a path must carry before an optional switch: at 64 pps that is the 10 s default.
pub const DWELL_PACKETS: u64 = 640;

impl PolicyConfig {
    /// The defaults with `min_dwell` scaled to a game's packet rate: [`DWELL_PACKETS`]
    /// packets, clamped to 3–20 s (30 pps → 20 s, 64 pps → 10 s, 128 pps → 5 s). Faster games
    /// give the loss estimate its evidence sooner.
    pub fn for_pps(pps: u32) -> PolicyConfig {
        let ms = (DWELL_PACKETS * 1_000)
            .checked_div(u64::from(pps))
            .unwrap_or(20_000)
            .clamp(3_000, 20_000);
        PolicyConfig {
            min_dwell: Duration::from_millis(ms),
            ..PolicyConfig::default()
        }
    }

    /// The per-game override hook: [`PolicyConfig::for_pps`] at the profile's upstream rate
    /// (the edge's own packets, whose echoes measure the path).
    pub fn for_profile(profile: &GameProfile) -> PolicyConfig {
        PolicyConfig::for_pps(profile.upstream.pps)
    }
}

/// Why a session moves to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Selection chose the direct path (nothing relayed pays).
    Direct,
    /// Selection chose a relayed path that saves `saved_us` of cost over direct.
    SavesLatency {
        /// Cost saved over the direct path (µs).
        saved_us: u32,
    },
    /// The loss rule: the direct (or current) path loses too much and this one cuts it.
    CutsLoss {
        /// Loss of the path left behind (ppm).
        from_ppm: u32,
        /// Loss of the new path (ppm).
        to_ppm: u32,
    },
    /// No direct path is measured; the selector's pick is taken as is.
    NoDirect,
    /// Switch to a path `gain_us` cheaper than the current one.
    Better {
        /// Cost saved over the current path (µs).
        gain_us: u32,
    },
    /// The relayed path in use no longer pays; back to selection's choice.
    NoLongerPays,
    /// The current path is vetoed or no longer a candidate; selection ran again.
    CurrentUnavailable,
}

/// What the session should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// Keep the current path.
    Stay,
    /// Move to `to` (the policy already records it as current).
    Switch {
        /// The new path and its metrics.
        to: Candidate,
        /// Why.
        reason: Reason,
    },
    /// No usable candidate; the session has no path until one appears.
    NoPath,
}

/// Vetoes held at once; more failures than this in one veto period evict the one that
/// expires first. 16 is far beyond the few paths a session has.
pub const MAX_VETOES: usize = 16;

/// The per-session path policy.
#[derive(Debug, Clone)]
pub struct PathPolicy {
    cfg: PolicyConfig,
    current: Option<(Path, Micros)>,
    vetoes: [Option<(Path, Micros)>; MAX_VETOES],
    scratch: Vec<Candidate>,
}

impl PathPolicy {
    /// A policy for a new session (no path yet).
    pub fn new(cfg: PolicyConfig) -> PathPolicy {
        PathPolicy {
            cfg,
            current: None,
            vetoes: [None; MAX_VETOES],
            scratch: Vec::with_capacity(64),
        }
    }

    /// The path in use and since when.
    pub fn current(&self) -> Option<(Path, Micros)> {
        self.current
    }

    /// True when `path` is vetoed at `now`.
    pub fn is_vetoed(&self, now: Micros, path: &Path) -> bool {
        self.vetoes
            .iter()
            .flatten()
            .any(|(p, until)| p == path && now < *until)
    }

    /// Marks `path` as failed: it is not selected until `now + veto`. If it is the current
    /// path the session has none until the next [`PathPolicy::decide`].
    pub fn veto(&mut self, now: Micros, path: Path) {
        let until = now + self.cfg.veto;
        if self.current.is_some_and(|(p, _)| p == path) {
            self.current = None;
        }
        // Reuse the path's own entry, else a free or expired one, else evict the entry that
        // expires first.
        let slot = self
            .vetoes
            .iter()
            .position(|v| v.is_some_and(|(p, _)| p == path))
            .or_else(|| {
                self.vetoes
                    .iter()
                    .position(|v| v.is_none_or(|(_, t)| t <= now))
            })
            .or_else(|| {
                (0..MAX_VETOES).min_by_key(|&i| self.vetoes.get(i).and_then(|v| v.map(|x| x.1)))
            });
        if let Some(v) = slot.and_then(|i| self.vetoes.get_mut(i)) {
            *v = Some((path, until));
        }
    }

    /// Applies the rules to this round's candidates (see the module doc).
    pub fn decide(
        &mut self,
        now: Micros,
        candidates: &[Candidate],
        selector: &dyn Selector,
        history: &History,
    ) -> Decision {
        let mut allowed = std::mem::take(&mut self.scratch);
        allowed.clear();
        allowed.extend(candidates.iter().filter(|c| !self.is_vetoed(now, &c.path)));
        let decision = self.decide_among(now, &allowed, selector, history);
        self.scratch = allowed;
        if let Decision::Switch { to, .. } = decision {
            self.current = Some((to.path, now));
        } else if decision == Decision::NoPath {
            self.current = None;
        }
        decision
    }

    fn decide_among(
        &self,
        now: Micros,
        allowed: &[Candidate],
        selector: &dyn Selector,
        history: &History,
    ) -> Decision {
        let Some((target, reason)) = self.select(allowed, selector, history) else {
            return Decision::NoPath;
        };
        let Some((cur_path, since)) = self.current else {
            return Decision::Switch { to: target, reason };
        };
        let Some(cur) = allowed.iter().find(|c| c.path == cur_path).copied() else {
            return Decision::Switch {
                to: target,
                reason: Reason::CurrentUnavailable,
            };
        };
        if target.path == cur.path || now < since + self.cfg.min_dwell {
            return Decision::Stay;
        }
        let gain = cur.cost_us.saturating_sub(target.cost_us);
        if gain >= us(self.cfg.switch_margin) {
            return Decision::Switch {
                to: target,
                reason: Reason::Better { gain_us: gain },
            };
        }
        if self.cuts_loss(&cur, &target, self.cfg.loss_threshold_ppm) {
            return Decision::Switch {
                to: target,
                reason: Reason::CutsLoss {
                    from_ppm: cur.metrics.loss_ppm,
                    to_ppm: target.metrics.loss_ppm,
                },
            };
        }
        if !cur.path.is_direct() && !self.keeps_paying(&cur, allowed) {
            return Decision::Switch {
                to: target,
                reason: Reason::NoLongerPays,
            };
        }
        Decision::Stay
    }

    /// The selection rule: what a session with no path would take.
    fn select(
        &self,
        allowed: &[Candidate],
        selector: &dyn Selector,
        history: &History,
    ) -> Option<(Candidate, Reason)> {
        let pick = allowed.get(selector.choose(allowed, history)?).copied()?;
        let Some(direct) = cheapest_direct(allowed) else {
            return Some((pick, Reason::NoDirect));
        };
        let saved = direct.cost_us.saturating_sub(pick.cost_us);
        if !pick.path.is_direct() && saved >= us(self.cfg.select_margin) {
            return Some((pick, Reason::SavesLatency { saved_us: saved }));
        }
        if let Some(c) = allowed
            .iter()
            .filter(|c| self.cuts_loss(&direct, c, self.cfg.loss_threshold_ppm))
            .min_by_key(|c| c.cost_us)
        {
            let reason = Reason::CutsLoss {
                from_ppm: direct.metrics.loss_ppm,
                to_ppm: c.metrics.loss_ppm,
            };
            return Some((*c, reason));
        }
        Some((direct, Reason::Direct))
    }

    /// The loss rule: `from` loses more than `threshold` and `to` at least cuts it by the cut
    /// ratio for at most the allowed extra RTT.
    fn cuts_loss(&self, from: &Candidate, to: &Candidate, threshold: u32) -> bool {
        let cut = ppm_to_fraction(from.metrics.loss_ppm) * self.cfg.loss_cut_ratio;
        from.path != to.path
            && from.metrics.loss_ppm > threshold
            && ppm_to_fraction(to.metrics.loss_ppm) <= cut
            && to.metrics.rtt_us
                <= from
                    .metrics
                    .rtt_us
                    .saturating_add(us(self.cfg.loss_max_extra_rtt))
    }

    /// Whether a relayed path in use still pays against the direct path.
    fn keeps_paying(&self, cur: &Candidate, allowed: &[Candidate]) -> bool {
        let Some(direct) = cheapest_direct(allowed) else {
            return true;
        };
        direct.cost_us.saturating_sub(cur.cost_us) >= us(self.cfg.keep_margin)
            || self.cuts_loss(&direct, cur, self.cfg.loss_exit_ppm)
    }
}

fn cheapest_direct(allowed: &[Candidate]) -> Option<Candidate> {
    allowed
        .iter()
        .filter(|c| c.path.is_direct())
        .min_by_key(|c| c.cost_us)
        .copied()
}

fn us(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}
