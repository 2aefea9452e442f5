//! FEC benchmarks: each codec's cost per group on game-sized packets, and the Reed-Solomon
//! crate comparison behind docs/decisions/0004-reed-solomon-crate.md.
//!
//! `cargo bench -p lightspeed-protocol --bench fec -- --warm-up-time 1 --measurement-time 2`
//!
//! - `codec/<scheme>/<op>/<bytes>B/k<k>`: one whole group through our codecs. `encode` is
//!   `k` × `on_data` plus draining the parity; `decode_lossN` feeds the group minus `N` data
//!   packets (each iteration under a new group number, as on the wire) and drains recovery.
//! - `rs_crate/<crate>/<op>/<bytes>B/k<k>m<m>`: the bare crates on `k` data shards of
//!   `bytes` each: `encode` makes `m` parity shards, `decode` rebuilds `m` lost data shards.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecField, FecScheme, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD, new_decoder,
    new_encoder,
};
use reed_solomon_erasure::galois_8::ReedSolomon;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

const SIZES: [usize; 3] = [100, 200, 300];
const KS: [u8; 3] = [2, 4, 8];
const LONG: Duration = Duration::from_secs(1);

/// One encoded group: data payloads with fields, then parity with fields.
fn encode_group(scheme: FecScheme, payloads: &[Vec<u8>]) -> Vec<(bool, FecField, Vec<u8>)> {
    let mut enc = new_encoder(scheme, LONG).unwrap();
    let mut out = vec![0u8; MAX_PARITY_PAYLOAD];
    let mut packets = Vec::new();
    for p in payloads {
        let field = enc.on_data(Micros::ZERO, p).unwrap();
        packets.push((false, field, p.clone()));
        while let Some((field, len)) = enc.poll_parity(Micros::ZERO, &mut out) {
            packets.push((true, field, out[..len].to_vec()));
        }
    }
    packets
}

fn payloads(k: usize, size: usize) -> Vec<Vec<u8>> {
    (0..k)
        .map(|i| (0..size).map(|b| (b * 31 + i * 7) as u8).collect())
        .collect()
}

fn codecs(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    for size in SIZES {
        for k in KS {
            let schemes = [
                ("xor", FecScheme::Xor { k }, vec![1]),
                ("rs_m2", FecScheme::ReedSolomon { k, m: 2 }, vec![1, 2]),
                ("dup", FecScheme::Duplicate, vec![1]),
            ];
            for (name, scheme, losses) in schemes {
                // Duplication groups are single packets whatever `k`; bench it once per size.
                if name == "dup" && k != KS[0] {
                    continue;
                }
                let group_k = if name == "dup" { 1 } else { usize::from(k) };
                let sent = payloads(group_k, size);
                let label = if name == "dup" {
                    format!("{size}B")
                } else {
                    format!("{size}B/k{k}")
                };

                let mut enc = new_encoder(scheme, LONG).unwrap();
                let mut out = vec![0u8; MAX_PARITY_PAYLOAD];
                g.bench_function(format!("{name}/encode/{label}"), |b| {
                    b.iter(|| {
                        for p in &sent {
                            black_box(enc.on_data(Micros::ZERO, p).unwrap());
                            while let Some(x) = enc.poll_parity(Micros::ZERO, &mut out) {
                                black_box(x);
                            }
                        }
                    })
                });

                let packets = encode_group(scheme, &sent);
                for lost in losses {
                    let mut dec = new_decoder(scheme, 16).unwrap();
                    let mut rec = vec![0u8; MAX_DATA_PAYLOAD];
                    let mut group = 0u16;
                    g.bench_function(format!("{name}/decode_loss{lost}/{label}"), |b| {
                        b.iter(|| {
                            group = group.wrapping_add(1);
                            let mut n = 0;
                            for (parity, field, bytes) in &packets[lost..] {
                                let field = FecField { group, ..*field };
                                if *parity {
                                    dec.on_parity(Micros::ZERO, field, bytes).unwrap();
                                } else {
                                    let verdict = dec.on_data(Micros::ZERO, field, bytes).unwrap();
                                    assert_eq!(verdict, DataVerdict::Deliver);
                                }
                                while let Some(r) = dec.poll_recovered(&mut rec) {
                                    n += r.len;
                                }
                            }
                            assert!(n > 0);
                        })
                    });
                }
            }
        }
    }
    g.finish();
}

