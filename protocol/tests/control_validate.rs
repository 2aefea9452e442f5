//! Validation of decoded and encoded envelopes: every limit and invariant gives its own
//! error, on both sides of the wire.

mod control_support;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use control_support::{frame_of, raw_frame};
use lightspeed_protocol::control::{
    CONTROL_VERSION, ClientToken, ControlError, Envelope, ErrorCode, HopSpec, MAX_NODE_NAME_LEN,
    MAX_PATH_HOPS, MAX_TOKEN_LEN, Message, TraceContext, TraceError, decode_frame, encode_frame,
};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{SessionId, SessionKey};

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

fn request(token: &str, path: Vec<HopSpec>) -> Message {
    Message::SessionRequest {
        token: ClientToken(token.to_owned()),
        target: "203.0.113.7:27015".parse().unwrap(),
        game: Some("cs2".to_owned()),
        fec: FecScheme::Xor { k: 4 },
        path,
    }
}

/// The frame of `envelope` serialised with no validation at all, as a hostile peer could.
fn unchecked_frame(envelope: &Envelope) -> Vec<u8> {
    raw_frame(CONTROL_VERSION, &postcard::to_stdvec(envelope).unwrap())
}

#[test]
fn decoded_envelopes_are_validated() {
    let long_token = "t".repeat(MAX_TOKEN_LEN + 1);
    let cases: Vec<(Message, ControlError)> = vec![
        (
            request(&long_token, vec![]),
            ControlError::TooLong {
                field: "SessionRequest.token",
                len: MAX_TOKEN_LEN + 1,
                max: MAX_TOKEN_LEN,
            },
        ),
        (
            request("", vec![]),
            ControlError::Invalid {
                field: "SessionRequest.token",
                reason: "empty",
            },
        ),
        (
            request("has space", vec![]),
            ControlError::Invalid {
                field: "SessionRequest.token",
                reason: "not visible ASCII",
            },
        ),
        (
            request(
                "tok",
                vec![
                    HopSpec {
                        node: "relay".into(),
                        data_addr: v6(4434)
                    };
                    MAX_PATH_HOPS + 1
                ],
            ),
            ControlError::TooLong {
                field: "SessionRequest.path",
                len: MAX_PATH_HOPS + 1,
                max: MAX_PATH_HOPS,
            },
        ),
        (
            request(
                "tok",
                vec![HopSpec {
                    node: "r".repeat(MAX_NODE_NAME_LEN + 1),
                    data_addr: v6(4434),
                }],
            ),
            ControlError::TooLong {
                field: "SessionRequest.path",
                len: MAX_NODE_NAME_LEN + 1,
                max: MAX_NODE_NAME_LEN,
            },
        ),
        (
            request(
                "tok",
                vec![HopSpec {
                    node: "relay".into(),
                    data_addr: v6(0),
                }],
            ),
            ControlError::Invalid {
                field: "SessionRequest.path",
                reason: "port 0",
            },
        ),
        (
            Message::SessionBind {
                session: SessionId(0),
            },
            ControlError::Invalid {
                field: "SessionBind.session",
                reason: "session id 0",
            },
        ),
        (
            Message::RelayInstall {
                session: SessionId(5),
                key: SessionKey([0; 32]),
                upstream: v6(4434),
                idle_timeout_ms: 1000,
            },
            ControlError::Invalid {
                field: "RelayInstall.key",
                reason: "all-zero key",
            },
        ),
        (
            Message::FecUpdate {
                session: SessionId(5),
                fec: FecScheme::ReedSolomon { k: 16, m: 1 },
            },
            ControlError::Invalid {
                field: "FecUpdate.fec",
                reason: "FEC parameters outside 1..=15",
            },
        ),
        (
            Message::FecUpdate {
                session: SessionId(5),
                fec: FecScheme::Xor { k: 0 },
            },
            ControlError::Invalid {
                field: "FecUpdate.fec",
                reason: "FEC parameters outside 1..=15",
            },
        ),
        (
            Message::SessionGrant {
                session: SessionId(5),
                key: SessionKey([1; 32]),
                data_addr: v6(4434),
                fec: FecScheme::Off,
                idle_timeout_ms: 3_600_001,
            },
            ControlError::Invalid {
                field: "SessionGrant.idle_timeout_ms",
                reason: "idle timeout outside 1..=3600000 ms",
            },
        ),
        (
            Message::Error {
                code: ErrorCode::Internal,
                message: "x".repeat(257),
            },
            ControlError::TooLong {
                field: "Error.message",
                len: 257,
                max: 256,
            },
        ),
    ];
    for (body, expected) in cases {
        let env = Envelope::new(1, None, body);
        assert_eq!(
            decode_frame(&unchecked_frame(&env)),
            Err(expected.clone()),
            "decoding {env:?}"
        );
        let mut out = vec![9, 9];
        assert_eq!(
            encode_frame(&env, &mut out),
            Err(expected),
            "encoding {env:?}"
        );
        assert_eq!(out, [9, 9], "a refused encode leaves the buffer as it was");
    }
}

#[test]
fn ipv6_scope_ids_are_refused_because_they_cannot_be_carried() {
    let scoped = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 4434, 0, 3));
    let env = Envelope::new(
        1,
        None,
        Message::RelayInstall {
            session: SessionId(1),
            key: SessionKey([1; 32]),
            upstream: scoped,
            idle_timeout_ms: 1000,
        },
    );
    assert_eq!(
        encode_frame(&env, &mut Vec::new()),
        Err(ControlError::Invalid {
            field: "RelayInstall.upstream",
            reason: "IPv6 flow info or scope id cannot be carried"
        })
    );
}

#[test]
fn decoded_trace_contexts_are_validated() {
    let env = Envelope::new(1, Some(sample_trace()), Message::Ack);
    let mut frame = frame_of(&env);
    // Header (6), request id (1), Some tag (1), then the 16-byte trace id.
    frame[8..24].fill(0);
    assert_eq!(
        decode_frame(&frame),
        Err(ControlError::Trace(TraceError::ZeroTraceId))
    );

    let mut frame = frame_of(&env);
    frame[24..32].fill(0);
    assert_eq!(
        decode_frame(&frame),
        Err(ControlError::Trace(TraceError::ZeroParentId))
    );

    let with_state = Envelope::new(
        1,
        Some(sample_trace().with_tracestate("rojo=1").unwrap()),
        Message::Ack,
    );
    let mut frame = frame_of(&with_state);
    let at = frame.len() - 7; // "rojo=1", then the Ack variant tag.
    assert_eq!(&frame[at..at + 6], b"rojo=1");
    frame[at] = b'R';
    assert_eq!(
        decode_frame(&frame),
        Err(ControlError::Trace(TraceError::TracestateMember {
            index: 0
        }))
    );
}

#[test]
fn client_tokens_never_reach_debug_output() {
    let env = Envelope::new(1, None, request("sekrit-token", vec![]));
    let shown = format!("{env:?}");
    assert!(!shown.contains("sekrit"), "{shown}");
    assert!(shown.contains("ClientToken(12 bytes)"), "{shown}");
}

#[test]
fn path_setup_accepts_ids_0_and_1_only() {
    let setup = |path_id| Message::PathSetup {
        session: lightspeed_protocol::SessionId(3),
        path_id,
        path: Vec::new(),
    };
    assert!(setup(0).validate().is_ok());
    assert!(
        setup(lightspeed_protocol::control::MAX_PATH_ID)
            .validate()
            .is_ok()
    );
    let err = setup(2).validate().unwrap_err();
    assert!(err.to_string().contains("PathSetup.path_id"), "{err}");
}
