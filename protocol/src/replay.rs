//! Anti-replay window for data-plane sequence numbers, after RFC 6479: a ring of 64-bit blocks
//! where moving the window forward clears whole blocks instead of shifting bits, so accepting a
//! packet costs O(1) however far the window jumps.
//!
//! The header carries 32-bit sequence numbers; the window extends them to 64 bits around the
//! highest one accepted (like ESP's extended sequence numbers), so a long session wraps cleanly.
//!
//! Call [`ReplayWindow::accept`] only after the packet's MAC verified: an unauthenticated
//! packet must not move the window.

/// 64-bit blocks in the ring. One block is always being refilled, so the usable window is
/// `(BLOCKS - 1) * 64` = 960 packets: at 128 packets/s that tolerates 7.5 s of reordering,
/// far more than any path delivers, in 128 bytes per session and direction.
const BLOCKS: usize = 16;
const BLOCK_BITS: u64 = 64;

/// How far behind the highest accepted sequence number a packet may still be accepted.
pub const WINDOW: u64 = (BLOCKS as u64 - 1) * BLOCK_BITS;

/// Why a sequence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// This sequence number was accepted before.
    #[error("duplicate or replayed sequence number")]
    Duplicate,
    /// Older than the window can remember.
    #[error("sequence number older than the replay window")]
    TooOld,
}

/// One direction of one session's replay state.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    top: u64,
    started: bool,
    bitmap: [u64; BLOCKS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// An empty window that will accept any first sequence number.
    pub const fn new() -> ReplayWindow {
        ReplayWindow {
            top: 0,
            started: false,
            bitmap: [0; BLOCKS],
        }
    }

    /// The highest accepted sequence number, extended to 64 bits.
    pub fn highest(&self) -> Option<u64> {
        self.started.then_some(self.top)
    }

    /// Extends a 32-bit wire sequence number to the 64-bit value closest to the highest seen.
    fn extend(&self, seq: u32) -> u64 {
        const HALF: u64 = 1 << 31;
        const EPOCH: u64 = 1 << 32;
        if !self.started {
            return u64::from(seq);
        }
        let candidate = (self.top & !(EPOCH - 1)) | u64::from(seq);
        if candidate > self.top.saturating_add(HALF) && candidate >= EPOCH {
            candidate - EPOCH
        } else if candidate.saturating_add(HALF) < self.top {
            candidate.saturating_add(EPOCH)
        } else {
            candidate
        }
    }

    /// Accepts `seq` if it is new and inside the window, recording it; returns the extended
    /// sequence number.
    pub fn accept(&mut self, seq: u32) -> Result<u64, ReplayError> {
        let s = self.extend(seq);
        if !self.started {
            self.started = true;
            self.top = s;
            self.bitmap = [0; BLOCKS];
        } else if s > self.top {
            let from = self.top / BLOCK_BITS;
            let to = s / BLOCK_BITS;
            let steps = (to - from).min(BLOCKS as u64);
            for i in 1..=steps {
                self.bitmap[((from + i) % BLOCKS as u64) as usize] = 0;
            }
            self.top = s;
        } else if self.top - s >= WINDOW {
            return Err(ReplayError::TooOld);
        }
        let block = ((s / BLOCK_BITS) % BLOCKS as u64) as usize;
        let bit = 1u64 << (s % BLOCK_BITS);
        if self.bitmap[block] & bit != 0 {
            return Err(ReplayError::Duplicate);
        }
        self.bitmap[block] |= bit;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn in_order_accepted_then_replays_refused() {
        let mut w = ReplayWindow::new();
        for s in 0..2_000u32 {
            assert_eq!(w.accept(s), Ok(u64::from(s)));
        }
        assert_eq!(w.accept(1_999), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(1_500), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(1_999 - WINDOW as u32), Err(ReplayError::TooOld));
    }

    #[test]
    fn reordering_inside_the_window_is_accepted_once() {
        let mut w = ReplayWindow::new();
        assert!(w.accept(1_000).is_ok());
        assert!(w.accept(1_000 - WINDOW as u32 + 1).is_ok());
        assert_eq!(
            w.accept(1_000 - WINDOW as u32 + 1),
            Err(ReplayError::Duplicate)
        );
        assert!(w.accept(999).is_ok());
        assert!(w.accept(1_001).is_ok());
        assert_eq!(w.accept(999), Err(ReplayError::Duplicate));
    }

    #[test]
    fn a_large_jump_forgets_everything_behind_the_window() {
        let mut w = ReplayWindow::new();
        for s in 0..100 {
            w.accept(s).unwrap();
        }
        w.accept(1_000_000).unwrap();
        assert_eq!(w.accept(50), Err(ReplayError::TooOld));
        // Just inside the new window and never seen: accepted even though its block was
        // reused, because the jump cleared it.
        assert!(w.accept(1_000_000 - 10).is_ok());
    }

    #[test]
    fn wraps_around_the_32_bit_sequence_space() {
        let mut w = ReplayWindow::new();
        let start = u32::MAX - 5;
        for i in 0..12u32 {
            let s = start.wrapping_add(i);
            assert_eq!(w.accept(s), Ok(u64::from(start) + u64::from(i)));
        }
        assert_eq!(w.accept(u32::MAX), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(2), Err(ReplayError::Duplicate));
        assert_eq!(w.highest(), Some(u64::from(u32::MAX) + 6));
    }

    proptest! {
        /// Against a model: accept iff unseen and within WINDOW of the running maximum.
        #[test]
        fn matches_a_set_model(seqs in proptest::collection::vec(0u32..5_000, 1..3_000)) {
            let mut w = ReplayWindow::new();
            let mut seen = HashSet::new();
            let mut top: Option<u32> = None;
            for s in seqs {
                let expected = match top {
                    Some(t) if s <= t && t - s >= WINDOW as u32 => Err(ReplayError::TooOld),
                    _ if seen.contains(&s) => Err(ReplayError::Duplicate),
                    _ => Ok(u64::from(s)),
                };
                prop_assert_eq!(w.accept(s), expected);
                if expected.is_ok() {
                    seen.insert(s);
                    top = Some(top.map_or(s, |t| t.max(s)));
                }
            }
        }
    }
}
