//! The control-plane server: accepts connections, reads one request frame per bidirectional
//! stream, hands it to a [`Handler`], writes the one response frame back.
//!
//! Admission happens before state (STYLE.md): an `Incoming` over `max_connections` is refused
//! before its handshake; an anonymous connection over `max_anonymous_connections` is closed
//! right after it. Each stream then holds one of `max_in_flight` permits while it is read
//! (bounded by `read_timeout` and `max_frame`), handled (`handler_timeout`) and answered
//! (`write_timeout`, including the client's acknowledgement).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use quinn::{Endpoint, Incoming, RecvStream, SendStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::timeout;
use tracing::{debug, warn};

use super::QuicError;
use super::error::{code, codes};
use super::frame::{read_frame, write_frame};
use super::gossip::{NodeDatagram, read_datagrams};
use super::limits::{Counters, ServerLimits, ServerStats, bump};
use super::peer::{PeerIdentity, PeerInfo, identify};

/// Answers requests. One call per request frame; calls run concurrently.
pub trait Handler: Send + Sync + 'static {
    /// Returns the response frame for `request` from `peer`. An anonymous peer (an edge) has
    /// proved nothing yet: check its token before doing anything on its behalf. A response
    /// longer than the server's `max_frame` is not sent; the stream is reset with
    /// [`codes::FRAME_TOO_LARGE`].
    fn handle<'a>(
        &'a self,
        peer: &'a PeerInfo,
        request: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + 'a>>;
}

/// A QUIC control-plane server bound to one UDP socket. Cloning shares it.
#[derive(Clone)]
pub struct ControlServer {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    local_addr: SocketAddr,
    limits: ServerLimits,
    connections: Arc<Semaphore>,
    anonymous: Arc<Semaphore>,
    in_flight: Arc<Semaphore>,
    in_flight_permits: u32,
    stop: watch::Sender<bool>,
    counters: Counters,
}

impl ControlServer {
    /// Binds `addr` (port 0 for an ephemeral port) with [`ServerLimits::default`]. Must be
    /// called inside a tokio runtime.
    pub fn bind(addr: SocketAddr, config: quinn::ServerConfig) -> Result<ControlServer, QuicError> {
        ControlServer::bind_with_limits(addr, config, ServerLimits::default())
    }

    /// Binds `addr` with explicit limits. Limits of zero are raised to one.
    pub fn bind_with_limits(
        addr: SocketAddr,
        config: quinn::ServerConfig,
        limits: ServerLimits,
    ) -> Result<ControlServer, QuicError> {
        let endpoint = Endpoint::server(config, addr).map_err(QuicError::Bind)?;
        let local_addr = endpoint.local_addr().map_err(QuicError::Bind)?;
        let permits = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
        let in_flight_permits = u32::try_from(permits(limits.max_in_flight)).unwrap_or(u32::MAX);
        Ok(ControlServer {
            inner: Arc::new(Inner {
                endpoint,
                local_addr,
                connections: Arc::new(Semaphore::new(permits(limits.max_connections))),
                anonymous: Arc::new(Semaphore::new(permits(limits.max_anonymous_connections))),
                in_flight: Arc::new(Semaphore::new(in_flight_permits as usize)),
                in_flight_permits,
                limits,
                stop: watch::channel(false).0,
                counters: Counters::default(),
            }),
        })
    }

    /// The bound address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The underlying endpoint, e.g. to open client connections from the same UDP port
    /// (clone it and set a default client config on the clone).
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Counters since bind.
    pub fn stats(&self) -> ServerStats {
        self.inner.counters.snapshot()
    }

    /// Accepts connections and serves their streams until [`ControlServer::shutdown`] has
    /// finished. Connections and streams run on spawned tasks.
    pub async fn serve(&self, handler: Arc<dyn Handler>) {
        self.serve_with_datagrams(handler, None).await
    }

    /// [`ControlServer::serve`], also forwarding the datagrams of connections from mesh nodes
    /// (certificate verified, named) to `datagrams`, tagged with the node name. Datagrams on
    /// anonymous (edge) connections are never read: they can claim nothing in the mesh.
    pub async fn serve_with_datagrams(
        &self,
        handler: Arc<dyn Handler>,
        datagrams: Option<mpsc::Sender<NodeDatagram>>,
    ) {
        // `accept` yields `None` once `shutdown` has closed the endpoint.
        while let Some(incoming) = self.inner.endpoint.accept().await {
            if *self.inner.stop.borrow() {
                bump(&self.inner.counters.connections_refused_shutdown);
                incoming.refuse();
                continue;
            }
            let Ok(permit) = self.inner.connections.clone().try_acquire_owned() else {
                bump(&self.inner.counters.connections_refused_capacity);
                incoming.refuse();
                continue;
            };
            let inner = self.inner.clone();
            let handler = handler.clone();
            let datagrams = datagrams.clone();
            tokio::spawn(async move {
                inner
                    .run_connection(incoming, handler, datagrams, permit)
                    .await
            });
        }
    }

