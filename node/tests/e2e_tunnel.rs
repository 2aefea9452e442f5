//! End-to-end tunnel tests with real processes: `lightspeed-node` edge, relay and proxy on
//! loopback, each from its own TOML file with a freshly generated mesh CA and identities, a
//! UDP echo as the game server and a game client on the edge's redirect port.
//!
//! Every node binds port 0 (a restarted proxy takes over its predecessor's ports) and the
//! tests read the bound addresses from the nodes' JSON logs, so nothing races for a port.
//! Every wait is a condition with a deadline, and every child process is killed on drop.
//!
//! Debugging: with `E2E_DUMP=1` each mesh prints its nodes' warnings and errors when the test
//! ends (`E2E_ALL=1` as well: every log line); run with `--nocapture`.

mod support;

use std::time::{Duration, Instant};

use support::mesh::{LINGER, Mesh, PPS, Setup, edge_toml};
use support::udp::GameClient;
use support::{Node, wait_until};

fn tunnel_delivers_every_packet_byte_exact(via_relay: bool) {
    let mut mesh = Mesh::start(Setup {
        via_relay,
        ..Setup::default()
    });
    mesh.client.warm_up();
    mesh.all_echoed(0..300);
    wait_until("one session at the proxy", Duration::from_secs(2), || {
        mesh.proxy.sessions() == 1
    });
    if let Some(relay) = &mesh.relay {
        assert_eq!(relay.sessions(), 1);
        assert!(
            relay.metric("lightspeed_packets_total{direction=\"upstream\"}") >= 301,
            "the relay forwarded the game's packets"
        );
    }
    assert_eq!(mesh.proxy.drops("bad_mac"), 0);
    assert_eq!(mesh.edge.drops("bad_mac"), 0);

    // A proxy that stops closes its sessions: the authenticated Close reaches the edge
    // (through the relay, which drops its entry as the Close passes).
    mesh.proxy.proc.signal("TERM");
    let status = mesh.proxy.proc.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "proxy: {status:?}");
    mesh.edge
        .proc
        .wait_for_log("session closed by peer", |_| true);
    wait_until("no session at the edge", Duration::from_secs(2), || {
        mesh.edge.sessions() == 0
    });
    if let Some(relay) = &mesh.relay {
        assert_eq!(relay.sessions(), 0);
    }
}

#[test]
fn edge_to_proxy_direct_echoes_300_packets_byte_exact() {
    tunnel_delivers_every_packet_byte_exact(false);
}

#[test]
fn edge_via_relay_to_proxy_echoes_300_packets_byte_exact() {
    tunnel_delivers_every_packet_byte_exact(true);
}

#[test]
fn wrong_token_is_refused_and_nothing_reaches_the_server() {
    let mut mesh = Mesh::start(Setup {
        via_relay: false,
        edge_token: "not-the-right-token-0123456789",
        ..Setup::default()
    });
    mesh.client.send(&support::udp::payload(0));
    let refused = mesh
        .proxy
        .proc
        .wait_for_log("session refused", |f| f["code"] == "BadToken");
    assert_eq!(refused["target"], mesh.echo.addr.to_string());
    let failed = mesh
        .edge
        .proc
        .wait_for_log("session set-up failed", |_| true);
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused by the proxy (BadToken)"),
        "edge error: {error}"
    );
    // Packets right after the refusal are dropped at the edge while it backs off (1 s, then
    // doubling), not turned into a session request each.
    for i in 1..5 {
        mesh.client.send(&support::udp::payload(i));
    }
    wait_until("backoff drops counted", Duration::from_secs(5), || {
        mesh.edge.drops("flow_refused") >= 4
    });
    assert_eq!(mesh.proxy.proc.logs("session refused").len(), 1);
    // After the backoff the edge asks again, and is refused again.
    let mut i = 5;
    wait_until("a second refusal", Duration::from_secs(5), || {
        mesh.client.send(&support::udp::payload(i));
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
        mesh.proxy.proc.logs("session refused").len() >= 2
    });
    assert_eq!(mesh.client.received_within(Duration::from_millis(300)), 0);
    assert_eq!(mesh.echo.received(), 0, "the game server saw a packet");
    assert_eq!(mesh.proxy.sessions(), 0);
    assert!(mesh.proxy.proc.logs("proxy session admitted").is_empty());
}

/// The header's packet type (low nibble of the first byte) for Data.
const DATA: u8 = 0;
const HEADER_LEN: usize = 26;

