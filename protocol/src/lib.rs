//! # lightspeed-protocol
//!
//! The LightSpeed wire protocol as pure code: the data-plane packet header with its keyed MAC
//! and replay window, the FEC codecs that hide loss from game traffic, and the control-plane
//! messages carried over QUIC.
//!
//! What it is not: no sockets, no async runtime, no clocks, no randomness of its own. Every
//! function takes `now` ([`time::Micros`]) and its inputs and returns outputs, so the same code
//! runs in a real node, a fuzzer and a simulated mesh of thousands of nodes.
//!
//! Layout:
//! - [`time`]: the [`time::Micros`] clock type every core takes as `now`.
//! - [`ids`]: session ids and keys.
//! - [`header`]: the 26-byte data-plane header, strict parsing, sealing and verification.
//! - [`mac`]: the truncated BLAKE3 keyed MAC over header and payload.
//! - [`replay`]: the RFC 6479 style anti-replay window.
//! - [`fec`]: FEC codecs (XOR parity, Reed-Solomon, duplication) behind one trait.
//! - [`control`]: control-plane messages and their versioned, length-delimited envelope.
//! - [`server_query`]: the queries a proxy times its leg to a game server with (A2S_INFO, an
//!   operator's own), and strict matching of the answers.
//!
//! The byte-level specification is `docs/protocol.md`.

#![forbid(unsafe_code)]

pub mod control;
pub mod fec;
pub mod header;
pub mod ids;
pub mod mac;
pub mod replay;
pub mod server_query;
pub mod time;

pub use ids::{SessionId, SessionKey};
pub use time::Micros;
