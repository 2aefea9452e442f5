//! Arbitrary bytes as a control stream.
//!
//! Invariants checked, beyond "no panic":
//! - a frame that decodes re-encodes to a frame that decodes to an equal envelope, and the
//!   re-encoding is never longer than the input frame (encoders write minimal varints);
//! - `decode_frame` never claims more bytes than it was given, and `Incomplete` always asks
//!   for at least one more byte;
//! - `FrameReader` fed the same bytes in chunks yields exactly the same envelopes and errors
//!   as decoding frame after frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lightspeed_protocol::control::{
    ControlError, Envelope, FRAME_HEADER_LEN, FrameReader, decode_frame, encode_frame,
};

fuzz_target!(|data: &[u8]| {
    let sequential = decode_sequentially(data);
    let chunk = usize::from(data.first().copied().unwrap_or(0) % 64) + 1;
    assert_eq!(read_in_chunks(data, chunk), sequential);
});

fn decode_sequentially(data: &[u8]) -> Vec<Result<Envelope, ControlError>> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        match decode_frame(rest) {
            Ok((env, used)) => {
                assert!((FRAME_HEADER_LEN..=rest.len()).contains(&used));
                let mut again = Vec::new();
                encode_frame(&env, &mut again).expect("a decoded envelope re-encodes");
                assert!(
                    again.len() <= used,
                    "re-encoding grew from {used} to {}",
                    again.len()
                );
                let (back, n) = decode_frame(&again).expect("a re-encoded frame decodes");
                assert_eq!(n, again.len());
                assert_eq!(back, env);
                out.push(Ok(env));
                rest = &rest[used..];
            }
            Err(ControlError::Incomplete { needed }) => {
                assert!(needed > 0);
                return out;
            }
            Err(e) if e.ends_stream() => {
                out.push(Err(e));
                return out;
            }
            Err(e) => {
                // A body error: the header was valid and the whole frame is present.
                let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                out.push(Err(e));
                rest = &rest[4 + len..];
            }
        }
    }
}

fn read_in_chunks(data: &[u8], chunk: usize) -> Vec<Result<Envelope, ControlError>> {
    let mut out = Vec::new();
    let mut reader = FrameReader::new();
    for piece in data.chunks(chunk) {
        let mut input = piece;
        while !input.is_empty() {
            let taken = reader.push(input);
            input = &input[taken..];
            loop {
                match reader.pop() {
                    Ok(Some(env)) => out.push(Ok(env)),
                    Ok(None) => break,
                    Err(e) => {
                        let fatal = e.ends_stream();
                        out.push(Err(e));
                        if fatal {
                            return out;
                        }
                    }
                }
            }
        }
    }
    out
}
