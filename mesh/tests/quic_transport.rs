//! The QUIC control transport over real sockets on loopback: mutual TLS for nodes, anonymous
//! edges, refusals, frame limits, concurrency, reconnection and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lightspeed_mesh::identity::{Identity, MeshCa};
use lightspeed_mesh::quic::{
    ControlClient, ControlServer, Handler, PeerIdentity, PeerInfo, QuicError, ServerLimits,
    ServerStats, TransportSettings, client_endpoint, codes, edge_client_config, node_client_config,
    server_config,
};
use tokio::sync::{Mutex, Notify};

/// Bound on every test, so a hang fails instead of stalling CI.
const TEST_BOUND: Duration = Duration::from_secs(20);
/// Per-request deadline.
const REQ: Duration = Duration::from_secs(5);
const SERVER_NAME: &str = "proxy-1";

/// Echoes the request behind a tag naming the peer; records who called.
#[derive(Default)]
struct Echo {
    calls: AtomicUsize,
    seen: Mutex<Vec<PeerIdentity>>,
    slow_entered: Notify,
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

fn identity(ca: &MeshCa, name: &str) -> Identity {
    Identity::new(ca.trust(), ca.issue_node(name).unwrap()).unwrap()
}

struct Server {
    server: ControlServer,
    echo: Arc<Echo>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn start(ca: &MeshCa, limits: ServerLimits) -> Server {
    try_start_at(ca, "127.0.0.1:0".parse().unwrap(), limits).unwrap()
}

fn try_start_at(ca: &MeshCa, addr: SocketAddr, limits: ServerLimits) -> Result<Server, QuicError> {
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

fn node_endpoint(ca: &MeshCa, name: &str, server: SocketAddr) -> quinn::Endpoint {
    let config = node_client_config(&identity(ca, name), &TransportSettings::default()).unwrap();
    client_endpoint(config, server).unwrap()
}

fn edge_endpoint(ca: &MeshCa, server: SocketAddr) -> quinn::Endpoint {
    let config = edge_client_config(&ca.trust(), &TransportSettings::default()).unwrap();
    client_endpoint(config, server).unwrap()
}

/// Waits (bounded by the test's timeout) until the server's counters satisfy `cond`; the
/// server counts after the client has its answer, so tests wait for the count, not for time.
async fn stats_until(server: &ControlServer, cond: impl Fn(&ServerStats) -> bool) -> ServerStats {
    loop {
        let stats = server.stats();
        if cond(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .expect("test exceeded its time bound");
}

#[tokio::test]
async fn node_to_node_mutual_tls_names_the_peer() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let endpoint = node_endpoint(&ca, "relay-1", srv.addr());
        let client = ControlClient::connect(endpoint, srv.addr(), SERVER_NAME)
            .await
            .unwrap();

        let response = client.request(b"hello", REQ).await.unwrap();
        assert_eq!(response, b"node:relay-1|hello");
        assert_eq!(
            *srv.echo.seen.lock().await,
            vec![PeerIdentity::Node("relay-1".into())]
        );
        // Datagrams are negotiated and leave room for SWIM's 1,100-byte packets.
        let datagram = client.max_datagram_size().await.unwrap();
        assert!(datagram >= 1100, "max datagram {datagram}");
        println!("max datagram payload: {datagram} bytes");

        // The connection is reused: a second request opens no new connection.
        assert_eq!(client.request(b"", REQ).await.unwrap(), b"node:relay-1|");
        let stats = stats_until(&srv.server, |s| s.requests_answered == 2).await;
        assert_eq!(stats.connections_accepted, 1);
        srv.server.shutdown().await;
        srv.task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn edge_without_certificate_is_anonymous() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let client =
            ControlClient::connect(edge_endpoint(&ca, srv.addr()), srv.addr(), SERVER_NAME)
                .await
                .unwrap();
        assert_eq!(
            client.request(b"token:abc", REQ).await.unwrap(),
            b"anon|token:abc"
        );
        assert_eq!(*srv.echo.seen.lock().await, vec![PeerIdentity::Anonymous]);
    })
    .await;
}

/// A client error meaning the handshake was refused, wherever it surfaced: TLS 1.3 clients
/// may finish their side before the server has rejected their certificate, so the refusal can
/// arrive on the first request instead of on connect.
async fn refused(endpoint: quinn::Endpoint, addr: SocketAddr, name: &str) -> QuicError {
    match ControlClient::connect(endpoint, addr, name).await {
        Err(e) => e,
        Ok(client) => client.request(b"x", REQ).await.unwrap_err(),
    }
}

/// A client that trusts our CA for the server but presents a certificate from `other`: the
/// public API cannot build one (`Identity::new` refuses the pair), an attacker can.
fn rogue_endpoint(ca: &MeshCa, other: &MeshCa, server: SocketAddr) -> quinn::Endpoint {
    let rogue = other.issue_node("relay-1").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![rogue.cert_der().clone()], rogue.key_der())
        .unwrap();
    tls.alpn_protocols = vec![lightspeed_mesh::quic::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    client_endpoint(quinn::ClientConfig::new(Arc::new(quic)), server).unwrap()
}

#[tokio::test]
async fn node_certificate_from_another_ca_is_refused() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let other = MeshCa::generate("other").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let err = refused(
            rogue_endpoint(&ca, &other, srv.addr()),
            srv.addr(),
            SERVER_NAME,
        )
        .await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        let stats = stats_until(&srv.server, |s| s.handshakes_failed == 1).await;
        assert_eq!(stats.connections_accepted, 0);
        assert_eq!(srv.echo.calls.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn wrong_server_name_or_foreign_server_is_refused() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        // The server proves "proxy-1"; this client wants "relay-9".
        let err = refused(
            node_endpoint(&ca, "relay-1", srv.addr()),
            srv.addr(),
            "relay-9",
        )
        .await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        // An edge that trusts another mesh's CA refuses our server.
        let other = MeshCa::generate("other").unwrap();
        let err = refused(edge_endpoint(&other, srv.addr()), srv.addr(), SERVER_NAME).await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        assert_eq!(srv.echo.calls.load(Ordering::SeqCst), 0);
        stats_until(&srv.server, |s| s.handshakes_failed == 2).await;
    })
    .await;
}

