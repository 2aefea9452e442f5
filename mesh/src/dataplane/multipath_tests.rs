//! Two paths per session: per-path binds, failover timing, duplication and dedupe, the
//! proxy's downstream choice. An in-memory wire with two paths: path 0 through a relay (the
//! proxy sees the relay's address), path 1 direct (the proxy sees the edge's address).

use super::*;
use crate::dataplane::limiter::TokenBucket;
use crate::dataplane::proxy::{ProxyEvent, ProxySession};
use lightspeed_protocol::header::{self, Header, MAX_PACKET_LEN};
use lightspeed_protocol::{SessionId, SessionKey};

const KEY: SessionKey = SessionKey([7; 32]);
const EDGE: &str = "198.51.100.10:50000";
const RELAY: &str = "192.0.2.1:4434";
const PROXY: &str = "203.0.113.1:4434";
/// 64 pps: the active path's silence threshold is 46.875 ms.
const GAP: Duration = Duration::from_micros(15_625);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

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

fn open(bytes: &[u8]) -> Packet<'_> {
    header::parse(bytes).unwrap().verify(&KEY).unwrap()
}

fn path_of(bytes: &[u8]) -> u8 {
    open(bytes).header.path
}

struct Net {
    edge: EdgeSession,
    proxy: ProxySession,
    e: Out,
    p: Out,
    relay_up: bool,
    /// Drops what the relay carries towards the edge only.
    relay_down_lost: bool,
    edge_events: Vec<EdgeEvent>,
    proxy_drops: Vec<DropReason>,
    edge_drops: Vec<DropReason>,
}

impl Net {
    fn new(mode: MultipathMode) -> Net {
        let mut timing = EdgeTiming::new(Duration::from_millis(250), Duration::from_secs(1), GAP);
        timing.multipath.mode = mode;
        let edge = EdgeSession::new(
            Endpoint::new(SessionId(9), None, None, Micros(0)),
            addr(RELAY),
            [4; 8],
            timing,
            Micros(0),
        );
        let proxy = ProxySession::new(
            Endpoint::new(SessionId(9), None, None, Micros(0)),
            TokenBucket::new(0, 1, Micros(0)),
        );
        Net {
            edge,
            proxy,
            e: Out::default(),
            p: Out::default(),
            relay_up: true,
            relay_down_lost: false,
            edge_events: Vec::new(),
            proxy_drops: Vec::new(),
            edge_drops: Vec::new(),
        }
    }

    /// Carries everything in flight, both ways, until the wire is quiet (zero delay).
    fn run(&mut self, now: Micros) {
        loop {
            let up: Vec<_> = self.e.sent.drain(..).collect();
            let down: Vec<_> = self.p.sent.drain(..).collect();
            if up.is_empty() && down.is_empty() {
                return;
            }
            for (to, bytes) in up {
                let from = match to.to_string().as_str() {
                    RELAY if self.relay_up => addr(RELAY),
                    PROXY => addr(EDGE),
                    _ => continue,
                };
                match self.proxy.on_packet(now, from, &open(&bytes), &mut self.p) {
                    Ok(ProxyEvent::None) => {}
                    Ok(ev) => panic!("{ev:?}"),
                    Err(r) => self.proxy_drops.push(r),
                }
            }
            for (to, bytes) in down {
                let from = match to.to_string().as_str() {
                    RELAY if self.relay_up && !self.relay_down_lost => addr(RELAY),
                    EDGE => addr(PROXY),
                    _ => continue,
                };
                match self.edge.on_packet(now, from, &open(&bytes), &mut self.e) {
                    Ok(EdgeEvent::None) => {}
                    Ok(ev) => self.edge_events.push(ev),
                    Err(r) => self.edge_drops.push(r),
                }
            }
        }
    }

    fn poll(&mut self, now: Micros) {
        match self.edge.poll(now, &mut self.e) {
            EdgeEvent::None => {}
            ev => self.edge_events.push(ev),
        }
        self.proxy.poll(now, &mut self.p);
        self.run(now);
    }

