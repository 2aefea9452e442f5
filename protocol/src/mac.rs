//! MAC (in progress).
