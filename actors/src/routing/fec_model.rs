//! Residual-loss predictions for the FEC schemes (pure), used by [`super::adaptive_fec`].
//!
//! - Block codes `(k, m)` (XOR is `m = 1`), independent loss `p`: a data packet is lost for
//!   good when it is lost and at least `m` of the other `k + m − 1` packets of its group are
//!   too: `p · P[Bin(k + m − 1, p) ≥ m]`. With mean burst length `b > 1` a loss is taken as a
//!   burst of `c = ⌈b⌉` packets arriving at rate `p / b`, so a group survives `⌊m / c⌋` bursts
//!   including the packet's own. With parity on a second path, parity losses there are
//!   independent of the data's.
//! - Duplication: the copy is lost with the original with probability `max(p, 1 − 1/b)` on
//!   the same path (Gilbert-Elliott), `p₂` on a second path.
//! - Sliding window: no closed form; the table measured in docs/performance.md (independent
//!   loss only, so never chosen when `b > 1.5`), taking the residual measured at the next
//!   loss level at or above `p` and refusing loss above the highest measured.
//!

use super::adaptive_fec::Placement;

/// One measured sliding-window configuration: `(loss, residual)` rows from
/// docs/performance.md, loss ascending; a 0 residual means none lost in 100,000 or more.
struct SlidingRow {
    window: u8,
    repairs: u8,
    interval: u8,
    points: &'static [(f64, f64)],
}

const SLIDING_TABLE: [SlidingRow; 5] = [
    SlidingRow {
        window: 4,
        repairs: 1,
        interval: 1,
        points: &[(0.01, 0.0), (0.05, 0.0), (0.10, 1e-5)],
    },
    SlidingRow {
        window: 2,
        repairs: 1,
        interval: 1,
        points: &[(0.01, 0.0), (0.05, 1e-4), (0.10, 1.1e-3)],
    },
    SlidingRow {
        window: 8,
        repairs: 1,
        interval: 1,
        points: &[(0.01, 0.0), (0.05, 0.0), (0.10, 0.0)],
    },
    SlidingRow {
        window: 4,
        repairs: 1,
        interval: 2,
        points: &[(0.01, 0.0)],
    },
    SlidingRow {
        window: 8,
        repairs: 1,
        interval: 2,
        points: &[(0.01, 0.0)],
    },
];

fn pmf(n: u32, q: f64, i: u32) -> f64 {
    if i > n {
        return 0.0;
    }
    let mut c = 1.0_f64;
    for j in 0..i {
        c = c * f64::from(n - j) / f64::from(j + 1);
    }
    c * q.powi(i as i32) * (1.0 - q).powi((n - i) as i32)
}

/// `P[Bin(n, q) ≥ m]`, summed over the upper tail for precision at small `q`.
pub fn binomial_tail(n: u32, q: f64, m: u32) -> f64 {
    let q = q.clamp(0.0, 1.0);
    (m..=n).map(|i| pmf(n, q, i)).sum::<f64>().min(1.0)
}

/// Predicted residual of a block code `(k, m)` (see the module doc). `second` is the parity
/// path's loss when parity goes on a second path.
pub fn block_residual(p: f64, k: u8, m: u8, mean_burst: f64, second: Option<f64>) -> f64 {
    let p = p.clamp(0.0, 1.0);
    let b = mean_burst.max(1.0);
    let c = b.ceil() as u32;
    let (k, m) = (u32::from(k), u32::from(m));
    if c > m {
        // The packet's own burst is longer than the parity: never recoverable.
        return p;
    }
    let q = p / b;
    let lost_with = match second {
        None => (0..k + m)
            .map(|x| {
                if c * (1 + x) > m {
                    pmf(k + m - 1, q, x)
                } else {
                    0.0
                }
            })
            .sum::<f64>(),
        Some(p2) => {
            let mut s = 0.0;
            for x in 0..k {
                for y in 0..=m {
                    if c * (1 + x) + y > m {
                        s += pmf(k - 1, q, x) * pmf(m, p2.clamp(0.0, 1.0), y);
                    }
                }
            }
            s
        }
    };
    p * lost_with.min(1.0)
}

/// The measured sliding-window configurations `(window, repairs, interval)`.
pub const SLIDING_CONFIGS: [(u8, u8, u8); 5] =
    [(4, 1, 1), (2, 1, 1), (8, 1, 1), (4, 1, 2), (8, 1, 2)];

/// Predicted residual of duplication (see the module doc).
pub fn duplicate_residual(p: f64, mean_burst: f64, placement: Placement, second: f64) -> f64 {
    let p = p.clamp(0.0, 1.0);
    match placement {
        Placement::SamePath => p * p.max(1.0 - 1.0 / mean_burst.max(1.0)),
        Placement::SecondPath => p * second.clamp(0.0, 1.0),
    }
}

/// Measured residual of a sliding-window configuration at loss `p` (the next measured loss
/// level at or above `p`), `None` when unmeasured there or when loss is bursty.
pub fn sliding_residual(
    window: u8,
    repairs: u8,
    interval: u8,
    p: f64,
    mean_burst: f64,
) -> Option<f64> {
    if mean_burst > 1.5 {
        return None;
    }
    let row = SLIDING_TABLE
        .iter()
        .find(|r| (r.window, r.repairs, r.interval) == (window, repairs, interval))?;
    row.points
        .iter()
        .find(|(loss, _)| p <= *loss)
        .map(|&(_, residual)| residual)
}