    /// One game packet up; the echo server answers each at once.
    fn game(&mut self, now: Micros, n: u8) {
        match self.edge.from_game(now, &[n], &mut self.e).unwrap() {
            EdgeEvent::None => {}
            ev => self.edge_events.push(ev),
        }
        let before = self.p.delivered.len();
        self.run(now);
        let got: Vec<Vec<u8>> = self.p.delivered.drain(before..).collect();
        for payload in got {
            self.proxy.from_server(now, &payload, &mut self.p);
        }
        self.run(now);
    }

    /// Both paths bound: path 0 via the relay, path 1 direct to the proxy.
    fn bound_both(mode: MultipathMode) -> Net {
        let mut n = Net::new(mode);
        n.poll(Micros(0));
        assert!(n.edge.set_standby(1, addr(PROXY), Micros(0)));
        n.poll(Micros(0));
        assert_eq!(
            n.edge_events,
            vec![EdgeEvent::Bound, EdgeEvent::StandbyBound(1)]
        );
        n.edge_events.clear();
        n
    }
}

#[test]
fn each_path_binds_with_its_own_id_and_the_proxy_keeps_one_downstream_per_path() {
    let mut n = Net::new(MultipathMode::Off);
    n.edge.poll(Micros(0), &mut n.e);
    assert_eq!(n.e.sent.len(), 1);
    assert_eq!(n.e.sent[0].0, addr(RELAY));
    assert_eq!(path_of(&n.e.sent[0].1), 0);
    n.run(Micros(0));
    assert_eq!(n.proxy.downstream(0), Some(addr(RELAY)));
    assert_eq!(n.proxy.downstream(1), None);
    assert!(
        !n.edge.set_standby(0, addr(PROXY), Micros(1)),
        "not the active path"
    );
    assert!(
        !n.edge.set_standby(2, addr(PROXY), Micros(1)),
        "no third path"
    );
    assert!(n.edge.set_standby(1, addr(PROXY), Micros(1)));
    n.edge.poll(Micros(1), &mut n.e);
    let binds: Vec<_> = n.e.sent.iter().map(|(to, b)| (*to, path_of(b))).collect();
    assert_eq!(binds, vec![(addr(PROXY), 1)]);
    // The path-1 Bind replayed from another address must not move path 1.
    let (_, bind1) = n.e.sent[0].clone();
    n.run(Micros(1));
    assert_eq!(n.proxy.downstream(1), Some(addr(EDGE)));
    let thief = addr("198.51.100.66:1");
    assert_eq!(
        n.proxy.on_packet(Micros(2), thief, &open(&bind1), &mut n.p),
        Err(DropReason::Replay)
    );
    assert_eq!(n.proxy.downstream(1), Some(addr(EDGE)));
    assert!(n.edge.path_bound(1));
    // Data claiming path 1 but coming from path 0's address is refused.
    n.edge.from_game(Micros(3), b"x", &mut n.e).unwrap();
    let (_, data) = n.e.sent.remove(0);
    let mut forged = data.clone();
    forged[1] = 1; // path byte: the MAC no longer matches
    assert!(header::parse(&forged).unwrap().verify(&KEY).is_err());
    assert_eq!(
        n.proxy
            .on_packet(Micros(3), addr(EDGE), &open(&data), &mut n.p),
        Err(DropReason::NotBound),
        "path 0 is bound to the relay, not the edge"
    );
}

