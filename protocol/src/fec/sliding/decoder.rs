//! The receiving side: the window of recent ESIs, their symbols, and the recovered queue.

use std::collections::VecDeque;

use super::system::{Inserted, System};
use super::{MIN_REPAIR_LEN, coefficient};
use crate::fec::{
    DataVerdict, FecDecoder, FecError, FecField, MAX_DATA_PAYLOAD, MAX_K, MAX_PARITY_PAYLOAD,
    Recovered, gf256,
};
use crate::time::Micros;

const STRIDE: usize = MAX_PARITY_PAYLOAD;
const PREFIX: usize = 2;

/// Default number of recent ESIs a decoder tracks: at 128 packets/s a lost packet may wait
/// 250 ms for the equations that solve it, far past any useful game deadline, in ~92 KB.
pub const DEFAULT_SPAN: u8 = 32;

/// Most ESIs a decoder may track. Memory grows with `span × (1,402 + span)` twice over; 64
/// (≈ 190 KB) is already far more history than a late game packet is worth.
pub const MAX_SPAN: u8 = 64;

/// Counters of what a [`SlidingDecoder`] threw away; a drop is a counter, not a log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlidingStats {
    /// Packets recovered from repairs.
    pub recovered: u64,
    /// Unknown ESIs that slid out of the span unrecovered.
    pub given_up: u64,
    /// Repairs whose window reached past the span; ignored.
    pub stale_repairs: u64,
    /// Repairs that carried nothing new (every symbol known, or a combination of stored ones).
    pub redundant_repairs: u64,
    /// Equations evicted to make room for a newer one.
    pub evicted: u64,
    /// Rebuilt symbols or equations found inconsistent (bad length prefix or padding, or a
    /// symbol wider than its repair) and discarded.
    pub malformed: u64,
}

/// Receiver of a sliding-window code; see the [module docs](super) for the algorithm.
///
/// Driving: after every [`FecDecoder::on_data`] and [`FecDecoder::on_parity`] call
/// [`FecDecoder::poll_recovered`] until `None`; a recovery is ready at the `now` of the packet
/// that completed it. Up to `span` recoveries wait for polling, then the oldest are dropped.
/// A data packet older than the span is delivered (it cannot be checked against recoveries;
/// losing a genuine late packet is worse than a rare duplicate). A repair reaching past the
/// span is ignored and counted in [`SlidingStats::stale_repairs`].
pub struct SlidingDecoder {
    window: u8,
    span: usize,
    /// 64-bit extension of the newest ESI seen; `None` before the first packet.
    newest: Option<u64>,
    last_m: u8,
    /// Per slot: the ESI living there, whether its symbol is known, its length.
    esi: Vec<u64>,
    known: Vec<bool>,
    sym_len: Vec<usize>,
    symbols: Vec<u8>,
    system: System,
    ready: VecDeque<u64>,
    stats: SlidingStats,
}

/// Bytes a [`SlidingDecoder`] with this (power-of-two) `span` allocates: the symbol ring and as
/// many equations of up to [`MAX_PARITY_PAYLOAD`](crate::fec::MAX_PARITY_PAYLOAD) bytes, their
/// `span`-wide coefficient rows, and 42 bytes of per-slot bookkeeping.
pub const fn buffer_bytes(span: usize) -> usize {
    span * (2 * crate::fec::MAX_PARITY_PAYLOAD + span + 42)
}

impl SlidingDecoder {
    /// A decoder for repairs of windows up to `window` (1..=15) packets, remembering the last
    /// `span` ESIs (`window..=`[`MAX_SPAN`], usually [`DEFAULT_SPAN`]) with as many equations.
    /// `span` is rounded up to a power of two so that slot lookups are a mask, not a division.
    ///
    /// Allocates all its memory here: [`buffer_bytes`]`(span)` (92 KB at 32).
    ///
    /// # Errors
    /// [`FecError::InvalidSlidingParameter`] when `window` or `span` is out of range.
    pub fn new(window: u8, span: u8) -> Result<SlidingDecoder, FecError> {
        if window == 0 || window > MAX_K {
            return Err(FecError::InvalidSlidingParameter("window must be 1..=15"));
        }
        if span < window || span > MAX_SPAN {
            return Err(FecError::InvalidSlidingParameter(
                "span must be window..=64",
            ));
        }
        let n = usize::from(span).next_power_of_two();
        Ok(SlidingDecoder {
            window,
            span: n,
            newest: None,
            last_m: 1,
            esi: vec![0; n],
            known: vec![false; n],
            sym_len: vec![0; n],
            symbols: vec![0; n * STRIDE],
            system: System::new(n, n),
            ready: VecDeque::with_capacity(n),
            stats: SlidingStats::default(),
        })
    }

    /// What the decoder has dropped or recovered so far.
    pub fn stats(&self) -> SlidingStats {
        self.stats
    }

