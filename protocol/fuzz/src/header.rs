//! Valid data-plane headers and payloads built from fuzzer bytes.

use arbitrary::{Result, Unstructured};
use lightspeed_protocol::SessionId;
use lightspeed_protocol::fec::{FecField, MAX_K, MAX_M};
use lightspeed_protocol::header::{Header, PacketType};

/// The key the `header_decode` target verifies raw inputs with. The seed packets under
/// `corpus/header_decode/` are sealed with it (by `protocol/tests/header_fuzz_seeds.rs`, which
/// holds a copy), so the fuzzer starts from inputs that pass verification.
pub const FUZZ_KEY: [u8; 32] = *b"lightspeed header_decode fuzzkey";

/// Every packet type, in wire order.
pub const ALL_TYPES: [PacketType; 7] = [
    PacketType::Data,
    PacketType::Parity,
    PacketType::Probe,
    PacketType::ProbeReply,
    PacketType::Bind,
    PacketType::BindAck,
    PacketType::Close,
];

/// A header of any type that `Header::validate` accepts for a payload of the length returned
/// with it, and that payload.
pub fn header_and_payload(u: &mut Unstructured<'_>) -> Result<(Header, Vec<u8>)> {
    let packet_type = *u.choose(&ALL_TYPES)?;
    let header = Header {
        packet_type,
        path: u.arbitrary()?,
        session: SessionId(u.int_in_range(1..=u32::MAX)?),
        seq: u.arbitrary()?,
        timestamp: u.arbitrary()?,
        fec: fec_field(u, packet_type)?,
    };
    let (min, max) = packet_type.payload_len_range();
    let len = u.int_in_range(min..=max)?;
    // Payload bytes from the input while it lasts, then a cheap pattern: a 1,400-byte payload
    // must not need 1,400 input bytes for the fuzzer to reach it.
    let mut payload = vec![0u8; len];
    let from_input = len.min(u.len());
    u.fill_buffer(&mut payload[..from_input])?;
    for (i, b) in payload.iter_mut().enumerate().skip(from_input) {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    Ok((header, payload))
}

/// A FEC field that the header's rules allow for `packet_type`.
pub fn fec_field(u: &mut Unstructured<'_>, packet_type: PacketType) -> Result<FecField> {
    Ok(match packet_type {
        PacketType::Data if u.arbitrary()? => FecField::NONE,
        PacketType::Data => {
            let k = u.int_in_range(1..=MAX_K)?;
            FecField {
                group: u.arbitrary()?,
                index: u.int_in_range(0..=k - 1)?,
                k,
                m: u.int_in_range(1..=MAX_M)?,
            }
        }
        PacketType::Parity => {
            let k = u.int_in_range(1..=MAX_K)?;
            let m = u.int_in_range(1..=MAX_M)?;
            FecField {
                group: u.arbitrary()?,
                index: k + u.int_in_range(0..=m - 1)?,
                k,
                m,
            }
        }
        _ => FecField::NONE,
    })
}