#[test]
fn the_first_packet_after_the_death_declaration_goes_to_the_standby() {
    let mut n = Net::bound_both(MultipathMode::Off);
    let mut t = Micros(0);
    for i in 0..64u8 {
        n.game(t, i);
        t = t + GAP;
    }
    assert_eq!(n.p.delivered.len(), 0, "the echo drained them");
    assert!(n.proxy_drops.is_empty(), "{:?}", n.proxy_drops);
    let echoed = n.e.delivered.len();
    assert_eq!(echoed, 64);
    let last_heard = Micros(t.0 - GAP.as_micros() as u64);
    // The relay crashes. Packets keep going to it for 46.875 ms of silence.
    n.relay_up = false;
    n.game(t, 100);
    n.game(last_heard + Duration::from_micros(46_874), 101);
    assert_eq!(n.edge.active_path(), 0);
    assert!(n.edge_events.is_empty());
    // At the threshold the packet that finds the path dead already goes direct.
    let declared = last_heard + Duration::from_micros(46_875);
    let event = n.edge.from_game(declared, &[102], &mut n.e).unwrap();
    assert_eq!(
        event,
        EdgeEvent::Switched {
            from: 0,
            to: 1,
            detect: Duration::from_micros(46_875),
        }
    );
    let sent: Vec<_> =
        n.e.sent
            .iter()
            .map(|(to, b)| (*to, path_of(b), open(b).header.packet_type))
            .collect();
    assert_eq!(sent[0], (addr(PROXY), 1, PacketType::Data), "{sent:?}");
    assert!(
        sent.contains(&(addr(RELAY), 0, PacketType::Probe)),
        "a probe on the dead path: {sent:?}"
    );
    assert_eq!(sent.iter().filter(|s| s.2 == PacketType::Data).count(), 1);
    assert_eq!(n.edge.active_path(), 1);
    n.e.sent.clear();
    n.game(declared + Duration::from_millis(1), 103);
    // The proxy answers on the path the latest data came in on; the first echo times it.
    let EdgeEvent::FailedOver { to: 1, record } = n.edge_events[0] else {
        panic!("{:?}", n.edge_events);
    };
    assert_eq!(record.detect, Duration::from_micros(46_875));
    assert_eq!(record.total, Duration::from_micros(47_875));
    assert_eq!(n.proxy.primary_path(), 1);
    assert_eq!(n.e.delivered.last(), Some(&vec![103u8]));
}

#[test]
fn without_a_standby_a_silent_path_is_kept_until_the_session_rule_ends_it() {
    let mut n = Net::new(MultipathMode::Off);
    n.poll(Micros(0));
    n.game(Micros(1_000), 1);
    n.relay_up = false;
    n.game(Micros::from_millis(100), 2);
    n.poll(Micros::from_millis(200));
    assert_eq!(n.edge.active_path(), 0);
    assert!(n.edge_events.iter().all(|e| *e == EdgeEvent::Bound));
    n.poll(Micros::from_millis(1_001));
    assert_eq!(n.edge_events.last(), Some(&EdgeEvent::PathDead));
}

#[test]
fn duplicate_mode_sends_on_both_paths_and_both_ends_keep_one_copy() {
    let mut n = Net::bound_both(MultipathMode::Always);
    let mut t = Micros(0);
    for i in 0..10u8 {
        n.game(t, i);
        t = t + GAP;
    }
    // Every game packet reached the proxy twice and the game once; each echo likewise.
    let dedup = |d: &[DropReason]| d.iter().filter(|r| **r == DropReason::Deduplicated).count();
    assert_eq!(dedup(&n.proxy_drops), 10);
    assert_eq!(dedup(&n.edge_drops), 10);
    assert!(!n.proxy_drops.contains(&DropReason::Replay));
    assert_eq!(n.e.delivered.len(), 10);
    assert_eq!(n.edge.endpoint.stats().duplicates_sent, 10);
    assert_eq!(n.proxy.endpoint.stats().duplicates_sent, 10);
    // The relay crashes: nothing is lost, and nothing waits for a failover.
    n.relay_up = false;
    for i in 10..20u8 {
        n.game(t, i);
        t = t + GAP;
    }
    assert_eq!(n.e.delivered.len(), 20);
    assert_eq!(
        n.e.delivered.iter().map(|p| p[0]).collect::<Vec<_>>(),
        (0..20).collect::<Vec<u8>>()
    );
    assert_eq!(n.edge.active_path(), 1, "the silent primary was left");
}

#[test]
fn the_proxy_duplicates_downstream_only_while_upstream_copies_arrive_on_both_paths() {
    let mut n = Net::bound_both(MultipathMode::Off);
    n.game(Micros(0), 1);
    assert_eq!(n.proxy.duplicate_target(Micros(0)), None);
    // One copy arrives on path 1 (a duplicating edge); for 100 ms replies go both ways.
    n.edge.endpoint.set_route(addr(PROXY), 1);
    n.edge
        .endpoint
        .send_data(Micros::from_millis(10), b"d", &mut n.e);
    n.edge.endpoint.set_route(addr(RELAY), 0);
    n.run(Micros::from_millis(10));
    assert_eq!(n.proxy.primary_path(), 1);
    assert_eq!(
        n.proxy.duplicate_target(Micros::from_millis(10)),
        Some((addr(RELAY), 0))
    );
    n.game(Micros::from_millis(20), 2);
    assert_eq!(n.proxy.primary_path(), 0);
    assert_eq!(
        n.proxy.duplicate_target(Micros::from_millis(110)),
        Some((addr(EDGE), 1))
    );
    assert_eq!(n.proxy.duplicate_target(Micros::from_millis(111)), None);
}

