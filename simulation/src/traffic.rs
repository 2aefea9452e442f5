//! Seeded game traffic: when a game sends its next packet, and how big it is.
//!
//! Games send on a fixed tick clock (a 64 Hz server sends every 15.625 ms whatever happened
//! before), so the model is a fixed nominal schedule, `start + k / pps`, with each send
//! displaced late by a small seeded amount in `[0, jitter]` (OS scheduling and frame timing).
//! The displacement does not accumulate: the mean rate is exactly `pps` and no two sends swap
//! order, because `jitter` must stay below one interval.
//!
//! Sizes follow a *split-uniform* distribution: with probability
//! `p = (max - mean) / (max - min)` a size is uniform on `[min, mean]`, otherwise uniform on
//! `[mean, max]`. Its expectation is exactly `mean` for any `min <= mean <= max` (a triangular
//! law cannot reach skewed means such as 60/110/1200), it never leaves the bounds, and a
//! right-skewed spec gives what game traffic looks like: mostly small packets, rare big ones.
//!
//! Pure: no clock, no global randomness; the RNG is a ChaCha8 seeded by the caller. Nothing is
//! allocated per packet.

use std::time::Duration;

use lightspeed_edge::profiles::{Direction, GameProfile};
use lightspeed_protocol::Micros;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Highest packet rate accepted. Games send at most ~128 pps; the cap keeps the nominal
/// interval at 100 µs or more, so integer microsecond schedules stay meaningful.
pub const MAX_PPS: u32 = 10_000;

/// Largest datagram size accepted: the UDP payload limit over IPv4.
pub const MAX_SIZE: usize = 65_507;

/// Ceiling of the default jitter: scheduling noise on a loaded game host is typically well
/// under a millisecond (an estimate), so 1 ms is generous.
pub const DEFAULT_JITTER_CAP: Duration = Duration::from_millis(1);

/// What is wrong with a [`TrafficSpec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrafficError {
    /// The packet rate is zero or above [`MAX_PPS`].
    #[error("packet rate {pps} pps is outside 1..={MAX_PPS}")]
    Rate {
        /// The rejected rate.
        pps: u32,
    },
    /// The sizes are not ordered `min <= mean <= max`.
    #[error("packet sizes must satisfy min <= mean <= max, got {min}/{mean}/{max}")]
    SizeOrder {
        /// Smallest size.
        min: usize,
        /// Mean size.
        mean: usize,
        /// Largest size.
        max: usize,
    },
    /// The largest size exceeds [`MAX_SIZE`].
    #[error("largest packet size {max} exceeds the UDP limit {MAX_SIZE}")]
    SizeTooLarge {
        /// The rejected size.
        max: usize,
    },
    /// The jitter is not below one nominal interval, so sends could swap order.
    #[error("jitter {jitter_us} µs must be below the {interval_us} µs packet interval")]
    JitterTooLarge {
        /// The rejected jitter in µs.
        jitter_us: u64,
        /// The nominal interval in µs (rounded down).
        interval_us: u64,
    },
}

/// The shape of one direction of game traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSpec {
    /// Packets per second (1..=[`MAX_PPS`]).
    pub pps: u32,
    /// Smallest datagram in bytes.
    pub size_min: usize,
    /// Mean datagram size in bytes.
    pub size_mean: usize,
    /// Largest datagram in bytes (at most [`MAX_SIZE`]).
    pub size_max: usize,
    /// Largest lateness of a send behind its tick; below one interval.
    pub jitter: Duration,
}

impl TrafficSpec {
    /// The spec of one direction of a game profile, with the default jitter: a tenth of the
    /// interval, at most [`DEFAULT_JITTER_CAP`].
    pub fn from_profile(profile: &GameProfile, direction: Direction) -> TrafficSpec {
        let shape = profile.traffic(direction);
        let interval_us = 1_000_000 / u64::from(shape.pps.max(1));
        let cap_us = DEFAULT_JITTER_CAP.as_micros() as u64;
        TrafficSpec {
            pps: shape.pps,
            size_min: usize::from(shape.size.min),
            size_mean: usize::from(shape.size.mean),
            size_max: usize::from(shape.size.max),
            jitter: Duration::from_micros((interval_us / 10).min(cap_us)),
        }
    }

    /// The nominal interval between packets, rounded down to whole microseconds.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.pps.max(1)))
    }

    /// Checks the spec; [`GameTraffic::from_spec`] calls this.
    pub fn validate(&self) -> Result<(), TrafficError> {
        if self.pps == 0 || self.pps > MAX_PPS {
            return Err(TrafficError::Rate { pps: self.pps });
        }
        if !(self.size_min <= self.size_mean && self.size_mean <= self.size_max) {
            return Err(TrafficError::SizeOrder {
                min: self.size_min,
                mean: self.size_mean,
                max: self.size_max,
            });
        }
        if self.size_max > MAX_SIZE {
            return Err(TrafficError::SizeTooLarge { max: self.size_max });
        }
        let interval_us = 1_000_000 / u64::from(self.pps);
        let jitter_us = u64::try_from(self.jitter.as_micros()).unwrap_or(u64::MAX);
        if jitter_us >= interval_us {
            return Err(TrafficError::JitterTooLarge {
                jitter_us,
                interval_us,
            });
        }
        Ok(())
    }

    /// Probability that a size is drawn from the lower half `[min, mean]`, chosen so the
    /// expectation is exactly `mean`.
    pub fn low_share(&self) -> f64 {
        let span = self.size_max.saturating_sub(self.size_min);
        if span == 0 {
            return 1.0;
        }
        self.size_max.saturating_sub(self.size_mean) as f64 / span as f64
    }
}

