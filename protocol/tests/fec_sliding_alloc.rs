//! The sliding-window codec allocates nothing per packet once built.

mod sliding_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lightspeed_protocol::Micros;
use lightspeed_protocol::fec::sliding::{SlidingDecoder, SlidingEncoder};
use lightspeed_protocol::fec::{FecDecoder, FecEncoder, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD};
use rand::Rng;
use sliding_common::{payloads, rng};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code)] // A counting global allocator needs `unsafe impl`; it only delegates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn encode_and_decode_under_loss_allocate_nothing() {
    let mut r = rng(9);
    let data = payloads(&mut r, 2_000, 0..=MAX_DATA_PAYLOAD);
    let lose: Vec<bool> = (0..2 * data.len())
        .map(|_| r.random::<f64>() < 0.1)
        .collect();
    let mut enc = SlidingEncoder::new(8, 2, 1).unwrap();
    let mut dec = SlidingDecoder::new(8, 32).unwrap();
    let mut parity = vec![0u8; MAX_PARITY_PAYLOAD];
    let mut out = vec![0u8; MAX_DATA_PAYLOAD];
    let mut recovered = 0;
    let before = allocs();
    for (i, p) in data.iter().enumerate() {
        let now = Micros(i as u64 * 8_000);
        let field = enc.on_data(now, p).unwrap();
        if !lose[2 * i] {
            let _ = dec.on_data(now, field, p).unwrap();
        }
        while let Some((f, len)) = enc.poll_parity(now, &mut parity) {
            if !lose[2 * i + 1] {
                dec.on_parity(now, f, &parity[..len]).unwrap();
            }
        }
        while dec.poll_recovered(&mut out).is_some() {
            recovered += 1;
        }
    }
    assert_eq!(allocs() - before, 0);
    assert!(recovered > 150, "only {recovered} recovered");
}
