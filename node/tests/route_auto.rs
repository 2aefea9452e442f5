//! Automatic routing end to end (`edge.route = "auto"`): real processes — a proxy, a relay
//! and an edge, all mesh members — on 127.0.0.70–72. The edge reaches the proxy directly
//! through an emulated link whose delay the test sets (its reach book points the proxy at the
//! link's front), and reaches it through the relay over plain loopback (≈ 0 ms).
//!
//! - No delay: the relay path saves < 1 ms, so a session goes direct.
//! - 20 ms each way on the direct link: the relay path is ~40 ms cheaper. The running session
//!   moves to the relay after its dwell (1 s here) without losing a game packet, and
//!   `/api/sessions` shows the path, one switch and the ms saved against direct; a new session
//!   selects the relay from the start.
//!
//! Every wait has a deadline; every process is killed on drop.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lightspeed_sim::link::LinkConfig;
use lightspeed_sim::udp_link::UdpLink;
use support::mesh::{PPS, TOKEN, tls_section};
use support::udp::{Echo, GameClient};
use support::{Node, TempDir, http_get, mesh_identities, wait_until};

fn mesh(seeds: &[SocketAddr], reach: &str) -> String {
    let seeds: Vec<String> = seeds.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"
[mesh]
seeds = [{}]
probe_period = "300ms"
suspect_timeout = "1s"
gossip_period = "100ms"
probe_interval = "200ms"
{reach}
"#,
        seeds.join(", ")
    )
}

fn node(name: &str, roles: &str, ip: &str) -> String {
    format!(
        r#"
[node]
name = "{name}"
roles = [{roles}]
data_listen = "{ip}:0"
control_listen = "{ip}:0"
admin_listen = "127.0.0.1:0"
"#
    ) + &tls_section(name)
}

/// The edge's session rows.
fn sessions(edge: &Node) -> Vec<serde_json::Value> {
    let (_, _, body) = http_get(edge.admin, "/api/sessions");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["sessions"].as_array().cloned().unwrap_or_default()
}

/// The RTT (ms) of link `from → to` in the edge's topology view.
fn link_ms(edge: &Node, from: &str, to: &str) -> Option<f64> {
    let (_, _, body) = http_get(edge.admin, "/api/topology");
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["links"]
        .as_array()?
        .iter()
        .find(|l| l["from"] == from && l["to"] == to)
        .and_then(|l| l["rtt_ms"].as_f64())
}

fn path(row: &serde_json::Value) -> Vec<String> {
    row["path"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn delay(ms: u64) -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(ms),
        ..LinkConfig::default()
    }
}

