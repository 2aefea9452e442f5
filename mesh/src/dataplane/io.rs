//! The packet loops: tokio tasks that pump batched sockets through the pure session cores.
//!
//! - the **data loop** reads the node's data socket (port 4434): parse → table lookup →
//!   verify MAC → the session's role logic → batched sends;
//! - a **redirect loop** per edge redirect socket reads the game's datagrams;
//! - an **egress loop** per proxy session reads the game server's replies;
//! - the **timer loop** polls sessions with due timers (Bind retries, keepalives, FEC
//!   deadlines, dead-path detection).
//!
//! None of them touches an actor mailbox: they read the shared [`SessionTable`] and report the
//! rare events (a new game flow, a path that died, a close) on a bounded channel with
//! `try_send`, so a slow actor can never stall forwarding.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::RwLock;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use lightspeed_protocol::fec::MAX_DATA_PAYLOAD;
use lightspeed_protocol::header::{self, DecodeError};
use lightspeed_protocol::{SessionId, SessionKey};

use super::batch_io::{RecvBatch, SendBatch};
use super::edge::{EdgeEvent, EdgeSession};
use super::limiter::SourceLimiter;
use super::link_probe::{self, LinkProbes};
use super::liveness::FailoverRecord;
use super::proxy::{ProxyEvent, ProxySession};
use super::relay::RelayState;
use super::sink::{Local, Sink, flush};
use super::table::{Clock, Entry, SessionState, SessionTable, TableError};
use super::{Counters, Direction, DropReason};

/// Socket buffer size asked of the kernel for data-plane sockets: 4 MiB absorbs ~3,000
/// full-size packets of burst, ~25 ms at 1 Gbit/s, without dropping while a loop is scheduled
/// out. The kernel caps it at `net.core.{r,w}mem_max`.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// Events for the session actor. Sent with `try_send`: a full channel drops the event (the
/// state that caused it is re-detected on the next packet or timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataEvent {
    /// A game client the edge has no session for yet.
    NewFlow {
        /// Redirect socket index.
        redirect: usize,
        /// Game client address.
        client: SocketAddr,
    },
    /// An edge session's BindAck arrived.
    Bound(SessionId),
    /// No path of an edge session answered for its `dead_after`.
    PathDead(SessionId),
    /// An edge session's active path went silent and its game data moved to the standby.
    PathSwitched {
        /// The session.
        session: SessionId,
        /// The silent path id.
        from: u8,
        /// The path id now carrying the game.
        to: u8,
        /// From the last packet heard on `from` to the declaration.
        detect: Duration,
    },
    /// The first game packet came back on the path a failover moved to.
    FailedOver {
        /// The session.
        session: SessionId,
        /// The path now carrying the game.
        path: u8,
        /// Detection and total time, from the last packet heard on the old path.
        record: FailoverRecord,
    },
    /// An edge session's failover was undone: the path it left delivered again at once.
    SwitchUndone {
        /// The session.
        session: SessionId,
        /// The path carrying the game again.
        path: u8,
    },
    /// An edge session's standby path bound.
    StandbyBound {
        /// The session.
        session: SessionId,
        /// The standby's path id.
        path: u8,
    },
    /// The peer closed the session (it is already removed from the table).
    Closed(SessionId),
}

/// A node's data plane: its sockets, table and counters.
pub struct DataPlane {
    /// The session table.
    pub table: Arc<SessionTable>,
    /// Counters.
    pub counters: Arc<Counters>,
    /// The node clock all cores are fed from.
    pub clock: Clock,
    socket: Arc<UdpSocket>,
    redirects: RwLock<Vec<Arc<UdpSocket>>>,
    tasks: DashMap<SessionId, AbortHandle>,
    events: mpsc::Sender<DataEvent>,
    source_pps: std::sync::atomic::AtomicU32,
    link_probes: std::sync::OnceLock<Arc<LinkProbes>>,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("local_addr", &self.socket.local_addr().ok())
            .field("sessions", &self.table.len())
            .finish_non_exhaustive()
    }
}

/// Binds a non-blocking UDP socket with large buffers, for tokio.
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Buffer sizes are a request; a smaller kernel maximum is not an error.
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