    /// Graceful shutdown: refuses new connections (CONNECTION_REFUSED) and stops accepting
    /// streams, waits up to `shutdown_grace` for in-flight requests to be answered, closes
    /// every connection with [`codes::OK`], and waits up to `shutdown_grace` for the closes to
    /// be sent. New connection attempts keep being refused while any handle to this server
    /// exists; the UDP socket is released when the last handle is dropped.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.stop.send_replace(true);
        let grace = inner.limits.shutdown_grace;
        let drained = timeout(grace, inner.in_flight.acquire_many(inner.in_flight_permits)).await;
        if drained.is_err() {
            warn!("control server shutdown: requests still in flight after {grace:?}");
        }
        // Streams accepted in the meantime give up instead of waiting for a permit.
        inner.in_flight.close();
        inner.endpoint.close(code(codes::OK), b"shutdown");
        if timeout(grace, inner.endpoint.wait_idle()).await.is_err() {
            warn!("control server shutdown: connections not idle after {grace:?}");
        }
    }
}

impl Inner {
    async fn run_connection(
        self: Arc<Self>,
        incoming: Incoming,
        handler: Arc<dyn Handler>,
        datagrams: Option<mpsc::Sender<NodeDatagram>>,
        _permit: OwnedSemaphorePermit,
    ) {
        let addr = incoming.remote_address();
        let conn = match incoming.accept() {
            Ok(connecting) => connecting.await,
            Err(e) => Err(e),
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                bump(&self.counters.handshakes_failed);
                debug!(%addr, error = %e, "control handshake failed");
                return;
            }
        };
        let identity = match identify(&conn) {
            Ok(identity) => identity,
            Err(e) => {
                bump(&self.counters.no_node_name);
                warn!(%addr, error = %e, "mesh certificate names no node; closing");
                conn.close(code(codes::NO_NODE_NAME), b"certificate names no node");
                return;
            }
        };
        let _anonymous_permit = match &identity {
            PeerIdentity::Node(name) => {
                if let Some(sink) = datagrams {
                    tokio::spawn(read_datagrams(conn.clone(), name.clone(), sink));
                }
                None
            }
            PeerIdentity::Anonymous => match self.anonymous.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    bump(&self.counters.connections_refused_capacity);
                    conn.close(code(codes::BUSY), b"too many anonymous connections");
                    return;
                }
            },
        };
        bump(&self.counters.connections_accepted);
        debug!(%addr, ?identity, "control connection accepted");
        let peer = Arc::new(PeerInfo { addr, identity });
        let mut stop = self.stop.subscribe();
        loop {
            let (send, recv) = tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => break,
                stream = conn.accept_bi() => match stream {
                    Ok(stream) => stream,
                    Err(e) => {
                        debug!(%addr, reason = %e, "control connection ended");
                        break;
                    }
                },
            };
            let inner = self.clone();
            let handler = handler.clone();
            let peer = peer.clone();
            tokio::spawn(async move {
                let Ok(_permit) = inner.in_flight.clone().acquire_owned().await else {
                    return;
                };
                inner.serve_stream(&*handler, &peer, send, recv).await;
            });
        }
    }

    async fn serve_stream(
        &self,
        handler: &dyn Handler,
        peer: &PeerInfo,
        mut send: SendStream,
        mut recv: RecvStream,
    ) {
        let limits = &self.limits;
        let request =
            match timeout(limits.read_timeout, read_frame(&mut recv, limits.max_frame)).await {
                Ok(Ok(request)) => request,
                Ok(Err(QuicError::FrameTooLarge { len, max })) => {
                    bump(&self.counters.requests_too_large);
                    debug!(addr = %peer.addr, len, max, "request frame too large");
                    return reject(send, recv, codes::FRAME_TOO_LARGE);
                }
                Ok(Err(QuicError::BadFrame(what))) => {
                    bump(&self.counters.bad_frames);
                    debug!(addr = %peer.addr, what, "bad request frame");
                    return reject(send, recv, codes::BAD_FRAME);
                }
                Ok(Err(_)) => return bump(&self.counters.streams_lost),
                Err(_) => {
                    bump(&self.counters.stream_timeouts);
                    return reject(send, recv, codes::TIMEOUT);
                }
            };
        let Ok(response) = timeout(limits.handler_timeout, handler.handle(peer, request)).await
        else {
            bump(&self.counters.handler_timeouts);
            warn!(addr = %peer.addr, "control handler timed out");
            return reject(send, recv, codes::HANDLER_TIMEOUT);
        };
        if response.len() > limits.max_frame {
            bump(&self.counters.responses_too_large);
            warn!(
                len = response.len(),
                max = limits.max_frame,
                "response frame too large"
            );
            return reject(send, recv, codes::FRAME_TOO_LARGE);
        }
        let answered = async {
            write_frame(&mut send, &response, limits.max_frame).await?;
            // Only an acknowledged response counts; it also lets shutdown wait for delivery.
            send.stopped()
                .await
                .map_err(|_| QuicError::BadFrame("stream stopped"))
        };
        match timeout(limits.write_timeout, answered).await {
            Ok(Ok(None)) => bump(&self.counters.requests_answered),
            Ok(Ok(Some(_)) | Err(_)) => bump(&self.counters.streams_lost),
            Err(_) => {
                bump(&self.counters.stream_timeouts);
                reject(send, recv, codes::TIMEOUT);
            }
        }
    }
}

/// Ends both halves of a stream with an application error code.
fn reject(mut send: SendStream, mut recv: RecvStream, error: u32) {
    // Either half may already be closed by the peer; nothing more to do then.
    let _ = recv.stop(code(error));
    let _ = send.reset(code(error));
}
