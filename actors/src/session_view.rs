//! The node's sessions as operators see them: the rows of `GET /api/sessions`, the aggregates
//! `/metrics` exports, and the summary logged when a session ends.
//!
//! [`SessionBook`] is a shared record per session, written by the actors (the session actor
//! registers a session when it installs it; the FecActor refreshes its figures once a second
//! from the data plane and the peer's reports and notices its end) and read by the admin
//! API. Hooks for other work: [`SessionBook::path_switched`] (path changes and failovers) and
//! [`SessionBook::set_direct_rtt`] (the direct edge → proxy RTT measured in the session).
//!
//! The JSON rows and the summary line are built in `session_rows.rs`.
//!
//! Bounds: one record per session in the data-plane table (itself bounded by
//! `limits.max_sessions`), each with at most [`MAX_SCHEMES_USED`] schemes remembered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use lightspeed_mesh::dataplane::table::Clock;
use lightspeed_protocol::control::LinkReport;
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{Micros, SessionId};
use parking_lot::RwLock;

use crate::health::SessionHealth;

pub use crate::session_rows::{DirectionRow, FecRow, SessionRow, log_summary, row};

/// Distinct schemes remembered per session for its summary; later ones are not listed (the
/// change counter still counts them).
pub const MAX_SCHEMES_USED: usize = 8;

/// Which end of the session this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionRole {
    /// The player's side.
    Edge,
    /// The egress towards the game server.
    Proxy,
}

impl SessionRole {
    /// `edge` or `proxy`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionRole::Edge => "edge",
            SessionRole::Proxy => "proxy",
        }
    }
}

/// Everything known about one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// The session.
    pub id: SessionId,
    /// This node's end.
    pub role: SessionRole,
    /// Node names from edge to proxy. At a proxy the edge has no mesh name; its entry is its
    /// control-connection address.
    pub path: Vec<String>,
    /// When it was installed (node clock).
    pub started: Micros,
    /// The FEC scheme in use.
    pub fec: FecScheme,
    /// Scheme changes so far.
    pub fec_changes: u32,
    /// When the scheme last changed.
    pub last_fec_change: Option<Micros>,
    /// Distinct schemes used, in order of first use (at most [`MAX_SCHEMES_USED`]).
    pub schemes_used: Vec<FecScheme>,
    /// Path changes (failovers included) so far.
    pub path_switches: u32,
    /// RTT of the direct edge → proxy path measured during this session, µs.
    pub direct_rtt_us: Option<u64>,
    /// This end's figures (refreshed once a second).
    pub local: LinkReport,
    /// The peer's latest report.
    pub remote: Option<LinkReport>,
    /// Interarrival jitter of the peer's packets, µs.
    pub jitter_us: u64,
    /// Sum and count of RTT readings, for the mean in the summary.
    pub rtt_sum_us: u64,
    /// See `rtt_sum_us`.
    pub rtt_samples: u64,
    /// At a proxy: the control address of the edge that asked for the session; only it may
    /// change or query the session.
    pub edge_control: Option<SocketAddr>,
    /// At a proxy: the last switch applied, `(scheme, edge's from_seq, own from_seq)`, so a
    /// retried request gets the same answer.
    pub last_switch: Option<(FecScheme, u32, u32)>,
}

impl SessionRecord {
    /// A record for a session installed at `now` with `fec`.
    pub fn new(
        id: SessionId,
        role: SessionRole,
        path: Vec<String>,
        fec: FecScheme,
        now: Micros,
    ) -> SessionRecord {
        SessionRecord {
            id,
            role,
            path,
            started: now,
            fec,
            fec_changes: 0,
            last_fec_change: None,
            schemes_used: vec![fec],
            path_switches: 0,
            direct_rtt_us: None,
            local: LinkReport::default(),
            remote: None,
            jitter_us: 0,
            rtt_sum_us: 0,
            rtt_samples: 0,
            edge_control: None,
            last_switch: None,
        }
    }

    /// The session's RTT, µs: the edge measures it; a proxy knows it from the edge's report.
    pub fn srtt_us(&self) -> Option<u64> {
        let rtt = match self.role {
            SessionRole::Edge => self.local.srtt_us,
            SessionRole::Proxy => self.remote.map_or(0, |r| r.srtt_us),
        };
        (rtt > 0).then_some(rtt)
    }

    /// The proxy's leg to the game server, µs: the proxy measures it from the game traffic;
    /// an edge knows it from the proxy's report. An upper bound (`server_leg.rs` in the mesh).
    pub fn server_rtt_us(&self) -> Option<u64> {
        let rtt = match self.role {
            SessionRole::Edge => self.remote.map_or(0, |r| r.server_rtt_us),
            SessionRole::Proxy => self.local.server_rtt_us,
        };
        (rtt > 0).then_some(rtt)
    }

