//! What a link does to packets: [`LinkConfig`] and its validation.

use std::time::Duration;

use lightspeed_protocol::time::Micros;
use serde::{Deserialize, Serialize};

use super::loss::LossModel;
use super::serde_time;

/// Largest accepted base delay or jitter scale: a minute is far beyond any terrestrial or
/// satellite path, so a larger value is a unit mistake (seconds given as microseconds).
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// Largest accepted [`LinkConfig::max_in_flight`]: about a million packets, which already
/// means tens of megabytes for one link; more is a mistake, not a scenario.
pub const MAX_IN_FLIGHT_LIMIT: usize = 1 << 20;

/// Largest accepted number of scheduled outages on one link; scenario timelines have a
/// handful, and the list is searched on every send.
pub const MAX_OUTAGES: usize = 4096;

/// How the random extra delay ("jitter") added on top of [`LinkConfig::delay`] is drawn.
///
/// The extra delay is never negative: the base delay is the floor, as propagation delay is on
/// a real path. Samples are rounded to whole microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JitterDistribution {
    /// Exponential with mean `jitter` (so standard deviation `jitter` too), like the waiting
    /// time in a lightly loaded queue. Tail: ≤ 37 × `jitter` (the sampler's resolution).
    #[default]
    Exponential,
    /// Half-normal: `|N(0, jitter²)|`, i.e. a normal reflected at zero. Mean
    /// `jitter·√(2/π)` ≈ 0.798·`jitter`, standard deviation `jitter·√(1−2/π)` ≈
    /// 0.603·`jitter`. Tail: ≤ 8.6 × `jitter`.
    HalfNormal,
}

/// A scheduled window `[start, end)` during which every packet offered to the link is dropped
/// (counted as [`DropReason::Outage`](super::DropReason::Outage)).
///
/// Times are absolute on the driver's clock. Packets already in flight when the window opens
/// are still delivered: the window applies to the moment of sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// First instant of the outage (serialized as `start_us`, microseconds).
    #[serde(rename = "start_us", with = "serde_time::micros")]
    pub start: Micros,
    /// First instant after the outage (serialized as `end_us`, microseconds); must be later
    /// than `start`.
    #[serde(rename = "end_us", with = "serde_time::micros")]
    pub end: Micros,
}

impl Outage {
    /// Whether `now` falls inside the window.
    pub fn contains(&self, now: Micros) -> bool {
        self.start <= now && now < self.end
    }
}

/// Configuration of one directed link. [`LinkConfig::default`] is a perfect link: no delay,
/// no loss, no cap; every packet is released at the instant it is sent.
///
/// A packet offered at `now` goes through these stages, in order:
/// 1. outage: dropped if the link is down or `now` is inside an [`Outage`];
/// 2. bottleneck: with [`rate_bps`](Self::rate_bps), it joins a FIFO transmit queue of at most
///    [`queue_limit_bytes`](Self::queue_limit_bytes) (tail drop) and leaves it after its
///    serialization time;
/// 3. loss: dropped according to [`loss`](Self::loss);
/// 4. duplication: with probability [`duplicate`](Self::duplicate) a copy is made; the copy
///    goes through stage 5 on its own;
/// 5. propagation: released `delay + jitter` later, never before a packet that was sent
///    earlier (FIFO), unless it is picked for reordering (see [`reorder`](Self::reorder)).
///
/// Serialized field names carry their unit (`delay_us`, …); every field has a default, so a
/// scenario file names only what differs from a perfect link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Base one-way delay, the minimum any packet takes. Default 0. At most [`MAX_DELAY`].
    /// Serialized as `delay_us` (microseconds).
    #[serde(rename = "delay_us", with = "serde_time::duration")]
    pub delay: Duration,
    /// Scale of the random extra delay; its meaning depends on
    /// [`jitter_distribution`](Self::jitter_distribution). Default 0 (no jitter). At most
    /// [`MAX_DELAY`]. Serialized as `jitter_us` (microseconds).
    ///
    /// Jitter alone never reorders: a packet whose draw would release it before an earlier
    /// packet waits for that packet, as in a real FIFO queue. Hence, when packets are sent
    /// closer together than the jitter, the delivered extra delay is larger than the drawn
    /// one.
    #[serde(rename = "jitter_us", with = "serde_time::duration")]
    pub jitter: Duration,
    /// Distribution of the extra delay. Default [`JitterDistribution::Exponential`].
    pub jitter_distribution: JitterDistribution,
    /// Packet loss model. Default [`LossModel::None`].
    pub loss: LossModel,
    /// Probability in `[0, 1]` that a packet is held back by
    /// [`reorder_hold`](Self::reorder_hold) beyond the time it would otherwise be released,
    /// without holding back the packets behind it: packets sent up to `reorder_hold` after it
    /// overtake it. Held packets keep their order among themselves. Default 0 (strict FIFO).
    pub reorder: f64,
    /// How far a packet picked for reordering falls behind. Default 20 ms: longer than one
    /// 60 Hz game tick (16.7 ms), so a held game packet really is overtaken by the next tick.
    /// At most [`MAX_DELAY`]. Serialized as `reorder_hold_us` (microseconds).
    #[serde(rename = "reorder_hold_us", with = "serde_time::duration")]
    pub reorder_hold: Duration,
    /// Probability in `[0, 1]` that a packet surviving loss is delivered twice. Default 0.
    pub duplicate: f64,
    /// Bottleneck rate in bits per second; `None` (default) means no cap. Must not be 0.
    pub rate_bps: Option<u64>,
    /// Capacity of the bottleneck queue in bytes, counting the packet being serialized; a
    /// packet that would exceed it is tail-dropped
    /// ([`DropReason::QueueFull`](super::DropReason::QueueFull)). Only used with
    /// [`rate_bps`](Self::rate_bps). Default 64 KiB: a small home-router buffer, ~50 ms at
    /// 10 Mbit/s, so a saturated link shows queueing delay without hiding loss. Must be > 0.
    pub queue_limit_bytes: usize,
    /// Hard cap on packets held by the emulator (in propagation, held for reordering, or
    /// waiting in the bottleneck). Beyond it packets are dropped
    /// ([`DropReason::InFlightFull`](super::DropReason::InFlightFull)). Bounds memory per
    /// link. Default 65 536: 1 Gbit/s of 1 200-byte packets over 500 ms is ~52 000 packets.
    /// Must be in `1..=`[`MAX_IN_FLIGHT_LIMIT`].
    pub max_in_flight: usize,
    /// Scheduled outages, sorted by start, non-overlapping, each non-empty. Default none.
    /// At most [`MAX_OUTAGES`].
    pub outages: Vec<Outage>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_distribution: JitterDistribution::Exponential,
            loss: LossModel::None,
            reorder: 0.0,
            reorder_hold: Duration::from_millis(20),
            duplicate: 0.0,
            rate_bps: None,
            queue_limit_bytes: 64 * 1024,
            max_in_flight: 65_536,
            outages: Vec::new(),
        }
    }
}

