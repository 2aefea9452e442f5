//! Arithmetic in GF(2^8) for the sliding-window code.
//!
//! The field is `GF(2)[x] / (x^8 + x^4 + x^3 + x^2 + 1)`, polynomial `0x11d`, the one
//! Reed-Solomon codecs use; its generator is `x` (`2`). Addition is XOR. Multiplication goes
//! through log/exp tables built at compile time, and [`mul_add_slice`], the hot loop of both
//! encoder and decoder, reads one 256-byte row of a full 64 KiB product table so the inner loop
//! is a single lookup and XOR per byte with no branches and no bounds checks.

/// The reduction polynomial, x^8 + x^4 + x^3 + x^2 + 1.
pub const POLY: u16 = 0x11d;

/// `EXP[i] = 2^i`, doubled in length so `EXP[log a + log b]` needs no reduction mod 255.
const EXP: [u8; 512] = build_exp();
/// `LOG[a] = i` with `2^i = a`; `LOG[0]` is unused.
const LOG: [u8; 256] = build_log();
/// `MUL[a][b] = a·b`. 64 KiB, read one row per [`mul_add_slice`] call.
static MUL: [[u8; 256]; 256] = build_mul();

const fn build_exp() -> [u8; 512] {
    let mut exp = [0u8; 512];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    // Indices 510 and 511 are never read (log a + log b ≤ 508) but keep them consistent.
    exp[510] = exp[0];
    exp[511] = exp[1];
    exp
}

const fn build_log() -> [u8; 256] {
    let exp = build_exp();
    let mut log = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        log[exp[i] as usize] = i as u8;
        i += 1;
    }
    log
}

const fn build_mul() -> [[u8; 256]; 256] {
    let mut table = [[0u8; 256]; 256];
    let mut a = 1;
    while a < 256 {
        let mut b = 1;
        while b < 256 {
            table[a][b] = EXP[LOG[a] as usize + LOG[b] as usize];
            b += 1;
        }
        a += 1;
    }
    table
}

/// `a · b`.
#[inline]
pub fn mul(a: u8, b: u8) -> u8 {
    MUL[usize::from(a)][usize::from(b)]
}

/// The multiplicative inverse of `a`, or `None` for zero.
#[inline]
pub fn inv(a: u8) -> Option<u8> {
    (a != 0).then(|| EXP[255 - usize::from(LOG[usize::from(a)])])
}

/// `a / b`, or `None` when `b` is zero.
#[inline]
pub fn div(a: u8, b: u8) -> Option<u8> {
    inv(b).map(|ib| mul(a, ib))
}

/// `dst[i] ^= c · src[i]` over the common length of both slices.
///
/// `c == 0` is a no-op and `c == 1` a plain XOR, both common in elimination.
pub fn mul_add_slice(dst: &mut [u8], src: &[u8], c: u8) {
    match c {
        0 => {}
        1 => dst.iter_mut().zip(src).for_each(|(d, s)| *d ^= s),
        _ => {
            let row = &MUL[usize::from(c)];
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, s)| *d ^= row[usize::from(*s)]);
        }
    }
}

/// `buf[i] = c · buf[i]`.
pub fn scale_slice(buf: &mut [u8], c: u8) {
    if c != 1 {
        let row = &MUL[usize::from(c)];
        buf.iter_mut().for_each(|b| *b = row[usize::from(*b)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Carry-less multiply reduced by [`POLY`], the definition the tables must match.
    fn slow_mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            let carry = a & 0x80 != 0;
            a <<= 1;
            if carry {
                a ^= (POLY & 0xff) as u8;
            }
            b >>= 1;
        }
        p
    }

    #[test]
    fn tables_match_the_definition_for_all_pairs() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b), "{a}·{b}");
            }
        }
    }

    #[test]
    fn two_generates_the_multiplicative_group() {
        let mut seen = [false; 256];
        for &e in &EXP[..255] {
            assert!(!seen[usize::from(e)], "2 has order < 255");
            seen[usize::from(e)] = true;
        }
        assert!(!seen[0]);
        assert_eq!(seen.iter().filter(|&&s| s).count(), 255);
    }

    #[test]
    fn field_axioms_hold_exhaustively() {
        for a in 0..=255u8 {
            assert_eq!(mul(a, 0), 0);
            assert_eq!(mul(a, 1), a);
            match inv(a) {
                None => assert_eq!(a, 0),
                Some(ia) => assert_eq!(mul(a, ia), 1, "inverse of {a}"),
            }
            for b in 0..=255u8 {
                let ab = mul(a, b);
                assert_eq!(ab, mul(b, a), "commutativity {a} {b}");
                match div(ab, b) {
                    None => assert_eq!(b, 0),
                    Some(q) => assert_eq!(q, a, "({a}·{b})/{b}"),
                }
            }
        }
        assert_eq!(div(7, 0), None);
    }

    #[test]
    fn associativity_and_distributivity_on_a_grid() {
        // Full 2^24 triples is too slow for a debug unit test; a dense stride covers every
        // log-table path (zero, one, the wrap at 255) many times over.
        for a in (0..=255u8).step_by(3) {
            for b in (0..=255u8).step_by(5) {
                for c in (0..=255u8).step_by(7) {
                    assert_eq!(mul(mul(a, b), c), mul(a, mul(b, c)));
                    assert_eq!(mul(a, b ^ c), mul(a, b) ^ mul(a, c));
                }
            }
        }
    }

    #[test]
    fn mul_add_slice_matches_scalar_and_stops_at_the_shorter_slice() {
        let src: Vec<u8> = (0..=255).collect();
        for c in [0u8, 1, 2, 0x53, 0xff] {
            let mut dst: Vec<u8> = (0..300u16).map(|i| (i * 7) as u8).collect();
            let before = dst.clone();
            mul_add_slice(&mut dst, &src, c);
            for i in 0..256 {
                assert_eq!(dst[i], before[i] ^ mul(c, src[i]));
            }
            assert_eq!(dst[256..], before[256..]);
        }
    }

    #[test]
    fn scale_then_unscale_is_identity() {
        let orig: Vec<u8> = (0..=255).collect();
        for c in 1..=255u8 {
            let mut buf = orig.clone();
            scale_slice(&mut buf, c);
            scale_slice(&mut buf, inv(c).unwrap_or(0));
            assert_eq!(buf, orig);
        }
    }
}
