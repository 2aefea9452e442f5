//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>) carried in control envelopes.
//!
//! A [`TraceContext`] holds the fields of a version-00 `traceparent` header (trace id,
//! parent id, flags) and an optional `tracestate` value. On the wire it travels as raw
//! bytes inside the postcard envelope; [`TraceContext::parse_traceparent`] and
//! [`TraceContext::to_traceparent`] convert to and from the header text used by
//! OpenTelemetry propagators.

use std::fmt;

/// Longest `tracestate` value carried (bytes), the W3C propagation minimum. Longer values
/// are refused rather than truncated: truncation must drop whole entries, which is the
/// tracing library's job before it hands the value over.
pub const MAX_TRACESTATE_LEN: usize = 512;

/// Most list members a `tracestate` value may hold (W3C limit).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Length of a version-00 `traceparent` value: `vv-` + 32 + `-` + 16 + `-` + 2.
const TRACEPARENT_LEN: usize = 55;

/// Longest `tracestate` key and value (W3C limits).
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;

/// Why a `traceparent` or `tracestate` value, or a decoded trace context, is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The `traceparent` has the wrong length: not exactly 55 characters for version 00,
    /// fewer than 55 for a later version.
    #[error("traceparent has length {len}")]
    Length {
        /// Its length in bytes.
        len: usize,
    },
    /// A `-` delimiter is missing at byte offset `at`.
    #[error("traceparent lacks a '-' at offset {at}")]
    Delimiter {
        /// Byte offset where the dash belongs.
        at: usize,
    },
    /// A field is not lowercase hexadecimal.
    #[error("traceparent {field} is not lowercase hex")]
    NotLowerHex {
        /// `"version"`, `"trace-id"`, `"parent-id"` or `"trace-flags"`.
        field: &'static str,
    },
    /// Version `ff`, which the specification forbids.
    #[error("traceparent version ff is forbidden")]
    ForbiddenVersion,
    /// The trace id is all zeros.
    #[error("trace id is all zeros")]
    ZeroTraceId,
    /// The parent id is all zeros.
    #[error("parent id is all zeros")]
    ZeroParentId,
    /// The `tracestate` value is longer than [`MAX_TRACESTATE_LEN`].
    #[error("tracestate is {len} bytes, limit {MAX_TRACESTATE_LEN}")]
    TracestateTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The `tracestate` value has more than [`MAX_TRACESTATE_MEMBERS`] list members.
    #[error("tracestate has more than {MAX_TRACESTATE_MEMBERS} members")]
    TracestateTooManyMembers,
    /// A `tracestate` list member is not `key=value` per the W3C grammar.
    #[error("tracestate member {index} is malformed")]
    TracestateMember {
        /// Zero-based position of the member in the list.
        index: usize,
    },
    /// Two `tracestate` list members share a key.
    #[error("tracestate member {index} repeats an earlier key")]
    TracestateDuplicateKey {
        /// Zero-based position of the repeated member.
        index: usize,
    },
}

/// The W3C trace context of the span that sent a request.
///
/// Always valid when built through its constructors; a decoded one is checked by
/// [`TraceContext::validate`] (called by [`super::decode_frame`]).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
    tracestate: Option<String>,
}

impl TraceContext {
    /// The `sampled` bit of the trace flags.
    pub const FLAG_SAMPLED: u8 = 0x01;

    /// A context with no `tracestate`. Refuses all-zero ids, which W3C declares invalid.
    pub fn new(trace_id: [u8; 16], parent_id: [u8; 8], flags: u8) -> Result<Self, TraceError> {
        let ctx = TraceContext {
            trace_id,
            parent_id,
            flags,
            tracestate: None,
        };
        ctx.validate()?;
        Ok(ctx)
    }

    /// The same context with a `tracestate` value attached, checked against the W3C
    /// grammar, [`MAX_TRACESTATE_LEN`] and [`MAX_TRACESTATE_MEMBERS`]. The empty value is
    /// valid (W3C requires accepting it).
    pub fn with_tracestate(mut self, tracestate: impl Into<String>) -> Result<Self, TraceError> {
        let tracestate = tracestate.into();
        validate_tracestate(&tracestate)?;
        self.tracestate = Some(tracestate);
        Ok(self)
    }

    /// The same trace seen from a new span: `parent_id` replaced, everything else kept.
    pub fn with_parent_id(mut self, parent_id: [u8; 8]) -> Result<Self, TraceError> {
        if parent_id == [0; 8] {
            return Err(TraceError::ZeroParentId);
        }
        self.parent_id = parent_id;
        Ok(self)
    }

