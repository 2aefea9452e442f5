//! The control-plane client: one QUIC connection to one server, reused for every request and
//! re-established when it has died.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use quinn::{Connection, Endpoint};
use tokio::sync::Mutex;
use tokio::time::timeout;

use super::QuicError;
use super::error::{code, codes};
use super::frame::{DEFAULT_MAX_FRAME, read_frame, write_frame};

/// Client-side limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Largest request and response frame, bytes. Default [`DEFAULT_MAX_FRAME`] (64 KiB),
    /// matching the server's default.
    pub max_frame: usize,
    /// Time for a (re)connection handshake. Default 5 s: a handshake is two round trips, and
    /// no mesh path worth using has a 1 s RTT.
    pub connect_timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> ClientSettings {
        ClientSettings {
            max_frame: DEFAULT_MAX_FRAME,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A client endpoint on an ephemeral port of the same address family as `server_addr`, with
/// `config` as its default client configuration (from
/// [`node_client_config`](super::node_client_config) or
/// [`edge_client_config`](super::edge_client_config)). One endpoint can carry clients to
/// many servers. Must be called inside a tokio runtime.
pub fn client_endpoint(
    config: quinn::ClientConfig,
    server_addr: SocketAddr,
) -> Result<Endpoint, QuicError> {
    let bind = match server_addr {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let mut endpoint = Endpoint::client(bind).map_err(QuicError::Bind)?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

type Streams = (quinn::SendStream, quinn::RecvStream);

/// Requests to one control server over one reused connection.
///
/// A request that fails because the connection died is not retried once its frame may have
/// been sent (requests need not be idempotent); the next request reconnects. A request whose
/// stream could not even be opened on a dead connection is retried once on a new connection.
/// A request that times out abandons its connection too: a server that crashed and came back
/// (a restarted process) has forgotten the connection and its stateless resets do not verify,
/// so without this every request would time out until the idle timeout noticed.
pub struct ControlClient {
    endpoint: Endpoint,
    server_addr: SocketAddr,
    server_name: String,
    settings: ClientSettings,
    conn: Mutex<Option<Connection>>,
}

impl ControlClient {
    /// Connects to `server_addr`, expecting a certificate from the mesh CA for `server_name`
    /// (the server's node name), using `endpoint`'s default client configuration and
    /// [`ClientSettings::default`].
    pub async fn connect(
        endpoint: Endpoint,
        server_addr: SocketAddr,
        server_name: &str,
    ) -> Result<ControlClient, QuicError> {
        ControlClient::connect_with(
            endpoint,
            server_addr,
            server_name,
            ClientSettings::default(),
        )
        .await
    }

    /// [`ControlClient::connect`] with explicit settings.
    pub async fn connect_with(
        endpoint: Endpoint,
        server_addr: SocketAddr,
        server_name: &str,
        settings: ClientSettings,
    ) -> Result<ControlClient, QuicError> {
        let client = ControlClient {
            endpoint,
            server_addr,
            server_name: server_name.to_owned(),
            settings,
            conn: Mutex::new(None),
        };
        client.connection().await?;
        Ok(client)
    }

    /// The server's address.
    pub fn server_addr(&self) -> SocketAddr {
        self.server_addr
    }

    /// The node name the server must prove.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Sends one request frame on a new stream and returns the server's one response frame.
    /// The whole exchange, including a reconnection if needed, is bounded by `deadline`.
    pub async fn request(&self, frame: &[u8], deadline: Duration) -> Result<Vec<u8>, QuicError> {
        let max = self.settings.max_frame;
        if frame.len() > max {
            return Err(QuicError::FrameTooLarge {
                len: frame.len() as u64,
                max,
            });
        }
        let mut used = None;
        let exchange = async {
            let (conn, (mut send, mut recv)) = self.open_stream().await?;
            used = Some(conn);
            write_frame(&mut send, frame, max).await?;
            read_frame(&mut recv, max).await
        };
        match timeout(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => {
                if let Some(conn) = used {
                    self.abandon(&conn).await;
                }
                Err(QuicError::Timeout(deadline))
            }
        }
    }

    /// Closes `conn` after a request on it timed out, and forgets it unless another request
    /// already replaced it, so the next request dials a fresh connection.
    async fn abandon(&self, conn: &Connection) {
        let mut slot = self.conn.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.stable_id() == conn.stable_id())
        {
            *slot = None;
        }
        conn.close(code(codes::OK), b"request timed out");
    }

    /// The largest datagram payload the current connection can carry now, if it has one and
    /// the server accepts datagrams: 1,162 bytes at the 1,200-byte minimum MTU, more after
    /// path MTU discovery.
    pub async fn max_datagram_size(&self) -> Option<usize> {
        self.conn.lock().await.as_ref()?.max_datagram_size()
    }

    /// Closes the current connection with [`codes::OK`]; a later request reconnects.
    pub async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            conn.close(code(codes::OK), b"closed by client");
        }
    }

    /// A new stream, and the connection it is on.
    async fn open_stream(&self) -> Result<(Connection, Streams), QuicError> {
        let conn = self.connection().await?;
        match conn.open_bi().await {
            Ok(stream) => Ok((conn, stream)),
            Err(e) => {
                let err = QuicError::from_connection(e);
                if matches!(err, QuicError::Refused(_)) {
                    return Err(err);
                }
                // Nothing was sent on the dead connection, so one retry is safe.
                let conn = self.connection().await?;
                let stream = conn.open_bi().await.map_err(QuicError::from_connection)?;
                Ok((conn, stream))
            }
        }
    }

    /// The live connection, dialling a new one if there is none or it has closed. Holding the
    /// lock while dialling makes concurrent requests share one reconnection.
    async fn connection(&self) -> Result<Connection, QuicError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| c.close_reason().is_none()) {
            return Ok(conn.clone());
        }
        *slot = None;
        let connecting = self.endpoint.connect(self.server_addr, &self.server_name)?;
        let wait = self.settings.connect_timeout;
        let conn = timeout(wait, connecting)
            .await
            .map_err(|_| QuicError::Timeout(wait))?
            .map_err(QuicError::from_connection)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

impl std::fmt::Debug for ControlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlClient")
            .field("server_addr", &self.server_addr)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}
