//! The data-plane packet: a fixed 26-byte header, then the payload.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-------+-------+---------------+-------------------------------+
//! |version| type  |     path      |       session id (hi 16)      |
//! +-------+-------+---------------+-------------------------------+
//! |       session id (lo 16)      |        sequence (hi 16)       |
//! +-------------------------------+-------------------------------+
//! |        sequence (lo 16)       |   sender timestamp µs (hi 16) |
//! +-------------------------------+-------------------------------+
//! |  sender timestamp µs (lo 16)  |          FEC group            |
//! +---------------+-------+-------+-------------------------------+
//! |   FEC index   | FEC k | FEC m |                               |
//! +---------------+-------+-------+                               +
//! |                 MAC: BLAKE3-keyed(header[0..18] ‖ payload)[0..8]
//! +                               +-------------------------------+
//! |                               |   payload ...
//! +-------------------------------+
//! ```
//!
//! All integers are big-endian. Parsing is two-staged so that the data plane does the cheap,
//! allocation-free structural checks first ([`parse`]: length, version, type, exact payload
//! length for the type, FEC field shape, non-zero session), then looks the session's key up and
//! authenticates ([`Unverified::verify`]) before anything else reads the packet. Nothing from
//! an [`Unverified`] packet but its session id may be trusted.

use crate::fec::{FecField, MAX_DATA_PAYLOAD, MAX_K, MAX_M, MAX_PARITY_PAYLOAD};
use crate::ids::{SessionId, SessionKey};
use crate::mac::{self, TAG_LEN};

/// The protocol version this code speaks.
pub const VERSION: u8 = 1;
/// Bytes covered by the MAC before the tag itself.
pub const PREFIX_LEN: usize = 18;
/// Total header length, tag included.
pub const HEADER_LEN: usize = PREFIX_LEN + TAG_LEN;
// DESIGN.md §4 budget: the header, MAC included, is at most 28 bytes.
const _: () = assert!(HEADER_LEN <= 28);

/// Longest valid packet (a parity packet of the longest symbol).
pub const MAX_PACKET_LEN: usize = HEADER_LEN + MAX_PARITY_PAYLOAD;
/// Payload length of probe, probe reply, bind and bind-ack packets.
pub const CONTROL_PAYLOAD_LEN: usize = 8;

/// What a packet is. The numeric values are the wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// A game datagram (1..=1400 bytes).
    Data = 0,
    /// An FEC parity symbol (3..=1402 bytes).
    Parity = 1,
    /// Keepalive and RTT probe; 8 opaque bytes, answered by a [`PacketType::ProbeReply`] of the
    /// same size so a probe can never be amplified.
    Probe = 2,
    /// Answer to a probe: [`ProbeReplyBody`].
    ProbeReply = 3,
    /// Binds the session to the sender's address on a node that holds the session's key;
    /// 8-byte nonce.
    Bind = 4,
    /// Answer to a bind: the nonce echoed (same size as the request).
    BindAck = 5,
    /// The sender closes the session; empty payload.
    Close = 6,
}

impl PacketType {
    /// Decodes the 4-bit wire value.
    pub const fn from_wire(raw: u8) -> Option<PacketType> {
        Some(match raw {
            0 => PacketType::Data,
            1 => PacketType::Parity,
            2 => PacketType::Probe,
            3 => PacketType::ProbeReply,
            4 => PacketType::Bind,
            5 => PacketType::BindAck,
            6 => PacketType::Close,
            _ => return None,
        })
    }

    /// Allowed payload lengths for this type, inclusive.
    pub const fn payload_len_range(self) -> (usize, usize) {
        match self {
            PacketType::Data => (1, MAX_DATA_PAYLOAD),
            PacketType::Parity => (3, MAX_PARITY_PAYLOAD),
            PacketType::Probe | PacketType::ProbeReply | PacketType::Bind | PacketType::BindAck => {
                (CONTROL_PAYLOAD_LEN, CONTROL_PAYLOAD_LEN)
            }
            PacketType::Close => (0, 0),
        }
    }
}

/// The authenticated fields of a data-plane header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// What the packet is.
    pub packet_type: PacketType,
    /// Which of the session's paths the sender put the packet on (multipath bookkeeping).
    pub path: u8,
    /// The session; never zero.
    pub session: SessionId,
    /// Per-direction sequence number, checked by the receiver's replay window.
    pub seq: u32,
    /// Sender's clock in µs, truncated to 32 bits ([`crate::Micros::as_wire`]).
    pub timestamp: u32,
    /// FEC position; [`FecField::NONE`] unless the type is data or parity.
    pub fec: FecField,
}

