//! Helpers shared by the FEC integration tests: encode groups, feed packets to a decoder,
//! collect what it delivers and recovers (asserting nothing is delivered twice).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecDecoder, FecEncoder, FecError, FecField, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One packet on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub parity: bool,
    pub field: FecField,
    pub bytes: Vec<u8>,
}

/// `count` payloads of varied lengths (including empty and 300-byte ones) from `seed`.
pub fn payloads(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let len = match (seed as usize + i) % 5 {
                0 => 0,
                1 => 300,
                _ => rng.random_range(1..=300),
            };
            (0..len).map(|_| rng.random()).collect()
        })
        .collect()
}

/// Drains every parity due at `now`.
pub fn drain_parity(enc: &mut dyn FecEncoder, now: Micros, out: &mut Vec<Packet>) {
    let mut buf = vec![0u8; MAX_PARITY_PAYLOAD];
    while let Some((field, len)) = enc.poll_parity(now, &mut buf) {
        out.push(Packet {
            parity: true,
            field,
            bytes: buf[..len].to_vec(),
        });
    }
}

/// Sends `payloads` as one group at `now` (closing it at its deadline when it has fewer than
/// `k` packets) and returns the data packets then the parity packets.
pub fn encode_group(enc: &mut dyn FecEncoder, payloads: &[Vec<u8>], now: Micros) -> Vec<Packet> {
    let mut packets = Vec::new();
    let mut parity = Vec::new();
    for p in payloads {
        let field = enc.on_data(now, p).expect("payload within limits");
        packets.push(Packet {
            parity: false,
            field,
            bytes: p.clone(),
        });
        drain_parity(enc, now, &mut parity);
    }
    if let Some(deadline) = enc.next_deadline() {
        drain_parity(enc, deadline, &mut parity);
    }
    packets.extend(parity);
    packets
}

/// What a decoder handed to the game, by (group, index).
#[derive(Debug, Default)]
pub struct Delivered {
    pub packets: BTreeMap<(u16, u8), Vec<u8>>,
    pub recovered: usize,
    pub errors: usize,
    pub last_error: Option<(FecField, FecError)>,
}

impl Delivered {
    fn take(&mut self, key: (u16, u8), bytes: Vec<u8>) {
        let before = self.packets.insert(key, bytes);
        assert!(before.is_none(), "packet {key:?} delivered twice");
    }
}

/// Feeds `packets` in order, draining recovered packets after each, and records deliveries.
/// Decoder errors are counted, not fatal.
pub fn feed<'a>(
    dec: &mut dyn FecDecoder,
    packets: impl IntoIterator<Item = &'a Packet>,
    now: Micros,
    into: &mut Delivered,
) {
    let mut out = vec![0u8; MAX_DATA_PAYLOAD];
    for p in packets {
        if p.parity {
            if let Err(e) = dec.on_parity(now, p.field, &p.bytes) {
                into.errors += 1;
                into.last_error = Some((p.field, e));
            }
        } else {
            match dec.on_data(now, p.field, &p.bytes) {
                Ok(DataVerdict::Deliver) => {
                    into.take((p.field.group, p.field.index), p.bytes.clone())
                }
                Ok(DataVerdict::Duplicate) => {}
                Err(e) => {
                    into.errors += 1;
                    into.last_error = Some((p.field, e));
                }
            }
        }
        while let Some(r) = dec.poll_recovered(&mut out) {
            into.recovered += 1;
            into.take((r.field.group, r.field.index), out[..r.len].to_vec());
        }
    }
}

/// A deadline long enough that groups in these tests close on `k` or when told to.
pub const LONG: Duration = Duration::from_secs(1);
