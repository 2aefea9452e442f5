//! FrameReader: chunked streams, bounded buffering, error recovery, hostile input.

mod control_support;

use control_support::{envelope, frame_of, raw_frame};
use lightspeed_protocol::control::{
    CONTROL_VERSION, ControlError, Envelope, FrameReader, MAX_FRAME_LEN, Message, encode_frame,
};
use proptest::prelude::*;

/// Feeds `stream` to a reader in chunks of the given sizes (cycled) with the documented
/// loop, collecting envelopes and errors until the stream ends or an error ends it.
fn drive(stream: &[u8], chunk_sizes: &[usize]) -> (Vec<Envelope>, Vec<ControlError>, FrameReader) {
    let mut reader = FrameReader::new();
    let mut envelopes = Vec::new();
    let mut errors = Vec::new();
    let mut rest = stream;
    let mut sizes = chunk_sizes.iter().copied().cycle();
    'outer: while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut input = chunk;
        while !input.is_empty() {
            let taken = reader.push(input);
            input = &input[taken..];
            loop {
                match reader.pop() {
                    Ok(Some(env)) => envelopes.push(env),
                    Ok(None) => break,
                    Err(e) => {
                        let fatal = e.ends_stream();
                        errors.push(e);
                        if fatal {
                            break 'outer;
                        }
                    }
                }
            }
        }
    }
    (envelopes, errors, reader)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_yields_the_same_envelopes(
        envs in prop::collection::vec(envelope(), 0..12),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let mut stream = Vec::new();
        for env in &envs {
            encode_frame(env, &mut stream).unwrap();
        }
        let (got, errors, reader) = drive(&stream, &sizes);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        prop_assert_eq!(got, envs);
        prop_assert!(reader.is_at_boundary());
    }

    #[test]
    fn any_bytes_end_in_envelopes_or_errors_without_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2_000),
        sizes in prop::collection::vec(1usize..300, 1..4),
    ) {
        let (_, _, reader) = drive(&bytes, &sizes);
        prop_assert!(reader.buffered() <= 4 + MAX_FRAME_LEN);
    }

    #[test]
    fn garbage_bodies_are_skipped_and_the_next_frame_still_arrives(
        body in prop::collection::vec(any::<u8>(), 0..200),
        env in envelope(),
    ) {
        let mut stream = raw_frame(CONTROL_VERSION, &body);
        encode_frame(&env, &mut stream).unwrap();
        let (got, errors, _) = drive(&stream, &[7]);
        prop_assert!(errors.iter().all(|e| !e.ends_stream()), "{:?}", errors);
        prop_assert_eq!(got.last(), Some(&env));
        prop_assert_eq!(got.len() + errors.len(), 2);
    }
}

#[test]
fn many_small_frames_in_one_huge_chunk_all_arrive() {
    let count = 20_000u64;
    let mut stream = Vec::new();
    for i in 0..count {
        encode_frame(
            &Envelope::new(i, None, Message::Ping { nonce: i }),
            &mut stream,
        )
        .unwrap();
    }
    assert!(
        stream.len() > 8 * (4 + MAX_FRAME_LEN),
        "the chunk must overflow the buffer several times"
    );
    let (got, errors, reader) = drive(&stream, &[stream.len()]);
    assert!(errors.is_empty());
    assert_eq!(got.len(), count as usize);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, e)| e.request_id == i as u64)
    );
    assert!(reader.is_at_boundary());
}

#[test]
fn push_takes_at_most_one_largest_frame() {
    let mut reader = FrameReader::new();
    let big = vec![0u8; 3 * MAX_FRAME_LEN];
    assert_eq!(reader.push(&big), 4 + MAX_FRAME_LEN);
    assert_eq!(reader.push(&big), 0);
    assert_eq!(reader.buffered(), 4 + MAX_FRAME_LEN);
    // A zero length prefix is a framing error, so the full buffer cannot stall the loop.
    assert_eq!(reader.pop(), Err(ControlError::FrameTooShort { len: 0 }));
}

#[test]
fn oversize_declaration_fails_with_only_the_header_buffered_and_keeps_failing() {
    let mut reader = FrameReader::new();
    assert_eq!(reader.push(&[0x7f, 0xff, 0xff, 0xff, 0, 1]), 6);
    let expected = ControlError::FrameTooLarge {
        len: 0x7fff_ffff,
        max: MAX_FRAME_LEN,
    };
    assert_eq!(reader.pop(), Err(expected.clone()));
    assert_eq!(reader.buffered(), 6);
    assert_eq!(reader.pop(), Err(expected));
}

#[test]
fn version_mismatch_ends_the_stream() {
    let mut reader = FrameReader::new();
    reader.push(&raw_frame(9, &[1, 0, 7]));
    let err = reader.pop().unwrap_err();
    assert_eq!(err, ControlError::UnsupportedVersion { got: 9 });
    assert!(err.ends_stream());
}

#[test]
fn partial_frame_is_reported_as_not_at_boundary() {
    let frame = frame_of(&Envelope::new(3, None, Message::Ack));
    let mut reader = FrameReader::new();
    assert!(reader.is_at_boundary());
    reader.push(&frame[..frame.len() - 1]);
    assert_eq!(reader.pop(), Ok(None));
    assert!(!reader.is_at_boundary());
    assert_eq!(reader.buffered(), frame.len() - 1);
    reader.push(&frame[frame.len() - 1..]);
    assert_eq!(reader.pop(), Ok(Some(Envelope::new(3, None, Message::Ack))));
    assert!(reader.is_at_boundary());
}