/// Why a packet was refused. Each variant is a distinct drop reason for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than a header.
    #[error("packet of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    Truncated {
        /// Received length.
        len: usize,
    },
    /// Longer than any valid packet.
    #[error("packet of {len} bytes exceeds {MAX_PACKET_LEN}")]
    TooLong {
        /// Received length.
        len: usize,
    },
    /// A version this node does not speak.
    #[error("unsupported protocol version {version}")]
    UnsupportedVersion {
        /// The version nibble received.
        version: u8,
    },
    /// A type nibble with no meaning.
    #[error("unknown packet type {raw}")]
    UnknownType {
        /// The type nibble received.
        raw: u8,
    },
    /// The payload length is not allowed for the type.
    #[error("{packet_type:?} packet with a {payload_len}-byte payload")]
    BadLength {
        /// The packet's type.
        packet_type: PacketType,
        /// Its payload length.
        payload_len: usize,
    },
    /// FEC fields inconsistent with the type, or out of range.
    #[error("bad FEC field {fec:?} for a {packet_type:?} packet")]
    BadFecField {
        /// The packet's type.
        packet_type: PacketType,
        /// The field as received.
        fec: FecField,
    },
    /// Session id zero, which is never issued.
    #[error("session id zero")]
    ZeroSession,
    /// The MAC does not match: forged, corrupted, or sent under another key.
    #[error("MAC mismatch")]
    BadMac,
}

/// Why a packet could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer cannot hold header and payload.
    #[error("buffer of {have} bytes cannot hold a {needed}-byte packet")]
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// The header would not parse on the other side (bad length, FEC field or session).
    #[error("invalid header: {0}")]
    Invalid(DecodeError),
}

impl Header {
    /// Writes the MAC-covered first [`PREFIX_LEN`] bytes.
    pub fn write_prefix(&self, out: &mut [u8; PREFIX_LEN]) {
        out[0] = (VERSION << 4) | self.packet_type as u8;
        out[1] = self.path;
        out[2..6].copy_from_slice(&self.session.0.to_be_bytes());
        out[6..10].copy_from_slice(&self.seq.to_be_bytes());
        out[10..14].copy_from_slice(&self.timestamp.to_be_bytes());
        out[14..16].copy_from_slice(&self.fec.group.to_be_bytes());
        out[16] = self.fec.index;
        out[17] = (self.fec.k << 4) | (self.fec.m & 0x0f);
    }

    /// Checks what [`parse`] checks, for a header about to be sent with `payload_len` bytes.
    pub fn validate(&self, payload_len: usize) -> Result<(), DecodeError> {
        if self.session.0 == 0 {
            return Err(DecodeError::ZeroSession);
        }
        if self.fec.k > MAX_K || self.fec.m > MAX_M {
            return Err(DecodeError::BadFecField {
                packet_type: self.packet_type,
                fec: self.fec,
            });
        }
        check_payload_len(self.packet_type, payload_len)?;
        check_fec(self.packet_type, self.fec)
    }
}

fn check_payload_len(packet_type: PacketType, payload_len: usize) -> Result<(), DecodeError> {
    let (min, max) = packet_type.payload_len_range();
    if payload_len < min || payload_len > max {
        return Err(DecodeError::BadLength {
            packet_type,
            payload_len,
        });
    }
    Ok(())
}

fn check_fec(packet_type: PacketType, fec: FecField) -> Result<(), DecodeError> {
    let FecField { group, index, k, m } = fec;
    let ok = match packet_type {
        PacketType::Data if k == 0 => m == 0 && group == 0 && index == 0,
        PacketType::Data => m >= 1 && index < k,
        PacketType::Parity => {
            k >= 1 && m >= 1 && index >= k && u16::from(index) < u16::from(k) + u16::from(m)
        }
        _ => fec == FecField::NONE,
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::BadFecField { packet_type, fec })
    }
}

/// Seals a packet whose payload the caller already wrote at `buf[HEADER_LEN..HEADER_LEN +
/// payload_len]`: writes the header and its MAC in front of it and returns the packet length.
/// This is the zero-copy path: the data plane receives game datagrams straight into
/// `buf[HEADER_LEN..]`.
pub fn seal_in_place(
    header: &Header,
    key: &SessionKey,
    buf: &mut [u8],
    payload_len: usize,
) -> Result<usize, EncodeError> {
    header.validate(payload_len).map_err(EncodeError::Invalid)?;
    let total = HEADER_LEN + payload_len;
    if buf.len() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            have: buf.len(),
        });
    }
    let mut prefix = [0u8; PREFIX_LEN];
    header.write_prefix(&mut prefix);
    let tag = mac::tag(key, &prefix, &buf[HEADER_LEN..total]);
    buf[..PREFIX_LEN].copy_from_slice(&prefix);
    buf[PREFIX_LEN..HEADER_LEN].copy_from_slice(&tag);
    Ok(total)
}

