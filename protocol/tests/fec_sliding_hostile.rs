//! Sliding-window code under hostile input: bad parameters, fields and sizes, forged repairs,
//! and arbitrary packet sequences (proptest) never panic and never yield wrong bytes.

mod sliding_common;

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::sliding::{SlidingDecoder, SlidingEncoder};
use lightspeed_protocol::fec::{
    DataVerdict, FecDecoder, FecEncoder, FecError, FecField, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
};
use proptest::prelude::*;
use sliding_common::{Kind, encode};

#[test]
fn bad_parameters_are_refused() {
    for (w, m, i) in [
        (0, 1, 1),
        (16, 1, 1),
        (4, 0, 1),
        (4, 16, 1),
        (4, 1, 0),
        (4, 1, 16),
    ] {
        assert!(matches!(
            SlidingEncoder::new(w, m, i),
            Err(FecError::InvalidSlidingParameter(_))
        ));
    }
    for (w, span) in [(0, 32), (16, 32), (8, 7), (4, 65)] {
        assert!(matches!(
            SlidingDecoder::new(w, span),
            Err(FecError::InvalidSlidingParameter(_))
        ));
    }
    assert!(SlidingDecoder::new(15, 15).is_ok());
    assert!(SlidingDecoder::new(1, 64).is_ok());
}

#[test]
fn bad_fields_and_sizes_are_refused() {
    let mut dec = SlidingDecoder::new(4, 32).unwrap();
    let now = Micros::ZERO;
    let p = [0u8; 10];
    for field in [
        FecField {
            group: 1,
            index: 0,
            k: 0,
            m: 1,
        },
        FecField {
            group: 1,
            index: 5,
            k: 5,
            m: 1,
        },
        FecField {
            group: 1,
            index: 1,
            k: 2,
            m: 1,
        },
        FecField {
            group: 1,
            index: 3,
            k: 2,
            m: 1,
        },
        FecField {
            group: 1,
            index: 2,
            k: 2,
            m: 0,
        },
    ] {
        assert_eq!(
            dec.on_parity(now, field, &p),
            Err(FecError::BadField(field))
        );
    }
    let data = FecField {
        group: 1,
        index: 1,
        k: 4,
        m: 1,
    };
    assert_eq!(dec.on_data(now, data, &p), Err(FecError::BadField(data)));
    let ok = FecField {
        group: 1,
        index: 4,
        k: 4,
        m: 1,
    };
    assert_eq!(dec.on_parity(now, ok, &[1, 2]), Err(FecError::Malformed));
    let big = vec![0u8; MAX_PARITY_PAYLOAD + 1];
    assert_eq!(
        dec.on_parity(now, ok, &big),
        Err(FecError::PayloadTooLarge { len: big.len() })
    );
    let data = FecField {
        group: 1,
        index: 0,
        k: 4,
        m: 1,
    };
    assert!(matches!(
        dec.on_data(now, data, &big),
        Err(FecError::PayloadTooLarge { .. })
    ));
    let mut enc = SlidingEncoder::new(4, 1, 1).unwrap();
    assert!(matches!(
        enc.on_data(now, &big[..1_401]),
        Err(FecError::PayloadTooLarge { .. })
    ));
    // A too-small output buffer leaves the repair pending instead of panicking.
    enc.on_data(now, &[7; 100]).unwrap();
    assert!(enc.poll_parity(now, &mut [0u8; 50]).is_none());
    assert_eq!(
        enc.poll_parity(now, &mut [0u8; 200]).map(|(_, n)| n),
        Some(102)
    );
}