    /// Equations currently waiting for more packets.
    pub fn pending_equations(&self) -> usize {
        self.system.rows_in_use()
    }

    /// Extends a wire ESI to 64 bits around the newest one (serial-number arithmetic), moving
    /// the window forward when it is newer. `None` when it is older than the span.
    fn track(&mut self, esi: u16) -> Option<u64> {
        let Some(newest) = self.newest else {
            // Start far from zero so older ESIs never underflow.
            let abs = (1 << 32) + u64::from(esi);
            self.newest = Some(abs);
            self.reset_slot(abs);
            return Some(abs);
        };
        let delta = i64::from(esi.wrapping_sub(newest as u16) as i16);
        let abs = newest.checked_add_signed(delta)?;
        if abs > newest {
            self.advance(newest, abs);
        } else if newest - abs >= self.span as u64 {
            return None;
        }
        Some(abs)
    }

    /// Slides the window from `from` to `to`: ESIs in between become live and unknown, the
    /// ones pushed out are given up.
    fn advance(&mut self, from: u64, to: u64) {
        let span = self.span as u64;
        let first = from.max(to.saturating_sub(span)) + 1;
        if to - from >= span {
            self.system.clear();
        }
        for abs in first..=to {
            self.reset_slot(abs);
        }
        self.newest = Some(to);
    }

    /// Gives the slot of `abs` to `abs`, dropping what the previous tenant left.
    fn reset_slot(&mut self, abs: u64) {
        let slot = self.slot(abs);
        // ESI 0 marks a slot never used (real ones start at 2^32).
        if let (Some(&old), Some(&known)) = (self.esi.get(slot), self.known.get(slot))
            && !known
            && old != abs
            && old != 0
        {
            self.stats.given_up += 1;
            self.system.drop_column(slot);
        }
        self.set_slot(slot, abs, false, 0);
    }

    fn set_slot(&mut self, slot: usize, abs: u64, known: bool, len: usize) {
        if let (Some(e), Some(k), Some(l)) = (
            self.esi.get_mut(slot),
            self.known.get_mut(slot),
            self.sym_len.get_mut(slot),
        ) {
            *e = abs;
            *k = known;
            *l = len;
        }
    }

    fn slot(&self, abs: u64) -> usize {
        abs as usize & (self.span - 1)
    }

    fn is_known(&self, abs: u64) -> bool {
        let slot = self.slot(abs);
        self.esi.get(slot) == Some(&abs) && self.known.get(slot) == Some(&true)
    }

    fn symbol(&self, slot: usize) -> &[u8] {
        let len = self.sym_len.get(slot).copied().unwrap_or(0);
        self.symbols
            .get(slot * STRIDE..slot * STRIDE + len)
            .unwrap_or_default()
    }

    /// Marks the symbol in `slot` known and substitutes it into every equation; false when
    /// no equation involved it (nothing new can be solved).
    fn learn(&mut self, slot: usize) -> bool {
        if let Some(k) = self.known.get_mut(slot) {
            *k = true;
        }
        let len = self.sym_len.get(slot).copied().unwrap_or(0);
        let symbol = self
            .symbols
            .get(slot * STRIDE..slot * STRIDE + len)
            .unwrap_or_default();
        let (touched, inconsistent) = self.system.substitute(slot, symbol, &self.esi);
        self.stats.malformed += inconsistent as u64;
        touched > 0
    }

    /// Reads off every solved equation. Returns false when one rebuilt an impossible symbol.
    fn harvest(&mut self) -> bool {
        let mut clean = true;
        while let Some((abs, row)) = self.system.solved() {
            let slot = self.slot(abs);
            let sym = self.system.payload(row);
            match checked_symbol_len(sym) {
                Some(len) if self.esi.get(slot) == Some(&abs) => {
                    if let (Some(dst), Some(src)) = (
                        self.symbols.get_mut(slot * STRIDE..slot * STRIDE + len),
                        sym.get(..len),
                    ) {
                        dst.copy_from_slice(src);
                    }
                    self.system.free(row);
                    self.set_slot(slot, abs, true, len);
                    if self.ready.len() == self.ready.capacity() {
                        self.ready.pop_front();
                    }
                    self.ready.push_back(abs);
                    self.stats.recovered += 1;
                }
                _ => {
                    self.system.free(row);
                    self.stats.malformed += 1;
                    clean = false;
                }
            }
        }
        clean
    }
}

/// The length of the symbol at the start of `sym` when its prefix and padding are possible.
fn checked_symbol_len(sym: &[u8]) -> Option<usize> {
    let (prefix, rest) = sym.split_first_chunk::<PREFIX>()?;
    let len = usize::from(u16::from_be_bytes(*prefix));
    if len > MAX_DATA_PAYLOAD || len > rest.len() {
        return None;
    }
    rest.get(len..)?
        .iter()
        .all(|&b| b == 0)
        .then_some(PREFIX + len)
}