fn decode_reason(e: DecodeError) -> DropReason {
    match e {
        DecodeError::Truncated { .. } => DropReason::Truncated,
        DecodeError::TooLong { .. } => DropReason::TooLong,
        DecodeError::UnsupportedVersion { .. } => DropReason::BadVersion,
        DecodeError::UnknownType { .. } => DropReason::UnknownType,
        DecodeError::BadLength { .. } => DropReason::BadLength,
        DecodeError::BadFecField { .. } => DropReason::BadFecField,
        DecodeError::ZeroSession => DropReason::ZeroSession,
        _ => DropReason::BadMac,
    }
}

impl DataPlane {
    /// Binds the data socket. Events go to `events`.
    pub fn bind(
        addr: SocketAddr,
        table: Arc<SessionTable>,
        counters: Arc<Counters>,
        clock: Clock,
        events: mpsc::Sender<DataEvent>,
    ) -> io::Result<Arc<DataPlane>> {
        Ok(Arc::new(DataPlane {
            table,
            counters,
            clock,
            socket: Arc::new(bind_udp(addr)?),
            redirects: RwLock::new(Vec::new()),
            tasks: DashMap::new(),
            events,
            source_pps: std::sync::atomic::AtomicU32::new(0),
            link_probes: std::sync::OnceLock::new(),
        }))
    }

    /// The data socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Limits every source address to `pps` bad packets (failing parsing, lookup or MAC) per
    /// second on the data socket (0: off); a source over it is dropped before any parsing or
    /// MAC work. Takes effect at [`DataPlane::start`].
    pub fn set_source_limit(&self, pps: u32) {
        self.source_pps
            .store(pps, std::sync::atomic::Ordering::Relaxed);
    }

    /// Answers link probes sealed with `probes`' key and hands replies to our probes to it
    /// (see [`link_probe`]). Set once; without it link probes are dropped as unknown sessions.
    pub fn set_link_probes(&self, probes: Arc<LinkProbes>) {
        let _ = self.link_probes.set(probes);
    }

