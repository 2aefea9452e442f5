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
        self.run_at(Micros(0), |_, _| false);
    }

    /// Carries everything in flight both ways at `now`, losing what `lose(to, bytes)` says.
    fn run_at(&mut self, now: Micros, lose: impl Fn(SocketAddr, &[u8]) -> bool) {
        loop {
            let up: Vec<_> = self.e.sent.drain(..).collect();
            let down: Vec<_> = self.p.sent.drain(..).collect();
            if up.is_empty() && down.is_empty() {
                return;
            }
            let up = up.into_iter().filter(|(to, b)| !lose(*to, b));
            let down: Vec<_> = down.into_iter().filter(|(to, b)| !lose(*to, b)).collect();
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

/// Sends `n` game packets at `now` and returns (to, path, type) of what the edge sent.
fn play(n: &mut Pair, now: Micros, count: u8) -> Vec<(SocketAddr, u8, PacketType)> {
    n.e.sent.clear();
    for i in 0..count {
        n.edge.from_game(now, &[i; 20], &mut n.e).unwrap();
    }
    kinds(&n.e.sent)
}

fn parity_paths(sent: &[(SocketAddr, u8, PacketType)]) -> Vec<u8> {
    sent.iter()
        .filter(|k| k.2 == PacketType::Parity)
        .map(|k| k.1)
        .collect()
}

#[test]
fn the_adaptive_fec_turns_cross_path_parity_on_and_off_at_run_time() {
    // The operator's mode is off: only the run-time choice moves parity.
    let mut n = Pair::new(MultipathMode::Off, true);
    assert_eq!(parity_paths(&play(&mut n, Micros(1_000), 4)), vec![0, 0]);
    assert_eq!(n.edge.parity_on_standby(), 0);
    n.run_at(Micros(1_000), |_, _| false);

    n.edge.set_cross_parity(true);
    assert!(n.edge.cross_parity());
    let sent = play(&mut n, Micros(2_000), 4);
    assert_eq!(parity_paths(&sent), vec![1, 1]);
    assert!(
        sent.iter()
            .filter(|k| k.2 == PacketType::Data)
            .all(|k| k.1 == 0 && k.0 == addr(RELAY))
    );
    assert_eq!(n.edge.parity_on_standby(), 2);
    // The proxy mirrors it at once (its last repairs from the edge came on path 1, though
    // path 0 had some 1 ms before): its repairs go on path 1 too.
    n.run_at(Micros(2_000), |_, _| false);
    n.p.sent.clear();
    for i in 0..4u8 {
        n.proxy.from_server(Micros(3_000), &[i; 30], &mut n.p);
    }
    assert_eq!(parity_paths(&kinds(&n.p.sent)), vec![1, 1]);
    n.p.sent.clear();

    // A later choice puts it back behind the data, and the proxy follows at once.
    n.edge.set_cross_parity(false);
    assert_eq!(parity_paths(&play(&mut n, Micros(4_000), 4)), vec![0, 0]);
    assert_eq!(n.edge.parity_on_standby(), 2);
    n.run_at(Micros(4_000), |_, _| false);
    n.p.sent.clear();
    for i in 0..4u8 {
        n.proxy.from_server(Micros(5_000), &[i; 30], &mut n.p);
    }
    assert_eq!(parity_paths(&kinds(&n.p.sent)), vec![0, 0]);
}

#[test]
fn cross_path_parity_falls_back_behind_the_data_when_the_standby_dies_or_goes() {
    let mut n = Pair::new(MultipathMode::Off, true);
    n.edge.set_cross_parity(true);
    assert_eq!(parity_paths(&play(&mut n, Micros(1_000), 2)), vec![1]);
    n.run();
    // Path 1 stops answering: its probes go unanswered for more than three keepalives
    // (250 ms each) while path 0 keeps working.
    let lose_standby = |to: SocketAddr, _: &[u8]| to == addr(PROXY) || to == addr(EDGE);
    for k in 1..=5u64 {
        let now = Micros(k * 250_000);
        n.edge.poll(now, &mut n.e);
        n.run_at(now, lose_standby);
    }
    let now = Micros(1_300_000);
    assert!(n.edge.standby_figures(now).is_none());
    assert_eq!(parity_paths(&play(&mut n, now, 2)), vec![0]);
    // The choice stands: when the standby answers again, parity goes back there.
    n.edge.poll(Micros(1_500_000), &mut n.e);
    n.run_at(Micros(1_500_000), |_, _| false);
    assert_eq!(parity_paths(&play(&mut n, Micros(1_500_000), 2)), vec![1]);
    // Gone: behind the data.
    assert!(n.edge.drop_standby(1));
    assert_eq!(parity_paths(&play(&mut n, Micros(1_600_000), 2)), vec![0]);
}

#[test]
fn the_standby_figures_come_from_its_probes_and_prior() {
    let mut n = Pair::new(MultipathMode::Off, true);
    // No prior and no settled probes yet: nothing to say.
    assert_eq!(n.edge.standby_figures(Micros(0)), None);
    assert!(n.edge.set_path_loss_prior(1, Some(5_000)));
    assert!(!n.edge.set_path_loss_prior(7, Some(5_000)));
    let f = n.edge.standby_figures(Micros(0)).unwrap();
    assert_eq!((f.path, f.loss_ppm), (1, 5_000));
    assert!(n.edge.set_path_loss_prior(1, None));

    // 40 keepalive rounds (250 ms); every fifth probe on path 1 (direct to the proxy) is lost.
    for k in 1..=40u64 {
        let now = Micros(k * 250_000);
        n.edge.poll(now, &mut n.e);
        let lossy = k % 5 == 1;
        n.run_at(now, |to, _| lossy && to == addr(PROXY));
    }
    let now = Micros(10_500_000);
    // 8 of 40 lost on path 1, none on path 0.
    assert_eq!(n.edge.path_loss_ppm(1, now), Some(200_000));
    assert_eq!(n.edge.path_loss_ppm(0, now), Some(0));
    let f = n.edge.standby_figures(now).unwrap();
    assert_eq!(f.loss_ppm, 200_000);
    assert_eq!(f.extra_delay, Duration::ZERO);
    // Duplicating on the standby: its figure is not the FEC's business.
    let mut d = Pair::new(MultipathMode::Always, true);
    d.edge.set_path_loss_prior(1, Some(0));
    assert_eq!(d.edge.standby_figures(Micros(0)), None);
}

#[test]
fn the_paths_are_unsettled_while_a_failover_may_still_be_undone() {
    let mut n = Pair::new(MultipathMode::Off, true);
    assert!(n.edge.paths_settled(Micros(0)));
    // Path 0 (through the relay) goes dark while the game sends every 10 ms.
    let mut switched_at = None;
    for k in 1..=20u64 {
        let now = Micros(k * 10_000);
        if let Ok(EdgeEvent::Switched { from: 0, to: 1, .. }) =
            n.edge.from_game(now, &[1; 20], &mut n.e)
        {
            switched_at = Some(now);
            break;
        }
        n.run_at(now, |to, _| to == addr(RELAY));
    }
    let at = switched_at.expect("failed over to path 1");
    assert_eq!(n.edge.active_path(), 1);
    assert!(!n.edge.paths_settled(at));
    assert!(!n.edge.paths_settled(Micros(at.0 + 900_000)));
    // Past the undo window the roles stand: path 1 carries the game, path 0 is the standby.
    assert!(n.edge.paths_settled(Micros(at.0 + 1_100_000)));
}

#[test]
fn the_standbys_extra_delay_is_half_the_difference_of_the_paths_rtts() {
    let mut n = Pair::new(MultipathMode::Off, true);
    n.edge.set_path_loss_prior(1, Some(0));
    // Replies on path 0 come back 10 ms after the probes, on path 1 after 30 ms.
    for k in 1..=60u64 {
        let now = Micros(k * 250_000);
        n.edge.poll(now, &mut n.e);
        for (to, bytes) in n.e.sent.drain(..).collect::<Vec<_>>() {
            let from = if to == addr(RELAY) { RELAY } else { EDGE };
            let _ = n.proxy.on_packet(now, addr(from), &open(&bytes), &mut n.p);
        }
        for (to, bytes) in n.p.sent.drain(..).collect::<Vec<_>>() {
            let (from, rtt) = if to == addr(RELAY) {
                (RELAY, 10_000)
            } else {
                (PROXY, 30_000)
            };
            let at = Micros(now.0 + rtt);
            let _ = n.edge.on_packet(at, addr(from), &open(&bytes), &mut n.e);
        }
    }
    let f = n.edge.standby_figures(Micros(15_000_000)).unwrap();
    assert_eq!(f.path, 1);
    // The RTTs are smoothed (1/8 per sample) from the Binds' zero: within 0.1 ms after 60.
    let ms = f.extra_delay.as_secs_f64() * 1e3;
    assert!((9.9..=10.0).contains(&ms), "{ms}");
}
