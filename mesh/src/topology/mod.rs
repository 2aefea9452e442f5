//! Topology: the whole mesh graph every node holds — nodes (roles, region, load, addresses)
//! and directed links (RTT, jitter, loss) — built from claims each node makes about itself
//! and gossips.
//!
//! Rules (DESIGN.md §4, §10):
//! - A claim describes only its origin: its attributes and its own outgoing links.
//! - Claims are bound to the origin's certificate identity by an ECDSA P-256 signature made
//!   with the origin's mesh key, so they stay checkable however many relays they cross;
//!   certificates are gossiped too and accepted only under the mesh CA ([`auth`]).
//! - A newer version from the same origin replaces an older one; versions start with the
//!   origin's membership bump, so a restarted node supersedes its previous life.
//! - Everything is bounded: [`TopologyConfig`] caps nodes, links per node and parked claims;
//!   parts age out when not refreshed.
//!
//! Memory bound: with the defaults (4,096 nodes × 64 links) a full graph holds at most
//! 262,144 links; each stored link costs about 60 bytes plus its peer name, so the worst case
//! is ~30 MB and a 100-node mesh with 16 links each ~150 KB. Certificates add ~0.5 KB a node.
//!
//! Traffic bound: claims ride in SWIM's own datagrams, whose rate per node is fixed by the
//! membership config (see [`crate::membership::MembershipConfig`]), so a node's gossip
//! traffic does not grow with the mesh; what grows is how long the queue of claims to relay
//! takes to drain. [`PublishPolicy::scaled`] picks a refresh interval that keeps the claim load
//! within half the gossip capacity, and [`TopologyConfig::for_refresh`] the matching ageing.
//!
//! Layout:
//! - `claim.rs`: wire format of claims and items, strict decoding, splitting into parts.
//! - `auth.rs`: signing and checking claims; the mesh keyring.
//! - `sim_keys.rs`: insecure stand-in keys for large simulations.
//! - `graph.rs`: [`Topology`]: applying items, bounds, eviction, ageing, full-state sync.
//! - `outcome.rs`: [`TopologyConfig`] (bounds), what applying an item did, errors, counters.
//! - `view.rs`: queries ([`Topology::links`], [`Topology::neighbours`], snapshots).
//! - `estimator.rs`: per-peer probe estimator (EWMA RTT, RFC 3550 jitter, windowed loss).
//! - `publish.rs`: when a node republishes its own claim.
//! - `local.rs`: [`LocalProbeInfo`], the probe key and per-peer addresses of our own claims.
//! - `prober.rs`: [`LinkProber`], the pure link-probe schedule feeding [`LinkEstimator`]s.

pub mod auth;
pub mod claim;
#[cfg(test)]
mod claim_tests;
pub mod estimator;
mod graph;
mod local;
mod outcome;
pub mod prober;
pub mod publish;
mod sim_keys;
mod view;

#[cfg(test)]
mod graph_tests;

pub use auth::{AuthError, CertAdded, ClaimSigner, EcdsaSigner, Keyring, MeshKeyring};
pub use claim::{ClaimBody, ClaimVersion, ClaimedLink, LinkClaim, MalformedClaim, NodeAttrs};
pub use estimator::{EstimatorConfig, LinkEstimator, LinkStats};
pub use graph::Topology;
pub use local::LocalProbeInfo;
pub use outcome::{
    Applied, ClaimError, ItemId, Outcome, PublishError, TopologyConfig, TopologyCounters,
};
pub use prober::{LinkProber, OutgoingProbe, ProbeTarget, ProberConfig, SlotKey};
pub use publish::{PublishPolicy, Publisher};
pub use sim_keys::{SimKeyring, SimKeys, SimSigner};
pub use view::{LinkSnapshot, LinkView, NodeSnapshot, NodeView, TopologySnapshot};
