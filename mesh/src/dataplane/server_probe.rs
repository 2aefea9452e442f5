//! Probing the game servers the proxy's sessions talk to (pure): the active half of the
//! server leg's estimate, where the server answers a query (`server_leg.rs` is the passive
//! half, which reads low once the leg is longer than the game's packet interval).
//!
//! [`ServerProber`] keeps a bounded table of servers, fed with the servers of current
//! sessions ([`ServerProber::touch`]): at most [`ProberSettings::max_targets`], further ones
//! refused and counted, servers outside the operator's scope (ports) or refused by the
//! destination policy never taken in. Each server gets one query every
//! [`ProberSettings::interval`], with one outstanding at a time ([`ServerProber::poll`] hands
//! the due ones to the caller's send function from one preallocated buffer). An answer — from
//! the server's address, of the query kind, while a query is outstanding — is one RTT sample
//! ([`ServerProber::on_reply`]), smoothed like `server_leg.rs` (α = 1/8). A query unanswered
//! for [`REPLY_TIMEOUT`] is lost; after [`UNANSWERED_LIMIT`] lost in a row the server is
//! backed off ([`FIRST_BACKOFF`], doubling to [`MAX_BACKOFF`]) so a server that ignores us
//! is not queried every second for ever, and its estimate stops being fresh. A server no
//! session has used for [`IDLE_EXPIRY`] is dropped.
//!
//! Answers carry no request id (A2S has none), so one outstanding query per server is what
//! ties an answer to a query: an answer later than [`REPLY_TIMEOUT`] that arrives after the
//! next query left would be taken for the next one's (a short sample). With a 1 s timeout
//! that needs a server answering more than a second late, which this does not guard against.
//!
//! No allocation per query or answer: the table and its index are sized at construction.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_protocol::Micros;
use lightspeed_protocol::server_query::{
    self, A2S_CHALLENGE_LEN, A2S_INFO_MAX, A2sReply, MAX_QUERY_LEN,
};

use crate::policy::DestinationPolicy;

/// A query unanswered this long is lost: far above any Internet RTT plus a server's turn,
/// and what ties answers to queries (see the module doc).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(1);
/// Lost queries in a row after which a server is backed off: five in a row is not loss (a
/// 5 % lossy path loses five in a row once in 3 million queries), it is a server that does
/// not answer this query.
pub const UNANSWERED_LIMIT: u32 = 5;
/// First wait before a backed-off server is queried again; doubled after every further lost
/// query. A minute costs a silent server one datagram a minute.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);
/// Longest wait between queries to a silent server: it is asked again at least every 16
/// minutes, so a server that starts answering (a restart, a firewall change) is noticed.
pub const MAX_BACKOFF: Duration = Duration::from_secs(960);
/// A server no session has used for this long leaves the table: longer than the session
/// actor's refresh gaps, short enough that a finished match stops being queried at once.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(30);

/// Which query, and what answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeKind {
    /// Valve's A2S_INFO; a challenge the server hands out goes on the next query.
    A2s,
    /// An operator-given query; answers start with `reply_prefix`.
    Udp {
        /// The query's bytes (1..=[`MAX_QUERY_LEN`]).
        payload: Vec<u8>,
        /// What every answer starts with (1..=`MAX_REPLY_PREFIX_LEN`).
        reply_prefix: Vec<u8>,
    },
}

/// How the prober works.
#[derive(Debug, Clone)]
pub struct ProberSettings {
    /// The query.
    pub kind: ProbeKind,
    /// Between two queries to one server.
    pub interval: Duration,
    /// Only servers on these ports are queried; empty: any port.
    pub ports: Vec<u16>,
    /// Most servers tracked at once.
    pub max_targets: usize,
    /// The proxy's destination policy: what it would not send game traffic to, it never
    /// queries.
    pub policy: DestinationPolicy,
}

/// What [`ServerProber::touch`] did with a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Tracked (already, or from now on).
    Tracked,
    /// Its port is outside [`ProberSettings::ports`].
    OutOfScope,
    /// The destination policy refuses it.
    Denied,
    /// The table is full.
    Refused,
}

/// Why an incoming datagram was not a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// Not from a tracked server.
    UnknownSource,
    /// From a tracked server but not an answer of the query kind.
    NotAnAnswer,
    /// An answer with no query outstanding (late, or a second datagram of one answer).
    NotOutstanding,
}

/// One RTT sample taken from an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The server.
    pub target: SocketAddr,
    /// This answer's RTT, µs.
    pub rtt_us: u64,
    /// The server's smoothed RTT with this sample, µs.
    pub srtt_us: u64,
}

