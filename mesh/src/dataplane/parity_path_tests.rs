//! Cross-path parity (`multipath = "parity"`): game data on the active path, FEC repairs on
//! the standby, and the proxy mirroring it downstream. Path 0 goes through a relay (the proxy
//! sees the relay's address), path 1 direct (the proxy sees the edge's address).

use super::*;
use crate::dataplane::limiter::TokenBucket;
use crate::dataplane::proxy::ProxySession;
use lightspeed_protocol::fec::{FecScheme, new_decoder, new_encoder};
use lightspeed_protocol::header::{self, Header, MAX_PACKET_LEN};
use lightspeed_protocol::{SessionId, SessionKey};

const KEY: SessionKey = SessionKey([3; 32]);
const EDGE: &str = "198.51.100.10:50000";
const RELAY: &str = "192.0.2.1:4434";
const PROXY: &str = "203.0.113.1:4434";
const SCHEME: FecScheme = FecScheme::Xor { k: 2 };

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[derive(Default)]
struct Out {
    sent: Vec<(SocketAddr, Vec<u8>)>,
    delivered: Vec<Vec<u8>>,
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
}

fn open(bytes: &[u8]) -> Packet<'_> {
    header::parse(bytes).unwrap().verify(&KEY).unwrap()
}

fn endpoint() -> Endpoint {
    Endpoint::new(
        SessionId(5),
        Some(new_encoder(SCHEME, Duration::from_millis(50)).unwrap()),
        Some(new_decoder(SCHEME, 16).unwrap()),
        Micros(0),
    )
}

/// (to, path, type) of each packet sent.
fn kinds(sent: &[(SocketAddr, Vec<u8>)]) -> Vec<(SocketAddr, u8, PacketType)> {
    sent.iter()
        .map(|(to, b)| {
            let h = open(b).header;
            (*to, h.path, h.packet_type)
        })
        .collect()
}

struct Pair {
    edge: EdgeSession,
    proxy: ProxySession,
    e: Out,
    p: Out,
}

impl Pair {
    /// Both paths bound in `mode`, or only path 0 when `standby` is false.
    fn new(mode: MultipathMode, standby: bool) -> Pair {
        let mut timing = EdgeTiming::new(
            Duration::from_millis(250),
            Duration::from_secs(1),
            Duration::from_millis(16),
        );
        timing.multipath.mode = mode;
        let mut n = Pair {
            edge: EdgeSession::new(endpoint(), addr(RELAY), [4; 8], timing, Micros(0)),
            proxy: ProxySession::new(endpoint(), TokenBucket::new(0, 1, Micros(0))),
            e: Out::default(),
            p: Out::default(),
        };
        n.edge.poll(Micros(0), &mut n.e);
        n.run();
        if standby {
            assert!(n.edge.set_standby(1, addr(PROXY), Micros(0)));
            n.edge.poll(Micros(0), &mut n.e);
            n.run();
            assert!(n.edge.path_bound(1));
        }
        n
    }

    /// Carries everything in flight both ways (zero delay, no loss).
    fn run(&mut self) {
        let now = Micros(0);
        loop {
            let up: Vec<_> = self.e.sent.drain(..).collect();
            let down: Vec<_> = self.p.sent.drain(..).collect();
            if up.is_empty() && down.is_empty() {
                return;
            }
            for (to, bytes) in up {
                let from = if to == addr(RELAY) { RELAY } else { EDGE };
                let _ = self
                    .proxy
                    .on_packet(now, addr(from), &open(&bytes), &mut self.p);
            }
            for (to, bytes) in down {
                let from = if to == addr(RELAY) { RELAY } else { PROXY };
                let _ = self
                    .edge
                    .on_packet(now, addr(from), &open(&bytes), &mut self.e);
            }
        }
    }
}

#[test]
fn edge_sends_data_on_the_active_path_and_parity_on_the_standby() {
    let mut n = Pair::new(MultipathMode::Parity, true);
    for i in 0..4u8 {
        n.edge.from_game(Micros(1_000), &[i; 20], &mut n.e).unwrap();
    }
    let sent = kinds(&n.e.sent);
    let data: Vec<_> = sent.iter().filter(|k| k.2 == PacketType::Data).collect();
    let parity: Vec<_> = sent.iter().filter(|k| k.2 == PacketType::Parity).collect();
    assert_eq!(data.len(), 4);
    assert!(data.iter().all(|k| k.0 == addr(RELAY) && k.1 == 0));
    // Two groups of two: one repair each, both on path 1, direct to the proxy.
    assert_eq!(parity.len(), 2);
    assert!(parity.iter().all(|k| k.0 == addr(PROXY) && k.1 == 1));
    assert_eq!(n.edge.endpoint.stats().duplicates_sent, 0);

    // The proxy accepts the repairs on path 1 and answers in kind.
    n.run();
    assert_eq!(n.p.delivered.len(), 4);
    for i in 0..4u8 {
        n.proxy.from_server(Micros(2_000), &[i; 30], &mut n.p);
    }
    let down = kinds(&n.p.sent);
    let data: Vec<_> = down.iter().filter(|k| k.2 == PacketType::Data).collect();
    let parity: Vec<_> = down.iter().filter(|k| k.2 == PacketType::Parity).collect();
    assert_eq!(data.len(), 4);
    assert!(data.iter().all(|k| k.0 == addr(RELAY) && k.1 == 0));
    assert_eq!(parity.len(), 2);
    assert!(parity.iter().all(|k| k.0 == addr(EDGE) && k.1 == 1));
    n.run();
    assert_eq!(n.e.delivered.len(), 4);
}

#[test]
fn a_lost_data_packet_is_rebuilt_from_the_other_paths_repair() {
    let mut n = Pair::new(MultipathMode::Parity, true);
    n.edge.from_game(Micros(1_000), &[1; 20], &mut n.e).unwrap();
    // Path 0 loses the first packet of the group.
    n.e.sent.clear();
    n.edge.from_game(Micros(1_000), &[2; 20], &mut n.e).unwrap();
    n.run();
    assert_eq!(n.p.delivered, vec![vec![2; 20], vec![1; 20]]);
    assert_eq!(n.proxy.endpoint.stats().recovered, 1);
}

#[test]
fn without_a_bound_standby_parity_stays_with_the_data() {
    let mut n = Pair::new(MultipathMode::Parity, false);
    for i in 0..2u8 {
        n.edge.from_game(Micros(1_000), &[i; 20], &mut n.e).unwrap();
    }
    let sent = kinds(&n.e.sent);
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|k| k.0 == addr(RELAY) && k.1 == 0));
}

#[test]
fn other_modes_keep_parity_on_the_active_path_both_ways() {
    let mut n = Pair::new(MultipathMode::Off, true);
    for i in 0..2u8 {
        n.edge.from_game(Micros(1_000), &[i; 20], &mut n.e).unwrap();
    }
    assert!(
        kinds(&n.e.sent)
            .iter()
            .all(|k| k.0 == addr(RELAY) && k.1 == 0)
    );
    n.run();
    for i in 0..2u8 {
        n.proxy.from_server(Micros(2_000), &[i; 30], &mut n.p);
    }
    let down = kinds(&n.p.sent);
    assert_eq!(down.len(), 3);
    assert!(down.iter().all(|k| k.0 == addr(RELAY) && k.1 == 0));
}
