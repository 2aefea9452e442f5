//! # lightspeed-sim
//!
//! Simulation for LightSpeed: a seeded link emulator (delay, jitter, iid and Gilbert-Elliott
//! loss, reordering, duplication, bandwidth caps, scheduled outages), and later game traffic
//! generators, topology scenarios and large-scale deterministic runs.
//!
//! What it is not: the link emulator core touches no sockets and reads no clock; drivers put
//! sockets and time around it.
//!
//! Layout:
//! - [`link`]: the pure, seeded model of one directed link.

#![forbid(unsafe_code)]

pub mod link;
