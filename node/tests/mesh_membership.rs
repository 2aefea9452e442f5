//! Gossip membership with real processes on loopback: five `lightspeed-node` processes on
//! 127.0.0.2–6 join through one seed, see each other alive, notice a `kill -9` (down), a
//! restart (alive again) and a SIGTERM (left), see a runtime role change, and measure links;
//! a node with a certificate from another CA cannot join.
//!
//! The nodes use a fast test timing (300 ms probes, 1 s suspicion) set through `[mesh]`
//! overrides; every wait has a deadline and every process is killed on drop.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{Node, TempDir, http_get, mesh_identities, wait_until};

const FAST: &str = r#"
preset = "lan"
cluster_size = 5
probe_period = "300ms"
suspect_timeout = "1s"
gossip_period = "100ms"
probe_interval = "300ms"
refresh = "2s"
"#;

fn toml(name: &str, ip: &str, control: &str, seeds: &[SocketAddr]) -> String {
    let seeds: Vec<String> = seeds.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"
[node]
name = "{name}"
roles = ["relay"]
region = "test"
data_listen = "{ip}:0"
control_listen = "{control}"
admin_listen = "127.0.0.1:0"

[tls]
ca_cert = "{name}/ca.crt"
cert = "{name}/node.crt"
key = "{name}/node.key"

[mesh]
seeds = [{seeds}]
{FAST}
"#,
        seeds = seeds.join(", ")
    )
}

fn start(dir: &TempDir, name: &str, ip: &str, control: &str, seeds: &[SocketAddr]) -> Node {
    Node::start(
        dir,
        &format!("{name}.toml"),
        &toml(name, ip, control, seeds),
    )
}

