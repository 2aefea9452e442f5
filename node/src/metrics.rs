//! `/metrics`: the node's counters in the OpenMetrics text format, read at scrape time.
//!
//! Nothing is copied into prometheus-client's own metric types: a [`Collector`] reads the
//! data-plane [`Counters`] (lock-free atomics) when Prometheus scrapes, so the packet path pays
//! nothing for the exporter. Every drop reason is exported, zeros included, so dashboards and
//! alerts can reference any reason before it first happens.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lightspeed_actors::mesh_view::{MemberStatus, MeshView};
use lightspeed_actors::server_probe::ServerProbeStats;
use lightspeed_actors::session_view::SessionBook;
use lightspeed_mesh::dataplane::counters::RTT_BUCKETS;
use lightspeed_mesh::dataplane::{Counters, Direction, DropReason};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads the node's shared counters on each scrape.
#[derive(Debug)]
struct NodeCollector {
    counters: Arc<Counters>,
    sessions: Arc<AtomicUsize>,
    mesh: MeshView,
    book: SessionBook,
    probe: Arc<ServerProbeStats>,
}

fn counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(m)
}

/// One counter family with a `direction` label.
fn per_direction(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl Fn(Direction) -> u64,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for dir in Direction::ALL {
        let labels = [("direction", dir.as_str())];
        ConstCounter::new(value(dir)).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for NodeCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let c = &self.counters;

        per_direction(
            &mut enc,
            "lightspeed_packets",
            "Game packets forwarded or delivered, by direction.",
            |dir| c.packets(dir),
        )?;
        per_direction(
            &mut enc,
            "lightspeed_bytes",
            "Bytes of game packets forwarded or delivered, by direction.",
            |dir| c.bytes(dir),
        )?;

        let mut m = enc.encode_descriptor(
            "lightspeed_drops",
            "Packets dropped by the data plane, by reason.",
            None,
            MetricType::Counter,
        )?;
        for reason in DropReason::ALL {
            let labels = [("reason", reason.as_str())];
            let fam = m.encode_family(&labels)?;
            ConstCounter::new(c.drops(*reason)).encode(fam)?;
        }

        let sessions = i64::try_from(self.sessions.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let m = enc.encode_descriptor(
            "lightspeed_sessions",
            "Sessions currently in the session table.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(sessions).encode(m)?;

        counter(
            &mut enc,
            "lightspeed_fec_recovered",
            "Packets rebuilt from FEC parity.",
            c.recovered(),
        )?;
        counter(
            &mut enc,
            "lightspeed_fec_parity_sent",
            "FEC parity packets sent.",
            c.parity_sent(),
        )?;

        let snap = c.rtt_snapshot();
        let buckets: Vec<(f64, u64)> = RTT_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(snap.buckets.iter().copied())
            .collect();
        // The snapshot reads each atomic separately, so its `count` can disagree with the
        // buckets under concurrent updates; the format requires `_count` == the `+Inf` bucket.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let mut m = enc.encode_descriptor(
            "lightspeed_rtt",
            "Round-trip times measured on sessions.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        m.encode_histogram::<NoLabelSet>(snap.sum_seconds, count, &buckets, None)?;
        crate::session_metrics::encode(&mut enc, &self.book)?;
        crate::probe_metrics::encode(&mut enc, &self.probe.snapshot())?;
        self.encode_mesh(&mut enc)
    }
}

impl NodeCollector {
    /// Membership figures: members by state and gossip traffic (all zero without `[mesh]`).
    fn encode_mesh(&self, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let snap = self.mesh.read().clone();
        let mut m = enc.encode_descriptor(
            "lightspeed_mesh_members",
            "Mesh members this node knows, by membership state (itself included).",
            None,
            MetricType::Gauge,
        )?;
        for state in [
            MemberStatus::Alive,
            MemberStatus::Suspect,
            MemberStatus::Down,
            MemberStatus::Left,
        ] {
            let labels = [("state", state.as_str())];
            let n = i64::try_from(snap.count(state)).unwrap_or(i64::MAX);
            ConstGauge::new(n).encode(m.encode_family(&labels)?)?;
        }
        let c = snap.counters;
        for (dir, packets, bytes) in [
            ("sent", c.packets_sent, c.bytes_sent),
            ("received", c.packets_received, c.bytes_received),
        ] {
            counter(
                enc,
                &format!("lightspeed_gossip_{dir}_packets"),
                &format!("Membership datagrams {dir}."),
                packets,
            )?;
            counter(
                enc,
                &format!("lightspeed_gossip_{dir}_bytes"),
                &format!("Bytes of membership datagrams {dir}."),
                bytes,
            )?;
        }
        counter(
            enc,
            "lightspeed_gossip_refused_packets",
            "Received membership datagrams refused (undecodable, spoofed sender, oversized, table full).",
            c.refused,
        )?;
        counter(
            enc,
            "lightspeed_gossip_send_dropped_packets",
            "Membership datagrams dropped because a peer's send queue was full.",
            c.send_dropped,
        )
    }
}

/// The OpenMetrics text for the given counters, session count, mesh, session records and
/// server probing figures.
pub fn render(
    counters: &Arc<Counters>,
    sessions: &Arc<AtomicUsize>,
    mesh: &MeshView,
    book: &SessionBook,
    probe: &Arc<ServerProbeStats>,
) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(NodeCollector {
        counters: Arc::clone(counters),
        sessions: Arc::clone(sessions),
        mesh: Arc::clone(mesh),
        book: book.clone(),
        probe: Arc::clone(probe),
    }));
    let mut out = String::with_capacity(4096);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn exports_every_family_with_current_values() {
        let counters = Arc::new(Counters::default());
        let sessions = Arc::new(AtomicUsize::new(3));
        counters.packet(Direction::Upstream, 100);
        counters.packet(Direction::Upstream, 20);
        counters.packet(Direction::Downstream, 7);
        // Through `Counters::` because `Arc`'s `Drop::drop` would shadow the method.
        counters.dropped(DropReason::Replay);
        counters.fec_recovered();
        counters.fec_parity_sent();
        counters.fec_parity_sent();
        let text = render(
            &counters,
            &sessions,
            &MeshView::default(),
            &SessionBook::default(),
            &Arc::default(),
        )
        .unwrap();

        let v = |s: &str| value(&text, s);
        assert_eq!(
            v("lightspeed_packets_total{direction=\"upstream\"}"),
            Some(2.0)
        );
        assert_eq!(
            v("lightspeed_packets_total{direction=\"downstream\"}"),
            Some(1.0)
        );
        assert_eq!(
            v("lightspeed_bytes_total{direction=\"upstream\"}"),
            Some(120.0)
        );
        assert_eq!(v("lightspeed_drops_total{reason=\"replay\"}"), Some(1.0));
        for reason in DropReason::ALL {
            let series = format!("lightspeed_drops_total{{reason=\"{}\"}}", reason.as_str());
            assert!(v(&series).is_some(), "{series} missing");
        }
        assert_eq!(v("lightspeed_sessions"), Some(3.0));
        assert_eq!(v("lightspeed_fec_recovered_total"), Some(1.0));
        assert_eq!(v("lightspeed_fec_parity_sent_total"), Some(2.0));
        assert_eq!(v("lightspeed_fec_scheme_changes_total"), Some(0.0));
        assert_eq!(v("lightspeed_sessions_by_fec{scheme=\"off\"}"), Some(0.0));
        assert_eq!(
            v("lightspeed_session_loss_ratio{direction=\"upstream\",stage=\"after_fec\"}"),
            Some(0.0)
        );
        assert!(text.contains("# TYPE lightspeed_rtt_seconds histogram\n"));
        assert!(text.contains("# UNIT lightspeed_rtt_seconds seconds\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn rtt_histogram_is_cumulative_with_sum_and_count() {
        let counters = Arc::new(Counters::default());
        let sessions = Arc::new(AtomicUsize::new(0));
        for us in [300, 800, 800, 40_000, 2_000_000] {
            counters.rtt(Duration::from_micros(us));
        }
        let text = render(
            &counters,
            &sessions,
            &MeshView::default(),
            &SessionBook::default(),
            &Arc::default(),
        )
        .unwrap();
        let v = |s: &str| value(&text, s);
        assert_eq!(v("lightspeed_rtt_seconds_bucket{le=\"0.0005\"}"), Some(1.0));
        assert_eq!(v("lightspeed_rtt_seconds_bucket{le=\"0.001\"}"), Some(3.0));
        assert_eq!(v("lightspeed_rtt_seconds_bucket{le=\"0.035\"}"), Some(3.0));
        assert_eq!(v("lightspeed_rtt_seconds_bucket{le=\"0.05\"}"), Some(4.0));
        assert_eq!(v("lightspeed_rtt_seconds_bucket{le=\"1.0\"}"), Some(4.0));
        assert_eq!(v("lightspeed_rtt_seconds_bucket{le=\"+Inf\"}"), Some(5.0));
        assert_eq!(v("lightspeed_rtt_seconds_count"), Some(5.0));
        let sum = v("lightspeed_rtt_seconds_sum").unwrap();
        assert!((sum - 2.0419).abs() < 1e-9, "{sum}");
        let buckets: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("lightspeed_rtt_seconds_bucket"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        assert_eq!(buckets.len(), RTT_BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    }
}