/// Why a [`LinkConfig`] (or a [`LossModel`] constructor) was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkConfigError {
    /// A probability is NaN or outside `[0, 1]`; `field` names it (e.g. `"loss.p"`).
    #[error("{field} must be a probability in [0, 1], got {value}")]
    Probability {
        /// Which field.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A delay-like duration exceeds [`MAX_DELAY`].
    #[error("{field} of {value:?} exceeds the maximum of {MAX_DELAY:?}")]
    DelayTooLarge {
        /// Which field.
        field: &'static str,
        /// The rejected value.
        value: Duration,
    },
    /// `rate_bps` is `Some(0)`; a link that never transmits is an outage, not a rate.
    #[error("rate_bps must be positive")]
    ZeroRate,
    /// `queue_limit_bytes` is 0, which would drop every packet.
    #[error("queue_limit_bytes must be positive")]
    ZeroQueueLimit,
    /// `max_in_flight` is 0 or above [`MAX_IN_FLIGHT_LIMIT`].
    #[error("max_in_flight must be in 1..={MAX_IN_FLIGHT_LIMIT}, got {0}")]
    InFlightLimit(usize),
    /// More than [`MAX_OUTAGES`] outages.
    #[error("at most {MAX_OUTAGES} outages, got {0}")]
    TooManyOutages(usize),
    /// Outage number `index` has `end <= start`.
    #[error("outage {index} is empty: end {end:?} is not after start {start:?}")]
    EmptyOutage {
        /// Position in [`LinkConfig::outages`].
        index: usize,
        /// Its start.
        start: Micros,
        /// Its end.
        end: Micros,
    },
    /// Outage number `index` starts before outage `index - 1` ends (unsorted or overlapping).
    #[error("outage {index} starts at {start:?}, before the previous one ends at {previous_end:?}")]
    OutagesOutOfOrder {
        /// Position in [`LinkConfig::outages`] of the later outage.
        index: usize,
        /// Its start.
        start: Micros,
        /// End of the outage before it.
        previous_end: Micros,
    },
    /// A Gilbert-Elliott mean burst length is NaN or below one packet.
    #[error("mean burst length must be at least 1 packet, got {0}")]
    BurstLength(f64),
    /// The requested mean loss rate and burst length need a good-to-bad transition
    /// probability above 1 (loss rate too high for such short bursts).
    #[error("loss rate {loss_rate} is unreachable with mean bursts of {mean_burst} packets")]
    UnreachableLossRate {
        /// Requested mean loss rate.
        loss_rate: f64,
        /// Requested mean burst length.
        mean_burst: f64,
    },
}

/// Checks that `value` is a probability, naming `field` if not.
pub(crate) fn check_probability(field: &'static str, value: f64) -> Result<(), LinkConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(LinkConfigError::Probability { field, value })
    }
}

