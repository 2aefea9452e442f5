//! Sliding-window code: exact recovery, reordering, duplicates, wire fields and timing.

mod sliding_common;

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::sliding::{SlidingDecoder, SlidingEncoder};
use lightspeed_protocol::fec::{
    DataVerdict, FecDecoder, FecEncoder, FecField, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
};
use rand::Rng;
use rand::seq::SliceRandom;
use sliding_common::{Kind, Pkt, Receiver, encode, payloads, rng};

/// Every loss pattern of up to two packets among the first 12 (6 data + 6 repairs), followed
/// by 4 clean steps, is recovered byte-exact, for every window 2..=8 and with two repairs.
#[test]
fn every_loss_of_up_to_two_in_six_steps_is_recovered() {
    let mut r = rng(1);
    for (window, repairs) in [(2, 1), (3, 1), (4, 1), (6, 1), (8, 1), (4, 2)] {
        let data = payloads(&mut r, 10, 1..=MAX_DATA_PAYLOAD);
        let stream = encode(&mut SlidingEncoder::new(window, repairs, 1).unwrap(), &data);
        let head = stream.iter().position(|p| p.step == 6).unwrap();
        let mut patterns = vec![vec![]];
        for a in 0..head {
            patterns.push(vec![a]);
            for b in a + 1..head {
                patterns.push(vec![a, b]);
            }
        }
        for lost in &patterns {
            let mut rx = Receiver::new(window, 32, data.len());
            for (i, p) in stream.iter().enumerate() {
                if !lost.contains(&i) {
                    rx.feed(p, p.step, &data);
                }
            }
            assert_eq!(rx.missing(), 0, "W={window} m={repairs} lost {lost:?}");
        }
    }
}

/// Under 30 % iid loss of everything, whatever is handed out is byte-exact and handed out once.
#[test]
fn heavy_loss_never_yields_wrong_bytes() {
    let mut r = rng(2);
    for window in [2u8, 4, 8, 15] {
        let data = payloads(&mut r, 3_000, 0..=300);
        let stream = encode(&mut SlidingEncoder::new(window, 1, 1).unwrap(), &data);
        let mut rx = Receiver::new(window, 32, data.len());
        for p in &stream {
            if r.random::<f64>() >= 0.30 {
                rx.feed(p, p.step, &data);
            }
        }
        let missing = rx.missing();
        // Sanity: the code works at all under this load (30 % data loss without FEC).
        assert!(missing < data.len() / 5, "W={window}: {missing} missing");
    }
}

/// All 720 orders of the packets of steps 2..=4, alone and with one of them lost, and each
/// order also with every packet of the block delivered twice.
#[test]
fn any_order_of_a_block_delivers_each_packet_once() {
    let mut r = rng(3);
    let data = payloads(&mut r, 8, 1..=200);
    let stream = encode(&mut SlidingEncoder::new(4, 1, 1).unwrap(), &data);
    let block: Vec<usize> = (0..stream.len())
        .filter(|&i| (2..=4).contains(&stream[i].step))
        .collect();
    assert_eq!(block.len(), 6);
    let mut orders = Vec::new();
    permutations(&block, &mut Vec::new(), &mut orders);
    assert_eq!(orders.len(), 720);
    for order in &orders {
        for lost in std::iter::once(None).chain(block.iter().copied().map(Some)) {
            for dup in [false, true] {
                let mut rx = Receiver::new(4, 32, data.len());
                let feed = |rx: &mut Receiver, i: usize| {
                    if Some(i) != lost {
                        rx.feed(&stream[i], 3, &data);
                    }
                };
                (0..block[0]).for_each(|i| feed(&mut rx, i));
                order.iter().for_each(|&i| feed(&mut rx, i));
                if dup {
                    order.iter().rev().for_each(|&i| feed(&mut rx, i));
                }
                (block[5] + 1..stream.len()).for_each(|i| feed(&mut rx, i));
                assert_eq!(rx.missing(), 0, "order {order:?} lost {lost:?}");
            }
        }
    }
}

fn permutations(rest: &[usize], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if rest.is_empty() {
        out.push(prefix.clone());
    }
    for (i, &x) in rest.iter().enumerate() {
        let mut others = rest.to_vec();
        others.remove(i);
        prefix.push(x);
        permutations(&others, prefix, out);
        prefix.pop();
    }
}

