//! Header encode+MAC and decode+verify on game-sized payloads.
//!
//! Run: `cargo bench -p lightspeed-protocol --bench header`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lightspeed_protocol::fec::FecField;
use lightspeed_protocol::header::{self, HEADER_LEN, Header, MAX_PACKET_LEN, PacketType};
use lightspeed_protocol::replay::ReplayWindow;
use lightspeed_protocol::{SessionId, SessionKey};
use std::hint::black_box;

fn header() -> Header {
    Header {
        packet_type: PacketType::Data,
        path: 0,
        session: SessionId(0x1234_5678),
        seq: 1,
        timestamp: 99,
        fec: FecField {
            group: 3,
            index: 1,
            k: 4,
            m: 1,
        },
    }
}

fn bench(c: &mut Criterion) {
    let key = SessionKey([9; 32]);
    let mut group = c.benchmark_group("header");
    for size in [100usize, 200, 300, 1200] {
        group.throughput(Throughput::Elements(1));
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        buf[HEADER_LEN..HEADER_LEN + size].fill(0xab);
        group.bench_with_input(
            BenchmarkId::new("seal_in_place", size),
            &size,
            |b, &size| {
                let h = header();
                b.iter(|| header::seal_in_place(black_box(&h), &key, &mut buf, size).unwrap())
            },
        );
        let n = header::seal_in_place(&header(), &key, &mut buf, size).unwrap();
        let packet = buf[..n].to_vec();
        group.bench_with_input(BenchmarkId::new("parse_verify", size), &size, |b, _| {
            b.iter(|| {
                header::parse(black_box(&packet))
                    .unwrap()
                    .verify(&key)
                    .unwrap()
                    .payload
                    .len()
            })
        });
    }
    group.bench_function("replay_accept_in_order", |b| {
        let mut w = ReplayWindow::new();
        let mut seq = 0u32;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            w.accept(black_box(seq)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
