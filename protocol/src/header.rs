//! Data-plane header (in progress).