/// Corrupting a repair in the rebuilt symbol's prefix or padding is caught; a repair narrower
/// than a symbol it covers is refused.
#[test]
fn forged_repairs_are_malformed_not_wrong() {
    let now = Micros::ZERO;
    let data = vec![vec![0x11; 10], vec![0x22; 30], vec![0x33; 50]];
    let stream = encode(&mut SlidingEncoder::new(4, 1, 1).unwrap(), &data);
    // Packet 1 (a 32-byte symbol) is lost; the repair of step 2 covers symbols 0..=2 and is
    // 52 bytes wide, so bytes 32..52 of the rebuilt symbol must be zero padding.
    let r2 = stream
        .iter()
        .find(|p| p.kind == Kind::Repair && p.step == 2)
        .unwrap();
    for (at, what) in [(0usize, "prefix"), (45, "padding")] {
        let mut dec = SlidingDecoder::new(4, 32).unwrap();
        for p in [&stream[0], &stream[4]] {
            assert_eq!(
                dec.on_data(now, p.field, &p.bytes),
                Ok(DataVerdict::Deliver)
            );
        }
        let mut forged = r2.bytes.clone();
        forged[at] ^= 0x5a;
        assert_eq!(
            dec.on_parity(now, r2.field, &forged),
            Err(FecError::Malformed),
            "{what}"
        );
        assert!(dec.poll_recovered(&mut [0u8; MAX_DATA_PAYLOAD]).is_none());
        assert_eq!(dec.stats().malformed, 1);
        // The honest repair still recovers the packet afterwards.
        dec.on_parity(now, r2.field, &r2.bytes).unwrap();
        let mut out = [0u8; MAX_DATA_PAYLOAD];
        let rec = dec.poll_recovered(&mut out).unwrap();
        assert_eq!(&out[..rec.len], &data[1][..]);
    }
    let mut dec = SlidingDecoder::new(4, 32).unwrap();
    assert_eq!(
        dec.on_data(now, stream[4].field, &stream[4].bytes),
        Ok(DataVerdict::Deliver)
    );
    assert_eq!(
        dec.on_parity(now, r2.field, &r2.bytes[..20]),
        Err(FecError::Malformed)
    );
}

#[derive(Debug, Clone)]
enum Input {
    Data(FecField, Vec<u8>),
    Parity(FecField, Vec<u8>),
    Poll(usize),
}

fn field() -> impl Strategy<Value = FecField> {
    (any::<u16>(), 0u8..32, 0u8..17, 0u8..17).prop_map(|(group, index, k, m)| FecField {
        group,
        index,
        k,
        m,
    })
}

fn input() -> impl Strategy<Value = Input> {
    // Groups near each other so inputs interact, plus anything at all.
    let near = (0u16..40, 0u8..6, 1u8..5, 1u8..3).prop_map(|(group, r, k, m)| FecField {
        group,
        index: k + r % m,
        k,
        m,
    });
    // Mostly short, sometimes around the size limits (debug proptest is slow on big vectors).
    let bytes = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..80),
        1 => prop::collection::vec(any::<u8>(), 1_395..1_410),
    ];
    prop_oneof![
        (field(), bytes.clone()).prop_map(|(f, b)| Input::Data(f, b)),
        (near.clone(), bytes.clone()).prop_map(|(f, b)| Input::Parity(f, b)),
        (field(), bytes).prop_map(|(f, b)| Input::Parity(f, b)),
        (0usize..1_600).prop_map(Input::Poll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn decoder_never_panics(inputs in prop::collection::vec(input(), 0..60), w in 1u8..16) {
        let mut dec = SlidingDecoder::new(w, 32).unwrap();
        let mut out = vec![0u8; 1_600];
        for i in inputs {
            match i {
                Input::Data(f, b) => { let _ = dec.on_data(Micros::ZERO, f, &b); }
                Input::Parity(f, b) => { let _ = dec.on_parity(Micros::ZERO, f, &b); }
                Input::Poll(n) => { let _ = dec.poll_recovered(&mut out[..n]); }
            }
            prop_assert!(dec.pending_equations() <= 32);
        }
    }

    #[test]
    fn encoder_never_panics(sizes in prop::collection::vec((0usize..1_500, 0usize..1_500), 0..40)) {
        let mut enc = SlidingEncoder::new(4, 2, 2).unwrap();
        let mut out = vec![0u8; 1_500];
        for (len, cap) in sizes {
            let _ = enc.on_data(Micros::ZERO, &vec![0xa5; len]);
            while enc.poll_parity(Micros::ZERO, &mut out[..cap]).is_some() {}
        }
    }
}
