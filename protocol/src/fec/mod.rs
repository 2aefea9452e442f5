//! Forward error correction for game traffic.
//!
//! Game traffic is 30–128 small packets per second, so classic FEC groups of 10–20 packets
//! would hold recovery back for hundreds of milliseconds. Every codec here follows three rules:
//!
//! 1. **Data is never held back.** The caller sends each data packet the moment the game
//!    produces it; the encoder only remembers a copy and tells the caller which [`FecField`] to
//!    put in its header.
//! 2. **Groups close on `k` packets or a deadline**, whichever comes first, so parity (and thus
//!    any recovery) is at most `deadline` behind the first packet of its group. A group closed
//!    early by its deadline carries its actual size in the parity packets' [`FecField::k`].
//! 3. **Bounded memory.** Decoders keep a fixed ring of group slots, sized when they are built;
//!    nothing grows with traffic.
//!
//! Packets of one group may have different lengths. Each data packet takes part in the code as
//! a *symbol*: its length as a big-endian `u16`, then its payload, zero-padded to the longest
//! symbol of the group. Parity payloads are parity symbols, so a recovered packet comes back
//! byte-exact.
//!
//! Layout:
//! - `mod.rs`: the [`FecEncoder`] / [`FecDecoder`] traits, [`FecField`], [`FecScheme`], errors.
//! - `symbol.rs`: the length-prefixed symbol layout shared by the codecs.
//! - `xor.rs`: XOR parity (k,1).
//! - `rs.rs`: Reed-Solomon (k,m) over GF(2^8).
//! - `dup.rs`: duplication (every packet sent twice).
//! - `group.rs`: the fixed ring of group slots the decoders share.
//! - `gf256.rs`: GF(2^8) arithmetic for the sliding-window code.
//! - `sliding.rs`: sliding-window random linear code (RFC 8681 style), no groups at all.

use crate::time::Micros;

pub mod gf256;
pub mod sliding;

/// Largest data payload any codec accepts (bytes). Chosen so that a parity packet
/// (payload + 2-byte length prefix + 26-byte header) still fits a 1,452-byte IPv6 UDP payload.
pub const MAX_DATA_PAYLOAD: usize = 1_400;

/// Largest parity payload: the longest symbol of a group.
pub const MAX_PARITY_PAYLOAD: usize = MAX_DATA_PAYLOAD + 2;

/// Largest `k` (data packets per group) and `m` (parity packets per group) the header encodes.
pub const MAX_K: u8 = 15;
/// See [`MAX_K`].
pub const MAX_M: u8 = 15;

/// FEC position of one packet, carried in the data-plane header.
///
/// For data packets `k` and `m` are the *planned* group shape and `index < k`. For parity
/// packets `k` is the *actual* number of data packets in the group (smaller than planned when
/// the deadline closed it) and `index` is `k + parity number`. `k == 0` means "no FEC".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FecField {
    /// Group number; wraps at 2^16.
    pub group: u16,
    /// Position in the group: `0..k` for data, `k..k+m` for parity.
    pub index: u8,
    /// Data packets in the group (1..=15), or 0 when FEC is off.
    pub k: u8,
    /// Parity packets in the group (0..=15).
    pub m: u8,
}

impl FecField {
    /// The field of a packet that takes no part in FEC.
    pub const NONE: FecField = FecField {
        group: 0,
        index: 0,
        k: 0,
        m: 0,
    };

    /// True when this packet takes part in FEC.
    pub const fn is_some(&self) -> bool {
        self.k != 0
    }
}

/// Which code a session uses, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum FecScheme {
    /// No FEC.
    Off,
    /// One XOR parity packet per `k` data packets.
    Xor {
        /// Data packets per group (1..=15).
        k: u8,
    },
    /// Reed-Solomon: `m` parity packets per `k` data packets; recovers any `m` losses.
    ReedSolomon {
        /// Data packets per group (1..=15).
        k: u8,
        /// Parity packets per group (1..=15).
        m: u8,
    },
    /// Every data packet is sent a second time as a parity packet of a one-packet group.
    Duplicate,
    /// Sliding-window random linear code ([`sliding`]): after every `interval`-th data packet,
    /// `repairs` repair packets over the last `window` data packets. Overhead
    /// `repairs / interval`; no deadline, nothing waits.
    Sliding {
        /// Data packets each repair covers (1..=15).
        window: u8,
        /// Repair packets per repair step (1..=15).
        repairs: u8,
        /// Data packets per repair step (1..=15); 1 sends repairs after every packet.
        interval: u8,
    },
}

