//! proptest strategies for control-plane types, shared by the `control_*` test files.
#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use lightspeed_protocol::control::{
    ClientToken, CloseReason, Envelope, ErrorCode, HopSpec, LinkReport, MAX_PATH_HOPS, MAX_PATH_ID,
    Message, TraceContext, encode_frame,
};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{SessionId, SessionKey};
use proptest::prelude::*;

/// Printable ASCII except `,` and `=`, as W3C allows in a tracestate value.
const VALUE_CHARS: &str = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]";
const VALUE_END_CHARS: &str = r"[\x21-\x2b\x2d-\x3c\x3e-\x7e]";

pub fn tracestate() -> impl Strategy<Value = String> {
    let key = "[a-z0-9][a-z0-9_*/@-]{0,15}";
    let value = prop::string::string_regex(&format!("{VALUE_CHARS}{{0,20}}{VALUE_END_CHARS}"))
        .expect("valid regex");
    prop::collection::btree_map(key, value, 0..6).prop_map(|members| {
        members
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

pub fn trace_context() -> impl Strategy<Value = TraceContext> {
    (
        any::<[u8; 16]>().prop_filter("non-zero", |id| *id != [0; 16]),
        any::<[u8; 8]>().prop_filter("non-zero", |id| *id != [0; 8]),
        any::<u8>(),
        prop::option::of(tracestate()),
    )
        .prop_map(|(trace_id, parent_id, flags, state)| {
            let ctx = TraceContext::new(trace_id, parent_id, flags).expect("non-zero ids");
            match state {
                Some(state) => ctx
                    .with_tracestate(state)
                    .expect("generated tracestate is valid"),
                None => ctx,
            }
        })
}

pub fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))),
        (any::<[u8; 16]>(), 1..=u16::MAX).prop_map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            0,
            0
        ))),
    ]
}

pub fn fec_scheme() -> impl Strategy<Value = FecScheme> {
    prop_oneof![
        Just(FecScheme::Off),
        (1u8..=15).prop_map(|k| FecScheme::Xor { k }),
        (1u8..=15, 1u8..=15).prop_map(|(k, m)| FecScheme::ReedSolomon { k, m }),
        Just(FecScheme::Duplicate),
        (1u8..=15, 1u8..=15, 1u8..=15).prop_map(|(window, repairs, interval)| {
            FecScheme::Sliding {
                window,
                repairs,
                interval,
            }
        }),
    ]
}

pub fn session_id() -> impl Strategy<Value = SessionId> {
    (1..=u32::MAX).prop_map(SessionId)
}

pub fn session_key() -> impl Strategy<Value = SessionKey> {
    any::<[u8; 32]>()
        .prop_filter("non-zero", |k| *k != [0; 32])
        .prop_map(SessionKey)
}

pub fn hop() -> impl Strategy<Value = HopSpec> {
    ("[!-~]{1,64}", socket_addr()).prop_map(|(node, data_addr)| HopSpec { node, data_addr })
}

pub fn path() -> impl Strategy<Value = Vec<HopSpec>> {
    prop::collection::vec(hop(), 0..=MAX_PATH_HOPS)
}

pub fn close_reason() -> impl Strategy<Value = CloseReason> {
    prop_oneof![
        Just(CloseReason::ClientExit),
        Just(CloseReason::IdleTimeout),
        Just(CloseReason::NodeShutdown),
        Just(CloseReason::Revoked),
        Just(CloseReason::RouteChanged),
    ]
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::BadToken),
        Just(ErrorCode::SessionLimit),
        Just(ErrorCode::RateLimited),
        Just(ErrorCode::DestinationRefused),
        Just(ErrorCode::UnknownSession),
        Just(ErrorCode::UnsupportedVersion),
        Just(ErrorCode::Malformed),
        Just(ErrorCode::Internal),
    ]
}

pub fn idle_timeout() -> impl Strategy<Value = u32> {
    1..=lightspeed_protocol::control::MAX_IDLE_TIMEOUT_MS
}

pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            "[!-~]{1,100}",
            socket_addr(),
            prop::option::of("[!-~]{1,64}"),
            fec_scheme(),
            path()
        )
            .prop_map(|(token, target, game, fec, path)| Message::SessionRequest {
                token: ClientToken(token),
                target,
                game,
                fec,
                path,
            }),
        (
            session_id(),
            session_key(),
            socket_addr(),
            fec_scheme(),
            idle_timeout()
        )
            .prop_map(|(session, key, data_addr, fec, idle_timeout_ms)| {
                Message::SessionGrant {
                    session,
                    key,
                    data_addr,
                    fec,
                    idle_timeout_ms,
                }
            }),
        session_id().prop_map(|session| Message::SessionBind { session }),
        (session_id(), close_reason())
            .prop_map(|(session, reason)| Message::SessionClose { session, reason }),
        (session_id(), session_key(), socket_addr(), idle_timeout()).prop_map(
            |(session, key, upstream, idle_timeout_ms)| Message::RelayInstall {
                session,
                key,
                upstream,
                idle_timeout_ms,
            }
        ),
        (session_id(), fec_scheme()).prop_map(|(session, fec)| Message::FecUpdate { session, fec }),
        (session_id(), path()).prop_map(|(session, path)| Message::RouteUpdate { session, path }),
        Just(Message::Ack),
        any::<u64>().prop_map(|nonce| Message::Ping { nonce }),
        any::<u64>().prop_map(|nonce| Message::Pong { nonce }),
        // Up to 64 chars of up to 4 bytes each stays within the 256-byte limit.
        (error_code(), ".{0,64}").prop_map(|(code, message)| Message::Error { code, message }),
        (session_id(), fec_scheme(), any::<u32>()).prop_map(|(session, fec, from_seq)| {
            Message::FecSwitch {
                session,
                fec,
                from_seq,
            }
        }),
        (session_id(), any::<[u64; 5]>()).prop_map(|(session, [sent, exp, rec, del, peer])| {
            // Recovered and delivered_then never exceed delivered, loss runs never expected.
            Message::FecReport {
                session,
                report: LinkReport {
                    data_sent: sent,
                    expected: exp,
                    received: rec,
                    delivered: del,
                    recovered: del / 3,
                    peer_data_sent: peer,
                    delivered_then: del / 2,
                    srtt_us: sent ^ exp,
                    loss_runs: exp / 4,
                    server_rtt_us: rec ^ peer,
                },
            }
        }),
        (session_id(), 0..=MAX_PATH_ID, path()).prop_map(|(session, path_id, path)| {
            Message::PathSetup {
                session,
                path_id,
                path,
            }
        }),
    ]
}

pub fn envelope() -> impl Strategy<Value = Envelope> {
    (any::<u64>(), prop::option::of(trace_context()), message())
        .prop_map(|(request_id, trace, body)| Envelope::new(request_id, trace, body))
}

/// The frame of a valid envelope.
pub fn frame_of(envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(envelope, &mut out).expect("strategy envelopes are valid");
    out
}

/// A frame with a valid header around `body`, which is not checked at all.
pub fn raw_frame(version: u16, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len() + 2).expect("test bodies are small");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(body);
    out
}
