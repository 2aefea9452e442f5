//! The sender side shared by every code: build groups, close them on `k` packets or the
//! deadline, hand out the parity.

use std::time::Duration;

use super::group::{MAX_SHARDS, ParityCode};
use super::symbol::SymbolStore;
use super::{FecEncoder, FecError, FecField, MAX_K, MAX_M, Micros};

/// Parity of the last closed group, waiting for [`FecEncoder::poll_parity`].
#[derive(Debug, Clone, Copy)]
struct Due {
    group: u16,
    /// Actual data packets in the group.
    k: u8,
    /// Next parity number to hand out.
    next: u8,
    width: usize,
    since: Micros,
}

/// Encoder for one code. Memory: `(k + m) ×` [`super::MAX_PARITY_PAYLOAD`] bytes, allocated in
/// [`GroupEncoder::new`]; `on_data` only copies the payload into its buffer.
pub(crate) struct GroupEncoder<C> {
    code: C,
    k: u8,
    m: u8,
    deadline: Duration,
    data: SymbolStore,
    parity: SymbolStore,
    group: u16,
    /// Data packets in the open group.
    count: u8,
    opened_at: Micros,
    due: Option<Due>,
}

impl<C: ParityCode> GroupEncoder<C> {
    /// `k` and `m` must already be validated (1..=15).
    pub(crate) fn new(code: C, k: u8, m: u8, deadline: Duration) -> GroupEncoder<C> {
        let k = k.clamp(1, MAX_K);
        let m = m.clamp(1, MAX_M);
        GroupEncoder {
            code,
            k,
            m,
            deadline,
            data: SymbolStore::new(usize::from(k)),
            parity: SymbolStore::new(usize::from(m)),
            group: 0,
            count: 0,
            opened_at: Micros::ZERO,
            due: None,
        }
    }

    fn deadline_passed(&self, now: Micros) -> bool {
        self.count > 0 && now >= self.opened_at + self.deadline
    }

    /// Computes the open group's parity and makes it due. Parity of an earlier group that the
    /// caller never polled is overwritten: it is late by a whole group and useless by now.
    fn close(&mut self, now: Micros) {
        let count = usize::from(self.count);
        let m = usize::from(self.m);
        let width = (0..count).map(|i| self.data.len(i)).max().unwrap_or(0);
        let encoded = {
            let mut data_it = self.data.views(width);
            let data: [&[u8]; MAX_SHARDS] = std::array::from_fn(|i| {
                if i < count {
                    data_it.next().unwrap_or_default()
                } else {
                    &[]
                }
            });
            let mut parity_it = self.parity.views_mut(width);
            let mut parity: [&mut [u8]; MAX_SHARDS] = std::array::from_fn(|i| {
                if i < m { parity_it.next() } else { None }.unwrap_or_default()
            });
            self.code.encode(&data[..count], &mut parity[..m])
        };
        self.due = match encoded {
            Ok(()) => {
                for p in 0..m {
                    self.parity.mark_written(p, width);
                }
                Some(Due {
                    group: self.group,
                    k: self.count,
                    next: 0,
                    width,
                    since: now,
                })
            }
            // Unreachable with validated shapes; the data already went out, so losing one
            // group's parity is the safe outcome.
            Err(_) => None,
        };
        self.group = self.group.wrapping_add(1);
        self.count = 0;
    }
}

impl<C: ParityCode> FecEncoder for GroupEncoder<C> {
    fn on_data(&mut self, now: Micros, payload: &[u8]) -> Result<FecField, FecError> {
        if self.deadline_passed(now) {
            // The caller did not poll at the deadline; the open group still closes there so
            // this packet starts a new one.
            self.close(now);
        }
        let index = self.count;
        self.data.put_payload(usize::from(index), payload)?;
        if index == 0 {
            self.opened_at = now;
        }
        self.count += 1;
        let field = FecField {
            group: self.group,
            index,
            k: self.k,
            m: self.m,
        };
        if self.count >= self.k {
            self.close(now);
        }
        Ok(field)
    }

    fn poll_parity(&mut self, now: Micros, out: &mut [u8]) -> Option<(FecField, usize)> {
        if self.deadline_passed(now) {
            self.close(now);
        }
        let due = self.due.as_mut()?;
        let p = due.next;
        due.next += 1;
        let field = FecField {
            group: due.group,
            index: due.k + p,
            k: due.k,
            m: self.m,
        };
        let width = due.width;
        if due.next >= self.m {
            self.due = None;
        }
        let src = self.parity.padded(usize::from(p), width);
        // `out` is documented to hold MAX_PARITY_PAYLOAD bytes; a shorter one loses this
        // parity packet rather than panicking.
        let dst = out.get_mut(..src.len())?;
        dst.copy_from_slice(src);
        Some((field, src.len()))
    }

    fn next_deadline(&self) -> Option<Micros> {
        match self.due {
            Some(due) => Some(due.since),
            None if self.count > 0 => Some(self.opened_at + self.deadline),
            None => None,
        }
    }
}
