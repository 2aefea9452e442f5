//! Every loss pattern of small groups: within the code's capability every data packet comes
//! out byte-exact; beyond it nothing wrong ever comes out and nothing panics.

mod fec_common;

use fec_common::{Delivered, LONG, encode_group, feed, payloads};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{FecScheme, new_decoder, new_encoder};

/// Runs every loss mask over every group size `1..=k` (smaller sizes close on the deadline)
/// and returns how many groups were fully recovered despite a lost data packet.
fn exhaustive(scheme: FecScheme) -> usize {
    let (k, m) = scheme.shape().unwrap().unwrap();
    let (k, m) = (usize::from(k), usize::from(m));
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut dec = new_decoder(scheme, 4).unwrap();
    let mut tick = 0u64;
    let mut rescued = 0;
    for j in 1..=k {
        for mask in 0u32..(1 << (j + m)) {
            tick += 1;
            let now = Micros(tick * 10_000_000);
            let sent = payloads(j, tick);
            let packets = encode_group(enc.as_mut(), &sent, now);
            assert_eq!(packets.len(), j + m, "{scheme:?} j={j}");
            let group = packets[0].field.group;
            for (n, p) in packets.iter().enumerate() {
                assert_eq!(p.field.group, group);
                if p.parity {
                    assert_eq!((p.field.index as usize, p.field.k as usize), (n, j));
                } else {
                    assert_eq!((p.field.index as usize, p.field.k as usize), (n, k));
                }
            }
            let mut got = Delivered::default();
            let survivors = packets
                .iter()
                .enumerate()
                .filter(|(n, _)| mask & (1 << n) == 0);
            feed(dec.as_mut(), survivors.map(|(_, p)| p), now, &mut got);
            assert_eq!(got.errors, 0, "{scheme:?} j={j} mask={mask:b}");
            for (&(g, i), bytes) in &got.packets {
                assert_eq!(g, group);
                assert_eq!(
                    bytes,
                    &sent[usize::from(i)],
                    "{scheme:?} j={j} mask={mask:b} i={i}"
                );
            }
            let lost_data = (0..j).filter(|n| mask & (1 << n) != 0).count();
            if mask.count_ones() as usize <= m {
                assert_eq!(got.packets.len(), j, "{scheme:?} j={j} mask={mask:b}");
                assert_eq!(got.recovered, lost_data);
                rescued += usize::from(lost_data > 0);
            } else {
                assert_eq!(got.packets.len(), j - lost_data + got.recovered);
            }
        }
    }
    rescued
}

#[test]
fn xor_every_loss_pattern_k1_to_6() {
    for k in 1..=6 {
        let rescued = exhaustive(FecScheme::Xor { k });
        // Each group size j rescues exactly its j single-data-loss patterns.
        assert_eq!(rescued, (1..=usize::from(k)).sum::<usize>(), "k={k}");
    }
}

#[test]
fn reed_solomon_every_loss_pattern_k_up_to_6_m_up_to_3() {
    for k in 1..=6u8 {
        for m in 1..=3u8 {
            let rescued = exhaustive(FecScheme::ReedSolomon { k, m });
            // Patterns with 1..=m losses of which at least one is data, summed over j.
            let expected: usize = (1..=usize::from(k))
                .map(|j| {
                    (0u32..1 << (j + usize::from(m)))
                        .filter(|mask| {
                            mask.count_ones() <= u32::from(m) && mask & ((1 << j) - 1) != 0
                        })
                        .count()
                })
                .sum();
            assert_eq!(rescued, expected, "k={k} m={m}");
        }
    }
}

#[test]
fn duplicate_every_loss_pattern() {
    assert_eq!(exhaustive(FecScheme::Duplicate), 1);
}
