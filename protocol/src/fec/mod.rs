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
//! Build codecs with [`new_encoder`] and [`new_decoder`]; [`FecScheme::Off`] gives no-op codecs
//! so a session can hold one codec pair whatever its scheme.
//!
//! Layout:
//! - `mod.rs`: the [`FecEncoder`] / [`FecDecoder`] traits, [`FecField`], [`FecScheme`], errors,
//!   the constructors and the no-op codecs of [`FecScheme::Off`].
//! - `symbol.rs`: the length-prefixed symbol layout and the preallocated symbol store.
//! - `group.rs`: the per-code trait and the fixed ring of group slots the decoders share.
//! - `encoder.rs`: the group-building encoder (close on `k` packets or the deadline).
//! - `decoder.rs`: the decoder on the ring (store, validate, recover, queue).
//! - `xor.rs`: XOR parity (k,1).
//! - `rs.rs`: Reed-Solomon (k,m) over GF(2^8), on `reed-solomon-erasure`
//!   (docs/decisions/0004-reed-solomon-crate.md).
//! - `dup.rs`: duplication (every packet sent twice).
//! - `gf256.rs`: GF(2^8) arithmetic for the sliding-window code.
//! - `sliding.rs`: sliding-window random linear code (RFC 8681 style), no groups at all.

mod decoder;
mod dup;
mod encoder;
pub mod gf256;
mod group;
mod rs;
pub mod sliding;
mod symbol;
mod xor;

use std::time::Duration;

use crate::time::Micros;

use decoder::GroupDecoder;
use dup::DupCode;
use encoder::GroupEncoder;
use rs::RsCode;
use sliding::{DEFAULT_SPAN, SlidingDecoder, SlidingEncoder};
use xor::XorCode;

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
    /// A decoder's slot count is zero or above [`MAX_DECODER_SLOTS`].
    #[error("invalid decoder slot count {0}")]
    InvalidSlots(usize),
    /// A parity packet of a group older than the decoder's window of slots; it is dropped.
    #[error("parity of group {0} is older than the decoder window")]
    StaleGroup(u16),
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

    /// When the open group's deadline expires, if a group is open; or, while parity of a
    /// closed group is still waiting to be polled, the (past) time it became due.
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

/// Most group slots a decoder may keep. At the largest shape (15+15) that is
/// 256 × 30 × [`MAX_PARITY_PAYLOAD`] ≈ 10.8 MB, the most one session may pin; real sessions use
/// 8–32 slots of a much smaller shape.
pub const MAX_DECODER_SLOTS: usize = 256;

impl FecScheme {
    /// The group shape `(k, m)` the scheme plans, or `None` for [`FecScheme::Off`].
    ///
    /// # Errors
    /// [`FecError::InvalidParameters`] when `k` or `m` is zero or above 15.
    pub fn shape(self) -> Result<Option<(u8, u8)>, FecError> {
        let (k, m) = match self {
            FecScheme::Off => return Ok(None),
            FecScheme::Xor { k } => (k, 1),
            FecScheme::ReedSolomon { k, m } => (k, m),
            FecScheme::Duplicate => (1, 1),
            FecScheme::Sliding {
                window,
                repairs,
                interval,
            } => {
                if interval == 0 || interval > MAX_K {
                    return Err(FecError::InvalidSlidingParameter("interval must be 1..=15"));
                }
                (window, repairs)
            }
        };
        if k == 0 || k > MAX_K || m == 0 || m > MAX_M {
            return Err(FecError::InvalidParameters { k, m });
        }
        Ok(Some((k, m)))
    }
}

/// Builds the sender side of `scheme`.
///
/// Groups close after `k` packets or when `deadline` has passed since their first packet,
/// whichever comes first. [`FecScheme::Duplicate`] closes every group on its one packet and
/// ignores `deadline`. [`FecScheme::Off`] gives a no-op encoder: every packet gets
/// [`FecField::NONE`] and no parity is ever due.
///
/// Memory, allocated here once: `(k + m) ×` [`MAX_PARITY_PAYLOAD`] bytes of symbol buffers, plus
/// for Reed-Solomon one coder per possible group size `1..=k` (about 10 kB each).
///
/// # Errors
/// [`FecError::InvalidParameters`] when the scheme's `k` or `m` is out of range.
pub fn new_encoder(scheme: FecScheme, deadline: Duration) -> Result<Box<dyn FecEncoder>, FecError> {
    Ok(match scheme {
        FecScheme::Off => Box::new(NoFec),
        FecScheme::Xor { k } => {
            check(scheme)?;
            Box::new(GroupEncoder::new(XorCode, k, 1, deadline))
        }
        FecScheme::ReedSolomon { k, m } => {
            check(scheme)?;
            Box::new(GroupEncoder::new(RsCode::new(k, m)?, k, m, deadline))
        }
        FecScheme::Duplicate => Box::new(GroupEncoder::new(DupCode, 1, 1, Duration::ZERO)),
        FecScheme::Sliding {
            window,
            repairs,
            interval,
        } => Box::new(SlidingEncoder::new(window, repairs, interval)?),
    })
}

