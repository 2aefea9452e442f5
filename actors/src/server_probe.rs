//! The proxy's game-server prober as a tokio task: the pure
//! [`ServerProber`](lightspeed_mesh::dataplane::server_probe::ServerProber) pumped with the
//! data plane's clock, its queries sent from the task's own UDP sockets (bound to the proxy's
//! egress address, so they leave like the game traffic and pass the same firewall), the
//! servers to query taken from the proxy sessions in the table, and every answer's estimate
//! written into the sessions of that server ([`ProxySession::set_probed_server_rtt`]).
//!
//! Loop invariant: each wake-up handles exactly one of — new settings (a reload), one
//! datagram (stamped on arrival, so the tick never adds to what it measures), or a tick; a
//! tick refreshes the servers from the table once a [`REFRESH`] and then sends every query
//! due. Sessions are locked once per answer and once per refresh, never per game packet.
//!
//! Off by default: querying game servers is the operator's choice (`[proxy.server_probe]`).
//! While off the task only keeps the passive figures of [`ServerProbeStats`] current.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use lightspeed_mesh::dataplane::counters::RTT_BUCKETS;
use lightspeed_mesh::dataplane::io::{DataPlane, bind_udp};
use lightspeed_mesh::dataplane::server_probe::{ProberCounters, ProberSettings, ServerProber};
use lightspeed_mesh::dataplane::table::{Entry, SessionState};
use lightspeed_protocol::SessionId;

/// How often the servers of current sessions are re-read from the table and their estimates
/// rewritten: a new session gets the probed figure within a second.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Answers longer than this are cut: only their first bytes are matched.
const RECV_BUF: usize = 2_048;

/// What `/metrics` shows of server probing; counters are monotonic over reloads.
#[derive(Debug, Default)]
pub struct ServerProbeStats {
    sent: AtomicU64,
    answered: AtomicU64,
    lost: AtomicU64,
    ignored: AtomicU64,
    refused: AtomicU64,
    denied: AtomicU64,
    backoffs: AtomicU64,
    targets: AtomicU64,
    backed_off: AtomicU64,
    probed_sessions: AtomicU64,
    probed_sum_us: AtomicU64,
    passive_sessions: AtomicU64,
    passive_sum_us: AtomicU64,
    rtt_buckets: [AtomicU64; RTT_BUCKETS.len() + 1],
    rtt_sum_us: AtomicU64,
}

/// One reading of [`ServerProbeStats`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerProbeSnapshot {
    /// Counts of every prober this node ran.
    pub counters: ProberCounters,
    /// Servers tracked now.
    pub targets: u64,
    /// Of them, backed off (not answering).
    pub backed_off: u64,
    /// Proxy sessions with a probed server RTT now, and its mean over them (µs).
    pub probed: (u64, Option<u64>),
    /// Proxy sessions with a passive server RTT now, and its mean over them (µs).
    pub passive: (u64, Option<u64>),
    /// Samples per [`RTT_BUCKETS`] bucket (not cumulative; the last is above 1 s).
    pub rtt_buckets: Vec<u64>,
    /// Sum of all samples, seconds.
    pub rtt_sum_seconds: f64,
}

impl ServerProbeStats {
    /// Reads every figure.
    pub fn snapshot(&self) -> ServerProbeSnapshot {
        let mean = |n: &AtomicU64, sum: &AtomicU64| {
            let n = n.load(Relaxed);
            (n, (n > 0).then(|| sum.load(Relaxed) / n))
        };
        ServerProbeSnapshot {
            counters: ProberCounters {
                sent: self.sent.load(Relaxed),
                answered: self.answered.load(Relaxed),
                lost: self.lost.load(Relaxed),
                ignored: self.ignored.load(Relaxed),
                refused: self.refused.load(Relaxed),
                denied: self.denied.load(Relaxed),
                expired: 0,
                backoffs: self.backoffs.load(Relaxed),
            },
            targets: self.targets.load(Relaxed),
            backed_off: self.backed_off.load(Relaxed),
            probed: mean(&self.probed_sessions, &self.probed_sum_us),
            passive: mean(&self.passive_sessions, &self.passive_sum_us),
            rtt_buckets: self.rtt_buckets.iter().map(|b| b.load(Relaxed)).collect(),
            rtt_sum_seconds: self.rtt_sum_us.load(Relaxed) as f64 / 1e6,
        }
    }

    fn sample(&self, rtt_us: u64) {
        let secs = rtt_us as f64 / 1e6;
        let i = RTT_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(RTT_BUCKETS.len());
        if let Some(b) = self.rtt_buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        self.rtt_sum_us.fetch_add(rtt_us, Relaxed);
    }

