//! Control-plane messages and their versioned, length-delimited frame.
//!
//! The control plane runs over QUIC streams (port 4433). Every message travels in an
//! [`Envelope`] that carries a request id, the W3C trace context of the sender's span, and
//! the [`Message`] itself; the envelope is encoded with postcard and framed by a length and a
//! protocol version. This module is pure: it turns envelopes into bytes and back, and never
//! touches a stream.
//!
//! # Frame layout
//!
//! ```text
//!  0       1       2       3       4       5       6
//! +-------+-------+-------+-------+-------+-------+-------- ... --------+
//! |  length (u32, big-endian)     |version (u16BE)|  postcard(Envelope)  |
//! +-------+-------+-------+-------+-------+-------+-------- ... --------+
//!          length = 2 + body length, 2 <= length <= MAX_FRAME_LEN
//! ```
//!
//! - `length` counts everything after itself: the version and the body. A declared length
//!   above [`MAX_FRAME_LEN`] (16 KiB) is refused as soon as the six header bytes have
//!   arrived, before any body byte is buffered or decoded.
//! - `version` is [`CONTROL_VERSION`] (1). It precedes the postcard body so that a peer
//!   speaking another version gets [`ControlError::UnsupportedVersion`] rather than a
//!   misleading decode error. The version is checked before the length limit, so a future
//!   version that raises the limit is still reported as a version mismatch.
//! - The body is exactly one postcard-encoded [`Envelope`]; bytes left over inside the
//!   frame are [`ControlError::TrailingBytes`].
//!
//! **Versioning rule**: the six header bytes keep this meaning in every version. Within
//! version 1, new [`Message`] variants and [`ErrorCode`]s may only be *appended* (postcard
//! encodes a variant by its index), and an old peer rejects an unknown one with
//! [`ControlError::Decode`]. Any change to an existing type's encoding needs a new version.
//!
//! # Envelope body (postcard)
//!
//! postcard writes integers above `u8` as LEB128 varints, `[u8; N]` as N raw bytes,
//! `Option` as a `0`/`1` tag then the value, strings and sequences as a varint length then
//! the items, and enum variants as a varint index then the fields in order.
//!
//! ```text
//! Envelope     = request_id: varint u64
//!                trace: Option<TraceContext>
//!                body: Message
//! TraceContext = trace_id: 16 bytes, parent_id: 8 bytes, flags: u8,
//!                tracestate: Option<string>          (<= 512 bytes, W3C grammar)
//! SocketAddr   = 0: V4 { ip: 4 bytes, port: varint u16 }
//!              | 1: V6 { ip: 16 bytes, port: varint u16 }   (no flow info, no scope id)
//! SessionId    = varint u32 (never 0)      SessionKey = 32 bytes (never all zero)
//! FecScheme    = 0: Off | 1: Xor { k: u8 } | 2: ReedSolomon { k: u8, m: u8 } | 3: Duplicate
//!              | 4: Sliding { window: u8, repairs: u8, interval: u8 }
//! Message      = 0: SessionRequest  1: SessionGrant  2: SessionBind  3: SessionClose
//!                4: RelayInstall    5: FecUpdate     6: RouteUpdate  7: Ack
//!                8: Ping            9: Pong         10: Error
//!               11: TopologySync   12: TopologyItems  13: FecSwitch  14: FecReport
//!               15: PathSetup
//! SyncItem     = varint length, then that many bytes (<= 1024; a page <= 64 items, 12 KiB)
//! FecSwitch    = session, fec: FecScheme, from_seq: varint u32
//! FecReport    = session, report: 10 × varint u64 (data_sent, expected, received,
//!                delivered, recovered, peer_data_sent, delivered_then, srtt_us, loss_runs,
//!                server_rtt_us)
//! ```
//!
//! Encoders write minimal varints. Decoders also accept non-minimal ones (postcard does), so
//! a decoded frame re-encodes to an equal envelope, not necessarily to the same bytes: never
//! hash or sign frame bytes.
//!
//! For example `Envelope { request_id: 7, trace: None, body: Ping { nonce: 1 } }` is the
//! frame `00 00 00 06 | 00 01 | 07 00 08 01`.
//!
//! # Requests and replies
//!
//! A reply carries the `request_id` of its request. Requests carry the trace context of the
//! sender's span so one game session is one trace across edge, relays and proxy.
//!
//! | request (sender → receiver)   | success reply  | failure reply |
//! |-------------------------------|----------------|---------------|
//! | `SessionRequest` edge → proxy | `SessionGrant` | `Error`       |
//! | `SessionBind` edge → proxy    | `Ack`          | `Error`       |
//! | `SessionClose` either way     | `Ack`          | `Error`       |
//! | `RelayInstall` proxy → relay  | `Ack`          | `Error`       |
//! | `FecUpdate` (superseded)      | —              | `Error`       |
//! | `FecSwitch` edge → proxy      | `FecSwitch`    | `Error`       |
//! | `FecReport` edge → proxy      | `FecReport`    | `Error`       |
//! | `RouteUpdate` edge → proxy    | `Ack`          | `Error`       |
//! | `PathSetup` edge → proxy      | `Ack`          | `Error`       |
//! | `Ping` either way             | `Pong` (same nonce) | —        |
//! | `TopologySync` node → node    | `TopologyItems` | `Error` (not a mesh node, no mesh) |
//!
//! # Decoding is validation
//!
//! postcard bounds nothing by itself, so [`decode_frame`] runs [`Envelope::validate`] on
//! every decoded envelope: each string and list has a documented limit, ids and keys may
//! not be zero, FEC parameters must be in range, and trace contexts must follow W3C Trace
//! Context. [`encode_frame`] runs the same check, so we never send what a peer would refuse.
//!
//! Layout:
//! - `mod.rs`: this specification and re-exports.
//! - `error.rs`: [`ControlError`].
//! - `trace.rs`: [`TraceContext`] (W3C `traceparent` / `tracestate`).
//! - `messages.rs`: [`Message`] and the types it carries, their limits and validation.
//! - `envelope.rs`: [`Envelope`], [`encode_frame`], [`decode_frame`].
//! - `reader.rs`: [`FrameReader`], a bounded incremental reader for a byte stream.
//! - `sync.rs`: [`SyncItem`] and the page limits of a topology sync.

mod envelope;
mod error;
mod messages;
mod reader;
mod sync;
mod trace;

pub use envelope::{
    CONTROL_VERSION, Envelope, FRAME_HEADER_LEN, MAX_FRAME_LEN, decode_frame, encode_frame,
};
pub use error::ControlError;
pub use messages::{
    ClientToken, CloseReason, ErrorCode, HopSpec, LinkReport, MAX_ERROR_MESSAGE_LEN, MAX_GAME_LEN,
    MAX_IDLE_TIMEOUT_MS, MAX_NODE_NAME_LEN, MAX_PATH_HOPS, MAX_PATH_ID, MAX_TOKEN_LEN, Message,
};
pub use reader::FrameReader;
pub use sync::{MAX_SYNC_ITEM_LEN, MAX_SYNC_PAGE_BYTES, MAX_SYNC_PAGE_ITEMS, SyncItem};
pub use trace::{MAX_TRACESTATE_LEN, MAX_TRACESTATE_MEMBERS, TraceContext, TraceError};