impl FecDecoder for SlidingDecoder {
    fn on_data(
        &mut self,
        _now: Micros,
        field: FecField,
        payload: &[u8],
    ) -> Result<DataVerdict, FecError> {
        if field.k == 0 || field.index != 0 {
            return Err(FecError::BadField(field));
        }
        if payload.len() > MAX_DATA_PAYLOAD {
            return Err(FecError::PayloadTooLarge { len: payload.len() });
        }
        self.last_m = field.m.max(1);
        // Too old to track: deliver rather than drop a genuine (very) late packet.
        let Some(abs) = self.track(field.group) else {
            return Ok(DataVerdict::Deliver);
        };
        if self.is_known(abs) {
            return Ok(DataVerdict::Duplicate);
        }
        let slot = self.slot(abs);
        let len = PREFIX + payload.len();
        if let Some(s) = self.symbols.get_mut(slot * STRIDE..slot * STRIDE + len) {
            let (prefix, rest) = s.split_at_mut(PREFIX);
            prefix.copy_from_slice(&(payload.len() as u16).to_be_bytes());
            rest.copy_from_slice(payload);
        }
        self.set_slot(slot, abs, false, len);
        if self.learn(slot) {
            // A failure here belongs to some repair, not to this packet, which is delivered.
            let _ = self.harvest();
        }
        Ok(DataVerdict::Deliver)
    }

    fn on_parity(&mut self, _now: Micros, field: FecField, payload: &[u8]) -> Result<(), FecError> {
        let FecField { group, index, k, m } = field;
        if k == 0 || k > self.window || index < k || index - k >= m {
            return Err(FecError::BadField(field));
        }
        if payload.len() > MAX_PARITY_PAYLOAD {
            return Err(FecError::PayloadTooLarge { len: payload.len() });
        }
        if payload.len() < MIN_REPAIR_LEN {
            return Err(FecError::Malformed);
        }
        self.last_m = m;
        let repair = index - k;
        let Some(hi) = self.track(group) else {
            self.stats.stale_repairs += 1;
            return Ok(());
        };
        let lo = hi + 1 - u64::from(k);
        let newest = self.newest.unwrap_or(hi);
        if newest - lo >= self.span as u64 {
            self.stats.stale_repairs += 1;
            return Ok(());
        }
        let mut unknown = 0;
        for abs in lo..=hi {
            if self.esi.get(self.slot(abs)) != Some(&abs) {
                // Only ESIs older than the first packet seen have never had their slot.
                self.reset_slot(abs);
            }
            if self.is_known(abs) {
                if self.sym_len.get(self.slot(abs)).copied().unwrap_or(0) > payload.len() {
                    self.stats.malformed += 1;
                    return Err(FecError::Malformed);
                }
            } else {
                unknown += 1;
            }
        }
        if unknown == 0 {
            self.stats.redundant_repairs += 1;
            return Ok(());
        }
        if self.system.rows_in_use() == self.span {
            self.stats.evicted += 1;
        }
        let row = self.system.blank_row();
        let (coefs, buf) = self.system.row_mut(row, payload.len());
        buf.copy_from_slice(payload);
        for abs in lo..=hi {
            let slot = abs as usize & (self.span - 1);
            let c = coefficient(hi as u16, repair, (hi - abs) as u8);
            if self.esi.get(slot) == Some(&abs) && self.known.get(slot) == Some(&true) {
                let len = self.sym_len.get(slot).copied().unwrap_or(0);
                if let Some(sym) = self.symbols.get(slot * STRIDE..slot * STRIDE + len) {
                    gf256::mul_add_slice(buf, sym, c);
                }
            } else if let Some(x) = coefs.get_mut(slot) {
                *x = c;
            }
        }
        if self.system.insert(row, &self.esi) == Inserted::Redundant {
            self.stats.redundant_repairs += 1;
        }
        if self.harvest() {
            Ok(())
        } else {
            Err(FecError::Malformed)
        }
    }

    fn poll_recovered(&mut self, out: &mut [u8]) -> Option<Recovered> {
        while let Some(abs) = self.ready.pop_front() {
            let slot = self.slot(abs);
            if !self.is_known(abs) {
                continue; // Its slot was reused before the caller polled.
            }
            let sym = self.symbol(slot);
            let payload = sym.get(PREFIX..).unwrap_or_default();
            let Some(dst) = out.get_mut(..payload.len()) else {
                self.ready.push_front(abs);
                return None;
            };
            dst.copy_from_slice(payload);
            let field = FecField {
                group: abs as u16,
                index: 0,
                k: self.window,
                m: self.last_m,
            };
            return Some(Recovered {
                field,
                len: payload.len(),
            });
        }
        None
    }
}
