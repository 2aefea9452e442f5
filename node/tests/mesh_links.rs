//! The mesh's link layer with real processes on loopback: link probes over the data port fill
//! every node's topology, a late joiner pulls the full topology at once, a SIGHUP reload
//! changes roles and the reach book, and an edge reaches a relay it knows only through
//! membership.
//!
//! Nodes bind distinct 127.0.0.x addresses (x = 30..=59, apart from the other process tests)
//! with ephemeral ports; every wait has a deadline, every process is killed on drop.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::{Node, TempDir, http_get, mesh_identities, wait_until};

/// Fast membership timing; probes every 200 ms. `refresh` is long unless a test says
/// otherwise, so claims travel only when they change (or by sync).
fn mesh_section(seeds: &[SocketAddr], refresh: &str, extra: &str) -> String {
    let seeds: Vec<String> = seeds.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"
[mesh]
seeds = [{seeds}]
preset = "lan"
cluster_size = 5
probe_period = "300ms"
suspect_timeout = "1s"
gossip_period = "100ms"
probe_interval = "200ms"
refresh = "{refresh}"
{extra}
"#,
        seeds = seeds.join(", ")
    )
}

fn relay_toml(name: &str, ip: &str, roles: &str, mesh: &str) -> String {
    format!(
        r#"
[node]
name = "{name}"
roles = [{roles}]
region = "test"
data_listen = "{ip}:0"
control_listen = "{ip}:0"
admin_listen = "127.0.0.1:0"

[tls]
ca_cert = "{name}/ca.crt"
cert = "{name}/node.crt"
key = "{name}/node.key"

[proxy]
tokens = ["a-long-enough-test-token-0123456789"]
allow_loopback_for_testing = true
{mesh}
"#
    )
}

