//! Structured envelopes: build a valid envelope from the input, encode, decode.
//!
//! Invariants: encoding a valid envelope succeeds and fits the frame limit; decoding gives
//! back an equal envelope using exactly the frame's bytes; every truncation is `Incomplete`
//! with the exact shortfall; a `FrameReader` fed the frame byte by byte yields it.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use lightspeed_protocol::control::{
    ControlError, FRAME_HEADER_LEN, FrameReader, MAX_FRAME_LEN, decode_frame, encode_frame,
};
use lightspeed_protocol_fuzz::control::envelope;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(env) = envelope(&mut u) else { return };
    let cut: usize = u.arbitrary().unwrap_or(0);

    let mut frame = Vec::new();
    encode_frame(&env, &mut frame).expect("valid envelopes encode");
    assert!(frame.len() <= 4 + MAX_FRAME_LEN);
    assert_eq!(decode_frame(&frame), Ok((env.clone(), frame.len())));

    let cut = cut % frame.len();
    let needed = match cut {
        0..4 => 4 - cut,
        4..FRAME_HEADER_LEN => FRAME_HEADER_LEN - cut,
        _ => frame.len() - cut,
    };
    assert_eq!(
        decode_frame(&frame[..cut]),
        Err(ControlError::Incomplete { needed })
    );

    let mut reader = FrameReader::new();
    for (i, byte) in frame.iter().enumerate() {
        assert_eq!(reader.push(std::slice::from_ref(byte)), 1);
        let popped = reader.pop().expect("a valid frame never errors");
        assert_eq!(popped.is_some(), i + 1 == frame.len());
        if let Some(got) = popped {
            assert_eq!(got, env);
        }
    }
    assert!(reader.is_at_boundary());
});
