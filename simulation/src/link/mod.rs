//! Link emulator core (in progress).