/// Shapes for the crate comparison: k = 2, 4, 8 with m = 1 and 3 on 100/200/300-byte shards,
/// plus the 10+3 block DESIGN.md quotes.
fn rs_shapes() -> Vec<(usize, usize, usize)> {
    let mut shapes = Vec::new();
    for size in SIZES {
        for k in KS {
            for m in [1, 3] {
                shapes.push((size, usize::from(k), m));
            }
        }
    }
    shapes.push((200, 10, 3));
    shapes
}

fn rs_crates(c: &mut Criterion) {
    let mut g = c.benchmark_group("rs_crate");
    for (size, k, m) in rs_shapes() {
        let label = format!("{size}B/k{k}m{m}");
        let data = payloads(k, size);

        // reed-solomon-erasure: matrices built once, in place on caller buffers.
        let rs = ReedSolomon::new(k, m).unwrap();
        let mut parity = vec![vec![0u8; size]; m];
        g.bench_function(format!("erasure/encode/{label}"), |b| {
            b.iter(|| rs.encode_sep(black_box(&data), &mut parity).unwrap())
        });
        rs.encode_sep(&data, &mut parity).unwrap();
        let mut shards: Vec<Vec<u8>> = data.iter().chain(&parity).cloned().collect();
        g.bench_function(format!("erasure/decode/{label}"), |b| {
            b.iter(|| {
                let mut view: Vec<(&mut [u8], bool)> = shards
                    .iter_mut()
                    .enumerate()
                    .map(|(i, s)| (s.as_mut_slice(), i >= m))
                    .collect();
                rs.reconstruct_data(&mut view).unwrap();
                black_box(&view[0]);
            })
        });
        assert_eq!(shards[..k], data[..]);

        // reed-solomon-simd: encoder/decoder kept and reset per block (its intended use).
        let mut enc = ReedSolomonEncoder::new(k, m, size).unwrap();
        g.bench_function(format!("simd/encode/{label}"), |b| {
            b.iter(|| {
                enc.reset(k, m, size).unwrap();
                for d in &data {
                    enc.add_original_shard(d).unwrap();
                }
                black_box(enc.encode().unwrap().recovery(0).unwrap()[0]);
            })
        });
        let recovery: Vec<Vec<u8>> = {
            enc.reset(k, m, size).unwrap();
            for d in &data {
                enc.add_original_shard(d).unwrap();
            }
            enc.encode()
                .unwrap()
                .recovery_iter()
                .map(<[u8]>::to_vec)
                .collect()
        };
        let mut dec = ReedSolomonDecoder::new(k, m, size).unwrap();
        g.bench_function(format!("simd/decode/{label}"), |b| {
            b.iter(|| {
                dec.reset(k, m, size).unwrap();
                for (i, d) in data.iter().enumerate().skip(m) {
                    dec.add_original_shard(i, d).unwrap();
                }
                for (i, r) in recovery.iter().enumerate() {
                    dec.add_recovery_shard(i, r).unwrap();
                }
                let result = dec.decode().unwrap();
                assert_eq!(result.restored_original(0).unwrap(), &data[0][..]);
            })
        });
        if (size, k, m) == (200, 10, 3) {
            // A decoder built per block, as a naive caller would: where ~250 µs comes from?
            g.bench_function(format!("simd/decode_new_decoder/{label}"), |b| {
                b.iter(|| {
                    let mut dec = ReedSolomonDecoder::new(k, m, size).unwrap();
                    for (i, d) in data.iter().enumerate().skip(m) {
                        dec.add_original_shard(i, d).unwrap();
                    }
                    for (i, r) in recovery.iter().enumerate() {
                        dec.add_recovery_shard(i, r).unwrap();
                    }
                    black_box(dec.decode().unwrap().restored_original(0).unwrap()[0]);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, codecs, rs_crates);
criterion_main!(benches);
