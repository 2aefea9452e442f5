//! The latency contract, with explicit `now`: no codec holds a data packet back, and a
//! recovered packet is released no later than its group's first packet time plus the encoder's
//! deadline plus one packet gap.

mod fec_common;

use std::collections::BTreeMap;
use std::time::Duration;

use fec_common::{Delivered, Packet, drain_parity, feed};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecDecoder, FecField, FecScheme, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
    new_decoder, new_encoder,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const GAP: Duration = Duration::from_millis(8);

fn ms(t: u64) -> Micros {
    Micros::from_millis(t)
}

#[test]
fn one_millisecond_deadline_closes_each_packet_alone() {
    let mut enc = new_encoder(FecScheme::Xor { k: 4 }, Duration::from_millis(1)).unwrap();
    let mut dec = new_decoder(FecScheme::Xor { k: 4 }, 8).unwrap();
    let mut out = [0u8; MAX_PARITY_PAYLOAD];
    let mut rec = [0u8; MAX_DATA_PAYLOAD];

    // t = 0: the packet's field comes back at once; it is lost on the way.
    let field = enc.on_data(ms(0), b"first").unwrap();
    assert_eq!(
        field,
        FecField {
            group: 0,
            index: 0,
            k: 4,
            m: 1
        }
    );
    assert_eq!(enc.poll_parity(ms(0), &mut out), None);
    assert_eq!(enc.next_deadline(), Some(Micros(1_000)));
    assert_eq!(enc.poll_parity(Micros(999), &mut out), None);

    // t = 1 ms: the group closes with its one packet and its parity goes out.
    let (pf, len) = enc.poll_parity(Micros(1_000), &mut out).unwrap();
    assert_eq!(
        pf,
        FecField {
            group: 0,
            index: 1,
            k: 1,
            m: 1
        }
    );
    assert_eq!(enc.poll_parity(Micros(1_000), &mut out), None);
    assert_eq!(enc.next_deadline(), None);

    // The receiver gets the parity at 1 ms and rebuilds the lost packet right then:
    // 1 ms after the first packet, well inside deadline + one gap (9 ms).
    dec.on_parity(Micros(1_000), pf, &out[..len]).unwrap();
    let r = dec.poll_recovered(&mut rec).unwrap();
    assert_eq!(
        (r.field, &rec[..r.len]),
        (
            FecField {
                group: 0,
                index: 0,
                k: 1,
                m: 1
            },
            &b"first"[..]
        )
    );

    // t = 8 ms: the next packet opens group 1.
    let field = enc.on_data(ms(8), b"second").unwrap();
    assert_eq!(
        field,
        FecField {
            group: 1,
            index: 0,
            k: 4,
            m: 1
        }
    );
    assert_eq!(enc.next_deadline(), Some(Micros(9_000)));
    assert_eq!(
        dec.on_data(ms(8), field, b"second"),
        Ok(DataVerdict::Deliver)
    );
}

