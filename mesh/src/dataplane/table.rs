//! The concurrent session table the packet loops read and the session actor writes.
//!
//! One entry per session, keyed by [`SessionId`], holding the key and the role's pure state
//! behind a short per-session lock (packets of one session are serialised; different sessions
//! never contend). Edge flows — (redirect socket, game client address) pairs — map to their
//! session, or hold the game's first datagrams while the session is being set up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use parking_lot::Mutex;

use lightspeed_protocol::{Micros, SessionId, SessionKey};

use super::edge::{EdgeSession, MAX_PENDING};
use super::proxy::ProxySession;
use super::relay::RelayState;

/// A session's role-specific state.
#[derive(Debug)]
// The relay variant (two replay windows) sets the size on purpose: relay entries are the many
// and stay inline; the edge and proxy sessions are boxed.
#[allow(clippy::large_enum_variant)]
pub enum SessionState {
    /// This node is the session's edge.
    Edge {
        /// The pure session (boxed: it holds two paths' state, and the enum is as large as
        /// its largest variant while relay entries, the many, are small).
        session: Box<EdgeSession>,
        /// The game client the replies go to.
        game_client: SocketAddr,
        /// Index of the redirect socket the game client talks to.
        redirect: usize,
    },
    /// This node relays the session.
    Relay(RelayState),
    /// This node is the session's proxy.
    Proxy {
        /// The pure session (boxed like the edge's: its endpoint holds the FEC codecs and
        /// their switch state, and relay entries should stay small).
        session: Box<ProxySession>,
        /// Connected socket towards the game server.
        egress: Arc<tokio::net::UdpSocket>,
    },
}

/// One session.
#[derive(Debug)]
pub struct Entry {
    /// Its id.
    pub id: SessionId,
    /// Its data-plane key.
    pub key: SessionKey,
    /// Role state, locked per packet.
    pub state: Mutex<SessionState>,
    /// When the timer loop must next poll this session (µs; `u64::MAX`: never).
    pub next_timer: AtomicU64,
}

impl Entry {
    /// Wraps a state.
    pub fn new(id: SessionId, key: SessionKey, state: SessionState) -> Arc<Entry> {
        Arc::new(Entry {
            id,
            key,
            state: Mutex::new(state),
            next_timer: AtomicU64::new(0),
        })
    }

    /// Records the next timer of the state (call with the lock held, after any change).
    pub fn set_next_timer(&self, state: &SessionState) {
        let next = match state {
            SessionState::Edge { session, .. } => session.next_timeout().0,
            SessionState::Proxy { session, .. } => {
                session.endpoint.next_deadline().map_or(u64::MAX, |d| d.0)
            }
            SessionState::Relay(_) => u64::MAX,
        };
        self.next_timer.store(next, Relaxed);
    }
}

/// Identifies a game flow at an edge.
pub type FlowKey = (usize, SocketAddr);

/// A game flow at an edge.
#[derive(Debug)]
pub enum Flow {
    /// Waiting for its session; the game's first datagrams with when they arrived, bounded by
    /// [`MAX_PENDING`], and how many set-ups of this flow failed before this one.
    Pending {
        /// Held datagrams.
        held: Vec<(Micros, Vec<u8>)>,
        /// Consecutive failed set-ups so far (for the next backoff).
        failures: u32,
    },
    /// Mapped to a session.
    Active(SessionId),
    /// Its last set-up failed (refused, unreachable): the game's datagrams are dropped until
    /// `until`, then the next one asks again. Without this a refused client would send a
    /// session request per game packet (64 a second for a 64 Hz game).
    Backoff {
        /// When the next attempt may start.
        until: Micros,
        /// Consecutive failures, for the exponential backoff.
        failures: u32,
    },
}

/// First retry delay after a failed set-up; doubled per failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest retry delay: a player whose proxy comes back is reconnected within this.
pub const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30);

/// Why an insert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The node-wide session cap is reached.
    #[error("session table full")]
    Full,
    /// The id is taken (ids are chosen by proxies; the caller picks another).
    #[error("session id already in use")]
    Collision,
    /// The flow's last set-up failed and its retry time has not come.
    #[error("flow is backing off after a failed set-up")]
    Backoff,
}

/// All sessions of a node.
#[derive(Debug)]
pub struct SessionTable {
    sessions: DashMap<SessionId, Arc<Entry>>,
    // Edge and proxy sessions, the only ones with timers: the 1 ms timer loop scans these and
    // never the (possibly 10,000) relay transit entries.
    timed: DashMap<SessionId, Arc<Entry>>,
    flows: DashMap<FlowKey, Flow>,
    max_sessions: usize,
    max_flows: usize,
}

impl SessionTable {
    /// An empty table holding at most `max_sessions` sessions and `max_flows` edge flows.
    pub fn new(max_sessions: usize, max_flows: usize) -> SessionTable {
        SessionTable {
            sessions: DashMap::new(),
            timed: DashMap::new(),
            flows: DashMap::new(),
            max_sessions,
            max_flows,
        }
    }

