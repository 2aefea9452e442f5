//! Loopback UDP pieces around the nodes under test: an echo "game server", a game client that
//! checks every echo byte for byte, and a forwarder for one leg that can drop packets, capture
//! them and inject the test's own.
//!
//! Each runs on plain threads with short socket timeouts and stops (and is joined) on drop.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::DEADLINE;

const TICK: Duration = Duration::from_millis(20);
/// Most packets a forwarder keeps for the test to replay or tamper with.
const CAPTURE_LIMIT: usize = 10_000;

fn loopback() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(TICK)).unwrap();
    s
}

/// Stops and joins its threads on drop.
struct Threads {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A UDP echo server standing in for the game server.
pub(crate) struct Echo {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    received: Arc<AtomicU64>,
    _threads: Threads,
}

impl Echo {
    /// Starts echoing on a fresh loopback port.
    pub(crate) fn start() -> Echo {
        let sock = loopback();
        let addr = sock.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&received), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !halt.load(Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    count.fetch_add(1, Relaxed);
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
        });
        Echo {
            addr,
            received,
            _threads: Threads {
                stop,
                handles: vec![handle],
            },
        }
    }

    /// Datagrams received so far.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Relaxed)
    }
}

/// Game packet `i`: its index, then a pattern; sizes vary over 20..=1200 bytes.
pub(crate) fn payload(i: u32) -> Vec<u8> {
    let len = 20 + (i as usize * 397) % 1181;
    let mut p = i.to_be_bytes().to_vec();
    p.extend((4..len).map(|j| (j as u32).wrapping_mul(31).wrapping_add(i) as u8));
    p
}

/// Index of the warm-up packet, outside any counted range.
const WARM_UP: u32 = u32::MAX;

/// A game client talking to an edge's redirect port.
pub(crate) struct GameClient {
    sock: UdpSocket,
    echoes: mpsc::Receiver<Vec<u8>>,
    _threads: Threads,
}

/// What came back from one burst.
#[derive(Debug, Default)]
pub(crate) struct Echoes {
    /// Distinct packets of the burst that came back, by index.
    pub(crate) got: BTreeMap<u32, usize>,
    /// Echoes whose bytes differ from what was sent with that index.
    pub(crate) corrupt: usize,
}

impl GameClient {
    /// A client whose datagrams go to `edge` (a redirect port).
    pub(crate) fn new(edge: SocketAddr) -> GameClient {
        let sock = loopback();
        sock.connect(edge).unwrap();
        let rx = sock.try_clone().unwrap();
        let (tx, echoes) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !halt.load(Relaxed) {
                if let Ok(n) = rx.recv(&mut buf) {
                    let _ = tx.send(buf[..n].to_vec());
                }
            }
        });
        GameClient {
            sock,
            echoes,
            _threads: Threads {
                stop,
                handles: vec![handle],
            },
        }
    }

    /// Sends one datagram.
    pub(crate) fn send(&self, bytes: &[u8]) {
        // ECONNREFUSED from an earlier ICMP error is harmless here.
        let _ = self.sock.send(bytes);
    }

    /// The session is set up on the first packet: resends the warm-up packet every 100 ms
    /// until its echo arrives, then discards any further copies' echoes.
    pub(crate) fn warm_up(&self) {
        let first = payload(WARM_UP);
        let start = Instant::now();
        'outer: loop {
            assert!(
                start.elapsed() < DEADLINE,
                "no echo of the first packet within {DEADLINE:?}"
            );
            self.send(&first);
            let resend = Instant::now() + Duration::from_millis(100);
            while let Some(left) = resend.checked_duration_since(Instant::now()) {
                match self.echoes.recv_timeout(left) {
                    Ok(echo) if echo == first => break 'outer,
                    Ok(_) | Err(_) => {}
                }
            }
        }
        // Copies still held by the edge while the session was set up echo later; let them
        // come back (they are recognisable by index) before the counted traffic starts.
        self.drain(Duration::from_millis(100));
    }

    /// Throws away echoes arriving within `quiet`.
    pub(crate) fn drain(&self, quiet: Duration) {
        while self.echoes.recv_timeout(quiet).is_ok() {}
    }

    /// Sends packets `range` at about `pps`, then collects echoes until every one came back
    /// or `linger` passes with nothing new.
    pub(crate) fn burst(&self, range: std::ops::Range<u32>, pps: u32, linger: Duration) -> Echoes {
        let mut out = Echoes::default();
        let gap = Duration::from_secs(1) / pps;
        let start = Instant::now();
        let expected = range.len();
        let take = |echo: Vec<u8>, out: &mut Echoes| {
            let Some(idx) = echo
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            else {
                out.corrupt += 1;
                return;
            };
            if !range.contains(&idx) {
                return;
            }
            if echo == payload(idx) {
                *out.got.entry(idx).or_default() += 1;
            } else {
                out.corrupt += 1;
            }
        };
        for (n, i) in range.clone().enumerate() {
            self.send(&payload(i));
            // Pace against the start so scheduling hiccups do not slow the whole burst.
            let due = start + gap * (n as u32 + 1);
            while let Some(left) = due.checked_duration_since(Instant::now()) {
                match self.echoes.recv_timeout(left) {
                    Ok(echo) => take(echo, &mut out),
                    Err(_) => break,
                }
            }
        }
        while out.got.len() < expected {
            match self.echoes.recv_timeout(linger) {
                Ok(echo) => take(echo, &mut out),
                Err(_) => break,
            }
        }
        out
    }

    /// Collects anything that arrives within `window` (for "nothing comes back" checks).
    pub(crate) fn received_within(&self, window: Duration) -> usize {
        let end = Instant::now() + window;
        let mut n = 0;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if self.echoes.recv_timeout(left).is_ok() {
                n += 1;
            }
        }
        n
    }
}

