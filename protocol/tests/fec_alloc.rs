//! No allocation per packet: after construction (and, for Reed-Solomon, after the decoder has
//! met each loss pattern once — the crate caches inverted matrices), encoding, decoding and
//! recovering allocate nothing. Measured with a counting global allocator, per thread.

// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::{
    DataVerdict, FecDecoder, FecEncoder, FecScheme, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD,
    decoder_buffer_bytes, new_decoder, new_encoder,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// Live bytes allocated by this thread (wrapping: frees of other threads' memory).
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get().wrapping_add(layout.size())));
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = BYTES.try_with(|c| c.set(c.get().wrapping_sub(layout.size())));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

/// Buffers for a run, allocated before measuring.
struct Bench {
    enc: Box<dyn FecEncoder>,
    dec: Box<dyn FecDecoder>,
    payloads: Vec<Vec<u8>>,
    parity: Vec<u8>,
    out: Vec<u8>,
    k: usize,
    m: usize,
    now: u64,
}

impl Bench {
    fn new(scheme: FecScheme) -> Bench {
        let (k, m) = scheme.shape().unwrap().unwrap();
        Bench {
            enc: new_encoder(scheme, Duration::from_millis(50)).unwrap(),
            dec: new_decoder(scheme, 16).unwrap(),
            payloads: (0..k)
                .map(|i| vec![i + 1; 60 + 40 * usize::from(i)])
                .collect(),
            parity: vec![0; MAX_PARITY_PAYLOAD],
            out: vec![0; MAX_DATA_PAYLOAD],
            k: usize::from(k),
            m: usize::from(m),
            now: 0,
        }
    }

    /// Sends one group of `size` packets losing the positions in `lost` (a bit mask over data
    /// then parity); returns how many packets were recovered, checking their bytes.
    fn group(&mut self, size: usize, lost: u32) -> usize {
        let mut recovered = 0;
        let mut parity_no = 0;
        for i in 0..size {
            self.now += 1_000;
            let payload = &self.payloads[i];
            let field = self.enc.on_data(Micros(self.now), payload).unwrap();
            if lost & (1 << i) == 0 {
                assert_eq!(
                    self.dec.on_data(Micros(self.now), field, payload),
                    Ok(DataVerdict::Deliver)
                );
            }
            recovered += self.drain(Micros(self.now), size, lost, &mut parity_no);
        }
        if let Some(t) = self.enc.next_deadline() {
            recovered += self.drain(t, size, lost, &mut parity_no);
            self.now = self.now.max(t.0);
        }
        assert_eq!(parity_no, self.m);
        recovered
    }

    fn drain(&mut self, now: Micros, size: usize, lost: u32, parity_no: &mut usize) -> usize {
        let mut recovered = 0;
        while let Some((field, len)) = self.enc.poll_parity(now, &mut self.parity) {
            if lost & (1 << (size + *parity_no)) == 0 {
                self.dec.on_parity(now, field, &self.parity[..len]).unwrap();
            }
            *parity_no += 1;
            while let Some(r) = self.dec.poll_recovered(&mut self.out) {
                assert_eq!(
                    &self.out[..r.len],
                    &self.payloads[usize::from(r.field.index)][..]
                );
                recovered += 1;
            }
        }
        recovered
    }

    /// Every group size and every loss mask within capability, once.
    fn cycle(&mut self) -> usize {
        let mut recovered = 0;
        for size in 1..=self.k {
            for lost in 0u32..1 << (size + self.m) {
                if lost.count_ones() as usize <= self.m {
                    recovered += self.group(size, lost);
                }
            }
        }
        recovered
    }
}

#[test]
fn steady_state_coding_allocates_nothing() {
    for scheme in [
        FecScheme::Xor { k: 4 },
        FecScheme::ReedSolomon { k: 4, m: 2 },
        FecScheme::ReedSolomon { k: 6, m: 3 },
        FecScheme::Duplicate,
    ] {
        let at_start = allocs();
        let mut bench = Bench::new(scheme);
        // The counter works: construction is where the memory comes from.
        assert!(allocs() > at_start);
        let warm = bench.cycle();
        let before = allocs();
        let recovered = bench.cycle() + bench.cycle();
        let after = allocs();
        assert_eq!(recovered, 2 * warm, "{scheme:?}");
        assert!(recovered > 0);
        assert_eq!(
            after - before,
            0,
            "{scheme:?}: allocations on the packet path"
        );
    }
}

#[test]
fn construction_allocates_the_documented_memory() {
    for (scheme, slots) in [
        (FecScheme::Xor { k: 4 }, 16),
        (FecScheme::ReedSolomon { k: 4, m: 2 }, 16),
        (FecScheme::ReedSolomon { k: 8, m: 3 }, 32),
        (FecScheme::Duplicate, 8),
    ] {
        let (k, m) = scheme.shape().unwrap().unwrap();
        let before = BYTES.with(Cell::get);
        let dec = new_decoder(scheme, slots).unwrap();
        let dec_bytes = BYTES.with(Cell::get).wrapping_sub(before);
        let before = BYTES.with(Cell::get);
        let enc = new_encoder(scheme, Duration::from_millis(1)).unwrap();
        let enc_bytes = BYTES.with(Cell::get).wrapping_sub(before);
        drop((dec, enc));
        let buffers = decoder_buffer_bytes(scheme, slots);
        // Reed-Solomon adds one coder per group size, ~10 kB each (the crate's matrix cache).
        // Live bytes after construction, so temporaries of matrix building do not count.
        let coders = if matches!(scheme, FecScheme::ReedSolomon { .. }) {
            usize::from(k) * 11_000
        } else {
            0
        };
        let symbols = (usize::from(k) + usize::from(m)) * MAX_PARITY_PAYLOAD;
        println!(
            "{scheme:?} slots={slots}: decoder {dec_bytes} B (buffers {buffers} B), encoder {enc_bytes} B"
        );
        assert!(dec_bytes >= buffers, "{scheme:?}");
        assert!(
            dec_bytes <= buffers + coders + 256 * slots + 1_024,
            "{scheme:?}: {dec_bytes}"
        );
        assert!(enc_bytes >= symbols, "{scheme:?}");
        assert!(
            enc_bytes <= symbols + coders + 1_024,
            "{scheme:?}: {enc_bytes}"
        );
    }
}