#[test]
fn twenty_millisecond_deadline_closes_a_group_of_three() {
    let scheme = FecScheme::ReedSolomon { k: 4, m: 2 };
    let mut enc = new_encoder(scheme, Duration::from_millis(20)).unwrap();
    let mut dec = new_decoder(scheme, 8).unwrap();
    let mut out = [0u8; MAX_PARITY_PAYLOAD];
    let mut rec = [0u8; MAX_DATA_PAYLOAD];

    for (i, t) in [0u64, 8, 16].into_iter().enumerate() {
        let payload = vec![i as u8 + 1; 100 + i * 50];
        let field = enc.on_data(ms(t), &payload).unwrap();
        assert_eq!(
            field,
            FecField {
                group: 0,
                index: i as u8,
                k: 4,
                m: 2
            }
        );
        assert_eq!(
            enc.poll_parity(ms(t), &mut out),
            None,
            "nothing due at {t} ms"
        );
        assert_eq!(enc.next_deadline(), Some(ms(20)));
        if i != 1 {
            // Packet 1 (sent at 8 ms) is lost.
            assert_eq!(
                dec.on_data(ms(t), field, &payload),
                Ok(DataVerdict::Deliver)
            );
        }
    }
    assert_eq!(enc.poll_parity(Micros(19_999), &mut out), None);

    // At 20 ms the group closes with k = 3 and both parity packets are due.
    for p in 0..2u8 {
        let (pf, len) = enc.poll_parity(ms(20), &mut out).unwrap();
        assert_eq!(
            pf,
            FecField {
                group: 0,
                index: 3 + p,
                k: 3,
                m: 2
            }
        );
        assert_eq!(len, 2 + 200, "width of the longest symbol");
        dec.on_parity(ms(20), pf, &out[..len]).unwrap();
        if p == 0 {
            // The first parity suffices: recovered at 20 ms <= 0 + 20 + 8 ms.
            let r = dec.poll_recovered(&mut rec).unwrap();
            assert_eq!(
                r.field,
                FecField {
                    group: 0,
                    index: 1,
                    k: 3,
                    m: 2
                }
            );
            assert_eq!(&rec[..r.len], &[2u8; 150][..]);
        }
        assert_eq!(dec.poll_recovered(&mut rec), None);
    }
    assert_eq!(enc.poll_parity(ms(20), &mut out), None);
    assert_eq!(enc.next_deadline(), None);

    // The fourth packet at 24 ms starts group 1.
    assert_eq!(enc.on_data(ms(24), b"x").unwrap().group, 1);
}

#[test]
fn a_full_group_has_its_parity_due_right_after_the_kth_packet() {
    let mut enc = new_encoder(FecScheme::Xor { k: 2 }, Duration::from_millis(100)).unwrap();
    let mut out = [0u8; MAX_PARITY_PAYLOAD];
    enc.on_data(ms(0), b"a").unwrap();
    assert_eq!(enc.poll_parity(ms(0), &mut out), None);
    assert_eq!(enc.next_deadline(), Some(ms(100)));
    enc.on_data(ms(8), b"bb").unwrap();
    assert_eq!(enc.next_deadline(), Some(ms(8)), "parity already due");
    let (pf, len) = enc.poll_parity(ms(8), &mut out).unwrap();
    assert_eq!(
        pf,
        FecField {
            group: 0,
            index: 2,
            k: 2,
            m: 1
        }
    );
    // Symbols [0,1,'a',0] and [0,2,'b','b'] XORed.
    assert_eq!(&out[..len], &[0, 3, b'a' ^ b'b', b'b']);
    assert_eq!(enc.next_deadline(), None);
}

#[test]
fn duplicate_parity_is_due_with_its_packet() {
    let mut enc = new_encoder(FecScheme::Duplicate, Duration::from_millis(5)).unwrap();
    let mut out = [0u8; MAX_PARITY_PAYLOAD];
    for g in 0..3u16 {
        let t = ms(u64::from(g) * 8);
        assert_eq!(
            enc.on_data(t, b"dup").unwrap(),
            FecField {
                group: g,
                index: 0,
                k: 1,
                m: 1
            }
        );
        assert_eq!(enc.next_deadline(), Some(t));
        let (pf, len) = enc.poll_parity(t, &mut out).unwrap();
        assert_eq!(
            pf,
            FecField {
                group: g,
                index: 1,
                k: 1,
                m: 1
            }
        );
        assert_eq!(&out[..len], &[0, 3, b'd', b'u', b'p']);
        assert_eq!(enc.poll_parity(t, &mut out), None);
    }
}

