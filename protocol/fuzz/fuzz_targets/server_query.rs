//! Game-server query answers: arbitrary bytes (a datagram anyone can send to the proxy's
//! prober socket) through `parse_a2s_reply` and `matches_prefix`.
//!
//! Invariants:
//! - neither panics;
//! - `parse_a2s_reply` accepts exactly the documented answers: a split header (`FE FF FF FF`
//!   plus at least a byte), or `FF FF FF FF` and type `I`/`m` (info), or `A` with exactly four
//!   more bytes (the challenge, returned as those bytes); its errors are the first rule broken,
//!   in the order length, header, type, challenge length;
//! - a challenge written back with `write_a2s_info` makes the 29-byte query ending in it;
//! - `matches_prefix` is `starts_with` for a non-empty prefix and false for an empty one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lightspeed_protocol::server_query::{
    A2S_INFO, A2S_INFO_MAX, A2S_SIMPLE, A2S_SPLIT, A2sError, A2sReply, matches_prefix,
    parse_a2s_reply, write_a2s_info,
};

fuzz_target!(|data: &[u8]| {
    let expected = if data.len() < 5 {
        Err(A2sError::Truncated { len: data.len() })
    } else if data[..4] == A2S_SPLIT {
        Ok(A2sReply::Split)
    } else if data[..4] != A2S_SIMPLE {
        Err(A2sError::NotA2s)
    } else {
        match data[4] {
            b'I' | b'm' => Ok(A2sReply::Info),
            b'A' if data.len() == 9 => Ok(A2sReply::Challenge([data[5], data[6], data[7], data[8]])),
            b'A' => Err(A2sError::BadChallenge { len: data.len() }),
            kind => Err(A2sError::WrongType { kind }),
        }
    };
    let got = parse_a2s_reply(data);
    assert_eq!(got, expected);
    if let Ok(A2sReply::Challenge(c)) = got {
        let mut out = [0u8; A2S_INFO_MAX];
        assert_eq!(write_a2s_info(Some(c), &mut out), A2S_INFO_MAX);
        assert_eq!(&out[..A2S_INFO.len()], &A2S_INFO);
        assert_eq!(&out[A2S_INFO.len()..], &data[5..]);
    }
    // The input split in two: a prefix and a datagram.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (prefix, bytes) = data.split_at(cut);
    assert_eq!(
        matches_prefix(prefix, bytes),
        !prefix.is_empty() && bytes.starts_with(prefix)
    );
});
