//! Dead-path detection, failover timing and the multipath duplicate switch (pure).
//!
//! A path is alive while packets keep coming back on it: the game's own downstream traffic
//! carrying echoes of the edge's timestamps, and keepalive echoes when the game is quiet.
//! [`PathLiveness`] declares it dead after `max(gaps × packet gap, floor)` of silence while
//! the edge has been sending. The caller then vetoes the path in the
//! [`super::policy::PathPolicy`], whose next decision moves the session to the next best
//! path; [`FailoverClock`] records how long that took.
//!
//! Worst case from the fault to the first packet delivered on the new path
//! ([`failover_budget`]): echoes already past the fault keep arriving for up to half the old
//! RTT, then the silence threshold, then up to one packet gap until the game's next packet,
//! then half the new RTT to reach the proxy.
//!
//! The detector, the clock and the duplicate gate are pure cores the edge's data plane runs,
//! so they live in `lightspeed_mesh::dataplane` and are re-exported here; the budget is a
//! routing figure.

use std::time::Duration;

pub use lightspeed_mesh::dataplane::liveness::{
    FailoverClock, FailoverRecord, Liveness, LivenessConfig, PathLiveness, packet_gap,
};
pub use lightspeed_mesh::dataplane::multipath::{DuplicateGate, MultipathConfig, MultipathMode};

/// Worst-case time from a fault to the first packet delivered on the new path (see the
/// module doc): `old_rtt / 2 + threshold + gap + new_rtt / 2`.
pub fn failover_budget(
    threshold: Duration,
    gap: Duration,
    old_rtt: Duration,
    new_rtt: Duration,
) -> Duration {
    (old_rtt / 2)
        .saturating_add(threshold)
        .saturating_add(gap)
        .saturating_add(new_rtt / 2)
}
