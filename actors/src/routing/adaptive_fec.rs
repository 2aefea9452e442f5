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

use super::fec_model::{SLIDING_CONFIGS, block_residual, duplicate_residual, sliding_prediction};
use super::paths::ppm_to_fraction;

pub use super::fec_model::binomial_tail;

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

/// All schemes the session could run, with predictions (not yet filtered by the target).
fn options(est: &LossEstimate, cfg: &FecConfig, mut f: impl FnMut(FecChoice)) {
    let p = ppm_to_fraction(est.loss_ppm);
    let b = est.mean_burst.max(1.0);
    let gap = Duration::from_micros(1_000_000 / u64::from(est.pps.max(1)));
    let ms = Duration::from_millis(1);
    let gap_us = gap.as_micros().max(1);
    let k_max = (1 + cfg.max_recovery_delay.as_micros() / gap_us).min(15) as u8;
    let second = est.second_path_loss_ppm.map(ppm_to_fraction);
    let target = cfg.target_residual;
    let mut push = |scheme,
                    placement,
                    deadline,
                    overhead: f64,
                    (residual, late): (f64, f64),
                    recovery_gaps| {
        f(FecChoice {
            scheme,
            placement,
            deadline,
            overhead,
            residual,
            recovery_gaps,
            meets_target: residual <= target,
            late,
        });
    };
    push(
        FecScheme::Off,
        Placement::SamePath,
        gap + ms,
        0.0,
        (p, 0.0),
        0,
    );
    let dup_same = duplicate_residual(p, b, Placement::SamePath, 0.0);
    push(
        FecScheme::Duplicate,
        Placement::SamePath,
        gap + ms,
        1.0,
        (dup_same, 0.0),
        0,
    );
    if let Some(p2) = second {
        let dup_second = duplicate_residual(p, b, Placement::SecondPath, p2);
        push(
            FecScheme::Duplicate,
            Placement::SecondPath,
            gap + ms,
            1.0,
            (dup_second, 0.0),
            0,
        );
    }
    for k in 2..=k_max {
        let deadline = gap.saturating_mul(u32::from(k - 1)) + ms;
        for m in 1..=k {
            let scheme = if m == 1 {
                FecScheme::Xor { k }
            } else {
                FecScheme::ReedSolomon { k, m }
            };
            let (overhead, gaps) = shape(scheme);
            // Members 0..=k-3 of a group wait two gaps or more for its end.
            let late = p * f64::from(k.saturating_sub(2)) / f64::from(k);
            let same = block_residual(p, k, m, b, None);
            push(
                scheme,
                Placement::SamePath,
                deadline,
                overhead,
                (same, late),
                gaps,
            );
            if second.is_some() {
                let cross = block_residual(p, k, m, b, second);
                push(
                    scheme,
                    Placement::SecondPath,
                    deadline,
                    overhead,
                    (cross, late),
                    gaps,
                );
            }
        }
    }
    for (window, repairs, interval) in SLIDING_CONFIGS {
        if let Some(pred) = sliding_prediction(window, repairs, interval, p, b) {
            let scheme = FecScheme::Sliding {
                window,
                repairs,
                interval,
            };
            let (overhead, gaps) = shape(scheme);
            let late = p * pred.late;
            push(
                scheme,
                Placement::SamePath,
                gap + ms,
                overhead,
                (pred.residual, late),
                gaps,
            );
        }
    }
}

/// A scheme's parity overhead (parity packets per data packet) and the packet gaps its
/// slowest recovery waits for: what follows from its shape alone, whatever the loss.
pub fn shape(scheme: FecScheme) -> (f64, u32) {
    match scheme {
        FecScheme::Off => (0.0, 0),
        FecScheme::Duplicate => (1.0, 0),
        FecScheme::Xor { k } => (1.0 / f64::from(k.max(1)), u32::from(k.max(1)) - 1),
        FecScheme::ReedSolomon { k, m } => {
            (f64::from(m) / f64::from(k.max(1)), u32::from(k.max(1)) - 1)
        }
        FecScheme::Sliding {
            repairs, interval, ..
        } => (f64::from(repairs) / f64::from(interval.max(1)), 1),
        _ => (1.0, 1),
    }
}

fn code_size(s: FecScheme) -> u8 {
    match s {
        FecScheme::Xor { k } | FecScheme::ReedSolomon { k, .. } => k,
        FecScheme::Sliding { window, .. } => window,
        _ => 1,
    }
}

/// True when `a` ranks before `b` among schemes that meet the target.
fn better(a: &FecChoice, b: &FecChoice, cfg: &FecConfig) -> bool {
    let target = cfg.target_residual;
    let (a_late, b_late) = (a.late > cfg.max_late, b.late > cfg.max_late);
    // Beyond the budget the tail is long whichever is taken; the residual decides then.
    if a_late != b_late {
        return b_late;
    }
    let key = |c: &FecChoice| {
        (
            c.residual > target / 10.0,
            c.recovery_gaps,
            code_size(c.scheme),
        )
    };
    match a.overhead.total_cmp(&b.overhead) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => match key(a).cmp(&key(b)) {
            std::cmp::Ordering::Equal => a.residual < b.residual,
            o => o.is_lt(),
        },
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
    let mut found = None;
    options(est, cfg, |c| {
        if c.scheme == scheme && c.placement == placement {
            found = Some(c.residual);
        }
    });
    found
}

/// The per-session FEC policy with hysteresis: FEC goes on as soon as loss exceeds the
/// target and off only at or below `off_loss_ppm`; protection is raised at once and lowered
/// only when a cheaper scheme would meet the target at `relax_factor` × the loss, at most
/// once per `min_hold`.
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
        let next = next.filter(|n| n.scheme != cur.scheme || n.placement != cur.placement)?;
        self.current = next;
        self.changed_at = now;
        Some(next)
    }
}
