//! Forwarding throughput of one forwarder thread: a sender thread blasts sealed 226-byte
//! packets of `SENDERS` sessions (one socket each, `sendmmsg` batches of 32) at the hop as
//! fast as it can; a receiver thread drains the far side with `recvmmsg` and counts.
//!
//! The offered load is the same bytes and the same sender work (sealing included) for both
//! hops. On a 2-core machine the three busy threads share two cores, so besides packets per
//! wall-clock second the forwarder thread's own CPU time is read from `schedstat`, giving
//! packets per CPU-second of forwarding — the "per core" figure.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lightspeed_mesh::dataplane::batch_io::{BATCH, RecvBatch, SendBatch};
use lightspeed_mesh::dataplane::io::SOCKET_BUFFER;
use lightspeed_protocol::header::PacketType;
use lightspeed_protocol::{SessionId, SessionKey};

use crate::hops::{self, Hop, PAYLOAD, seal_packet};

/// Sender sockets, one session each.
const SENDERS: u32 = 16;
/// Load before the measured window starts.
const WARMUP: Duration = Duration::from_millis(300);

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Packets per second the sender offered.
    pub(crate) offered: f64,
    /// Packets per second the forwarder queued for sending.
    pub(crate) forwarded: f64,
    /// Packets per second that reached the receiver.
    pub(crate) delivered: f64,
    /// Share of one core the forwarder thread used (0..=1).
    pub(crate) cpu: f64,
    /// Forwarded packets per CPU-second of the forwarder thread.
    pub(crate) per_cpu_second: f64,
}

fn big_socket() -> UdpSocket {
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    s.into()
}

fn spawn_receiver(stop: Arc<AtomicBool>, count: Arc<AtomicU64>) -> (SocketAddr, JoinHandle<()>) {
    let sock = big_socket();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let addr = sock.local_addr().expect("addr");
    let thread = std::thread::spawn(move || {
        let mut rb = RecvBatch::default();
        let mut probe = [0u8; 1];
        while !stop.load(Relaxed) {
            // Block until something is queued, then drain it in batches without blocking.
            if sock.peek_from(&mut probe).is_err() {
                continue;
            }
            while let Ok(n) = rb.recv(sock.as_raw_fd()) {
                count.fetch_add(n as u64, Relaxed);
            }
        }
    });
    (addr, thread)
}

fn spawn_sender(
    socks: Vec<(UdpSocket, SessionId, SessionKey)>,
    to: SocketAddr,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut sb = SendBatch::default();
        let mut seq = 1u32;
        while !stop.load(Relaxed) {
            seq += 1;
            for (sock, id, key) in &socks {
                for k in 0..BATCH {
                    if let Some(slot) = sb.slot(to) {
                        let n = seal_packet(
                            PacketType::Data,
                            *id,
                            key,
                            seq * BATCH as u32 + k as u32,
                            0,
                            PAYLOAD,
                            slot,
                        );
                        sb.commit(n);
                    }
                }
                while !sb.is_empty() {
                    match sb.flush(sock.as_raw_fd()) {
                        Ok(n) => {
                            sent.fetch_add(n as u64, Relaxed);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::yield_now()
                        }
                        Err(_) => sb.clear(),
                    }
                }
            }
        }
    })
}

/// One run through the LightSpeed relay (`relay`) or the baseline, measured for `window`.
pub(crate) fn run_once(relay: bool, run: u32, window: Duration) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let (sink, receiver) = spawn_receiver(Arc::clone(&stop), Arc::clone(&received));
    let sessions: Vec<(SessionId, SessionKey)> = (0..SENDERS)
        .map(|j| {
            (
                SessionId(0x7000_0000 + run * 64 + j + 1),
                SessionKey([j as u8 + 1; 32]),
            )
        })
        .collect();
    let hop: Hop = if relay {
        hops::spawn_relay(sink, &sessions, 1024)
    } else {
        hops::spawn_baseline(sink)
    };
    let socks: Vec<(UdpSocket, SessionId, SessionKey)> = sessions
        .into_iter()
        .map(|(id, key)| (big_socket(), id, key))
        .collect();
    // Both hops get the same Binds; the relay needs them to forward anything.
    let mut buf = [0u8; 128];
    for (sock, id, key) in &socks {
        let n = seal_packet(PacketType::Bind, *id, key, 1, 0, 8, &mut buf);
        sock.send_to(&buf[..n], hop.addr).expect("send bind");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.load(Relaxed) < u64::from(SENDERS) {
        assert!(Instant::now() < deadline, "binds did not cross the hop");
        std::thread::sleep(Duration::from_millis(1));
    }

    let sent = Arc::new(AtomicU64::new(0));
    let sender = spawn_sender(socks, hop.addr, Arc::clone(&stop), Arc::clone(&sent));
    std::thread::sleep(WARMUP);
    let snap = |hop: &Hop| {
        (
            Instant::now(),
            sent.load(Relaxed),
            hop.forwarded(),
            received.load(Relaxed),
            hop.cpu_ns(),
        )
    };
    let (t0, s0, f0, r0, c0) = snap(&hop);
    std::thread::sleep(window);
    let (t1, s1, f1, r1, c1) = snap(&hop);
    stop.store(true, Relaxed);
    let _ = sender.join();
    let _ = receiver.join();
    drop(hop);
    let secs = (t1 - t0).as_secs_f64();
    let cpu_secs = (c1.saturating_sub(c0)) as f64 / 1e9;
    Run {
        offered: (s1 - s0) as f64 / secs,
        forwarded: (f1 - f0) as f64 / secs,
        delivered: (r1 - r0) as f64 / secs,
        cpu: cpu_secs / secs,
        per_cpu_second: if cpu_secs > 0.0 {
            (f1 - f0) as f64 / cpu_secs
        } else {
            0.0
        },
    }
}
