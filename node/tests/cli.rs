//! Process tests of the built `lightspeed-node` binary: exit codes and messages for bad input,
//! and a relay that serves `/health` and `/metrics` and stops cleanly on SIGTERM.
//!
//! Every child is bounded: it is killed on drop and each wait has a deadline.

mod support;

use std::net::TcpListener;
use std::time::Duration;

use support::{Node, Proc, TempDir, http_get, mesh_identities, run};

/// `[tls]` for a node whose identity `mesh_identities` wrote under `<dir>/<name>/`.
fn tls(name: &str) -> String {
    format!(
        "[tls]\nca_cert = \"{name}/ca.crt\"\ncert = \"{name}/node.crt\"\nkey = \"{name}/node.key\"\n"
    )
}

#[test]
fn bad_toml_value_exits_2_naming_the_field() {
    let dir = TempDir::new("badvalue");
    let cfg = dir.file("bad.toml", "[limits]\nmax_sessions = \"lots\"\n");
    let (code, err) = run(&["--config", &cfg]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: invalid config {cfg}: limits.max_sessions: invalid type"
        )),
        "{err}"
    );
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn broken_toml_syntax_exits_2_with_the_line() {
    let dir = TempDir::new("syntax");
    let cfg = dir.file("broken.toml", "[node]\nname = \"a\"\nroles = [\"relay\"\n");
    let (code, err) = run(&["--config", &cfg]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("invalid config {cfg}")), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn unknown_field_exits_2_naming_it() {
    let dir = TempDir::new("unknown");
    let cfg = dir.file("unknown.toml", "[edge]\nfec = \"auto\"\nfek = \"off\"\n");
    let (code, err) = run(&["--config", &cfg]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("edge.fek: unknown field `fek`"), "{err}");
}

#[test]
fn semantic_error_exits_2_naming_field_and_problem() {
    let dir = TempDir::new("semantic");
    mesh_identities(&dir.0, &[]);
    let cfg = dir.file(
        "edge.toml",
        r#"
[node]
roles = ["edge"]
[tls]
ca_cert = "ca.crt"
[edge]
token = "0123456789abcdef"
proxy = "lax"
via = ["sgp"]
[[edge.redirect]]
listen = "127.0.0.1:27015"
target = "203.0.113.10:27015"
[[peers]]
name = "lax"
control = "203.0.113.30:4433"
data = "203.0.113.30:4434"
"#,
    );
    let (code, err) = run(&["--config", &cfg]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "error: invalid config {cfg}: edge.via[0]: unknown peer 'sgp' (not in [[peers]], and no [mesh] to find it in)"
        )
    );
}

