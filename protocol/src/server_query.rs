//! Queries a proxy may send to a game server to time its leg to it, and the strict matching of
//! the server's answers (pure; the bytes come from whoever can send to the prober's socket).
//!
//! Two kinds:
//! - **A2S** (Valve's server query protocol, answered by Source, Source 2 and GoldSrc servers
//!   and many others on their game port): the A2S_INFO request is `FF FF FF FF 54` followed by
//!   `"Source Engine Query\0"` (25 bytes), optionally followed by the 4-byte challenge the
//!   server handed out. Servers answer with `FF FF FF FF 49 ...` (S2A_INFO), the obsolete
//!   GoldSrc `FF FF FF FF 6D ...`, a split answer `FF FF FF FE ...` when the info is larger
//!   than one datagram, or, since Valve's 2020 anti-reflection change, `FF FF FF FF 41` plus a
//!   4-byte challenge (S2C_CHALLENGE, exactly 9 bytes) asking for the request again with that
//!   challenge appended. Any of them answers the request in one server turn, so any of them
//!   times the leg. Reference: the Valve Developer Community "Server queries" page.
//! - **UDP**: an operator-given request and the prefix every answer starts with, for games
//!   with their own status query.
//!
//! Answers carry nothing that ties them to one request (A2S has no request id), so matching
//! is by source address, kind and one outstanding request per server (`lightspeed-mesh`'s
//! `ServerProber`); this module only says whether bytes are an answer of the kind.

/// Connectionless A2S packets start with this (-1 as a little-endian i32).
pub const A2S_SIMPLE: [u8; 4] = [0xFF; 4];
/// A split (multi-datagram) A2S answer starts with this (-2 as a little-endian i32).
pub const A2S_SPLIT: [u8; 4] = [0xFE, 0xFF, 0xFF, 0xFF];
/// The A2S_INFO request without a challenge.
pub const A2S_INFO: [u8; 25] = *b"\xFF\xFF\xFF\xFFTSource Engine Query\0";
/// Bytes of an A2S challenge.
pub const A2S_CHALLENGE_LEN: usize = 4;
/// Longest A2S_INFO request: with a challenge.
pub const A2S_INFO_MAX: usize = A2S_INFO.len() + A2S_CHALLENGE_LEN;
/// Longest operator-given request: a status query is a few dozen bytes; 256 leaves room for
/// any of them and keeps one probe far below a game packet.
pub const MAX_QUERY_LEN: usize = 256;
/// Longest operator-given reply prefix: enough to pin a reply type and a magic number.
pub const MAX_REPLY_PREFIX_LEN: usize = 64;

const S2A_INFO: u8 = 0x49;
const S2A_INFO_GOLDSRC: u8 = 0x6D;
const S2C_CHALLENGE: u8 = 0x41;

/// What an A2S answer to A2S_INFO was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum A2sReply {
    /// Server information (S2A_INFO, or GoldSrc's older form).
    Info,
    /// The first or a later datagram of a split answer.
    Split,
    /// S2C_CHALLENGE: the request must be sent again with this challenge appended.
    Challenge([u8; A2S_CHALLENGE_LEN]),
}

/// Why bytes are not an answer to A2S_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum A2sError {
    /// Shorter than a 4-byte header and a type byte.
    #[error("A2S answer of {len} bytes is shorter than header and type (5)")]
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// The first four bytes are neither the simple nor the split header.
    #[error("not an A2S answer (header is not FF FF FF FF or FE FF FF FF)")]
    NotA2s,
    /// An A2S packet of a type that does not answer A2S_INFO.
    #[error("A2S type {kind:#04x} does not answer A2S_INFO")]
    WrongType {
        /// The type byte.
        kind: u8,
    },
    /// A challenge answer that is not exactly header, type and four bytes.
    #[error("A2S challenge answer of {len} bytes; exactly 9 expected")]
    BadChallenge {
        /// Bytes received.
        len: usize,
    },
}

/// Classifies `bytes` as an answer to A2S_INFO. Checks the length first, then the header,
/// then the type; never reads past `bytes`.
pub fn parse_a2s_reply(bytes: &[u8]) -> Result<A2sReply, A2sError> {
    let (Some(header), Some(&kind)) = (bytes.get(..4), bytes.get(4)) else {
        return Err(A2sError::Truncated { len: bytes.len() });
    };
    if header == A2S_SPLIT {
        return Ok(A2sReply::Split);
    }
    if header != A2S_SIMPLE {
        return Err(A2sError::NotA2s);
    }
    match kind {
        S2A_INFO | S2A_INFO_GOLDSRC => Ok(A2sReply::Info),
        S2C_CHALLENGE => match bytes.get(5..) {
            Some(&[a, b, c, d]) => Ok(A2sReply::Challenge([a, b, c, d])),
            _ => Err(A2sError::BadChallenge { len: bytes.len() }),
        },
        kind => Err(A2sError::WrongType { kind }),
    }
}

