//! A bounded, incremental frame reader for one control stream.

use super::envelope::{Envelope, MAX_FRAME_LEN, decode_frame, frame_extent};
use super::error::ControlError;

/// Bytes a reader buffers at most: exactly one frame of the largest allowed size.
const CAPACITY: usize = 4 + MAX_FRAME_LEN;

/// Turns the bytes of one stream, in chunks of any size, into envelopes.
///
/// Memory is fixed at construction (one largest frame, about 16 KiB). Driving loop for each
/// chunk read from the stream:
///
/// ```
/// # use lightspeed_protocol::control::{ControlError, FrameReader};
/// # fn handle(_: lightspeed_protocol::control::Envelope) {}
/// # fn run(reader: &mut FrameReader, chunk: &[u8]) -> Result<(), ControlError> {
/// let mut input = chunk;
/// while !input.is_empty() {
///     let taken = reader.push(input);
///     input = input.get(taken..).unwrap_or_default();
///     while let Some(envelope) = reader.pop()? {
///         handle(envelope);
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The loop always makes progress: `push` takes nothing only when the buffer is full, and a
/// full buffer always holds a complete frame or a framing error for `pop` to return.
/// When `pop` fails with an error whose [`ControlError::ends_stream`] is false, that frame
/// has been skipped and reading may go on; otherwise the reader keeps returning the same
/// error and the stream should be closed.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Start of the first unread byte in `buf`; bytes before it are consumed frames,
    /// reclaimed lazily by `push` so popping many small frames never shifts the buffer.
    start: usize,
}

impl FrameReader {
    /// An empty reader with its whole buffer allocated.
    pub fn new() -> Self {
        FrameReader {
            buf: Vec::with_capacity(CAPACITY),
            start: 0,
        }
    }

    /// Buffers as much of `bytes` as fits and returns how many bytes it took. Feed the rest
    /// after [`FrameReader::pop`] has drained what is complete.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 && CAPACITY - self.buf.len() < bytes.len() {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        let take = bytes.len().min(CAPACITY - self.buf.len());
        self.buf
            .extend_from_slice(bytes.get(..take).unwrap_or_default());
        take
    }

    /// The next complete envelope, `Ok(None)` when more bytes are needed, or the error of
    /// the next frame (see the type's documentation for what to do with it).
    pub fn pop(&mut self) -> Result<Option<Envelope>, ControlError> {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        let total = match frame_extent(pending) {
            Ok(total) => total,
            Err(ControlError::Incomplete { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let result = decode_frame(pending).map(|(envelope, _)| envelope);
        self.start += total;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        result.map(Some)
    }

    /// Bytes buffered and not yet returned as envelopes.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// True when the next bytes would start a new frame (no partial frame is buffered).
    /// A stream that ends while this is false ended in the middle of a frame.
    pub fn is_at_boundary(&self) -> bool {
        self.buffered() == 0
    }
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}