/// Opens a raw stream to send hand-made bytes.
async fn raw_stream(
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

async fn reset_code(recv: &mut quinn::RecvStream) -> u64 {
    match recv.read_to_end(1 << 20).await {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => code.into_inner(),
        other => panic!("expected a reset, got {other:?}"),
    }
}

#[tokio::test]
async fn oversize_and_malformed_frames_are_rejected_and_server_survives() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let limits = ServerLimits {
            read_timeout: Duration::from_millis(200),
            ..ServerLimits::default()
        };
        let srv = start(&ca, limits);
        let client =
            ControlClient::connect(edge_endpoint(&ca, srv.addr()), srv.addr(), SERVER_NAME)
                .await
                .unwrap();

        // Client side: refused before anything is sent.
        let err = client
            .request(&vec![0; 64 * 1024 + 1], REQ)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                QuicError::FrameTooLarge {
                    len: 65537,
                    max: 65536
                }
            ),
            "{err:?}"
        );

        // Server side: a 1 GiB length prefix is refused without reading further.
        let (conn, mut send, mut recv) = raw_stream(&ca, srv.addr()).await;
        send.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
        assert_eq!(
            reset_code(&mut recv).await,
            u64::from(codes::FRAME_TOO_LARGE)
        );

        // Bytes after the frame.
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[0, 0, 0, 1, b'a', b'b']).await.unwrap();
        send.finish().unwrap();
        assert_eq!(reset_code(&mut recv).await, u64::from(codes::BAD_FRAME));

        // Stream ends inside the frame.
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[0, 0, 0, 9, b'a']).await.unwrap();
        send.finish().unwrap();
        assert_eq!(reset_code(&mut recv).await, u64::from(codes::BAD_FRAME));

        // A request that never completes hits the read timeout.
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[0, 0, 0, 9]).await.unwrap();
        assert_eq!(reset_code(&mut recv).await, u64::from(codes::TIMEOUT));

        // A response over the limit is not sent.
        let err = client.request(b"big", REQ).await.unwrap_err();
        assert!(
            matches!(err, QuicError::Rejected(c) if c == u64::from(codes::FRAME_TOO_LARGE)),
            "{err:?}"
        );

        // The same raw connection and the client both still work.
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[0, 0, 0, 2, b'o', b'k']).await.unwrap();
        send.finish().unwrap();
        assert_eq!(recv.read_to_end(100).await.unwrap(), b"\0\0\0\x07anon|ok");
        assert_eq!(client.request(b"still", REQ).await.unwrap(), b"anon|still");

        let stats = stats_until(&srv.server, |s| s.requests_answered == 2).await;
        assert_eq!(stats.requests_too_large, 1);
        assert_eq!(stats.bad_frames, 2);
        assert_eq!(stats.stream_timeouts, 1);
        assert_eq!(stats.responses_too_large, 1);
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_requests_on_one_connection() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let endpoint = node_endpoint(&ca, "relay-1", srv.addr());
        let client = Arc::new(
            ControlClient::connect(endpoint, srv.addr(), SERVER_NAME)
                .await
                .unwrap(),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50u32 {
            let client = client.clone();
            tasks.spawn(async move {
                let request = format!("req-{i}").into_bytes();
                let response = client.request(&request, REQ).await.unwrap();
                (i, response)
            });
        }
        let mut answered = [false; 50];
        while let Some(joined) = tasks.join_next().await {
            let (i, response) = joined.unwrap();
            assert_eq!(response, format!("node:relay-1|req-{i}").into_bytes());
            answered[i as usize] = true;
        }
        assert!(answered.iter().all(|a| *a));
        let stats = stats_until(&srv.server, |s| s.requests_answered == 50).await;
        assert_eq!(stats.connections_accepted, 1);
        assert_eq!(srv.echo.calls.load(Ordering::SeqCst), 50);
    })
    .await;
}

