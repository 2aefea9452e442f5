//! Membership: SWIM (via `foca`) over QUIC datagrams, with topology claims riding as foca
//! custom broadcasts, and the seeds a node joins through.
//!
//! The core, [`Membership`], is sans-IO: the DiscoveryActor feeds it datagrams (with the peer
//! name from the verified QUIC certificate), fires its timers, and sends what it outputs. It
//! checks that every datagram's SWIM sender is the authenticated peer, so membership identities
//! are bound to certificates; topology claims are additionally signed by their origin (see
//! [`crate::topology::auth`]) because gossip relays them through other nodes.
//!
//! Lifecycle: [`Membership::join`] announces to seeds; failures are detected by probes and
//! suspicion ([`MembershipConfig`] presets document the timings); [`Membership::leave`] makes
//! the mesh report [`MembershipEvent::Left`] rather than `Down`; a restarted node comes back
//! with a higher [`NodeId::bump`] and supersedes its previous life (and if it reused an old
//! bump, foca renews it and reports [`MembershipEvent::Rejoined`]).
//!
//! Layout:
//! - `identity.rs`: [`NodeId`], foca's identity type (name, control address, bump).
//! - `config.rs`: [`MembershipConfig`], LAN/WAN presets, detection-time and traffic bounds.
//! - `core.rs`: [`Membership`], the core the actor drives.
//! - `inspect.rs`: the checks a datagram passes before foca sees it (and the copy without the
//!   updates foca already holds).
//! - `error.rs`: [`MembershipError`], [`MembershipCounters`].
//! - `runtime.rs`: foca's runtime as a collector of [`Transmit`]s and [`ScheduledTimer`]s.
//! - `handler.rs`: topology items as foca custom broadcasts.
//! - `events.rs`: [`MembershipEvent`]s derived from foca's member table.
//! - `seeds.rs`: [`SeedList`], the pure seed schedule (addresses, host names, SRV domains).
//! - `resolve.rs`: [`SeedResolver`], hickory-resolver lookups for the seed list.

mod config;
mod core;
mod error;
mod events;
mod handler;
mod identity;
mod inspect;
pub mod resolve;
mod runtime;
pub mod seeds;

#[cfg(test)]
mod loss_tests;
#[cfg(test)]
mod resolve_tests;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod testnet;

pub use config::{MAX_PACKET_SIZE, MembershipConfig};
pub use core::{Membership, SYNC_AFTER_PARKED, SYNC_BACKOFF};
pub use error::{MembershipCounters, MembershipError};
pub use events::{MemberState, MembershipEvent};
pub use identity::{InvalidName, NodeId};
pub use resolve::{ResolveError, SeedResolver};
pub use runtime::{MembershipTimer, ScheduledTimer, Transmit};
pub use seeds::{ResolveQuery, SeedConfig, SeedEntry, SeedList};