fn topology(node: &Node) -> serde_json::Value {
    let (status, _, body) = http_get(node.admin, "/api/topology");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The links `node` knows as (from, to) → (rtt ms, via).
fn links(node: &Node) -> Vec<(String, String, f64, Option<SocketAddr>)> {
    topology(node)["links"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    (
                        l["from"].as_str().unwrap_or("").to_owned(),
                        l["to"].as_str().unwrap_or("").to_owned(),
                        l["rtt_ms"].as_f64().unwrap_or(-1.0),
                        l["via"].as_str().and_then(|v| v.parse().ok()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// True when `node` knows a link with a loopback RTT between every ordered pair of `names`.
fn full_mesh(node: &Node, names: &[&str]) -> bool {
    let known = links(node);
    names.iter().all(|a| {
        names.iter().filter(|b| *b != a).all(|b| {
            known
                .iter()
                .any(|(f, t, rtt, _)| f == a && t == b && *rtt > 0.0 && *rtt < 50.0)
        })
    })
}

fn ip(i: usize) -> String {
    format!("127.0.0.{}", 30 + i)
}

struct Mesh {
    dir: TempDir,
    nodes: Vec<Node>,
}

/// Starts `names` as relays on 127.0.0.(30 + offset + i), all seeded by the first.
fn mesh(tag: &str, names: &[&str], offset: usize, refresh: &str) -> Mesh {
    let dir = TempDir::new(tag);
    let mut all = names.to_vec();
    all.push("late");
    mesh_identities(&dir.0, &all);
    let mut nodes: Vec<Node> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let seeds: Vec<SocketAddr> = nodes.first().map(|n| n.control()).into_iter().collect();
        let toml = relay_toml(
            name,
            &ip(offset + i),
            "\"relay\"",
            &mesh_section(&seeds, refresh, ""),
        );
        nodes.push(Node::start(&dir, &format!("{name}.toml"), &toml));
    }
    Mesh { dir, nodes }
}

#[test]
fn five_nodes_measure_all_twenty_links_over_the_data_port() {
    let names = ["l1", "l2", "l3", "l4", "l5"];
    let started = Instant::now();
    let m = mesh("links-five", &names, 0, "30s");
    wait_until(
        "every node knows all 20 directed links",
        Duration::from_secs(20),
        || m.nodes.iter().all(|n| full_mesh(n, &names)),
    );
    eprintln!(
        "20 links at all 5 nodes {:?} after the first start",
        started.elapsed()
    );
    let all = links(&m.nodes[0]);
    let rtts: Vec<f64> = all.iter().map(|l| l.2).collect();
    eprintln!(
        "probe RTTs on loopback (ms): min {:.3} max {:.3} mean {:.3}",
        rtts.iter().cloned().fold(f64::MAX, f64::min),
        rtts.iter().cloned().fold(0.0, f64::max),
        rtts.iter().sum::<f64>() / rtts.len() as f64
    );
    // Each link says which data address it was measured to: the peer's data socket.
    for (from, to, _, via) in &all {
        let peer = names.iter().position(|n| n == to).unwrap();
        assert_eq!(*via, Some(m.nodes[peer].data), "{from} -> {to}");
    }
    // The probes went over the data port and were all answered: nothing was dropped there.
    for n in &m.nodes {
        assert_eq!(n.drops("bad_mac"), 0);
        assert_eq!(n.drops("unknown_session"), 0);
        assert_eq!(n.drops("probe_rate_limited"), 0);
    }
}

#[test]
fn a_late_joiner_pulls_the_full_topology_at_once() {
    let names = ["s1", "s2", "s3", "s4"];
    // A 60 s refresh: without the sync, the late joiner would wait for the next change of
    // each node's claim.
    let mut m = mesh("links-late", &names, 10, "60s");
    wait_until(
        "the first four know their 12 links",
        Duration::from_secs(20),
        || m.nodes.iter().all(|n| full_mesh(n, &names)),
    );
    let seed = m.nodes[0].control();
    let toml = relay_toml(
        "late",
        &ip(14),
        "\"relay\"",
        &mesh_section(&[seed], "60s", ""),
    );
    let joined = Instant::now();
    let mut late = Node::start(&m.dir, "late.toml", &toml);
    let synced = late
        .proc
        .wait_for_log("topology synced", |f| f["nodes_after"].as_u64() >= Some(5));
    let sync_time = joined.elapsed();
    // The four others' certificates and one claim part each.
    assert!(synced["items"].as_u64() >= Some(8), "{synced}");
    wait_until(
        "the late joiner shows the first four's 12 links",
        Duration::from_secs(3),
        || full_mesh(&late, &names),
    );
    eprintln!(
        "late joiner: topology synced after {sync_time:?} ({} items), 12 links visible after {:?}",
        synced["items"],
        joined.elapsed()
    );
    assert!(sync_time < Duration::from_secs(10));
    m.nodes.push(late);
    let all: Vec<&str> = names.iter().copied().chain(["late"]).collect();
    wait_until("20 links everywhere", Duration::from_secs(20), || {
        m.nodes.iter().all(|n| full_mesh(n, &all))
    });
}

fn roles_of(node: &Node, name: &str) -> Vec<String> {
    let (_, _, body) = http_get(node.admin, "/api/members");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == name))
        .and_then(|m| m["roles"].as_array())
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn via(node: &Node, from: &str, to: &str) -> Option<SocketAddr> {
    links(node)
        .into_iter()
        .find(|l| l.0 == from && l.1 == to)
        .and_then(|l| l.3)
}

#[test]
fn sighup_reloads_roles_and_the_reach_book_and_refuses_a_bad_file() {
    let mut m = mesh("links-reload", &["h1", "h2"], 20, "30s");
    let h1_ip = ip(20);
    wait_until("h2 sees h1 as a relay", Duration::from_secs(20), || {
        roles_of(&m.nodes[1], "h1") == ["relay"]
    });
    let h2_data = m.nodes[1].data;
    wait_until(
        "h1 -> h2 measured at h2's socket",
        Duration::from_secs(20),
        || via(&m.nodes[1], "h1", "h2") == Some(h2_data),
    );

    // The new file: proxy role added, h2 reached through a forwarder (a "private address").
    let forwarder = support::udp::Forwarder::start(h2_data, 0.0, 7);
    let reach = format!(
        "[[mesh.reach]]\npeer = \"h2\"\ndata_addr = \"{}\"\n",
        forwarder.addr
    );
    // h1 is the first node: it has no seeds.
    let new = relay_toml(
        "h1",
        &h1_ip,
        "\"relay\", \"proxy\"",
        &mesh_section(&[], "30s", &reach),
    );
    m.dir.file("h1.toml", &new);
    let hup = Instant::now();
    m.nodes[0].proc.signal("HUP");
    wait_until(
        "h2 sees h1 as relay and proxy",
        Duration::from_secs(5),
        || roles_of(&m.nodes[1], "h1") == ["relay", "proxy"],
    );
    let roles_seen = hup.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while via(&m.nodes[1], "h1", "h2") != Some(forwarder.addr) {
        assert!(
            Instant::now() < deadline,
            "h1's link to h2 not measured through {} in 10 s; h1 sees {:?}, h2 sees {:?}; forwarder saw {} packets; h1 log:\n{}",
            forwarder.addr,
            links(&m.nodes[0]),
            links(&m.nodes[1]),
            forwarder.captured().len(),
            m.nodes[0].proc.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let reach_seen = hup.elapsed();
    let probes = forwarder.captured();
    assert!(!probes.is_empty());
    assert!(
        probes.iter().all(|p| p.len() == 34),
        "only link probes pass the forwarder"
    );
    assert_eq!(
        m.nodes[0].health()["roles"],
        serde_json::json!(["relay", "proxy"])
    );
    eprintln!(
        "SIGHUP: new roles at the peer after {roles_seen:?}, reach address in use after {reach_seen:?}"
    );

    // A bad file is refused, naming the field, and the running config stays.
    let bad = new.replace(&forwarder.addr.to_string(), "127.0.0.1:0");
    m.dir
        .file("h1.toml", &bad.replace("\"relay\", \"proxy\"", "\"relay\""));
    m.nodes[0].proc.signal("HUP");
    let refused = m.nodes[0]
        .proc
        .wait_for_log("config reload refused; the running config stays", |_| true);
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("mesh.reach[0].data_addr")),
        "{refused}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        m.nodes[0].health()["roles"],
        serde_json::json!(["relay", "proxy"])
    );
    assert_eq!(roles_of(&m.nodes[1], "h1"), ["relay", "proxy"]);
}
