//! The seed corpus of the `header_decode` fuzz target, kept in step with the header format.
//!
//! Every seed is a packet sealed with the target's fixed key, so the fuzzer starts from inputs
//! that pass verification and exercises the re-seal check from the first run. The committed
//! files under `fuzz/corpus/header_decode/` must equal the packets built here, which makes this
//! a golden test of the version-1 header too. After a deliberate format change regenerate them
//! with `LIGHTSPEED_WRITE_FUZZ_SEEDS=1 cargo test -p lightspeed-protocol --test header_fuzz_seeds`.

use std::path::PathBuf;

use lightspeed_protocol::fec::{FecField, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD};
use lightspeed_protocol::header::{
    Header, MAX_PACKET_LEN, PacketType, ProbeReplyBody, parse, seal,
};
use lightspeed_protocol::{SessionId, SessionKey};

/// Copy of `lightspeed_protocol_fuzz::header::FUZZ_KEY` (the fuzz crate is its own workspace,
/// so tests here cannot import it).
const FUZZ_KEY: [u8; 32] = *b"lightspeed header_decode fuzzkey";

fn header(packet_type: PacketType, seq: u32, fec: FecField) -> Header {
    Header {
        packet_type,
        path: 1,
        session: SessionId(0x00c0_ffee),
        seq,
        timestamp: 0x1234_5678,
        fec,
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn seeds() -> Vec<(&'static str, Header, Vec<u8>)> {
    let data_fec = FecField {
        group: 513,
        index: 2,
        k: 4,
        m: 2,
    };
    let parity_fec = FecField {
        group: 513,
        index: 5,
        k: 4,
        m: 2,
    };
    let reply = ProbeReplyBody {
        echo_timestamp: 0x1234_0000,
        hold_us: 250,
    };
    vec![
        (
            "data_plain.bin",
            header(PacketType::Data, 1, FecField::NONE),
            pattern(120),
        ),
        (
            "data_one_byte.bin",
            header(PacketType::Data, 2, FecField::NONE),
            vec![0x42],
        ),
        (
            "data_fec.bin",
            header(PacketType::Data, 3, data_fec),
            pattern(200),
        ),
        (
            "data_max.bin",
            header(PacketType::Data, 4, data_fec),
            pattern(MAX_DATA_PAYLOAD),
        ),
        (
            "parity.bin",
            header(PacketType::Parity, 5, parity_fec),
            pattern(202),
        ),
        (
            "parity_xor_max.bin",
            header(
                PacketType::Parity,
                6,
                FecField {
                    group: u16::MAX,
                    index: 15,
                    k: 15,
                    m: 1,
                },
            ),
            pattern(MAX_PARITY_PAYLOAD),
        ),
        (
            "probe.bin",
            header(PacketType::Probe, 7, FecField::NONE),
            pattern(8),
        ),
        (
            "probe_reply.bin",
            header(PacketType::ProbeReply, 8, FecField::NONE),
            reply.to_bytes().to_vec(),
        ),
        (
            "bind.bin",
            header(PacketType::Bind, 9, FecField::NONE),
            pattern(8),
        ),
        (
            "bind_ack.bin",
            header(PacketType::BindAck, 10, FecField::NONE),
            pattern(8),
        ),
        (
            "close.bin",
            header(PacketType::Close, u32::MAX, FecField::NONE),
            Vec::new(),
        ),
    ]
}

/// The base seeds, and for each a variant with extreme header values (largest session, last
/// path, zero sequence and timestamp) and inverted payload bytes: at least two per type.
fn all_seeds() -> Vec<(String, Header, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, header, payload) in seeds() {
        let alt = Header {
            session: SessionId(u32::MAX),
            path: u8::MAX,
            seq: 0,
            timestamp: 0,
            ..header
        };
        let inverted = payload.iter().map(|b| !b).collect();
        let stem = name.trim_end_matches(".bin");
        out.push((format!("{stem}_alt.bin"), alt, inverted));
        out.push((name.to_owned(), header, payload));
    }
    out
}

fn sealed(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MAX_PACKET_LEN];
    let len =
        seal(header, &SessionKey(FUZZ_KEY), payload, &mut out).expect("seed headers are valid");
    out.truncate(len);
    out
}

#[test]
fn fuzz_seed_corpus_matches_the_current_header() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/header_decode");
    let write = std::env::var_os("LIGHTSPEED_WRITE_FUZZ_SEEDS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, header, payload) in all_seeds() {
        let bytes = sealed(&header, &payload);
        let path = dir.join(&name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            committed, bytes,
            "{name}: the version-1 header changed; bump VERSION, then regenerate the seeds"
        );
    }
}

#[test]
fn every_seed_verifies_under_the_fuzz_key_and_covers_every_type() {
    let key = SessionKey(FUZZ_KEY);
    let mut types = Vec::new();
    for (name, header, payload) in all_seeds() {
        let bytes = sealed(&header, &payload);
        let packet = parse(&bytes)
            .and_then(|p| p.verify(&key))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (packet.header, packet.payload),
            (header, &payload[..]),
            "{name}"
        );
        if !types.contains(&header.packet_type) {
            types.push(header.packet_type);
        }
    }
    assert_eq!(types.len(), 7, "every packet type has seeds");
}