    /// Starts the data loop and the timer loop.
    pub fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            tokio::spawn(Arc::clone(self).data_loop()),
            tokio::spawn(Arc::clone(self).timer_loop()),
        ]
    }

    /// Opens an edge redirect socket on `listen` and starts its loop; returns its index and
    /// bound address.
    pub fn add_redirect(
        self: &Arc<Self>,
        listen: SocketAddr,
    ) -> io::Result<(usize, SocketAddr, tokio::task::JoinHandle<()>)> {
        let sock = Arc::new(bind_udp(listen)?);
        let local = sock.local_addr()?;
        let idx = {
            let mut r = self.redirects.write();
            r.push(Arc::clone(&sock));
            r.len() - 1
        };
        let task = tokio::spawn(Arc::clone(self).redirect_loop(idx, sock));
        Ok((idx, local, task))
    }

    /// The redirect socket with this index.
    pub fn redirect(&self, idx: usize) -> Option<Arc<UdpSocket>> {
        self.redirects.read().get(idx).cloned()
    }

    /// Installs an edge session for the flow `(redirect, client)` and feeds it the game
    /// datagrams held while it was being set up (they wait inside the session until the
    /// BindAck).
    pub fn install_edge(
        &self,
        id: SessionId,
        key: SessionKey,
        session: EdgeSession,
        redirect: usize,
        client: SocketAddr,
    ) -> Result<(), TableError> {
        let entry = Entry::new(
            id,
            key,
            SessionState::Edge {
                session: Box::new(session),
                game_client: client,
                redirect,
            },
        );
        self.table.insert(Arc::clone(&entry))?;
        let held = self.table.activate_flow((redirect, client), id);
        let mut sb = SendBatch::default();
        let mut state = entry.state.lock();
        if let (SessionState::Edge { session, .. }, Some(sock)) =
            (&mut *state, self.redirect(redirect))
        {
            let mut sink = self.sink(
                &mut sb,
                &entry.key,
                Direction::Upstream,
                Local::Game(&sock, client),
            );
            let now = self.clock.now();
            for (held_at, payload) in &held {
                // Stamped with their arrival, so the session drops any that grow too old
                // before the BindAck.
                if let Err(reason) = session.from_game(*held_at, payload, &mut sink) {
                    self.counters.dropped(reason);
                }
            }
            // The first Bind goes out now rather than at the next timer tick.
            let event = session.poll(now, &mut sink);
            self.edge_event(id, event);
        }
        entry.set_next_timer(&state);
        drop(state);
        flush(&mut sb, self.fd(), &self.counters);
        Ok(())
    }

    /// Installs a proxy session with its connected egress socket and starts its egress loop.
    pub fn install_proxy(
        self: &Arc<Self>,
        id: SessionId,
        key: SessionKey,
        session: ProxySession,
        egress: Arc<UdpSocket>,
    ) -> Result<(), TableError> {
        let entry = Entry::new(
            id,
            key,
            SessionState::Proxy {
                session: Box::new(session),
                egress: Arc::clone(&egress),
            },
        );
        self.table.insert(entry)?;
        self.start_egress(id, egress);
        Ok(())
    }

    /// Installs a relay transit entry. For a session this relay already forwards with the
    /// same key, the entry's upstream is replaced instead (the proxy re-installed the path).
    pub fn install_relay(
        &self,
        id: SessionId,
        key: SessionKey,
        relay: RelayState,
    ) -> Result<(), TableError> {
        if let Some(entry) = self.table.get(id)
            && entry.key == key
            && let SessionState::Relay(existing) = &mut *entry.state.lock()
        {
            existing.set_upstream(relay.upstream());
            return Ok(());
        }
        self.table
            .insert(Entry::new(id, key, SessionState::Relay(relay)))
    }

    /// Sets the topology's loss figure for path `path` of edge session `id` as the prior of
    /// its probe loss (`EdgeSession::set_path_loss_prior`). False when there is no such edge
    /// session or path.
    pub fn set_path_loss_prior(&self, id: SessionId, path: u8, ppm: Option<u32>) -> bool {
        let Some(entry) = self.table.get(id) else {
            return false;
        };
        let mut state = entry.state.lock();
        match &mut *state {
            SessionState::Edge { session, .. } => session.set_path_loss_prior(path, ppm),
            _ => false,
        }
    }

    /// Gives an edge session a standby path `path` through `first_hop`; it binds at once.
    /// False when the session is not an edge session here or `path` is its active path.
    pub fn set_standby(&self, id: SessionId, path: u8, first_hop: SocketAddr) -> bool {
        let Some(entry) = self.table.get(id) else {
            return false;
        };
        let mut sb = SendBatch::default();
        let mut state = entry.state.lock();
        let SessionState::Edge {
            session,
            game_client,
            redirect,
        } = &mut *state
        else {
            return false;
        };
        let now = self.clock.now();
        if !session.set_standby(path, first_hop, now) {
            return false;
        }
        if let Some(sock) = self.redirect(*redirect) {
            let mut sink = self.sink(
                &mut sb,
                &entry.key,
                Direction::Upstream,
                Local::Game(&sock, *game_client),
            );
            let event = session.poll(now, &mut sink);
            self.edge_event(id, event);
        }
        entry.set_next_timer(&state);
        drop(state);
        flush(&mut sb, self.fd(), &self.counters);
        true
    }

    /// Moves an edge session's game traffic to its bound standby `path`
    /// ([`crate::dataplane::edge::EdgeSession::switch_to`]). False when the session is not an
    /// edge session here or the path is not a bound, answering standby.
    pub fn switch_path(&self, id: SessionId, path: u8) -> bool {
        let Some(entry) = self.table.get(id) else {
            return false;
        };
        let mut state = entry.state.lock();
        let SessionState::Edge { session, .. } = &mut *state else {
            return false;
        };
        let switched = session.switch_to(path, self.clock.now());
        entry.set_next_timer(&state);
        switched
    }

    /// Reports what an edge session's core said, if the session actor must know.
    fn edge_event(&self, id: SessionId, event: EdgeEvent) {
        let e = match event {
            EdgeEvent::None | EdgeEvent::Closed => return,
            EdgeEvent::Bound => DataEvent::Bound(id),
            EdgeEvent::PathDead => DataEvent::PathDead(id),
            EdgeEvent::StandbyBound(path) => DataEvent::StandbyBound { session: id, path },
            EdgeEvent::SwitchUndone { to } => DataEvent::SwitchUndone {
                session: id,
                path: to,
            },
            EdgeEvent::Switched { from, to, detect } => DataEvent::PathSwitched {
                session: id,
                from,
                to,
                detect,
            },
            EdgeEvent::FailedOver { to, record } => DataEvent::FailedOver {
                session: id,
                path: to,
                record,
            },
        };
        self.emit(e);
    }

    /// Starts the egress loop of a proxy session whose entry is in the table.
    fn start_egress(self: &Arc<Self>, id: SessionId, egress: Arc<UdpSocket>) {
        let task = tokio::spawn(Arc::clone(self).egress_loop(id, egress));
        self.tasks.insert(id, task.abort_handle());
    }

    /// Removes a session and stops its egress loop.
    pub fn remove_session(&self, id: SessionId) -> bool {
        if let Some((_, task)) = self.tasks.remove(&id) {
            task.abort();
        }
        self.table.remove(id).is_some()
    }

    /// Closes a session this node terminates (edge or proxy): sends an authenticated Close
    /// to the peer, then removes it. Relay entries are just removed.
    pub fn close_session(&self, id: SessionId) -> bool {
        let Some(entry) = self.table.get(id) else {
            return false;
        };
        let mut sb = SendBatch::default();
        {
            let mut state = entry.state.lock();
            let now = self.clock.now();
            let (endpoint, local) = match &mut *state {
                SessionState::Edge {
                    session,
                    game_client,
                    redirect,
                } => match self.redirect(*redirect) {
                    Some(sock) => (&mut session.endpoint, Some((sock, *game_client))),
                    None => (&mut session.endpoint, None),
                },
                SessionState::Proxy { session, .. } => (&mut session.endpoint, None),
                SessionState::Relay(_) => {
                    drop(state);
                    return self.remove_session(id);
                }
            };
            // The local side is irrelevant for a Close; any socket satisfies the sink.
            let fallback = Arc::clone(&self.socket);
            let (sock, to) = local.unwrap_or((
                fallback,
                endpoint.peer().unwrap_or(([0, 0, 0, 0], 0).into()),
            ));
            let mut sink = self.sink(
                &mut sb,
                &entry.key,
                Direction::Upstream,
                Local::Game(&sock, to),
            );
            endpoint.send_control(
                now,
                lightspeed_protocol::header::PacketType::Close,
                &[],
                &mut sink,
            );
        }
        flush(&mut sb, self.fd(), &self.counters);
        self.remove_session(id)
    }

    /// Removes every session idle for `timeout` (no authenticated packet), returning their ids.
    pub fn expire_idle(&self, timeout: Duration) -> Vec<SessionId> {
        let now = self.clock.now();
        let idle = |last: lightspeed_protocol::Micros| now.saturating_since(last) >= timeout;
        let gone = self.table.expire(|state| match state {
            SessionState::Edge { session, .. } => idle(session.endpoint.last_seen()),
            SessionState::Proxy { session, .. } => idle(session.endpoint.last_seen()),
            SessionState::Relay(relay) => idle(relay.last_seen()),
        });
        gone.iter()
            .map(|e| {
                if let Some((_, task)) = self.tasks.remove(&e.id) {
                    task.abort();
                }
                e.id
            })
            .collect()
    }

    /// Sends a packet the caller sealed (control-plane initiated packets such as a Close).
    pub fn send_raw(&self, to: SocketAddr, bytes: &[u8]) -> io::Result<usize> {
        self.socket.try_send_to(bytes, to)
    }

    fn sink<'a>(
        &'a self,
        batch: &'a mut SendBatch,
        key: &'a SessionKey,
        towards_peer: Direction,
        local: Local<'a>,
    ) -> Sink<'a> {
        Sink {
            batch,
            fd: self.fd(),
            key,
            counters: &self.counters,
            towards_peer,
            local,
        }
    }

    fn emit(&self, event: DataEvent) {
        let _ = self.events.try_send(event);
    }

    async fn data_loop(self: Arc<Self>) {
        let mut rb = RecvBatch::default();
        let mut sb = SendBatch::default();
        let fd = self.fd();
        let mut sources = SourceLimiter::new(
            self.source_pps.load(std::sync::atomic::Ordering::Relaxed),
            self.clock.now(),
        );
        loop {
            if self.socket.readable().await.is_err() {
                return;
            }
            let n = match self.socket.try_io(Interest::READABLE, || rb.recv(fd)) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // ICMP errors surface here (ECONNREFUSED from an earlier send); not fatal.
                Err(_) => continue,
            };
            let now = self.clock.now();
            for i in 0..n {
                if let Some((bytes, from)) = rb.get(i) {
                    if !sources.allow(from.ip(), now) {
                        self.counters.dropped(DropReason::SourceRateLimited);
                        continue;
                    }
                    if !self.on_datagram(now, bytes, from, &mut sb) {
                        sources.charge(from.ip(), now);
                    }
                }
            }
            flush(&mut sb, fd, &self.counters);
        }
    }

    fn on_datagram(
        &self,
        now: lightspeed_protocol::Micros,
        bytes: &[u8],
        from: SocketAddr,
        sb: &mut SendBatch,
    ) -> bool {
        let c = &*self.counters;
        let unverified = match header::parse(bytes) {
            Ok(u) => u,
            Err(e) => {
                c.dropped(decode_reason(e));
                return false;
            }
        };
        if link_probe::is_link_probe(unverified.session()) {
            let Some(probes) = self.link_probes.get() else {
                c.dropped(DropReason::UnknownSession);
                return false;
            };
            if sb.is_full() {
                flush(sb, self.fd(), c);
            }
            return probes.on_packet(now, unverified, from, sb, c);
        }
        let Some(entry) = self.table.get(unverified.session()) else {
            c.dropped(DropReason::UnknownSession);
            return false;
        };
        let packet = match unverified.verify(&entry.key) {
            Ok(p) => p,
            Err(_) => {
                c.dropped(DropReason::BadMac);
                return false;
            }
        };
        let fd = self.fd();
        let mut state = entry.state.lock();
        let mut closed = false;
        match &mut *state {
            SessionState::Relay(relay) => match relay.on_packet(now, from, &packet.header) {
                Ok(to) => {
                    if sb.is_full() {
                        flush(sb, fd, c);
                    }
                    if let Some(slot) = sb.slot(to) {
                        slot[..bytes.len()].copy_from_slice(bytes);
                        sb.commit(bytes.len());
                        let dir = if from == relay.upstream() {
                            Direction::Downstream
                        } else {
                            Direction::Upstream
                        };
                        c.packet(dir, bytes.len());
                    }
                    closed =
                        packet.header.packet_type == lightspeed_protocol::header::PacketType::Close;
                }
                Err(reason) => c.dropped(reason),
            },
            SessionState::Proxy { session, egress } => {
                let mut sink =
                    self.sink(sb, &entry.key, Direction::Downstream, Local::Server(egress));
                match session.on_packet(now, from, &packet, &mut sink) {
                    Ok(ProxyEvent::Closed) => closed = true,
                    Ok(ProxyEvent::None) => {}
                    Err(reason) => c.dropped(reason),
                }
            }
            SessionState::Edge {
                session,
                game_client,
                redirect,
            } => {
                let Some(sock) = self.redirect(*redirect) else {
                    c.dropped(DropReason::SendFailed);
                    return true;
                };
                let mut sink = self.sink(
                    sb,
                    &entry.key,
                    Direction::Upstream,
                    Local::Game(&sock, *game_client),
                );
                match session.on_packet(now, from, &packet, &mut sink) {
                    Ok(EdgeEvent::Closed) => closed = true,
                    Ok(event) => self.edge_event(entry.id, event),
                    Err(reason) => c.dropped(reason),
                }
            }
        }
        entry.set_next_timer(&state);
        drop(state);
        if closed {
            self.remove_session(entry.id);
            self.emit(DataEvent::Closed(entry.id));
        }
        true
    }

    async fn redirect_loop(self: Arc<Self>, idx: usize, sock: Arc<UdpSocket>) {
        let mut rb = RecvBatch::default();
        let mut sb = SendBatch::default();
        let rfd = sock.as_raw_fd();
        let fd = self.fd();
        loop {
            if sock.readable().await.is_err() {
                return;
            }
            let n = match sock.try_io(Interest::READABLE, || rb.recv(rfd)) {
                Ok(n) => n,
                Err(_) => continue,
            };
            let now = self.clock.now();
            for i in 0..n {
                let Some((payload, client)) = rb.get(i) else {
                    continue;
                };
                self.on_game_datagram(now, idx, &sock, payload, client, &mut sb);
            }
            flush(&mut sb, fd, &self.counters);
        }
    }

    fn on_game_datagram(
        &self,
        now: lightspeed_protocol::Micros,
        idx: usize,
        sock: &UdpSocket,
        payload: &[u8],
        client: SocketAddr,
        sb: &mut SendBatch,
    ) {
        let c = &*self.counters;
        if payload.is_empty() || payload.len() > MAX_DATA_PAYLOAD {
            return c.dropped(DropReason::TooLong);
        }
        let key = (idx, client);
        let Some(entry) = self
            .table
            .flow_session(&key)
            .and_then(|id| self.table.get(id))
        else {
            match self.table.hold_pending(key, payload, now) {
                Ok(true) => {
                    if self
                        .events
                        .try_send(DataEvent::NewFlow {
                            redirect: idx,
                            client,
                        })
                        .is_err()
                    {
                        self.table.drop_flow(&key);
                        c.dropped(DropReason::TableFull);
                    }
                }
                Ok(false) => {}
                Err(TableError::Backoff) => c.dropped(DropReason::FlowRefused),
                Err(_) => c.dropped(DropReason::FlowPending),
            }
            return;
        };
        let mut state = entry.state.lock();
        if let SessionState::Edge { session, .. } = &mut *state {
            let mut sink = self.sink(
                sb,
                &entry.key,
                Direction::Upstream,
                Local::Game(sock, client),
            );
            match session.from_game(now, payload, &mut sink) {
                Ok(event) => self.edge_event(entry.id, event),
                Err(reason) => c.dropped(reason),
            }
        }
        entry.set_next_timer(&state);
    }

    async fn egress_loop(self: Arc<Self>, id: SessionId, egress: Arc<UdpSocket>) {
        let mut buf = vec![0u8; MAX_DATA_PAYLOAD + 1];
        let mut sb = SendBatch::default();
        let fd = self.fd();
        loop {
            let n = match egress.recv(&mut buf).await {
                Ok(n) => n,
                // ICMP port unreachable from the game server surfaces as ECONNREFUSED.
                Err(_) => continue,
            };
            if n > MAX_DATA_PAYLOAD {
                self.counters.dropped(DropReason::TooLong);
                continue;
            }
            let Some(entry) = self.table.get(id) else {
                return;
            };
            let now = self.clock.now();
            {
                let mut state = entry.state.lock();
                if let SessionState::Proxy { session, egress } = &mut *state {
                    let mut sink = self.sink(
                        &mut sb,
                        &entry.key,
                        Direction::Downstream,
                        Local::Server(egress),
                    );
                    session.from_server(now, &buf[..n], &mut sink);
                }
                entry.set_next_timer(&state);
            }
            flush(&mut sb, fd, &self.counters);
        }
    }

    async fn timer_loop(self: Arc<Self>) {
        // 1 ms resolution while sessions have timers (FEC group deadlines are a few ms,
        // keepalives hundreds); an idle node (a relay has no timed sessions) checks back every
        // 50 ms instead of waking a thousand times a second. New sessions send their first
        // packets from `install_edge`, so nothing waits for this loop to wake.
        let mut sb = SendBatch::default();
        let mut due = Vec::new();
        let fd = self.fd();
        loop {
            let period = if self.table.has_timed() { 1 } else { 50 };
            tokio::time::sleep(Duration::from_millis(period)).await;
            let now = self.clock.now();
            self.table.timed_due(now, &mut due);
            for entry in due.drain(..) {
                let mut state = entry.state.lock();
                match &mut *state {
                    SessionState::Edge {
                        session,
                        game_client,
                        redirect,
                    } => {
                        let Some(sock) = self.redirect(*redirect) else {
                            continue;
                        };
                        let mut sink = self.sink(
                            &mut sb,
                            &entry.key,
                            Direction::Upstream,
                            Local::Game(&sock, *game_client),
                        );
                        let event = session.poll(now, &mut sink);
                        self.edge_event(entry.id, event);
                    }
                    SessionState::Proxy { session, egress } => {
                        let mut sink = self.sink(
                            &mut sb,
                            &entry.key,
                            Direction::Downstream,
                            Local::Server(egress),
                        );
                        session.poll(now, &mut sink);
                    }
                    SessionState::Relay(_) => {}
                }
                entry.set_next_timer(&state);
            }
            flush(&mut sb, fd, &self.counters);
        }
    }
}