/// Builds the receiver side of `scheme` with a ring of `slots` group slots.
///
/// `slots` is rounded up to a power of two so that `group % slots` stays continuous across the
/// 16-bit wrap of group numbers; the decoder remembers that many most recent groups and drops
/// parity of older ones. [`FecScheme::Off`] gives a no-op decoder that delivers every data
/// packet and rejects parity with [`FecError::BadField`].
///
/// Behaviour worth knowing when driving it:
/// - A data packet with [`FecField::NONE`] takes no part in FEC and is always delivered.
/// - A data packet of a group older than the window is delivered (no state is left to judge
///   it; exact duplicates are the header replay window's job), while parity of such a group is
///   refused with [`FecError::StaleGroup`].
/// - Parity arriving first can rebuild a packet whose original is still in flight; the
///   original is then reported [`DataVerdict::Duplicate`]. Every packet comes out once.
/// - A group whose parity proves corrupt ([`FecError::Malformed`]) is given up: nothing is
///   rebuilt from it, its data packets are still delivered as they arrive.
///
/// Memory, allocated here once and never grown: [`decoder_buffer_bytes`] of symbol buffers
/// (`slots × (k + m) ×` [`MAX_PARITY_PAYLOAD`], e.g. 16 slots of RS(4,2) ≈ 135 kB), plus for
/// Reed-Solomon one coder per possible group size `1..=k` (about 10 kB each). Measured: RS(8,3)
/// with 32 slots holds ≈ 582 kB, XOR(4) with 16 slots ≈ 115 kB.
///
/// # Errors
/// [`FecError::InvalidParameters`] for an out-of-range scheme, [`FecError::InvalidSlots`] when
/// `slots` is zero or above [`MAX_DECODER_SLOTS`].
pub fn new_decoder(scheme: FecScheme, slots: usize) -> Result<Box<dyn FecDecoder>, FecError> {
    if scheme == FecScheme::Off {
        return Ok(Box::new(NoFec));
    }
    if slots == 0 || slots > MAX_DECODER_SLOTS {
        return Err(FecError::InvalidSlots(slots));
    }
    let slots = slots.next_power_of_two();
    Ok(match scheme {
        FecScheme::Xor { k } => {
            check(scheme)?;
            Box::new(GroupDecoder::new(XorCode, k, 1, slots))
        }
        FecScheme::ReedSolomon { k, m } => {
            check(scheme)?;
            Box::new(GroupDecoder::new(RsCode::new(k, m)?, k, m, slots))
        }
        FecScheme::Sliding { window, .. } => {
            check(scheme)?;
            Box::new(SlidingDecoder::new(window, DEFAULT_SPAN.max(window))?)
        }
        FecScheme::Duplicate | FecScheme::Off => Box::new(GroupDecoder::new(DupCode, 1, 1, slots)),
    })
}

/// Bytes of symbol buffers [`new_decoder`] allocates for `scheme` and `slots` (after rounding
/// `slots` up to a power of two), or 0 when the arguments are invalid or FEC is off.
pub fn decoder_buffer_bytes(scheme: FecScheme, slots: usize) -> usize {
    if let FecScheme::Sliding { .. } = scheme {
        // The sliding decoder has no slots: a span of symbols and as many equations.
        return sliding::buffer_bytes(usize::from(DEFAULT_SPAN));
    }
    match scheme.shape() {
        Ok(Some((k, m))) if (1..=MAX_DECODER_SLOTS).contains(&slots) => {
            slots.next_power_of_two() * (usize::from(k) + usize::from(m)) * MAX_PARITY_PAYLOAD
        }
        _ => 0,
    }
}

fn check(scheme: FecScheme) -> Result<(), FecError> {
    scheme.shape().map(|_| ())
}

/// The codec of [`FecScheme::Off`]: no fields, no parity, every data packet delivered.
struct NoFec;

impl FecEncoder for NoFec {
    fn on_data(&mut self, _now: Micros, _payload: &[u8]) -> Result<FecField, FecError> {
        Ok(FecField::NONE)
    }

    fn poll_parity(&mut self, _now: Micros, _out: &mut [u8]) -> Option<(FecField, usize)> {
        None
    }

    fn next_deadline(&self) -> Option<Micros> {
        None
    }
}

impl FecDecoder for NoFec {
    fn on_data(
        &mut self,
        _now: Micros,
        _field: FecField,
        _payload: &[u8],
    ) -> Result<DataVerdict, FecError> {
        Ok(DataVerdict::Deliver)
    }

    fn on_parity(
        &mut self,
        _now: Micros,
        field: FecField,
        _payload: &[u8],
    ) -> Result<(), FecError> {
        Err(FecError::BadField(field))
    }

    fn poll_recovered(&mut self, _out: &mut [u8]) -> Option<Recovered> {
        None
    }
}
