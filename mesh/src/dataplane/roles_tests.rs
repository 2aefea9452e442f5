//! Edge and proxy sessions talking through an in-memory wire.

use super::*;
use crate::dataplane::limiter::TokenBucket;
use crate::dataplane::proxy::{ProxyEvent, ProxySession};
use lightspeed_protocol::header::{self, Header, MAX_PACKET_LEN};
use lightspeed_protocol::{SessionId, SessionKey};

const KEY: SessionKey = SessionKey([5; 32]);
const EDGE: &str = "198.51.100.10:50000";
const PROXY: &str = "203.0.113.1:4434";

#[derive(Default)]
struct Out {
    sent: Vec<(SocketAddr, Vec<u8>)>,
    delivered: Vec<Vec<u8>>,
    dropped: Vec<DropReason>,
}

impl EndpointOutput for Out {
    fn to_peer(&mut self, to: SocketAddr, header: &Header, payload: &[u8]) {
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        let n = header::seal(header, &KEY, payload, &mut buf).unwrap();
        buf.truncate(n);
        self.sent.push((to, buf));
    }
    fn deliver(&mut self, payload: &[u8]) {
        self.delivered.push(payload.to_vec());
    }
    fn dropped(&mut self, reason: DropReason) {
        self.dropped.push(reason);
    }
}

fn timing() -> EdgeTiming {
    EdgeTiming::new(
        Duration::from_millis(500),
        Duration::from_millis(300),
        Duration::from_millis(500),
    )
}

fn pair() -> (EdgeSession, ProxySession) {
    let edge = EdgeSession::new(
        Endpoint::new(SessionId(77), None, None, Micros(0)),
        PROXY.parse().unwrap(),
        [1, 2, 3, 4, 5, 6, 7, 8],
        timing(),
        Micros(0),
    );
    let proxy = ProxySession::new(
        Endpoint::new(SessionId(77), None, None, Micros(0)),
        TokenBucket::new(0, 1, Micros(0)),
    );
    (edge, proxy)
}

fn open(bytes: &[u8]) -> Packet<'_> {
    header::parse(bytes).unwrap().verify(&KEY).unwrap()
}

#[test]
fn bind_handshake_flushes_queued_game_packets_then_traffic_flows_both_ways() {
    let (mut edge, mut proxy) = pair();
    let (mut e_out, mut p_out) = (Out::default(), Out::default());
    let edge_addr: SocketAddr = EDGE.parse().unwrap();
    let proxy_addr: SocketAddr = PROXY.parse().unwrap();

    edge.from_game(Micros(0), b"hello", &mut e_out).unwrap();
    assert!(e_out.sent.is_empty(), "nothing forwarded before the bind");
    assert_eq!(edge.poll(Micros(0), &mut e_out), EdgeEvent::None);
    assert_eq!(e_out.sent.len(), 1);
    let (to, bind) = e_out.sent.remove(0);
    assert_eq!(to, proxy_addr);

    // Before the bind, a data packet from the edge address is refused.
    assert_eq!(
        proxy.on_packet(Micros(1), edge_addr, &open(&bind), &mut p_out),
        Ok(ProxyEvent::None)
    );
    let (to, ack) = p_out.sent.remove(0);
    assert_eq!(to, edge_addr);
    assert_eq!(ack.len(), bind.len(), "BindAck is never larger than Bind");

    assert_eq!(
        edge.on_packet(Micros(2), proxy_addr, &open(&ack), &mut e_out),
        Ok(EdgeEvent::Bound)
    );
    assert_eq!(e_out.sent.len(), 1, "queued datagram flushed");
    let (_, data) = e_out.sent.remove(0);
    proxy
        .on_packet(Micros(3), edge_addr, &open(&data), &mut p_out)
        .unwrap();
    assert_eq!(p_out.delivered, vec![b"hello".to_vec()]);
    assert_eq!(
        proxy.stats().server_rtt_us,
        0,
        "no server leg before a reply"
    );

    proxy.from_server(Micros(4), b"world", &mut p_out);
    // The server answered 1 µs after the datagram went to it: that is the server leg.
    assert_eq!(proxy.stats().server_rtt_us, 1);
    assert_eq!(proxy.server_leg().min_us(), Some(1));
    let (to, reply) = p_out.sent.remove(0);
    assert_eq!(to, edge_addr);
    edge.on_packet(Micros(5), proxy_addr, &open(&reply), &mut e_out)
        .unwrap();
    assert_eq!(e_out.delivered, vec![b"world".to_vec()]);
}