#[test]
fn the_edge_goes_direct_until_the_relay_saves_enough_then_moves_without_loss() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = TempDir::new("route-auto");
    mesh_identities(&dir.0, &["proxy-lax", "relay-sgp", "edge-bkk"]);
    let echo = Echo::start();

    let proxy_toml = node("proxy-lax", "\"proxy\"", "127.0.0.70")
        + &format!("\n[proxy]\ntokens = [\"{TOKEN}\"]\nallow_loopback_for_testing = true\n")
        + &mesh(&[], "");
    let proxy = Node::start(&dir, "proxy.toml", &proxy_toml);
    let seed = proxy.control();
    let relay_toml = node("relay-sgp", "\"relay\"", "127.0.0.71") + &mesh(&[seed], "");
    let _relay = Node::start(&dir, "relay.toml", &relay_toml);
    let link = rt
        .block_on(UdpLink::spawn(
            "127.0.0.1:0".parse().unwrap(),
            proxy.data,
            delay(0),
            delay(0),
            11,
        ))
        .unwrap();
    let reach = format!(
        "[[mesh.reach]]\npeer = \"proxy-lax\"\ndata_addr = \"{}\"\n",
        link.front_addr()
    );
    let edge_toml = node("edge-bkk", "\"edge\"", "127.0.0.72")
        + &format!(
            r#"
[edge]
token = "{TOKEN}"
proxy = "proxy-lax"
route = "auto"

[edge.policy]
min_dwell = "1s"

[[edge.redirect]]
listen = "127.0.0.1:0"
target = "{}"
"#,
            echo.addr
        )
        + &mesh(&[seed], &reach);
    let started = Instant::now();
    let edge = Node::start(&dir, "edge.toml", &edge_toml);
    wait_until(
        "the edge sees edge→proxy, edge→relay and relay→proxy",
        Duration::from_secs(30),
        || {
            link_ms(&edge, "edge-bkk", "proxy-lax").is_some()
                && link_ms(&edge, "edge-bkk", "relay-sgp").is_some()
                && link_ms(&edge, "relay-sgp", "proxy-lax").is_some()
        },
    );
    eprintln!("topology complete after {:?}", started.elapsed());

    // No delay: nothing relayed pays, the session goes direct.
    let first = GameClient::new(edge.redirects[0]);
    first.warm_up();
    let echoes = first.burst(0..100, PPS, Duration::from_secs(1));
    assert_eq!((echoes.got.len(), echoes.corrupt), (100, 0));
    let rows = sessions(&edge);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(path(&rows[0]), vec!["edge-bkk", "proxy-lax"], "{rows:?}");
    assert_eq!(rows[0]["path_switches"], 0);

    // 20 ms each way on the direct link: the relay path is ~40 ms cheaper. Game traffic keeps
    // flowing while the session moves; not one packet may be lost.
    link.set_config(delay(20), delay(20)).unwrap();
    let changed = Instant::now();
    let mut next = 100;
    let moved = loop {
        let echoes = first.burst(next..next + 100, PPS, Duration::from_millis(500));
        assert_eq!(
            (echoes.got.len(), echoes.corrupt),
            (100, 0),
            "packets {next}..{} lost around the move",
            next + 100
        );
        next += 100;
        let rows = sessions(&edge);
        if rows.first().is_some_and(|r| r["path_switches"] == 1) {
            break rows;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(30),
            "no switch 30 s after the direct link slowed: {rows:?}"
        );
    };
    eprintln!(
        "moved to the relay {:?} after the delay change: {}",
        changed.elapsed(),
        moved[0]
    );
    assert_eq!(path(&moved[0]), vec!["edge-bkk", "relay-sgp", "proxy-lax"]);
    // The estimates converge (EWMAs of 200 ms probes and of the session's own packets):
    // direct ≈ 40 ms, the session ≈ 0 ms, so ≈ 40 ms saved.
    let mut settled = serde_json::Value::Null;
    let read = |next: &mut u32| {
        let _ = first.burst(*next..*next + 20, PPS, Duration::from_millis(200));
        *next += 20;
        sessions(&edge).first().cloned().unwrap_or_default()
    };
    wait_until(
        "saved_ms ≥ 30 against direct ≥ 35",
        Duration::from_secs(20),
        || {
            settled = read(&mut next);
            settled["saved_ms"].as_f64().is_some_and(|s| s >= 30.0)
                && settled["direct_rtt_ms"].as_f64().is_some_and(|d| d >= 35.0)
        },
    );
    eprintln!(
        "settled: direct {} ms, session {} ms, saved {} ms; {settled}",
        settled["direct_rtt_ms"], settled["rtt_ms"], settled["saved_ms"]
    );
    // And it stays there: the session's RTT is the relay path's on every read (it once
    // flipped between that and a mix of both paths, depending on which actor wrote last).
    for _ in 0..10 {
        let row = read(&mut next);
        let rtt = row["rtt_ms"].as_f64().unwrap_or(f64::MAX);
        assert!(rtt < 5.0, "the session's RTT on the relay path: {row}");
    }
    assert_eq!(settled["path_switches"], 1, "{settled}");
    // Nothing was lost (every echo came back), and the session's figures say so.
    for dir in ["upstream", "downstream"] {
        assert_eq!(settled[dir]["loss_after_fec"], 0.0, "{dir}: {settled}");
    }
    let switched = edge.proc.logs("path switched");
    assert_eq!(switched.len(), 1, "{switched:?}");

    // A new session selects the relay at once.
    let second = GameClient::new(edge.redirects[0]);
    second.warm_up();
    let echoes = second.burst(0..50, PPS, Duration::from_secs(1));
    assert_eq!((echoes.got.len(), echoes.corrupt), (50, 0));
    let rows = sessions(&edge);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let fresh = rows
        .iter()
        .find(|r| r["path_switches"] == 0)
        .expect("the new session");
    assert_eq!(path(fresh), vec!["edge-bkk", "relay-sgp", "proxy-lax"]);
    drop(link);
}
