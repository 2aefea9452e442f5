//! # lightspeed-actors
//!
//! The actix actors of a node (SessionActor, FecActor, RouteActor, DiscoveryActor,
//! HealthActor) and the node assembly that supervises them. Each actor is a thin driver around
//! a pure core from `lightspeed-protocol` / `lightspeed-mesh`.
//!
//! What it is not: the packet path. Forwarding never goes through an actor mailbox; actors
//! publish session tables and route snapshots that the data plane reads.
//!
//! Layout: this crate is filled in by the tunnel work (see `docs/architecture.md`); today it
//! only fixes its place in the workspace.

#![forbid(unsafe_code)]
