//! The receiver side shared by every code: a fixed ring of group slots, each holding the
//! symbols received so far, recovering missing data as soon as enough symbols are in.

use super::group::{MAX_SHARDS, ParityCode, Placement, Ring};
use super::symbol::{PREFIX, SymbolStore, read_symbol};
use super::{
    DataVerdict, FecDecoder, FecError, FecField, MAX_DATA_PAYLOAD, MAX_K, MAX_M,
    MAX_PARITY_PAYLOAD, Micros, Recovered,
};

/// What a slot knows about its group.
#[derive(Debug, Clone, Copy, Default)]
struct SlotState {
    /// Planned `k` from the group's data packets, 0 before the first one.
    planned_k: u8,
    /// Actual `k` from the group's parity packets, 0 before the first one.
    actual_k: u8,
    /// Parity payload length (the group's width), 0 before the first parity.
    width: usize,
    /// Bit `i`: data packet `i` received or recovered.
    data: u16,
    /// Bit `p`: parity packet `p` received.
    parity: u16,
    /// Recovered data packets not yet handed out by `poll_recovered`.
    pending: u16,
    /// Nothing left to do: every data packet is in, or recovery was done or found corrupt.
    settled: bool,
}

/// Decoder for one code.
///
/// Memory, allocated in [`GroupDecoder::new`] and never grown:
/// `slots × (k + m) ×` [`MAX_PARITY_PAYLOAD`] bytes of symbols plus a few bytes per slot.
pub(crate) struct GroupDecoder<C> {
    code: C,
    k: u8,
    m: u8,
    ring: Ring,
    states: Vec<SlotState>,
    /// One store per slot: `k` data buffers, then `m` parity buffers.
    stores: Vec<SymbolStore>,
    /// Recovered packets waiting in all slots.
    pending: usize,
}

impl<C: ParityCode> GroupDecoder<C> {
    /// `k`, `m` must already be validated and `slots` be a power of two.
    pub(crate) fn new(code: C, k: u8, m: u8, slots: usize) -> GroupDecoder<C> {
        let k = k.clamp(1, MAX_K);
        let m = m.clamp(1, MAX_M);
        let shards = usize::from(k) + usize::from(m);
        GroupDecoder {
            code,
            k,
            m,
            ring: Ring::new(slots),
            states: vec![SlotState::default(); slots],
            stores: (0..slots).map(|_| SymbolStore::new(shards)).collect(),
            pending: 0,
        }
    }

    fn check_shape(&self, field: FecField, parity: bool) -> Result<(), FecError> {
        let FecField { index, k, m, .. } = field;
        let index_ok = if parity {
            index >= k && u16::from(index) < u16::from(k) + u16::from(m)
        } else {
            index < k
        };
        if k == 0 || k > self.k || m != self.m || !index_ok {
            return Err(FecError::BadField(field));
        }
        Ok(())
    }

    /// The slot of `group`, reset when an older group had to make room; `None` when the group
    /// is older than the window.
    fn slot_for(&mut self, group: u16) -> Option<usize> {
        match self.ring.place(group) {
            Placement::Stale => None,
            Placement::Slot { index, fresh } => {
                let state = self.states.get_mut(index)?;
                if fresh {
                    // Recovered packets nobody polled go with their group.
                    self.pending = self
                        .pending
                        .saturating_sub(state.pending.count_ones() as usize);
                    *state = SlotState::default();
                }
                Some(index)
            }
        }
    }

    /// Rebuilds the missing data of slot `s` once enough symbols are in.
    ///
    /// # Errors
    /// [`FecError::Malformed`] when the code fails or a rebuilt symbol is impossible; the
    /// group is then given up (its received packets were delivered already).
    fn try_recover(&mut self, s: usize) -> Result<(), FecError> {
        let (Some(state), Some(store)) = (self.states.get_mut(s), self.stores.get_mut(s)) else {
            return Ok(());
        };
        if state.settled || state.actual_k == 0 {
            return Ok(());
        }
        let j = usize::from(state.actual_k);
        let all = ((1u32 << j) - 1) as u16;
        let missing = all & !state.data;
        if missing == 0 {
            state.settled = true;
            return Ok(());
        }
        let present = (state.data & all).count_ones() + state.parity.count_ones();
        if present < u32::from(state.actual_k) {
            return Ok(());
        }
        state.settled = true;
        let (k, m, width) = (usize::from(self.k), usize::from(self.m), state.width);
        let rebuilt = {
            let mut views = store.views_mut(width);
            let mut shards: [(&mut [u8], bool); MAX_SHARDS] = std::array::from_fn(|i| {
                let (view, here) = if i < j {
                    (views.next(), state.data & (1 << i) != 0)
                } else if i < j + m {
                    // Parity sits after the planned `k` data buffers, whatever the actual size.
                    let view = if i == j {
                        views.nth(k - j)
                    } else {
                        views.next()
                    };
                    (view, state.parity & (1 << (i - j)) != 0)
                } else {
                    (None, false)
                };
                (view.unwrap_or_default(), here)
            });
            self.code.reconstruct(j, &mut shards[..j + m])
        };
        for i in 0..j {
            if missing & (1 << i) != 0 {
                store.mark_written(i, width);
            }
        }
        rebuilt.map_err(|_| FecError::Malformed)?;
        for i in 0..j {
            if missing & (1 << i) != 0 {
                read_symbol(store.padded(i, width))?;
            }
        }
        state.data |= missing;
        state.pending |= missing;
        self.pending += missing.count_ones() as usize;
        Ok(())
    }
}