#[test]
fn forged_replayed_and_junk_packets_are_dropped_and_counted_while_the_session_delivers() {
    let mesh = Mesh::start(Setup {
        forwarder_loss: Some(0.0),
        ..Setup::default()
    });
    let fwd = mesh.forwarder.as_ref().unwrap();
    let relay = mesh.relay();
    mesh.client.warm_up();
    mesh.all_echoed(0..50);

    // A real sealed Data packet of this session, as the edge sent it.
    let sent = support::udp::payload(49);
    let captured = fwd
        .captured()
        .into_iter()
        .rev()
        .find(|p| p[0] & 0x0f == DATA && p.get(HEADER_LEN..) == Some(&sent[..]))
        .expect("captured the edge's packet 49");
    let before = |n: &Node, r: &str| n.drops(r);
    let (relay_mac, relay_replay, relay_trunc) = (
        before(relay, "bad_mac"),
        before(relay, "replay"),
        before(relay, "truncated"),
    );
    let (proxy_trunc, proxy_version) = (
        before(&mesh.proxy, "truncated"),
        before(&mesh.proxy, "bad_version"),
    );

    // Replayed from the address the relay has bound: authentic, but seen before.
    fwd.inject(&captured);
    // One payload bit flipped: the MAC no longer matches.
    let mut forged = captured.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    fwd.inject(&forged);
    // Junk: too short for a header, and a header-sized blob with an unknown version.
    fwd.inject(b"junk!");
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    junk.send_to(b"junk!", mesh.proxy.data).unwrap();
    junk.send_to(&[0xf0; 64], mesh.proxy.data).unwrap();

    wait_until("the relay's drop counters", Duration::from_secs(5), || {
        relay.drops("replay") > relay_replay
            && relay.drops("bad_mac") > relay_mac
            && relay.drops("truncated") > relay_trunc
    });
    wait_until("the proxy's drop counters", Duration::from_secs(5), || {
        mesh.proxy.drops("truncated") > proxy_trunc
            && mesh.proxy.drops("bad_version") > proxy_version
    });
    assert_eq!(relay.drops("replay"), relay_replay + 1);
    assert_eq!(relay.drops("bad_mac"), relay_mac + 1);
    assert_eq!(relay.drops("truncated"), relay_trunc + 1);
    assert_eq!(mesh.proxy.drops("truncated"), proxy_trunc + 1);
    assert_eq!(mesh.proxy.drops("bad_version"), proxy_version + 1);
    // None of them got through to the proxy's session or the game server.
    assert_eq!(mesh.proxy.drops("bad_mac"), 0);

    // The session is unharmed.
    mesh.all_echoed(50..100);
    assert_eq!(relay.sessions(), 1);
}

#[test]
fn fec_recovers_ten_percent_loss_on_the_edge_relay_leg() {
    let mesh = Mesh::start(Setup {
        forwarder_loss: Some(0.10),
        fec: "auto",
        ..Setup::default()
    });
    mesh.client.warm_up();
    // 500 counted packets and 20 more behind them: a game never stops at the packet being
    // measured, and the repairs sent after later packets are what protect the last ones.
    let echoes = mesh.client.burst(0..520, PPS, LINGER);
    let counted = echoes.got.range(0..500).count();
    let (up, down) = mesh.forwarder.as_ref().unwrap().dropped();
    let recovered = mesh.edge.metric("lightspeed_fec_recovered_total")
        + mesh.proxy.metric("lightspeed_fec_recovered_total");
    eprintln!(
        "fec e2e: {counted} of 500 echoed ({} of 520); the leg dropped {up} up, {down} down; \
         FEC recovered {recovered}",
        echoes.got.len()
    );
    assert_eq!(echoes.corrupt, 0);
    // 10 % of ~1,000 packets each way (data and repairs) were lost on the leg.
    assert!(up >= 50 && down >= 50, "the leg lost {up} up, {down} down");
    // Every lost game packet had to be rebuilt (a game packet crosses the leg twice).
    assert!(recovered >= 50, "FEC recovered only {recovered}");
    assert_eq!(counted, 500, "{up} + {down} packets lost on the leg");
}

#[test]
fn idle_sessions_expire_at_relay_and_proxy_after_the_edge_is_killed() {
    let mut mesh = Mesh::start(Setup {
        idle_timeout: "2s",
        keepalive: "250ms",
        ..Setup::default()
    });
    mesh.client.warm_up();
    mesh.all_echoed(0..20);
    wait_until(
        "the session at proxy and relay",
        Duration::from_secs(2),
        || mesh.proxy.sessions() == 1 && mesh.relay().sessions() == 1,
    );
    // Keepalives hold a silent session open past the idle timeout.
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(2_500) {
        assert_eq!(mesh.proxy.sessions(), 1, "expired while the edge was alive");
        std::thread::sleep(Duration::from_millis(100));
    }

    mesh.edge.proc.signal("KILL");
    let killed = Instant::now();
    // idle_timeout (2 s) + the expiry sweep (a tenth of it) + the /health gauge refresh, with
    // slack for a loaded machine.
    wait_until(
        "expiry at proxy and relay",
        Duration::from_millis(3_500),
        || mesh.proxy.sessions() == 0 && mesh.relay().sessions() == 0,
    );
    eprintln!(
        "idle expiry: sessions gone {:?} after kill -9",
        killed.elapsed()
    );
    mesh.proxy
        .proc
        .wait_for_log("session expired (idle)", |_| true);
    mesh.relay
        .as_mut()
        .unwrap()
        .proc
        .wait_for_log("session expired (idle)", |_| true);
}