#[test]
fn a_late_poll_still_closes_the_group_at_its_deadline() {
    // The caller skipped the poll at the deadline; the next packet must not join the old group.
    let mut enc = new_encoder(FecScheme::Xor { k: 4 }, Duration::from_millis(1)).unwrap();
    let mut out = [0u8; MAX_PARITY_PAYLOAD];
    assert_eq!(enc.on_data(ms(0), b"a").unwrap().group, 0);
    assert_eq!(
        enc.on_data(ms(8), b"b").unwrap(),
        FecField {
            group: 1,
            index: 0,
            k: 4,
            m: 1
        }
    );
    let (pf, _) = enc.poll_parity(ms(8), &mut out).unwrap();
    assert_eq!(
        pf,
        FecField {
            group: 0,
            index: 1,
            k: 1,
            m: 1
        }
    );
    assert_eq!(enc.next_deadline(), Some(ms(9)));
}

/// Drains recovered packets at `now`, asserting each meets the bound; returns how many.
fn check(
    dec: &mut dyn FecDecoder,
    now: Micros,
    first_sent: &BTreeMap<u16, Micros>,
    deadline: Duration,
) -> usize {
    let mut rec = [0u8; MAX_DATA_PAYLOAD];
    let mut n = 0;
    while let Some(r) = dec.poll_recovered(&mut rec) {
        let first = first_sent[&r.field.group];
        assert!(
            now <= first + deadline + GAP,
            "recovered at {now:?}, group opened at {first:?}"
        );
        n += 1;
    }
    n
}

/// A stream of packets every 8 ms with 15 % loss on data and parity, driven like the real
/// loop (poll after every packet and at every deadline). Each recovered packet must come out
/// no later than its group's first packet + deadline + one gap, and every data packet the
/// encoder saw is returned by `on_data` at its own send time.
fn recovery_is_bounded(scheme: FecScheme, deadline: Duration) -> usize {
    let mut enc = new_encoder(scheme, deadline).unwrap();
    let mut dec = new_decoder(scheme, 16).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut first_sent: BTreeMap<u16, Micros> = BTreeMap::new();
    let mut recovered = 0;
    let mut parity = Vec::<Packet>::new();
    for n in 0..400u64 {
        let now = Micros(n * GAP.as_micros() as u64);
        // Deadlines that expire before this packet are served at their own time.
        while let Some(t) = enc.next_deadline().filter(|&t| t < now) {
            drain_parity(enc.as_mut(), t, &mut parity);
            for p in parity.drain(..) {
                if rng.random_bool(0.85) {
                    let _ = dec.on_parity(t, p.field, &p.bytes);
                }
            }
            recovered += check(dec.as_mut(), t, &first_sent, deadline);
        }
        let payload = vec![n as u8; 60 + (n as usize * 37) % 240];
        let field = enc.on_data(now, &payload).unwrap();
        if field.index == 0 {
            first_sent.insert(field.group, now);
        }
        if rng.random_bool(0.85) {
            let mut got = Delivered::default();
            feed(
                dec.as_mut(),
                [&Packet {
                    parity: false,
                    field,
                    bytes: payload,
                }],
                now,
                &mut got,
            );
            assert!(got.packets.len() <= 1);
            recovered += got.recovered;
        }
        drain_parity(enc.as_mut(), now, &mut parity);
        for p in parity.drain(..) {
            if rng.random_bool(0.85) {
                let _ = dec.on_parity(now, p.field, &p.bytes);
            }
        }
        recovered += check(dec.as_mut(), now, &first_sent, deadline);
    }
    recovered
}

#[test]
fn recovered_packets_meet_the_latency_bound() {
    assert!(recovery_is_bounded(FecScheme::Xor { k: 4 }, Duration::from_millis(1)) > 20);
    assert!(recovery_is_bounded(FecScheme::Xor { k: 3 }, Duration::from_millis(20)) > 20);
    assert!(
        recovery_is_bounded(
            FecScheme::ReedSolomon { k: 4, m: 2 },
            Duration::from_millis(20)
        ) > 20
    );
    assert!(
        recovery_is_bounded(
            FecScheme::ReedSolomon { k: 8, m: 3 },
            Duration::from_millis(1)
        ) > 20
    );
    assert!(recovery_is_bounded(FecScheme::Duplicate, Duration::from_millis(1)) > 20);
}
