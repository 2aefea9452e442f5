//! The server-probe families of `/metrics` (`[proxy.server_probe]`): queries sent, answered
//! and lost, datagrams ignored, servers refused (table full) or denied (destination policy),
//! backoffs, servers tracked and backed off, a histogram of the probed RTT samples, and the
//! server leg's mean over current proxy sessions by source (`probe` or `passive`), so the two
//! estimates can be compared. No per-server labels: the series count is fixed.

use std::fmt;

use lightspeed_actors::server_probe::ServerProbeSnapshot;
use lightspeed_mesh::dataplane::counters::RTT_BUCKETS;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

fn counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(m)
}

fn gauge(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(m)
}

/// Encodes the server-probe families.
pub(crate) fn encode(enc: &mut DescriptorEncoder<'_>, s: &ServerProbeSnapshot) -> fmt::Result {
    let c = &s.counters;
    for (name, help, value) in [
        (
            "sent",
            "Game-server queries sent by the proxy's server prober.",
            c.sent,
        ),
        (
            "answered",
            "Game-server queries answered (each answer is one RTT sample).",
            c.answered,
        ),
        (
            "lost",
            "Game-server queries with no answer within 1 s.",
            c.lost,
        ),
        (
            "ignored",
            "Datagrams on the prober's sockets that answered no outstanding query.",
            c.ignored,
        ),
        (
            "refused",
            "Game servers not queried because the prober's table was full.",
            c.refused,
        ),
        (
            "denied",
            "Game servers not queried because the destination policy refuses them.",
            c.denied,
        ),
        (
            "backoffs",
            "Times a silent game server was backed off (or its backoff doubled).",
            c.backoffs,
        ),
    ] {
        counter(enc, &format!("lightspeed_server_probe_{name}"), help, value)?;
    }
    gauge(
        enc,
        "lightspeed_server_probe_targets",
        "Game servers the prober tracks now.",
        s.targets,
    )?;
    gauge(
        enc,
        "lightspeed_server_probe_backed_off",
        "Tracked game servers backed off now (not answering).",
        s.backed_off,
    )?;
    let mut cumulative = 0u64;
    let buckets: Vec<(f64, u64)> = RTT_BUCKETS
        .iter()
        .copied()
        .chain([f64::INFINITY])
        .zip(s.rtt_buckets.iter().copied())
        .map(|(le, n)| {
            cumulative += n;
            (le, cumulative)
        })
        .collect();
    let mut m = enc.encode_descriptor(
        "lightspeed_server_probe_rtt",
        "RTT samples of answered game-server queries.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    m.encode_histogram::<NoLabelSet>(s.rtt_sum_seconds, cumulative, &buckets, None)?;
    let mut m = enc.encode_descriptor(
        "lightspeed_server_rtt_mean",
        "Mean server leg RTT over current proxy sessions that have one, by estimate: probe (queries the server answered) or passive (timed from the game traffic). 0 when none.",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    for (source, (_, mean)) in [("probe", s.probed), ("passive", s.passive)] {
        let labels = [("source", source)];
        let v = mean.map_or(0.0, |us| us as f64 / 1e6);
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    let mut m = enc.encode_descriptor(
        "lightspeed_server_rtt_sessions",
        "Current proxy sessions with a server leg RTT, by estimate (probe, passive).",
        None,
        MetricType::Gauge,
    )?;
    for (source, (n, _)) in [("probe", s.probed), ("passive", s.passive)] {
        let labels = [("source", source)];
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        ConstGauge::new(n).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}