fn members(node: &Node) -> serde_json::Value {
    let (status, _, body) = http_get(node.admin, "/api/members");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The state `node` reports for member `name`, if listed.
fn state_of(node: &Node, name: &str) -> Option<String> {
    members(node)["members"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["state"].as_str().map(str::to_owned))
}

fn alive_count(node: &Node) -> usize {
    members(node)["members"]
        .as_array()
        .map_or(0, |ms| ms.iter().filter(|m| m["state"] == "alive").count())
}

fn roles_of(node: &Node, name: &str) -> Vec<String> {
    members(node)["members"]
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

fn http_post(addr: SocketAddr, path: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

const NAMES: [&str; 5] = ["m1", "m2", "m3", "m4", "m5"];

fn ip(i: usize) -> String {
    format!("127.0.0.{}", i + 2)
}

#[test]
fn five_nodes_join_detect_crash_restart_leave_and_role_change() {
    let dir = TempDir::new("membership");
    mesh_identities(&dir.0, &NAMES);
    let seed = start(&dir, NAMES[0], &ip(0), &format!("{}:0", ip(0)), &[]);
    let seed_addr = seed.control();
    let mut nodes = vec![Some(seed)];
    for (i, name) in NAMES.iter().enumerate().skip(1) {
        let control = format!("{}:0", ip(i));
        nodes.push(Some(start(&dir, name, &ip(i), &control, &[seed_addr])));
    }

    let joined = Instant::now();
    wait_until(
        "every node sees 5 alive members",
        Duration::from_secs(20),
        || nodes.iter().flatten().all(|n| alive_count(n) == 5),
    );
    eprintln!("all 5 alive everywhere after {:?}", joined.elapsed());

    // Every node's addresses and roles arrive with its claim.
    wait_until(
        "claims with roles everywhere",
        Duration::from_secs(10),
        || {
            nodes
                .iter()
                .flatten()
                .all(|n| NAMES.iter().all(|m| roles_of(n, m) == ["relay"]))
        },
    );

    // Links are measured and gossiped: m1 knows m2's link to m3 with a loopback RTT.
    wait_until(
        "a measured link m2 -> m3 at m1",
        Duration::from_secs(10),
        || {
            let (_, _, body) = http_get(nodes[0].as_ref().unwrap().admin, "/api/topology");
            let t: serde_json::Value = serde_json::from_str(&body).unwrap();
            t["links"].as_array().is_some_and(|ls| {
                ls.iter().any(|l| {
                    l["from"] == "m2"
                        && l["to"] == "m3"
                        && l["rtt_ms"].as_f64().is_some_and(|r| r > 0.0 && r < 50.0)
                })
            })
        },
    );

    // Runtime role change on m2, seen by m3 within 2 s.
    let m2 = nodes[1].as_ref().unwrap();
    let (status, body) = http_post(m2.admin, "/api/roles", r#"{"roles":["relay","proxy"]}"#);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(m2.health()["roles"], serde_json::json!(["relay", "proxy"]));
    let changed = Instant::now();
    wait_until("m3 sees m2 as proxy", Duration::from_secs(2), || {
        roles_of(nodes[2].as_ref().unwrap(), "m2").contains(&"proxy".to_owned())
    });
    eprintln!("role change visible at m3 after {:?}", changed.elapsed());

    // kill -9 of m5: the others declare it down.
    let m5_control = nodes[4].as_ref().unwrap().control();
    nodes[4].as_ref().unwrap().proc.signal("KILL");
    let killed = Instant::now();
    wait_until("m1..m4 see m5 down", Duration::from_secs(15), || {
        nodes[..4]
            .iter()
            .flatten()
            .all(|n| state_of(n, "m5").as_deref() == Some("down"))
    });
    let detection = killed.elapsed();
    eprintln!("kill -9 detected everywhere after {detection:?}");
    nodes[4] = None;

    // Restart on the same address: alive again everywhere.
    nodes[4] = Some(start(
        &dir,
        "m5",
        &ip(4),
        &m5_control.to_string(),
        &[seed_addr],
    ));
    wait_until("m5 alive again everywhere", Duration::from_secs(15), || {
        nodes.iter().flatten().all(|n| alive_count(n) == 5)
    });

    // Graceful stop of m4: seen as left, not down.
    let m4 = nodes[3].as_mut().unwrap();
    m4.proc.signal("TERM");
    let status = m4.proc.wait(Duration::from_secs(10));
    assert!(status.success(), "m4 exit: {status}");
    wait_until(
        "m1, m2, m3, m5 see m4 left",
        Duration::from_secs(10),
        || {
            [0, 1, 2, 4]
                .iter()
                .all(|&i| state_of(nodes[i].as_ref().unwrap(), "m4").as_deref() == Some("left"))
        },
    );

    // Gossip shows in /metrics.
    let m1 = nodes[0].as_ref().unwrap();
    assert!(m1.metric("lightspeed_gossip_received_packets_total") > 10);
    assert_eq!(m1.metric("lightspeed_mesh_members{state=\"left\"}"), 1);
    assert_eq!(m1.metric("lightspeed_mesh_members{state=\"alive\"}"), 4);
}

#[test]
fn node_from_another_ca_cannot_join() {
    let dir = TempDir::new("membership-ca");
    mesh_identities(&dir.0, &["c1"]);
    let other = TempDir::new("membership-ca-other");
    mesh_identities(&other.0, &["c2"]);
    std::fs::rename(other.0.join("c2"), dir.0.join("c2")).unwrap();
    let c1 = start(&dir, "c1", "127.0.0.7", "127.0.0.7:0", &[]);
    let c2 = start(&dir, "c2", "127.0.0.8", "127.0.0.8:0", &[c1.control()]);
    // Join retries run every 2 s; give it several.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(alive_count(&c1), 1, "{}", members(&c1));
    assert_eq!(alive_count(&c2), 1, "{}", members(&c2));
    assert_eq!(state_of(&c1, "c2"), None);
    assert_eq!(c1.metric("lightspeed_gossip_received_packets_total"), 0);
}

/// Runs `lightspeed-node ctl --admin ADDR args...` and returns its stdout.
fn ctl(admin: SocketAddr, args: &[&str]) -> String {
    let admin = admin.to_string();
    let mut all = vec!["ctl", "--admin", &admin];
    all.extend_from_slice(args);
    let mut p = support::Proc::spawn(&all);
    let status = p.wait(Duration::from_secs(10));
    assert!(status.success(), "ctl {args:?} failed: {}", p.stderr());
    p.stdout()
}

/// Sends one RelayInstall for `session` as mesh node `probe` and returns the reply's message.
fn relay_install(
    rt: &tokio::runtime::Runtime,
    dir: &TempDir,
    control: SocketAddr,
    session: u32,
) -> lightspeed_protocol::control::Message {
    use lightspeed_actors::control::{decode, encode};
    use lightspeed_mesh::identity::Identity;
    use lightspeed_mesh::quic::{
        ControlClient, TransportSettings, client_endpoint, node_client_config,
    };
    use lightspeed_protocol::control::{Envelope, Message};
    use lightspeed_protocol::{SessionId, SessionKey};
    let id = Identity::load_dir(&dir.0.join("probe")).unwrap();
    rt.block_on(async {
        let config = node_client_config(&id, &TransportSettings::default()).unwrap();
        let client =
            ControlClient::connect(client_endpoint(config, control).unwrap(), control, "r1")
                .await
                .unwrap();
        let install = Envelope::new(
            1,
            None,
            Message::RelayInstall {
                session: SessionId(session),
                key: SessionKey([9; 32]),
                upstream: "127.0.0.1:9".parse().unwrap(),
                idle_timeout_ms: 30_000,
            },
        );
        let frame = client
            .request(&encode(&install).unwrap(), Duration::from_secs(5))
            .await
            .unwrap();
        client.close().await;
        decode(&frame).unwrap().body
    })
}

#[test]
fn relay_installs_follow_runtime_roles_set_with_ctl() {
    use lightspeed_protocol::control::Message;
    let dir = TempDir::new("membership-roles");
    mesh_identities(&dir.0, &["r1", "probe"]);
    let r1 = start(&dir, "r1", "127.0.0.9", "127.0.0.9:0", &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    assert_eq!(relay_install(&rt, &dir, r1.control(), 7), Message::Ack);

    assert_eq!(ctl(r1.admin, &["roles", "set", "proxy"]).trim(), "proxy");
    assert_eq!(ctl(r1.admin, &["roles", "get"]).trim(), "proxy");
    assert!(
        matches!(
            relay_install(&rt, &dir, r1.control(), 8),
            Message::Error { .. }
        ),
        "a node without the relay role refuses relay installs"
    );
    assert_eq!(roles_of(&r1, "r1"), ["proxy"]);

    assert_eq!(
        ctl(r1.admin, &["roles", "set", "relay,proxy"]).trim(),
        "relay,proxy"
    );
    assert_eq!(relay_install(&rt, &dir, r1.control(), 8), Message::Ack);
    assert_eq!(r1.health()["roles"], serde_json::json!(["relay", "proxy"]));

    // The edge role needs sockets set up at start: refused at runtime, roles unchanged.
    let (status, _) = http_post(r1.admin, "/api/roles", r#"{"roles":["edge"]}"#);
    assert_eq!(status, "HTTP/1.1 409 Conflict");
    assert_eq!(ctl(r1.admin, &["roles", "get"]).trim(), "relay,proxy");
}

#[test]
fn mesh_token_prints_a_token_the_ca_verifies() {
    use lightspeed_mesh::identity::{MeshTrust, TokenVerifier};
    let dir = TempDir::new("mesh-token");
    let ca = dir.path("ca");
    let ca = ca.to_str().unwrap();
    let (code, err) = support::run(&["mesh", "init", "--out", ca]);
    assert_eq!(code, Some(0), "{err}");
    let mut p = support::Proc::spawn(&[
        "mesh", "token", "--ca", ca, "--name", "alice", "--days", "2",
    ]);
    assert!(p.wait(Duration::from_secs(10)).success(), "{}", p.stderr());
    let token = p.stdout().trim().to_owned();
    let trust = MeshTrust::load(&dir.path("ca").join("ca.crt")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let v = TokenVerifier::new(&trust).unwrap();
    assert_eq!(v.verify(&token, now).as_deref(), Ok("alice"));
    assert!(
        v.verify(&token, now + 3 * 86_400).is_err(),
        "expires after 2 days"
    );
    let (code, _) = support::run(&["mesh", "token", "--ca", ca, "--name", "bad.name"]);
    assert_eq!(code, Some(1));
}
