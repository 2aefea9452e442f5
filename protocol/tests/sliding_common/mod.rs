//! Shared harness of the sliding-window code tests: an encoded packet stream and a receiver
//! that checks every delivered or recovered payload against the originals.

#![allow(dead_code, unreachable_pub)] // Each test binary uses part of it.

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::sliding::{SlidingDecoder, SlidingEncoder};
use lightspeed_protocol::fec::{
    DataVerdict, FecDecoder, FecEncoder, FecField, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Data or repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Data,
    Repair,
}

/// One packet on the wire, with the data step it was sent in.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub kind: Kind,
    pub field: FecField,
    pub bytes: Vec<u8>,
    pub step: usize,
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` random payloads with lengths in `lens`.
pub fn payloads(
    rng: &mut ChaCha8Rng,
    n: usize,
    lens: std::ops::RangeInclusive<usize>,
) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut p = vec![0u8; rng.random_range(lens.clone())];
            rng.fill(&mut p[..]);
            p
        })
        .collect()
}

/// Encodes `payloads` in order: each data packet followed by its repairs, at `now = step` ms.
pub fn encode(enc: &mut SlidingEncoder, payloads: &[Vec<u8>]) -> Vec<Pkt> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; MAX_PARITY_PAYLOAD];
    for (step, p) in payloads.iter().enumerate() {
        let now = Micros::from_millis(step as u64);
        let field = enc.on_data(now, p).expect("payload within limits");
        out.push(Pkt {
            kind: Kind::Data,
            field,
            bytes: p.clone(),
            step,
        });
        while let Some((field, len)) = enc.poll_parity(now, &mut buf) {
            out.push(Pkt {
                kind: Kind::Repair,
                field,
                bytes: buf[..len].to_vec(),
                step,
            });
        }
    }
    out
}

/// Receiver state: how and when each data index reached the application.
pub struct Receiver {
    pub dec: SlidingDecoder,
    /// Times each data index was handed to the application (must end ≤ 1).
    pub outputs: Vec<u32>,
    /// Step at which each recovered index was recovered.
    pub recovered_at: Vec<Option<usize>>,
    /// Highest step fed so far, to extend 16-bit ESIs back to data indices.
    max_step: usize,
    buf: Vec<u8>,
}

impl Receiver {
    pub fn new(window: u8, span: u8, n: usize) -> Receiver {
        Receiver {
            dec: SlidingDecoder::new(window, span).expect("valid parameters"),
            outputs: vec![0; n],
            recovered_at: vec![None; n],
            max_step: 0,
            buf: vec![0; MAX_DATA_PAYLOAD],
        }
    }

    fn index_of(&self, esi: u16) -> usize {
        self.max_step - usize::from((self.max_step as u16).wrapping_sub(esi))
    }

    /// Feeds one packet at `step` and drains recoveries, asserting every byte handed out.
    /// Decoder errors are returned (never expected for honest packets).
    pub fn feed(&mut self, pkt: &Pkt, step: usize, originals: &[Vec<u8>]) {
        self.max_step = self.max_step.max(pkt.step);
        let now = Micros::from_millis(step as u64);
        match pkt.kind {
            Kind::Data => {
                let v = self
                    .dec
                    .on_data(now, pkt.field, &pkt.bytes)
                    .expect("honest data");
                if v == DataVerdict::Deliver {
                    self.outputs[pkt.step] += 1;
                }
            }
            Kind::Repair => self
                .dec
                .on_parity(now, pkt.field, &pkt.bytes)
                .expect("honest repair"),
        }
        while let Some(r) = self.dec.poll_recovered(&mut self.buf) {
            let i = self.index_of(r.field.group);
            assert_eq!(r.field.index, 0);
            assert_eq!(
                &self.buf[..r.len],
                &originals[i][..],
                "wrong bytes recovered for {i}"
            );
            self.outputs[i] += 1;
            self.recovered_at[i] = Some(step);
        }
    }

    /// Asserts nothing was handed out twice; returns how many indices never were.
    pub fn missing(&self) -> usize {
        assert!(
            self.outputs.iter().all(|&n| n <= 1),
            "a packet was handed out twice"
        );
        self.outputs.iter().filter(|&&n| n == 0).count()
    }
}