/// A server's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetView {
    /// The server.
    pub addr: SocketAddr,
    /// Smoothed RTT, µs; `None` before the first answer.
    pub srtt_us: Option<u64>,
    /// Smallest sample, µs.
    pub min_us: Option<u64>,
    /// Queries sent.
    pub sent: u64,
    /// Queries answered.
    pub answered: u64,
    /// Backed off: it stopped answering, and is queried rarely.
    pub backed_off: bool,
}

impl TargetView {
    /// The smoothed RTT while it is current: answered, and not backed off since.
    pub fn fresh_srtt_us(&self) -> Option<u64> {
        self.srtt_us.filter(|_| !self.backed_off)
    }
}

/// Counts since the prober was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProberCounters {
    /// Queries handed to the send function.
    pub sent: u64,
    /// Answers taken as samples.
    pub answered: u64,
    /// Queries lost (no answer within [`REPLY_TIMEOUT`]).
    pub lost: u64,
    /// Datagrams that were not samples.
    pub ignored: u64,
    /// Servers refused because the table was full (per touch).
    pub refused: u64,
    /// Servers refused by the destination policy (per touch).
    pub denied: u64,
    /// Servers dropped after [`IDLE_EXPIRY`] unused.
    pub expired: u64,
    /// Times a server was backed off or its backoff doubled.
    pub backoffs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Target {
    addr: SocketAddr,
    last_used: Micros,
    next_query: Micros,
    outstanding: Option<Micros>,
    challenge: Option<[u8; A2S_CHALLENGE_LEN]>,
    srtt_us: u64,
    min_us: Option<u64>,
    sent: u64,
    answered: u64,
    lost_in_row: u32,
    backoff: Option<Duration>,
}

impl Target {
    fn view(&self) -> TargetView {
        TargetView {
            addr: self.addr,
            srtt_us: (self.answered > 0).then_some(self.srtt_us),
            min_us: self.min_us,
            sent: self.sent,
            answered: self.answered,
            backed_off: self.backoff.is_some(),
        }
    }
}

/// The prober's state (see the module doc).
#[derive(Debug)]
pub struct ServerProber {
    settings: ProberSettings,
    targets: Vec<Target>,
    index: HashMap<SocketAddr, usize>,
    buf: [u8; MAX_QUERY_LEN],
    counters: ProberCounters,
}

