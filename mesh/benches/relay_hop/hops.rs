//! The forwarders under test, each on its own OS thread with its own single-threaded tokio
//! runtime (one core's worth of forwarding), and the probe traffic they carry.
//!
//! Both forwarders use the same driving model: one UDP socket (same buffer sizes, from
//! `bind_udp`), a task that awaits readiness, drains it with `recvmmsg` into a preallocated
//! [`RecvBatch`], copies each datagram into a [`SendBatch`] slot and flushes with `sendmmsg`.
//! That is exactly the shape of `DataPlane::data_loop`; the baseline only leaves out what a
//! LightSpeed relay adds per packet (header parse, session lookup, MAC verify, replay window,
//! rate limit, counters) and the relay's timer task.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;

use lightspeed_mesh::dataplane::batch_io::{RecvBatch, SendBatch};
use lightspeed_mesh::dataplane::io::{DataPlane, bind_udp};
use lightspeed_mesh::dataplane::limiter::TokenBucket;
use lightspeed_mesh::dataplane::relay::RelayState;
use lightspeed_mesh::dataplane::table::{Clock, SessionTable};
use lightspeed_mesh::dataplane::{Counters, Direction};
use lightspeed_protocol::fec::FecField;
use lightspeed_protocol::header::{self, Header, PacketType};
use lightspeed_protocol::{SessionId, SessionKey};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// Payload bytes of every test packet: a typical game datagram.
pub(crate) const PAYLOAD: usize = 200;

/// A forwarder running on its own thread; stopped and joined on drop.
pub(crate) struct Hop {
    /// Where senders send to.
    pub(crate) addr: SocketAddr,
    forwarded: Arc<AtomicU64>,
    relay: Option<Arc<DataPlane>>,
    /// `/proc/self/task/<tid>` of the forwarding thread, for its CPU time.
    task_dir: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Hop {
    /// Packets the forwarder has queued for sending so far.
    pub(crate) fn forwarded(&self) -> u64 {
        match &self.relay {
            Some(dp) => {
                dp.counters.packets(Direction::Upstream)
                    + dp.counters.packets(Direction::Downstream)
            }
            None => self.forwarded.load(Relaxed),
        }
    }

    /// Packets the relay refused (all drop reasons; always 0 for the baseline).
    pub(crate) fn drops(&self) -> u64 {
        self.relay.as_ref().map_or(0, |dp| {
            lightspeed_mesh::dataplane::DropReason::ALL
                .iter()
                .map(|r| dp.counters.drops(*r))
                .sum()
        })
    }

    /// CPU time the forwarding thread has used, in nanoseconds.
    pub(crate) fn cpu_ns(&self) -> u64 {
        cpu_ns(&self.task_dir)
    }
}

impl Drop for Hop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `/proc/<pid>/task/<tid>` of the calling thread (`/proc/thread-self` links there).
pub(crate) fn this_thread_dir() -> String {
    std::fs::read_link("/proc/thread-self")
        .map(|p| format!("/proc/{}", p.display()))
        .unwrap_or_default()
}

/// CPU time a thread has used, in nanoseconds (first field of its `schedstat`).
pub(crate) fn cpu_ns(task_dir: &str) -> u64 {
    std::fs::read_to_string(format!("{task_dir}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `setup` inside a fresh current-thread runtime on a new thread (it spawns the
/// forwarding tasks there) and keeps the runtime running until the stop signal.
fn on_own_thread<T: Send + 'static>(
    name: &str,
    setup: impl FnOnce() -> T + Send + 'static,
) -> (T, String, oneshot::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let task = this_thread_dir();
            rt.block_on(async move {
                let _ = tx.send((setup(), task));
                let _ = stop_rx.await;
            });
        })
        .expect("spawn forwarder thread");
    let (value, task) = rx.recv().expect("forwarder set-up");
    (value, task, stop_tx, thread)
}

/// The minimal batched forwarder: everything from the upstream goes to the last other
/// sender, everything else goes upstream. No header, no MAC, no table.
pub(crate) fn spawn_baseline(upstream: SocketAddr) -> Hop {
    let forwarded = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&forwarded);
    let (addr, task_dir, stop, thread) = on_own_thread("baseline-hop", move || {
        let sock = bind_udp(([127, 0, 0, 1], 0).into()).expect("bind baseline");
        let addr = sock.local_addr().expect("baseline addr");
        tokio::spawn(baseline_loop(sock, upstream, count));
        if std::env::var_os("RELAY_HOP_BASELINE_TICK").is_some() {
            tokio::spawn(async {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(1));
                loop {
                    tick.tick().await;
                }
            });
        }
        addr
    });
    Hop {
        addr,
        forwarded,
        relay: None,
        task_dir,
        stop: Some(stop),
        thread: Some(thread),
    }
}

