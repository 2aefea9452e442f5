//! # lightspeed-edge
//!
//! The game-facing side of an edge node: redirect mode (the game talks to a local UDP port),
//! capture/divert mode (TPROXY, TUN, pcap detection), game profiles and WARP detection.
//!
//! What it is not: it does not choose routes or speak the mesh protocol; it hands game flows to
//! the node's data plane.
//!
//! Layout:
//! - [`profiles`]: the supported games (process names, server ports, anti-cheat notes, typical
//!   packet rate and size) and detection of a running game.

#![forbid(unsafe_code)]

pub mod profiles;