/// Writes the A2S_INFO request, with `challenge` appended when given, to the front of `out`;
/// returns its length, or 0 when `out` is shorter than the request.
pub fn write_a2s_info(challenge: Option<[u8; A2S_CHALLENGE_LEN]>, out: &mut [u8]) -> usize {
    let len = A2S_INFO.len() + challenge.map_or(0, |c| c.len());
    let Some(dst) = out.get_mut(..len) else {
        return 0;
    };
    let (head, tail) = dst.split_at_mut(A2S_INFO.len());
    head.copy_from_slice(&A2S_INFO);
    if let Some(c) = challenge {
        tail.copy_from_slice(&c);
    }
    len
}

/// True when `bytes` answers an operator-given query whose answers start with `prefix`. An
/// empty prefix matches nothing: every datagram would count, which times nothing.
pub fn matches_prefix(prefix: &[u8], bytes: &[u8]) -> bool {
    !prefix.is_empty() && bytes.starts_with(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_request_is_the_documented_bytes() {
        let mut out = [0u8; A2S_INFO_MAX];
        assert_eq!(write_a2s_info(None, &mut out), 25);
        assert_eq!(&out[..5], &[0xFF, 0xFF, 0xFF, 0xFF, 0x54]);
        assert_eq!(&out[5..25], b"Source Engine Query\0");
        assert_eq!(write_a2s_info(Some([1, 2, 3, 4]), &mut out), 29);
        assert_eq!(&out[25..29], &[1, 2, 3, 4]);
        assert_eq!(write_a2s_info(Some([1, 2, 3, 4]), &mut [0u8; 28]), 0);
    }

    #[test]
    fn answers_to_info_are_recognised() {
        let info = b"\xFF\xFF\xFF\xFFI\x11my server\0";
        assert_eq!(parse_a2s_reply(info), Ok(A2sReply::Info));
        assert_eq!(parse_a2s_reply(b"\xFF\xFF\xFF\xFFm"), Ok(A2sReply::Info));
        assert_eq!(
            parse_a2s_reply(b"\xFF\xFF\xFF\xFFA\x0a\x0b\x0c\x0d"),
            Ok(A2sReply::Challenge([10, 11, 12, 13]))
        );
        assert_eq!(
            parse_a2s_reply(b"\xFE\xFF\xFF\xFF\x01\x00\x00\x00\x02\x00"),
            Ok(A2sReply::Split)
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        assert_eq!(parse_a2s_reply(b""), Err(A2sError::Truncated { len: 0 }));
        assert_eq!(
            parse_a2s_reply(b"\xFF\xFF\xFF\xFF"),
            Err(A2sError::Truncated { len: 4 })
        );
        assert_eq!(parse_a2s_reply(b"\x00\xFF\xFF\xFFI"), Err(A2sError::NotA2s));
        assert_eq!(
            parse_a2s_reply(b"\xFF\xFF\xFF\xFFD\x00"),
            Err(A2sError::WrongType { kind: b'D' })
        );
        assert_eq!(
            parse_a2s_reply(b"\xFF\xFF\xFF\xFFA\x01\x02\x03"),
            Err(A2sError::BadChallenge { len: 8 })
        );
        assert_eq!(
            parse_a2s_reply(b"\xFF\xFF\xFF\xFFA\x01\x02\x03\x04\x05"),
            Err(A2sError::BadChallenge { len: 10 })
        );
        // Our own request reflected back is not an answer.
        assert_eq!(
            parse_a2s_reply(&A2S_INFO),
            Err(A2sError::WrongType { kind: b'T' })
        );
    }

    #[test]
    fn prefixes_match_only_when_given_and_present() {
        assert!(matches_prefix(b"\x01\x02", b"\x01\x02\x03"));
        assert!(!matches_prefix(b"\x01\x02", b"\x01"));
        assert!(!matches_prefix(b"\x01\x02", b"\x02\x02"));
        assert!(!matches_prefix(b"", b"\x01"));
    }
}
