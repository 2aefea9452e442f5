//! The decoder's repair equations, kept in reduced row echelon form over the unknown symbols.
//!
//! Columns are symbol slots (`esi mod span`, `span` a power of two); the decoder guarantees that a slot is only reused
//! for a new ESI after every row with a non-zero coefficient there has been dropped, and that
//! rows only ever have non-zero coefficients on unknown ESIs inside the span.
//!
//! Invariants between public calls:
//! - every used row has a pivot column whose coefficient is 1, and every other used row has 0
//!   there (RREF);
//! - payload bytes of a row at or past its `len` are zero, so rows of different widths can be
//!   added without a padding pass.

use crate::fec::MAX_PARITY_PAYLOAD;
use crate::fec::gf256;

const STRIDE: usize = MAX_PARITY_PAYLOAD;

/// What happened to an equation offered to [`System::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inserted {
    /// It adds information and is stored.
    Stored,
    /// It was a combination of the stored rows (or empty) and was discarded.
    Redundant,
}

pub(super) struct System {
    span: usize,
    used: Vec<bool>,
    /// ESI (64-bit) of each used row's pivot column.
    pivot: Vec<u64>,
    len: Vec<usize>,
    coef: Vec<u8>,
    payload: Vec<u8>,
}

impl System {
    /// `rows` equations over `span` columns (a power of two), all buffers allocated here.
    pub(super) fn new(rows: usize, span: usize) -> System {
        System {
            span,
            used: vec![false; rows],
            pivot: vec![0; rows],
            len: vec![0; rows],
            coef: vec![0; rows * span],
            payload: vec![0; rows * STRIDE],
        }
    }

    pub(super) fn rows_in_use(&self) -> usize {
        self.used.iter().filter(|&&u| u).count()
    }

    /// Empties every row.
    pub(super) fn clear(&mut self) {
        for i in 0..self.used.len() {
            self.free(i);
        }
    }

    /// A blank row to fill with [`System::row_mut`] before [`System::insert`]: a free one, or
    /// the row whose pivot is oldest (the one closest to expiring anyway).
    pub(super) fn blank_row(&mut self) -> usize {
        let row = match self.used.iter().position(|&u| !u) {
            Some(free) => free,
            None => (0..self.used.len())
                .min_by_key(|&i| self.pivot.get(i).copied().unwrap_or(u64::MAX))
                .unwrap_or(0),
        };
        self.free(row);
        row
    }

    /// Coefficients and payload buffer of an unused row, with its width set to `len`.
    pub(super) fn row_mut(&mut self, row: usize, len: usize) -> (&mut [u8], &mut [u8]) {
        let len = len.min(STRIDE);
        if let Some(l) = self.len.get_mut(row) {
            *l = len;
        }
        let coef = self
            .coef
            .get_mut(row * self.span..(row + 1) * self.span)
            .unwrap_or_default();
        let payload = self
            .payload
            .get_mut(row * STRIDE..row * STRIDE + len)
            .unwrap_or_default();
        (coef, payload)
    }

    /// Reduces the filled row `row` by the stored rows and stores it, normalised on its oldest
    /// non-zero column. `col_esi[slot]` is the ESI living in each column slot.
    pub(super) fn insert(&mut self, row: usize, col_esi: &[u64]) -> Inserted {
        for j in 0..self.used.len() {
            if self.used[j] && j != row {
                let c = self.coef_at(row, self.pivot_slot(j));
                self.add_row(row, j, c);
            }
        }
        self.settle(row, col_esi)
    }

    /// Stores `row`, whose coefficients are already zero on every other row's pivot.
    fn settle(&mut self, row: usize, col_esi: &[u64]) -> Inserted {
        let oldest = (0..self.span)
            .filter(|&s| self.coef_at(row, s) != 0)
            .min_by_key(|&s| col_esi.get(s).copied().unwrap_or(u64::MAX));
        let Some(p) = oldest else {
            self.free(row);
            return Inserted::Redundant;
        };
        let c = gf256::inv(self.coef_at(row, p)).unwrap_or(1);
        self.scale_row(row, c);
        for j in 0..self.used.len() {
            if self.used[j] && j != row {
                let e = self.coef_at(j, p);
                self.add_row(j, row, e);
            }
        }
        self.used[row] = true;
        self.pivot[row] = col_esi.get(p).copied().unwrap_or(0);
        Inserted::Stored
    }

