//! Transport errors and the application error codes put on the wire.

use std::io;
use std::time::Duration;

use quinn::{ConnectionError, VarInt};

use crate::identity::IdentityError;

/// Application error codes sent in QUIC `RESET_STREAM` / `STOP_SENDING` (per stream) and
/// `CONNECTION_CLOSE` (per connection) frames. A client sees a stream code as
/// [`QuicError::Rejected`] and a connection code inside [`QuicError::Closed`].
pub mod codes {
    /// Normal end: a graceful server shutdown or a client dropping its connection.
    pub const OK: u32 = 0;
    /// A frame's length prefix exceeded the receiver's limit; nothing beyond the prefix was read.
    pub const FRAME_TOO_LARGE: u32 = 1;
    /// The request did not arrive, or the response could not be written, within the server's
    /// per-stream timeouts.
    pub const TIMEOUT: u32 = 2;
    /// The stream ended inside a frame, or carried bytes after the one frame it may hold.
    pub const BAD_FRAME: u32 = 3;
    /// The server is at a capacity limit (anonymous connections) or shutting down.
    pub const BUSY: u32 = 4;
    /// The peer presented a certificate signed by the mesh CA that names no valid node.
    pub const NO_NODE_NAME: u32 = 5;
    /// The handler did not produce a response within the server's handler timeout.
    pub const HANDLER_TIMEOUT: u32 = 6;
}

pub(crate) fn code(c: u32) -> VarInt {
    VarInt::from_u32(c)
}

/// Why a QUIC control-plane operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuicError {
    /// A TLS configuration could not be built (e.g. the key does not suit any TLS 1.3
    /// signature scheme, or the provider has no QUIC-capable cipher suite).
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// The identity given to build a configuration is unusable.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Binding the UDP socket failed.
    #[error("bind: {0}")]
    Bind(io::Error),
    /// A connection attempt could not start: invalid server name, endpoint closed, no default
    /// client configuration on the endpoint.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The handshake was refused: a certificate was not trusted (other CA, expired, wrong
    /// server name), the ALPN did not match, or the server refused new connections. The
    /// underlying close says which side refused and why.
    #[error("refused: {0}")]
    Refused(ConnectionError),
    /// The operation did not complete within this time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A frame is longer than the limit; for a received frame, nothing past the length prefix
    /// was read or allocated.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The frame's length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The peer reset or stopped the stream with an application code from [`codes`] (e.g.
    /// [`codes::FRAME_TOO_LARGE`] when the server refused our request as too large).
    #[error("stream rejected by peer with code {0}")]
    Rejected(u64),
    /// A frame was malformed: the stream ended inside it or carried bytes after it.
    #[error("malformed frame: {0}")]
    BadFrame(&'static str),
    /// The connection closed or was lost after it was established (idle timeout, peer
    /// shutdown, reset). The next request on a [`ControlClient`](super::ControlClient)
    /// reconnects.
    #[error("connection closed: {0}")]
    Closed(ConnectionError),
}

impl QuicError {
    /// Classifies a connection error: TLS alerts and server refusals become
    /// [`QuicError::Refused`], everything else [`QuicError::Closed`].
    pub(crate) fn from_connection(err: ConnectionError) -> QuicError {
        if is_refusal(&err) {
            QuicError::Refused(err)
        } else {
            QuicError::Closed(err)
        }
    }
}

/// QUIC carries TLS alerts as transport codes 0x100–0x1ff (RFC 9001 §4.8); 0x2 is
/// CONNECTION_REFUSED (RFC 9000 §20.1).
fn is_refusal(err: &ConnectionError) -> bool {
    let code = match err {
        ConnectionError::TransportError(e) => u64::from(e.code),
        ConnectionError::ConnectionClosed(close) => u64::from(close.error_code),
        _ => return false,
    };
    (0x100..=0x1ff).contains(&code) || code == 0x2
}

impl From<quinn::ReadError> for QuicError {
    fn from(err: quinn::ReadError) -> QuicError {
        match err {
            quinn::ReadError::Reset(code) => QuicError::Rejected(code.into_inner()),
            quinn::ReadError::ConnectionLost(e) => QuicError::from_connection(e),
            quinn::ReadError::ClosedStream => QuicError::BadFrame("stream already closed"),
            quinn::ReadError::IllegalOrderedRead => QuicError::BadFrame("illegal ordered read"),
            quinn::ReadError::ZeroRttRejected => QuicError::Closed(ConnectionError::LocallyClosed),
        }
    }
}

impl From<quinn::WriteError> for QuicError {
    fn from(err: quinn::WriteError) -> QuicError {
        match err {
            quinn::WriteError::Stopped(code) => QuicError::Rejected(code.into_inner()),
            quinn::WriteError::ConnectionLost(e) => QuicError::from_connection(e),
            quinn::WriteError::ClosedStream => QuicError::BadFrame("stream already closed"),
            quinn::WriteError::ZeroRttRejected => QuicError::Closed(ConnectionError::LocallyClosed),
        }
    }
}

impl From<quinn::ClosedStream> for QuicError {
    fn from(_: quinn::ClosedStream) -> QuicError {
        QuicError::BadFrame("stream already closed")
    }
}