#[test]
fn adaptive_mode_duplicates_while_the_primary_loses_and_stops_after_calm() {
    let mut n = Net::bound_both(MultipathMode::Adaptive);
    let mut t = Micros(0);
    let lose = |n: &mut Net, t: Micros, i: u32| {
        // The relay drops one echo in 64 on the way back. (Upstream loss is invisible to
        // the edge: it judges the primary by what comes back.)
        n.relay_down_lost = i % 64 == 5;
        n.game(t, i as u8);
        n.relay_down_lost = false;
    };
    for i in 0..300u32 {
        lose(&mut n, t, i);
        t = t + GAP;
        n.poll(t);
    }
    assert!(n.edge.duplicating(t), "lossy primary: duplicating");
    let dups = n.edge.endpoint.stats().duplicates_sent;
    assert!(dups > 0);
    // Clean from here on: after 5 s of calm blocks it stops.
    for i in 0..500u32 {
        n.game(t, i as u8);
        t = t + GAP;
        n.poll(t);
    }
    assert!(!n.edge.duplicating(t));
    assert_eq!(n.edge.active_path(), 0, "loss alone never fails over");
}

#[test]
fn a_failover_is_undone_when_the_old_path_answers_within_a_second() {
    let mut n = Net::bound_both(MultipathMode::Off);
    let mut t = Micros(0);
    for i in 0..10u8 {
        n.game(t, i);
        t = t + GAP;
    }
    // A 200 ms stall on the relay: long enough to be declared dead, but it comes back.
    n.relay_up = false;
    for i in 10..16u8 {
        n.game(t, i);
        t = t + GAP;
    }
    assert_eq!(n.edge.active_path(), 1);
    assert!(matches!(
        n.edge_events[0],
        EdgeEvent::Switched { from: 0, to: 1, .. }
    ));
    n.relay_up = true;
    // The next keepalive on path 0 is answered: back on the primary.
    n.poll(t + Duration::from_millis(250));
    assert_eq!(
        n.edge_events.last(),
        Some(&EdgeEvent::SwitchUndone { to: 0 })
    );
    assert_eq!(n.edge.active_path(), 0);
    n.edge_events.clear();
    let t = t + Duration::from_millis(260);
    n.game(t, 99);
    assert_eq!(n.e.delivered.last(), Some(&vec![99u8]));
    assert!(n.edge_events.is_empty(), "{:?}", n.edge_events);
    // After a real crash nothing comes back on the old path, and past the window an answer
    // no longer undoes anything.
    let mut n = Net::bound_both(MultipathMode::Off);
    let mut t = Micros(0);
    for i in 0..16u8 {
        n.relay_up = i < 10;
        n.game(t, i);
        t = t + GAP;
    }
    assert_eq!(n.edge.active_path(), 1);
    n.relay_up = true;
    n.poll(Micros::from_millis(1_200));
    assert_eq!(n.edge.active_path(), 1);
}

#[test]
fn a_chosen_switch_moves_the_game_to_the_bound_standby_and_keeps_the_old_path_bound() {
    let mut n = Net::bound_both(MultipathMode::Off);
    let mut t = Micros(0);
    for i in 0..4u8 {
        n.game(t, i);
        t = t + GAP;
    }
    assert!(!n.edge.switch_to(0, t), "already active");
    assert!(!n.edge.switch_to(2, t), "no such path");
    // A packet still in flight on path 0 when the switch happens.
    n.edge.from_game(t, &[50], &mut n.e).unwrap();
    let in_flight: Vec<_> = n.e.sent.drain(..).collect();
    assert!(n.edge.switch_to(1, t));
    assert_eq!(n.edge.active_path(), 1);
    n.e.sent.extend(in_flight);
    n.run(t);
    let got: Vec<Vec<u8>> = n.p.delivered.drain(..).collect();
    assert_eq!(
        got,
        vec![vec![50u8]],
        "the in-flight packet arrived on the old path"
    );
    n.game(t + GAP, 51);
    assert_eq!(
        n.proxy.primary_path(),
        1,
        "the proxy follows the upstream packet"
    );
    assert_eq!(n.e.delivered.last(), Some(&vec![51u8]));
    assert!(
        n.edge.path_bound(0),
        "the old path stays bound as the standby"
    );
    assert!(n.proxy_drops.is_empty(), "{:?}", n.proxy_drops);
    // A chosen switch is not a failover: no events, nothing to undo.
    assert!(n.edge_events.is_empty(), "{:?}", n.edge_events);
    // And back, with nothing lost either way.
    assert!(n.edge.switch_to(0, t + GAP * 2));
    n.game(t + GAP * 2, 52);
    assert_eq!(n.proxy.primary_path(), 0);
    assert_eq!(n.e.delivered.last(), Some(&vec![52u8]));
}

