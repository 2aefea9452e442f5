//! Replay window (in progress).
