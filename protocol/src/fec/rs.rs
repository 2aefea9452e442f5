//! Reed-Solomon (k,m) over GF(2^8): any `k` of the `k + m` symbols rebuild the group, so up to
//! `m` losses in a group (a burst) are recovered.
//!
//! Built on `reed-solomon-erasure` (chosen by benchmark on game-sized groups, see
//! docs/decisions/0004-reed-solomon-crate.md). A group closed early by its deadline is coded
//! as a smaller (j,m) code, so one coder per possible size `1..=k` is built up front.
//!
//! Allocation: encoding allocates nothing. Reconstruction works in place on the decoder's
//! buffers; the crate keeps an LRU cache of inverted decode matrices per coder and allocates
//! only the first time it meets a loss pattern (a few hundred bytes), which is the rare path.
//! Each coder holds about 10 kB (mostly that cache's preallocated map), so `k` coders cost
//! about `k × 10` kB per encoder or decoder.

use reed_solomon_erasure::galois_8::ReedSolomon;

use super::FecError;
use super::group::ParityCode;

/// The (k,m) Reed-Solomon code, with one coder per group size.
pub(crate) struct RsCode {
    /// `coders[j - 1]` codes groups of `j` data packets.
    coders: Vec<ReedSolomon>,
}

impl RsCode {
    /// Builds the coders for group sizes `1..=k` with `m` parity each.
    ///
    /// # Errors
    /// [`FecError::InvalidParameters`] when the crate refuses the shape (zero `k` or `m`).
    pub(crate) fn new(k: u8, m: u8) -> Result<RsCode, FecError> {
        let coders = (1..=usize::from(k))
            .map(|j| ReedSolomon::new(j, usize::from(m)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| FecError::InvalidParameters { k, m })?;
        if coders.is_empty() {
            return Err(FecError::InvalidParameters { k, m });
        }
        Ok(RsCode { coders })
    }

    fn coder(&self, data_count: usize) -> Result<&ReedSolomon, FecError> {
        data_count
            .checked_sub(1)
            .and_then(|i| self.coders.get(i))
            .ok_or(FecError::Malformed)
    }
}

impl ParityCode for RsCode {
    fn encode(&mut self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError> {
        self.coder(data.len())?
            .encode_sep(data, parity)
            .map_err(|_| FecError::Malformed)
    }

    fn reconstruct(
        &mut self,
        data_count: usize,
        shards: &mut [(&mut [u8], bool)],
    ) -> Result<(), FecError> {
        self.coder(data_count)?
            .reconstruct_data(shards)
            .map_err(|_| FecError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_k_of_k_plus_m_symbols_rebuild_the_data() {
        let mut code = RsCode::new(3, 2).unwrap();
        let data: [&[u8]; 3] = [&[0, 1, 7, 0], &[0, 2, 8, 9], &[0, 0, 0, 0]];
        let mut p0 = [0u8; 4];
        let mut p1 = [0u8; 4];
        code.encode(&data, &mut [&mut p0[..], &mut p1[..]]).unwrap();
        for lost_a in 0..5 {
            for lost_b in lost_a + 1..5 {
                let mut bufs: Vec<Vec<u8>> = data.iter().map(|d| d.to_vec()).collect();
                bufs.push(p0.to_vec());
                bufs.push(p1.to_vec());
                bufs[lost_a].fill(0x55);
                bufs[lost_b].fill(0x55);
                let mut shards: Vec<(&mut [u8], bool)> = bufs
                    .iter_mut()
                    .enumerate()
                    .map(|(i, b)| (b.as_mut_slice(), i != lost_a && i != lost_b))
                    .collect();
                code.reconstruct(3, &mut shards).unwrap();
                for (i, d) in data.iter().enumerate() {
                    assert_eq!(&bufs[i][..], *d, "lost {lost_a},{lost_b}");
                }
            }
        }
    }

    #[test]
    fn a_smaller_group_uses_its_own_coder() {
        let mut code = RsCode::new(4, 1).unwrap();
        let data: [&[u8]; 2] = [&[0, 1, 5], &[0, 1, 6]];
        let mut p = [0u8; 3];
        code.encode(&data, &mut [&mut p[..]]).unwrap();
        let mut a = [0u8; 3];
        let mut b = [0, 1, 6];
        let mut shards = [(&mut a[..], false), (&mut b[..], true), (&mut p[..], true)];
        code.reconstruct(2, &mut shards).unwrap();
        assert_eq!(code.reconstruct(5, &mut shards), Err(FecError::Malformed));
        assert_eq!(code.reconstruct(0, &mut shards), Err(FecError::Malformed));
        assert_eq!(a, [0, 1, 5]);
    }

    #[test]
    fn too_few_shards_is_an_error_not_a_panic() {
        let mut code = RsCode::new(2, 1).unwrap();
        let mut a = [0u8; 3];
        let mut b = [0u8; 3];
        let mut p = [0u8; 3];
        let mut shards = [(&mut a[..], false), (&mut b[..], false), (&mut p[..], true)];
        assert_eq!(code.reconstruct(2, &mut shards), Err(FecError::Malformed));
    }
}
