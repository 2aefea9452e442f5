//! # lightspeed-mesh
//!
//! The mesh between LightSpeed nodes: QUIC transport (quinn + rustls) with mutual TLS against a
//! mesh CA, SWIM membership and topology gossip, link measurements, path computation, and the
//! batched UDP data-plane transport.
//!
//! What it is not: it holds no actors (those live in `lightspeed-actors`) and no game-facing
//! code (that is `lightspeed-edge`). Wire formats come from `lightspeed-protocol`.
//!
//! Layout:
//! - [`dataplane`]: the packet path (counters, session table, batched I/O, forwarding loops).
//! - [`identity`]: the mesh CA, node certificates and their PEM files.
//! - [`membership`]: SWIM membership over QUIC datagrams (foca), topology gossip riding on it,
//!   and seeds (addresses, DNS names, SRV) resolved with hickory-resolver.
//! - [`policy`]: destination policy (which game servers a proxy may reach).
//! - [`quic`]: the QUIC control-plane transport (mutual TLS for nodes, server-auth TLS for
//!   edges), one request frame and one response frame per stream.
//! - [`role`]: node roles.
//! - [`topology`]: the mesh graph from signed self-claims (nodes, links), bounded; the
//!   per-peer link estimator; when to republish.

// `unsafe` is denied everywhere but `dataplane::batch_io`, which makes the batched socket
// syscalls and says why each block is sound.
#![deny(unsafe_code)]

pub mod dataplane;
pub mod identity;
pub mod membership;
pub mod policy;
pub mod quic;
pub mod role;
pub mod topology;

pub use role::Role;