    /// Parses a `traceparent` header value strictly: lowercase hex, exact field lengths,
    /// `-` delimiters, no version `ff`, no all-zero ids. Version 00 must be exactly 55
    /// characters. A later version is parsed as the specification asks: at least 55
    /// characters, the version-00 fields in front, and a `-` after the flags if anything
    /// follows; the unknown tail is ignored and [`TraceContext::to_traceparent`] writes
    /// version 00.
    pub fn parse_traceparent(value: &str) -> Result<Self, TraceError> {
        let b = value.as_bytes();
        if b.len() < TRACEPARENT_LEN {
            return Err(TraceError::Length { len: b.len() });
        }
        let mut version = [0u8; 1];
        hex_decode(&b[0..2], &mut version, "version")?;
        if version[0] == 0xff {
            return Err(TraceError::ForbiddenVersion);
        }
        if version[0] == 0 && b.len() != TRACEPARENT_LEN {
            return Err(TraceError::Length { len: b.len() });
        }
        for at in [2, 35, 52] {
            if b[at] != b'-' {
                return Err(TraceError::Delimiter { at });
            }
        }
        if b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-' {
            return Err(TraceError::Delimiter {
                at: TRACEPARENT_LEN,
            });
        }
        let mut trace_id = [0u8; 16];
        hex_decode(&b[3..35], &mut trace_id, "trace-id")?;
        let mut parent_id = [0u8; 8];
        hex_decode(&b[36..52], &mut parent_id, "parent-id")?;
        let mut flags = [0u8; 1];
        hex_decode(&b[53..55], &mut flags, "trace-flags")?;
        TraceContext::new(trace_id, parent_id, flags[0])
    }

    /// The version-00 `traceparent` header value, e.g.
    /// `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
    pub fn to_traceparent(&self) -> String {
        let mut s = String::with_capacity(TRACEPARENT_LEN);
        s.push_str("00-");
        push_hex(&mut s, &self.trace_id);
        s.push('-');
        push_hex(&mut s, &self.parent_id);
        s.push('-');
        push_hex(&mut s, &[self.flags]);
        s
    }

    /// The 16-byte trace id (never all zero).
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The 8-byte id of the sender's span (never all zero).
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace flags byte, passed through unchanged.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// True when the caller may have recorded this trace.
    pub fn sampled(&self) -> bool {
        self.flags & Self::FLAG_SAMPLED != 0
    }

    /// The `tracestate` header value, if one was attached.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// Checks what deserialisation cannot: non-zero ids and a well-formed, bounded
    /// `tracestate`.
    pub fn validate(&self) -> Result<(), TraceError> {
        if self.trace_id == [0; 16] {
            return Err(TraceError::ZeroTraceId);
        }
        if self.parent_id == [0; 8] {
            return Err(TraceError::ZeroParentId);
        }
        match &self.tracestate {
            Some(state) => validate_tracestate(state),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("traceparent", &self.to_traceparent())
            .field("tracestate", &self.tracestate)
            .finish()
    }
}

/// Decodes lowercase hex `src` into `out` (`src.len() == 2 * out.len()`).
fn hex_decode(src: &[u8], out: &mut [u8], field: &'static str) -> Result<(), TraceError> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(TraceError::NotLowerHex { field }),
    };
    for (byte, pair) in out.iter_mut().zip(src.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *byte = (nibble(*hi)? << 4) | nibble(*lo)?;
        }
    }
    Ok(())
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// Checks a `tracestate` value against the W3C list grammar: at most 32 comma-separated
/// members, each empty (only spaces/tabs) or `key=value` with optional whitespace around
/// it; keys unique.
fn validate_tracestate(state: &str) -> Result<(), TraceError> {
    if state.len() > MAX_TRACESTATE_LEN {
        return Err(TraceError::TracestateTooLong { len: state.len() });
    }
    let mut members = 0usize;
    for (index, raw) in state.split(',').enumerate() {
        let member = raw.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        members += 1;
        if members > MAX_TRACESTATE_MEMBERS {
            return Err(TraceError::TracestateTooManyMembers);
        }
        let Some((key, value)) = member.split_once('=') else {
            return Err(TraceError::TracestateMember { index });
        };
        if !valid_key(key) || !valid_value(value) {
            return Err(TraceError::TracestateMember { index });
        }
        // At most 32 members, so the quadratic scan stays tiny and needs no allocation.
        let repeated = state
            .split(',')
            .take(index)
            .filter_map(|earlier| earlier.trim_matches([' ', '\t']).split_once('='))
            .any(|(earlier_key, _)| earlier_key == key);
        if repeated {
            return Err(TraceError::TracestateDuplicateKey { index });
        }
    }
    Ok(())
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`,
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    let Some((first, rest)) = b.split_first() else {
        return false;
    };
    b.len() <= MAX_KEY_LEN
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && rest.iter().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// `value = 0*255(chr) nblk-chr`: printable ASCII except `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_VALUE_LEN
        && b.last() != Some(&b' ')
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decode_rejects_uppercase_and_decodes_lowercase() {
        let mut out = [0u8; 2];
        assert_eq!(hex_decode(b"0aff", &mut out, "x"), Ok(()));
        assert_eq!(out, [0x0a, 0xff]);
        assert_eq!(
            hex_decode(b"0AFF", &mut out, "x"),
            Err(TraceError::NotLowerHex { field: "x" })
        );
    }

    #[test]
    fn value_may_start_with_space_but_not_end_with_one() {
        assert!(valid_value(" a"));
        assert!(!valid_value("a "));
        assert!(!valid_value(""));
        assert!(!valid_value("a=b"));
    }
}
