//! Data-plane counters: lock-free atomics the packet loops bump and the admin endpoint reads.
//!
//! Every dropped packet is counted under exactly one [`DropReason`]; nothing on the packet path
//! logs per packet. The node's `/metrics` exporter reads these at scrape time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Which way a packet travels, from the game's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the game client towards the game server.
    Upstream,
    /// From the game server back towards the game client.
    Downstream,
}

impl Direction {
    /// All directions, in index order.
    pub const ALL: [Direction; 2] = [Direction::Upstream, Direction::Downstream];

    /// Label used in metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }
}

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $name:ident => $label:literal,)*) => {
        /// Why the data plane dropped a packet. One counter per reason.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DropReason { $($(#[$doc])* $name,)* }

        impl DropReason {
            /// Every reason, in index order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// Label used in metrics (`drops_total{reason="..."}`).
            pub const fn as_str(self) -> &'static str {
                match self { $(DropReason::$name => $label,)* }
            }
        }
    };
}

drop_reasons! {
    /// Shorter than a header.
    Truncated => "truncated",
    /// Longer than any valid packet.
    TooLong => "too_long",
    /// Unsupported protocol version.
    BadVersion => "bad_version",
    /// Unknown packet type.
    UnknownType => "unknown_type",
    /// Payload length not allowed for the type.
    BadLength => "bad_length",
    /// FEC fields inconsistent with the type.
    BadFecField => "bad_fec_field",
    /// Session id zero.
    ZeroSession => "zero_session",
    /// No such session in the table.
    UnknownSession => "unknown_session",
    /// MAC mismatch: forged, corrupted or wrong key.
    BadMac => "bad_mac",
    /// Sequence number already seen.
    Replay => "replay",
    /// Sequence number older than the replay window.
    TooOld => "too_old",
    /// Session known but not bound yet, or packet from an address other than the bound one.
    NotBound => "not_bound",
    /// A packet type this node's role does not accept here.
    WrongType => "wrong_type",
    /// Per-session rate limit (after authentication).
    RateLimited => "rate_limited",
    /// The source address sent too many bad packets recently; dropped unread.
    SourceRateLimited => "source_rate_limited",
    /// The FEC decoder refused the packet (bad field or malformed parity).
    FecRejected => "fec_rejected",
    /// FEC duplicate: the packet had already been delivered or recovered.
    FecDuplicate => "fec_duplicate",
    /// The session or flow table is full.
    TableFull => "table_full",
    /// Game flow waiting for its session to be set up.
    FlowPending => "flow_pending",
    /// Game flow whose session set-up failed, backing off before it asks again.
    FlowRefused => "flow_refused",
    /// The socket refused the send.
    SendFailed => "send_failed",
    /// An authenticated link probe beyond the answers one source address gets per second
    /// (see `link_probe.rs`).
    ProbeRateLimited => "probe_rate_limited",
    /// The later copy of a packet a multipath session sent on both of its paths (the
    /// replay window kept the first): multipath overhead, not loss or attack.
    Deduplicated => "deduplicated",
}

/// RTT histogram bucket upper bounds, seconds (Prometheus convention). Chosen around game
/// latencies: sub-millisecond loopback up to a 1 s outlier.
pub const RTT_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
];

/// Counters shared by every packet loop of a node.
#[derive(Debug)]
pub struct Counters {
    packets: [AtomicU64; 2],
    bytes: [AtomicU64; 2],
    drops: Vec<AtomicU64>,
    fec_recovered: AtomicU64,
    fec_parity_sent: AtomicU64,
    rtt_buckets: [AtomicU64; RTT_BUCKETS.len() + 1],
    rtt_sum_us: AtomicU64,
    rtt_count: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            packets: Default::default(),
            bytes: Default::default(),
            drops: DropReason::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            fec_recovered: AtomicU64::new(0),
            fec_parity_sent: AtomicU64::new(0),
            rtt_buckets: Default::default(),
            rtt_sum_us: AtomicU64::new(0),
            rtt_count: AtomicU64::new(0),
        }
    }
}

/// A histogram read at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct RttSnapshot {
    /// Count per bucket of [`RTT_BUCKETS`] (not cumulative), plus a final `+Inf` bucket.
    pub buckets: Vec<u64>,
    /// Sum of all samples, seconds.
    pub sum_seconds: f64,
    /// Number of samples.
    pub count: u64,
}

impl Counters {
    /// Counts one forwarded or delivered packet of `len` bytes.
    pub fn packet(&self, dir: Direction, len: usize) {
        self.packets[dir as usize].fetch_add(1, Relaxed);
        self.bytes[dir as usize].fetch_add(len as u64, Relaxed);
    }

    /// Counts one dropped packet.
    pub fn dropped(&self, reason: DropReason) {
        if let Some(c) = self.drops.get(reason as usize) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Counts one packet rebuilt by FEC.
    pub fn fec_recovered(&self) {
        self.fec_recovered.fetch_add(1, Relaxed);
    }

    /// Counts one parity packet sent.
    pub fn fec_parity_sent(&self) {
        self.fec_parity_sent.fetch_add(1, Relaxed);
    }

    /// Records one RTT sample.
    pub fn rtt(&self, rtt: Duration) {
        let secs = rtt.as_secs_f64();
        let idx = RTT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(RTT_BUCKETS.len());
        self.rtt_buckets[idx].fetch_add(1, Relaxed);
        self.rtt_sum_us
            .fetch_add(rtt.as_micros().min(u128::from(u64::MAX)) as u64, Relaxed);
        self.rtt_count.fetch_add(1, Relaxed);
    }

    /// Packets counted in a direction.
    pub fn packets(&self, dir: Direction) -> u64 {
        self.packets[dir as usize].load(Relaxed)
    }

    /// Bytes counted in a direction.
    pub fn bytes(&self, dir: Direction) -> u64 {
        self.bytes[dir as usize].load(Relaxed)
    }

    /// Drops counted for a reason.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops
            .get(reason as usize)
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Packets recovered by FEC.
    pub fn recovered(&self) -> u64 {
        self.fec_recovered.load(Relaxed)
    }

    /// Parity packets sent.
    pub fn parity_sent(&self) -> u64 {
        self.fec_parity_sent.load(Relaxed)
    }

    /// The RTT histogram now.
    pub fn rtt_snapshot(&self) -> RttSnapshot {
        RttSnapshot {
            buckets: self.rtt_buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_seconds: self.rtt_sum_us.load(Relaxed) as f64 / 1e6,
            count: self.rtt_count.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason_direction_and_bucket() {
        let c = Counters::default();
        c.packet(Direction::Upstream, 100);
        c.packet(Direction::Upstream, 50);
        c.dropped(DropReason::BadMac);
        c.dropped(DropReason::BadMac);
        c.dropped(DropReason::SendFailed);
        c.rtt(Duration::from_micros(700));
        c.rtt(Duration::from_secs(2));
        assert_eq!(c.packets(Direction::Upstream), 2);
        assert_eq!(c.bytes(Direction::Upstream), 150);
        assert_eq!(c.packets(Direction::Downstream), 0);
        assert_eq!(c.drops(DropReason::BadMac), 2);
        assert_eq!(c.drops(DropReason::SendFailed), 1);
        let h = c.rtt_snapshot();
        assert_eq!(h.count, 2);
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets[RTT_BUCKETS.len()], 1);
        assert!((h.sum_seconds - 2.0007).abs() < 1e-9);
        assert_eq!(DropReason::ALL.len(), 23);
    }
}