    /// Substitutes the now-known `symbol` of column `slot` into every row. A row narrower than
    /// the symbol cannot be a true equation over it and is dropped. Returns how many rows
    /// involved the column and how many of those were dropped.
    pub(super) fn substitute(
        &mut self,
        slot: usize,
        symbol: &[u8],
        col_esi: &[u64],
    ) -> (usize, usize) {
        let mut touched = 0;
        let mut inconsistent = 0;
        let mut lost_pivot = None;
        for i in 0..self.used.len() {
            let c = self.coef_at(i, slot);
            if !self.used[i] || c == 0 {
                continue;
            }
            touched += 1;
            if symbol.len() > self.len[i] {
                self.free(i);
                inconsistent += 1;
                continue;
            }
            if let Some(p) = self.payload.get_mut(i * STRIDE..i * STRIDE + symbol.len()) {
                gf256::mul_add_slice(p, symbol, c);
            }
            if let Some(x) = self.coef.get_mut(i * self.span + slot) {
                *x = 0;
            }
            if self.pivot_slot(i) == slot {
                lost_pivot = Some(i);
            }
        }
        if let Some(i) = lost_pivot {
            self.used[i] = false;
            self.settle(i, col_esi);
        }
        (touched, inconsistent)
    }

    /// Drops every row that involves column `slot` (its symbol is given up).
    pub(super) fn drop_column(&mut self, slot: usize) {
        for i in 0..self.used.len() {
            if self.used[i] && self.coef_at(i, slot) != 0 {
                self.free(i);
            }
        }
    }

    /// The next row that determines its pivot alone: `(pivot ESI, row)`. The row's payload is
    /// then the symbol itself; read it with [`System::payload`] and [`System::free`] it.
    pub(super) fn solved(&self) -> Option<(u64, usize)> {
        (0..self.used.len()).find_map(|i| {
            let row = self.coef.get(i * self.span..(i + 1) * self.span)?;
            let solved = self.used[i] && row.iter().filter(|&&c| c != 0).count() == 1;
            solved.then(|| (self.pivot[i], i))
        })
    }

    /// A row's payload up to its width.
    pub(super) fn payload(&self, row: usize) -> &[u8] {
        let len = self.len.get(row).copied().unwrap_or(0);
        self.payload
            .get(row * STRIDE..row * STRIDE + len)
            .unwrap_or_default()
    }

    /// Empties `row`, restoring the all-zero invariant of its buffers.
    pub(super) fn free(&mut self, row: usize) {
        let len = self.len.get(row).copied().unwrap_or(0);
        if let Some(p) = self.payload.get_mut(row * STRIDE..row * STRIDE + len) {
            p.fill(0);
        }
        if let Some(c) = self.coef.get_mut(row * self.span..(row + 1) * self.span) {
            c.fill(0);
        }
        if let Some(u) = self.used.get_mut(row) {
            *u = false;
        }
        if let Some(l) = self.len.get_mut(row) {
            *l = 0;
        }
    }

    fn pivot_slot(&self, row: usize) -> usize {
        self.pivot.get(row).copied().unwrap_or(0) as usize & (self.span - 1)
    }

    fn coef_at(&self, row: usize, slot: usize) -> u8 {
        self.coef.get(row * self.span + slot).copied().unwrap_or(0)
    }

    fn scale_row(&mut self, row: usize, c: u8) {
        let len = self.len.get(row).copied().unwrap_or(0);
        if let Some(p) = self.payload.get_mut(row * STRIDE..row * STRIDE + len) {
            gf256::scale_slice(p, c);
        }
        if let Some(x) = self.coef.get_mut(row * self.span..(row + 1) * self.span) {
            gf256::scale_slice(x, c);
        }
    }

    /// `row[dst] += c · row[src]`, coefficients and payload.
    fn add_row(&mut self, dst: usize, src: usize, c: u8) {
        if c == 0 {
            return;
        }
        let src_len = self.len.get(src).copied().unwrap_or(0);
        if let Some((d, s)) = two_rows(&mut self.coef, self.span, dst, src) {
            gf256::mul_add_slice(d, s, c);
        }
        if let Some((d, s)) = two_rows(&mut self.payload, STRIDE, dst, src) {
            gf256::mul_add_slice(d, s.get(..src_len).unwrap_or_default(), c);
        }
        if let Some(l) = self.len.get_mut(dst) {
            *l = (*l).max(src_len);
        }
    }
}

/// Row `dst` mutably and row `src` shared out of one buffer of `stride`-byte rows.
fn two_rows(buf: &mut [u8], stride: usize, dst: usize, src: usize) -> Option<(&mut [u8], &[u8])> {
    if dst < src {
        let (lo, hi) = buf.split_at_mut(src * stride);
        Some((
            lo.get_mut(dst * stride..(dst + 1) * stride)?,
            hi.get(..stride)?,
        ))
    } else if dst > src {
        let (lo, hi) = buf.split_at_mut(dst * stride);
        Some((
            hi.get_mut(..stride)?,
            lo.get(src * stride..(src + 1) * stride)?,
        ))
    } else {
        None
    }
}