/// splitmix64: a seeded, dependency-free PRNG for loss decisions.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Leg {
    captured: Mutex<Vec<Vec<u8>>>,
    downstream: Mutex<Option<SocketAddr>>,
    dropped: [AtomicU64; 2],
    /// The loss probability, as `f64` bits (changed by [`Forwarder::set_loss`]).
    loss: AtomicU64,
}

/// A forwarder for one leg (edge ↔ relay): the edge sends to [`Forwarder::addr`], the packets
/// go on to `upstream` from the forwarder's own socket, and replies come back to the last
/// edge address seen. It drops packets at random with probability `loss` in each direction,
/// and keeps a copy of every upstream packet it saw.
pub(crate) struct Forwarder {
    /// Where the edge sends.
    pub(crate) addr: SocketAddr,
    upstream: SocketAddr,
    back: UdpSocket,
    leg: Arc<Leg>,
    _threads: Threads,
}

impl Forwarder {
    /// Starts forwarding to `upstream`.
    pub(crate) fn start(upstream: SocketAddr, loss: f64, seed: u64) -> Forwarder {
        let front = loopback();
        let back = loopback();
        let addr = front.local_addr().unwrap();
        let leg = Arc::new(Leg {
            captured: Mutex::new(Vec::new()),
            downstream: Mutex::new(None),
            dropped: [AtomicU64::new(0), AtomicU64::new(0)],
            loss: AtomicU64::new(loss.to_bits()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let up = {
            let (front, back, leg, halt) = (
                front.try_clone().unwrap(),
                back.try_clone().unwrap(),
                Arc::clone(&leg),
                Arc::clone(&stop),
            );
            let mut rng = SplitMix(seed);
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !halt.load(Relaxed) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    *leg.downstream.lock().unwrap() = Some(from);
                    {
                        let mut cap = leg.captured.lock().unwrap();
                        if cap.len() < CAPTURE_LIMIT {
                            cap.push(buf[..n].to_vec());
                        }
                    }
                    if rng.next_f64() < f64::from_bits(leg.loss.load(Relaxed)) {
                        leg.dropped[0].fetch_add(1, Relaxed);
                        continue;
                    }
                    let _ = back.send_to(&buf[..n], upstream);
                }
            })
        };
        let down = {
            let (back, leg, halt) = (
                back.try_clone().unwrap(),
                Arc::clone(&leg),
                Arc::clone(&stop),
            );
            let mut rng = SplitMix(seed ^ 0x005e_ed0f_d0e5);
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !halt.load(Relaxed) {
                    let Ok((n, from)) = back.recv_from(&mut buf) else {
                        continue;
                    };
                    let to = *leg.downstream.lock().unwrap();
                    let Some(to) = to.filter(|_| from == upstream) else {
                        continue;
                    };
                    if rng.next_f64() < f64::from_bits(leg.loss.load(Relaxed)) {
                        leg.dropped[1].fetch_add(1, Relaxed);
                        continue;
                    }
                    let _ = front.send_to(&buf[..n], to);
                }
            })
        };
        Forwarder {
            addr,
            upstream,
            back,
            leg,
            _threads: Threads {
                stop,
                handles: vec![up, down],
            },
        }
    }

    /// Copies of the upstream packets seen so far, oldest first.
    pub(crate) fn captured(&self) -> Vec<Vec<u8>> {
        self.leg.captured.lock().unwrap().clone()
    }

    /// Sends `bytes` upstream from the forwarder's own socket: to the relay it looks exactly
    /// like a packet from the edge it has bound.
    pub(crate) fn inject(&self, bytes: &[u8]) {
        self.back.send_to(bytes, self.upstream).unwrap();
    }

    /// Changes the loss probability of both directions from now on.
    pub(crate) fn set_loss(&self, loss: f64) {
        self.leg.loss.store(loss.to_bits(), Relaxed);
    }

    /// Packets dropped (upstream, downstream).
    pub(crate) fn dropped(&self) -> (u64, u64) {
        (
            self.leg.dropped[0].load(Relaxed),
            self.leg.dropped[1].load(Relaxed),
        )
    }
}
