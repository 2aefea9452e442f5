//! Time as the pure cores see it.
//!
//! Cores never read a clock: every input carries `now` as [`Micros`], microseconds on a
//! monotonic clock whose origin the driver chooses (process start for a real node, zero for a
//! simulation). A plain integer keeps simulated and real time interchangeable.

use std::ops::{Add, Sub};
use std::time::Duration;

/// Microseconds on the driver's monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub u64);

impl Micros {
    /// The clock's origin.
    pub const ZERO: Micros = Micros(0);

    /// Builds a time from milliseconds since the origin.
    pub const fn from_millis(ms: u64) -> Micros {
        Micros(ms * 1_000)
    }

    /// The 32-bit wrapping form carried in the data-plane header (wraps every ~71 minutes,
    /// which is fine for RTT arithmetic done with wrapping subtraction).
    pub const fn as_wire(self) -> u32 {
        self.0 as u32
    }

    /// Time elapsed since `earlier`, zero if `earlier` is in the future.
    pub const fn saturating_since(self, earlier: Micros) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Micros {
    type Output = Micros;
    fn add(self, rhs: Duration) -> Micros {
        Micros(
            self.0
                .saturating_add(rhs.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Micros> for Micros {
    type Output = Duration;
    fn sub(self, rhs: Micros) -> Duration {
        self.saturating_since(rhs)
    }
}

/// Round-trip time from a 32-bit wire timestamp echoed back to its sender.
///
/// `sent_wire` is the sender's [`Micros::as_wire`] at send time and `now` the sender's clock at
/// reception; `hold_us` is how long the peer held the probe before replying.
pub fn rtt_from_echo(now: Micros, sent_wire: u32, hold_us: u32) -> Duration {
    let elapsed = now.as_wire().wrapping_sub(sent_wire);
    Duration::from_micros(u64::from(elapsed.saturating_sub(hold_us)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_survives_wire_wraparound() {
        let sent = Micros(u64::from(u32::MAX) - 10);
        let now = Micros(u64::from(u32::MAX) + 990);
        assert_eq!(
            rtt_from_echo(now, sent.as_wire(), 0),
            Duration::from_micros(1_000)
        );
        assert_eq!(
            rtt_from_echo(now, sent.as_wire(), 400),
            Duration::from_micros(600)
        );
    }
}
