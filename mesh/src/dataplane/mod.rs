//! The packet path: batched UDP I/O, the concurrent session table and the forwarding loops.
//! Nothing here goes through an actor mailbox; actors install and remove table entries.
//!
//! Layout:
//! - `counters.rs`: per-node atomic counters (packets, bytes, drops by reason, FEC, RTT).

pub mod counters;

pub use counters::{Counters, Direction, DropReason};
