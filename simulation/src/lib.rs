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
//! - [`traffic`]: the pure, seeded send schedule (times and sizes) of one game flow, shaped by
//!   a game profile from `lightspeed-edge`.
//! - [`echo`]: a tokio UDP echo server standing in for a game server, and the probe payload
//!   ([`echo::GamePacket`]) whose echoes give per-packet RTT and loss.
//! - [`udp_link`]: real UDP sockets around two emulated links, for demos and scenarios.
//! - [`scale`]: N = 100 … 2,000 membership cores under a simulated clock
//!   (`lightspeed-sim scale`).
//! - [`diurnal`]: the ML selector against nearest on a topology with daily latency cycles,
//!   under a simulated clock (`lightspeed-sim diurnal`).
//! - [`scenario`]: topology scenarios from TOML, run with real nodes on loopback
//!   (`lightspeed-sim run FILE`).

#![forbid(unsafe_code)]

pub mod diurnal;
pub mod echo;
pub mod link;
pub mod scale;
pub mod scenario;
pub mod traffic;
pub mod udp_link;
