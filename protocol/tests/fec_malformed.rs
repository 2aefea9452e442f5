//! Bad fields, bad lengths and forged parity are refused with typed errors; nothing panics
//! and nothing wrong is ever handed out.

mod fec_common;

use fec_common::{Delivered, LONG, encode_group, feed};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecError, FecField, FecScheme, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD, new_decoder,
    new_encoder,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const T: Micros = Micros::ZERO;

fn f(group: u16, index: u8, k: u8, m: u8) -> FecField {
    FecField { group, index, k, m }
}

#[test]
fn fields_outside_the_scheme_are_bad() {
    let mut dec = new_decoder(FecScheme::ReedSolomon { k: 4, m: 2 }, 8).unwrap();
    for bad in [f(0, 4, 4, 2), f(0, 0, 5, 2), f(0, 0, 4, 1), f(0, 0, 4, 3)] {
        assert_eq!(
            dec.on_data(T, bad, b"x"),
            Err(FecError::BadField(bad)),
            "{bad:?}"
        );
    }
    for bad in [
        f(0, 3, 4, 2),
        f(0, 6, 4, 2),
        f(0, 0, 0, 2),
        f(0, 5, 5, 2),
        f(0, 4, 4, 1),
        f(0, 255, 4, 2),
    ] {
        assert_eq!(
            dec.on_parity(T, bad, &[0, 0]),
            Err(FecError::BadField(bad)),
            "{bad:?}"
        );
    }
    // A data packet with k = 0 takes no part in FEC and is simply delivered.
    assert_eq!(
        dec.on_data(T, FecField::NONE, b"x"),
        Ok(DataVerdict::Deliver)
    );
}

#[test]
fn fields_inconsistent_with_the_group_are_bad() {
    let mut dec = new_decoder(FecScheme::ReedSolomon { k: 4, m: 2 }, 8).unwrap();
    assert_eq!(
        dec.on_data(T, f(1, 2, 4, 2), b"abc"),
        Ok(DataVerdict::Deliver)
    );
    // Planned k differs from the group's earlier data packet.
    assert_eq!(
        dec.on_data(T, f(1, 0, 3, 2), b"a"),
        Err(FecError::BadField(f(1, 0, 3, 2)))
    );
    // Parity claiming the group had 2 packets while packet 2 was seen.
    assert_eq!(
        dec.on_parity(T, f(1, 2, 2, 2), &[0; 5]),
        Err(FecError::BadField(f(1, 2, 2, 2)))
    );
    // A consistent parity (actual k = 3) is accepted...
    assert_eq!(dec.on_parity(T, f(1, 3, 3, 2), &[0; 5]), Ok(()));
    // ...after which another actual k, or data beyond it, is bad.
    assert_eq!(
        dec.on_parity(T, f(1, 5, 4, 2), &[0; 5]),
        Err(FecError::BadField(f(1, 5, 4, 2)))
    );
    assert_eq!(
        dec.on_data(T, f(1, 3, 4, 2), b"z"),
        Err(FecError::BadField(f(1, 3, 4, 2)))
    );
    // Parity saying k is larger than planned.
    let mut dec = new_decoder(FecScheme::ReedSolomon { k: 4, m: 2 }, 8).unwrap();
    assert_eq!(
        dec.on_data(T, f(2, 0, 2, 2), b"a"),
        Ok(DataVerdict::Deliver)
    );
    assert_eq!(
        dec.on_parity(T, f(2, 3, 3, 2), &[0; 5]),
        Err(FecError::BadField(f(2, 3, 3, 2)))
    );
}

#[test]
fn parity_lengths_are_checked() {
    let mut dec = new_decoder(FecScheme::Xor { k: 2 }, 8).unwrap();
    assert_eq!(
        dec.on_parity(T, f(0, 2, 2, 1), &[7]),
        Err(FecError::Malformed)
    );
    assert_eq!(
        dec.on_parity(T, f(0, 2, 2, 1), &[]),
        Err(FecError::Malformed)
    );
    let long = vec![0u8; MAX_PARITY_PAYLOAD + 1];
    assert_eq!(
        dec.on_parity(T, f(0, 2, 2, 1), &long),
        Err(FecError::PayloadTooLarge { len: long.len() })
    );
    let huge = vec![0u8; MAX_DATA_PAYLOAD + 1];
    assert_eq!(
        dec.on_data(T, f(0, 0, 2, 1), &huge),
        Err(FecError::PayloadTooLarge { len: huge.len() })
    );
    // Parity shorter than a data symbol already received.
    assert_eq!(
        dec.on_data(T, f(0, 0, 2, 1), b"hello"),
        Ok(DataVerdict::Deliver)
    );
    assert_eq!(
        dec.on_parity(T, f(0, 2, 2, 1), &[0; 6]),
        Err(FecError::Malformed)
    );
    let mut out = [0u8; MAX_DATA_PAYLOAD];
    assert_eq!(dec.poll_recovered(&mut out), None);
    // A second parity of a different length than the first.
    let mut dec = new_decoder(FecScheme::ReedSolomon { k: 2, m: 2 }, 8).unwrap();
    assert_eq!(dec.on_parity(T, f(0, 2, 2, 2), &[0; 10]), Ok(()));
    assert_eq!(
        dec.on_parity(T, f(0, 3, 2, 2), &[0; 11]),
        Err(FecError::Malformed)
    );
    // Encoder refuses oversized payloads and stays usable.
    let mut enc = new_encoder(FecScheme::Xor { k: 2 }, LONG).unwrap();
    assert_eq!(
        enc.on_data(T, &huge),
        Err(FecError::PayloadTooLarge { len: huge.len() })
    );
    assert_eq!(enc.on_data(T, b"ok").unwrap(), f(0, 0, 2, 1));
}

