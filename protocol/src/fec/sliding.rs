//! Sliding-window random linear code over GF(2^8), in the spirit of RFC 8681 (Sliding Window
//! Random Linear Codes, RLC).
//!
//! # Why
//! Block codes must wait for a group to fill before their parity helps; at 30–128 packets/s a
//! lost packet of an RS(2,2) group is recovered one to two packet gaps late and 5 % iid loss
//! still leaves ~3·10⁻⁴ residual loss per direction. Here every data packet is followed at once
//! by a repair packet over the last `W` data packets, so a single loss is recovered by the repair
//! sent right behind it, at about the instant the packet itself would have arrived, and the
//! decoder keeps every unsolved equation until the window has slid `span` packets past it, so
//! clustered losses are still recovered a few packets later instead of being given up.
//!
//! # Symbols and the code
//! Data packet number `i` (its *encoding symbol id*, ESI, a `u16` that wraps) enters the code
//! as symbol `s_i`: its length as a big-endian `u16`, its payload, zero-padded as needed. After
//! data packet `n` the encoder sends `m` repair packets `r = 0..m`, each over the window
//! `n-k+1 ..= n`, `k = min(W, packets so far)`:
//!
//! ```text
//! repair(n, r) = Σ_{d=0}^{k-1} c(n, r, d) · s_{n-d}      (GF(2^8), bytewise)
//! ```
//!
//! padded to the longest symbol of the window and to at least 3 bytes (the header's minimum
//! parity payload). The coefficients come from [`coefficient`]: a fixed integer hash of
//! `(n, r, d)` mapped onto the 255 *non-zero* field elements, so the receiver recomputes them
//! from the header alone and a repair with one unknown symbol always solves it.
//!
//! # Header fields
//! - Data: `group` = ESI, `index` = 0, `k` = `W`, `m` = repairs per step.
//! - Repair: `group` = ESI of the newest symbol in its window (`n`), `k` = the window's actual
//!   length, `m` = repairs per step, `index` = `k + r`.
//!
//! With `interval > 1` the encoder sends its `m` repairs only after every `interval`-th data
//! packet (overhead `m / interval`); the repair format is unchanged, so the decoder needs no
//! knowledge of it. `W ≥ interval` keeps every data packet covered.
//!
//! # Decoding
//! The decoder tracks the last `span` ESIs (each known or unknown) and a bounded set of repair
//! equations over the unknown ones, kept in reduced row echelon form (RREF) as packets arrive:
//! known symbols are eliminated from an equation the moment they are known; a new equation is
//! reduced by the existing rows' pivots, normalised on its oldest remaining unknown and that
//! unknown is eliminated from the other rows. In RREF an unknown is determined exactly when its
//! row has no other non-zero coefficient, so after every change the solved rows are read off,
//! checked (length prefix within bounds and zero padding, else
//! [`FecError::Malformed`](super::FecError::Malformed)) and queued for
//! [`FecDecoder::poll_recovered`](super::FecDecoder::poll_recovered). Solving a row never
//! touches another row (its column is already zero elsewhere), so one pass suffices. A
//! repair's payload bytes are only touched when it covers an unknown symbol.
//! ESIs are extended to 64 bits around the newest one seen (serial-number arithmetic), so the
//! `u16` wrap is invisible. When the window slides, an unknown ESI older than `newest - span`
//! is given up and every equation that still involves it is dropped.
//!
//! # Measured (tests/fec_sliding_stats.rs, seeded iid loss on data and repairs alike)
//! | W | repairs/interval | loss | residual | recovered ≥ 2 packets late | max delay |
//! |---|---|---|---|---|---|
//! | 4 | 1/1 (100 %) | 5 % | 0 in 200,000 | 0.64 % | 4 packets |
//! | 2 | 1/1 (100 %) | 5 % | 1.0·10⁻⁴ | 0.20 % | 2 |
//! | 8 | 1/1 (100 %) | 5 % | 0 in 100,000 | 0.86 % | 4 |
//! | 4 | 1/1 (100 %) | 10 % | 1.0·10⁻⁵ | 2.2 % | 5 |
//! | 4 | 1/2 (50 %) | 1 % | 0 in 100,000 | 1.3 % | 5 |
//!
//! Everything else is recovered by its own repair or by the next packet's.
//!
//! # Cost and memory
//! A repair whose symbols are all known already (the loss-free case) costs no byte work at the
//! decoder. Encoding costs `k` multiply-adds of a symbol per repair. The decoder allocates once:
//! `span × (1,402 + span + 17)` bytes for equations plus `span × (1,402 + 25)` for symbols
//! (1,402 = [`MAX_PARITY_PAYLOAD`](super::MAX_PARITY_PAYLOAD)), about 92 KB for the default
//! span of 32; the encoder `W × 1,402` bytes (≈ 5.6 KB for `W = 4`). Measured cost per packet
//! (benches/fec_sliding.rs, 300-byte payloads, this 2-core machine): encode 0.4 / 0.8 / 1.5 µs
//! for `W` = 2 / 4 / 8, decode 0.1 µs without loss and 0.2–0.3 µs with one loss in ten.
//!
//! Layout: `sliding/encoder.rs` (sender), `sliding/decoder.rs` (receiver: ESI window, symbol
//! ring, recovered queue), `sliding/system.rs` (the RREF equation store).

