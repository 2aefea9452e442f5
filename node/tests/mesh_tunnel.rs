//! A tunnel through the mesh with no static peers: the edge is a mesh member whose config
//! names its proxy and relay only by name (`edge.proxy`, `edge.via`), with no `[[peers]]`;
//! both are found through membership when the session is set up. Game traffic goes through
//! the relay, and a SIGHUP reload of the relay during the session drops nothing.
//!
//! Real processes on 127.0.0.60–62; every wait has a deadline, every process is killed on
//! drop.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::mesh::{LINGER, PPS, TOKEN, tls_section};
use support::udp::{Echo, GameClient};
use support::{Node, TempDir, http_get, mesh_identities, wait_until};

fn mesh(seeds: &[SocketAddr]) -> String {
    let seeds: Vec<String> = seeds.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"
[mesh]
seeds = [{}]
probe_period = "300ms"
suspect_timeout = "1s"
gossip_period = "100ms"
probe_interval = "200ms"
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

/// The data address `node` lists for member `name`, once its claim arrived.
fn member_data(node: &Node, name: &str) -> Option<String> {
    let (_, _, body) = http_get(node.admin, "/api/members");
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["members"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name && m["state"] == "alive")
        .and_then(|m| m["data_addr"].as_str().map(str::to_owned))
}

#[test]
fn edge_reaches_a_relay_known_only_through_membership() {
    let dir = TempDir::new("mesh-tunnel");
    mesh_identities(&dir.0, &["proxy-lax", "relay-sgp", "edge-bkk"]);
    let echo = Echo::start();

    let proxy_toml = node("proxy-lax", "\"proxy\"", "127.0.0.60")
        + &format!("\n[proxy]\ntokens = [\"{TOKEN}\"]\nallow_loopback_for_testing = true\n")
        + &mesh(&[]);
    let proxy = Node::start(&dir, "proxy.toml", &proxy_toml);
    let seed = proxy.control();
    let relay_toml = node("relay-sgp", "\"relay\"", "127.0.0.61") + &mesh(&[seed]);
    let relay = Node::start(&dir, "relay.toml", &relay_toml);
    let edge_toml = node("edge-bkk", "\"edge\"", "127.0.0.62")
        + &format!(
            r#"
[edge]
token = "{TOKEN}"
proxy = "proxy-lax"
via = ["relay-sgp"]

[[edge.redirect]]
listen = "127.0.0.1:0"
target = "{}"
"#,
            echo.addr
        )
        + &mesh(&[seed]);
    assert!(!edge_toml.contains("[[peers]]"));
    let started = Instant::now();
    let edge = Node::start(&dir, "edge.toml", &edge_toml);
    wait_until(
        "the edge knows the proxy's and the relay's data addresses",
        Duration::from_secs(20),
        || {
            member_data(&edge, "proxy-lax") == Some(proxy.data.to_string())
                && member_data(&edge, "relay-sgp") == Some(relay.data.to_string())
        },
    );
    eprintln!("edge found proxy and relay after {:?}", started.elapsed());

    let client = GameClient::new(edge.redirects[0]);
    client.warm_up();
    let echoes = client.burst(0..200, PPS, LINGER);
    assert_eq!((echoes.got.len(), echoes.corrupt), (200, 0));
    assert_eq!(relay.sessions(), 1, "the session goes through the relay");
    assert_eq!(proxy.sessions(), 1);
    assert!(relay.metric("lightspeed_packets_total{direction=\"upstream\"}") >= 200);
    assert!(relay.metric("lightspeed_packets_total{direction=\"downstream\"}") >= 200);
    let up = edge
        .proc
        .logs("edge session up")
        .into_iter()
        .next()
        .expect("edge session up");
    assert_eq!(up["first_hop"], relay.data.to_string(), "{up}");

    // A SIGHUP reload of the relay (a new role) keeps the session.
    let reloaded = relay_toml.replace("roles = [\"relay\"]", "roles = [\"relay\", \"proxy\"]")
        + &format!("\n[proxy]\ntokens = [\"{TOKEN}\"]\n");
    dir.file("relay.toml", &reloaded);
    let mut relay = relay;
    relay.proc.signal("HUP");
    relay.proc.wait_for_log("config reloaded", |_| true);
    let echoes = client.burst(200..400, PPS, LINGER);
    assert_eq!((echoes.got.len(), echoes.corrupt), (200, 0));
    assert_eq!(relay.sessions(), 1, "the reload dropped no session");
    assert_eq!(
        relay.health()["roles"],
        serde_json::json!(["relay", "proxy"])
    );
    assert_eq!(edge.sessions(), 1);
}
