//! The packet path: batched UDP I/O, the concurrent session table and the forwarding loops.
//! Nothing here goes through an actor mailbox; actors install and remove table entries.
//!
//! Layout:
//! - `batch_io.rs`: recvmmsg/sendmmsg batches — the crate's only `unsafe`.
//! - `counters.rs`: per-node atomic counters (packets, bytes, drops by reason, FEC, RTT).
//! - `limiter.rs`: token bucket (pure).
//! - `link_probe.rs`: link probes on the data port: answering peers' probes in place, handing
//!   the replies to ours to the prober.
//! - `relay.rs`: a relay's transit entry (pure).
//! - `relay_window.rs`: a relay's replay window that survives an FEC switch (pure).
//! - `endpoint.rs`: the edge or proxy end of a session's tunnel (pure): sequence numbers, FEC,
//!   replay, probes, RTT/jitter/loss.
//! - `fec_switch.rs`: changing a running session's FEC scheme at an agreed sequence number
//!   (pure), so no packet meets the wrong decoder.
//! - `edge.rs` / `proxy.rs`: the role-specific session logic around an endpoint (pure): bind
//!   handshake, keepalives, dead-path detection; binding only on authenticated Binds.
//! - `edge_failover.rs`: the edge's per-path state, switch to the standby and its undo (pure).
//! - `server_leg.rs`: the proxy → game server leg's RTT from the game traffic (pure).
//! - `server_probe.rs`: the same leg timed by queries the server answers (A2S_INFO, an
//!   operator's own): a bounded table of servers, one query outstanding each, backoff (pure).
//! - `liveness.rs`: per-path dead-path detection and the failover clock (pure).
//! - `multipath.rs`: the duplicate gate and the downstream loss window (pure).
//! - `io.rs`: the packet loops (data, redirect, egress, timers) driving the cores — the shell.
//! - `sink.rs`: the socket-side output of the endpoint cores (seal into send batches, deliver).
//! - `table.rs`: the concurrent session and flow table, and the node clock.

pub mod batch_io;
pub mod counters;
pub mod edge;
pub mod endpoint;
pub mod fec_switch;
pub mod io;
pub mod limiter;
pub mod link_probe;
pub mod liveness;
pub mod multipath;
pub mod proxy;
pub mod relay;
pub mod relay_window;
pub mod server_leg;
pub mod server_probe;
mod sink;
pub mod table;

pub use counters::{Counters, Direction, DropReason};
