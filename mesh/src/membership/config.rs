//! Membership settings and the LAN/WAN presets.
//!
//! The presets are foca's `Config::new_lan` / `new_wan` (themselves memberlist's defaults),
//! with the packet size fixed to [`MAX_PACKET_SIZE`]. What they mean for an operator, with `N`
//! the cluster-size hint:
//!
//! | | LAN | WAN |
//! |---|---|---|
//! | probe period / probe RTT bound | 1 s / 0.5 s | 5 s / 3 s |
//! | suspicion before down | 4 s × max(1, log10 N) | 30 s × max(1, log10 N) |
//! | crash → down everywhere (N = 5 … 50) | ~6–12 s | ~40–80 s |
//! | gossip | 3 members every 200 ms | 4 members every 500 ms |
//! | transmissions per update | 6 × log10(N + 1) | same |
//! | ask one member for its member list | every 5 s | every 15 s |
//!
//! Two departures from foca's presets. Updates and claims are sent 1.5× as often as foca's
//! 4 × log10(N + 1): with infection-style gossip the chance that a given node never hears a
//! given item falls like e^-(transmissions), and at N = 50 foca's 6 left a handful of the
//! 2,500 (node, claim) pairs missing until the next refresh; 9 leaves ~0.3 expected. The announce period is shorter than foca's (30 s / 60 s): when many nodes join at once, a
//! joiner that missed some of the others' join updates learns them within seconds instead of
//! half a minute, for one ≤ 1,100-byte member list per node per period.
//!
//! Detection time is: until some member probes the dead node (about one probe period, since
//! every member probes one member per period), one more period before its failed probe turns
//! into a suspicion, the suspicion time, then a few gossip rounds. False positives: a live node
//! is declared down only if a direct probe *and* all indirect probes through 3 other members
//! fail within the probe period, *and* it cannot refute the suspicion within the suspicion time
//! — so LAN tolerates a node stalled for ~4 s, WAN for ~30 s. Shorter suspicion detects faster
//! and flaps more under loss; the data plane does not wait for membership anyway (it fails over
//! on missing echoes within ~300 ms), so these presets favour few false positives.
//!
//! Traffic bound: each node sends at most one probe (+ 3 indirect probe requests) per probe
//! period and one gossip message to `gossip_fanout` members per gossip period while it has
//! something to spread, each at most [`MAX_PACKET_SIZE`] bytes, plus the replies it owes. With
//! LAN that is ≤ ~21 datagrams/s ≈ 23 KB/s in the worst case whatever the mesh size; steady
//! state is ~2 probe datagrams/s. Memory: one entry per member (≤ [`MembershipConfig::max_members`]).

use std::num::{NonZeroU8, NonZeroU32, NonZeroUsize};
use std::time::Duration;

/// Largest membership datagram: under the ~1,162-byte QUIC datagram payload the mesh
/// transport guarantees, with room for its framing.
pub const MAX_PACKET_SIZE: usize = 1_100;

/// SWIM parameters (see the module docs for what they trade off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    /// How often this node probes one member.
    pub probe_period: Duration,
    /// How long a direct probe may take before indirect probes start; must be below
    /// `probe_period`.
    pub probe_rtt: Duration,
    /// Members asked to probe indirectly (and gossip fan-out of a leave).
    pub indirect_probes: usize,
    /// How long a suspect member has to refute before it is declared down.
    pub suspect_to_down_after: Duration,
    /// How often pending updates are gossiped.
    pub gossip_period: Duration,
    /// Members gossiped to each period.
    pub gossip_fanout: usize,
    /// Times each update and each custom broadcast is sent by each node.
    pub max_transmissions: u8,
    /// How often to ask a member for more members (speeds up full discovery).
    pub announce_period: Duration,
    /// How often to re-contact down members (heals partitions).
    pub announce_to_down_period: Duration,
    /// How long a down member is remembered (so its stale updates cannot revive it).
    pub remove_down_after: Duration,
    /// Most members (alive or remembered down) held; datagrams that would add more are
    /// refused. Default 4,096, matching the topology's node bound.
    pub max_members: usize,
}

impl MembershipConfig {
    /// Preset for low-latency networks (one data centre, one region).
    pub fn lan(cluster_size_hint: u32) -> MembershipConfig {
        Self::from_foca(
            foca::Config::new_lan(hint(cluster_size_hint)),
            Duration::from_secs(5),
        )
    }

    /// Preset for meshes spanning continents.
    pub fn wan(cluster_size_hint: u32) -> MembershipConfig {
        Self::from_foca(
            foca::Config::new_wan(hint(cluster_size_hint)),
            Duration::from_secs(15),
        )
    }

