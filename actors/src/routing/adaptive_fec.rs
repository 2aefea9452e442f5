//! Adaptive FEC (pure): the scheme a session uses, from its measured loss, burstiness and
//! packet rate.
//!
//! [`choose`] lists every scheme the session could run and keeps those whose predicted
//! residual loss meets the target (default 0.1 %), then takes, in order: one that delays at
//! most [`FecConfig::max_late`] of the packets by two gaps or more over one that delays more;
//! the lowest overhead; a comfortable residual (≤ a tenth of the target, robust to a loss
//! estimate that is off by some) over a marginal one; the shortest recovery delay; the
//! smaller code; the lower residual. When nothing meets the target it takes the lowest
//! residual.
//!
//! Predictions are in `fec_model.rs` ([`super::fec_model`]): the binomial formula for block
//! codes, Gilbert-Elliott for duplication, the measured table for the sliding window
//! (independent loss and bursts of 2 and 3, interpolated in the measured mean burst).
//!
//! Block codes are capped at `k ≤ 1 + max_recovery_delay / gap`: a lost packet waits up to
//! `k − 1` packet gaps for its group's parity, and the `k − 2` first members of a group wait
//! two gaps or more (late). The sliding code recovers most losses by the next packet and
//! counts as one gap; its late fraction is the table's (0.6 % of losses at 5 % independent
//! loss, about 35 % under bursts of 2, where a burst takes a packet and its repair).

use std::time::Duration;

use lightspeed_protocol::fec::FecScheme;

use super::paths::ppm_to_fraction;

pub use super::fec_model::binomial_tail;

#[path = "adaptive_fec_options.rs"]
mod options;
pub use options::shape;
use options::{better, options};

/// A running session moves onto or off its second path at no more overhead only when that at
/// least halves the predicted residual (or brings the late share within the budget): the
/// same cut the route policy's loss rule asks of a new path, so that a second path's loss
/// figure wandering around the primary's (it comes from a few probes a second) does not move
/// parity back and forth.
pub const PLACEMENT_GAIN: f64 = 0.5;

/// What is known about a session's loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossEstimate {
    /// Loss on the primary path (ppm).
    pub loss_ppm: u32,
    /// Mean length of a loss burst in packets; 1.0 for independent loss or when unknown.
    pub mean_burst: f64,
    /// The game's packet rate (packets/s).
    pub pps: u32,
    /// Loss on a second, disjoint path when the session has one (ppm).
    pub second_path_loss_ppm: Option<u32>,
    /// How much later a packet sent on the second path arrives than one on the primary (one
    /// way; zero when it is not slower). Parity there recovers that much later.
    pub second_path_delay: Duration,
}

/// Where parity (or the copy) travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// With the data.
    SamePath,
    /// On the session's second, disjoint path.
    SecondPath,
}

/// A scheme with its prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FecChoice {
    /// The code.
    pub scheme: FecScheme,
    /// Where its parity goes.
    pub placement: Placement,
    /// Group deadline: `(k − 1)` gaps plus 1 ms, so groups close on `k` packets.
    pub deadline: Duration,
    /// Parity packets per data packet.
    pub overhead: f64,
    /// Predicted fraction of data packets lost for good.
    pub residual: f64,
    /// Packet gaps a recovered packet waits, at worst (block codes) or typically (sliding).
    pub recovery_gaps: u32,
    /// Whether `residual` meets the target.
    pub meets_target: bool,
    /// Predicted fraction of data packets recovered two or more packet gaps after they were
    /// sent (a block code's early members waiting for the group's end, a sliding-window
    /// recovery that needed later repairs): the tail of the round-trip time.
    pub late: f64,
}

/// Thresholds of the FEC policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FecConfig {
    /// Residual loss aimed for. Default 1e-3 (0.1 %, DESIGN.md §5).
    pub target_residual: f64,
    /// Loss at or below which FEC turns off. Default 100 ppm (0.01 %): a tenth of the target,
    /// so a path that merely meets the target does not toggle FEC.
    pub off_loss_ppm: u32,
    /// Longest a recovered packet may wait for a block code's parity. Default 50 ms: about
    /// three gaps at 64 pps, past which a recovered packet is too late to matter to a game.
    pub max_recovery_delay: Duration,
    /// A cheaper scheme replaces the current one only if it meets the target at this many
    /// times the measured loss. Default 1.5.
    pub relax_factor: f64,
    /// Least time between two changes that lower protection. Default 5 s. Raising
    /// protection never waits.
    pub min_hold: Duration,
    /// Largest [`FecChoice::late`] a scheme should have. Default 0.005: both directions
    /// together then delay under 1 % of round trips by two gaps or more, which leaves the
    /// RTT's 99th percentile alone.
    pub max_late: f64,
}

impl Default for FecConfig {
    fn default() -> FecConfig {
        FecConfig {
            target_residual: 1e-3,
            off_loss_ppm: 100,
            max_recovery_delay: Duration::from_millis(50),
            relax_factor: 1.5,
            min_hold: Duration::from_secs(5),
            max_late: 0.005,
        }
    }
}

/// The scheme for `est` (see the module doc). `allow_off` false leaves FEC on whatever the
/// loss (the hysteresis band of [`AdaptiveFec`]).
pub fn choose(est: &LossEstimate, cfg: &FecConfig, allow_off: bool) -> FecChoice {
    let mut best: Option<FecChoice> = None;
    let mut safest: Option<FecChoice> = None;
    options(est, cfg, |c| {
        if c.scheme == FecScheme::Off && !allow_off {
            return;
        }
        if safest.is_none_or(|s| c.residual < s.residual) {
            safest = Some(c);
        }
        if c.meets_target && best.is_none_or(|b| better(&c, &b, cfg)) {
            best = Some(c);
        }
    });
    let off = FecChoice {
        scheme: FecScheme::Off,
        placement: Placement::SamePath,
        deadline: Duration::from_millis(1),
        overhead: 0.0,
        residual: ppm_to_fraction(est.loss_ppm),
        recovery_gaps: 0,
        meets_target: false,
        late: 0.0,
    };
    best.or(safest).unwrap_or(off)
}