impl ServerProber {
    /// An empty prober.
    pub fn new(settings: ProberSettings) -> ServerProber {
        let cap = settings.max_targets;
        ServerProber {
            settings,
            targets: Vec::with_capacity(cap),
            index: HashMap::with_capacity(cap),
            buf: [0; MAX_QUERY_LEN],
            counters: ProberCounters::default(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &ProberSettings {
        &self.settings
    }

    /// Takes new settings (a config reload). A new kind forgets every estimate and
    /// outstanding query (answers of the old kind must not time the new one); otherwise the
    /// table stays, trimmed to the new scope, policy and size.
    pub fn set_settings(&mut self, settings: ProberSettings) {
        let same_kind = settings.kind == self.settings.kind;
        self.settings = settings;
        if !same_kind {
            self.targets.clear();
        }
        let s = &self.settings;
        self.targets
            .retain(|t| in_ports(&s.ports, t.addr) && s.policy.check(t.addr).is_ok());
        self.targets.truncate(s.max_targets);
        if self.targets.capacity() < s.max_targets {
            self.targets
                .reserve_exact(s.max_targets - self.targets.len());
        }
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, t) in self.targets.iter().enumerate() {
            self.index.insert(t.addr, i);
        }
    }

    /// A session uses `addr` at `now`: tracks it if it is in scope and there is room. A new
    /// server is queried at the next [`ServerProber::poll`].
    pub fn touch(&mut self, now: Micros, addr: SocketAddr) -> Touch {
        if let Some(t) = self.index.get(&addr).and_then(|&i| self.targets.get_mut(i)) {
            t.last_used = now;
            return Touch::Tracked;
        }
        if !in_ports(&self.settings.ports, addr) {
            return Touch::OutOfScope;
        }
        if self.settings.policy.check(addr).is_err() {
            self.counters.denied += 1;
            return Touch::Denied;
        }
        if self.targets.len() >= self.settings.max_targets {
            self.counters.refused += 1;
            return Touch::Refused;
        }
        self.index.insert(addr, self.targets.len());
        self.targets.push(Target {
            addr,
            last_used: now,
            next_query: now,
            outstanding: None,
            challenge: None,
            srtt_us: 0,
            min_us: None,
            sent: 0,
            answered: 0,
            lost_in_row: 0,
            backoff: None,
        });
        Touch::Tracked
    }

    /// Drops idle servers, settles lost queries, and hands every due query to `send` (the
    /// server and the bytes to send it, valid for the call).
    pub fn poll(&mut self, now: Micros, mut send: impl FnMut(SocketAddr, &[u8])) {
        let before = self.targets.len();
        self.targets
            .retain(|t| now.saturating_since(t.last_used) < IDLE_EXPIRY);
        if self.targets.len() != before {
            self.counters.expired += (before - self.targets.len()) as u64;
            self.reindex();
        }
        let interval = self.settings.interval;
        for t in &mut self.targets {
            if let Some(sent) = t.outstanding
                && now.saturating_since(sent) >= REPLY_TIMEOUT
            {
                t.outstanding = None;
                self.counters.lost += 1;
                t.lost_in_row = t.lost_in_row.saturating_add(1);
                if t.lost_in_row >= UNANSWERED_LIMIT {
                    let wait = t
                        .backoff
                        .map_or(FIRST_BACKOFF, |b| b.saturating_mul(2))
                        .min(MAX_BACKOFF);
                    t.backoff = Some(wait);
                    t.next_query = sent + wait;
                    self.counters.backoffs += 1;
                }
            }
            if t.outstanding.is_some() || now < t.next_query {
                continue;
            }
            let len = match &self.settings.kind {
                ProbeKind::A2s => {
                    let out = self.buf.get_mut(..A2S_INFO_MAX).unwrap_or_default();
                    server_query::write_a2s_info(t.challenge, out)
                }
                ProbeKind::Udp { payload, .. } => match self.buf.get_mut(..payload.len()) {
                    Some(dst) => {
                        dst.copy_from_slice(payload);
                        payload.len()
                    }
                    None => 0,
                },
            };
            let Some(bytes) = self.buf.get(..len).filter(|b| !b.is_empty()) else {
                continue;
            };
            send(t.addr, bytes);
            t.outstanding = Some(now);
            t.sent += 1;
            self.counters.sent += 1;
            if t.backoff.is_none() {
                t.next_query = now + interval;
            }
        }
    }

    /// A datagram from `from` arrived at `now` on the prober's socket: an answer to the
    /// server's outstanding query yields a sample. Any bytes are safe.
    pub fn on_reply(
        &mut self,
        now: Micros,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<Sample, Ignored> {
        let result = self.take_reply(now, from, bytes);
        match result {
            Ok(_) => self.counters.answered += 1,
            Err(_) => self.counters.ignored += 1,
        }
        result
    }

    fn take_reply(
        &mut self,
        now: Micros,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<Sample, Ignored> {
        let t = self
            .index
            .get(&from)
            .and_then(|&i| self.targets.get_mut(i))
            .ok_or(Ignored::UnknownSource)?;
        let challenge = match &self.settings.kind {
            ProbeKind::A2s => match server_query::parse_a2s_reply(bytes) {
                Ok(A2sReply::Challenge(c)) => Some(c),
                Ok(_) => None,
                Err(_) => return Err(Ignored::NotAnAnswer),
            },
            ProbeKind::Udp { reply_prefix, .. } => {
                if !server_query::matches_prefix(reply_prefix, bytes) {
                    return Err(Ignored::NotAnAnswer);
                }
                None
            }
        };
        let sent = t.outstanding.take().ok_or(Ignored::NotOutstanding)?;
        if challenge.is_some() {
            t.challenge = challenge;
        }
        let rtt_us = u64::try_from(now.saturating_since(sent).as_micros()).unwrap_or(u64::MAX);
        t.srtt_us = if t.answered == 0 {
            rtt_us
        } else {
            (t.srtt_us.saturating_mul(7).saturating_add(rtt_us)) / 8
        };
        t.min_us = Some(t.min_us.map_or(rtt_us, |m| m.min(rtt_us)));
        t.answered += 1;
        t.lost_in_row = 0;
        if t.backoff.take().is_some() {
            // Answering again: back to the normal rhythm from this answer.
            t.next_query = sent + self.settings.interval;
        }
        Ok(Sample {
            target: t.addr,
            rtt_us,
            srtt_us: t.srtt_us,
        })
    }

    /// The figures of `addr`, if tracked.
    pub fn target(&self, addr: SocketAddr) -> Option<TargetView> {
        let i = *self.index.get(&addr)?;
        self.targets.get(i).map(Target::view)
    }

    /// Every tracked server's figures, in table order.
    pub fn targets(&self) -> impl Iterator<Item = TargetView> + '_ {
        self.targets.iter().map(Target::view)
    }

    /// Servers tracked.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when no server is tracked.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Counts so far.
    pub fn counters(&self) -> ProberCounters {
        self.counters
    }
}

fn in_ports(ports: &[u16], addr: SocketAddr) -> bool {
    ports.is_empty() || ports.contains(&addr.port())
}

#[cfg(test)]
#[path = "server_probe_tests.rs"]
mod tests;
