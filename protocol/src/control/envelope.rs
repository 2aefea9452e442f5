//! The envelope every control message travels in, and its frame encoding.

use serde::{Deserialize, Serialize};

use super::error::ControlError;
use super::messages::Message;
use super::trace::TraceContext;

/// The control protocol version written after the frame length.
pub const CONTROL_VERSION: u16 = 1;

/// Bytes before the postcard body: the `u32` length and the `u16` version.
pub const FRAME_HEADER_LEN: usize = 6;

/// Largest declared frame length (version + body), 16 KiB. The largest valid version-1
/// envelope (a `SessionRequest` with a full token, game name, four hops and a 512-byte
/// `tracestate`) is 2,014 bytes framed, so this leaves room for later messages while bounding
/// what a stream reader buffers: 16 KiB per stream, about 1.6 MiB for a connection with
/// 100 open streams.
pub const MAX_FRAME_LEN: usize = 16 * 1024;

/// One control message with its request id and trace context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Chosen by the requester, unique among its outstanding requests on the connection;
    /// a reply carries the id of its request.
    pub request_id: u64,
    /// The W3C trace context of the sender's span. Senders set it on every request;
    /// replies may omit it.
    pub trace: Option<TraceContext>,
    /// The message.
    pub body: Message,
}

impl Envelope {
    /// An envelope for `body`.
    pub fn new(request_id: u64, trace: Option<TraceContext>, body: Message) -> Self {
        Envelope {
            request_id,
            trace,
            body,
        }
    }

    /// Checks the trace context and every limit of the message (see [`Message::validate`]).
    pub fn validate(&self) -> Result<(), ControlError> {
        if let Some(trace) = &self.trace {
            trace.validate()?;
        }
        self.body.validate()
    }
}

/// Appends `envelope` to `out` as one frame. Validates first, so nothing a peer would
/// refuse is ever sent. On error `out` is left exactly as it was.
pub fn encode_frame(envelope: &Envelope, out: &mut Vec<u8>) -> Result<(), ControlError> {
    envelope.validate()?;
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&CONTROL_VERSION.to_be_bytes());
    if let Err(e) = postcard::to_extend(envelope, Append(out)) {
        out.truncate(start);
        return Err(ControlError::Encode(e));
    }
    let len = out.len() - start - 4;
    match u32::try_from(len) {
        Ok(len32) if len <= MAX_FRAME_LEN => {
            if let Some(prefix) = out.get_mut(start..start + 4) {
                prefix.copy_from_slice(&len32.to_be_bytes());
            }
            Ok(())
        }
        _ => {
            out.truncate(start);
            Err(ControlError::FrameTooLarge {
                len,
                max: MAX_FRAME_LEN,
            })
        }
    }
}

/// Decodes the frame at the start of `buf`, returning the envelope and the number of bytes
/// the frame took. Trailing input after the frame is left alone (it is the next frame).
///
/// Errors, in the order they are checked:
/// [`ControlError::Incomplete`] while the six header bytes or the body are still missing
/// (a declared length below 2 is [`ControlError::FrameTooShort`] as soon as four bytes are
/// in), then [`ControlError::UnsupportedVersion`], then [`ControlError::FrameTooLarge`]
/// (before waiting for the body), then body errors: [`ControlError::Decode`],
/// [`ControlError::TrailingBytes`] and the validation errors of [`Envelope::validate`].
pub fn decode_frame(buf: &[u8]) -> Result<(Envelope, usize), ControlError> {
    let total = frame_extent(buf)?;
    let body = buf.get(FRAME_HEADER_LEN..total).unwrap_or_default();
    let (envelope, rest) =
        postcard::take_from_bytes::<Envelope>(body).map_err(ControlError::Decode)?;
    if !rest.is_empty() {
        return Err(ControlError::TrailingBytes { count: rest.len() });
    }
    envelope.validate()?;
    Ok((envelope, total))
}

/// Checks the frame header at the start of `buf` and returns the frame's total length
/// (header included) once all of it is in `buf`. Its only errors are `Incomplete` and those
/// for which [`ControlError::ends_stream`] is true, so any other error comes from the body of
/// a frame whose extent is known, and a reader can skip that frame.
pub(crate) fn frame_extent(buf: &[u8]) -> Result<usize, ControlError> {
    let Some(&[a, b, c, d]) = buf.first_chunk::<4>() else {
        return Err(ControlError::Incomplete {
            needed: 4 - buf.len(),
        });
    };
    // u32 always fits usize on the 32- and 64-bit targets we build for; saturate otherwise
    // so the limit check below still refuses it.
    let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
    if len < 2 {
        return Err(ControlError::FrameTooShort { len });
    }
    let Some(&[_, _, _, _, v0, v1]) = buf.first_chunk::<FRAME_HEADER_LEN>() else {
        return Err(ControlError::Incomplete {
            needed: FRAME_HEADER_LEN - buf.len(),
        });
    };
    let version = u16::from_be_bytes([v0, v1]);
    if version != CONTROL_VERSION {
        return Err(ControlError::UnsupportedVersion { got: version });
    }
    if len > MAX_FRAME_LEN {
        return Err(ControlError::FrameTooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let total = 4 + len;
    if buf.len() < total {
        return Err(ControlError::Incomplete {
            needed: total - buf.len(),
        });
    }
    Ok(total)
}

/// Lets postcard append to a caller's `Vec` it does not own.
struct Append<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Append<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}
