//! Round-trip latency through no hop, the baseline hop and the LightSpeed relay, probes
//! interleaved in random order within each round so system noise lands on all three alike.
//!
//! Every probe, whatever its path, is the same sealed 226-byte Data packet of one session, and
//! the echo at the far end does the same work for all of them (parse, verify, re-seal with its
//! own fresh sequence number, as a proxy would answer): the relay needs both directions sealed
//! and fresh, and using the same bytes and echo work everywhere leaves the hop as the only
//! difference between the three paths.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lightspeed_protocol::header::{self, PacketType};
use lightspeed_protocol::{SessionId, SessionKey};

use crate::hops::{self, PAYLOAD, seal_packet};

const ID: SessionId = SessionId(0x4c53_0001);
const KEY: SessionKey = SessionKey([0x42; 32]);
/// Probes per path before measuring: page faults, first wake-ups, ARP-free loopback warm-up.
const WARMUP: usize = 200;

/// The three paths, in table order.
pub(crate) const PATHS: [&str; 3] = ["direct", "baseline hop", "LightSpeed relay"];

/// RTT histograms (ns) per path, and probes that got no answer within 20 ms.
pub(crate) struct Latency {
    pub(crate) rtt: [Histogram<u64>; 3],
    pub(crate) lost: [u64; 3],
}

/// The echo: answers every authenticated packet of the session with a re-sealed copy (a
/// BindAck for a Bind, Data otherwise) under its own sequence numbers.
fn spawn_echo(stop: Arc<AtomicBool>) -> (SocketAddr, JoinHandle<()>) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind echo");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let addr = sock.local_addr().expect("echo addr");
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut out = [0u8; 2048];
        let mut seq = 0u32;
        while !stop.load(Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(packet) = header::parse(&buf[..n]).and_then(|u| u.verify(&KEY)) else {
                continue;
            };
            let kind = match packet.header.packet_type {
                PacketType::Bind => PacketType::BindAck,
                _ => PacketType::Data,
            };
            seq += 1;
            let body = packet.payload;
            let tag = body
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_be_bytes);
            let m = seal_packet(kind, ID, &KEY, seq, tag, body.len(), &mut out);
            let _ = sock.send_to(&out[..m], from);
        }
    });
    (addr, thread)
}

fn reply_tag(bytes: &[u8]) -> Option<u64> {
    let p = header::parse(bytes).ok()?.verify(&KEY).ok()?;
    Some(u64::from_be_bytes(p.payload.get(..8)?.try_into().ok()?))
}

/// Sends one packet and waits for the answer carrying the same tag.
fn round_trip(
    sock: &UdpSocket,
    to: SocketAddr,
    kind: PacketType,
    seq: &mut u32,
    tag: u64,
) -> Option<Duration> {
    let mut out = [0u8; 2048];
    let mut buf = [0u8; 2048];
    let len = if kind == PacketType::Bind { 8 } else { PAYLOAD };
    *seq += 1;
    let n = seal_packet(kind, ID, &KEY, *seq, tag, len, &mut out);
    let t0 = Instant::now();
    sock.send_to(&out[..n], to).ok()?;
    loop {
        // A late answer to an earlier lost probe is skipped; a timeout loses this one.
        let n = sock.recv(&mut buf).ok()?;
        if reply_tag(&buf[..n]) == Some(tag) {
            return Some(t0.elapsed());
        }
    }
}

/// A small xorshift for the per-round order (no global randomness, fixed seed).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs `probes` measured probes per path at `rate_hz` probes per second overall.
pub(crate) fn run(probes: usize, rate_hz: u32) -> Latency {
    let stop = Arc::new(AtomicBool::new(false));
    let (echo, echo_thread) = spawn_echo(Arc::clone(&stop));
    let baseline = hops::spawn_baseline(echo);
    let relay = hops::spawn_relay(echo, &[(ID, KEY.clone())], 16);
    let targets = [echo, baseline.addr, relay.addr];
    let socks: Vec<UdpSocket> = (0..3)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind client");
            s.set_read_timeout(Some(Duration::from_millis(20)))
                .expect("timeout");
            s
        })
        .collect();
    let mut seq = 0u32;
    let mut tag = 1u64;
    // The relay forwards nothing of the session before an authenticated Bind from the client.
    let bound = (0..10).any(|_| {
        tag += 1;
        round_trip(&socks[2], relay.addr, PacketType::Bind, &mut seq, tag).is_some()
    });
    assert!(bound, "the relay never passed the Bind/BindAck exchange");

    let new_hist = || Histogram::<u64>::new_with_bounds(1_000, 1_000_000_000, 3).expect("hist");
    let mut rtt = [new_hist(), new_hist(), new_hist()];
    let mut lost = [0u64; 3];
    let period = Duration::from_secs_f64(1.0 / f64::from(rate_hz.max(1)));
    let start = Instant::now();
    let mut slot = 0u32;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..WARMUP + probes {
        let mut order = [0usize, 1, 2];
        for i in (1..3).rev() {
            order.swap(i, (next(&mut rng) % (i as u64 + 1)) as usize);
        }
        for path in order {
            let due = start + period * slot;
            slot += 1;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            tag += 1;
            let got = round_trip(&socks[path], targets[path], PacketType::Data, &mut seq, tag);
            if round < WARMUP {
                continue;
            }
            match got {
                Some(d) => rtt[path].saturating_record(d.as_nanos() as u64),
                None => lost[path] += 1,
            }
        }
    }
    stop.store(true, Relaxed);
    let _ = echo_thread.join();
    Latency { rtt, lost }
}
