use super::*;
use proptest::prelude::*;

const KEY: SessionKey = SessionKey([0x42; 32]);

fn data_header(fec: FecField) -> Header {
    Header {
        packet_type: PacketType::Data,
        path: 1,
        session: SessionId(0xdead_beef),
        seq: 7,
        timestamp: 123_456,
        fec,
    }
}

fn sealed(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_PACKET_LEN];
    let n = seal(header, &KEY, payload, &mut buf).expect("valid header");
    buf.truncate(n);
    buf
}

#[test]
fn header_fits_the_budget() {
    assert_eq!(HEADER_LEN, 26);
}

#[test]
fn round_trip_data_with_fec() {
    let fec = FecField {
        group: 513,
        index: 2,
        k: 4,
        m: 2,
    };
    let h = data_header(fec);
    let bytes = sealed(&h, b"game payload");
    assert_eq!(bytes.len(), HEADER_LEN + 12);
    let p = parse(&bytes).unwrap().verify(&KEY).unwrap();
    assert_eq!(p.header, h);
    assert_eq!(p.payload, b"game payload");
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let h = data_header(FecField {
        group: 9,
        index: 0,
        k: 2,
        m: 1,
    });
    let bytes = sealed(&h, &[0x5a; 100]);
    for bit in 0..bytes.len() * 8 {
        let mut forged = bytes.clone();
        forged[bit / 8] ^= 1 << (bit % 8);
        let outcome = parse(&forged).and_then(|u| u.verify(&KEY));
        assert!(outcome.is_err(), "bit {bit} flip accepted");
    }
}

#[test]
fn wrong_key_is_bad_mac() {
    let bytes = sealed(&data_header(FecField::NONE), b"x");
    let other = SessionKey([0x43; 32]);
    assert_eq!(
        parse(&bytes).unwrap().verify(&other),
        Err(DecodeError::BadMac)
    );
}

#[test]
fn distinct_errors_for_structural_faults() {
    let good = sealed(&data_header(FecField::NONE), b"abc");
    assert_eq!(
        parse(&good[..HEADER_LEN - 1]).unwrap_err(),
        DecodeError::Truncated { len: 25 }
    );
    assert_eq!(
        parse(&good[..HEADER_LEN]).unwrap_err(),
        DecodeError::BadLength {
            packet_type: PacketType::Data,
            payload_len: 0
        }
    );
    assert_eq!(
        parse(&vec![0x10; MAX_PACKET_LEN + 1]).unwrap_err(),
        DecodeError::TooLong {
            len: MAX_PACKET_LEN + 1
        }
    );
    let mut v2 = good.clone();
    v2[0] = (2 << 4) | (v2[0] & 0x0f);
    assert_eq!(
        parse(&v2).unwrap_err(),
        DecodeError::UnsupportedVersion { version: 2 }
    );
    let mut unknown = good.clone();
    unknown[0] = (VERSION << 4) | 0x0e;
    assert_eq!(
        parse(&unknown).unwrap_err(),
        DecodeError::UnknownType { raw: 14 }
    );
    let mut zero = good.clone();
    zero[2..6].fill(0);
    assert_eq!(parse(&zero).unwrap_err(), DecodeError::ZeroSession);
    let mut probe_with_fec = sealed(&data_header(FecField::NONE), &[0u8; 8]);
    probe_with_fec.truncate(HEADER_LEN + CONTROL_PAYLOAD_LEN);
    probe_with_fec[0] = (VERSION << 4) | PacketType::Probe as u8;
    probe_with_fec[17] = 0x21;
    assert!(matches!(
        parse(&probe_with_fec).unwrap_err(),
        DecodeError::BadFecField { .. }
    ));
}

#[test]
fn exact_payload_lengths_per_type() {
    for (ty, ok_len, bad_len) in [
        (PacketType::Probe, 8, 9),
        (PacketType::ProbeReply, 8, 7),
        (PacketType::Bind, 8, 0),
        (PacketType::BindAck, 8, 16),
        (PacketType::Close, 0, 1),
    ] {
        let h = Header {
            packet_type: ty,
            ..data_header(FecField::NONE)
        };
        let payload = vec![1u8; ok_len];
        let bytes = sealed(&h, &payload);
        assert_eq!(parse(&bytes).unwrap().verify(&KEY).unwrap().header, h);
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        assert!(matches!(
            seal(&h, &KEY, &vec![1u8; bad_len], &mut buf),
            Err(EncodeError::Invalid(DecodeError::BadLength { .. }))
        ));
    }
}

