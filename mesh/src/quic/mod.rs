//! QUIC control-plane transport (DESIGN.md §4, §10): quinn on port [`CONTROL_PORT`], ALPN
//! [`ALPN`], TLS 1.3 with the mesh CA as the only trust anchor.
//!
//! - Nodes connect with mutual TLS; the server reads the peer's node name from its verified
//!   certificate ([`PeerIdentity::Node`]).
//! - Edges are not mesh members: they verify the node against the mesh CA but present no
//!   certificate ([`PeerIdentity::Anonymous`]) and authenticate with a token inside their
//!   first message, which is the handler's business.
//! - A certificate from any other CA fails the handshake.
//!
//! Every exchange is one bidirectional stream carrying one request frame and one response
//! frame, each a `u32` big-endian length followed by that many opaque bytes (the control
//! envelope of `lightspeed_protocol::control` goes inside). Many streams run concurrently on
//! one connection. Datagrams are enabled for SWIM.
//!
//! Layout:
//! - `config.rs`: [`server_config`], [`node_client_config`], [`edge_client_config`],
//!   [`TransportSettings`].
//! - `server.rs`: [`ControlServer`] and the [`Handler`] trait; `limits.rs`: [`ServerLimits`],
//!   [`ServerStats`].
//! - `client.rs`: [`ControlClient`], [`client_endpoint`].
//! - `frame.rs`: the length-delimited framing.
//! - `gossip.rs`: [`DatagramLinks`] (membership datagrams to peers), [`learn_seed_name`].
//! - `peer.rs`: [`PeerIdentity`], [`PeerInfo`].
//! - `error.rs`: [`QuicError`] and the wire error [`codes`].

mod client;
mod config;
mod error;
mod frame;
mod gossip;
mod limits;
mod peer;
mod server;

pub use client::{ClientSettings, ControlClient, client_endpoint};
pub use config::{
    ALPN, SEED_SERVER_NAME, TransportSettings, edge_client_config, node_client_config,
    seed_client_config, server_config,
};
pub use error::{QuicError, codes};
pub use frame::{DEFAULT_MAX_FRAME, LENGTH_PREFIX};
pub use gossip::{DatagramLinks, LinkSettings, NodeDatagram, PathFigures, learn_seed_name};
pub use limits::{ServerLimits, ServerStats};
pub use peer::{PeerIdentity, PeerInfo};
/// quinn's endpoint and client configuration, for drivers that hold them without depending on quinn.
pub use quinn::{ClientConfig, Endpoint};
pub use server::{ControlServer, Handler};

/// Default UDP port of the control plane.
pub const CONTROL_PORT: u16 = 4433;