#[test]
fn a_chosen_switch_refuses_a_standby_that_has_not_bound() {
    let mut n = Net::new(MultipathMode::Off);
    n.poll(Micros(0));
    assert!(n.edge.set_standby(1, addr(PROXY), Micros(1)));
    assert!(
        !n.edge.switch_to(1, Micros(1)),
        "its Bind has not been answered"
    );
    assert_eq!(n.edge.active_path(), 0);
}

#[test]
fn a_packet_late_on_the_path_the_edge_left_does_not_pull_the_replies_back() {
    let mut n = Net::bound_both(MultipathMode::Off);
    let mut t = Micros(0);
    for i in 0..4u8 {
        n.game(t, i);
        t = t + GAP;
    }
    // Packet 60 leaves on path 0 (the slower one, say) and is still in flight when the edge
    // switches; packet 61 goes on path 1 and arrives first.
    n.edge.from_game(t, &[60], &mut n.e).unwrap();
    let late: Vec<_> = n.e.sent.drain(..).collect();
    assert!(n.edge.switch_to(1, t));
    n.edge.from_game(t, &[61], &mut n.e).unwrap();
    n.run(t);
    assert_eq!(n.proxy.primary_path(), 1);
    n.e.sent.extend(late);
    n.run(t);
    assert_eq!(n.proxy.primary_path(), 1, "the older packet moved nothing");
    let got: Vec<Vec<u8>> = n.p.delivered.drain(..).collect();
    assert_eq!(got, vec![vec![61u8], vec![60u8]], "both delivered");
}

/// One keepalive round: the probes due at `t` go out; path 1's answer comes back at once,
/// path 0's (through the relay) `slow` later.
fn probe_round(n: &mut Net, t: Micros, slow: Duration) {
    n.edge.poll(t, &mut n.e);
    let (via_relay, direct): (Vec<_>, Vec<_>) =
        n.e.sent
            .drain(..)
            .partition(|(to, _)| to.to_string() == RELAY);
    n.e.sent.extend(direct);
    n.run(t);
    n.e.sent.extend(via_relay);
    n.run(t + slow);
}

#[test]
fn the_session_rtt_is_the_active_paths_not_a_mix_of_both() {
    let mut n = Net::bound_both(MultipathMode::Off);
    let keepalive = Duration::from_millis(250);
    let slow = Duration::from_millis(40);
    let mut t = Micros(0);
    for _ in 0..40 {
        t = t + keepalive;
        probe_round(&mut n, t, slow);
    }
    let ms = |us: u64| us as f64 / 1e3;
    let rtt0 = n.edge.path_rtt(0).unwrap();
    let rtt1 = n.edge.path_rtt(1).unwrap();
    assert!((rtt0.as_secs_f64() * 1e3 - 40.0).abs() < 1.0, "{rtt0:?}");
    assert!(rtt1 < Duration::from_millis(1), "{rtt1:?}");
    // The endpoint alone averages the probe replies of both paths: between the two.
    let mixed = ms(n.edge.endpoint.stats().srtt_us);
    assert!(mixed > 5.0 && mixed < 35.0, "{mixed}");
    // The session's figure is the path carrying the game, before and after a switch.
    assert!((ms(n.edge.stats().srtt_us) - 40.0).abs() < 1.0);
    assert!(n.edge.switch_to(1, t));
    assert!(
        ms(n.edge.stats().srtt_us) < 1.0,
        "{}",
        n.edge.stats().srtt_us
    );
}
