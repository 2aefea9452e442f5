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
mod tests;