impl<C: ParityCode> FecDecoder for GroupDecoder<C> {
    fn on_data(
        &mut self,
        _now: Micros,
        field: FecField,
        payload: &[u8],
    ) -> Result<DataVerdict, FecError> {
        if !field.is_some() {
            return Ok(DataVerdict::Deliver);
        }
        if payload.len() > MAX_DATA_PAYLOAD {
            return Err(FecError::PayloadTooLarge { len: payload.len() });
        }
        self.check_shape(field, false)?;
        // A group older than the window left no state to compare with: deliver, the header's
        // replay window has already dropped exact duplicates.
        let Some(s) = self.slot_for(field.group) else {
            return Ok(DataVerdict::Deliver);
        };
        let (Some(state), Some(store)) = (self.states.get_mut(s), self.stores.get_mut(s)) else {
            return Ok(DataVerdict::Deliver);
        };
        let consistent = (state.planned_k == 0 || state.planned_k == field.k)
            && (state.actual_k == 0 || field.index < state.actual_k);
        if !consistent {
            return Err(FecError::BadField(field));
        }
        let bit = 1u16 << field.index;
        if state.data & bit != 0 {
            return Ok(DataVerdict::Duplicate);
        }
        let len = store.put_payload(usize::from(field.index), payload)?;
        state.planned_k = field.k;
        state.data |= bit;
        if state.width != 0 && len > state.width {
            // The parity cannot cover this packet: it was corrupt, give the group up.
            state.settled = true;
        }
        // A failed recovery concerns the parity, not this packet, which is delivered anyway.
        let _ = self.try_recover(s);
        Ok(DataVerdict::Deliver)
    }

    fn on_parity(&mut self, _now: Micros, field: FecField, payload: &[u8]) -> Result<(), FecError> {
        if payload.len() > MAX_PARITY_PAYLOAD {
            return Err(FecError::PayloadTooLarge { len: payload.len() });
        }
        self.check_shape(field, true)?;
        if payload.len() < PREFIX {
            return Err(FecError::Malformed);
        }
        let s = self
            .slot_for(field.group)
            .ok_or(FecError::StaleGroup(field.group))?;
        let (Some(state), Some(store)) = (self.states.get_mut(s), self.stores.get_mut(s)) else {
            return Err(FecError::StaleGroup(field.group));
        };
        let consistent = (state.actual_k == 0 || state.actual_k == field.k)
            && (state.planned_k == 0 || field.k <= state.planned_k)
            && u32::from(state.data).checked_shr(u32::from(field.k)) == Some(0);
        if !consistent {
            return Err(FecError::BadField(field));
        }
        let width = payload.len();
        let too_short =
            (0..usize::from(field.k)).any(|i| state.data & (1 << i) != 0 && store.len(i) > width);
        if (state.width != 0 && state.width != width) || too_short {
            return Err(FecError::Malformed);
        }
        let p = field.index - field.k;
        if state.parity & (1 << p) != 0 {
            return Ok(());
        }
        store.put_raw(usize::from(self.k) + usize::from(p), payload)?;
        state.actual_k = field.k;
        state.width = width;
        state.parity |= 1 << p;
        self.try_recover(s)
    }

    fn poll_recovered(&mut self, out: &mut [u8]) -> Option<Recovered> {
        if self.pending == 0 {
            return None;
        }
        let newest = self.ring.newest()?;
        // Oldest group first, so recovered packets come out in sending order.
        for back in (0..self.ring.slots()).rev() {
            let group = newest.wrapping_sub(back as u16);
            let Some(s) = self.ring.find(group) else {
                continue;
            };
            let (Some(state), Some(store)) = (self.states.get_mut(s), self.stores.get(s)) else {
                continue;
            };
            while state.pending != 0 {
                let i = state.pending.trailing_zeros() as u8;
                state.pending &= !(1 << i);
                self.pending = self.pending.saturating_sub(1);
                // Checked when recovered; a short `out` drops the packet instead of panicking.
                let Ok(payload) = read_symbol(store.padded(usize::from(i), state.width)) else {
                    continue;
                };
                let Some(dst) = out.get_mut(..payload.len()) else {
                    continue;
                };
                dst.copy_from_slice(payload);
                return Some(Recovered {
                    field: FecField {
                        group,
                        index: i,
                        k: state.actual_k,
                        m: self.m,
                    },
                    len: payload.len(),
                });
            }
        }
        None
    }
}
