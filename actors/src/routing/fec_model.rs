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
//! - Sliding window: no closed form; the table measured in docs/performance.md under
//!   independent loss and Gilbert-Elliott bursts of mean 2 and 3 packets, taking the residual
//!   measured at the next loss level at or above `p`, interpolated linearly in the mean burst,
//!   and refusing loss above the highest measured level or bursts above 3.
//!

use super::adaptive_fec::Placement;

/// One measured sliding-window configuration at one mean burst length: `(loss, residual,
/// late)` rows from docs/performance.md, loss ascending; a 0 residual means none lost in
/// 100,000 or more; `late` is the fraction of recovered packets rebuilt two or more packets
/// after they were sent.
struct SlidingRow {
    window: u8,
    repairs: u8,
    interval: u8,
    burst: f64,
    points: &'static [(f64, f64, f64)],
}

const fn row(
    (window, repairs, interval): (u8, u8, u8),
    burst: f64,
    points: &'static [(f64, f64, f64)],
) -> SlidingRow {
    SlidingRow {
        window,
        repairs,
        interval,
        burst,
        points,
    }
}

/// Independent loss (burst 1) and Gilbert-Elliott loss of mean burst 2 and 3 packets on data
/// and repairs alike (`fec_sliding_stats`, 100,000-200,000 packets per cell; residuals
/// rounded up).
const SLIDING_TABLE: [SlidingRow; 13] = [
    row(
        (4, 1, 1),
        1.0,
        &[(0.01, 0.0, 0.001), (0.05, 0.0, 0.0064), (0.10, 1e-5, 0.022)],
    ),
    row(
        (4, 1, 1),
        2.0,
        &[
            (0.01, 9e-5, 0.36),
            (0.05, 9.7e-4, 0.35),
            (0.10, 2.7e-3, 0.36),
        ],
    ),
    row(
        (4, 1, 1),
        3.0,
        &[
            (0.01, 6.3e-4, 0.58),
            (0.05, 4.3e-3, 0.59),
            (0.10, 1.1e-2, 0.59),
        ],
    ),
    row(
        (2, 1, 1),
        1.0,
        &[
            (0.01, 0.0, 0.0),
            (0.05, 1e-4, 0.002),
            (0.10, 1.1e-3, 0.0095),
        ],
    ),
    row((2, 1, 1), 2.0, &[(0.05, 7e-3, 0.14)]),
    row((2, 1, 1), 3.0, &[(0.05, 1.6e-2, 0.21)]),
    row(
        (8, 1, 1),
        1.0,
        &[(0.01, 0.0, 0.0), (0.05, 0.0, 0.0086), (0.10, 0.0, 0.023)],
    ),
    row(
        (8, 1, 1),
        2.0,
        &[
            (0.01, 0.0, 0.33),
            (0.05, 3.5e-5, 0.36),
            (0.10, 2.2e-4, 0.38),
        ],
    ),
    row(
        (8, 1, 1),
        3.0,
        &[
            (0.01, 5e-6, 0.64),
            (0.05, 3.9e-4, 0.63),
            (0.10, 1.6e-3, 0.63),
        ],
    ),
    row((4, 1, 2), 1.0, &[(0.01, 0.0, 0.013)]),
    row((4, 1, 2), 2.0, &[(0.01, 3.5e-3, 0.54)]),
    row((8, 1, 2), 1.0, &[(0.01, 0.0, 0.013)]),
    row((8, 1, 2), 2.0, &[(0.01, 8.1e-4, 0.64)]),
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

/// What the table says of a sliding-window configuration at one loss and burstiness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlidingPrediction {
    /// Fraction of data packets lost for good.
    pub residual: f64,
    /// Fraction of recovered packets rebuilt two or more packets after they were sent.
    pub late: f64,
}

/// The row of `(window, repairs, interval)` measured at mean burst `burst`, looked up at the
/// next measured loss level at or above `p`.
fn lookup(cfg: (u8, u8, u8), burst: f64, p: f64) -> Option<SlidingPrediction> {
    let row = SLIDING_TABLE.iter().find(|r| {
        (r.window, r.repairs, r.interval) == cfg && (r.burst - burst).abs() < f64::EPSILON
    })?;
    row.points
        .iter()
        .find(|(loss, _, _)| p <= *loss)
        .map(|&(_, residual, late)| SlidingPrediction { residual, late })
}

/// Measured residual and lateness of a sliding-window configuration at loss `p` and mean
/// burst `mean_burst`: the next measured loss level at or above `p`, interpolated linearly
/// between the measured burst lengths (1, 2, 3) around `mean_burst`. `None` when unmeasured
/// there (loss above the highest measured level, bursts longer than 3).
pub fn sliding_prediction(
    window: u8,
    repairs: u8,
    interval: u8,
    p: f64,
    mean_burst: f64,
) -> Option<SlidingPrediction> {
    let cfg = (window, repairs, interval);
    let b = mean_burst.max(1.0);
    if b > 3.0 || b.is_nan() {
        return None;
    }
    let lo = b.floor().min(2.0);
    let (a, z) = (lookup(cfg, lo, p)?, lookup(cfg, lo + 1.0, p));
    let t = b - lo;
    if t <= 0.0 {
        return Some(a);
    }
    let z = z?;
    Some(SlidingPrediction {
        residual: a.residual + t * (z.residual - a.residual),
        late: a.late + t * (z.late - a.late),
    })
}

/// The residual of [`sliding_prediction`].
pub fn sliding_residual(
    window: u8,
    repairs: u8,
    interval: u8,
    p: f64,
    mean_burst: f64,
) -> Option<f64> {
    sliding_prediction(window, repairs, interval, p, mean_burst).map(|s| s.residual)
}
