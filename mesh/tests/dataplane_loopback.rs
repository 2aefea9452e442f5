//! The data plane on real loopback sockets: edge → relay → proxy → echo and back, with the
//! session entries installed directly (as the session actor does after the QUIC handshake).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lightspeed_mesh::dataplane::edge::{EdgeSession, EdgeTiming};
use lightspeed_mesh::dataplane::endpoint::Endpoint;
use lightspeed_mesh::dataplane::io::{DataEvent, DataPlane, bind_udp};
use lightspeed_mesh::dataplane::limiter::TokenBucket;
use lightspeed_mesh::dataplane::proxy::ProxySession;
use lightspeed_mesh::dataplane::relay::RelayState;
use lightspeed_mesh::dataplane::table::{Clock, SessionTable};
use lightspeed_mesh::dataplane::{Counters, Direction, DropReason};
use lightspeed_protocol::fec::FecField;
use lightspeed_protocol::header::{self, Header, PacketType};
use lightspeed_protocol::{Micros, SessionId, SessionKey};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const ID: SessionId = SessionId(0x0102_0304);
const KEY: SessionKey = SessionKey([0x11; 32]);

fn node() -> (Arc<DataPlane>, mpsc::Receiver<DataEvent>) {
    let (tx, rx) = mpsc::channel(64);
    let dp = DataPlane::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(SessionTable::new(100, 16)),
        Arc::new(Counters::default()),
        Clock::default(),
        tx,
    )
    .unwrap();
    dp.start();
    (dp, rx)
}

async fn echo_server() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let _ = sock.send_to(&buf[..n], from).await;
        }
    });
    addr
}

struct Mesh {
    edge: Arc<DataPlane>,
    relay: Arc<DataPlane>,
    proxy: Arc<DataPlane>,
    redirect: SocketAddr,
    game: UdpSocket,
}

/// Builds edge → relay → proxy → echo, and completes the edge's session set-up when the
/// game's first datagram asks for it.
async fn mesh() -> Mesh {
    let echo = echo_server().await;
    let (proxy, _) = node();
    let (relay, _) = node();
    let (edge, mut edge_events) = node();
    let now = Micros(0);

    let egress = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    egress.connect(echo).await.unwrap();
    proxy
        .install_proxy(
            ID,
            KEY.clone(),
            ProxySession::new(
                Endpoint::new(ID, None, None, now),
                TokenBucket::new(0, 1, now),
            ),
            Arc::new(egress),
        )
        .unwrap();
    relay
        .install_relay(
            ID,
            KEY.clone(),
            RelayState::new(
                proxy.local_addr().unwrap(),
                TokenBucket::new(0, 1, now),
                now,
            ),
        )
        .unwrap();
    let (idx, redirect, _) = edge.add_redirect("127.0.0.1:0".parse().unwrap()).unwrap();
    let game = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    game.send_to(b"first", redirect).await.unwrap();
    let ev = timeout(Duration::from_secs(5), edge_events.recv())
        .await
        .unwrap()
        .unwrap();
    let DataEvent::NewFlow {
        redirect: r,
        client,
    } = ev
    else {
        panic!("expected a new flow, got {ev:?}");
    };
    assert_eq!((r, client), (idx, game.local_addr().unwrap()));
    let session = EdgeSession::new(
        Endpoint::new(ID, None, None, edge.clock.now()),
        relay.local_addr().unwrap(),
        [9; 8],
        EdgeTiming::new(
            Duration::from_millis(200),
            Duration::from_secs(2),
            Duration::from_millis(200),
        ),
        edge.clock.now(),
    );
    edge.install_edge(ID, KEY.clone(), session, idx, client)
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = timeout(Duration::from_secs(5), game.recv_from(&mut buf))
        .await
        .expect("the held first datagram comes back once bound")
        .unwrap();
    assert_eq!(&buf[..n], b"first");
    Mesh {
        edge,
        relay,
        proxy,
        redirect,
        game,
    }
}

async fn round_trips(m: &Mesh, count: u32) -> u32 {
    let mut back = 0;
    let mut buf = [0u8; 2048];
    for i in 0..count {
        let payload = format!("game packet {i:06} {}", "x".repeat((i % 200) as usize));
        m.game
            .send_to(payload.as_bytes(), m.redirect)
            .await
            .unwrap();
        if let Ok(Ok((n, _))) = timeout(Duration::from_secs(2), m.game.recv_from(&mut buf)).await {
            assert_eq!(&buf[..n], payload.as_bytes());
            back += 1;
        }
    }
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_packet_crosses_edge_relay_proxy_and_back() {
    timeout(Duration::from_secs(30), async {
        let m = mesh().await;
        assert_eq!(round_trips(&m, 300).await, 300);
        let e = &m.edge.counters;
        let r = &m.relay.counters;
        assert!(e.packets(Direction::Upstream) >= 301);
        assert_eq!(
            e.packets(Direction::Downstream),
            301,
            "301 echoes delivered"
        );
        assert!(r.packets(Direction::Upstream) >= 301);
        assert_eq!(m.proxy.counters.packets(Direction::Upstream), 301);
        for c in [e, r, &m.proxy.counters] {
            for reason in DropReason::ALL {
                assert_eq!(c.drops(*reason), 0, "{reason:?}");
            }
        }
        // Keepalive probes travel edge → relay → proxy and back; RTT samples are recorded.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(e.rtt_snapshot().count >= 1);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_junk_packets_are_counted_and_harmless() {
    timeout(Duration::from_secs(30), async {
        let m = mesh().await;
        let relay_addr = m.relay.local_addr().unwrap();
        let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let header = Header {
            packet_type: PacketType::Data,
            path: 0,
            session: ID,
            seq: 1_000_000,
            timestamp: 0,
            fec: FecField::NONE,
        };
        let mut buf = vec![0u8; 1500];
        // Forged: right session id, wrong key.
        let n = header::seal(&header, &SessionKey([0x22; 32]), b"evil", &mut buf).unwrap();
        attacker.send_to(&buf[..n], relay_addr).await.unwrap();
        // Junk of several shapes.
        attacker.send_to(&[0xff; 3], relay_addr).await.unwrap();
        attacker.send_to(&[0x00; 100], relay_addr).await.unwrap();
        // Right key but from an address the session is not bound to (a stolen packet).
        let n = header::seal(&header, &KEY, b"stolen", &mut buf).unwrap();
        attacker.send_to(&buf[..n], relay_addr).await.unwrap();
        // A Bind replayed: seq 1 was the edge's own first Bind.
        let bind = Header {
            packet_type: PacketType::Bind,
            seq: 1,
            ..header
        };
        let n = header::seal(&bind, &KEY, &[9; 8], &mut buf).unwrap();
        attacker.send_to(&buf[..n], relay_addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = &m.relay.counters;
        assert_eq!(r.drops(DropReason::BadMac), 1);
        assert_eq!(r.drops(DropReason::Truncated), 1);
        assert_eq!(r.drops(DropReason::BadVersion), 1);
        assert_eq!(r.drops(DropReason::NotBound), 1);
        assert_eq!(r.drops(DropReason::Replay), 1);
        // Nothing reached the attacker, and the session still works.
        let mut probe = [0u8; 16];
        assert!(
            timeout(Duration::from_millis(200), attacker.recv_from(&mut probe))
                .await
                .is_err()
        );
        assert_eq!(round_trips(&m, 50).await, 50);
    })
    .await
    .expect("bounded");
}
