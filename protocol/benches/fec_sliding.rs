//! Sliding-window code: encode (one data packet + its repair) and decode (the same, received)
//! with no loss and with one data packet in ten lost, on game-sized payloads.
//!
//! Run: `cargo bench -p lightspeed-protocol --bench fec_sliding`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::sliding::{DEFAULT_SPAN, SlidingDecoder, SlidingEncoder};
use lightspeed_protocol::fec::{
    FecDecoder, FecEncoder, FecField, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
};
use std::hint::black_box;

/// A full 2^16-step cycle of ESIs, so replaying it in a loop looks like one endless session.
const STEPS: usize = 1 << 16;
/// Distinct data payloads, reused round-robin.
const POOL: usize = 16;

struct Stream {
    data: Vec<FecField>,
    repair: Vec<(FecField, Vec<u8>)>,
    payloads: Vec<Vec<u8>>,
}

fn stream(window: u8, size: usize) -> Stream {
    let payloads: Vec<Vec<u8>> = (0..POOL)
        .map(|i| (0..size).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect();
    let mut enc = SlidingEncoder::new(window, 1, 1).unwrap();
    let mut buf = vec![0u8; MAX_PARITY_PAYLOAD];
    let mut data = Vec::with_capacity(STEPS);
    let mut repair = Vec::with_capacity(STEPS);
    for i in 0..STEPS {
        data.push(enc.on_data(Micros::ZERO, &payloads[i % POOL]).unwrap());
        let (f, len) = enc.poll_parity(Micros::ZERO, &mut buf).unwrap();
        repair.push((f, buf[..len].to_vec()));
    }
    Stream {
        data,
        repair,
        payloads,
    }
}

fn bench(c: &mut Criterion) {
    for window in [2u8, 4, 8] {
        let mut group = c.benchmark_group(format!("sliding_w{window}"));
        group.throughput(Throughput::Elements(1));
        for size in [100usize, 200, 300] {
            group.bench_with_input(BenchmarkId::new("encode", size), &size, |b, &size| {
                let mut enc = SlidingEncoder::new(window, 1, 1).unwrap();
                let payload = vec![0x5au8; size];
                let mut out = vec![0u8; MAX_PARITY_PAYLOAD];
                b.iter(|| {
                    let f = enc.on_data(Micros::ZERO, black_box(&payload)).unwrap();
                    let (p, n) = enc.poll_parity(Micros::ZERO, &mut out).unwrap();
                    black_box((f, p, n))
                })
            });
            let s = stream(window, size);
            for (name, lose_every) in [("decode_clean", usize::MAX), ("decode_loss10", 10)] {
                group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                    let mut dec = SlidingDecoder::new(window, DEFAULT_SPAN).unwrap();
                    let mut out = vec![0u8; MAX_DATA_PAYLOAD];
                    let mut i = 0usize;
                    b.iter(|| {
                        let step = i % STEPS;
                        i += 1;
                        if step % lose_every != 3 {
                            let p = &s.payloads[step % POOL];
                            let _ = dec.on_data(Micros::ZERO, s.data[step], p).unwrap();
                        }
                        let (f, r) = &s.repair[step];
                        dec.on_parity(Micros::ZERO, *f, r).unwrap();
                        let mut n = 0;
                        while let Some(rec) = dec.poll_recovered(&mut out) {
                            n += rec.len;
                        }
                        black_box(n)
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
