//! Process tests of the built `lightspeed-node` binary: exit codes and messages for bad input,
//! and a relay that serves `/health` and `/metrics` and stops cleanly on SIGTERM.
//!
//! Every child is bounded: it is killed on drop and each wait has a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lightspeed-node");
const DEADLINE: Duration = Duration::from_secs(20);

/// Kills and reaps the child when dropped, so a failed assertion never leaves it running.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    fn spawn(args: &[&str]) -> Guard {
        let child = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lightspeed-node");
        Guard(child)
    }

    /// Waits for exit until `deadline` passes, then fails the test (the guard kills it).
    fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                start.elapsed() < deadline,
                "process still running after {deadline:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ls-node-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary to completion and returns its exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Guard::spawn(args);
    let status = child.wait(DEADLINE);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.0.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status.code(), stderr)
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
    let cfg = dir.file(
        "edge.toml",
        r#"
[node]
roles = ["edge"]
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
        format!("error: invalid config {cfg}: edge.via[0]: unknown peer 'sgp'")
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
    // The defaults are a valid relay; as an edge they lack the edge's required fields.
    let (code, err) = run(&["--role", "edge"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("edge.token: required for role edge"), "{err}");
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

/// Sends one HTTP/1.1 GET and returns (status line, headers, body).
fn http_get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect admin");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_string(),
        headers.to_ascii_lowercase(),
        body.to_string(),
    )
}

/// Reads JSON log lines from stderr until `message` appears, returning that line's fields.
fn wait_for_log(lines: &mpsc::Receiver<String>, message: &str) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no '{message}' log line within {DEADLINE:?}"));
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["fields"]["message"] == message
        {
            return v["fields"].clone();
        }
    }
}

#[test]
fn relay_serves_health_and_metrics_and_stops_on_sigterm() {
    let dir = TempDir::new("relay");
    let cfg = dir.file(
        "relay.toml",
        r#"
[node]
name = "sgp-relay"
roles = ["relay"]
data_listen = "127.0.0.1:0"
control_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
"#,
    );
    let mut node = Guard::spawn(&["--config", &cfg, "--log-format", "json"]);
    let (tx, lines) = mpsc::channel();
    let stderr = node.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let fields = wait_for_log(&lines, "admin HTTP listening");
    let addr: SocketAddr = fields["addr"].as_str().unwrap().parse().unwrap();

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

    let pid = node.0.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let status = node.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    wait_for_log(&lines, "stopped");
}

#[test]
fn busy_admin_port_exits_1_with_context() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = TempDir::new("busy");
    let cfg = dir.file(
        "relay.toml",
        "[node]\ndata_listen = \"127.0.0.1:0\"\ncontrol_listen = \"127.0.0.1:0\"\n",
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