#[test]
fn unknown_role_flag_exits_2_naming_the_flag() {
    let (code, err) = run(&["--role", "relay,router"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("'--role <ROLES>'"), "{err}");
    assert!(err.contains("unknown role 'router'"), "{err}");
}

#[test]
fn role_flag_is_validated_after_override() {
    // The defaults with a mesh identity are a valid relay; as an edge they lack the edge's
    // required fields.
    let dir = TempDir::new("role");
    mesh_identities(&dir.0, &["sgp-relay"]);
    let cfg = dir.file("relay.toml", &tls("sgp-relay"));
    let (code, err) = run(&["--config", &cfg, "--role", "edge"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("edge.token: required for role edge"), "{err}");
}

#[test]
fn defaults_without_a_mesh_identity_exit_2_naming_tls() {
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        "error: invalid config (no --config given; built-in defaults): tls.cert: required for role relay (a mesh node certificate)"
    );
    let (code, err) = run(&["--role", "edge"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("tls.ca_cert: required: the mesh CA certificate"),
        "{err}"
    );
}

#[test]
fn proxy_on_a_wildcard_address_without_advertise_exits_2() {
    let dir = TempDir::new("advertise");
    mesh_identities(&dir.0, &["lax1"]);
    let cfg = dir.file(
        "proxy.toml",
        &format!(
            "[node]\nname = \"lax1\"\nroles = [\"proxy\"]\n[proxy]\ntokens = [\"0123456789abcdef-token\"]\n{}",
            tls("lax1")
        ),
    );
    let (code, err) = run(&["--config", &cfg]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "error: invalid config {cfg}: node.data_advertise: required for role proxy when node.data_listen is a wildcard address"
        )
    );
}

#[test]
fn missing_config_file_exits_2() {
    let (code, err) = run(&["--config", "/nonexistent/lightspeed.toml"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("error: cannot read config /nonexistent/lightspeed.toml"),
        "{err}"
    );
}

#[test]
fn demo_is_a_separate_subcommand_with_its_own_validation() {
    let (code, err) = run(&["demo", "--loss", "2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("'--loss <LOSS>'"), "{err}");
}

#[test]
fn mesh_init_and_issue_write_an_identity_a_relay_starts_with() {
    let dir = TempDir::new("mesh");
    let ca_dir = dir.path("ca");
    let node_dir = dir.path("sgp-relay");
    let (ca_dir, node_dir) = (ca_dir.to_str().unwrap(), node_dir.to_str().unwrap());

    let mut init = Proc::spawn(&["mesh", "init", "--out", ca_dir, "--name", "test-mesh"]);
    let status = init.wait(support::DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", init.stderr());
    assert!(init.stdout().contains("mesh CA 'test-mesh' written"));
    for file in ["ca.crt", "ca.key"] {
        assert!(dir.path("ca").join(file).is_file(), "{file}");
    }

    let mut issue = Proc::spawn(&[
        "mesh",
        "issue",
        "--ca",
        ca_dir,
        "--name",
        "sgp-relay",
        "--out",
        node_dir,
    ]);
    let status = issue.wait(support::DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", issue.stderr());
    assert!(issue.stdout().contains("node 'sgp-relay' identity written"));

    // Issuing into an existing identity refuses to overwrite it.
    let (code, err) = run(&[
        "mesh",
        "issue",
        "--ca",
        ca_dir,
        "--name",
        "sgp-relay",
        "--out",
        node_dir,
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("error: writing the node identity to"),
        "{err}"
    );

    let relay = Node::start(
        &dir,
        "relay.toml",
        &format!(
            "[node]\nname = \"sgp-relay\"\nroles = [\"relay\"]\ndata_listen = \"127.0.0.1:0\"\ncontrol_listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n{}",
            tls("sgp-relay")
        ),
    );
    assert!(relay.control.is_some(), "a relay serves the control plane");
}

#[test]
fn relay_serves_health_and_metrics_and_stops_on_sigterm() {
    let dir = TempDir::new("relay");
    mesh_identities(&dir.0, &["sgp-relay"]);
    let mut node = Node::start(
        &dir,
        "relay.toml",
        &format!(
            r#"
[node]
name = "sgp-relay"
roles = ["relay"]
data_listen = "127.0.0.1:0"
control_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
{}"#,
            tls("sgp-relay")
        ),
    );
    let addr = node.admin;

    let (status, headers, body) = http_get(addr, "/health");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["name"], "sgp-relay");
    assert_eq!(health["roles"], serde_json::json!(["relay"]));
    assert_eq!(health["sessions"], 0);
    assert!(health["uptime_seconds"].is_u64(), "{health}");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    let (status, headers, body) = http_get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/openmetrics-text"),
        "{headers}"
    );
    assert!(
        body.lines()
            .any(|l| l == "lightspeed_drops_total{reason=\"bad_mac\"} 0"),
        "{body}"
    );
    assert!(body.lines().any(|l| l == "lightspeed_sessions 0"), "{body}");
    assert!(
        body.lines().any(|l| l == "lightspeed_rtt_seconds_count 0"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");

    let (status, _, _) = http_get(addr, "/nope");
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    node.proc.signal("TERM");
    let status = node.proc.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert_eq!(node.proc.logs("stopped").len(), 1, "{}", node.proc.stderr());
}

#[test]
fn busy_admin_port_exits_1_with_context() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = TempDir::new("busy");
    mesh_identities(&dir.0, &["lightspeed"]);
    let cfg = dir.file(
        "relay.toml",
        &format!(
            "[node]\ndata_listen = \"127.0.0.1:0\"\ncontrol_listen = \"127.0.0.1:0\"\n{}",
            tls("lightspeed")
        ),
    );
    let (code, err) = run(&["--config", &cfg, "--admin", &addr]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen for admin HTTP on {addr} (node.admin_listen)"
        )),
        "{err}"
    );
}

#[test]
fn unreadable_ca_certificate_exits_1_naming_the_file_once() {
    let dir = TempDir::new("badca");
    mesh_identities(&dir.0, &["lightspeed"]);
    dir.file("junk.crt", "not a certificate\n");
    let cfg = dir.file(
        "relay.toml",
        "[node]\ndata_listen = \"127.0.0.1:0\"\ncontrol_listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[tls]\nca_cert = \"junk.crt\"\ncert = \"lightspeed/node.crt\"\nkey = \"lightspeed/node.key\"\n",
    );
    let (code, err) = run(&["--config", &cfg, "--log-format", "json"]);
    assert_eq!(code, Some(1), "{err}");
    let junk = dir.path("junk.crt");
    let expected = format!(
        "engine failed: starting the node: mesh identity: {}: no PEM certificate: no items found",
        junk.display()
    );
    let logged = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no ERROR line in:\n{err}"));
    assert_eq!(logged["fields"]["message"], expected);
}

#[test]
fn busy_data_port_exits_1_naming_it_once() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = TempDir::new("busydata");
    mesh_identities(&dir.0, &["lightspeed"]);
    let cfg = dir.file(
        "relay.toml",
        &format!(
            "[node]\ndata_listen = \"{addr}\"\ncontrol_listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n{}",
            tls("lightspeed")
        ),
    );
    let (code, err) = run(&["--config", &cfg]);
    assert_eq!(code, Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no ERROR line in:\n{err}"));
    assert!(
        line.ends_with(&format!(
            "engine failed: starting the node: binding data socket on {addr}: Address already in use (os error 98)"
        )),
        "{line}"
    );
}
