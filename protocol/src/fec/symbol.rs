//! The symbol layout shared by every codec, and the preallocated buffers symbols live in.
//!
//! A symbol is a data payload's length as a big-endian `u16`, then the payload, then zeros up
//! to the group's width (its longest symbol). The prefix is what makes a recovered packet
//! byte-exact, and the zero padding is a free consistency check: a symbol rebuilt from corrupt
//! parity rarely has both a possible prefix and an all-zero tail.

use super::{FecError, MAX_DATA_PAYLOAD, MAX_PARITY_PAYLOAD};

/// Bytes of the length prefix.
pub(crate) const PREFIX: usize = 2;

/// Bytes reserved per symbol buffer: the longest possible symbol.
pub(crate) const STRIDE: usize = MAX_PARITY_PAYLOAD;

/// Reads the payload out of a (possibly padded) symbol.
///
/// # Errors
/// [`FecError::Malformed`] when the prefix claims more bytes than the symbol holds or than
/// [`MAX_DATA_PAYLOAD`], or when the padding after the payload is not all zeros.
pub(crate) fn read_symbol(symbol: &[u8]) -> Result<&[u8], FecError> {
    let (prefix, rest) = symbol
        .split_first_chunk::<PREFIX>()
        .ok_or(FecError::Malformed)?;
    let len = usize::from(u16::from_be_bytes(*prefix));
    if len > MAX_DATA_PAYLOAD {
        return Err(FecError::Malformed);
    }
    let (payload, padding) = rest.split_at_checked(len).ok_or(FecError::Malformed)?;
    if padding.iter().any(|&b| b != 0) {
        return Err(FecError::Malformed);
    }
    Ok(payload)
}

/// A fixed number of symbol buffers of [`STRIDE`] bytes each, allocated once.
///
/// Invariant: every byte of a buffer past its `dirty` mark is zero, so any prefix of a buffer
/// up to a group's width is the symbol already zero-padded, without a padding pass per group.
pub(crate) struct SymbolStore {
    buf: Vec<u8>,
    /// Length of the symbol last stored in each buffer.
    lens: Vec<usize>,
    /// End of the possibly non-zero bytes of each buffer.
    dirty: Vec<usize>,
}

impl SymbolStore {
    /// Allocates `count` zeroed buffers.
    pub(crate) fn new(count: usize) -> SymbolStore {
        SymbolStore {
            buf: vec![0; count * STRIDE],
            lens: vec![0; count],
            dirty: vec![0; count],
        }
    }

    /// Stores `payload` as a symbol in buffer `i` and returns the symbol's length.
    ///
    /// # Errors
    /// [`FecError::PayloadTooLarge`] above [`MAX_DATA_PAYLOAD`]; [`FecError::Malformed`] for an
    /// index outside the store (a caller bug, reported rather than panicking).
    pub(crate) fn put_payload(&mut self, i: usize, payload: &[u8]) -> Result<usize, FecError> {
        if payload.len() > MAX_DATA_PAYLOAD {
            return Err(FecError::PayloadTooLarge { len: payload.len() });
        }
        let len = payload.len() + PREFIX;
        let chunk = self.begin_write(i, len)?;
        chunk[..PREFIX].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        chunk[PREFIX..len].copy_from_slice(payload);
        Ok(len)
    }

