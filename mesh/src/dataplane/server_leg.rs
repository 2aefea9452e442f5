//! The proxy → game server leg's RTT, estimated from the game traffic itself (pure).
//!
//! The proxy cannot query every game server (and may not be allowed to: probing is the
//! operator's choice, `server_probe.rs`), but it sees both directions of the game:
//! the time an upstream datagram went to the server and the time the server's next datagram
//! came back. That difference is one sample. One sample is outstanding at a time (no
//! allocation, no per-packet bookkeeping): the oldest unanswered upstream datagram, replaced
//! once it is older than [`SAMPLE_BOUND`] (the server did not answer it, or answers nothing).
//!
//! Where it holds: the leg must be shorter than the interval between the game's upstream
//! datagrams (the usual case: a proxy sits next to the game server, a leg of a few ms against
//! 8-33 ms between packets). Then it is an **upper bound** of the network RTT: for a
//! request/response server it is RTT plus the server's processing time; a server that sends
//! on its own tick answers on the next tick, so the sample is the network RTT plus up to one
//! tick interval (tick-aligned delay). The minimum is kept beside the smoothed value for that
//! reason: it is the closest to the bare network RTT.
//!
//! Where it does not: with a leg longer than the packet interval and continuous traffic,
//! the next server datagram answers an *earlier* request, and datagrams carry nothing to tell
//! which, so the sample is the leg modulo the interval — an underestimate (the simulator's
//! 10 ms server link, 2 × 10 ms + rounding ≈ 22 ms at 64 pps, read 6.7 ms; a 3 ms link read
//! 8.5 ms, matching the 8.4 ms it added to the players' RTT). The node test `server_probe`
//! (a 30.8 ms leg, 64 pps) read 15.2-15.5 ms here, the leg minus one 15.6 ms interval.
//!
//! Where the server answers a query, `server_probe.rs` times the leg directly (31 ms in that
//! test) and `ProxySession::stats` reports that figure instead while it is current.

use std::time::Duration;

use lightspeed_protocol::Micros;

/// A server datagram arriving later than this after the upstream one is not taken as its
/// answer (the server ignored it, or the game is idle upstream): 1 s is far above any game
/// server's tick interval plus an Internet RTT, and below any idle pause worth measuring.
pub const SAMPLE_BOUND: Duration = Duration::from_secs(1);

/// The server leg's estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerLeg {
    pending: Option<Micros>,
    srtt_us: u64,
    min_us: Option<u64>,
    samples: u64,
}

impl ServerLeg {
    /// A game datagram went to the server at `now`.
    pub fn on_upstream(&mut self, now: Micros) {
        let stale = self
            .pending
            .is_none_or(|t| now.saturating_since(t) > SAMPLE_BOUND);
        if stale {
            self.pending = Some(now);
        }
    }

    /// A datagram from the server arrived at `now`: takes a sample when one is outstanding
    /// and young enough.
    pub fn on_downstream(&mut self, now: Micros) {
        let Some(sent) = self.pending.take() else {
            return;
        };
        let rtt = now.saturating_since(sent);
        if rtt > SAMPLE_BOUND {
            return;
        }
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        // Same smoothing as the tunnel's srtt (RFC 6298, α = 1/8), so the two add up.
        self.srtt_us = if self.samples == 0 {
            us
        } else {
            (self.srtt_us.saturating_mul(7).saturating_add(us)) / 8
        };
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.samples = self.samples.saturating_add(1);
    }

    /// Smoothed server leg RTT, µs; `None` before the first sample.
    pub fn srtt_us(&self) -> Option<u64> {
        (self.samples > 0).then_some(self.srtt_us)
    }

    /// Smallest sample so far, µs.
    pub fn min_us(&self) -> Option<u64> {
        self.min_us
    }

    /// Samples taken.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Micros {
        Micros(v * 1000)
    }

    #[test]
    fn request_then_reply_gives_the_difference() {
        let mut leg = ServerLeg::default();
        assert_eq!(leg.srtt_us(), None);
        leg.on_upstream(ms(100));
        leg.on_downstream(ms(140));
        assert_eq!(leg.srtt_us(), Some(40_000));
        assert_eq!(leg.min_us(), Some(40_000));
        assert_eq!(leg.samples(), 1);
    }

    #[test]
    fn smooths_like_srtt_and_keeps_the_min() {
        let mut leg = ServerLeg::default();
        leg.on_upstream(ms(0));
        leg.on_downstream(ms(40));
        leg.on_upstream(ms(100));
        leg.on_downstream(ms(120));
        // (40 * 7 + 20) / 8 = 37.5 ms
        assert_eq!(leg.srtt_us(), Some(37_500));
        assert_eq!(leg.min_us(), Some(20_000));
        assert_eq!(leg.samples(), 2);
    }

    #[test]
    fn one_sample_outstanding_from_the_oldest_send() {
        let mut leg = ServerLeg::default();
        leg.on_upstream(ms(0));
        leg.on_upstream(ms(16));
        leg.on_upstream(ms(33));
        leg.on_downstream(ms(50));
        assert_eq!(leg.srtt_us(), Some(50_000));
        // A second server datagram with nothing outstanding is no sample.
        leg.on_downstream(ms(66));
        assert_eq!(leg.samples(), 1);
    }

    #[test]
    fn late_or_unsolicited_replies_are_not_samples() {
        let mut leg = ServerLeg::default();
        leg.on_downstream(ms(5));
        leg.on_upstream(ms(10));
        leg.on_downstream(ms(1_011));
        assert_eq!(leg.samples(), 0);
        // The late reply consumed the outstanding send; the next pair measures afresh.
        leg.on_upstream(ms(2_000));
        leg.on_downstream(ms(2_030));
        assert_eq!(leg.srtt_us(), Some(30_000));
    }

    #[test]
    fn an_unanswered_send_is_replaced_after_the_bound() {
        let mut leg = ServerLeg::default();
        leg.on_upstream(ms(0));
        leg.on_upstream(ms(1_500));
        leg.on_downstream(ms(1_525));
        assert_eq!(leg.srtt_us(), Some(25_000));
    }
}
