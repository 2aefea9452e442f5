//! Errors from encoding, decoding and validating control frames.

use super::messages::ErrorCode;
use super::trace::TraceError;

/// Why a control frame could not be encoded or decoded.
///
/// [`ControlError::ends_stream`] tells a stream reader whether the frame boundaries are
/// still known (skip the frame, answer with an [`ErrorCode`], keep reading) or lost
/// (close the stream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The input ends before the frame does; at least `needed` more bytes are required
    /// before decoding can make progress. Not a failure: read more and try again.
    #[error("incomplete frame: at least {needed} more bytes needed")]
    Incomplete {
        /// Further bytes needed, at minimum.
        needed: usize,
    },
    /// The declared length is below 2, too short to hold even the version.
    #[error("frame length {len} is too short to hold the version")]
    FrameTooShort {
        /// The declared length.
        len: usize,
    },
    /// The declared (on decode) or encoded (on encode) length exceeds the frame limit.
    /// On decode this is reported from the six header bytes alone, before the body is read.
    #[error("frame length {len} exceeds the limit of {max}")]
    FrameTooLarge {
        /// The declared or encoded length.
        len: usize,
        /// The limit, [`super::MAX_FRAME_LEN`].
        max: usize,
    },
    /// The frame's protocol version is not [`super::CONTROL_VERSION`].
    #[error("unsupported control protocol version {got}")]
    UnsupportedVersion {
        /// The version the peer sent.
        got: u16,
    },
    /// The body is not a postcard-encoded envelope (bad tag, truncated field, bad UTF-8,
    /// unknown message variant).
    #[error("malformed envelope: {0}")]
    Decode(#[source] postcard::Error),
    /// postcard refused to serialise the envelope.
    #[error("envelope could not be encoded: {0}")]
    Encode(#[source] postcard::Error),
    /// The envelope decoded but did not use the whole frame body.
    #[error("{count} bytes after the envelope inside the frame")]
    TrailingBytes {
        /// Unused bytes at the end of the body.
        count: usize,
    },
    /// A string or list is longer than its documented limit.
    #[error("{field} is {len} long, limit {max}")]
    TooLong {
        /// Path of the field, e.g. `"SessionRequest.token"`.
        field: &'static str,
        /// Its length (bytes for strings, items for lists).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field holds a value the protocol forbids (zero session id, empty name, FEC
    /// parameters out of range, port 0, ...).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Path of the field, e.g. `"SessionGrant.session"`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The envelope's trace context breaks W3C Trace Context.
    #[error("invalid trace context: {0}")]
    Trace(#[from] TraceError),
}

impl ControlError {
    /// True when the frame boundaries of the stream are lost (bad length or version), so
    /// nothing after this point can be trusted and the stream must be closed. False when
    /// only one frame was bad and reading may continue with the next.
    pub fn ends_stream(&self) -> bool {
        matches!(
            self,
            ControlError::FrameTooShort { .. }
                | ControlError::FrameTooLarge { .. }
                | ControlError::UnsupportedVersion { .. }
        )
    }

    /// The [`ErrorCode`] to send back to a peer whose frame failed with this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ControlError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            ControlError::Encode(_) => ErrorCode::Internal,
            _ => ErrorCode::Malformed,
        }
    }
}
