//! Proxy-side probes of the game server end to end: real processes — an edge and a proxy on
//! loopback — and a game server 15 ms away each way, behind the simulator's link emulator
//! (`lightspeed_sim::link::Link`, one per direction). The server echoes game datagrams and
//! answers A2S_INFO the way Source servers have since 2020: a challenge first, server info
//! once the query carries it.
//!
//! The game sends at 64 pps (a 15.6 ms packet interval, shorter than the 30 ms leg), which is
//! where the passive estimate reads the leg modulo the interval. With `[proxy.server_probe]
//! kind = "a2s"` the edge's `/api/sessions` must show `server_rtt_ms` ≈ 30 ms; the passive
//! figure (the proxy's `lightspeed_server_rtt_mean_seconds{source="passive"}`) is printed
//! beside it. Then a SIGHUP with probing off brings the session back to the passive figure.
//!
//! Why not `lightspeed_sim::udp_link::UdpLink`: it sends every reply to the last client
//! address it saw, and here two proxy sockets (the session's egress and the prober's) talk to
//! the one server, so each would get the other's answers. The server below keeps the sender
//! of each datagram with it through the emulated link instead.
//!
//! Every wait has a deadline; every process and thread stops on drop.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lightspeed_protocol::Micros;
use lightspeed_sim::link::{Link, LinkConfig};
use support::mesh::{TOKEN, peer, tls_section};
use support::udp::GameClient;
use support::{Node, TempDir, http_get, mesh_identities, wait_until};

/// Each way between the proxy and the game server.
const LEG: Duration = Duration::from_millis(15);
/// The game's packet rate: a 15.6 ms interval, shorter than the 30 ms round trip.
const PPS: u32 = 64;
const A2S_INFO: &[u8] = b"\xFF\xFF\xFF\xFFTSource Engine Query\0";
const CHALLENGE: [u8; 4] = [0x5a, 0x11, 0xc0, 0xde];

/// A game server behind an emulated link: echoes game datagrams, answers A2S_INFO.
struct FarServer {
    addr: SocketAddr,
    queries: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FarServer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(query: &[u8]) -> Vec<u8> {
    if query.strip_prefix(A2S_INFO) == Some(&CHALLENGE[..]) {
        let mut info = b"\xFF\xFF\xFF\xFFI\x11e2e server\0de_test\0cstrike\0".to_vec();
        info.extend([0u8; 16]);
        info
    } else {
        let mut c = b"\xFF\xFF\xFF\xFFA".to_vec();
        c.extend(CHALLENGE);
        c
    }
}

impl FarServer {
    fn start(leg: Duration) -> FarServer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicU64::new(0));
        let (halt, count) = (Arc::clone(&stop), Arc::clone(&queries));
        let thread = std::thread::spawn(move || {
            let config = LinkConfig {
                delay: leg,
                ..LinkConfig::default()
            };
            let mut up: Link<(SocketAddr, Vec<u8>)> = Link::new(config.clone(), 1).unwrap();
            let mut down: Link<(SocketAddr, Vec<u8>)> = Link::new(config, 2).unwrap();
            let origin = Instant::now();
            let now = || Micros(origin.elapsed().as_micros() as u64);
            let mut buf = [0u8; 2048];
            while !halt.load(Relaxed) {
                // Nonblocking reads and short sleeps: a socket read timeout is rounded up to
                // the kernel's tick (4-10 ms), which would lengthen the emulated leg; a sleep
                // is precise to well under a millisecond.
                while let Ok((n, from)) = sock.recv_from(&mut buf) {
                    up.send(now(), (from, buf[..n].to_vec()), n);
                }
                let t = now();
                while let Some((from, bytes)) = up.poll(t) {
                    let reply = if bytes.starts_with(A2S_INFO) {
                        count.fetch_add(1, Relaxed);
                        answer(&bytes)
                    } else {
                        bytes
                    };
                    let n = reply.len();
                    down.send(t, (from, reply), n);
                }
                while let Some((to, bytes)) = down.poll(t) {
                    let _ = sock.send_to(&bytes, to);
                }
                let until_next = [up.next_release(), down.next_release()]
                    .into_iter()
                    .flatten()
                    .min()
                    .map_or(u64::MAX, |r| r.0.saturating_sub(now().0));
                std::thread::sleep(Duration::from_micros(until_next.clamp(50, 500)));
            }
        });
        FarServer {
            addr,
            queries,
            stop,
            thread: Some(thread),
        }
    }
}

/// The server's RTT as the test itself measures it over loopback (A2S queries from a plain
/// socket, median of `n`): the leg plus this harness's own scheduling.
fn direct_rtt(server: SocketAddr, n: usize) -> Duration {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut rtts = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..n {
        let t0 = Instant::now();
        sock.send_to(A2S_INFO, server).unwrap();
        if sock.recv_from(&mut buf).is_ok() {
            rtts.push(t0.elapsed());
        }
    }
    rtts.sort();
    rtts.get(rtts.len() / 2)
        .copied()
        .expect("the server answers")
}

