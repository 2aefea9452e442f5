//! W3C Trace Context: traceparent parsing and formatting, tracestate validation.

mod control_support;

use lightspeed_protocol::control::{MAX_TRACESTATE_LEN, TraceContext, TraceError};
use proptest::prelude::*;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const PARENT_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

fn parse(s: &str) -> Result<TraceContext, TraceError> {
    TraceContext::parse_traceparent(s)
}

fn base() -> TraceContext {
    parse(VALID).unwrap()
}

proptest! {
    #[test]
    fn traceparent_round_trips(ctx in control_support::trace_context()) {
        let text = ctx.to_traceparent();
        prop_assert_eq!(text.len(), 55);
        prop_assert!(text.bytes().all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        let back = parse(&text).unwrap();
        prop_assert_eq!(back.trace_id(), ctx.trace_id());
        prop_assert_eq!(back.parent_id(), ctx.parent_id());
        prop_assert_eq!(back.flags(), ctx.flags());
    }

    #[test]
    fn any_text_parses_or_fails_without_panic(s in ".{0,80}") {
        if let Ok(ctx) = parse(&s) {
            // Only version-00 layouts (possibly under a later version) are accepted.
            prop_assert_eq!(&ctx.to_traceparent()[3..], &s[3..55]);
        }
    }

    #[test]
    fn generated_tracestates_are_accepted(state in control_support::tracestate()) {
        let ctx = base().with_tracestate(state.clone()).unwrap();
        prop_assert_eq!(ctx.tracestate(), Some(state.as_str()));
    }
}

#[test]
fn w3c_examples_parse_to_their_fields() {
    let sampled = base();
    assert_eq!(sampled.trace_id(), TRACE_ID);
    assert_eq!(sampled.parent_id(), PARENT_ID);
    assert_eq!(sampled.flags(), 0x01);
    assert!(sampled.sampled());
    assert_eq!(sampled.to_traceparent(), VALID);

    let unsampled = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    assert!(!unsampled.sampled());
    // Unknown flag bits are passed through, not interpreted.
    assert_eq!(
        parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09")
            .unwrap()
            .flags(),
        0x09
    );
}

#[test]
fn invalid_traceparents_get_distinct_errors() {
    let cases: &[(&str, TraceError)] = &[
        ("", TraceError::Length { len: 0 }),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            TraceError::Length { len: 54 },
        ),
        // Version 00 must be exactly 55 characters, extra fields included.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            TraceError::Length { len: 56 },
        ),
        (
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TraceError::NotLowerHex { field: "version" },
        ),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TraceError::ForbiddenVersion,
        ),
        (
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TraceError::NotLowerHex { field: "version" },
        ),
        (
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TraceError::NotLowerHex { field: "version" },
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            TraceError::NotLowerHex { field: "trace-id" },
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            TraceError::NotLowerHex { field: "parent-id" },
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            TraceError::NotLowerHex {
                field: "trace-flags",
            },
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            TraceError::ZeroTraceId,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            TraceError::ZeroParentId,
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            TraceError::Delimiter { at: 2 },
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            TraceError::Delimiter { at: 35 },
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            TraceError::Delimiter { at: 52 },
        ),
        // A later version may append fields, but only after a dash.
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future",
            TraceError::Delimiter { at: 55 },
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            TraceError::Length { len: 54 },
        ),
        // Multi-byte characters are rejected, not sliced through.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
            TraceError::NotLowerHex { field: "trace-id" },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).as_ref().err(), Some(expected), "{text:?}");
    }
}

#[test]
fn later_versions_are_read_as_version_00_and_written_as_00() {
    for text in [
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    ] {
        assert_eq!(parse(text).unwrap(), base(), "{text:?}");
    }
    assert_eq!(
        parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
            .unwrap()
            .to_traceparent(),
        VALID
    );
}

#[test]
fn constructors_refuse_zero_ids() {
    assert_eq!(
        TraceContext::new([0; 16], PARENT_ID, 1),
        Err(TraceError::ZeroTraceId)
    );
    assert_eq!(
        TraceContext::new(TRACE_ID, [0; 8], 1),
        Err(TraceError::ZeroParentId)
    );
    assert_eq!(base().with_parent_id([0; 8]), Err(TraceError::ZeroParentId));
    let child = base().with_parent_id([1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(child.trace_id(), TRACE_ID);
    assert_eq!(
        child.to_traceparent(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01"
    );
}

#[test]
fn w3c_tracestate_examples_are_accepted() {
    for state in [
        "rojo=00f067aa0ba902b7",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7",
        " rojo=1 ,\tcongo=2\t",
        "",
        " , ,",
        "tenant@vendor=x",
        "a*/_-@=  leading spaces kept",
        "1digit=~!",
    ] {
        let ctx = base()
            .with_tracestate(state)
            .unwrap_or_else(|e| panic!("{state:?}: {e}"));
        assert_eq!(ctx.tracestate(), Some(state));
    }
}

#[test]
fn invalid_tracestates_get_distinct_errors() {
    let many = (0..33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let thirty_two = (0..32)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let too_long = format!("a={},b={}", "x".repeat(256), "y".repeat(252));
    assert_eq!(too_long.len(), MAX_TRACESTATE_LEN + 1);
    let long_value = format!("a={}", "x".repeat(257));
    let cases: Vec<(String, TraceError)> = vec![
        (many, TraceError::TracestateTooManyMembers),
        (
            too_long,
            TraceError::TracestateTooLong {
                len: MAX_TRACESTATE_LEN + 1,
            },
        ),
        (long_value, TraceError::TracestateMember { index: 0 }),
        (
            "rojo=1,congo=2,rojo=3".into(),
            TraceError::TracestateDuplicateKey { index: 2 },
        ),
        ("Rojo=1".into(), TraceError::TracestateMember { index: 0 }),
        ("_rojo=1".into(), TraceError::TracestateMember { index: 0 }),
        ("rojo".into(), TraceError::TracestateMember { index: 0 }),
        ("rojo=".into(), TraceError::TracestateMember { index: 0 }),
        (
            "a=1,rojo=x=y".into(),
            TraceError::TracestateMember { index: 1 },
        ),
        (
            "rojo=a\tb".into(),
            TraceError::TracestateMember { index: 0 },
        ),
        ("ro jo=1".into(), TraceError::TracestateMember { index: 0 }),
        ("rojo=é".into(), TraceError::TracestateMember { index: 0 }),
    ];
    for (state, expected) in cases {
        assert_eq!(
            base().with_tracestate(state.clone()).err(),
            Some(expected),
            "{state:?}"
        );
    }
    assert!(base().with_tracestate(thirty_two).is_ok());
    let exactly_max = format!("a={},b={}", "x".repeat(256), "y".repeat(251));
    assert!(base().with_tracestate(exactly_max).is_ok());
}

#[test]
fn debug_output_shows_the_traceparent() {
    assert_eq!(
        format!("{:?}", base()),
        format!("TraceContext {{ traceparent: {VALID:?}, tracestate: None }}")
    );
}
