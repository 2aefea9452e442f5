//! Forwarding throughput of one forwarder thread: a sender thread blasts sealed 226-byte
//! packets of `SENDERS` sessions (one socket each, 32 packets per `sendmsg` with UDP GSO
//! through quinn-udp where the kernel has it) at the hop as fast as it can; a receiver thread
//! drains the far side with `recvmmsg` and counts. GSO makes the load generator several times
//! cheaper per packet than the forwarder (whose socket receives the segments as ordinary
//! datagrams), so that on two cores the forwarder, not the sender, is the bottleneck.
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

use lightspeed_mesh::dataplane::batch_io::{BATCH, RecvBatch};
use lightspeed_mesh::dataplane::io::SOCKET_BUFFER;
use lightspeed_protocol::header::{self, PacketType};
use lightspeed_protocol::{SessionId, SessionKey};
use quinn_udp::{Transmit, UdpSocketState};

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
    /// Packets the relay refused during the whole run (0 for the baseline).
    pub(crate) drops: u64,
    /// Share of one core the sender and the receiver threads used.
    pub(crate) load_cpu: (f64, f64),
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

/// Spawns `body` on a thread and returns its handle and `/proc` task directory.
fn spawn_measured(body: impl FnOnce() + Send + 'static) -> (JoinHandle<()>, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(hops::this_thread_dir());
        body();
    });
    (thread, rx.recv().unwrap_or_default())
}

fn spawn_receiver(
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
) -> (SocketAddr, JoinHandle<()>, String) {
    let sock = big_socket();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let addr = sock.local_addr().expect("addr");
    let (thread, dir) = spawn_measured(move || {
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
    (addr, thread, dir)
}

fn spawn_sender(
    socks: Vec<(UdpSocket, SessionId, SessionKey)>,
    to: SocketAddr,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    offer_pps: f64,
) -> (JoinHandle<()>, String) {
    spawn_measured(move || {
        let states: Vec<UdpSocketState> = socks
            .iter()
            .map(|(s, ..)| UdpSocketState::new(s.into()).expect("udp state"))
            .collect();
        let gso = states
            .iter()
            .map(UdpSocketState::max_gso_segments)
            .min()
            .unwrap_or(1)
            .clamp(1, BATCH);
        let wire = header::HEADER_LEN + PAYLOAD;
        let mut buf = vec![0u8; wire * BATCH];
        let mut seq = 1u32;
        // One round is BATCH packets on every socket; rounds are paced to `offer_pps`.
        let round = Duration::from_secs_f64((BATCH * socks.len()) as f64 / offer_pps);
        let start = Instant::now();
        while !stop.load(Relaxed) {
            seq += 1;
            let due = start + round * seq;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for ((sock, id, key), state) in socks.iter().zip(&states) {
                for (k, packet) in buf.chunks_exact_mut(wire).enumerate() {
                    let s = seq * BATCH as u32 + k as u32;
                    seal_packet(PacketType::Data, *id, key, s, 0, PAYLOAD, packet);
                }
                for chunk in buf.chunks(wire * gso) {
                    let t = Transmit {
                        destination: to,
                        ecn: None,
                        contents: chunk,
                        segment_size: (gso > 1).then_some(wire),
                        src_ip: None,
                    };
                    loop {
                        match state.try_send(sock.into(), &t) {
                            Ok(()) => {
                                sent.fetch_add((chunk.len() / wire) as u64, Relaxed);
                                break;
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::yield_now()
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
        }
    })
}

/// One run through the LightSpeed relay (`relay`) or the baseline, measured for `window`.
pub(crate) fn run_once(relay: bool, run: u32, window: Duration, offer_pps: f64) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let (sink, receiver, receiver_dir) = spawn_receiver(Arc::clone(&stop), Arc::clone(&received));
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
    let (sender, sender_dir) = spawn_sender(
        socks,
        hop.addr,
        Arc::clone(&stop),
        Arc::clone(&sent),
        offer_pps,
    );
    std::thread::sleep(WARMUP);
    let snap = |hop: &Hop| {
        (
            Instant::now(),
            sent.load(Relaxed),
            hop.forwarded(),
            received.load(Relaxed),
            hop.cpu_ns(),
            hops::cpu_ns(&sender_dir),
            hops::cpu_ns(&receiver_dir),
        )
    };
    let (t0, s0, f0, r0, c0, sc0, rc0) = snap(&hop);
    std::thread::sleep(window);
    let (t1, s1, f1, r1, c1, sc1, rc1) = snap(&hop);
    stop.store(true, Relaxed);
    let _ = sender.join();
    let _ = receiver.join();
    let drops = hop.drops();
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
        drops,
        load_cpu: (
            sc1.saturating_sub(sc0) as f64 / 1e9 / secs,
            rc1.saturating_sub(rc0) as f64 / 1e9 / secs,
        ),
    }
}

/// Nanoseconds per `parse` + `verify` of one test packet, timed over many packets in a loop:
/// the relay's per-packet MAC cost, for reading the throughput gap.
pub(crate) fn verify_ns() -> f64 {
    let key = SessionKey([7; 32]);
    let mut buf = [0u8; 512];
    let n = seal_packet(
        PacketType::Data,
        SessionId(9),
        &key,
        1,
        0,
        PAYLOAD,
        &mut buf,
    );
    let rounds = 200_000u32;
    let t = Instant::now();
    let mut ok = 0u32;
    for _ in 0..rounds {
        let bytes = std::hint::black_box(&buf[..n]);
        if header::parse(bytes).and_then(|u| u.verify(&key)).is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, rounds);
    t.elapsed().as_nanos() as f64 / f64::from(rounds)
}
