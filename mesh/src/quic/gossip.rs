//! Membership datagrams between mesh nodes: one outgoing QUIC connection per peer (mutual
//! TLS, the peer's name checked against its certificate), dialled on first use, and the
//! datagrams received on it; plus the seed handshake that learns a seed's name.
//!
//! Sending never waits: each peer has a small queue drained by its own task, and a datagram
//! that does not fit is dropped, as UDP would. A peer that cannot be reached costs one dial
//! attempt per [`LinkSettings::connect_timeout`], during which its queue overflows and drops.
//!
//! Received datagrams are tagged with the name the TLS handshake proved: the server name we
//! dialled (verified against the mesh CA) for outgoing connections, the client certificate's
//! name for accepted ones (see [`super::ControlServer::serve_with_datagrams`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use quinn::{Connection, Endpoint};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::debug;

use super::QuicError;
use super::error::{code, codes};
use super::peer::{PeerIdentity, identify};

/// A datagram from an authenticated mesh node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDatagram {
    /// The node name its certificate proved.
    pub from: String,
    /// The payload.
    pub bytes: Vec<u8>,
}

/// Limits of the datagram links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSettings {
    /// Datagrams queued per peer while its connection is being dialled (default 16); more are
    /// dropped.
    pub queue: usize,
    /// Time for one dial (default 2 s: membership probes give up well before).
    pub connect_timeout: Duration,
    /// Most peers with a link at once (default 4,096, the membership bound).
    pub max_peers: usize,
}

impl Default for LinkSettings {
    fn default() -> LinkSettings {
        LinkSettings {
            queue: 16,
            connect_timeout: Duration::from_secs(2),
            max_peers: 4_096,
        }
    }
}

/// Path figures of one link's QUIC connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathFigures {
    /// quinn's smoothed RTT estimate.
    pub rtt: Duration,
    /// Packets sent on the path.
    pub sent_packets: u64,
    /// Packets declared lost on the path.
    pub lost_packets: u64,
}

struct Link {
    addr: SocketAddr,
    tx: mpsc::Sender<Vec<u8>>,
    conn: Arc<Mutex<Option<Connection>>>,
    task: JoinHandle<()>,
}

/// Outgoing datagram links to mesh peers. Cheap to share behind an `Arc`.
pub struct DatagramLinks {
    endpoint: Endpoint,
    inbound: mpsc::Sender<NodeDatagram>,
    settings: LinkSettings,
    links: Mutex<HashMap<String, Link>>,
}

impl std::fmt::Debug for DatagramLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramLinks")
            .field("peers", &self.links.lock().len())
            .finish_non_exhaustive()
    }
}

impl DatagramLinks {
    /// Links dialled from `endpoint` (whose default client configuration must be a node
    /// configuration, [`super::node_client_config`]); datagrams received on them go to
    /// `inbound`. Must be called inside a tokio runtime.
    pub fn new(
        endpoint: Endpoint,
        inbound: mpsc::Sender<NodeDatagram>,
        settings: LinkSettings,
    ) -> DatagramLinks {
        DatagramLinks {
            endpoint,
            inbound,
            settings,
            links: Mutex::new(HashMap::new()),
        }
    }

    /// Queues `bytes` for node `name` at control address `addr`; false if it was dropped
    /// (queue full or too many peers). A new address for a known name replaces its link.
    pub fn send(&self, name: &str, addr: SocketAddr, bytes: Vec<u8>) -> bool {
        let mut links = self.links.lock();
        if links.get(name).is_some_and(|l| l.addr != addr)
            && let Some(old) = links.remove(name)
        {
            close(&old);
        }
        if !links.contains_key(name) {
            if links.len() >= self.settings.max_peers {
                return false;
            }
            links.insert(name.to_owned(), self.spawn_link(name, addr));
        }
        links
            .get(name)
            .is_some_and(|l| l.tx.try_send(bytes).is_ok())
    }

    /// Drops the link to `name` (e.g. it restarted or went down): the next datagram dials
    /// afresh instead of writing into a connection a dead process no longer knows.
    pub fn forget(&self, name: &str) {
        if let Some(link) = self.links.lock().remove(name) {
            close(&link);
        }
    }

