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
