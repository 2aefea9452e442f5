//! Shared input builders for the lightspeed-protocol fuzz targets.
//!
//! Each module turns raw fuzzer bytes into structured, valid protocol values through
//! [`arbitrary::Unstructured`], so targets can check invariants (round trips, length
//! accounting) instead of only "no panic". Add a module per protocol area.

pub mod control;
pub mod fec;
pub mod header;