#[test]
fn fec_field_shape_rules() {
    let parity = |index, k, m| Header {
        packet_type: PacketType::Parity,
        ..data_header(FecField {
            group: 1,
            index,
            k,
            m,
        })
    };
    assert!(parity(4, 4, 2).validate(10).is_ok());
    assert!(parity(5, 4, 2).validate(10).is_ok());
    assert!(parity(6, 4, 2).validate(10).is_err());
    assert!(parity(3, 4, 2).validate(10).is_err());
    assert!(parity(0, 0, 1).validate(10).is_err());
    let data = |index, k, m| {
        data_header(FecField {
            group: 1,
            index,
            k,
            m,
        })
    };
    assert!(data(3, 4, 1).validate(10).is_ok());
    assert!(data(4, 4, 1).validate(10).is_err());
    assert!(data(0, 4, 0).validate(10).is_err());
    assert!(data(0, 16, 1).validate(10).is_err());
}

#[test]
fn seal_in_place_matches_seal_and_checks_the_buffer() {
    let h = data_header(FecField::NONE);
    let mut buf = vec![0u8; HEADER_LEN + 5];
    buf[HEADER_LEN..].copy_from_slice(b"hello");
    let n = seal_in_place(&h, &KEY, &mut buf, 5).unwrap();
    assert_eq!(&buf[..n], &sealed(&h, b"hello")[..]);
    assert_eq!(
        seal_in_place(&h, &KEY, &mut buf, 6),
        Err(EncodeError::BufferTooSmall {
            needed: HEADER_LEN + 6,
            have: HEADER_LEN + 5
        })
    );
}

#[test]
fn probe_reply_body_round_trip() {
    let body = ProbeReplyBody {
        echo_timestamp: 0xfeed_f00d,
        hold_us: 17,
    };
    assert_eq!(ProbeReplyBody::from_bytes(&body.to_bytes()), Some(body));
    assert_eq!(ProbeReplyBody::from_bytes(&[0; 7]), None);
}

fn arb_header() -> impl Strategy<Value = (Header, Vec<u8>)> {
    let ty = prop_oneof![
        Just(PacketType::Data),
        Just(PacketType::Parity),
        Just(PacketType::Probe),
        Just(PacketType::ProbeReply),
        Just(PacketType::Bind),
        Just(PacketType::BindAck),
        Just(PacketType::Close),
    ];
    (
        ty,
        any::<u8>(),
        1u32..,
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        1u8..=15,
        1u8..=15,
        any::<u8>(),
    )
        .prop_flat_map(|(ty, path, session, seq, ts, group, k, m, pick)| {
            let fec = match ty {
                PacketType::Data if pick % 2 == 0 => FecField::NONE,
                PacketType::Data => FecField {
                    group,
                    index: pick % k,
                    k,
                    m,
                },
                PacketType::Parity => FecField {
                    group,
                    index: k + pick % m,
                    k,
                    m,
                },
                _ => FecField::NONE,
            };
            let header = Header {
                packet_type: ty,
                path,
                session: SessionId(session),
                seq,
                timestamp: ts,
                fec,
            };
            let (min, max) = ty.payload_len_range();
            (
                Just(header),
                proptest::collection::vec(any::<u8>(), min..=max),
            )
        })
}

proptest! {
    #[test]
    fn any_valid_header_round_trips((header, payload) in arb_header()) {
        let bytes = sealed(&header, &payload);
        let p = parse(&bytes).unwrap().verify(&KEY).unwrap();
        prop_assert_eq!(p.header, header);
        prop_assert_eq!(p.payload, &payload[..]);
    }

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        if let Ok(u) = parse(&bytes) {
            // Random bytes essentially never carry a valid tag; either way no panic.
            let _ = u.verify(&KEY);
        }
    }

    #[test]
    fn truncation_or_extension_is_rejected((header, payload) in arb_header(), cut in 1usize..30) {
        let bytes = sealed(&header, &payload);
        let shorter = &bytes[..bytes.len().saturating_sub(cut)];
        prop_assert!(parse(shorter).and_then(|u| u.verify(&KEY)).is_err());
        let mut longer = bytes.clone();
        longer.extend(std::iter::repeat_n(0u8, cut));
        prop_assert!(parse(&longer).and_then(|u| u.verify(&KEY)).is_err());
    }
}