/// Errors from FEC encoders and decoders. None of them leaves the codec in a bad state: the
/// offending packet is ignored and the caller counts the drop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FecError {
    /// The scheme's parameters are out of range (`k` or `m` zero or above 15).
    #[error("invalid FEC parameters k={k} m={m}")]
    InvalidParameters {
        /// Requested data packets per group.
        k: u8,
        /// Requested parity packets per group.
        m: u8,
    },
    /// A data payload longer than [`MAX_DATA_PAYLOAD`] or a parity payload longer than
    /// [`MAX_PARITY_PAYLOAD`].
    #[error("payload of {len} bytes exceeds the FEC limit")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
    },
    /// A packet's [`FecField`] does not fit the decoder's scheme (index out of range, shape
    /// different from the group's earlier packets, `k` larger than planned).
    #[error("FEC field {0:?} does not fit this decoder")]
    BadField(FecField),
    /// A parity payload shorter than the symbol length it must carry, or a recovered symbol
    /// whose length prefix is impossible (corrupt or forged parity).
    #[error("malformed parity or symbol")]
    Malformed,
    /// A sliding-window code parameter is out of range; the text names it and its range.
    #[error("invalid sliding-window FEC parameter: {0}")]
    InvalidSlidingParameter(&'static str),
}

/// What the decoder says about a received data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum DataVerdict {
    /// First time this packet is seen: deliver it now.
    Deliver,
    /// Already delivered (received before, or recovered from parity): drop it.
    Duplicate,
}

/// A packet rebuilt from parity, written into the caller's buffer by
/// [`FecDecoder::poll_recovered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Group and index the packet had when it was sent (its `k`/`m` are the group's).
    pub field: FecField,
    /// Payload length written at the start of the caller's buffer.
    pub len: usize,
}

/// Sender side of a codec.
///
/// Driving invariant (quinn/str0m style): after every [`FecEncoder::on_data`] and whenever
/// [`FecEncoder::next_deadline`] has passed, call [`FecEncoder::poll_parity`] until it returns
/// `None`.
pub trait FecEncoder: Send {
    /// Registers an outgoing data payload and returns the field to put in its header. The caller
    /// sends the packet immediately; nothing is held back.
    fn on_data(&mut self, now: Micros, payload: &[u8]) -> Result<FecField, FecError>;

    /// Writes the next due parity payload into `out` (which must hold [`MAX_PARITY_PAYLOAD`]
    /// bytes) and returns its field and length, or `None` when no parity is due at `now`.
    fn poll_parity(&mut self, now: Micros, out: &mut [u8]) -> Option<(FecField, usize)>;

    /// When the open group's deadline expires, if a group is open.
    fn next_deadline(&self) -> Option<Micros>;
}

/// Receiver side of a codec.
///
/// Driving invariant: after every [`FecDecoder::on_parity`] (and after [`FecDecoder::on_data`],
/// since a late data packet can complete a group) call [`FecDecoder::poll_recovered`] until it
/// returns `None`.
pub trait FecDecoder: Send {
    /// Registers a received data packet. The caller delivers it at once when the verdict is
    /// [`DataVerdict::Deliver`].
    fn on_data(
        &mut self,
        now: Micros,
        field: FecField,
        payload: &[u8],
    ) -> Result<DataVerdict, FecError>;

    /// Registers a received parity packet.
    fn on_parity(&mut self, now: Micros, field: FecField, payload: &[u8]) -> Result<(), FecError>;

    /// Writes the next recovered packet into `out` (which must hold [`MAX_DATA_PAYLOAD`] bytes).
    fn poll_recovered(&mut self, out: &mut [u8]) -> Option<Recovered>;
}