/// Predicted residual of `scheme` placed as `placement` under `est`, `None` when the scheme
/// cannot run here (a block code beyond the delay cap, an unmeasured sliding loss level).
pub fn predict(
    scheme: FecScheme,
    placement: Placement,
    est: &LossEstimate,
    cfg: &FecConfig,
) -> Option<f64> {
    find(scheme, placement, est, cfg).map(|c| c.residual)
}

/// `scheme` placed as `placement` with its prediction under `est`, `None` when it cannot run
/// here (see [`predict`]).
pub fn find(
    scheme: FecScheme,
    placement: Placement,
    est: &LossEstimate,
    cfg: &FecConfig,
) -> Option<FecChoice> {
    let mut found = None;
    options(est, cfg, |c| {
        if c.scheme == scheme && c.placement == placement {
            found = Some(c);
        }
    });
    found
}

/// The per-session FEC policy with hysteresis: FEC goes on as soon as loss exceeds the
/// target and off only at or below `off_loss_ppm`; protection is raised at once and lowered
/// only when a cheaper scheme would meet the target at `relax_factor` × the loss, at most
/// once per `min_hold`. Otherwise the session moves onto (or off) its second path, towards
/// the best choice, when that costs no more and either predicts at most [`PLACEMENT_GAIN`]
/// of the residual (more protection: at once) or brings the late share within the budget
/// (after `min_hold`): without that, a session whose second path became known after its
/// scheme settled (its probe figure needs a few seconds) would never use it. A second path
/// that is gone (or too slow) leaves a scheme placed there without a prediction, which
/// raises at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveFec {
    cfg: FecConfig,
    current: FecChoice,
    changed_at: lightspeed_protocol::Micros,
}

impl AdaptiveFec {
    /// Starts with `initial` (e.g. the protected `auto` start of `fec_policy`) at `now`.
    pub fn new(
        cfg: FecConfig,
        initial: FecChoice,
        now: lightspeed_protocol::Micros,
    ) -> AdaptiveFec {
        AdaptiveFec {
            cfg,
            current: initial,
            changed_at: now,
        }
    }

    /// The scheme in use.
    pub fn current(&self) -> FecChoice {
        self.current
    }

    /// Feeds a new estimate; returns the new choice when the scheme changes.
    pub fn update(
        &mut self,
        now: lightspeed_protocol::Micros,
        est: &LossEstimate,
    ) -> Option<FecChoice> {
        let held = now.saturating_since(self.changed_at) >= self.cfg.min_hold;
        let cur = self.current;
        let next = if cur.scheme == FecScheme::Off {
            let p = ppm_to_fraction(est.loss_ppm);
            (p > self.cfg.target_residual).then(|| choose(est, &self.cfg, false))
        } else if est.loss_ppm <= self.cfg.off_loss_ppm {
            held.then(|| choose(est, &self.cfg, true))
        } else {
            let now_res = predict(cur.scheme, cur.placement, est, &self.cfg);
            if now_res.is_none_or(|r| r > self.cfg.target_residual) {
                Some(choose(est, &self.cfg, false))
            } else {
                let relaxed = LossEstimate {
                    loss_ppm: (f64::from(est.loss_ppm) * self.cfg.relax_factor).min(1e6) as u32,
                    ..*est
                };
                let cheaper = choose(&relaxed, &self.cfg, false);
                let timely = cheaper.late <= self.cfg.max_late.max(cur.late);
                (held && cheaper.meets_target && timely && cheaper.overhead < cur.overhead).then(
                    || {
                        // Report the prediction at the measured loss, not the relaxed one.
                        let residual = predict(cheaper.scheme, cheaper.placement, est, &self.cfg)
                            .unwrap_or(cheaper.residual);
                        FecChoice {
                            residual,
                            ..cheaper
                        }
                    },
                )
            }
        };
        let next = next
            .filter(|n| n.scheme != cur.scheme || n.placement != cur.placement)
            .or_else(|| self.placement_move(est, held))?;
        self.current = next;
        self.changed_at = now;
        Some(next)
    }

    /// A move onto or off the second path that pays, at no more overhead (see the type's
    /// doc): the best choice now, when it or the scheme in use has its parity on the second
    /// path, costs no more, meets the target, and either at least halves the predicted
    /// residual without being later (more protection: at once) or brings the late share
    /// within the budget (only once the last change is `held` long enough).
    fn placement_move(&self, est: &LossEstimate, held: bool) -> Option<FecChoice> {
        let cur = self.current;
        if cur.scheme == FecScheme::Off {
            return None;
        }
        let here = find(cur.scheme, cur.placement, est, &self.cfg)?;
        let best = choose(est, &self.cfg, false);
        let second = |c: &FecChoice| c.placement == Placement::SecondPath;
        if (best.scheme, best.placement) == (cur.scheme, cur.placement)
            || !(second(&best) || second(&cur))
            || !best.meets_target
            || best.overhead > here.overhead
        {
            return None;
        }
        let budget = self.cfg.max_late;
        let timelier = here.late > budget && best.late <= budget;
        let safer = best.residual < here.residual
            && best.residual <= here.residual * PLACEMENT_GAIN
            && best.late <= budget.max(here.late);
        (safer || (timelier && held)).then_some(best)
    }
}
