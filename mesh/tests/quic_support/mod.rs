//! Shared fixtures for the QUIC transport tests: an echoing handler, server start-up, client
//! endpoints for nodes, edges and forged identities, and condition waits.

#![allow(dead_code, unreachable_pub)] // each test crate uses a different subset

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lightspeed_mesh::identity::{Identity, MeshCa};
use lightspeed_mesh::quic::{
    ALPN, ControlClient, ControlServer, Handler, PeerIdentity, PeerInfo, QuicError, ServerLimits,
    ServerStats, TransportSettings, client_endpoint, edge_client_config, node_client_config,
    server_config,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{Mutex, Notify};

/// Bound on every test, so a hang fails instead of stalling CI.
pub const TEST_BOUND: Duration = Duration::from_secs(20);
/// Per-request deadline.
pub const REQ: Duration = Duration::from_secs(5);
pub const SERVER_NAME: &str = "proxy-1";

/// Echoes the request behind a tag naming the peer; records who called.
#[derive(Default)]
pub struct Echo {
    pub calls: AtomicUsize,
    pub seen: Mutex<Vec<PeerIdentity>>,
    pub slow_entered: Notify,
}

impl Handler for Echo {
    fn handle<'a>(
        &'a self,
        peer: &'a PeerInfo,
        request: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + 'a>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.seen.lock().await.push(peer.identity.clone());
            match request.as_slice() {
                b"big" => return vec![0; 70 * 1024],
                // Outlives any handler timeout a test sets.
                b"hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
                b"slow" => {
                    self.slow_entered.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                _ => {}
            }
            let mut out = match &peer.identity {
                PeerIdentity::Node(name) => format!("node:{name}|").into_bytes(),
                PeerIdentity::Anonymous => b"anon|".to_vec(),
            };
            out.extend_from_slice(&request);
            out
        })
    }
}

pub fn identity(ca: &MeshCa, name: &str) -> Identity {
    Identity::new(ca.trust(), ca.issue_node(name).unwrap()).unwrap()
}

pub struct Server {
    pub server: ControlServer,
    pub echo: Arc<Echo>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

pub fn start(ca: &MeshCa, limits: ServerLimits) -> Server {
    try_start_at(ca, "127.0.0.1:0".parse().unwrap(), limits).unwrap()
}

pub fn try_start_at(
    ca: &MeshCa,
    addr: SocketAddr,
    limits: ServerLimits,
) -> Result<Server, QuicError> {
    let config = server_config(&identity(ca, SERVER_NAME), &TransportSettings::default()).unwrap();
    let server = ControlServer::bind_with_limits(addr, config, limits)?;
    let echo = Arc::new(Echo::default());
    let task = tokio::spawn({
        let server = server.clone();
        let handler: Arc<dyn Handler> = echo.clone();
        async move { server.serve(handler).await }
    });
    Ok(Server { server, echo, task })
}

pub fn node_endpoint(ca: &MeshCa, name: &str, server: SocketAddr) -> quinn::Endpoint {
    let config = node_client_config(&identity(ca, name), &TransportSettings::default()).unwrap();
    client_endpoint(config, server).unwrap()
}

pub fn edge_endpoint(ca: &MeshCa, server: SocketAddr) -> quinn::Endpoint {
    let config = edge_client_config(&ca.trust(), &TransportSettings::default()).unwrap();
    client_endpoint(config, server).unwrap()
}

/// Waits (bounded by the test's timeout) until the server's counters satisfy `cond`; the
/// server counts after the client has its answer, so tests wait for the count, not for time.
pub async fn stats_until(
    server: &ControlServer,
    cond: impl Fn(&ServerStats) -> bool,
) -> ServerStats {
    loop {
        let stats = server.stats();
        if cond(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .expect("test exceeded its time bound");
}

/// A client error meaning the handshake was refused, wherever it surfaced: TLS 1.3 clients
/// may finish their side before the server has rejected their certificate, so the refusal can
/// arrive on the first request instead of on connect.
pub async fn refused(endpoint: quinn::Endpoint, addr: SocketAddr, name: &str) -> QuicError {
    match ControlClient::connect(endpoint, addr, name).await {
        Err(e) => e,
        Ok(client) => client.request(b"x", REQ).await.unwrap_err(),
    }
}

/// A client endpoint that trusts `ca` for the server and presents `cert`/`key`, whoever
/// issued them: the public API cannot build one (`Identity::new` checks the pair), an attacker
/// can.
pub fn endpoint_presenting(
    ca: &MeshCa,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    server: SocketAddr,
) -> quinn::Endpoint {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key)
        .unwrap();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    client_endpoint(quinn::ClientConfig::new(Arc::new(quic)), server).unwrap()
}

/// Opens a raw stream to send hand-made bytes.
pub async fn raw_stream(
    ca: &MeshCa,
    addr: SocketAddr,
) -> (quinn::Connection, quinn::SendStream, quinn::RecvStream) {
    let conn = edge_endpoint(ca, addr)
        .connect(addr, SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let (send, recv) = conn.open_bi().await.unwrap();
    (conn, send, recv)
}

pub async fn reset_code(recv: &mut quinn::RecvStream) -> u64 {
    match recv.read_to_end(1 << 20).await {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => code.into_inner(),
        other => panic!("expected a reset, got {other:?}"),
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("ls-quic-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