fn proxy_toml(probe: &str) -> String {
    format!(
        r#"
[node]
name = "proxy-lax"
roles = ["proxy"]
data_listen = "127.0.0.1:0"
control_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[proxy]
tokens = ["{TOKEN}"]
allow_loopback_for_testing = true

[proxy.server_probe]
{probe}
"#
    ) + &tls_section("proxy-lax")
}

/// The edge's one session row.
fn row(edge: &Node) -> serde_json::Value {
    let (_, _, body) = http_get(edge.admin, "/api/sessions");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["sessions"][0].clone()
}

/// A float sample of the node's `/metrics`.
fn metric(node: &Node, sample: &str) -> Option<f64> {
    let (_, _, body) = http_get(node.admin, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn probes_time_a_leg_longer_than_the_packet_interval_that_the_game_traffic_reads_low() {
    let started = Instant::now();
    let dir = TempDir::new("server-probe");
    mesh_identities(&dir.0, &["proxy-lax"]);
    let server = FarServer::start(LEG);
    let direct = direct_rtt(server.addr, 10);
    eprintln!("direct RTT to the server (median of 10): {direct:?}");
    let probe_on = "kind = \"a2s\"\ninterval = \"200ms\"\n";
    let proxy = Node::start(&dir, "proxy.toml", &proxy_toml(probe_on));
    let edge_toml = format!(
        r#"
[node]
name = "edge-bkk"
roles = ["edge"]
data_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[tls]
ca_cert = "ca.crt"

[edge]
token = "{TOKEN}"
proxy = "proxy-lax"

[[edge.redirect]]
listen = "127.0.0.1:0"
target = "{}"
"#,
        server.addr
    ) + &peer("proxy-lax", proxy.control(), proxy.data);
    let edge = Node::start(&dir, "edge.toml", &edge_toml);
    let client = GameClient::new(edge.redirects[0]);
    client.warm_up();

    // The game keeps playing at 64 pps while the figures settle (smoothed, α = 1/8, over
    // queries every 200 ms; the edge hears the proxy's figure once a second).
    let mut next = 0u32;
    let mut play = |n: u32| {
        let echoes = client.burst(next..next + n, PPS, Duration::from_millis(200));
        next += n;
        echoes.got.len()
    };
    // The emulated leg is 30 ms at least; on a loaded machine this harness adds to it (its
    // own threads wake late), so the upper bound follows what the test measures directly.
    let upper = (direct.as_secs_f64() * 1e3).max(30.0) + 4.0;
    let mut seen = serde_json::Value::Null;
    wait_until(
        "the edge's server_rtt_ms between 29 ms and the direct RTT + 4 ms",
        Duration::from_secs(15),
        || {
            play(32);
            seen = row(&edge);
            seen["server_rtt_ms"]
                .as_f64()
                .is_some_and(|ms| (29.0..=upper).contains(&ms))
        },
    );
    let passive = metric(
        &proxy,
        "lightspeed_server_rtt_mean_seconds{source=\"passive\"}",
    );
    let probed = metric(
        &proxy,
        "lightspeed_server_rtt_mean_seconds{source=\"probe\"}",
    );
    eprintln!(
        "after {:?}: edge server_rtt_ms {} (end to end {}); proxy: probed {:?} s, passive {:?} s; {} A2S queries answered",
        started.elapsed(),
        seen["server_rtt_ms"],
        seen["end_to_end_rtt_ms"],
        probed,
        passive,
        server.queries.load(Relaxed),
    );
    let probed = probed.expect("probed mean") * 1e3;
    assert!((29.0..=upper).contains(&probed), "probed {probed} ms");
    // The game traffic alone reads the 30 ms leg low (modulo the 15.6 ms interval).
    let passive = passive.expect("passive mean");
    assert!(passive > 0.0 && passive < 0.022, "passive {passive} s");
    assert!(metric(&proxy, "lightspeed_server_probe_answered_total").is_some_and(|n| n >= 5.0));
    assert_eq!(metric(&proxy, "lightspeed_server_probe_targets"), Some(1.0));
    // The challenge round happened: the first answer was a challenge, later ones info.
    assert!(server.queries.load(Relaxed) >= 5);

    // Probing off on SIGHUP: the session falls back to the passive figure.
    dir.file("proxy.toml", &proxy_toml("kind = \"off\"\n"));
    let mut proxy = proxy;
    proxy.proc.signal("HUP");
    proxy
        .proc
        .wait_for_log("config reload: server probe settings applied", |_| true);
    wait_until(
        "the edge's server_rtt_ms back to the passive figure",
        Duration::from_secs(8),
        || {
            play(32);
            seen = row(&edge);
            seen["server_rtt_ms"].as_f64().is_some_and(|ms| ms < 22.0)
        },
    );
    eprintln!(
        "probing off: edge server_rtt_ms {} after {:?} in all",
        seen["server_rtt_ms"],
        started.elapsed()
    );
    assert!(
        proxy
            .proc
            .logs("config reload: these changes take effect at the next restart")
            .is_empty()
    );
    assert!(play(32) >= 30, "the game kept playing");
}