    /// The player's whole path, µs: the tunnel RTT plus the server leg, once both are known.
    pub fn end_to_end_rtt_us(&self) -> Option<u64> {
        Some(self.srtt_us()?.saturating_add(self.server_rtt_us()?))
    }

    /// The figures of the upstream and downstream receivers (`None`: not reported yet).
    pub fn receivers(&self) -> (Option<LinkReport>, Option<LinkReport>) {
        match self.role {
            SessionRole::Edge => (self.remote, Some(self.local)),
            SessionRole::Proxy => (Some(self.local), self.remote),
        }
    }

    /// Milliseconds saved against the direct path: direct RTT minus this session's RTT;
    /// `None` unless both were measured.
    pub fn saved_ms(&self) -> Option<f64> {
        let direct = self.direct_rtt_us?;
        let rtt = self.srtt_us()?;
        Some((direct as f64 - rtt as f64) / 1e3)
    }

    fn note_scheme(&mut self, fec: FecScheme, now: Micros) {
        if fec == self.fec {
            return;
        }
        self.fec = fec;
        self.fec_changes = self.fec_changes.saturating_add(1);
        self.last_fec_change = Some(now);
        if !self.schemes_used.contains(&fec) && self.schemes_used.len() < MAX_SCHEMES_USED {
            self.schemes_used.push(fec);
        }
    }
}

/// Node-wide totals for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BookTotals {
    /// FEC scheme changes since the node started.
    pub fec_changes: u64,
    /// Path switches since the node started.
    pub path_switches: u64,
    /// Sessions ended since the node started.
    pub ended: u64,
    /// Current sessions by scheme kind, in [`SCHEME_KINDS`] order.
    pub by_scheme: [usize; 5],
    /// Over current sessions, per direction (upstream, downstream): packets expected and lost
    /// before FEC, data sent and lost after FEC.
    pub expected: [u64; 2],
    /// See `expected`.
    pub lost_before: [u64; 2],
    /// See `expected`.
    pub data_sent: [u64; 2],
    /// See `expected`.
    pub lost_after: [u64; 2],
    /// Mean RTT over current sessions with one, µs.
    pub mean_rtt_us: Option<u64>,
}

/// The scheme kinds, as metric label values.
pub const SCHEME_KINDS: [&str; 5] = ["off", "xor", "rs", "dup", "sliding"];

/// The kind of a scheme, one of [`SCHEME_KINDS`].
pub fn scheme_kind(s: FecScheme) -> &'static str {
    match s {
        FecScheme::Off => "off",
        FecScheme::Xor { .. } => "xor",
        FecScheme::ReedSolomon { .. } => "rs",
        FecScheme::Duplicate => "dup",
        _ => "sliding",
    }
}

/// A scheme in the configuration's syntax (`off`, `xor(4)`, `rs(3,2)`, `dup`), the sliding
/// code as `sliding(window,repairs,interval)`.
pub fn scheme_name(s: FecScheme) -> String {
    match s {
        FecScheme::Off => "off".into(),
        FecScheme::Xor { k } => format!("xor({k})"),
        FecScheme::ReedSolomon { k, m } => format!("rs({k},{m})"),
        FecScheme::Duplicate => "dup".into(),
        FecScheme::Sliding {
            window,
            repairs,
            interval,
        } => format!("sliding({window},{repairs},{interval})"),
        _ => "unknown".into(),
    }
}

#[derive(Debug, Default)]
struct Book {
    clock: Option<Clock>,
    sessions: HashMap<SessionId, SessionRecord>,
    fec_changes: u64,
    path_switches: u64,
    ended: u64,
}

/// The shared session records (cheap to clone: one handle).
#[derive(Debug, Clone, Default)]
pub struct SessionBook(Arc<RwLock<Book>>);

impl SessionBook {
    /// Sets the clock record times are read on (the data plane's).
    pub fn set_clock(&self, clock: Clock) {
        self.0.write().clock = Some(clock);
    }

    /// Now on the records' clock (zero before it is set).
    pub fn now(&self) -> Micros {
        self.0.read().clock.map_or(Micros(0), |c| c.now())
    }

    /// Adds (or replaces) a session's record.
    pub fn insert(&self, record: SessionRecord) {
        self.0.write().sessions.insert(record.id, record);
    }

    /// True when no session is recorded (a relay's book is always empty).
    pub fn is_empty(&self) -> bool {
        self.0.read().sessions.is_empty()
    }

