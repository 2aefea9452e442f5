//! Identifiers and keys shared by the data and control planes.

use std::fmt;

/// A tunnel session, chosen by the proxy that admits it. Zero is never a valid id, so a
/// zeroed buffer can never pass for a session.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SessionId(pub u32);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The per-session 256-bit key that authenticates every data-plane header (BLAKE3 keyed mode).
/// Issued by the proxy in the control handshake; never sent on the data plane.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionKey(pub [u8; 32]);

impl fmt::Debug for SessionKey {
    // Keys must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}