/// An endless, seeded send schedule for one direction of one game flow.
///
/// Each call to [`GameTraffic::next_send`] returns the next packet's send time and size.
/// It is also an [`Iterator`] that never ends (use `take`).
#[derive(Debug, Clone)]
pub struct GameTraffic {
    spec: TrafficSpec,
    start: Micros,
    tick: u64,
    jitter_us: u64,
    low_share: f64,
    rng: ChaCha8Rng,
}

impl GameTraffic {
    /// Traffic shaped like `profile` in `direction` (see [`TrafficSpec::from_profile`]),
    /// starting at time zero. Fails only if the profile's numbers are invalid.
    pub fn new(
        profile: &GameProfile,
        direction: Direction,
        seed: u64,
    ) -> Result<GameTraffic, TrafficError> {
        GameTraffic::from_spec(TrafficSpec::from_profile(profile, direction), seed)
    }

    /// Traffic following an explicit spec, starting at time zero.
    pub fn from_spec(spec: TrafficSpec, seed: u64) -> Result<GameTraffic, TrafficError> {
        spec.validate()?;
        Ok(GameTraffic {
            jitter_us: u64::try_from(spec.jitter.as_micros()).unwrap_or(u64::MAX),
            low_share: spec.low_share(),
            spec,
            start: Micros::ZERO,
            tick: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// The same traffic with its first tick at `start` (to offset flows from each other).
    pub fn starting_at(mut self, start: Micros) -> GameTraffic {
        self.start = start;
        self
    }

    /// The spec being followed.
    pub fn spec(&self) -> &TrafficSpec {
        &self.spec
    }

    /// How many packets have been scheduled so far.
    pub fn scheduled(&self) -> u64 {
        self.tick
    }

    /// The nominal (jitter-free) time of tick `k`: `start + floor(k * 1e6 / pps)` µs.
    pub fn tick_time(&self, k: u64) -> Micros {
        let offset = u128::from(k) * 1_000_000 / u128::from(self.spec.pps.max(1));
        let offset = u64::try_from(offset).unwrap_or(u64::MAX);
        Micros(self.start.0.saturating_add(offset))
    }

    /// The next packet: its send time (strictly after the previous one) and its size in bytes.
    pub fn next_send(&mut self) -> (Micros, usize) {
        let nominal = self.tick_time(self.tick);
        self.tick = self.tick.saturating_add(1);
        let late = if self.jitter_us == 0 {
            0
        } else {
            self.rng.random_range(0..=self.jitter_us)
        };
        let at = Micros(nominal.0.saturating_add(late));
        (at, self.draw_size())
    }

    fn draw_size(&mut self) -> usize {
        let s = &self.spec;
        if s.size_min == s.size_max {
            return s.size_min;
        }
        // `random::<f64>()` is in [0, 1), so a share of 1.0 always picks the low half.
        if self.rng.random::<f64>() < self.low_share {
            self.rng.random_range(s.size_min..=s.size_mean)
        } else {
            self.rng.random_range(s.size_mean..=s.size_max)
        }
    }
}

impl Iterator for GameTraffic {
    type Item = (Micros, usize);

    fn next(&mut self) -> Option<(Micros, usize)> {
        Some(self.next_send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightspeed_edge::profiles::{profile, profiles};

    fn spec(pps: u32, min: usize, mean: usize, max: usize, jitter_us: u64) -> TrafficSpec {
        TrafficSpec {
            pps,
            size_min: min,
            size_mean: mean,
            size_max: max,
            jitter: Duration::from_micros(jitter_us),
        }
    }

    #[test]
    fn sends_stay_on_the_tick_clock_within_the_jitter() {
        // 64 pps: nominal interval 15_625 µs exactly.
        let mut t = GameTraffic::from_spec(spec(64, 60, 120, 300, 500), 7)
            .expect("valid")
            .starting_at(Micros(1_000));
        let mut prev = None;
        let mut lateness = Vec::new();
        for k in 0..10_000u64 {
            let (at, _) = t.next_send();
            let nominal = 1_000 + k * 15_625;
            assert!(at.0 >= nominal && at.0 <= nominal + 500, "tick {k}: {at:?}");
            lateness.push(at.0 - nominal);
            if let Some(p) = prev {
                assert!(at > p, "tick {k} not after the previous send");
            }
            prev = Some(at);
        }
        // The displacement is really random: it spans most of [0, 500] and is not constant.
        assert!(lateness.iter().any(|&l| l < 50) && lateness.iter().any(|&l| l > 450));
        // Mean rate: 9_999 intervals over 9_999 * 15_625 µs ± 500 µs.
        let elapsed = prev.map_or(0, |p| p.0) as f64 - 1_000.0;
        let rate = 9_999.0 / (elapsed / 1e6);
        let tol = 64.0 * 500.0 / (9_999.0 * 15_625.0);
        assert!((rate - 64.0).abs() <= tol + 1e-9, "rate {rate}");
        assert_eq!(t.scheduled(), 10_000);
    }

    #[test]
    fn fractional_intervals_do_not_drift() {
        // 63 pps: 15_873.015... µs, floors must not accumulate.
        let mut t = GameTraffic::from_spec(spec(63, 60, 60, 60, 0), 1).expect("valid");
        let times: Vec<_> = (0..=63 * 100).map(|_| t.next_send().0.0).collect();
        assert_eq!(times.first(), Some(&0));
        assert_eq!(
            times.last(),
            Some(&100_000_000),
            "exactly 100 s for 6_300 packets"
        );
        let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|&g| g == 15_873 || g == 15_874));
    }

    /// Mean of `n` draws is within 5 standard errors of `mean`, using the bound
    /// sd <= (max - min) / 2 that holds for any law on [min, max].
    fn assert_mean_size(s: TrafficSpec, n: usize, seed: u64) {
        let mut t = GameTraffic::from_spec(s, seed).expect("valid");
        let mut sum = 0u64;
        let mut low = 0usize;
        for _ in 0..n {
            let (_, size) = t.next_send();
            assert!(
                (s.size_min..=s.size_max).contains(&size),
                "{size} out of {s:?}"
            );
            sum += size as u64;
            if size < s.size_mean {
                low += 1;
            }
        }
        let observed = sum as f64 / n as f64;
        let tol = 5.0 * (s.size_max - s.size_min) as f64 / 2.0 / (n as f64).sqrt();
        assert!(
            (observed - s.size_mean as f64).abs() <= tol,
            "{s:?}: mean {observed} vs {} ± {tol}",
            s.size_mean
        );
        // Below-mean sizes come only from the low half, which is picked with the low share
        // and then lands on `mean` itself with probability 1/(mean-min+1).
        let p = s.low_share() * (1.0 - 1.0 / (s.size_mean - s.size_min + 1) as f64);
        let share = low as f64 / n as f64;
        let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-12;
        assert!((share - p).abs() <= tol, "{s:?}: low share {share} vs {p}");
    }

    #[test]
    fn sizes_match_the_mean_and_stay_in_bounds() {
        assert_mean_size(spec(30, 60, 300, 1200, 0), 200_000, 1);
        assert_mean_size(spec(30, 60, 110, 300, 0), 200_000, 2);
        assert_mean_size(spec(30, 20, 20, 20, 0), 1_000, 3);
        assert_mean_size(spec(30, 100, 100, 900, 0), 50_000, 4);
        assert_mean_size(spec(30, 100, 900, 900, 0), 50_000, 5);
    }

    #[test]
    fn every_game_profile_yields_valid_traffic_matching_its_means() {
        for p in profiles() {
            for dir in [Direction::ClientToServer, Direction::ServerToClient] {
                let s = TrafficSpec::from_profile(p, dir);
                assert_eq!(s.pps, p.traffic(dir).pps);
                assert!(s.jitter <= DEFAULT_JITTER_CAP && s.jitter < s.interval());
                assert!(GameTraffic::new(p, dir, 9).is_ok(), "{} {dir:?}", p.id);
                assert_mean_size(s, 50_000, 11);
            }
        }
    }

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        let cs2 = profile("cs2").expect("cs2");
        let run = |seed| {
            GameTraffic::new(cs2, Direction::ServerToClient, seed)
                .expect("valid")
                .take(1_000)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        assert_eq!(run(42).len(), 1_000);
    }

    #[test]
    fn invalid_specs_are_refused_with_the_reason() {
        let bad = |s: TrafficSpec| GameTraffic::from_spec(s, 0).map(|_| ()).unwrap_err();
        assert_eq!(bad(spec(0, 60, 100, 200, 0)), TrafficError::Rate { pps: 0 });
        assert_eq!(
            bad(spec(MAX_PPS + 1, 60, 100, 200, 0)),
            TrafficError::Rate { pps: MAX_PPS + 1 }
        );
        assert_eq!(
            bad(spec(30, 60, 40, 200, 0)),
            TrafficError::SizeOrder {
                min: 60,
                mean: 40,
                max: 200
            }
        );
        assert_eq!(
            bad(spec(30, 60, 100, 70_000, 0)),
            TrafficError::SizeTooLarge { max: 70_000 }
        );
        // 128 pps: 7_812 µs interval; a jitter of one full interval could reorder sends.
        assert_eq!(
            bad(spec(128, 60, 100, 200, 7_812)),
            TrafficError::JitterTooLarge {
                jitter_us: 7_812,
                interval_us: 7_812
            }
        );
        assert!(GameTraffic::from_spec(spec(128, 60, 100, 200, 7_811), 0).is_ok());
        assert!(GameTraffic::from_spec(spec(MAX_PPS, 20, 20, 20, 99), 0).is_ok());
    }
}
