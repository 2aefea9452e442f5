//! # lightspeed-edge
//!
//! The game-facing side of an edge node: redirect mode (the game talks to a local UDP port),
//! capture/divert mode (TPROXY, TUN, pcap detection), game profiles and WARP detection.
//!
//! What it is not: it does not choose routes or speak the mesh protocol; it hands game flows to
//! the node's data plane.
//!
//! Layout: this crate is filled in by the tunnel work (see `docs/architecture.md`); today it
//! only fixes its place in the workspace.

#![forbid(unsafe_code)]
