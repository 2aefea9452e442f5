//! Length-delimited frames on QUIC streams: `u32` big-endian length, then that many bytes.
//! Each stream carries exactly one frame in each direction, then ends.
//!
//! The bytes are opaque here; `lightspeed_protocol::control` gives them their envelope.

use quinn::{ReadExactError, RecvStream, SendStream};

use super::QuicError;

/// Default largest frame payload, bytes: the control envelope's limit (64 KiB). Enforced on the
/// length prefix, before anything is allocated.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// Size of the length prefix.
pub const LENGTH_PREFIX: usize = 4;

fn exact(err: ReadExactError) -> QuicError {
    match err {
        ReadExactError::FinishedEarly(_) => QuicError::BadFrame("stream ended inside a frame"),
        ReadExactError::ReadError(e) => e.into(),
    }
}

/// Writes one frame and finishes the stream.
pub(crate) async fn write_frame(
    send: &mut SendStream,
    frame: &[u8],
    max: usize,
) -> Result<(), QuicError> {
    let len = u32::try_from(frame.len())
        .ok()
        .filter(|_| frame.len() <= max)
        .ok_or(QuicError::FrameTooLarge {
            len: frame.len() as u64,
            max,
        })?;
    send.write_all(&len.to_be_bytes()).await?;
    send.write_all(frame).await?;
    send.finish()?;
    Ok(())
}

/// Reads the one frame of a stream: checks the length prefix against `max` before
/// allocating, then requires the stream to end right after the frame.
pub(crate) async fn read_frame(recv: &mut RecvStream, max: usize) -> Result<Vec<u8>, QuicError> {
    let mut prefix = [0u8; LENGTH_PREFIX];
    recv.read_exact(&mut prefix).await.map_err(exact)?;
    let len = u32::from_be_bytes(prefix);
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > max {
        return Err(QuicError::FrameTooLarge {
            len: u64::from(len),
            max,
        });
    }
    let mut frame = vec![0u8; len_usize];
    recv.read_exact(&mut frame).await.map_err(exact)?;
    let mut probe = [0u8; 1];
    match recv.read(&mut probe).await? {
        None => Ok(frame),
        Some(_) => Err(QuicError::BadFrame("bytes after the frame")),
    }
}