#[test]
fn proxy_refuses_unbound_sources_and_rebinds_only_on_a_fresh_bind() {
    let (mut edge, mut proxy) = pair();
    let (mut e_out, mut p_out) = (Out::default(), Out::default());
    let edge_addr: SocketAddr = EDGE.parse().unwrap();
    let other: SocketAddr = "198.51.100.99:1".parse().unwrap();
    edge.poll(Micros(0), &mut e_out);
    let (_, bind) = e_out.sent.remove(0);
    proxy
        .on_packet(Micros(1), edge_addr, &open(&bind), &mut p_out)
        .unwrap();
    // A replayed Bind from another address must not steal the session.
    assert_eq!(
        proxy.on_packet(Micros(2), other, &open(&bind), &mut p_out),
        Err(DropReason::Replay)
    );
    assert_eq!(proxy.endpoint.peer(), Some(edge_addr));
    edge.endpoint.send_probe(Micros(3), &mut e_out);
    let (_, probe) = e_out.sent.remove(0);
    assert_eq!(
        proxy.on_packet(Micros(4), other, &open(&probe), &mut p_out),
        Err(DropReason::NotBound)
    );
}

#[test]
fn bind_is_retried_and_a_silent_path_is_reported_dead_once() {
    let (mut edge, mut proxy) = pair();
    let (mut e_out, mut p_out) = (Out::default(), Out::default());
    edge.poll(Micros(0), &mut e_out);
    edge.poll(Micros::from_millis(50), &mut e_out);
    assert_eq!(e_out.sent.len(), 1, "no retry before BIND_RETRY");
    edge.poll(Micros::from_millis(100), &mut e_out);
    assert_eq!(e_out.sent.len(), 2);
    let (_, bind) = e_out.sent.pop().unwrap();
    proxy
        .on_packet(
            Micros::from_millis(101),
            EDGE.parse().unwrap(),
            &open(&bind),
            &mut p_out,
        )
        .unwrap();
    let (_, ack) = p_out.sent.remove(0);
    edge.on_packet(
        Micros::from_millis(102),
        PROXY.parse().unwrap(),
        &open(&ack),
        &mut e_out,
    )
    .unwrap();
    assert_eq!(
        edge.poll(Micros::from_millis(300), &mut e_out),
        EdgeEvent::None
    );
    assert_eq!(
        edge.poll(Micros::from_millis(402), &mut e_out),
        EdgeEvent::PathDead
    );
    assert_eq!(
        edge.poll(Micros::from_millis(450), &mut e_out),
        EdgeEvent::None
    );
    assert_eq!(edge.next_timeout(), Micros::from_millis(602));
}

#[test]
fn pending_queue_is_bounded() {
    let (mut edge, _) = pair();
    let mut out = Out::default();
    for _ in 0..MAX_PENDING {
        edge.from_game(Micros(0), b"x", &mut out).unwrap();
    }
    assert_eq!(
        edge.from_game(Micros(0), b"x", &mut out),
        Err(DropReason::FlowPending)
    );
}

#[test]
fn held_packets_too_old_at_the_bind_ack_are_dropped_not_sent() {
    let (mut edge, mut proxy) = pair();
    let (mut e_out, mut p_out) = (Out::default(), Out::default());
    edge.from_game(Micros(0), b"stale", &mut e_out).unwrap();
    edge.from_game(Micros::from_millis(200), b"fresh", &mut e_out)
        .unwrap();
    edge.poll(Micros::from_millis(200), &mut e_out);
    let (_, bind) = e_out.sent.remove(0);
    proxy
        .on_packet(
            Micros::from_millis(300),
            EDGE.parse().unwrap(),
            &open(&bind),
            &mut p_out,
        )
        .unwrap();
    let (_, ack) = p_out.sent.remove(0);
    edge.on_packet(
        Micros::from_millis(300),
        PROXY.parse().unwrap(),
        &open(&ack),
        &mut e_out,
    )
    .unwrap();
    assert_eq!(e_out.sent.len(), 1, "only the fresh datagram is flushed");
    assert_eq!(e_out.dropped, vec![DropReason::FlowPending]);
    let (_, data) = e_out.sent.remove(0);
    proxy
        .on_packet(
            Micros::from_millis(301),
            EDGE.parse().unwrap(),
            &open(&data),
            &mut p_out,
        )
        .unwrap();
    assert_eq!(p_out.delivered, vec![b"fresh".to_vec()]);
}
