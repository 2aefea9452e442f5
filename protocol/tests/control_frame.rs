//! Control frames: round trips, exact bytes, truncation, version and size checks, and
//! validation of decoded envelopes.

mod control_support;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use control_support::{envelope, frame_of, raw_frame};
use lightspeed_protocol::control::{
    CONTROL_VERSION, ClientToken, ControlError, Envelope, ErrorCode, FRAME_HEADER_LEN, HopSpec,
    MAX_FRAME_LEN, MAX_GAME_LEN, MAX_NODE_NAME_LEN, MAX_PATH_HOPS, MAX_TOKEN_LEN,
    MAX_TRACESTATE_LEN, Message, TraceContext, decode_frame, encode_frame,
};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{SessionId, SessionKey};
use proptest::prelude::*;

fn ping(request_id: u64, nonce: u64) -> Envelope {
    Envelope::new(request_id, None, Message::Ping { nonce })
}

fn sample_trace() -> TraceContext {
    TraceContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .unwrap()
}

fn v6(port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
        port,
        0,
        0,
    ))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips(env in envelope()) {
        let frame = frame_of(&env);
        let (decoded, used) = decode_frame(&frame).unwrap();
        prop_assert_eq!(used, frame.len());
        prop_assert_eq!(decoded, env);
        let declared = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        prop_assert_eq!(declared, frame.len() - 4);
    }

    #[test]
    fn decoding_leaves_the_next_frame_alone(a in envelope(), b in envelope()) {
        let mut stream = frame_of(&a);
        let first_len = stream.len();
        encode_frame(&b, &mut stream).unwrap();
        let (first, used) = decode_frame(&stream).unwrap();
        prop_assert_eq!(used, first_len);
        prop_assert_eq!(first, a);
        let (second, used2) = decode_frame(&stream[used..]).unwrap();
        prop_assert_eq!(used2, stream.len() - first_len);
        prop_assert_eq!(second, b);
    }

    #[test]
    fn every_truncation_is_incomplete_with_the_exact_shortfall(env in envelope()) {
        let frame = frame_of(&env);
        for cut in 0..frame.len() {
            let needed = match cut {
                0..4 => 4 - cut,
                4..6 => FRAME_HEADER_LEN - cut,
                _ => frame.len() - cut,
            };
            prop_assert_eq!(decode_frame(&frame[..cut]).unwrap_err(), ControlError::Incomplete { needed });
        }
    }

    #[test]
    fn any_bytes_decode_or_fail_and_ok_means_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_decode_invariant(&bytes)?;
    }

    #[test]
    fn any_body_behind_a_valid_header_decodes_or_fails(body in prop::collection::vec(any::<u8>(), 0..300)) {
        check_decode_invariant(&raw_frame(CONTROL_VERSION, &body))?;
    }

    #[test]
    fn flipped_bytes_in_valid_frames_never_panic(env in envelope(), at in any::<prop::sample::Index>(), xor in 1u8..) {
        let mut frame = frame_of(&env);
        let i = at.index(frame.len());
        frame[i] ^= xor;
        check_decode_invariant(&frame)?;
    }
}

fn check_decode_invariant(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok((env, used)) = decode_frame(bytes) {
        prop_assert!(used <= bytes.len());
        let mut again = Vec::new();
        encode_frame(&env, &mut again).unwrap();
        prop_assert_eq!(decode_frame(&again).unwrap(), (env, again.len()));
    }
    Ok(())
}

#[test]
fn ping_frame_has_the_documented_bytes() {
    let mut out = Vec::new();
    encode_frame(&ping(7, 1), &mut out).unwrap();
    assert_eq!(out, [0, 0, 0, 6, 0, 1, 7, 0, 8, 1]);
}

