//! What the codes have in common: the per-code trait, and the fixed ring of group slots the
//! decoders keep.

use super::FecError;

/// Most shards (data + parity) one group can have: 15 + 15.
pub(crate) const MAX_SHARDS: usize = 30;

/// The arithmetic of one code. Shards are symbols already zero-padded to the group's width.
pub(crate) trait ParityCode: Send + 'static {
    /// Computes every `parity` shard from the group's `data` shards (`data.len()` is the group's
    /// actual size, possibly below the planned `k`).
    fn encode(&mut self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError>;

    /// Rebuilds, in place, the data shards (the first `data_count`) whose flag is false.
    /// `shards` holds the group's data shards then its parity shards; the decoder only calls
    /// this when at least `data_count` shards are present.
    fn reconstruct(
        &mut self,
        data_count: usize,
        shards: &mut [(&mut [u8], bool)],
    ) -> Result<(), FecError>;
}

/// Where a group lives in a decoder's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// The group is (now) held by this slot.
    Slot {
        /// Index of the slot.
        index: usize,
        /// True when the slot was just reset for this group.
        fresh: bool,
    },
    /// The group is older than the window of groups the ring remembers.
    Stale,
}

/// Maps 16-bit group numbers to a power-of-two ring of slots with serial-number arithmetic
/// (RFC 1982 style): the window is the `slots` groups ending at the newest one seen.
pub(crate) struct Ring {
    /// Group number held by each slot, `None` while the slot is unused.
    held: Vec<Option<u16>>,
    newest: Option<u16>,
    mask: u16,
}

impl Ring {
    /// A ring of `slots` slots; `slots` must be a power of two in `1..=65536` (the constructor
    /// of the decoders guarantees it).
    pub(crate) fn new(slots: usize) -> Ring {
        Ring {
            held: vec![None; slots],
            newest: None,
            mask: (slots.saturating_sub(1)).min(usize::from(u16::MAX)) as u16,
        }
    }

    /// Number of slots.
    pub(crate) fn slots(&self) -> usize {
        self.held.len()
    }

    /// The newest group seen, if any.
    pub(crate) fn newest(&self) -> Option<u16> {
        self.newest
    }

    /// Finds or makes the slot of `group`, advancing the window when `group` is newer than any
    /// seen. A fresh slot means the caller must reset that slot's state.
    pub(crate) fn place(&mut self, group: u16) -> Placement {
        let newest = *self.newest.get_or_insert(group);
        let ahead = group.wrapping_sub(newest) as i16;
        if ahead > 0 {
            self.newest = Some(group);
        } else if usize::from(ahead.unsigned_abs()) >= self.slots() || ahead == i16::MIN {
            return Placement::Stale;
        }
        let index = usize::from(group & self.mask);
        let Some(held) = self.held.get_mut(index) else {
            return Placement::Stale;
        };
        // Within the window a slot can only hold this group or an older one (two groups
        // sharing a slot are a multiple of `slots` apart), so replacing is always eviction.
        let fresh = *held != Some(group);
        *held = Some(group);
        Placement::Slot { index, fresh }
    }

    /// The slot holding `group` when it is inside the window.
    pub(crate) fn find(&self, group: u16) -> Option<usize> {
        let index = usize::from(group & self.mask);
        (self.held.get(index).copied().flatten() == Some(group)).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_follows_the_newest_group_across_the_wrap() {
        let mut ring = Ring::new(4);
        assert_eq!(
            ring.place(65534),
            Placement::Slot {
                index: 2,
                fresh: true
            }
        );
        assert_eq!(
            ring.place(65535),
            Placement::Slot {
                index: 3,
                fresh: true
            }
        );
        assert_eq!(
            ring.place(0),
            Placement::Slot {
                index: 0,
                fresh: true
            }
        );
        assert_eq!(
            ring.place(1),
            Placement::Slot {
                index: 1,
                fresh: true
            }
        );
        assert_eq!(ring.newest(), Some(1));
        // 65534 is still in the window {65534, 65535, 0, 1}.
        assert_eq!(
            ring.place(65534),
            Placement::Slot {
                index: 2,
                fresh: false
            }
        );
        assert_eq!(
            ring.place(2),
            Placement::Slot {
                index: 2,
                fresh: true
            }
        );
        assert_eq!(ring.place(65534), Placement::Stale);
        assert_eq!(
            ring.place(65535),
            Placement::Slot {
                index: 3,
                fresh: false
            }
        );
        assert_eq!(ring.find(2), Some(2));
        assert_eq!(ring.find(65534), None);
    }

    #[test]
    fn far_older_groups_are_stale_and_jumps_evict() {
        let mut ring = Ring::new(8);
        assert!(matches!(ring.place(100), Placement::Slot { .. }));
        assert_eq!(ring.place(92), Placement::Stale);
        assert_eq!(ring.place(100u16.wrapping_sub(32768)), Placement::Stale);
        assert_eq!(
            ring.place(108),
            Placement::Slot {
                index: 4,
                fresh: true
            }
        );
        assert_eq!(ring.find(100), None);
        assert_eq!(ring.place(100), Placement::Stale);
    }
}
