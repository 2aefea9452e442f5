//! Drawing the extra delay of [`JitterDistribution`].
//!
//! Written out here rather than taken from `rand_distr` so the emulator's random stream
//! depends only on `rand_chacha` (a `rand_distr` upgrade cannot silently change every
//! seeded scenario), and because both samplers are one line of math.

use std::time::Duration;

use rand::Rng;

use super::config::JitterDistribution;

/// Draws one extra delay in whole microseconds (rounded to nearest) for scale `jitter`.
///
/// Bounded: at most ~37 × `jitter` for the exponential (`−ln` of the smallest nonzero 53-bit
/// uniform) and ~8.6 × `jitter` for the half-normal; with `jitter ≤ 60 s` no overflow.
pub(crate) fn sample_us<R: Rng>(
    rng: &mut R,
    distribution: JitterDistribution,
    jitter: Duration,
) -> u64 {
    if jitter.is_zero() {
        return 0;
    }
    let scale = jitter.as_secs_f64() * 1e6;
    let unit = match distribution {
        JitterDistribution::Exponential => -open_unit(rng).ln(),
        JitterDistribution::HalfNormal => {
            // Box-Muller; the cosine branch alone is a standard normal.
            let radius = (-2.0 * open_unit(rng).ln()).sqrt();
            let angle = std::f64::consts::TAU * rng.random::<f64>();
            (radius * angle.cos()).abs()
        }
    };
    // `as` saturates on overflow and maps NaN to 0; neither can happen for the bounds above.
    (unit * scale).round() as u64
}

/// Uniform in `(0, 1]`, so its logarithm is finite.
fn open_unit<R: Rng>(rng: &mut R) -> f64 {
    1.0 - rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Mean and standard deviation of `n` draws, in microseconds.
    fn moments(distribution: JitterDistribution, jitter: Duration, n: u32) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = sample_us(&mut rng, distribution, jitter) as f64;
            sum += x;
            sum_sq += x * x;
        }
        let mean = sum / f64::from(n);
        (mean, (sum_sq / f64::from(n) - mean * mean).sqrt())
    }

    // Tolerances: with n = 200 000 draws, the sample mean has standard error σ/√n ≈ 0.0022σ;
    // the sample standard deviation has standard error ≈ σ·√((κ−1)/4n) with kurtosis κ = 9 for
    // the exponential (≈ 0.0032σ) and κ ≈ 3.87 for the half-normal (≈ 0.0019σ). Bounds of
    // 0.02σ are > 6 standard errors; rounding to whole µs moves the mean by < 0.5 µs.
    const N: u32 = 200_000;

    #[test]
    fn exponential_has_mean_and_std_equal_to_jitter() {
        let (mean, std) = moments(JitterDistribution::Exponential, Duration::from_millis(5), N);
        assert!((mean - 5_000.0).abs() < 100.0, "mean {mean}");
        assert!((std - 5_000.0).abs() < 100.0, "std {std}");
    }

    #[test]
    fn half_normal_has_its_documented_moments() {
        let sigma = 4_000.0;
        let (mean, std) = moments(JitterDistribution::HalfNormal, Duration::from_millis(4), N);
        let want_mean = sigma * (2.0 / std::f64::consts::PI).sqrt();
        let want_std = sigma * (1.0 - 2.0 / std::f64::consts::PI).sqrt();
        assert!(
            (mean - want_mean).abs() < 0.02 * sigma,
            "mean {mean} vs {want_mean}"
        );
        assert!(
            (std - want_std).abs() < 0.02 * sigma,
            "std {std} vs {want_std}"
        );
    }

    #[test]
    fn zero_jitter_draws_nothing() {
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let b = a.clone();
        assert_eq!(
            sample_us(&mut a, JitterDistribution::HalfNormal, Duration::ZERO),
            0
        );
        assert_eq!(a, b);
    }
}
