//! The graph's bounds, the outcomes of applying an item, its errors and counters.

use std::time::Duration;

use super::auth::AuthError;
use super::claim::{ClaimVersion, MalformedClaim};

/// Bounds and ageing of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyConfig {
    /// Most nodes held (default 4,096). Beyond it a new origin evicts the stalest node not
    /// updated for `stale_after` (down nodes first), or is refused with
    /// [`ClaimError::TableFull`]: a flood of fresh names cannot push out live nodes.
    pub max_nodes: usize,
    /// Most links one node may claim (default 64): a relay measures a bounded set of peers,
    /// and 64 × 4,096 links is a graph a route computation can still scan in milliseconds.
    pub max_links_per_node: usize,
    /// Most claim parts parked while their origin's certificate is unknown (default 256).
    pub max_pending: usize,
    /// A link whose measurement is older than this is reported stale (default 90 s: three
    /// missed 30 s refreshes).
    pub stale_after: Duration,
    /// A part not refreshed for this long is removed, as are parked parts (default 300 s).
    pub expire_after: Duration,
}

impl Default for TopologyConfig {
    fn default() -> TopologyConfig {
        TopologyConfig {
            max_nodes: 4_096,
            max_links_per_node: 64,
            max_pending: 256,
            stale_after: Duration::from_secs(90),
            expire_after: Duration::from_secs(300),
        }
    }
}

impl TopologyConfig {
    /// The default bounds with ageing matched to a refresh interval: links go stale after
    /// three missed refreshes and parts expire after ten.
    pub fn for_refresh(refresh: Duration) -> TopologyConfig {
        TopologyConfig {
            stale_after: refresh.saturating_mul(3),
            expire_after: refresh.saturating_mul(10),
            ..TopologyConfig::default()
        }
    }
}

/// Which gossip item an outcome refers to; the key foca uses to replace queued broadcasts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemId {
    /// A claim part.
    Claim {
        /// The node described.
        origin: String,
        /// Part index.
        part: u8,
        /// Publication version.
        version: ClaimVersion,
    },
    /// A certificate.
    Cert {
        /// The node it names.
        name: String,
    },
}

/// What applying an item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored: new information, worth relaying.
    New,
    /// Exactly this version (or certificate) was already held.
    Known,
    /// An older version than the one held; ignored.
    Stale,
}

/// Result of a successful [`super::Topology::apply_item`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The item.
    pub id: ItemId,
    /// What happened.
    pub outcome: Outcome,
}

/// Why an item was not applied. The graph is unchanged, except for [`ClaimError::Parked`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The bytes are not a valid item.
    #[error(transparent)]
    Malformed(#[from] MalformedClaim),
    /// The signature or certificate was refused (a forged claim ends here).
    #[error(transparent)]
    Auth(AuthError),
    /// The origin's certificate is not known yet; the part is parked and applied when it
    /// arrives (see [`super::Topology::take_unparked`]).
    #[error("origin {0:?} has no known certificate yet; claim parked")]
    Parked(String),
    /// Parking would exceed [`TopologyConfig::max_pending`]; the part is dropped.
    #[error("too many claims waiting for certificates")]
    PendingFull,
    /// The origin would claim more than [`TopologyConfig::max_links_per_node`] links.
    #[error("node {0:?} claims more links than allowed")]
    TooManyLinks(String),
    /// [`TopologyConfig::max_nodes`] nodes are held and none is stale enough to evict.
    #[error("topology table full")]
    TableFull,
}

/// Why this node could not publish its own claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The attributes or links break a claim rule (name, region, load, link values).
    #[error(transparent)]
    Malformed(#[from] MalformedClaim),
    /// More links than [`TopologyConfig::max_links_per_node`].
    #[error("{0} links exceed the per-node bound")]
    TooManyLinks(usize),
    /// Signing failed, or the own certificate was refused by the keyring.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// Counters of what arrived, by outcome; plain numbers for the node's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopologyCounters {
    /// Parts stored.
    pub applied: u64,
    /// Duplicates and outdated parts ignored.
    pub ignored: u64,
    /// Items that did not parse or broke a rule.
    pub malformed: u64,
    /// Bad signatures and refused certificates.
    pub refused: u64,
    /// Parts parked for a missing certificate.
    pub parked: u64,
    /// Parts dropped for a bound (links, table, pending).
    pub over_bound: u64,
    /// Nodes evicted to make room.
    pub evicted: u64,
    /// Parts removed by ageing.
    pub expired: u64,
}
