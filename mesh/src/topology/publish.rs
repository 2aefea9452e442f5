//! When a node republishes its own claim: on a significant change (attributes, the set of
//! measured peers, an RTT or loss move beyond a threshold), never more often than a minimum
//! interval, and at least every refresh interval so receivers can age out silent nodes.
//!
//! This bounds what one node injects into gossip to one publication per `min_interval`
//! whatever its measurements do.

use std::time::Duration;

use lightspeed_protocol::Micros;

use super::claim::{LinkClaim, NodeAttrs};

/// Republication thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishPolicy {
    /// Never publish more often than this (default 1 s).
    pub min_interval: Duration,
    /// Publish at least this often, even unchanged (default 30 s; keep it well under
    /// [`super::TopologyConfig::stale_after`]).
    pub refresh: Duration,
    /// An RTT change counts when it exceeds this percentage of the published value (default
    /// 10 %) …
    pub rtt_change_pct: u32,
    /// … and this absolute amount (default 2 ms), so sub-millisecond LAN noise is ignored.
    pub rtt_change_min_us: u32,
    /// A loss change counts above this many ppm (default 5,000 = 0.5 %).
    pub loss_change_ppm: u32,
}

impl Default for PublishPolicy {
    fn default() -> PublishPolicy {
        PublishPolicy {
            min_interval: Duration::from_secs(1),
            refresh: Duration::from_secs(30),
            rtt_change_pct: 10,
            rtt_change_min_us: 2_000,
            loss_change_ppm: 5_000,
        }
    }
}

impl PublishPolicy {
    /// The default policy with a refresh interval long enough for a mesh of `nodes` nodes.
    ///
    /// Every node relays every claim `max_transmissions` times, so refreshes alone cost each
    /// node `nodes × claim_bytes × max_transmissions / refresh` bytes/s. Gossip capacity is
    /// fixed per node (`capacity_bytes_per_sec`, e.g. 3 members × 1,100 B every 200 ms =
    /// 16.5 KB/s on LAN); this keeps refreshes within half of it, never below the 30 s
    /// default. Example: 1,000 nodes × 300-byte claims × 18 transmissions on LAN → ~11 min.
    /// Pair it with [`super::TopologyConfig::for_refresh`].
    pub fn scaled(
        nodes: usize,
        claim_bytes: usize,
        max_transmissions: u8,
        capacity_bytes_per_sec: u64,
    ) -> PublishPolicy {
        let load = nodes as u64 * claim_bytes as u64 * u64::from(max_transmissions);
        let half = (capacity_bytes_per_sec / 2).max(1);
        let refresh = Duration::from_secs(load.div_ceil(half));
        let default = PublishPolicy::default();
        PublishPolicy {
            refresh: refresh.max(default.refresh),
            ..default
        }
    }
}

/// Remembers the last publication and decides on the next.
#[derive(Debug, Clone)]
pub struct Publisher {
    policy: PublishPolicy,
    last: Option<(Micros, NodeAttrs, Vec<LinkClaim>)>,
}

impl Publisher {
    /// Nothing published yet.
    pub fn new(policy: PublishPolicy) -> Publisher {
        Publisher { policy, last: None }
    }

    /// True when `attrs` and `links` (sorted by peer) should be published at `now`.
    pub fn should_publish(&self, now: Micros, attrs: &NodeAttrs, links: &[LinkClaim]) -> bool {
        let Some((at, last_attrs, last_links)) = &self.last else {
            return true;
        };
        let since = now.saturating_since(*at);
        if since < self.policy.min_interval {
            return false;
        }
        since >= self.policy.refresh
            || attrs != last_attrs
            || links.len() != last_links.len()
            || links
                .iter()
                .zip(last_links)
                .any(|(new, old)| new.to != old.to || self.moved(new, old))
    }

    fn moved(&self, new: &LinkClaim, old: &LinkClaim) -> bool {
        let p = &self.policy;
        let rtt_delta = new.rtt_us.abs_diff(old.rtt_us);
        let rtt_threshold = (u64::from(old.rtt_us) * u64::from(p.rtt_change_pct) / 100)
            .max(u64::from(p.rtt_change_min_us));
        u64::from(rtt_delta) > rtt_threshold
            || new.loss_ppm.abs_diff(old.loss_ppm) > p.loss_change_ppm
    }

    /// Records a publication.
    pub fn published(&mut self, now: Micros, attrs: NodeAttrs, links: Vec<LinkClaim>) {
        self.last = Some((now, attrs, links));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn attrs() -> NodeAttrs {
        NodeAttrs {
            roles: vec![Role::Relay],
            region: "sg".into(),
            load_pct: 5,
            control_addr: "192.0.2.1:4433".parse().unwrap(),
            data_addr: None,
        }
    }

    fn link(rtt_us: u32, loss_ppm: u32) -> Vec<LinkClaim> {
        vec![LinkClaim {
            to: "b".into(),
            rtt_us,
            jitter_us: 0,
            loss_ppm,
            age_ms: 0,
        }]
    }

    #[test]
    fn publishes_on_change_rate_limited_and_refreshes() {
        let s = |v: u64| Micros::from_millis(v * 1_000);
        let mut p = Publisher::new(PublishPolicy::default());
        assert!(p.should_publish(s(0), &attrs(), &link(50_000, 0)));
        p.published(s(0), attrs(), link(50_000, 0));
        // +4 ms on 50 ms is under 10 %: noise.
        assert!(!p.should_publish(s(2), &attrs(), &link(54_000, 0)));
        // +6 ms is a move, but not within the minimum interval.
        assert!(!p.should_publish(Micros::from_millis(500), &attrs(), &link(56_000, 0)));
        assert!(p.should_publish(s(2), &attrs(), &link(56_000, 0)));
        assert!(p.should_publish(s(2), &attrs(), &link(50_000, 6_000)));
        assert!(p.should_publish(s(2), &attrs(), &[]));
        let mut loaded = attrs();
        loaded.load_pct = 90;
        assert!(p.should_publish(s(2), &loaded, &link(50_000, 0)));
        // On a 1 ms LAN link the 2 ms floor applies.
        p.published(s(2), attrs(), link(1_000, 0));
        assert!(!p.should_publish(s(4), &attrs(), &link(2_900, 0)));
        assert!(
            p.should_publish(s(32), &attrs(), &link(1_000, 0)),
            "refresh"
        );
    }
}