/// Seals `header` and a copy of `payload` into `out`, returning the packet length.
pub fn seal(
    header: &Header,
    key: &SessionKey,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let total = HEADER_LEN + payload.len();
    if out.len() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            have: out.len(),
        });
    }
    out[HEADER_LEN..total].copy_from_slice(payload);
    seal_in_place(header, key, out, payload.len())
}

/// A packet that passed the structural checks but is not yet authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Unverified<'a> {
    header: Header,
    bytes: &'a [u8],
}

/// An authenticated packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The authenticated header.
    pub header: Header,
    /// The authenticated payload.
    pub payload: &'a [u8],
}

/// Structural checks, cheapest first; allocation-free and panic-free on any input.
pub fn parse(bytes: &[u8]) -> Result<Unverified<'_>, DecodeError> {
    let len = bytes.len();
    if len < HEADER_LEN {
        return Err(DecodeError::Truncated { len });
    }
    if len > MAX_PACKET_LEN {
        return Err(DecodeError::TooLong { len });
    }
    let version = bytes[0] >> 4;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion { version });
    }
    let raw_type = bytes[0] & 0x0f;
    let packet_type =
        PacketType::from_wire(raw_type).ok_or(DecodeError::UnknownType { raw: raw_type })?;
    check_payload_len(packet_type, len - HEADER_LEN)?;
    let session = SessionId(be32(bytes, 2));
    if session.0 == 0 {
        return Err(DecodeError::ZeroSession);
    }
    let fec = FecField {
        group: u16::from_be_bytes([bytes[14], bytes[15]]),
        index: bytes[16],
        k: bytes[17] >> 4,
        m: bytes[17] & 0x0f,
    };
    check_fec(packet_type, fec)?;
    let header = Header {
        packet_type,
        path: bytes[1],
        session,
        seq: be32(bytes, 6),
        timestamp: be32(bytes, 10),
        fec,
    };
    Ok(Unverified { header, bytes })
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl<'a> Unverified<'a> {
    /// The claimed session, to look its key up. Not authenticated yet.
    pub fn session(&self) -> SessionId {
        self.header.session
    }

    /// The claimed packet type, e.g. to refuse a type a node never accepts before spending a
    /// MAC computation on it. Not authenticated yet.
    pub fn packet_type(&self) -> PacketType {
        self.header.packet_type
    }

    /// Authenticates the packet with the session's key.
    pub fn verify(self, key: &SessionKey) -> Result<Packet<'a>, DecodeError> {
        let (prefix, rest) = self.bytes.split_at(PREFIX_LEN);
        let (tag, payload) = rest.split_at(TAG_LEN);
        if !mac::verify(key, prefix, payload, tag) {
            return Err(DecodeError::BadMac);
        }
        Ok(Packet {
            header: self.header,
            payload,
        })
    }
}

/// Payload of a [`PacketType::ProbeReply`]: lets the prober compute RTT without trusting the
/// peer's clock (see [`crate::time::rtt_from_echo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReplyBody {
    /// The probe's header timestamp, echoed.
    pub echo_timestamp: u32,
    /// How long the replier held the probe before answering, µs.
    pub hold_us: u32,
}

impl ProbeReplyBody {
    /// Wire form.
    pub fn to_bytes(self) -> [u8; CONTROL_PAYLOAD_LEN] {
        let mut out = [0u8; CONTROL_PAYLOAD_LEN];
        out[..4].copy_from_slice(&self.echo_timestamp.to_be_bytes());
        out[4..].copy_from_slice(&self.hold_us.to_be_bytes());
        out
    }

    /// Parses an authenticated probe-reply payload (exactly 8 bytes, else `None`).
    pub fn from_bytes(payload: &[u8]) -> Option<ProbeReplyBody> {
        if payload.len() != CONTROL_PAYLOAD_LEN {
            return None;
        }
        Some(ProbeReplyBody {
            echo_timestamp: be32(payload, 0),
            hold_us: be32(payload, 4),
        })
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