#[test]
fn sigterm_stops_every_role_with_exit_0_and_the_edge_closes_its_session() {
    let mut mesh = Mesh::start(Setup::default());
    mesh.client.warm_up();
    mesh.all_echoed(0..20);
    wait_until(
        "the session at proxy and relay",
        Duration::from_secs(2),
        || mesh.proxy.sessions() == 1 && mesh.relay().sessions() == 1,
    );

    // The edge stops cleanly and tells the proxy through the relay: both drop the session
    // long before the 30 s idle timeout could.
    mesh.edge.proc.signal("TERM");
    let status = mesh.edge.proc.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "edge: {status:?}");
    wait_until(
        "the Close at proxy and relay",
        Duration::from_secs(3),
        || mesh.proxy.sessions() == 0 && mesh.relay().sessions() == 0,
    );
    mesh.proxy
        .proc
        .wait_for_log("session closed by peer", |_| true);

    // A second edge sets a new session up; then relay and proxy stop while it is active.
    let relay = mesh.relay();
    let edge = Node::start(
        &mesh.dir,
        "edge2.toml",
        &edge_toml(
            &mesh.setup,
            &mesh.proxy,
            Some((relay.control(), relay.data)),
            mesh.echo.addr,
        ),
    );
    let client = GameClient::new(edge.redirects[0]);
    client.warm_up();
    wait_until("the second session", Duration::from_secs(2), || {
        mesh.proxy.sessions() == 1 && mesh.relay().sessions() == 1
    });
    // The relay stops with the session active; then the proxy, which still holds it.
    let relay = mesh.relay.as_mut().unwrap();
    relay.proc.signal("TERM");
    let status = relay.proc.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "relay: {status:?}");
    assert_eq!(mesh.proxy.sessions(), 1);
    mesh.proxy.proc.signal("TERM");
    let status = mesh.proxy.proc.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "proxy: {status:?}");
    for stopped in [&mesh.proxy.proc, &mesh.relay.as_ref().unwrap().proc] {
        let closed = stopped.logs("node stopped");
        assert_eq!(closed.len(), 1, "{}", stopped.stderr());
        assert_eq!(closed[0]["closed"], 1, "sessions closed at shutdown");
        assert_eq!(stopped.logs("stopped").len(), 1, "{}", stopped.stderr());
    }
    drop(edge);
}

#[test]
fn edge_recovers_after_the_proxy_restarts() {
    let mut mesh = Mesh::start(Setup {
        via_relay: false,
        idle_timeout: "2s",
        keepalive: "250ms",
        ..Setup::default()
    });
    mesh.client.warm_up();
    mesh.all_echoed(0..20);

    // The proxy dies without a word and comes back on the same addresses.
    let (data, control) = (mesh.proxy.data, mesh.proxy.control());
    mesh.proxy.proc.signal("KILL");
    mesh.proxy.proc.wait(Duration::from_secs(5));
    let config = std::fs::read_to_string(mesh.dir.path("proxy.toml"))
        .unwrap()
        .replace(
            "data_listen = \"127.0.0.1:0\"",
            &format!("data_listen = \"{data}\""),
        )
        .replace(
            "control_listen = \"127.0.0.1:0\"",
            &format!("control_listen = \"{control}\""),
        );
    mesh.proxy = Node::start(&mesh.dir, "proxy2.toml", &config);
    assert_eq!((mesh.proxy.data, mesh.proxy.control()), (data, control));

    // The game keeps sending; the edge drops its dead session when it idles out and sets a
    // new one up with the new proxy process.
    let restarted = Instant::now();
    let probe = support::udp::payload(1_000);
    wait_until(
        "echoes through the new proxy",
        Duration::from_secs(40),
        || {
            mesh.client.send(&probe);
            mesh.client.received_within(Duration::from_millis(100)) > 0
        },
    );
    eprintln!(
        "proxy restart: echoes again after {:?}",
        restarted.elapsed()
    );
    mesh.client.drain(Duration::from_millis(200));
    mesh.all_echoed(20..60);
    assert_eq!(mesh.proxy.sessions(), 1);
}
