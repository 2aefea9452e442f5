//! The schemes [`super::choose`] picks from, with their predictions, and the order it ranks
//! them in (pure).
//!
//! Parity on a second path arrives `LossEstimate::second_path_delay` later than it would
//! behind the data (the second path's extra one-way delay), and so does every recovery that
//! needs it: a block code on the second path is capped at `(k − 1)` gaps + that delay ≤
//! `max_recovery_delay`, its recovery gaps and late share count the delay, and duplication
//! there is late for every recovered packet once the delay reaches two gaps. A second path
//! slower than `max_recovery_delay` (50 ms) one way is never offered: recoveries would come
//! too late to matter.

use std::time::Duration;

use lightspeed_protocol::fec::FecScheme;

use super::super::fec_model::{
    SLIDING_CONFIGS, block_residual, duplicate_residual, sliding_prediction,
};
use super::super::paths::ppm_to_fraction;
use super::{FecChoice, FecConfig, LossEstimate, Placement};

/// Members of a `k`-packet group recovered two gaps or more after they were sent, when the
/// parity arrives `delay_us` after the group's last member: member `k − 1 − i` waits `i`
/// gaps for the end of its group, then the delay.
fn late_members(k: u8, gap_us: u128, delay_us: u128) -> u32 {
    (0..u128::from(k))
        .filter(|i| i * gap_us + delay_us >= 2 * gap_us)
        .count() as u32
}

/// All schemes the session could run, with predictions (not yet filtered by the target).
pub(super) fn options(est: &LossEstimate, cfg: &FecConfig, mut f: impl FnMut(FecChoice)) {
    let p = ppm_to_fraction(est.loss_ppm);
    let b = est.mean_burst.max(1.0);
    let gap = Duration::from_micros(1_000_000 / u64::from(est.pps.max(1)));
    let ms = Duration::from_millis(1);
    let gap_us = gap.as_micros().max(1);
    let k_max = (1 + cfg.max_recovery_delay.as_micros() / gap_us).min(15) as u8;
    let delay = est.second_path_delay;
    let delay_us = delay.as_micros();
    // The second path only while its recoveries can still be in time.
    let second = est
        .second_path_loss_ppm
        .filter(|_| delay <= cfg.max_recovery_delay)
        .map(ppm_to_fraction);
    let k_max_second = second.map_or(0, |_| {
        let room = cfg.max_recovery_delay.saturating_sub(delay).as_micros();
        (1 + room / gap_us).min(15) as u8
    });
    // Rounded, not ceiled: 2 ms more at a 15.6 ms gap is not a whole gap more to wait.
    let extra_gaps = ((delay_us + gap_us / 2) / gap_us).min(u128::from(u32::MAX)) as u32;
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
        // The copy of a lost packet arrives `delay` after the original would have.
        let late = if delay_us >= 2 * gap_us { p } else { 0.0 };
        push(
            FecScheme::Duplicate,
            Placement::SecondPath,
            gap + ms,
            1.0,
            (dup_second, late),
            extra_gaps,
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
            let late = p * f64::from(late_members(k, gap_us, 0)) / f64::from(k);
            let same = block_residual(p, k, m, b, None);
            push(
                scheme,
                Placement::SamePath,
                deadline,
                overhead,
                (same, late),
                gaps,
            );
            if second.is_some() && k <= k_max_second {
                let cross = block_residual(p, k, m, b, second);
                let late = p * f64::from(late_members(k, gap_us, delay_us)) / f64::from(k);
                push(
                    scheme,
                    Placement::SecondPath,
                    deadline,
                    overhead,
                    (cross, late),
                    gaps.saturating_add(extra_gaps),
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
pub(super) fn better(a: &FecChoice, b: &FecChoice, cfg: &FecConfig) -> bool {
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