/// Random local reordering (shuffles of 8-packet blocks), 20 % duplicates and 5 % loss.
#[test]
fn shuffled_duplicated_lossy_stream_stays_exact() {
    let mut r = rng(4);
    let data = payloads(&mut r, 4_000, 1..=400);
    let stream = encode(&mut SlidingEncoder::new(4, 1, 1).unwrap(), &data);
    let mut wire: Vec<&Pkt> = Vec::new();
    for chunk in stream.chunks(8) {
        let mut c: Vec<&Pkt> = chunk.iter().filter(|_| r.random::<f64>() >= 0.05).collect();
        let dups: Vec<&Pkt> = c
            .iter()
            .copied()
            .filter(|_| r.random::<f64>() < 0.2)
            .collect();
        c.extend(dups);
        c.shuffle(&mut r);
        wire.extend(c);
    }
    let mut rx = Receiver::new(4, 32, data.len());
    for p in wire {
        rx.feed(p, p.step, &data);
    }
    assert!(rx.missing() <= 4, "{} missing", rx.missing());
}

/// The ESI wraps at 2^16 without a hiccup: 70,000 packets, 5 % loss, everything recovered.
#[test]
fn esi_wraparound_is_seamless() {
    let mut r = rng(5);
    let data = payloads(&mut r, 70_000, 0..=8);
    let stream = encode(&mut SlidingEncoder::new(4, 1, 1).unwrap(), &data);
    assert_eq!(stream[2 * 65_536].field.group, 0);
    let mut rx = Receiver::new(4, 32, data.len());
    for p in &stream {
        if r.random::<f64>() >= 0.05 {
            rx.feed(p, p.step, &data);
        }
    }
    assert!(rx.missing() <= 2, "{} missing", rx.missing());
}

/// Two unknowns with one equation wait for the next repair: recovered two gaps late, exact.
#[test]
fn clustered_loss_is_recovered_a_step_later() {
    let data = payloads(&mut rng(8), 10, 50..=60);
    let stream = encode(&mut SlidingEncoder::new(4, 1, 1).unwrap(), &data);
    let mut rx = Receiver::new(4, 32, data.len());
    // Stream index 2s is data of step s, 2s+1 its repair: lose D3, R3 and D4.
    for (i, p) in stream.iter().enumerate() {
        if ![6, 7, 8].contains(&i) {
            rx.feed(p, p.step, &data);
        }
    }
    assert_eq!(rx.missing(), 0);
    assert_eq!(rx.recovered_at[3], Some(5));
    assert_eq!(rx.recovered_at[4], Some(5));
    assert_eq!(rx.dec.stats().recovered, 2);
    assert_eq!(rx.dec.pending_equations(), 0);
}

/// A packet no surviving repair covers is given up once the window slides a span past it,
/// its equations are dropped, and the original arriving even later is still delivered.
#[test]
fn unrecoverable_packet_is_given_up_after_the_span() {
    let data = payloads(&mut rng(9), 100, 1..=30);
    let stream = encode(&mut SlidingEncoder::new(2, 1, 1).unwrap(), &data);
    let mut rx = Receiver::new(2, 16, data.len());
    // Lose D3 and both repairs covering it (R3 over 2..=3, R4 over 3..=4), and D4.
    let lost = [6, 7, 8, 9];
    for (i, p) in stream.iter().enumerate().take(2 * 19) {
        if !lost.contains(&i) {
            rx.feed(p, p.step, &data);
        }
    }
    assert_eq!(rx.dec.stats().given_up, 0, "still inside the span");
    assert!(
        rx.recovered_at[4].is_some(),
        "D4 is solvable from R5 once D5 is in"
    );
    assert_eq!(rx.outputs[3], 0);
    for p in &stream[2 * 19..2 * 21] {
        rx.feed(p, p.step, &data);
    }
    let stats = rx.dec.stats();
    assert_eq!(stats.given_up, 1);
    assert_eq!(rx.dec.pending_equations(), 0);
    rx.feed(&stream[6], 3, &data);
    assert_eq!(
        rx.outputs[3], 1,
        "too old to track, delivered rather than dropped"
    );
    assert_eq!(rx.missing(), data.len() - 21);
}

/// Repairs alone (every data packet lost) never hold more equations than the span.
#[test]
fn equations_stay_bounded_without_data() {
    let data = payloads(&mut rng(10), 500, 1..=100);
    let stream = encode(&mut SlidingEncoder::new(8, 2, 1).unwrap(), &data);
    let mut rx = Receiver::new(8, 16, data.len());
    for p in stream.iter().filter(|p| p.kind == Kind::Repair) {
        rx.feed(p, p.step, &data);
        assert!(rx.dec.pending_equations() <= 16);
    }
    // Two repairs per packet over a window of 8 solve everything once enough arrive, data or
    // not: with no data at all there are still two equations per unknown.
    assert_eq!(rx.missing(), 0);
}