#[test]
fn grant_frame_has_the_documented_bytes() {
    let env = Envelope::new(
        300,
        Some(sample_trace()),
        Message::SessionGrant {
            session: SessionId(0x1234),
            key: SessionKey([0xab; 32]),
            data_addr: "198.51.100.9:4434".parse().unwrap(),
            fec: FecScheme::ReedSolomon { k: 10, m: 3 },
            idle_timeout_ms: 30_000,
        },
    );
    let mut expected = vec![0xac, 0x02]; // request_id 300 as a varint
    expected.push(1); // Some(trace)
    expected.extend_from_slice(&[
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ]);
    expected.extend_from_slice(&[0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
    expected.push(0x01); // flags
    expected.push(0); // no tracestate
    expected.push(1); // Message::SessionGrant
    expected.extend_from_slice(&[0xb4, 0x24]); // session 0x1234
    expected.extend_from_slice(&[0xab; 32]);
    expected.extend_from_slice(&[0, 198, 51, 100, 9, 0xd2, 0x22]); // V4, ip, port 4434
    expected.extend_from_slice(&[2, 10, 3]); // ReedSolomon { k: 10, m: 3 }
    expected.extend_from_slice(&[0xb0, 0xea, 0x01]); // 30 000 ms
    let mut out = Vec::new();
    encode_frame(&env, &mut out).unwrap();
    assert_eq!(out, raw_frame(CONTROL_VERSION, &expected));
}

#[test]
fn other_versions_are_refused_from_the_header_alone() {
    let frame = raw_frame(2, &[7, 0, 8, 1]);
    assert_eq!(
        decode_frame(&frame),
        Err(ControlError::UnsupportedVersion { got: 2 })
    );
    assert_eq!(
        decode_frame(&frame[..6]),
        Err(ControlError::UnsupportedVersion { got: 2 })
    );
    assert_eq!(
        decode_frame(&frame[..5]),
        Err(ControlError::Incomplete { needed: 1 })
    );
    // Checked before the length limit, so a later version with bigger frames is named.
    assert_eq!(
        decode_frame(&[0xff, 0xff, 0xff, 0xff, 0x00, 0x00]),
        Err(ControlError::UnsupportedVersion { got: 0 })
    );
    assert!(ControlError::UnsupportedVersion { got: 2 }.ends_stream());
    assert_eq!(
        ControlError::UnsupportedVersion { got: 2 }.error_code(),
        ErrorCode::UnsupportedVersion
    );
}

#[test]
fn oversize_frames_are_refused_before_the_body_arrives() {
    let too_long = u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_be_bytes();
    let header = [too_long[0], too_long[1], too_long[2], too_long[3], 0, 1];
    assert_eq!(
        decode_frame(&header),
        Err(ControlError::FrameTooLarge {
            len: MAX_FRAME_LEN + 1,
            max: MAX_FRAME_LEN
        })
    );
    assert_eq!(
        decode_frame(&[0xff, 0xff, 0xff, 0xff, 0, 1]),
        Err(ControlError::FrameTooLarge {
            len: u32::MAX as usize,
            max: MAX_FRAME_LEN
        })
    );
    // Exactly the limit is allowed: it waits for the body.
    let at_limit = u32::try_from(MAX_FRAME_LEN).unwrap().to_be_bytes();
    let header = [at_limit[0], at_limit[1], at_limit[2], at_limit[3], 0, 1];
    assert_eq!(
        decode_frame(&header),
        Err(ControlError::Incomplete {
            needed: MAX_FRAME_LEN - 2
        })
    );
}

#[test]
fn lengths_below_two_are_too_short() {
    assert_eq!(
        decode_frame(&[0, 0, 0, 0]),
        Err(ControlError::FrameTooShort { len: 0 })
    );
    assert_eq!(
        decode_frame(&[0, 0, 0, 1, 0, 1]),
        Err(ControlError::FrameTooShort { len: 1 })
    );
    // A frame with a version but no body is a decode error, not a framing one.
    let err = decode_frame(&[0, 0, 0, 2, 0, 1]).unwrap_err();
    assert!(matches!(err, ControlError::Decode(_)), "{err:?}");
    assert!(!err.ends_stream());
    assert_eq!(err.error_code(), ErrorCode::Malformed);
}

#[test]
fn bytes_after_the_envelope_inside_the_frame_are_refused() {
    assert_eq!(
        decode_frame(&raw_frame(CONTROL_VERSION, &[7, 0, 8, 1, 0, 0])),
        Err(ControlError::TrailingBytes { count: 2 })
    );
}

#[test]
fn unknown_message_variant_is_a_decode_error() {
    let err = decode_frame(&raw_frame(CONTROL_VERSION, &[7, 0, 11])).unwrap_err();
    assert!(matches!(err, ControlError::Decode(_)), "{err:?}");
}

#[test]
fn largest_valid_envelope_fits_the_frame_limit_with_room() {
    let hop = |i: u16| HopSpec {
        node: "n".repeat(MAX_NODE_NAME_LEN),
        data_addr: v6(60_000 + i),
    };
    let state = format!("a={},b={}", "x".repeat(256), "y".repeat(251));
    assert_eq!(state.len(), MAX_TRACESTATE_LEN);
    let env = Envelope::new(
        u64::MAX,
        Some(sample_trace().with_tracestate(state).unwrap()),
        Message::SessionRequest {
            token: ClientToken("~".repeat(MAX_TOKEN_LEN)),
            target: v6(65_535),
            game: Some("g".repeat(MAX_GAME_LEN)),
            fec: FecScheme::ReedSolomon { k: 15, m: 15 },
            path: (0..MAX_PATH_HOPS as u16).map(hop).collect(),
        },
    );
    let frame = frame_of(&env);
    assert_eq!(frame.len(), 2_014);
    assert!(frame.len() * 8 < MAX_FRAME_LEN);
}

#[test]
fn non_minimal_varints_decode_to_the_same_envelope_but_reencode_minimally() {
    let padded = raw_frame(CONTROL_VERSION, &[0x87, 0x00, 0, 8, 1]); // request_id 7 in two bytes
    let (env, used) = decode_frame(&padded).unwrap();
    assert_eq!((env.clone(), used), (ping(7, 1), padded.len()));
    assert_eq!(frame_of(&env), [0, 0, 0, 6, 0, 1, 7, 0, 8, 1]);
}