    /// A copy of one record.
    pub fn get(&self, id: SessionId) -> Option<SessionRecord> {
        self.0.read().sessions.get(&id).cloned()
    }

    /// Runs `f` on a record, if the session is known.
    pub fn update<R>(&self, id: SessionId, f: impl FnOnce(&mut SessionRecord) -> R) -> Option<R> {
        self.0.write().sessions.get_mut(&id).map(f)
    }

    /// Records that `id` now uses `fec` (a no-op when it already does).
    pub fn fec_changed(&self, id: SessionId, fec: FecScheme, now: Micros) {
        let mut book = self.0.write();
        let Some(r) = book.sessions.get_mut(&id) else {
            return;
        };
        let before = r.fec_changes;
        r.note_scheme(fec, now);
        let added = u64::from(r.fec_changes - before);
        book.fec_changes += added;
    }

    /// Hook for path changes: `id` moved to `path` (node names, edge to proxy).
    pub fn path_switched(&self, id: SessionId, path: Vec<String>) {
        let mut book = self.0.write();
        if let Some(r) = book.sessions.get_mut(&id) {
            r.path = path;
            r.path_switches = r.path_switches.saturating_add(1);
            book.path_switches += 1;
        }
    }

    /// Hook for the direct path's RTT as measured during the session (`None`: no current
    /// measurement).
    pub fn set_direct_rtt(&self, id: SessionId, rtt_us: Option<u64>) {
        self.update(id, |r| r.direct_rtt_us = rtt_us);
    }

    /// Refreshes every record from the data plane's `snapshot` and returns the records of
    /// sessions that are gone from it (ended), removing them.
    pub fn refresh(&self, snapshot: &[SessionHealth]) -> Vec<SessionRecord> {
        let mut book = self.0.write();
        for h in snapshot {
            let Some(r) = book.sessions.get_mut(&h.id) else {
                continue;
            };
            let s = &h.stats;
            r.local = LinkReport {
                data_sent: s.data_sent,
                expected: s.expected(),
                received: s.received,
                delivered: s.delivered,
                recovered: s.recovered,
                srtt_us: s.srtt_us,
                server_rtt_us: s.server_rtt_us,
                ..r.local
            };
            r.jitter_us = s.jitter_us;
            if let Some(rtt) = r.srtt_us() {
                r.rtt_sum_us = r.rtt_sum_us.saturating_add(rtt);
                r.rtt_samples += 1;
            }
        }
        let live: std::collections::HashSet<SessionId> = snapshot.iter().map(|h| h.id).collect();
        let gone: Vec<SessionId> = book
            .sessions
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        let ended: Vec<SessionRecord> = gone
            .iter()
            .filter_map(|id| book.sessions.remove(id))
            .collect();
        book.ended += ended.len() as u64;
        ended
    }

    /// Every record, by id.
    pub fn records(&self) -> Vec<SessionRecord> {
        let mut v: Vec<SessionRecord> = self.0.read().sessions.values().cloned().collect();
        v.sort_by_key(|r| r.id);
        v
    }

    /// Node-wide totals.
    pub fn totals(&self) -> BookTotals {
        let book = self.0.read();
        let mut t = BookTotals {
            fec_changes: book.fec_changes,
            path_switches: book.path_switches,
            ended: book.ended,
            ..BookTotals::default()
        };
        let (mut rtt_sum, mut rtt_n) = (0u64, 0u64);
        for r in book.sessions.values() {
            if let Some(i) = SCHEME_KINDS.iter().position(|k| *k == scheme_kind(r.fec))
                && let Some(n) = t.by_scheme.get_mut(i)
            {
                *n += 1;
            }
            let (up, down) = r.receivers();
            for (i, rx) in [up, down].into_iter().enumerate() {
                let Some(rx) = rx else { continue };
                let (Some(e), Some(lb), Some(d), Some(la)) = (
                    t.expected.get_mut(i),
                    t.lost_before.get_mut(i),
                    t.data_sent.get_mut(i),
                    t.lost_after.get_mut(i),
                ) else {
                    continue;
                };
                *e += rx.expected;
                *lb += rx.expected.saturating_sub(rx.received);
                *d += rx.peer_data_sent;
                *la += rx.peer_data_sent.saturating_sub(rx.delivered_then);
            }
            if let Some(rtt) = r.srtt_us() {
                rtt_sum += rtt;
                rtt_n += 1;
            }
        }
        t.mean_rtt_us = (rtt_n > 0).then(|| rtt_sum / rtt_n);
        t
    }
}

#[cfg(test)]
#[path = "session_view_tests.rs"]
mod tests;