mod decoder;
mod encoder;
mod system;

pub use decoder::{DEFAULT_SPAN, MAX_SPAN, SlidingDecoder, SlidingStats, buffer_bytes};
pub use encoder::SlidingEncoder;

/// Smallest repair payload: the data-plane header refuses parity payloads under 3 bytes.
pub const MIN_REPAIR_LEN: usize = 3;

/// The coefficient of symbol `newest - distance` in repair `repair` of the window ending at
/// ESI `newest`; never zero.
///
/// The 32-bit word `newest | repair << 16 | distance << 24` goes through the `lowbias32`
/// integer hash (xor-shift / multiply rounds by 0x7feb352d and 0x846ca68b, Chris Wellons), and
/// the result is mapped onto `1..=255` as `1 + h mod 255`. Any fixed mixing function works, as
/// long as both ends use the same one; it only has to make coefficients of different repairs
/// look independent so that a few repairs over overlapping windows are almost always linearly
/// independent (failure ≈ 1/255 per extra unknown).
pub fn coefficient(newest: u16, repair: u8, distance: u8) -> u8 {
    let mut x = u32::from(newest) | (u32::from(repair) << 16) | (u32::from(distance) << 24);
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    1 + (x % 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_are_non_zero_and_spread() {
        let mut counts = [0u32; 256];
        for newest in 0..=u16::MAX {
            for d in 0..15 {
                counts[usize::from(coefficient(newest, 0, d))] += 1;
            }
        }
        assert_eq!(counts[0], 0);
        let expected = 65_536.0 * 15.0 / 255.0;
        for (c, &n) in counts.iter().enumerate().skip(1) {
            let dev = (f64::from(n) - expected).abs() / expected;
            assert!(dev < 0.05, "coefficient {c} appears {n} times");
        }
    }

    #[test]
    fn coefficients_depend_on_every_input() {
        assert_ne!(coefficient(10, 0, 1), coefficient(11, 0, 1));
        assert_ne!(coefficient(10, 0, 1), coefficient(10, 1, 1));
        assert_ne!(coefficient(10, 0, 1), coefficient(10, 0, 2));
        // Pinned so that a change of the function (a wire-format change) fails loudly.
        assert_eq!(
            [
                coefficient(0, 0, 0),
                coefficient(1, 0, 0),
                coefficient(0xffff, 14, 14)
            ],
            PINNED
        );
    }

    const PINNED: [u8; 3] = [1, 68, 145];
}