    /// Path figures of every link with a live connection.
    pub fn figures(&self) -> Vec<(String, PathFigures)> {
        let links = self.links.lock();
        let mut out: Vec<_> = links
            .iter()
            .filter_map(|(name, link)| {
                let conn = link.conn.lock().clone()?;
                if conn.close_reason().is_some() {
                    return None;
                }
                let stats = conn.stats();
                Some((
                    name.clone(),
                    PathFigures {
                        rtt: conn.rtt(),
                        sent_packets: stats.path.sent_packets,
                        lost_packets: stats.path.lost_packets,
                    },
                ))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Closes every link.
    pub fn close_all(&self) {
        for (_, link) in self.links.lock().drain() {
            close(&link);
        }
    }

    fn spawn_link(&self, name: &str, addr: SocketAddr) -> Link {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(self.settings.queue.max(1));
        let conn: Arc<Mutex<Option<Connection>>> = Arc::default();
        let slot = conn.clone();
        let endpoint = self.endpoint.clone();
        let inbound = self.inbound.clone();
        let name = name.to_owned();
        let wait = self.settings.connect_timeout;
        let task = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                let live = slot.lock().clone().filter(|c| c.close_reason().is_none());
                let conn = match live {
                    Some(c) => c,
                    None => match dial(&endpoint, addr, &name, wait).await {
                        Ok(c) => {
                            tokio::spawn(read_datagrams(c.clone(), name.clone(), inbound.clone()));
                            *slot.lock() = Some(c.clone());
                            c
                        }
                        Err(e) => {
                            debug!(peer = %name, %addr, error = %e, "gossip dial failed");
                            // What queued up meanwhile is stale; probes will retry.
                            while rx.try_recv().is_ok() {}
                            continue;
                        }
                    },
                };
                if let Err(e) = conn.send_datagram(bytes.into()) {
                    debug!(peer = %name, error = %e, "gossip datagram not sent");
                }
            }
        });
        Link {
            addr,
            tx,
            conn,
            task,
        }
    }
}

impl Drop for DatagramLinks {
    fn drop(&mut self) {
        self.close_all();
    }
}

fn close(link: &Link) {
    link.task.abort();
    if let Some(c) = link.conn.lock().take() {
        c.close(code(codes::OK), b"gossip link closed");
    }
}

async fn dial(
    endpoint: &Endpoint,
    addr: SocketAddr,
    name: &str,
    wait: Duration,
) -> Result<Connection, QuicError> {
    let connecting = endpoint.connect(addr, name)?;
    timeout(wait, connecting)
        .await
        .map_err(|_| QuicError::Timeout(wait))?
        .map_err(QuicError::from_connection)
}

/// Forwards datagrams received on `conn` (whose peer proved `name`) until it closes.
pub(crate) async fn read_datagrams(
    conn: Connection,
    name: String,
    inbound: mpsc::Sender<NodeDatagram>,
) {
    while let Ok(bytes) = conn.read_datagram().await {
        // A full queue means the membership actor is behind; dropping is what UDP would do.
        let _ = inbound.try_send(NodeDatagram {
            from: name.clone(),
            bytes: bytes.to_vec(),
        });
    }
}

/// Connects to a seed whose name is not known yet, with a client configuration from
/// [`super::seed_client_config`], and returns the node name its certificate proves.
pub async fn learn_seed_name(
    endpoint: &Endpoint,
    config: quinn::ClientConfig,
    addr: SocketAddr,
    wait: Duration,
) -> Result<String, QuicError> {
    let connecting = endpoint.connect_with(config, addr, super::config::SEED_SERVER_NAME)?;
    let conn = timeout(wait, connecting)
        .await
        .map_err(|_| QuicError::Timeout(wait))?
        .map_err(QuicError::from_connection)?;
    let identity = identify(&conn);
    conn.close(code(codes::OK), b"seed name learnt");
    match identity? {
        PeerIdentity::Node(name) => Ok(name),
        PeerIdentity::Anonymous => {
            Err(QuicError::TlsConfig("seed presented no certificate".into()))
        }
    }
}