    /// Publishes the prober's counts on top of `base` (those of earlier probers).
    fn counts(&self, base: ProberCounters, now: ProberCounters) {
        let add = |a: &AtomicU64, x: u64, y: u64| a.store(x.saturating_add(y), Relaxed);
        add(&self.sent, base.sent, now.sent);
        add(&self.answered, base.answered, now.answered);
        add(&self.lost, base.lost, now.lost);
        add(&self.ignored, base.ignored, now.ignored);
        add(&self.refused, base.refused, now.refused);
        add(&self.denied, base.denied, now.denied);
        add(&self.backoffs, base.backoffs, now.backoffs);
    }
}

/// The prober's settings as the operator gives them: `None` is off.
pub type ProbeConfig = Option<ProberSettings>;

/// Starts the task on the current tokio runtime. Queries leave from `bind` (the proxy's
/// `egress_bind`; `None`: the OS picks). New settings sent on `settings`' channel apply at
/// once; the task ends when the sender is dropped.
pub fn spawn(
    dp: Arc<DataPlane>,
    bind: Option<IpAddr>,
    settings: watch::Receiver<ProbeConfig>,
    stats: Arc<ServerProbeStats>,
) -> JoinHandle<()> {
    tokio::spawn(run(dp, bind, settings, stats))
}

fn tick_for(config: &ProbeConfig) -> Duration {
    match config {
        // A tenth of the interval: when a query leaves is late by at most that, never what
        // it measures (answers are stamped on arrival).
        Some(s) => (s.interval / 10).clamp(Duration::from_millis(10), Duration::from_millis(100)),
        None => REFRESH,
    }
}

/// One family's socket: tokio's half for receiving, a clone of the same socket for sending.
/// Sends go straight to the kernel: tokio's `try_send_to` refuses (`WouldBlock`) until the
/// reactor has reported the fresh socket writable, which lost the first query.
struct Socket {
    recv: UdpSocket,
    send: std::net::UdpSocket,
}

impl Socket {
    fn bind(addr: SocketAddr) -> std::io::Result<Socket> {
        let std = bind_udp(addr)?.into_std()?;
        let send = std.try_clone()?;
        Ok(Socket {
            recv: UdpSocket::from_std(std)?,
            send,
        })
    }
}

