//! Memory: the real `lightspeed-node --role relay` process at idle, and the cost of 10 000
//! relay sessions in a `DataPlane`, measured in a fresh child process (this bench re-run with
//! `--memory-child`) so the allocator holds nothing from the latency and throughput runs.

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lightspeed_mesh::dataplane::io::DataPlane;
use lightspeed_mesh::dataplane::limiter::TokenBucket;
use lightspeed_mesh::dataplane::relay::RelayState;
use lightspeed_mesh::dataplane::table::{Clock, Entry, SessionTable};
use lightspeed_mesh::dataplane::{Counters, Direction};
use lightspeed_protocol::header::PacketType;
use lightspeed_protocol::{SessionId, SessionKey};

use crate::hops::seal_packet;

/// Sessions installed for the per-session figure (the design's concurrency target).
pub(crate) const SESSIONS: u32 = 10_000;

/// Resident set size of a process, in KiB (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// What the child process measured, KiB unless named otherwise.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SessionMemory {
    pub(crate) before: u64,
    pub(crate) idle_dataplane: u64,
    pub(crate) with_sessions: u64,
    pub(crate) after_binds: u64,
    pub(crate) binds_forwarded: u64,
    pub(crate) entry_bytes: u64,
}

/// Runs in the child: a relay `DataPlane` on a current-thread runtime, then 10 000 transit
/// entries, then one authenticated Bind through each of them. Prints `key=value` lines.
pub(crate) fn child() {
    let before = rss_kib("self");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (events, _rx) = tokio::sync::mpsc::channel(64);
        let dp = DataPlane::bind(
            ([127, 0, 0, 1], 0).into(),
            Arc::new(SessionTable::new(SESSIONS as usize, 256)),
            Arc::new(Counters::default()),
            Clock::default(),
            events,
        )
        .expect("bind");
        dp.start();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let idle = rss_kib("self");
        let upstream = UdpSocket::bind("127.0.0.1:0").expect("upstream");
        let up: SocketAddr = upstream.local_addr().expect("addr");
        let now = dp.clock.now();
        let key = |i: u32| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            SessionKey(k)
        };
        for i in 1..=SESSIONS {
            // The node's default per-session limit (1 000 pps).
            let relay = RelayState::new(up, TokenBucket::new(1_000, 1_000, now), now);
            dp.install_relay(SessionId(i), key(i), relay)
                .expect("install");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let with_sessions = rss_kib("self");
        // Every session bound and forwarding: one Bind each from one client socket.
        let client = UdpSocket::bind("127.0.0.1:0").expect("client");
        let to = dp.local_addr().expect("relay addr");
        let mut buf = [0u8; 128];
        for i in 1..=SESSIONS {
            let n = seal_packet(PacketType::Bind, SessionId(i), &key(i), 1, 0, 8, &mut buf);
            let _ = client.send_to(&buf[..n], to);
            if i % 256 == 0 {
                // Let the relay drain its socket so nothing is dropped for buffer space.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_binds = rss_kib("self");
        println!("before={before}");
        println!("idle_dataplane={idle}");
        println!("with_sessions={with_sessions}");
        println!("after_binds={after_binds}");
        println!(
            "binds_forwarded={}",
            dp.counters.packets(Direction::Upstream)
        );
        println!("entry_bytes={}", std::mem::size_of::<Entry>());
    });
}

/// Runs the child and parses its report.
pub(crate) fn sessions() -> Option<SessionMemory> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).arg("--memory-child").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut m = SessionMemory::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v: u64 = v.trim().parse().unwrap_or(0);
        match k {
            "before" => m.before = v,
            "idle_dataplane" => m.idle_dataplane = v,
            "with_sessions" => m.with_sessions = v,
            "after_binds" => m.after_binds = v,
            "binds_forwarded" => m.binds_forwarded = v,
            "entry_bytes" => m.entry_bytes = v,
            _ => {}
        }
    }
    (m.with_sessions > 0).then_some(m)
}

/// The `lightspeed-node` binary: `$LIGHTSPEED_NODE`, else next to this bench's `deps/` dir
/// (`cargo build --release -p lightspeed-node` puts it there).
fn node_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIGHTSPEED_NODE") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("lightspeed-node");
    p.exists().then_some(p)
}

fn free_port(tcp: bool) -> u16 {
    if tcp {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(0, |a| a.port())
    } else {
        UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_or(0, |a| a.port())
    }
}

fn run_quiet(bin: &Path, args: &[&str]) -> bool {
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The real relay process at idle: (steady VmRSS KiB, peak VmHWM KiB), or why not.
pub(crate) fn idle_node() -> Result<(u64, u64), String> {
    let bin = node_binary().ok_or(
        "lightspeed-node not built (cargo build --release -p lightspeed-node) and \
         $LIGHTSPEED_NODE unset",
    )?;
    let dir = std::env::temp_dir().join(format!("ls-relay-hop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (ca, id) = (dir.join("ca"), dir.join("relay"));
    let s = |p: &Path| p.display().to_string();
    if !run_quiet(&bin, &["mesh", "init", "--out", &s(&ca)])
        || !run_quiet(
            &bin,
            &[
                "mesh",
                "issue",
                "--ca",
                &s(&ca),
                "--name",
                "relay-1",
                "--out",
                &s(&id),
            ],
        )
    {
        return Err("mesh init/issue failed".into());
    }
    let admin = free_port(true);
    let config = format!(
        "[node]\nname = \"relay-1\"\nroles = [\"relay\"]\n\
         data_listen = \"127.0.0.1:{}\"\ncontrol_listen = \"127.0.0.1:{}\"\n\
         admin_listen = \"127.0.0.1:{admin}\"\n\n[tls]\nca_cert = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        free_port(false),
        free_port(false),
        s(&id.join("ca.crt")),
        s(&id.join("node.crt")),
        s(&id.join("node.key")),
    );
    let cfg = dir.join("relay.toml");
    std::fs::write(&cfg, config).map_err(|e| e.to_string())?;
    let mut child = Command::new(&bin)
        .args(["--config", &s(&cfg)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id().to_string();
    let up = Instant::now();
    let admin_addr: SocketAddr = ([127, 0, 0, 1], admin).into();
    let mut ready = false;
    while up.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect_timeout(&admin_addr, Duration::from_millis(100)).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Idle for two seconds (gossip and timers running), then the steady value.
    std::thread::sleep(Duration::from_secs(2));
    let rss = (0..5)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(200));
            rss_kib(&pid)
        })
        .max()
        .unwrap_or(0);
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let alive = child.try_wait().ok().flatten().is_none();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if !ready || !alive || rss == 0 {
        return Err(format!(
            "relay process did not come up (ready={ready}, alive={alive})"
        ));
    }
    Ok((rss, hwm))
}
