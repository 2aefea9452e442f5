//! Helpers shared by the process tests: the `lightspeed-node` binary as a child process whose
//! JSON log is collected, scratch directories, mesh identity files, the admin endpoints, and
//! (in `udp.rs`) a UDP echo "game server", a game client and a leg forwarder.
//!
//! Every child is killed and reaped on drop, and every wait is a condition with a deadline, so
//! a failing test never leaves a process behind or hangs.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod mesh;
pub(crate) mod udp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lightspeed_mesh::identity::{Identity, MeshCa};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_lightspeed-node");
/// Longest any single wait may take before the test fails (generous: tests run in parallel on
/// a small machine).
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` every 10 ms until it holds, failing the test after `deadline`.
pub(crate) fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A scratch directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A fresh directory named after `tag`, this process and a counter.
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ls-node-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    pub(crate) fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// A path inside the directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generates a mesh CA (`dir/ca.crt`, `dir/ca.key`, as `lightspeed-node mesh init` writes
/// them) and, for each name, `dir/<name>/{ca.crt,node.crt,node.key}` signed by it, as
/// `lightspeed-node mesh issue` writes them.
pub(crate) fn mesh_identities(dir: &Path, names: &[&str]) {
    let ca = MeshCa::generate("e2e-mesh").unwrap();
    ca.save(dir).unwrap();
    for name in names {
        let node = ca.issue_node(name).unwrap();
        Identity::new(ca.trust(), node)
            .unwrap()
            .save(&dir.join(name))
            .unwrap();
    }
}

/// A running `lightspeed-node` child. Its stderr is read line by line into a shared list so
/// tests can wait for and inspect log lines; it is killed on drop.
pub(crate) struct Proc {
    /// The child.
    pub(crate) child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts the binary with `args`.
    pub(crate) fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lightspeed-node");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Proc {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Waits for exit until `deadline` passes, then fails the test (the drop kills it). After
    /// this returns, [`Proc::stderr`] holds everything the process wrote.
    pub(crate) fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                start.elapsed() < deadline,
                "process still running after {deadline:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything read from stderr so far, one line per line.
    pub(crate) fn stderr(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        text
    }

    /// Whole stdout, once the process has exited.
    pub(crate) fn stdout(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_string(&mut out).unwrap();
        }
        out
    }

    /// The `fields` of every JSON log line whose message is `message`, so far.
    pub(crate) fn logs(&self, message: &str) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == message)
            .map(|v| v["fields"].clone())
            .collect()
    }

    /// Waits for a JSON log line with `message` whose fields satisfy `pred`; returns them.
    /// Fails early, with the log, if the process exits first.
    pub(crate) fn wait_for_log(
        &mut self,
        message: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            if let Some(found) = self.logs(message).into_iter().find(|f| pred(f)) {
                return found;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                panic!(
                    "process exited ({status}) before logging '{message}'; stderr:\n{}",
                    self.stderr()
                );
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no matching '{message}' log line within {DEADLINE:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends a signal (`TERM`, `KILL`, ...) with kill(1).
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {pid} failed");
    }
}

/// Runs the binary to completion and returns its exit code and stderr.
pub(crate) fn run(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Proc::spawn(args);
    let status = child.wait(DEADLINE);
    (status.code(), child.stderr())
}

/// Sends one HTTP/1.1 GET and returns (status line, lower-cased headers, body).
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (String, String, String) {
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

/// Parses a `Some(addr)` / `addr` log field.
fn addr_field(v: &serde_json::Value) -> Option<SocketAddr> {
    let s = v.as_str()?;
    let s = s
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(s);
    s.parse().ok()
}

/// A node process started from a config file, with the addresses it logged.
pub(crate) struct Node {
    /// The process.
    pub(crate) proc: Proc,
    /// Admin HTTP address.
    pub(crate) admin: SocketAddr,
    /// Bound data-plane address.
    pub(crate) data: SocketAddr,
    /// Bound QUIC control address (relay, proxy).
    pub(crate) control: Option<SocketAddr>,
    /// Bound redirect sockets (edge).
    pub(crate) redirects: Vec<SocketAddr>,
}

impl Node {
    /// Writes `toml` to `dir/<file>`, starts a node on it with JSON logs and waits until it
    /// logged its admin and data-plane addresses.
    pub(crate) fn start(dir: &TempDir, file: &str, toml: &str) -> Node {
        let cfg = dir.file(file, toml);
        let mut proc = Proc::spawn(&["--config", &cfg, "--log-format", "json"]);
        let admin = proc.wait_for_log("admin HTTP listening", |_| true);
        let admin = addr_field(&admin["addr"]).expect("admin addr");
        let started = proc.wait_for_log("node started", |_| true);
        let data = addr_field(&started["data"]).expect("data addr");
        let control = addr_field(&started["control"]);
        let redirects = started["redirects"]
            .as_str()
            .unwrap_or("[]")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(", ")
            .filter_map(|s| s.parse().ok())
            .collect();
        Node {
            proc,
            admin,
            data,
            control,
            redirects,
        }
    }

    /// The bound control address; fails for nodes without one.
    pub(crate) fn control(&self) -> SocketAddr {
        self.control.expect("node has a control address")
    }

    /// `GET /health`, parsed.
    pub(crate) fn health(&self) -> serde_json::Value {
        let (status, _, body) = http_get(self.admin, "/health");
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Sessions reported by `/health`.
    pub(crate) fn sessions(&self) -> u64 {
        self.health()["sessions"].as_u64().expect("sessions")
    }

    /// The value of one sample line of `/metrics`, e.g.
    /// `lightspeed_drops_total{reason="bad_mac"}`.
    pub(crate) fn metric(&self, sample: &str) -> u64 {
        let (status, _, body) = http_get(self.admin, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        body.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {sample} in /metrics:\n{body}"))
    }

    /// `lightspeed_drops_total{reason="<reason>"}`.
    pub(crate) fn drops(&self, reason: &str) -> u64 {
        self.metric(&format!("lightspeed_drops_total{{reason=\"{reason}\"}}"))
    }
}