#[test]
fn fields_follow_the_documented_layout() {
    let data = payloads(&mut rng(6), 6, 5..=5);
    let stream = encode(&mut SlidingEncoder::new(4, 2, 1).unwrap(), &data);
    let fields: Vec<(Kind, FecField)> = stream.iter().map(|p| (p.kind, p.field)).collect();
    let f = |group, index, k| FecField {
        group,
        index,
        k,
        m: 2,
    };
    assert_eq!(fields[0], (Kind::Data, f(0, 0, 4)));
    assert_eq!(fields[1], (Kind::Repair, f(0, 1, 1)));
    assert_eq!(fields[2], (Kind::Repair, f(0, 2, 1)));
    assert_eq!(fields[9], (Kind::Data, f(3, 0, 4)));
    assert_eq!(fields[10], (Kind::Repair, f(3, 4, 4)));
    assert_eq!(fields[17], (Kind::Repair, f(5, 5, 4)));
    // 2-byte prefix + 5 bytes, already above the 3-byte floor.
    assert!(
        stream
            .iter()
            .all(|p| p.bytes.len() == if p.kind == Kind::Data { 5 } else { 7 })
    );
}

#[test]
fn repair_interval_spaces_the_repairs() {
    let data = payloads(&mut rng(7), 9, 0..=0);
    let stream = encode(&mut SlidingEncoder::new(4, 1, 3).unwrap(), &data);
    let repairs: Vec<(usize, FecField)> = stream
        .iter()
        .filter(|p| p.kind == Kind::Repair)
        .map(|p| (p.step, p.field))
        .collect();
    let f = |group, k| FecField {
        group,
        index: k,
        k,
        m: 1,
    };
    assert_eq!(repairs, vec![(2, f(2, 3)), (5, f(5, 4)), (8, f(8, 4))]);
    // Empty payloads: 2-byte symbols, padded to the header's 3-byte minimum.
    assert!(
        stream
            .iter()
            .filter(|p| p.kind == Kind::Repair)
            .all(|p| p.bytes.len() == 3)
    );
}

/// Data is delivered at the `now` it arrives and its repair is due at the same `now`.
#[test]
fn nothing_waits_for_a_deadline() {
    let mut enc = SlidingEncoder::new(4, 1, 1).unwrap();
    let mut dec = SlidingDecoder::new(4, 32).unwrap();
    let mut buf = vec![0u8; MAX_PARITY_PAYLOAD];
    let mut out = vec![0u8; MAX_DATA_PAYLOAD];
    let mut lost = None;
    for i in 0..5u64 {
        let now = Micros(1_000_000 + 7_800 * i);
        let payload = [i as u8; 40];
        let field = enc.on_data(now, &payload).unwrap();
        assert_eq!(enc.next_deadline(), None);
        let (rf, len) = enc
            .poll_parity(now, &mut buf)
            .expect("repair due at the same now");
        assert!(enc.poll_parity(now, &mut buf).is_none());
        if i == 2 {
            lost = Some(field); // The data packet is lost; its own repair arrives.
        } else {
            assert_eq!(dec.on_data(now, field, &payload), Ok(DataVerdict::Deliver));
        }
        dec.on_parity(now, rf, &buf[..len]).unwrap();
        if i == 2 {
            let rec = dec
                .poll_recovered(&mut out)
                .expect("recovered at the same now");
            assert_eq!((rec.field.group, rec.len), (2, 40));
            assert_eq!(&out[..40], &[2u8; 40]);
            // The late original is then a duplicate.
            assert_eq!(
                dec.on_data(now, lost.unwrap(), &payload),
                Ok(DataVerdict::Duplicate)
            );
        }
        assert!(dec.poll_recovered(&mut out).is_none());
        assert_eq!(
            dec.on_data(now, field, &payload),
            Ok(DataVerdict::Duplicate)
        );
    }
    assert_eq!(dec.stats().recovered, 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any honest stream under any loss rate, local reordering and duplication: every byte
    /// handed out is right and nothing is handed out twice.
    #[test]
    fn honest_streams_never_yield_wrong_bytes(
        seed in proptest::prelude::any::<u64>(),
        window in 1u8..=15,
        repairs in 1u8..=3,
        interval in 1u8..=4,
        loss in 0.0f64..0.6,
        span in 15u8..=64,
    ) {
        let mut r = rng(seed);
        let data = payloads(&mut r, 300, 0..=200);
        let stream = encode(&mut SlidingEncoder::new(window, repairs, interval).unwrap(), &data);
        let mut rx = Receiver::new(window, span, data.len());
        for chunk in stream.chunks(5) {
            let mut c: Vec<&Pkt> = chunk.iter().filter(|_| r.random::<f64>() >= loss).collect();
            if r.random::<f64>() < 0.3 {
                c.shuffle(&mut r);
            }
            for p in c.iter().chain(c.iter().take(1)) {
                rx.feed(p, p.step, &data);
            }
        }
        let _ = rx.missing();
    }
}
