//! Server limits and counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::frame::DEFAULT_MAX_FRAME;

/// Bounds of a [`ControlServer`](super::ControlServer). Memory in the worst case is about
/// `max_connections × receive_window` (QUIC buffering, see
/// [`TransportSettings`](super::TransportSettings)) plus `max_in_flight × 2 × max_frame`
/// (request and response of each request being served): 128 MiB + 32 MiB with the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Established or handshaking connections at once; more are refused with
    /// CONNECTION_REFUSED before any state is kept. Default 512: a mesh of tens of nodes plus a
    /// few hundred players' edges per relay.
    pub max_connections: usize,
    /// Of those, connections without a certificate (edges) at once; more are closed with
    /// [`codes::BUSY`](super::codes::BUSY). Default 384, so anonymous clients can never take
    /// the last 128 slots away from mesh members.
    pub max_anonymous_connections: usize,
    /// Requests being read, handled or answered at once, server-wide. Default 256. Streams
    /// beyond it wait (their bytes stay in QUIC flow control, bounded per connection).
    pub max_in_flight: usize,
    /// Largest request and response frame, bytes. Default [`DEFAULT_MAX_FRAME`] (64 KiB).
    pub max_frame: usize,
    /// Time for a request frame to arrive once its stream is served. Default 5 s: a request is
    /// at most 64 KiB, which takes well under a second on any link that can play games.
    pub read_timeout: Duration,
    /// Time the handler may take. Default 10 s.
    pub handler_timeout: Duration,
    /// Time for the response to be written and acknowledged by the client. Default 5 s.
    pub write_timeout: Duration,
    /// How long [`shutdown`](super::ControlServer::shutdown) waits for in-flight requests, and
    /// then for connections to close. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_connections: 512,
            max_anonymous_connections: 384,
            max_in_flight: 256,
            max_frame: DEFAULT_MAX_FRAME,
            read_timeout: Duration::from_secs(5),
            handler_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A snapshot of a server's counters since it was bound. Every refused connection and every
/// failed stream is counted under exactly one reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections whose handshake completed and that were admitted.
    pub connections_accepted: u64,
    /// Connections refused or closed because `max_connections` or `max_anonymous_connections`
    /// was reached.
    pub connections_refused_capacity: u64,
    /// Connection attempts refused during the shutdown grace period (once the endpoint is
    /// closed, quinn refuses them itself, uncounted).
    pub connections_refused_shutdown: u64,
    /// Handshakes that failed: untrusted client certificate, wrong ALPN, timeout.
    pub handshakes_failed: u64,
    /// Connections closed because a CA-verified certificate named no valid node.
    pub no_node_name: u64,
    /// Requests answered (response written and acknowledged).
    pub requests_answered: u64,
    /// Request frames refused for exceeding `max_frame` (nothing past the prefix was read).
    pub requests_too_large: u64,
    /// Responses not sent because the handler returned more than `max_frame`.
    pub responses_too_large: u64,
    /// Streams that ended inside the frame or carried bytes after it.
    pub bad_frames: u64,
    /// Streams whose request did not arrive, or whose response was not acknowledged, in time.
    pub stream_timeouts: u64,
    /// Requests whose handler exceeded `handler_timeout`.
    pub handler_timeouts: u64,
    /// Streams lost to a reset by the client or a dead connection.
    pub streams_lost: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_refused_capacity: AtomicU64,
    pub(crate) connections_refused_shutdown: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) no_node_name: AtomicU64,
    pub(crate) requests_answered: AtomicU64,
    pub(crate) requests_too_large: AtomicU64,
    pub(crate) responses_too_large: AtomicU64,
    pub(crate) bad_frames: AtomicU64,
    pub(crate) stream_timeouts: AtomicU64,
    pub(crate) handler_timeouts: AtomicU64,
    pub(crate) streams_lost: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            connections_accepted: get(&self.connections_accepted),
            connections_refused_capacity: get(&self.connections_refused_capacity),
            connections_refused_shutdown: get(&self.connections_refused_shutdown),
            handshakes_failed: get(&self.handshakes_failed),
            no_node_name: get(&self.no_node_name),
            requests_answered: get(&self.requests_answered),
            requests_too_large: get(&self.requests_too_large),
            responses_too_large: get(&self.responses_too_large),
            bad_frames: get(&self.bad_frames),
            stream_timeouts: get(&self.stream_timeouts),
            handler_timeouts: get(&self.handler_timeouts),
            streams_lost: get(&self.streams_lost),
        }
    }
}