#[tokio::test]
async fn client_reconnects_after_its_connection_dies() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let addr = srv.addr();
        let client = ControlClient::connect(node_endpoint(&ca, "relay-1", addr), addr, SERVER_NAME)
            .await
            .unwrap();
        assert_eq!(client.request(b"a", REQ).await.unwrap(), b"node:relay-1|a");

        // Closed locally: the next request dials again.
        client.close().await;
        assert_eq!(client.request(b"b", REQ).await.unwrap(), b"node:relay-1|b");
        assert_eq!(srv.server.stats().connections_accepted, 2);

        // The server goes away and comes back on the same port. At most one request may see
        // the old connection die; then the client is on the new server.
        let Server { server, task, .. } = srv;
        server.shutdown().await;
        task.await.unwrap();
        drop(server);
        // The port is free once quinn's endpoint driver has seen its last handle go.
        let srv2 = loop {
            match try_start_at(&ca, addr, ServerLimits::default()) {
                Ok(server) => break server,
                Err(QuicError::Bind(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => panic!("rebind failed: {e:?}"),
            }
        };
        let mut failures = 0;
        let response = loop {
            match client.request(b"c", REQ).await {
                Ok(response) => break response,
                Err(QuicError::Closed(_)) if failures == 0 => failures += 1,
                Err(e) => panic!("unexpected error after restart: {e:?}"),
            }
        };
        assert_eq!(response, b"node:relay-1|c");
        assert_eq!(srv2.server.stats().connections_accepted, 1);
    })
    .await;
}

#[tokio::test]
async fn shutdown_answers_in_flight_requests_then_refuses() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let srv = start(&ca, ServerLimits::default());
        let addr = srv.addr();
        let client = Arc::new(
            ControlClient::connect(edge_endpoint(&ca, addr), addr, SERVER_NAME)
                .await
                .unwrap(),
        );
        let in_flight = tokio::spawn({
            let client = client.clone();
            async move { client.request(b"slow", REQ).await }
        });
        srv.echo.slow_entered.notified().await;
        srv.server.shutdown().await;
        assert_eq!(in_flight.await.unwrap().unwrap(), b"anon|slow");
        srv.task.await.unwrap();

        // The old connection was closed; a new one is refused while the server handle lives.
        let err = client.request(b"late", REQ).await.unwrap_err();
        assert!(
            matches!(err, QuicError::Closed(_) | QuicError::Refused(_)),
            "{err:?}"
        );
        let err = client.request(b"later", REQ).await.unwrap_err();
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn connection_caps_refuse_extra_clients() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let limits = ServerLimits {
            max_connections: 2,
            max_anonymous_connections: 1,
            ..ServerLimits::default()
        };
        let srv = start(&ca, limits);
        let addr = srv.addr();
        let edge1 = ControlClient::connect(edge_endpoint(&ca, addr), addr, SERVER_NAME)
            .await
            .unwrap();
        assert_eq!(edge1.request(b"1", REQ).await.unwrap(), b"anon|1");

        // A second anonymous connection is closed with BUSY right after its handshake.
        let err = refused(edge_endpoint(&ca, addr), addr, SERVER_NAME).await;
        match err {
            QuicError::Closed(quinn::ConnectionError::ApplicationClosed(close)) => {
                assert_eq!(close.error_code.into_inner(), u64::from(codes::BUSY));
            }
            other => panic!("expected BUSY close, got {other:?}"),
        }
        stats_until(&srv.server, |s| s.connections_refused_capacity == 1).await;

        // Mesh members still get in; the slots are then full for everyone.
        let node = ControlClient::connect(node_endpoint(&ca, "relay-1", addr), addr, SERVER_NAME)
            .await
            .unwrap();
        assert_eq!(node.request(b"2", REQ).await.unwrap(), b"node:relay-1|2");
        let err = refused(node_endpoint(&ca, "relay-2", addr), addr, SERVER_NAME).await;
        assert!(matches!(err, QuicError::Refused(_)), "{err:?}");
        let stats = stats_until(&srv.server, |s| s.connections_refused_capacity == 2).await;
        assert_eq!(stats.connections_accepted, 2);
    })
    .await;
}