    /// Stores `bytes` verbatim (a parity symbol) in buffer `i`.
    ///
    /// # Errors
    /// [`FecError::PayloadTooLarge`] above [`STRIDE`]; [`FecError::Malformed`] for a bad index.
    pub(crate) fn put_raw(&mut self, i: usize, bytes: &[u8]) -> Result<(), FecError> {
        if bytes.len() > STRIDE {
            return Err(FecError::PayloadTooLarge { len: bytes.len() });
        }
        let chunk = self.begin_write(i, bytes.len())?;
        chunk[..bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Zeroes what the previous symbol left past `len` and records the new marks, returning the
    /// whole buffer for the caller to fill its first `len` bytes.
    fn begin_write(&mut self, i: usize, len: usize) -> Result<&mut [u8], FecError> {
        let (Some(l), Some(d)) = (self.lens.get_mut(i), self.dirty.get_mut(i)) else {
            return Err(FecError::Malformed);
        };
        let chunk = self
            .buf
            .get_mut(i * STRIDE..(i + 1) * STRIDE)
            .ok_or(FecError::Malformed)?;
        let len = len.min(STRIDE);
        if *d > len {
            chunk[len..*d].fill(0);
        }
        *l = len;
        *d = len;
        Ok(chunk)
    }

    /// Records that a codec wrote `width` bytes into buffer `i` (a rebuilt or computed symbol).
    pub(crate) fn mark_written(&mut self, i: usize, width: usize) {
        if let (Some(l), Some(d)) = (self.lens.get_mut(i), self.dirty.get_mut(i)) {
            *l = width.min(STRIDE);
            *d = (*d).max(*l);
        }
    }

    /// Length of the symbol stored in buffer `i` (0 when out of range).
    pub(crate) fn len(&self, i: usize) -> usize {
        self.lens.get(i).copied().unwrap_or(0)
    }

    /// The first `width` bytes of buffer `i`: the stored symbol zero-padded to `width`.
    pub(crate) fn padded(&self, i: usize, width: usize) -> &[u8] {
        let start = i * STRIDE;
        self.buf
            .get(start..start + width.min(STRIDE))
            .unwrap_or_default()
    }

    /// Every buffer cut to `width` bytes, in order, for a codec to read or write.
    pub(crate) fn views_mut(&mut self, width: usize) -> impl Iterator<Item = &mut [u8]> {
        let width = width.min(STRIDE);
        self.buf
            .chunks_exact_mut(STRIDE)
            .map(move |chunk| &mut chunk[..width])
    }

    /// Every buffer cut to `width` bytes, read-only.
    pub(crate) fn views(&self, width: usize) -> impl Iterator<Item = &[u8]> {
        let width = width.min(STRIDE);
        self.buf
            .chunks_exact(STRIDE)
            .map(move |chunk| &chunk[..width])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_round_trips_with_padding() {
        let mut store = SymbolStore::new(2);
        assert_eq!(store.put_payload(1, b"abc").unwrap(), 5);
        assert_eq!(store.padded(1, 8), &[0, 3, b'a', b'b', b'c', 0, 0, 0]);
        assert_eq!(read_symbol(store.padded(1, 8)).unwrap(), b"abc");
        assert_eq!(store.len(1), 5);
    }

    #[test]
    fn shorter_symbol_clears_the_previous_tail() {
        let mut store = SymbolStore::new(1);
        store.put_payload(0, &[0xff; 100]).unwrap();
        store.put_payload(0, &[7]).unwrap();
        assert_eq!(store.padded(0, 102)[..3], [0, 1, 7]);
        assert!(store.padded(0, 102)[3..].iter().all(|&b| b == 0));
    }

    #[test]
    fn empty_payload_is_a_two_byte_symbol() {
        let mut store = SymbolStore::new(1);
        assert_eq!(store.put_payload(0, &[]).unwrap(), 2);
        assert_eq!(read_symbol(store.padded(0, 2)).unwrap(), b"");
    }

    #[test]
    fn impossible_prefixes_are_malformed() {
        assert_eq!(read_symbol(&[]), Err(FecError::Malformed));
        assert_eq!(read_symbol(&[0]), Err(FecError::Malformed));
        assert_eq!(read_symbol(&[0, 4, 1, 2, 3]), Err(FecError::Malformed));
        assert_eq!(read_symbol(&[0xff, 0xff, 1]), Err(FecError::Malformed));
        assert_eq!(read_symbol(&[0, 1, 9, 0, 5]), Err(FecError::Malformed));
        let mut big = vec![0u8; MAX_PARITY_PAYLOAD + 10];
        big[..2].copy_from_slice(&((MAX_DATA_PAYLOAD + 1) as u16).to_be_bytes());
        assert_eq!(read_symbol(&big), Err(FecError::Malformed));
    }

    #[test]
    fn oversized_payloads_and_bad_indices_are_errors() {
        let mut store = SymbolStore::new(1);
        assert_eq!(
            store.put_payload(0, &[0; MAX_DATA_PAYLOAD + 1]),
            Err(FecError::PayloadTooLarge {
                len: MAX_DATA_PAYLOAD + 1
            })
        );
        assert_eq!(store.put_payload(1, b"x"), Err(FecError::Malformed));
        assert_eq!(
            store.put_raw(0, &[0; STRIDE + 1]).unwrap_err(),
            FecError::PayloadTooLarge { len: STRIDE + 1 }
        );
        assert_eq!(store.padded(5, 10), b"");
    }
}