    /// Sessions in the table.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session with this id.
    pub fn get(&self, id: SessionId) -> Option<Arc<Entry>> {
        self.sessions.get(&id).map(|e| Arc::clone(e.value()))
    }

    /// Inserts a session unless the table is full or the id is taken.
    pub fn insert(&self, entry: Arc<Entry>) -> Result<(), TableError> {
        if self.sessions.len() >= self.max_sessions {
            return Err(TableError::Full);
        }
        match self.sessions.entry(entry.id) {
            MapEntry::Occupied(_) => Err(TableError::Collision),
            MapEntry::Vacant(v) => {
                let has_timers = !matches!(*entry.state.lock(), SessionState::Relay(_));
                if has_timers {
                    entry.set_next_timer(&entry.state.lock());
                    self.timed.insert(entry.id, Arc::clone(&entry));
                }
                v.insert(entry);
                Ok(())
            }
        }
    }

    /// Removes a session (and its edge flow, if any).
    pub fn remove(&self, id: SessionId) -> Option<Arc<Entry>> {
        let removed = self.sessions.remove(&id).map(|(_, e)| e);
        self.timed.remove(&id);
        self.flows
            .retain(|_, f| !matches!(f, Flow::Active(s) if *s == id));
        removed
    }

    /// True when some session has timers (edge or proxy).
    pub fn has_timed(&self) -> bool {
        !self.timed.is_empty()
    }

    /// Fills `due` with the timed sessions whose timer is at or before `now` (the vector is
    /// reused across ticks, so this allocates nothing once warm).
    pub fn timed_due(&self, now: Micros, due: &mut Vec<Arc<Entry>>) {
        due.clear();
        for e in self.timed.iter() {
            if e.value().next_timer.load(Relaxed) <= now.0 {
                due.push(Arc::clone(e.value()));
            }
        }
    }

    /// A snapshot of all entries (for timers, expiry and reporting; not the packet path).
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.sessions
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect()
    }

    /// The session of an edge flow, if it is active.
    pub fn flow_session(&self, key: &FlowKey) -> Option<SessionId> {
        match self.flows.get(key).as_deref() {
            Some(Flow::Active(id)) => Some(*id),
            _ => None,
        }
    }

    /// Holds a datagram of a flow without a session. Returns `Ok(true)` when the flow is new
    /// or its backoff is over (the caller asks for a session), `Ok(false)` when it was already
    /// pending, and an error when the flow table or the flow's queue is full or the flow is
    /// backing off.
    pub fn hold_pending(
        &self,
        key: FlowKey,
        payload: &[u8],
        now: Micros,
    ) -> Result<bool, TableError> {
        if let Some(mut f) = self.flows.get_mut(&key) {
            return match f.value_mut() {
                Flow::Pending { held, .. } if held.len() < MAX_PENDING => {
                    held.push((now, payload.to_vec()));
                    Ok(false)
                }
                Flow::Backoff { until, .. } if now < *until => Err(TableError::Backoff),
                Flow::Backoff { failures, .. } => {
                    let failures = *failures;
                    *f.value_mut() = Flow::Pending {
                        held: vec![(now, payload.to_vec())],
                        failures,
                    };
                    Ok(true)
                }
                _ => Err(TableError::Full),
            };
        }
        if self.flows.len() >= self.max_flows {
            return Err(TableError::Full);
        }
        self.flows.insert(
            key,
            Flow::Pending {
                held: vec![(now, payload.to_vec())],
                failures: 0,
            },
        );
        Ok(true)
    }

    /// Maps a flow to its new session and hands back the datagrams held meanwhile.
    pub fn activate_flow(&self, key: FlowKey, id: SessionId) -> Vec<(Micros, Vec<u8>)> {
        match self.flows.insert(key, Flow::Active(id)) {
            Some(Flow::Pending { held, .. }) => held,
            _ => Vec::new(),
        }
    }

    /// Forgets a flow.
    pub fn drop_flow(&self, key: &FlowKey) {
        self.flows.remove(key);
    }

    /// Records a failed set-up: the flow's datagrams are dropped until the returned backoff
    /// has passed (1 s, doubling per consecutive failure, at most 30 s).
    pub fn fail_flow(&self, key: FlowKey, now: Micros) -> std::time::Duration {
        let failures = match self.flows.get(&key).as_deref() {
            Some(Flow::Pending { failures, .. } | Flow::Backoff { failures, .. }) => *failures,
            _ => 0,
        };
        let backoff = FIRST_BACKOFF
            .saturating_mul(1u32 << failures.min(5))
            .min(MAX_BACKOFF);
        self.flows.insert(
            key,
            Flow::Backoff {
                until: now + backoff,
                failures: failures.saturating_add(1),
            },
        );
        backoff
    }

    /// Removes sessions for which `expired` says so (under each entry's lock), returning them.
    pub fn expire(&self, mut expired: impl FnMut(&SessionState) -> bool) -> Vec<Arc<Entry>> {
        let victims: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|e| expired(&e.value().state.lock()))
            .map(|e| *e.key())
            .collect();
        victims
            .into_iter()
            .filter_map(|id| self.remove(id))
            .collect()
    }
}

