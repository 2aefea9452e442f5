//! Arrival order and duplicates do not change what comes out: every permutation of a group's
//! surviving packets (and seeded shuffles with duplicates for larger groups) delivers the same
//! set, each packet exactly once (the helper asserts no double delivery).

mod fec_common;

use fec_common::{Delivered, LONG, Packet, encode_group, feed, payloads};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{FecScheme, new_decoder, new_encoder};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// All permutations of `items` (Heap's algorithm).
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    fn heap<T: Clone>(n: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if n <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..n - 1 {
            heap(n - 1, items, out);
            let j = if n.is_multiple_of(2) { i } else { 0 };
            items.swap(j, n - 1);
        }
        heap(n - 1, items, out);
    }
    let mut out = Vec::new();
    heap(items.len(), &mut items.to_vec(), &mut out);
    out
}

/// For one group of `size` packets under `scheme`, every loss mask within `m` and every
/// arrival order must deliver exactly the sent payloads.
fn all_orders(scheme: FecScheme, size: usize) {
    let (_, m) = scheme.shape().unwrap().unwrap();
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut dec = new_decoder(scheme, 8).unwrap();
    let mut tick = 0u64;
    let total = size + usize::from(m);
    for mask in 0u32..1 << total {
        if mask.count_ones() > u32::from(m) {
            continue;
        }
        let sent = payloads(size, u64::from(mask));
        let survivors: Vec<Packet> = {
            tick += 1;
            let packets = encode_group(enc.as_mut(), &sent, Micros(tick * 10_000_000));
            packets
                .into_iter()
                .enumerate()
                .filter(|(n, _)| mask & (1 << n) == 0)
                .map(|(_, p)| p)
                .collect()
        };
        for order in permutations(&survivors) {
            // A fresh decoder per order, so each order starts from the same state.
            let mut got = Delivered::default();
            // Duplicates of everything after the permutation must change nothing.
            let replay: Vec<&Packet> = order.iter().chain(order.iter().rev()).collect();
            let mut fresh = new_decoder(scheme, 8).unwrap();
            feed(fresh.as_mut(), replay, Micros::ZERO, &mut got);
            assert_eq!(got.errors, 0, "{scheme:?} mask={mask:b}");
            let want: Vec<Vec<u8>> = got.packets.values().cloned().collect();
            assert_eq!(want, sent, "{scheme:?} mask={mask:b} order={order:?}");
        }
        // The long-lived decoder sees the first order too, across many groups.
        let mut got = Delivered::default();
        feed(dec.as_mut(), &survivors, Micros::ZERO, &mut got);
        assert_eq!(got.packets.len(), size);
    }
}

#[test]
fn every_order_of_xor_groups_delivers_the_same_set() {
    all_orders(FecScheme::Xor { k: 3 }, 3);
    // Deadline-closed group: parity says k=2 while data said k=4.
    all_orders(FecScheme::Xor { k: 4 }, 2);
}

#[test]
fn every_order_of_reed_solomon_groups_delivers_the_same_set() {
    all_orders(FecScheme::ReedSolomon { k: 3, m: 2 }, 3);
    all_orders(FecScheme::ReedSolomon { k: 2, m: 3 }, 2);
    all_orders(FecScheme::ReedSolomon { k: 5, m: 2 }, 3);
}

#[test]
fn every_order_of_duplicate_groups_delivers_the_same_set() {
    all_orders(FecScheme::Duplicate, 1);
}

#[test]
fn seeded_shuffles_with_duplicates_across_interleaved_groups() {
    let scheme = FecScheme::ReedSolomon { k: 6, m: 3 };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for round in 0..200u64 {
        let mut enc = new_encoder(scheme, LONG).unwrap();
        let mut dec = new_decoder(scheme, 8).unwrap();
        let mut sent = Vec::new();
        let mut wire = Vec::new();
        // Four groups, some closed early by the deadline, each losing up to m packets.
        for g in 0..4u64 {
            let size = 1 + ((round + g) % 6) as usize;
            let payloads = payloads(size, round * 10 + g);
            let mut packets = encode_group(
                enc.as_mut(),
                &payloads,
                Micros((round * 4 + g) * 10_000_000),
            );
            packets.shuffle(&mut rng);
            packets.truncate(packets.len() - (g as usize % 4));
            sent.extend(payloads);
            wire.extend(packets.iter().cloned());
            wire.extend(packets.into_iter().take(2));
        }
        wire.shuffle(&mut rng);
        let mut got = Delivered::default();
        feed(dec.as_mut(), &wire, Micros::ZERO, &mut got);
        assert_eq!(got.errors, 0, "round {round}");
        let mut want = sent.clone();
        let mut have: Vec<Vec<u8>> = got.packets.into_values().collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "round {round}");
    }
}
