//! # lightspeed-actors
//!
//! The actix actors of a node and the node assembly that starts them. Each actor is a thin
//! driver around a pure core:
//!
//! | actor | core (pure, unit-tested) |
//! |---|---|
//! | [`session::SessionActor`] | [`admission`] (admit/refuse), the data-plane session cores of `lightspeed-mesh` |
//! | [`fec_actor::FecActor`] | [`fec_policy`], [`fec_control`] (adaptive FEC per session over `routing::adaptive_fec`) |
//! | [`route::RouteActor`] | [`route::static_path`] |
//! | [`discovery::DiscoveryActor`] | the configured peer list; `lightspeed_mesh::membership::Membership` via [`gossip::Gossip`] |
//! | [`health::HealthActor`] | [`health::snapshot`] over the endpoint estimators; `lightspeed_mesh::topology::LinkProber` via [`link_probe::ProbeDriver`] |
//!
//! What it is not: the packet path. Forwarding never goes through a mailbox; actors install
//! and remove entries of the data plane's session table, which the packet loops read.
//!
//! Layout: `spec.rs` (what a node is asked to be), `fec_setting.rs` (the operator's FEC
//! setting and its syntax), `fec_serve.rs` (FEC changes on the data plane, the proxy's
//! answers), `session_view.rs` + `session_rows.rs` (session records for `/api/sessions`,
//! metrics and the end-of-session summary), `node.rs` (assembly and shutdown),
//! `node_gossip.rs` (building the gossip half), `control.rs` (QUIC ↔ actor bridge, client
//! pool), `link_probe.rs` (data-port link probing and what discovery and health share about
//! links), `server_probe.rs` (the proxy's game-server prober task over
//! `lightspeed_mesh::dataplane::server_probe`), `topology_sync.rs` (full topology sync over the control plane), `routing/` (path,
//! failover and adaptive FEC cores; the FEC one is driven by the FecActor), one file per
//! actor and per core.

#![forbid(unsafe_code)]

pub mod admission;
pub mod control;
pub mod discovery;
pub mod fec_actor;
pub mod fec_control;
pub mod fec_policy;
pub mod fec_serve;
pub mod fec_setting;
pub mod gossip;
pub mod health;
pub mod link_probe;
pub mod mesh_view;
pub mod node;
mod node_gossip;
pub mod route;
pub mod route_auto;
pub mod routing;
pub mod server_probe;
pub mod session;
pub mod session_rows;
pub mod session_view;
pub mod spec;
pub mod topology_sync;