fn check_delay(field: &'static str, value: Duration) -> Result<(), LinkConfigError> {
    if value <= MAX_DELAY {
        Ok(())
    } else {
        Err(LinkConfigError::DelayTooLarge { field, value })
    }
}

impl LinkConfig {
    /// Checks every field against the ranges documented on it; the first problem found is
    /// returned. [`Link`](super::Link) only ever runs validated configurations.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        check_delay("delay", self.delay)?;
        check_delay("jitter", self.jitter)?;
        check_delay("reorder_hold", self.reorder_hold)?;
        self.loss.validate()?;
        check_probability("reorder", self.reorder)?;
        check_probability("duplicate", self.duplicate)?;
        if self.rate_bps == Some(0) {
            return Err(LinkConfigError::ZeroRate);
        }
        if self.queue_limit_bytes == 0 {
            return Err(LinkConfigError::ZeroQueueLimit);
        }
        if !(1..=MAX_IN_FLIGHT_LIMIT).contains(&self.max_in_flight) {
            return Err(LinkConfigError::InFlightLimit(self.max_in_flight));
        }
        self.validate_outages()
    }

    fn validate_outages(&self) -> Result<(), LinkConfigError> {
        if self.outages.len() > MAX_OUTAGES {
            return Err(LinkConfigError::TooManyOutages(self.outages.len()));
        }
        let mut previous_end: Option<Micros> = None;
        for (index, outage) in self.outages.iter().enumerate() {
            if outage.end <= outage.start {
                return Err(LinkConfigError::EmptyOutage {
                    index,
                    start: outage.start,
                    end: outage.end,
                });
            }
            if let Some(previous_end) = previous_end
                && outage.start < previous_end
            {
                return Err(LinkConfigError::OutagesOutOfOrder {
                    index,
                    start: outage.start,
                    previous_end,
                });
            }
            previous_end = Some(outage.end);
        }
        Ok(())
    }

    /// Whether `now` is inside one of the scheduled outages (binary search; the list is
    /// sorted and disjoint once validated).
    pub fn in_outage(&self, now: Micros) -> bool {
        let after = self.outages.partition_point(|o| o.start <= now);
        after
            .checked_sub(1)
            .and_then(|i| self.outages.get(i))
            .is_some_and(|o| o.contains(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outage(start: u64, end: u64) -> Outage {
        Outage {
            start: Micros(start),
            end: Micros(end),
        }
    }

    #[test]
    fn default_is_valid_and_perfect() {
        let c = LinkConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.delay, Duration::ZERO);
        assert_eq!(c.loss, LossModel::None);
        assert_eq!(c.rate_bps, None);
    }

    #[test]
    fn rejects_each_bad_field_with_its_own_error() {
        let bad = |f: fn(&mut LinkConfig)| {
            let mut c = LinkConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|c| c.reorder = f64::NAN),
            LinkConfigError::Probability {
                field: "reorder",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.duplicate = 1.5),
            LinkConfigError::Probability {
                field: "duplicate",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.loss = LossModel::Iid { p: -0.1 }),
            LinkConfigError::Probability {
                field: "loss.p",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.jitter = Duration::from_secs(61)),
            LinkConfigError::DelayTooLarge {
                field: "jitter",
                ..
            }
        ));
        assert_eq!(bad(|c| c.rate_bps = Some(0)), LinkConfigError::ZeroRate);
        assert_eq!(
            bad(|c| c.queue_limit_bytes = 0),
            LinkConfigError::ZeroQueueLimit
        );
        assert_eq!(
            bad(|c| c.max_in_flight = 0),
            LinkConfigError::InFlightLimit(0)
        );
        assert!(matches!(
            bad(|c| c.outages = vec![outage(5, 5)]),
            LinkConfigError::EmptyOutage { index: 0, .. }
        ));
        assert!(matches!(
            bad(|c| c.outages = vec![outage(0, 10), outage(9, 20)]),
            LinkConfigError::OutagesOutOfOrder { index: 1, .. }
        ));
        assert!(matches!(
            bad(|c| c.outages = vec![outage(30, 40), outage(0, 10)]),
            LinkConfigError::OutagesOutOfOrder { index: 1, .. }
        ));
        assert!(matches!(
            bad(|c| c.outages = vec![outage(0, 1); MAX_OUTAGES + 1]),
            LinkConfigError::TooManyOutages(_)
        ));
    }

    #[test]
    fn touching_outages_are_accepted_and_searched_half_open() {
        let c = LinkConfig {
            outages: vec![outage(10, 20), outage(20, 30), outage(50, 60)],
            ..LinkConfig::default()
        };
        assert_eq!(c.validate(), Ok(()));
        let inside: Vec<u64> = (0..70).filter(|&t| c.in_outage(Micros(t))).collect();
        let expected: Vec<u64> = (10..30).chain(50..60).collect();
        assert_eq!(inside, expected);
    }
}
