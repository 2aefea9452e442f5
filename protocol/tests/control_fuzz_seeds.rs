//! The seed corpus of the `control_decode` fuzz target, kept in step with the encoding.
//!
//! The committed files under `fuzz/corpus/control_decode/` must equal the frames built here,
//! so this test doubles as a golden test of the version-1 wire format. After a deliberate
//! format change (which also needs a new `CONTROL_VERSION`), regenerate them with
//! `LIGHTSPEED_WRITE_FUZZ_SEEDS=1 cargo test -p lightspeed-protocol --test control_fuzz_seeds`.

use std::path::PathBuf;

use lightspeed_protocol::control::{
    CONTROL_VERSION, ClientToken, CloseReason, Envelope, ErrorCode, HopSpec, Message, TraceContext,
    decode_frame, encode_frame,
};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{SessionId, SessionKey};

fn trace() -> TraceContext {
    TraceContext::parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .unwrap()
        .with_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        .unwrap()
}

fn seed_envelopes() -> Vec<(&'static str, Envelope)> {
    let key = SessionKey(*b"0123456789abcdef0123456789abcdef");
    let hops = vec![
        HopSpec {
            node: "relay-fra-1".into(),
            data_addr: "198.51.100.20:4434".parse().unwrap(),
        },
        HopSpec {
            node: "relay-ams-2".into(),
            data_addr: "[2001:db8::20]:4434".parse().unwrap(),
        },
    ];
    let env = |id, body| Envelope::new(id, Some(trace()), body);
    vec![
        (
            "session_request",
            env(
                1,
                Message::SessionRequest {
                    token: ClientToken("ls_tok_3f9a2c7d1e".into()),
                    target: "203.0.113.7:27015".parse().unwrap(),
                    game: Some("cs2".into()),
                    fec: FecScheme::Xor { k: 4 },
                    path: hops.clone(),
                },
            ),
        ),
        (
            "session_grant",
            Envelope::new(
                1,
                None,
                Message::SessionGrant {
                    session: SessionId(0x00c0_ffee),
                    key: key.clone(),
                    data_addr: "198.51.100.20:4434".parse().unwrap(),
                    fec: FecScheme::ReedSolomon { k: 10, m: 3 },
                    idle_timeout_ms: 30_000,
                },
            ),
        ),
        (
            "session_bind",
            env(
                2,
                Message::SessionBind {
                    session: SessionId(0x00c0_ffee),
                },
            ),
        ),
        (
            "session_close",
            env(
                3,
                Message::SessionClose {
                    session: SessionId(0x00c0_ffee),
                    reason: CloseReason::ClientExit,
                },
            ),
        ),
        (
            "relay_install",
            env(
                4,
                Message::RelayInstall {
                    session: SessionId(0x00c0_ffee),
                    key,
                    upstream: "[2001:db8::1]:4434".parse().unwrap(),
                    idle_timeout_ms: 30_000,
                },
            ),
        ),
        (
            "fec_update",
            env(
                5,
                Message::FecUpdate {
                    session: SessionId(7),
                    fec: FecScheme::Duplicate,
                },
            ),
        ),
        (
            "route_update",
            env(
                6,
                Message::RouteUpdate {
                    session: SessionId(7),
                    path: hops.clone(),
                },
            ),
        ),
        ("ack", Envelope::new(6, None, Message::Ack)),
        (
            "ping",
            env(
                u64::MAX,
                Message::Ping {
                    nonce: 0x0123_4567_89ab_cdef,
                },
            ),
        ),
        (
            "pong",
            Envelope::new(
                u64::MAX,
                None,
                Message::Pong {
                    nonce: 0x0123_4567_89ab_cdef,
                },
            ),
        ),
        (
            "path_setup",
            env(
                12,
                Message::PathSetup {
                    session: SessionId(7),
                    path_id: 1,
                    path: hops,
                },
            ),
        ),
        (
            "error",
            Envelope::new(
                1,
                None,
                Message::Error {
                    code: ErrorCode::DestinationRefused,
                    message: "destination 10.0.0.1:27015 is in a refused range".into(),
                },
            ),
        ),
    ]
}

/// Every seed as a frame, plus one stream of several frames with a bad body in the middle,
/// so the fuzzer starts from the reader's skip path too.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stream = Vec::new();
    for (name, env) in seed_envelopes() {
        let mut frame = Vec::new();
        encode_frame(&env, &mut frame).unwrap();
        if matches!(name, "ping" | "session_bind" | "ack") {
            stream.extend_from_slice(&frame);
            // A frame with a valid header and an unknown message variant.
            stream.extend_from_slice(&[0, 0, 0, 5]);
            stream.extend_from_slice(&CONTROL_VERSION.to_be_bytes());
            stream.extend_from_slice(&[1, 0, 99]);
        }
        out.push((format!("{name}.bin"), frame));
    }
    out.push(("stream.bin".into(), stream));
    out
}

#[test]
fn fuzz_seed_corpus_matches_the_current_encoding() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/control_decode");
    let write = std::env::var_os("LIGHTSPEED_WRITE_FUZZ_SEEDS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, bytes) in seeds() {
        let path = dir.join(&name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            committed, bytes,
            "{name}: the version-1 encoding changed; bump CONTROL_VERSION, then regenerate the seeds"
        );
    }
}

#[test]
fn every_seed_frame_decodes_to_its_envelope() {
    for (name, env) in seed_envelopes() {
        let mut frame = Vec::new();
        encode_frame(&env, &mut frame).unwrap();
        assert_eq!(decode_frame(&frame), Ok((env, frame.len())), "{name}");
    }
}
