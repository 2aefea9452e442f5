//! The QUIC control transport over real sockets on loopback: mutual TLS for nodes, anonymous
//! edges, frame limits, concurrency, reconnection and shutdown.

mod quic_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lightspeed_mesh::identity::MeshCa;
use lightspeed_mesh::quic::ControlClient;
use lightspeed_mesh::quic::{PeerIdentity, QuicError, ServerLimits, codes};
use quic_support::*;

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
async fn slow_handler_is_cut_off_and_counted() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let limits = ServerLimits {
            handler_timeout: Duration::from_millis(100),
            ..ServerLimits::default()
        };
        let srv = start(&ca, limits);
        let client =
            ControlClient::connect(edge_endpoint(&ca, srv.addr()), srv.addr(), SERVER_NAME)
                .await
                .unwrap();
        let err = client.request(b"hang", REQ).await.unwrap_err();
        assert!(
            matches!(err, QuicError::Rejected(c) if c == u64::from(codes::HANDLER_TIMEOUT)),
            "{err:?}"
        );
        assert_eq!(client.request(b"next", REQ).await.unwrap(), b"anon|next");
        let stats = stats_until(&srv.server, |s| s.requests_answered == 1).await;
        assert_eq!(stats.handler_timeouts, 1);
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

/// A UDP hop between a client and a server that the test can point at another server: to the
/// client, the server behind it crashed and a fresh process took its place without ever
/// closing the old connection.
async fn switchable_hop(target: SocketAddr) -> (SocketAddr, Arc<std::sync::Mutex<SocketAddr>>) {
    let front = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = front.local_addr().unwrap();
    let target = Arc::new(std::sync::Mutex::new(target));
    let client = Arc::new(std::sync::Mutex::new(None::<SocketAddr>));
    {
        let (front, back, target, client) =
            (front.clone(), back.clone(), target.clone(), client.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = front.recv_from(&mut buf).await {
                *client.lock().unwrap() = Some(from);
                let to = *target.lock().unwrap();
                let _ = back.send_to(&buf[..n], to).await;
            }
        });
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, _)) = back.recv_from(&mut buf).await {
            let to = *client.lock().unwrap();
            if let Some(to) = to {
                let _ = front.send_to(&buf[..n], to).await;
            }
        }
    });
    (addr, target)
}

#[tokio::test]
async fn client_redials_after_a_timeout_when_the_server_was_replaced_silently() {
    bounded(async {
        let ca = MeshCa::generate("test").unwrap();
        let old = start(&ca, ServerLimits::default());
        let (hop, target) = switchable_hop(old.addr()).await;
        let client = ControlClient::connect(edge_endpoint(&ca, hop), hop, SERVER_NAME)
            .await
            .unwrap();
        assert_eq!(client.request(b"a", REQ).await.unwrap(), b"anon|a");
        stats_until(&old.server, |s| s.requests_answered == 1).await;

        // The old server is still running (so it never closes the connection) but the hop now
        // leads to a new one that has never heard of it; its stateless resets carry another
        // key, so the client cannot tell the connection is dead.
        let new = start(&ca, ServerLimits::default());
        *target.lock().unwrap() = new.addr();
        let short = Duration::from_millis(300);
        let err = client.request(b"b", short).await.unwrap_err();
        assert!(
            matches!(err, QuicError::Timeout(d) if d == short),
            "{err:?}"
        );
        // The timed-out connection was abandoned: the next request dials the new server
        // instead of waiting out the 20 s idle timeout.
        assert_eq!(client.request(b"c", REQ).await.unwrap(), b"anon|c");
        let stats = stats_until(&new.server, |s| s.requests_answered == 1).await;
        assert_eq!(stats.connections_accepted, 1);
    })
    .await;
}