#[test]
fn forged_parity_with_impossible_symbols_recovers_nothing() {
    let scheme = FecScheme::Xor { k: 2 };
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut out = [0u8; MAX_DATA_PAYLOAD];
    let packets = encode_group(enc.as_mut(), &[b"abc".to_vec(), b"defgh".to_vec()], T);
    let parity = &packets[2];
    // Flip the length prefix so the rebuilt symbol claims more bytes than it has.
    let mut forged = parity.bytes.clone();
    forged[0] ^= 0x40;
    // Flip a padding byte: the rebuilt packet 0 would have non-zero padding.
    let mut padded = parity.bytes.clone();
    *padded.last_mut().unwrap() ^= 1;
    for bad in [forged, padded] {
        let mut dec = new_decoder(scheme, 8).unwrap();
        assert_eq!(
            dec.on_data(T, packets[1].field, &packets[1].bytes),
            Ok(DataVerdict::Deliver)
        );
        assert_eq!(
            dec.on_parity(T, parity.field, &bad),
            Err(FecError::Malformed)
        );
        assert_eq!(dec.poll_recovered(&mut out), None);
        // The genuine packet still arrives and is delivered once; the group stays given up.
        assert_eq!(
            dec.on_data(T, packets[0].field, &packets[0].bytes),
            Ok(DataVerdict::Deliver)
        );
        assert_eq!(dec.on_parity(T, parity.field, &parity.bytes), Ok(()));
        assert_eq!(dec.poll_recovered(&mut out), None);
    }
    // Parity arriving first, then data completing the forged group: data still delivered.
    let mut dec = new_decoder(scheme, 8).unwrap();
    let mut forged = parity.bytes.clone();
    forged[0] ^= 0x40;
    assert_eq!(dec.on_parity(T, parity.field, &forged), Ok(()));
    assert_eq!(
        dec.on_data(T, packets[1].field, &packets[1].bytes),
        Ok(DataVerdict::Deliver)
    );
    assert_eq!(dec.poll_recovered(&mut out), None);
}

#[test]
fn a_recovered_packet_too_big_for_the_callers_buffer_is_dropped_not_panicked() {
    let scheme = FecScheme::Duplicate;
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut dec = new_decoder(scheme, 8).unwrap();
    let packets = encode_group(enc.as_mut(), &[vec![9; 50]], T);
    dec.on_parity(T, packets[1].field, &packets[1].bytes)
        .unwrap();
    let mut small = [0u8; 10];
    assert_eq!(dec.poll_recovered(&mut small), None);
    let mut tiny = [0u8; 1];
    assert_eq!(enc.on_data(T, b"abc").unwrap().group, 1);
    assert_eq!(enc.poll_parity(T, &mut tiny), None);
}

/// Random fields and bytes, valid-looking or not, against every decoder: no panic, nothing
/// handed out longer than a payload can be, and the decoder still works afterwards. (Forged
/// parity with a plausible prefix can rebuild plausible junk; the header MAC is what keeps
/// forged parity out in the first place.)
#[test]
fn random_garbage_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for scheme in [
        FecScheme::Xor { k: 3 },
        FecScheme::ReedSolomon { k: 4, m: 2 },
        FecScheme::ReedSolomon { k: 15, m: 15 },
        FecScheme::Duplicate,
    ] {
        let mut dec = new_decoder(scheme, 4).unwrap();
        let mut out = [0u8; MAX_DATA_PAYLOAD];
        let mut bytes = vec![0u8; MAX_PARITY_PAYLOAD + 2];
        for _ in 0..5_000 {
            // Groups just below the wrap, so the genuine stream below (group 0) is newer.
            let field = f(
                rng.random_range(65_530..=65_535),
                rng.random_range(0..20),
                rng.random_range(0..17),
                rng.random_range(0..17),
            );
            let len = if rng.random_bool(0.5) {
                rng.random_range(0..8)
            } else {
                rng.random_range(0..=bytes.len())
            };
            bytes.fill(0);
            rng.fill(&mut bytes[..len.min(4)]);
            if len > 0 {
                bytes[rng.random_range(0..len)] = rng.random();
            }
            let bytes = &bytes[..len];
            if rng.random_bool(0.5) {
                let _ = dec.on_parity(T, field, bytes);
            } else {
                let _ = dec.on_data(T, field, bytes);
            }
            while let Some(r) = dec.poll_recovered(&mut out) {
                assert!(r.len <= MAX_DATA_PAYLOAD);
            }
        }
        // Interleave a genuine stream afterwards: the decoder still works.
        let mut enc = new_encoder(scheme, LONG).unwrap();
        let (k, _) = scheme.shape().unwrap().unwrap();
        let sent: Vec<Vec<u8>> = (0..k).map(|i| vec![i; 40]).collect();
        let packets = encode_group(enc.as_mut(), &sent, T);
        let mut fresh = Delivered::default();
        feed(dec.as_mut(), packets.iter().skip(1), T, &mut fresh);
        assert_eq!(
            fresh.packets.into_values().collect::<Vec<_>>(),
            sent,
            "{scheme:?}"
        );
    }
}
