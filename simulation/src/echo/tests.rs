use super::*;
use std::net::{Ipv4Addr, SocketAddr};
use tokio::time::timeout;

const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
/// Generous bound so a slow CI machine never fails a correct run; nothing waits this long
/// unless something is broken.
const DEADLINE: Duration = Duration::from_secs(5);

#[test]
fn game_packet_round_trips_at_every_size_boundary() {
    let p = GamePacket {
        flow: 0xDEAD_BEEF,
        seq: u64::MAX - 1,
        sent_at: Micros(1_234_567_890_123),
    };
    for size in [GAME_PACKET_HEADER, 21, 300, 1200, GAME_PACKET_MAX] {
        let mut buf = vec![0xAA; size];
        p.encode(&mut buf).expect("encodes");
        assert_eq!(GamePacket::decode(&buf), Ok(p), "size {size}");
        assert!(
            buf[GAME_PACKET_HEADER..].iter().all(|&b| b == 0),
            "padding zeroed"
        );
    }
    let mut buf = [0u8; GAME_PACKET_HEADER];
    p.encode(&mut buf).expect("encodes");
    assert_eq!(
        buf,
        [
            0xDE, 0xAD, 0xBE, 0xEF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 0x01,
            0x1F, 0x71, 0xFB, 0x04, 0xCB
        ],
        "big-endian layout"
    );
}

#[test]
fn game_packet_refuses_bad_lengths() {
    let p = GamePacket {
        flow: 1,
        seq: 2,
        sent_at: Micros(3),
    };
    let mut short = [0u8; 19];
    assert_eq!(
        p.encode(&mut short),
        Err(GamePacketError::TooShort { len: 19 })
    );
    assert_eq!(
        GamePacket::decode(&short),
        Err(GamePacketError::TooShort { len: 19 })
    );
    assert_eq!(
        GamePacket::decode(&[]),
        Err(GamePacketError::TooShort { len: 0 })
    );
    let mut huge = vec![0u8; GAME_PACKET_MAX + 1];
    assert_eq!(
        p.encode(&mut huge),
        Err(GamePacketError::TooLarge {
            len: GAME_PACKET_MAX + 1
        })
    );
    assert_eq!(
        GamePacket::decode(&huge),
        Err(GamePacketError::TooLarge {
            len: GAME_PACKET_MAX + 1
        })
    );
}

#[test]
fn rtt_is_measured_from_the_carried_send_time() {
    let p = GamePacket {
        flow: 0,
        seq: 0,
        sent_at: Micros(10_000),
    };
    assert_eq!(p.rtt(Micros(52_500)), Duration::from_micros(42_500));
    assert_eq!(p.rtt(Micros(9_000)), Duration::ZERO);
}

#[tokio::test]
async fn echoes_every_datagram_unchanged_and_counts_it() {
    let server = EchoServer::bind(LOOPBACK).await.expect("bind server");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let client = UdpSocket::bind(LOOPBACK).await.expect("bind client");

    let mut sent_bytes = 0u64;
    let mut buf = vec![0u8; 2048];
    for seq in 0..100u64 {
        let size = GAME_PACKET_HEADER + (seq as usize * 37) % 1200;
        let probe = GamePacket {
            flow: 7,
            seq,
            sent_at: Micros(seq * 1_000),
        };
        let mut out = vec![0u8; size];
        probe.encode(&mut out).expect("encodes");
        client.send_to(&out, addr).await.expect("send");
        sent_bytes += size as u64;

        let (len, from) = timeout(DEADLINE, client.recv_from(&mut buf))
            .await
            .expect("echo within the deadline")
            .expect("recv");
        assert_eq!(from, addr);
        assert_eq!(&buf[..len], &out[..], "echo of seq {seq} differs");
        assert_eq!(GamePacket::decode(&buf[..len]), Ok(probe));
    }
    // Counted before the echo is sent, so every received echo is already counted.
    assert_eq!(server.packets(), 100);
    let stats = server.shutdown().await;
    assert_eq!(
        stats,
        EchoStats {
            packets: 100,
            bytes: sent_bytes,
            errors: 0
        }
    );
}

#[tokio::test]
async fn each_sender_gets_its_own_echo() {
    let server = EchoServer::bind(LOOPBACK).await.expect("bind server");
    let a = UdpSocket::bind(LOOPBACK).await.expect("bind a");
    let b = UdpSocket::bind(LOOPBACK).await.expect("bind b");
    a.send_to(b"from-a-padding-to-20-bytes", server.local_addr())
        .await
        .expect("send a");
    b.send_to(b"from-b", server.local_addr())
        .await
        .expect("send b");
    let mut buf = [0u8; 64];
    let (n, _) = timeout(DEADLINE, b.recv_from(&mut buf))
        .await
        .expect("b echo in time")
        .expect("recv b");
    assert_eq!(&buf[..n], b"from-b");
    let (n, _) = timeout(DEADLINE, a.recv_from(&mut buf))
        .await
        .expect("a echo in time")
        .expect("recv a");
    assert_eq!(&buf[..n], b"from-a-padding-to-20-bytes");
    assert_eq!(server.stats().bytes, 26 + 6);
}

#[tokio::test]
async fn shutdown_closes_the_socket() {
    let server = EchoServer::bind(LOOPBACK).await.expect("bind server");
    let addr = server.local_addr();
    // While it runs, the port is taken.
    assert!(UdpSocket::bind(addr).await.is_err());
    let stats = timeout(DEADLINE, server.shutdown())
        .await
        .expect("shutdown in time");
    assert_eq!(stats, EchoStats::default());
    // Once shutdown returns, the port is free again.
    UdpSocket::bind(addr).await.expect("port released");
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = EchoServer::bind(LOOPBACK).await.expect("bind server");
    let addr = server.local_addr();
    drop(server);
    // The aborted task releases the socket on its next poll; wait for that, with a deadline.
    let rebound = timeout(DEADLINE, async {
        loop {
            if let Ok(socket) = UdpSocket::bind(addr).await {
                return socket;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(rebound.is_ok(), "port still held after drop");
}
