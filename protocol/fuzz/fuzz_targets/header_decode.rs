//! Data-plane header: arbitrary bytes through `parse` / `verify`, and structured packets through
//! `seal` / `parse` / `verify`.
//!
//! Invariants, raw part (the input as a received datagram):
//! - `parse` never panics; its length errors are exactly the length rules (shorter than the
//!   header is `Truncated`, longer than `MAX_PACKET_LEN` is `TooLong`);
//! - a parsed packet has a non-zero session and an allowed payload length;
//! - when it also verifies under `FUZZ_KEY` (only inputs that came from a sealed packet, such
//!   as the seeds), sealing its header and payload again reproduces the input byte for byte.
//!
//! Invariants, structured part (a valid header of any type, a payload of an allowed length and
//! a key, all from the input):
//! - `seal` and `seal_in_place` succeed and write identical bytes of the expected length;
//! - `parse` then `verify` give back an equal header and payload;
//! - flipping any one bit (chosen by the input) makes `parse` or `verify` fail;
//! - truncating by any amount (chosen by the input, plus one byte and down to the bare header)
//!   and appending a byte make `parse` or `verify` fail;
//! - another key fails verification.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use lightspeed_protocol::SessionKey;
use lightspeed_protocol::header::{
    DecodeError, HEADER_LEN, MAX_PACKET_LEN, parse, seal, seal_in_place,
};
use lightspeed_protocol_fuzz::header::{FUZZ_KEY, header_and_payload};

fuzz_target!(|data: &[u8]| {
    raw(data);
    structured(data);
});

fn raw(data: &[u8]) {
    let key = SessionKey(FUZZ_KEY);
    let unverified = match parse(data) {
        Ok(unverified) => unverified,
        Err(DecodeError::Truncated { len }) => {
            assert!(len == data.len() && len < HEADER_LEN);
            return;
        }
        Err(DecodeError::TooLong { len }) => {
            assert!(len == data.len() && len > MAX_PACKET_LEN);
            return;
        }
        Err(_) => {
            assert!((HEADER_LEN..=MAX_PACKET_LEN).contains(&data.len()));
            return;
        }
    };
    assert_ne!(unverified.session().0, 0);
    let (min, max) = unverified.packet_type().payload_len_range();
    assert!((min..=max).contains(&(data.len() - HEADER_LEN)));
    let Ok(packet) = unverified.verify(&key) else {
        return;
    };
    assert_eq!(packet.payload, &data[HEADER_LEN..]);
    assert_eq!(packet.header.session, unverified.session());
    let mut out = [0u8; MAX_PACKET_LEN];
    let len = seal(&packet.header, &key, packet.payload, &mut out)
        .expect("an authenticated header re-seals");
    assert_eq!(&out[..len], data, "re-sealing changed the packet");
}

fn structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(key) = u.arbitrary::<[u8; 32]>().map(SessionKey) else {
        return;
    };
    let Ok((header, payload)) = header_and_payload(&mut u) else {
        return;
    };
    let bit: usize = u.arbitrary().unwrap_or(0);
    let cut: usize = u.arbitrary().unwrap_or(0);

    let mut packet = [0u8; MAX_PACKET_LEN + 1];
    let len = seal(&header, &key, &payload, &mut packet).expect("valid headers seal");
    assert_eq!(len, HEADER_LEN + payload.len());
    let mut in_place = [0u8; MAX_PACKET_LEN];
    in_place[HEADER_LEN..len].copy_from_slice(&payload);
    assert_eq!(
        seal_in_place(&header, &key, &mut in_place, payload.len()),
        Ok(len)
    );
    assert_eq!(in_place[..len], packet[..len]);

    let sealed = &packet[..len];
    let got = parse(sealed)
        .expect("a sealed packet parses")
        .verify(&key)
        .expect("a sealed packet verifies");
    assert_eq!(got.header, header);
    assert_eq!(got.payload, &payload[..]);

    let mut other = key.clone();
    other.0[0] ^= 1;
    assert!(rejected(sealed, &other), "verified under another key");

    let bit = bit % (len * 8);
    let mut flipped = sealed.to_vec();
    flipped[bit / 8] ^= 1 << (bit % 8);
    assert!(
        rejected(&flipped, &key),
        "bit {bit} flipped and still accepted"
    );

    for cut in [cut % len + 1, 1, len - HEADER_LEN, len] {
        if cut > 0 {
            assert!(
                rejected(&sealed[..len - cut], &key),
                "cut by {cut} and still accepted"
            );
        }
    }
    // One byte more: the slot after the packet is still zero from the buffer.
    assert!(
        rejected(&packet[..len + 1], &key),
        "extended and still accepted"
    );
}

fn rejected(bytes: &[u8], key: &SessionKey) -> bool {
    parse(bytes).and_then(|p| p.verify(key)).is_err()
}
