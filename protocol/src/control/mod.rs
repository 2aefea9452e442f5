//! Control-plane messages (filled in by the control work).
