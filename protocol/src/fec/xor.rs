//! XOR parity (k,1): the parity symbol is the XOR of the group's symbols, so any one lost data
//! packet is the XOR of the parity and the others. Cheapest code there is: one pass over the
//! group's bytes to encode, one to recover.

use super::FecError;
use super::group::ParityCode;

/// The (k,1) XOR code.
pub(crate) struct XorCode;

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

impl ParityCode for XorCode {
    fn encode(&mut self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError> {
        let [out] = parity else {
            return Err(FecError::Malformed);
        };
        out.fill(0);
        for symbol in data {
            xor_into(out, symbol);
        }
        Ok(())
    }

    fn reconstruct(
        &mut self,
        data_count: usize,
        shards: &mut [(&mut [u8], bool)],
    ) -> Result<(), FecError> {
        let mut missing = shards
            .iter()
            .take(data_count)
            .enumerate()
            .filter(|(_, (_, here))| !here)
            .map(|(i, _)| i);
        let (Some(lost), None) = (missing.next(), missing.next()) else {
            // Nothing or more than one data packet missing: no work, or beyond a (k,1) code.
            return Err(FecError::Malformed);
        };
        let (before, rest) = shards.split_at_mut(lost);
        let Some(((target, _), after)) = rest.split_first_mut() else {
            return Err(FecError::Malformed);
        };
        let Some((others_after, parity)) = after.split_at_checked(data_count - lost - 1) else {
            return Err(FecError::Malformed);
        };
        let Some((parity, true)) = parity.first() else {
            return Err(FecError::Malformed);
        };
        if target.len() != parity.len() {
            return Err(FecError::Malformed);
        }
        target.copy_from_slice(parity);
        for (symbol, _) in before.iter().chain(others_after) {
            xor_into(target, symbol);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_is_the_xor_and_rebuilds_any_one_symbol() {
        let data: [&[u8]; 3] = [&[1, 2, 3, 0], &[4, 5, 0, 0], &[0xf0, 0, 0, 9]];
        let mut p = [0u8; 4];
        XorCode.encode(&data, &mut [&mut p[..]]).unwrap();
        assert_eq!(p, [1 ^ 4 ^ 0xf0, 2 ^ 5, 3, 9]);
        for lost in 0..3 {
            let mut bufs: Vec<Vec<u8>> = data.iter().map(|d| d.to_vec()).collect();
            bufs[lost].fill(0xaa);
            bufs.push(p.to_vec());
            let mut shards: Vec<(&mut [u8], bool)> = bufs
                .iter_mut()
                .enumerate()
                .map(|(i, b)| (b.as_mut_slice(), i != lost))
                .collect();
            XorCode.reconstruct(3, &mut shards).unwrap();
            assert_eq!(bufs[lost], data[lost]);
        }
    }

    #[test]
    fn two_losses_or_missing_parity_are_refused() {
        let mut a = [0u8; 2];
        let mut b = [0u8; 2];
        let mut p = [0u8; 2];
        let mut shards = [(&mut a[..], false), (&mut b[..], false), (&mut p[..], true)];
        assert_eq!(
            XorCode.reconstruct(2, &mut shards),
            Err(FecError::Malformed)
        );
        let mut shards = [(&mut a[..], true), (&mut b[..], false), (&mut p[..], false)];
        assert_eq!(
            XorCode.reconstruct(2, &mut shards),
            Err(FecError::Malformed)
        );
    }
}