/// A monotonic clock turned into [`Micros`] since the node started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            origin: std::time::Instant::now(),
        }
    }
}

impl Clock {
    /// Now.
    pub fn now(&self) -> Micros {
        Micros(self.origin.elapsed().as_micros().min(u128::from(u64::MAX)) as u64)
    }

    /// The instant for a [`Micros`] value (for tokio timers).
    pub fn instant(&self, t: Micros) -> std::time::Instant {
        self.origin + std::time::Duration::from_micros(t.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::limiter::TokenBucket;

    fn relay_entry(id: u32) -> Arc<Entry> {
        Entry::new(
            SessionId(id),
            SessionKey([0; 32]),
            SessionState::Relay(RelayState::new(
                "203.0.113.1:4434".parse().unwrap(),
                TokenBucket::new(0, 1, Micros(0)),
                Micros(0),
            )),
        )
    }

    #[test]
    fn cap_collision_and_removal() {
        let t = SessionTable::new(2, 4);
        t.insert(relay_entry(1)).unwrap();
        assert_eq!(t.insert(relay_entry(1)), Err(TableError::Collision));
        t.insert(relay_entry(2)).unwrap();
        assert_eq!(t.insert(relay_entry(3)), Err(TableError::Full));
        assert!(t.remove(SessionId(1)).is_some());
        t.insert(relay_entry(3)).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn pending_flows_are_bounded_and_handed_over() {
        let t = SessionTable::new(8, 1);
        let k: FlowKey = (0, "127.0.0.1:5000".parse().unwrap());
        let now = Micros(0);
        assert_eq!(t.hold_pending(k, b"a", now), Ok(true));
        assert_eq!(t.hold_pending(k, b"b", now), Ok(false));
        let other: FlowKey = (0, "127.0.0.1:5001".parse().unwrap());
        assert_eq!(t.hold_pending(other, b"x", now), Err(TableError::Full));
        for _ in 2..MAX_PENDING {
            t.hold_pending(k, b"c", now).unwrap();
        }
        assert_eq!(t.hold_pending(k, b"d", now), Err(TableError::Full));
        let held = t.activate_flow(k, SessionId(5));
        assert_eq!(held.len(), MAX_PENDING);
        assert_eq!(held[0], (now, b"a".to_vec()));
        assert_eq!(t.flow_session(&k), Some(SessionId(5)));
        t.insert(relay_entry(5)).unwrap();
        t.remove(SessionId(5));
        assert_eq!(t.flow_session(&k), None);
    }

    #[test]
    fn failed_flows_back_off_exponentially_then_retry() {
        let t = SessionTable::new(8, 4);
        let k: FlowKey = (0, "127.0.0.1:5000".parse().unwrap());
        let s = |secs: u64| Micros(secs * 1_000_000);
        assert_eq!(t.hold_pending(k, b"a", s(0)), Ok(true));
        assert_eq!(t.fail_flow(k, s(0)), FIRST_BACKOFF);
        assert_eq!(t.hold_pending(k, b"b", s(0)), Err(TableError::Backoff));
        assert_eq!(t.hold_pending(k, b"c", s(1)), Ok(true), "retry after 1 s");
        assert_eq!(t.fail_flow(k, s(1)), FIRST_BACKOFF * 2);
        assert_eq!(t.hold_pending(k, b"d", s(2)), Err(TableError::Backoff));
        assert_eq!(t.hold_pending(k, b"e", s(3)), Ok(true));
        for _ in 0..10 {
            t.fail_flow(k, s(3));
            let _ = t.hold_pending(k, b"f", s(100));
        }
        assert_eq!(t.fail_flow(k, s(100)), MAX_BACKOFF);
        assert_eq!(t.hold_pending(k, b"g", s(130)), Ok(true));
        t.activate_flow(k, SessionId(3));
        t.drop_flow(&k);
        assert_eq!(t.hold_pending(k, b"h", s(130)), Ok(true));
        assert_eq!(
            t.fail_flow(k, s(130)),
            FIRST_BACKOFF,
            "success reset the count"
        );
    }

    #[test]
    fn expiry_removes_what_the_predicate_selects() {
        let t = SessionTable::new(8, 1);
        t.insert(relay_entry(1)).unwrap();
        t.insert(relay_entry(2)).unwrap();
        let gone = t.expire(|s| matches!(s, SessionState::Relay(r) if r.downstream().is_none()));
        assert_eq!(gone.len(), 2);
        assert!(t.is_empty());
    }
}