    fn from_foca(c: foca::Config, announce_period: Duration) -> MembershipConfig {
        let to_down = c.periodic_announce_to_down_members.as_ref();
        let gossip = c.periodic_gossip.as_ref();
        MembershipConfig {
            probe_period: c.probe_period,
            probe_rtt: c.probe_rtt,
            indirect_probes: c.num_indirect_probes.get(),
            suspect_to_down_after: c.suspect_to_down_after,
            gossip_period: gossip.map_or(Duration::from_millis(200), |g| g.frequency),
            gossip_fanout: gossip.map_or(3, |g| g.num_members.get()),
            // foca's 4 × log10(N + 1) leaves each node missing ~e^-6 of the items at N = 50;
            // topology claims feed route choice, so they get half as many again.
            max_transmissions: c.max_transmissions.get().saturating_mul(3) / 2,
            announce_period,
            announce_to_down_period: to_down.map_or(Duration::from_secs(65), |a| a.frequency),
            remove_down_after: c.remove_down_after.unwrap_or(Duration::from_secs(86_400)),
            max_members: 4_096,
        }
    }

    /// Expected time from a crash until every member has declared the node down, from the
    /// module-level formula (one probe period to be probed, one to turn suspect, the
    /// suspicion time, three gossip periods to spread).
    pub fn expected_detection_time(&self) -> Duration {
        self.probe_period * 2 + self.suspect_to_down_after + self.gossip_period * 3
    }

    /// The foca configuration, after checking the invariants foca relies on.
    pub(super) fn to_foca(&self) -> Result<foca::Config, &'static str> {
        if self.probe_rtt.is_zero() || self.probe_rtt >= self.probe_period {
            return Err("probe_rtt must be non-zero and below probe_period");
        }
        if self.suspect_to_down_after.is_zero()
            || self.gossip_period.is_zero()
            || self.announce_period.is_zero()
            || self.announce_to_down_period.is_zero()
        {
            return Err("periods must be non-zero");
        }
        if self.max_members == 0 {
            return Err("max_members must be non-zero");
        }
        let nz = |v: usize, what| NonZeroUsize::new(v).ok_or(what);
        let mut c = foca::Config::simple();
        c.probe_period = self.probe_period;
        c.probe_rtt = self.probe_rtt;
        c.num_indirect_probes = nz(self.indirect_probes, "indirect_probes must be non-zero")?;
        c.max_transmissions =
            NonZeroU8::new(self.max_transmissions).ok_or("max_transmissions must be non-zero")?;
        c.suspect_to_down_after = self.suspect_to_down_after;
        c.remove_down_after = Some(self.remove_down_after);
        c.max_packet_size = nz(MAX_PACKET_SIZE, "packet size")?;
        c.notify_down_members = true;
        c.periodic_announce = Some(foca::PeriodicParams {
            frequency: self.announce_period,
            num_members: nz(1, "announce")?,
        });
        c.periodic_announce_to_down_members = Some(foca::PeriodicParams {
            frequency: self.announce_to_down_period,
            num_members: nz(2, "announce")?,
        });
        c.periodic_gossip = Some(foca::PeriodicParams {
            frequency: self.gossip_period,
            num_members: nz(self.gossip_fanout, "gossip_fanout must be non-zero")?,
        });
        Ok(c)
    }
}

fn hint(cluster_size: u32) -> NonZeroU32 {
    NonZeroU32::new(cluster_size).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_the_documented_table() {
        let lan = MembershipConfig::lan(5);
        assert_eq!(lan.probe_period, Duration::from_secs(1));
        assert_eq!(lan.suspect_to_down_after, Duration::from_secs(4));
        assert_eq!(lan.gossip_period, Duration::from_millis(200));
        assert_eq!(lan.max_transmissions, 4);
        assert_eq!(
            MembershipConfig::lan(100).suspect_to_down_after,
            Duration::from_secs(8)
        );
        assert_eq!(MembershipConfig::lan(1_000).max_transmissions, 18);
        let wan = MembershipConfig::wan(5);
        assert_eq!(wan.probe_period, Duration::from_secs(5));
        assert_eq!(wan.suspect_to_down_after, Duration::from_secs(30));
        assert_eq!(lan.expected_detection_time(), Duration::from_millis(6_600));
        let foca = lan.to_foca().unwrap();
        assert_eq!(foca.max_packet_size.get(), MAX_PACKET_SIZE);
        assert_eq!(MembershipConfig::lan(0), MembershipConfig::lan(1));
    }

    #[test]
    fn invalid_settings_are_refused() {
        let mut c = MembershipConfig::lan(5);
        c.probe_rtt = c.probe_period;
        assert!(c.to_foca().is_err());
        let mut c = MembershipConfig::lan(5);
        c.gossip_fanout = 0;
        assert!(c.to_foca().is_err());
        let mut c = MembershipConfig::lan(5);
        c.max_transmissions = 0;
        assert!(c.to_foca().is_err());
    }
}
