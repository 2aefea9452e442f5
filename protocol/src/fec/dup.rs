//! Duplication: every data packet is its own group (k=1, m=1) and its parity is a copy of its
//! symbol. Doubles the bandwidth, adds no delay at all; the right code when loss is high and
//! packets are few and small.

use super::FecError;
use super::group::ParityCode;

/// The (1,1) copy code.
pub(crate) struct DupCode;

impl ParityCode for DupCode {
    fn encode(&mut self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError> {
        let ([symbol], [out]) = (data, parity) else {
            return Err(FecError::Malformed);
        };
        if out.len() != symbol.len() {
            return Err(FecError::Malformed);
        }
        out.copy_from_slice(symbol);
        Ok(())
    }

    fn reconstruct(
        &mut self,
        data_count: usize,
        shards: &mut [(&mut [u8], bool)],
    ) -> Result<(), FecError> {
        let (1, [(data, false), (copy, true)]) = (data_count, shards) else {
            return Err(FecError::Malformed);
        };
        if data.len() != copy.len() {
            return Err(FecError::Malformed);
        }
        data.copy_from_slice(copy);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_is_a_copy_and_restores_the_packet() {
        let symbol = [0u8, 3, 7, 8, 9];
        let mut p = [0u8; 5];
        DupCode.encode(&[&symbol], &mut [&mut p[..]]).unwrap();
        assert_eq!(p, symbol);
        let mut lost = [0u8; 5];
        let mut shards = [(&mut lost[..], false), (&mut p[..], true)];
        DupCode.reconstruct(1, &mut shards).unwrap();
        assert_eq!(lost, symbol);
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let mut a = [0u8; 2];
        let mut b = [0u8; 2];
        assert_eq!(
            DupCode.encode(&[&[0, 0], &[0, 0]], &mut [&mut a[..]]),
            Err(FecError::Malformed)
        );
        let mut shards = [(&mut a[..], false), (&mut b[..], false)];
        assert_eq!(
            DupCode.reconstruct(1, &mut shards),
            Err(FecError::Malformed)
        );
    }
}