async fn baseline_loop(sock: UdpSocket, upstream: SocketAddr, forwarded: Arc<AtomicU64>) {
    let mut rb = RecvBatch::default();
    let mut sb = SendBatch::default();
    let fd = sock.as_raw_fd();
    let mut downstream = None;
    loop {
        if sock.readable().await.is_err() {
            return;
        }
        let n = match sock.try_io(Interest::READABLE, || rb.recv(fd)) {
            Ok(n) => n,
            Err(_) => continue,
        };
        let mut queued = 0;
        for i in 0..n {
            let Some((bytes, from)) = rb.get(i) else {
                continue;
            };
            let to = if from == upstream {
                match downstream {
                    Some(d) => d,
                    None => continue,
                }
            } else {
                downstream = Some(from);
                upstream
            };
            if sb.is_full() {
                flush(&mut sb, fd);
            }
            if let Some(slot) = sb.slot(to) {
                slot[..bytes.len()].copy_from_slice(bytes);
                sb.commit(bytes.len());
                queued += 1;
            }
        }
        flush(&mut sb, fd);
        forwarded.fetch_add(queued, Relaxed);
    }
}

/// The data plane's flush policy: send everything, drop the batch on a hard error.
pub(crate) fn flush(sb: &mut SendBatch, fd: RawFd) {
    while !sb.is_empty() {
        match sb.flush(fd) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => sb.clear(),
        }
    }
}

/// A LightSpeed relay (the real `DataPlane`: data loop and timer loop) with a transit entry
/// towards `upstream` for each session. Each entry's token bucket is set far above the test
/// rate, so the limiter's arithmetic runs on every packet but never drops.
pub(crate) fn spawn_relay(
    upstream: SocketAddr,
    sessions: &[(SessionId, SessionKey)],
    max_sessions: usize,
) -> Hop {
    let sessions = sessions.to_vec();
    let (dp, task_dir, stop, thread) = on_own_thread("lightspeed-relay", move || {
        let (events, _) = tokio::sync::mpsc::channel(64);
        let dp = DataPlane::bind(
            ([127, 0, 0, 1], 0).into(),
            Arc::new(SessionTable::new(max_sessions, 16)),
            Arc::new(Counters::default()),
            Clock::default(),
            events,
        )
        .expect("bind relay");
        let now = dp.clock.now();
        for (id, key) in sessions {
            let limiter = TokenBucket::new(10_000_000, 10_000_000, now);
            dp.install_relay(id, key, RelayState::new(upstream, limiter, now))
                .expect("install relay entry");
        }
        dp.start();
        dp
    });
    Hop {
        addr: dp.local_addr().expect("relay addr"),
        forwarded: Arc::new(AtomicU64::new(0)),
        relay: Some(dp),
        task_dir,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// Seals a test packet of `session` into `out`: `tag` in the first 8 payload bytes, then
/// filler up to `len` payload bytes. Returns the packet length.
pub(crate) fn seal_packet(
    kind: PacketType,
    session: SessionId,
    key: &SessionKey,
    seq: u32,
    tag: u64,
    len: usize,
    out: &mut [u8],
) -> usize {
    let header = Header {
        packet_type: kind,
        path: 0,
        session,
        seq,
        timestamp: 0,
        fec: FecField::NONE,
    };
    let body = &mut out[header::HEADER_LEN..header::HEADER_LEN + len];
    body[..8].copy_from_slice(&tag.to_be_bytes());
    body[8..].fill(0x5a);
    header::seal_in_place(&header, key, out, len).expect("test packet seals")
}