async fn recv(sock: &Option<Socket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

struct Driver {
    dp: Arc<DataPlane>,
    bind: Option<IpAddr>,
    stats: Arc<ServerProbeStats>,
    prober: Option<ServerProber>,
    base: ProberCounters,
    v4: Option<Socket>,
    v6: Option<Socket>,
    servers: HashMap<SessionId, Option<SocketAddr>>,
    by_server: HashMap<SocketAddr, Vec<Arc<Entry>>>,
    last_refresh: Option<lightspeed_protocol::Micros>,
}

async fn run(
    dp: Arc<DataPlane>,
    bind: Option<IpAddr>,
    mut settings: watch::Receiver<ProbeConfig>,
    stats: Arc<ServerProbeStats>,
) {
    let initial = settings.borrow_and_update().clone();
    let mut tick = tokio::time::interval(tick_for(&initial));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut d = Driver {
        dp,
        bind,
        stats,
        prober: initial.map(ServerProber::new),
        base: ProberCounters::default(),
        v4: None,
        v6: None,
        servers: HashMap::new(),
        by_server: HashMap::new(),
        last_refresh: None,
    };
    let mut buf4 = vec![0u8; RECV_BUF];
    let mut buf6 = vec![0u8; RECV_BUF];
    loop {
        tokio::select! {
            changed = settings.changed() => {
                if changed.is_err() {
                    return;
                }
                let new = settings.borrow_and_update().clone();
                tick = tokio::time::interval(tick_for(&new));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                d.reconfigure(new);
            }
            r = recv(&d.v4, &mut buf4) => {
                if let Ok((n, from)) = r {
                    d.on_datagram(from, buf4.get(..n).unwrap_or_default());
                }
            }
            r = recv(&d.v6, &mut buf6) => {
                if let Ok((n, from)) = r {
                    d.on_datagram(from, buf6.get(..n).unwrap_or_default());
                }
            }
            _ = tick.tick() => d.tick(),
        }
    }
}

impl Driver {
    fn reconfigure(&mut self, new: ProbeConfig) {
        match (new, &mut self.prober) {
            (Some(s), Some(p)) => p.set_settings(s),
            (Some(s), None) => self.prober = Some(ServerProber::new(s)),
            (None, _) => {
                if let Some(p) = self.prober.take() {
                    let c = p.counters();
                    self.base = add_counters(self.base, c);
                }
            }
        }
        tracing::info!(on = self.prober.is_some(), "server probe settings applied");
        // Rewrite every session's figure at once (cleared when probing went off).
        self.last_refresh = None;
        self.tick();
    }

    fn on_datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        let now = self.dp.clock.now();
        let Some(p) = &mut self.prober else {
            return;
        };
        if let Ok(sample) = p.on_reply(now, from, bytes) {
            self.stats.sample(sample.rtt_us);
            for e in self.by_server.get(&sample.target).into_iter().flatten() {
                if let SessionState::Proxy { session, .. } = &mut *e.state.lock() {
                    session.set_probed_server_rtt(Some(sample.srtt_us));
                }
            }
        }
        self.stats.counts(self.base, p.counters());
    }

    fn tick(&mut self) {
        let now = self.dp.clock.now();
        if self
            .last_refresh
            .is_none_or(|t| now.saturating_since(t) >= REFRESH)
        {
            self.last_refresh = Some(now);
            self.refresh(now);
        }
        let Some(p) = &mut self.prober else {
            return;
        };
        let (v4, v6) = (&self.v4, &self.v6);
        p.poll(now, |to, bytes| {
            let sock = if to.is_ipv4() { v4 } else { v6 };
            // A full socket buffer or an unreachable server loses the query, which is
            // what a lost query means.
            if let Some(s) = sock {
                let _ = s.send.send_to(bytes, to);
            }
        });
        self.stats.counts(self.base, p.counters());
    }

    /// Re-reads the proxy sessions' servers, tracks them, and writes each session's figure.
    fn refresh(&mut self, now: lightspeed_protocol::Micros) {
        let entries = self.dp.table.entries();
        self.by_server.clear();
        self.servers
            .retain(|id, _| entries.iter().any(|e| e.id == *id));
        for e in entries {
            let server = *self
                .servers
                .entry(e.id)
                .or_insert_with(|| match &*e.state.lock() {
                    // The egress socket is connected to the session's server: asked once.
                    SessionState::Proxy { egress, .. } => egress.peer_addr().ok(),
                    _ => None,
                });
            if let Some(addr) = server {
                self.by_server.entry(addr).or_default().push(e);
            }
        }
        let (mut probed, mut probed_sum, mut passive, mut passive_sum) = (0u64, 0u64, 0u64, 0u64);
        for (addr, sessions) in &self.by_server {
            let estimate = self.prober.as_mut().and_then(|p| {
                p.touch(now, *addr);
                p.target(*addr)?.fresh_srtt_us()
            });
            for e in sessions {
                if let SessionState::Proxy { session, .. } = &mut *e.state.lock() {
                    session.set_probed_server_rtt(estimate);
                    if let Some(us) = estimate {
                        probed += 1;
                        probed_sum = probed_sum.saturating_add(us);
                    }
                    if let Some(us) = session.server_leg().srtt_us() {
                        passive += 1;
                        passive_sum = passive_sum.saturating_add(us);
                    }
                }
            }
        }
        self.open_sockets();
        let s = &self.stats;
        s.probed_sessions.store(probed, Relaxed);
        s.probed_sum_us.store(probed_sum, Relaxed);
        s.passive_sessions.store(passive, Relaxed);
        s.passive_sum_us.store(passive_sum, Relaxed);
        let (targets, backed_off) = self.prober.as_ref().map_or((0, 0), |p| {
            (
                p.len() as u64,
                p.targets().filter(|t| t.backed_off).count() as u64,
            )
        });
        s.targets.store(targets, Relaxed);
        s.backed_off.store(backed_off, Relaxed);
    }

    /// Binds the socket of each address family a tracked server needs, once.
    fn open_sockets(&mut self) {
        let Some(p) = &self.prober else {
            return;
        };
        let (need4, need6) = p.targets().fold((false, false), |(a, b), t| {
            (a || t.addr.is_ipv4(), b || t.addr.is_ipv6())
        });
        let bind = self.bind;
        let open = |slot: &mut Option<Socket>, unspecified: IpAddr| {
            if slot.is_some() {
                return;
            }
            let ip = match bind {
                None => unspecified,
                Some(ip) if ip.is_ipv4() == unspecified.is_ipv4() => ip,
                // The egress sockets could not reach this family either.
                Some(_) => return,
            };
            match Socket::bind(SocketAddr::new(ip, 0)) {
                Ok(s) => *slot = Some(s),
                Err(e) => tracing::warn!(%ip, error = %e, "server probe socket: bind failed"),
            }
        };
        if need4 {
            open(&mut self.v4, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        }
        if need6 {
            open(&mut self.v6, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        }
    }
}

fn add_counters(a: ProberCounters, b: ProberCounters) -> ProberCounters {
    ProberCounters {
        sent: a.sent + b.sent,
        answered: a.answered + b.answered,
        lost: a.lost + b.lost,
        ignored: a.ignored + b.ignored,
        refused: a.refused + b.refused,
        denied: a.denied + b.denied,
        expired: a.expired + b.expired,
        backoffs: a.backoffs + b.backoffs,
    }
}
