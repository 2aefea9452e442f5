//! The session families of `/metrics`, from the [`SessionBook`]: FEC scheme changes, path
//! switches and ended sessions (counters), current sessions by FEC scheme kind, and the
//! per-session figures only as aggregates over current sessions (no session-id labels, so
//! the series count stays fixed whatever the number of sessions).

use std::fmt;

use lightspeed_actors::session_view::{SCHEME_KINDS, SessionBook};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

fn counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(m)
}

/// Encodes the session families.
pub(crate) fn encode(enc: &mut DescriptorEncoder<'_>, book: &SessionBook) -> fmt::Result {
    let t = book.totals();
    counter(
        enc,
        "lightspeed_fec_scheme_changes",
        "FEC scheme changes of sessions (both ends count one).",
        t.fec_changes,
    )?;
    counter(
        enc,
        "lightspeed_path_switches",
        "Path changes of sessions, failovers included.",
        t.path_switches,
    )?;
    counter(
        enc,
        "lightspeed_sessions_ended",
        "Sessions that ended (a summary was logged for each).",
        t.ended,
    )?;
    let mut m = enc.encode_descriptor(
        "lightspeed_sessions_by_fec",
        "Current sessions (edge and proxy ends) by FEC scheme kind.",
        None,
        MetricType::Gauge,
    )?;
    for (kind, n) in SCHEME_KINDS.iter().zip(t.by_scheme) {
        let labels = [("scheme", *kind)];
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        ConstGauge::new(n).encode(m.encode_family(&labels)?)?;
    }
    let mut m = enc.encode_descriptor(
        "lightspeed_session_loss_ratio",
        "Loss over current sessions, packet-weighted, before FEC (all packets) and after FEC (game datagrams), by direction.",
        None,
        MetricType::Gauge,
    )?;
    for (i, dir) in ["upstream", "downstream"].into_iter().enumerate() {
        let ratio = |lost: &[u64; 2], of: &[u64; 2]| {
            let (l, o) = (lost.get(i).copied(), of.get(i).copied());
            match (l, o) {
                (Some(l), Some(o)) if o > 0 => l as f64 / o as f64,
                _ => 0.0,
            }
        };
        for (stage, value) in [
            ("before_fec", ratio(&t.lost_before, &t.expected)),
            ("after_fec", ratio(&t.lost_after, &t.data_sent)),
        ] {
            let labels = [("direction", dir), ("stage", stage)];
            ConstGauge::new(value).encode(m.encode_family(&labels)?)?;
        }
    }
    let m = enc.encode_descriptor(
        "lightspeed_session_rtt_mean",
        "Mean smoothed RTT over current sessions that have one (0 when none).",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    ConstGauge::new(t.mean_rtt_us.map_or(0.0, |us| us as f64 / 1e6)).encode(m)
}
