//! The control messages, the types they carry, their limits and their validation.
//!
//! Variant order is wire format (postcard encodes the variant index): append only.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::error::ControlError;
use super::sync::{SyncItem, de_items, validate_page};
use crate::fec::FecScheme;
use crate::ids::{SessionId, SessionKey};

/// Longest client token (bytes). A 256-bit random token is 43–64 characters in any common
/// text encoding; 1 KiB also admits signed tokens with a key id and claims.
pub const MAX_TOKEN_LEN: usize = 1024;

/// Longest game name (bytes); profile names such as `"apex-legends"` are far shorter.
pub const MAX_GAME_LEN: usize = 64;

/// Longest mesh node name in a [`HopSpec`] (bytes); it is the DNS-like name in the node's
/// certificate, and a DNS label is at most 63 characters.
pub const MAX_NODE_NAME_LEN: usize = 64;

/// Most relays in a requested path. Routing considers at most two relays (direct, one or two
/// relays); four leaves room without letting an edge order long chains through the mesh.
pub const MAX_PATH_HOPS: usize = 4;

/// Path ids a session may use (the data-plane header's `path` byte): 0 and 1, a primary and
/// one disjoint standby. The proxy keeps fixed per-path state, so the ids are bounded.
pub const MAX_PATH_ID: u8 = 1;

/// Longest human-readable text in an [`Message::Error`] (bytes): a sentence, not a report.
pub const MAX_ERROR_MESSAGE_LEN: usize = 256;

/// Longest idle timeout a session or relay entry may ask for: one hour. Every entry holds
/// fixed memory on a relay, so this bounds how long a vanished edge can pin it.
pub const MAX_IDLE_TIMEOUT_MS: u32 = 3_600_000;

/// A client's admission token. Its `Debug` output is redacted because it is a credential.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientToken(pub String);

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientToken({} bytes)", self.0.len())
    }
}

/// One relay of a path: its mesh node name and the address of its data plane.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HopSpec {
    /// The relay's node name, as in its mesh certificate (1..=[`MAX_NODE_NAME_LEN`] bytes of
    /// visible ASCII).
    pub node: String,
    /// Where the relay receives data-plane packets.
    pub data_addr: SocketAddr,
}

/// Why a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CloseReason {
    /// The edge's user or game ended the session.
    ClientExit,
    /// No traffic for the session's idle timeout.
    IdleTimeout,
    /// The node is shutting down or draining.
    NodeShutdown,
    /// The operator or the proxy revoked the client's token or session.
    Revoked,
    /// The session moved to another path; this hop's state is no longer needed.
    RouteChanged,
}

/// Machine-readable cause carried by [`Message::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The client token is unknown, expired or revoked. Retrying with the same token fails.
    BadToken,
    /// The node has reached its session cap; try another proxy or later.
    SessionLimit,
    /// The sender exceeded a per-client or per-source request rate; back off and retry.
    RateLimited,
    /// The destination is refused by policy (private, loopback, multicast, ... or not on
    /// the operator's allow list).
    DestinationRefused,
    /// The session id names no session on this node (never granted, closed or expired).
    UnknownSession,
    /// The request's protocol version is not spoken here.
    UnsupportedVersion,
    /// The request could not be decoded or broke a protocol limit.
    Malformed,
    /// The node failed for a reason of its own; the request itself was fine.
    Internal,
}

/// A control-plane message. See the module documentation for who sends which and what
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Message {
    /// Edge → proxy: admit a session for `token` to the game server at `target`.
    SessionRequest {
        /// The client's admission token (1..=[`MAX_TOKEN_LEN`] bytes of visible ASCII).
        token: ClientToken,
        /// The game server the session's traffic goes to.
        target: SocketAddr,
        /// The game profile, when the edge knows it (1..=[`MAX_GAME_LEN`] bytes).
        game: Option<String>,
        /// The FEC scheme the edge proposes.
        fec: FecScheme,
        /// The relays the edge wants between itself and the proxy, edge side first
        /// (at most [`MAX_PATH_HOPS`]); empty for the direct path.
        #[serde(deserialize_with = "de_path")]
        path: Vec<HopSpec>,
    },
    /// Proxy → edge: the session is admitted.
    SessionGrant {
        /// The new session's id.
        session: SessionId,
        /// The key that authenticates the session's data-plane headers.
        key: SessionKey,
        /// Where the edge sends data packets (the first relay, or the proxy itself).
        data_addr: SocketAddr,
        /// The FEC scheme the proxy chose (may differ from the proposal).
        fec: FecScheme,
        /// Idle time after which the session is dropped (1..=[`MAX_IDLE_TIMEOUT_MS`]).
        idle_timeout_ms: u32,
    },
    /// Edge → proxy: the edge starts sending data for `session`; the first data packet with
    /// a valid MAC binds its source address.
    SessionBind {
        /// The session to bind.
        session: SessionId,
    },
    /// Either side: the session ends; free its state.
    SessionClose {
        /// The session to close.
        session: SessionId,
        /// Why it ends.
        reason: CloseReason,
    },
    /// Proxy → relay: install a transit entry forwarding `session` toward the proxy.
    RelayInstall {
        /// The session to forward.
        session: SessionId,
        /// The session key, so the relay can authenticate headers before forwarding.
        key: SessionKey,
        /// The next hop toward the proxy.
        upstream: SocketAddr,
        /// Idle time after which the entry is dropped (1..=[`MAX_IDLE_TIMEOUT_MS`]).
        idle_timeout_ms: u32,
    },
    /// Either side: switch the session to another FEC scheme. Superseded by
    /// [`Message::FecSwitch`], which carries the switch point a running session needs; nodes
    /// answer it with [`ErrorCode::Malformed`]. Kept so that variant indices stay put.
    FecUpdate {
        /// The session to change.
        session: SessionId,
        /// Its new scheme.
        fec: FecScheme,
    },
    /// Edge → proxy: move the session to another path (same meaning as
    /// [`Message::SessionRequest`]'s `path`).
    RouteUpdate {
        /// The session to move.
        session: SessionId,
        /// Its new relays, edge side first (at most [`MAX_PATH_HOPS`]).
        #[serde(deserialize_with = "de_path")]
        path: Vec<HopSpec>,
    },
    /// The request with this envelope's request id succeeded.
    Ack,
    /// Liveness probe; answered by [`Message::Pong`] with the same nonce.
    Ping {
        /// Echoed by the pong.
        nonce: u64,
    },
    /// Answer to [`Message::Ping`].
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// The request with this envelope's request id failed.
    Error {
        /// Why, for machines.
        code: ErrorCode,
        /// Why, for humans (at most [`MAX_ERROR_MESSAGE_LEN`] bytes).
        message: String,
    },
    /// Mesh node → mesh node (mutual TLS only): send your topology items (certificates,
    /// signed claim parts) from index `from` on. Answered by [`Message::TopologyItems`].
    TopologySync {
        /// Index of the first item wanted (0 for the first page).
        from: u32,
    },
    /// Answer to [`Message::TopologySync`]: one page of items, each checked by the receiver
    /// as if gossiped.
    TopologyItems {
        /// The items (at most [`super::MAX_SYNC_PAGE_ITEMS`], [`super::MAX_SYNC_PAGE_BYTES`]
        /// in all).
        #[serde(deserialize_with = "de_items")]
        items: Vec<SyncItem>,
        /// The `from` of the next page; `None` after the last.
        next: Option<u32>,
    },
    /// Edge → proxy: both directions of `session` change to `fec`; the edge's first packet
    /// of the new scheme carries sequence number `from_seq`. The proxy answers with the same
    /// variant: the scheme it accepted (both ends use it) and its own `from_seq`. Each end
    /// decodes the peer's packets numbered before the peer's `from_seq` with the old scheme
    /// (mesh `dataplane/fec_switch.rs`).
    FecSwitch {
        /// The session to change.
        session: SessionId,
        /// Its new scheme.
        fec: FecScheme,
        /// The sender's first sequence number of the new scheme.
        from_seq: u32,
    },
    /// Edge → proxy, answered by the proxy with the same variant: the sender's figures of
    /// `session`, so that each end knows the loss of both directions.
    FecReport {
        /// The session.
        session: SessionId,
        /// The sender's figures.
        report: LinkReport,
    },
    /// Edge → proxy: set up the session's path `path_id` through these relays (a standby
    /// for failover and multipath, or a replacement for one that died). The proxy installs
    /// the relays, proxy side first, and answers [`Message::Ack`]; the edge then binds the
    /// path with a data-plane Bind stamped with `path_id`. Only the connection that
    /// requested the session may ask.
    PathSetup {
        /// The session.
        session: SessionId,
        /// Which path (0..=[`MAX_PATH_ID`]).
        path_id: u8,
        /// Its relays, edge side first (at most [`MAX_PATH_HOPS`]); empty for the direct path.
        #[serde(deserialize_with = "de_path")]
        path: Vec<HopSpec>,
    },
}

/// One end's figures of a session, cumulative since it started: what it sent and what it
/// measured on the direction it receives. Fixed size (ten integers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkReport {
    /// Game datagrams this end sent.
    pub data_sent: u64,
    /// Packets the peer sent, by sequence numbers (all types, FEC switch jumps excluded).
    pub expected: u64,
    /// Authenticated packets received from the peer.
    pub received: u64,
    /// Game datagrams delivered locally (received or rebuilt).
    pub delivered: u64,
    /// Game datagrams rebuilt from parity.
    pub recovered: u64,
    /// The peer's `data_sent` from its latest report, taken as that report arrived; with
    /// `delivered_then` it gives the loss after FEC without counting packets in flight.
    pub peer_data_sent: u64,
    /// This end's `delivered` when `peer_data_sent` arrived.
    pub delivered_then: u64,
    /// Smoothed RTT this end measured with its probes, µs (0: none; proxies do not probe).
    pub srtt_us: u64,
    /// Runs of consecutive missing peer sequence numbers (loss bursts) among `expected`:
    /// `(expected − received) / loss_runs` is the mean burst length. Never above `expected`.
    pub loss_runs: u64,
    /// The proxy's leg to the game server, smoothed RTT from the game traffic's own timing,
    /// µs (0: not measured yet, and always 0 from an edge). An upper bound: it includes the
    /// server's processing or tick delay.
    pub server_rtt_us: u64,
}

impl LinkReport {
    /// Fraction of the peer's packets lost before FEC; 0 before any arrived.
    pub fn loss_before_fec(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.expected.saturating_sub(self.received) as f64 / self.expected as f64
    }

    /// Mean length of a loss burst in packets (lost packets per run of consecutive losses);
    /// 1.0 before any loss.
    pub fn mean_burst(&self) -> f64 {
        let lost = self.expected.saturating_sub(self.received);
        if self.loss_runs == 0 || lost == 0 {
            return 1.0;
        }
        (lost as f64 / self.loss_runs as f64).max(1.0)
    }

    /// Fraction of the peer's game datagrams never delivered (after FEC); `None` before the
    /// peer's first report.
    pub fn loss_after_fec(&self) -> Option<f64> {
        (self.peer_data_sent > 0).then(|| {
            self.peer_data_sent.saturating_sub(self.delivered_then) as f64
                / self.peer_data_sent as f64
        })
    }
}

impl Message {
    /// Checks every limit and invariant postcard cannot express; see the constants of this
    /// module. Called by [`super::decode_frame`] and [`super::encode_frame`].
    pub fn validate(&self) -> Result<(), ControlError> {
        match self {
            Message::SessionRequest {
                token,
                target,
                game,
                fec,
                path,
            } => {
                visible_ascii("SessionRequest.token", &token.0, MAX_TOKEN_LEN)?;
                addr("SessionRequest.target", target)?;
                if let Some(game) = game {
                    visible_ascii("SessionRequest.game", game, MAX_GAME_LEN)?;
                }
                fec_scheme("SessionRequest.fec", fec)?;
                hops("SessionRequest.path", path)
            }
            Message::SessionGrant {
                session,
                key,
                data_addr,
                fec,
                idle_timeout_ms,
            } => {
                session_id("SessionGrant.session", *session)?;
                session_key("SessionGrant.key", key)?;
                addr("SessionGrant.data_addr", data_addr)?;
                fec_scheme("SessionGrant.fec", fec)?;
                idle_timeout("SessionGrant.idle_timeout_ms", *idle_timeout_ms)
            }
            Message::SessionBind { session } => session_id("SessionBind.session", *session),
            Message::SessionClose { session, .. } => session_id("SessionClose.session", *session),
            Message::RelayInstall {
                session,
                key,
                upstream,
                idle_timeout_ms,
            } => {
                session_id("RelayInstall.session", *session)?;
                session_key("RelayInstall.key", key)?;
                addr("RelayInstall.upstream", upstream)?;
                idle_timeout("RelayInstall.idle_timeout_ms", *idle_timeout_ms)
            }
            Message::FecUpdate { session, fec } => {
                session_id("FecUpdate.session", *session)?;
                fec_scheme("FecUpdate.fec", fec)
            }
            Message::RouteUpdate { session, path } => {
                session_id("RouteUpdate.session", *session)?;
                hops("RouteUpdate.path", path)
            }
            Message::PathSetup {
                session,
                path_id,
                path,
            } => {
                session_id("PathSetup.session", *session)?;
                if *path_id > MAX_PATH_ID {
                    return Err(ControlError::Invalid {
                        field: "PathSetup.path_id",
                        reason: "path id above 1",
                    });
                }
                hops("PathSetup.path", path)
            }
            Message::Ack | Message::Ping { .. } | Message::Pong { .. } => Ok(()),
            Message::Error { message, .. } => {
                max_len("Error.message", message.len(), MAX_ERROR_MESSAGE_LEN)
            }
            Message::TopologySync { .. } => Ok(()),
            Message::TopologyItems { items, .. } => validate_page(items),
            Message::FecSwitch { session, fec, .. } => {
                session_id("FecSwitch.session", *session)?;
                fec_scheme("FecSwitch.fec", fec)
            }
            Message::FecReport { session, report } => {
                session_id("FecReport.session", *session)?;
                if report.recovered > report.delivered || report.delivered_then > report.delivered {
                    return Err(ControlError::Invalid {
                        field: "FecReport.report",
                        reason: "more recovered, or delivered earlier, than delivered",
                    });
                }
                if report.loss_runs > report.expected {
                    return Err(ControlError::Invalid {
                        field: "FecReport.report.loss_runs",
                        reason: "more loss runs than packets expected",
                    });
                }
                Ok(())
            }
        }
    }
}

fn max_len(field: &'static str, len: usize, max: usize) -> Result<(), ControlError> {
    if len > max {
        return Err(ControlError::TooLong { field, len, max });
    }
    Ok(())
}

/// Names and tokens end up in logs and metrics labels: visible ASCII only, no spaces or
/// control characters that could forge log lines.
fn visible_ascii(field: &'static str, s: &str, max: usize) -> Result<(), ControlError> {
    max_len(field, s.len(), max)?;
    if s.is_empty() {
        return Err(ControlError::Invalid {
            field,
            reason: "empty",
        });
    }
    if !s.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(ControlError::Invalid {
            field,
            reason: "not visible ASCII",
        });
    }
    Ok(())
}

fn session_id(field: &'static str, id: SessionId) -> Result<(), ControlError> {
    if id.0 == 0 {
        return Err(ControlError::Invalid {
            field,
            reason: "session id 0",
        });
    }
    Ok(())
}

fn session_key(field: &'static str, key: &SessionKey) -> Result<(), ControlError> {
    if key.0 == [0; 32] {
        return Err(ControlError::Invalid {
            field,
            reason: "all-zero key",
        });
    }
    Ok(())
}

/// serde encodes an IPv6 socket address as ip and port only, so a flow label or scope id
/// would silently vanish; refuse them instead. Port 0 is never a real destination.
fn addr(field: &'static str, a: &SocketAddr) -> Result<(), ControlError> {
    if a.port() == 0 {
        return Err(ControlError::Invalid {
            field,
            reason: "port 0",
        });
    }
    if let SocketAddr::V6(v6) = a
        && (v6.flowinfo() != 0 || v6.scope_id() != 0)
    {
        return Err(ControlError::Invalid {
            field,
            reason: "IPv6 flow info or scope id cannot be carried",
        });
    }
    Ok(())
}

fn fec_scheme(field: &'static str, fec: &FecScheme) -> Result<(), ControlError> {
    // One rule for every scheme: the FEC module's own shape check.
    fec.shape().map(|_| ()).map_err(|_| ControlError::Invalid {
        field,
        reason: "FEC parameters outside 1..=15",
    })
}

fn idle_timeout(field: &'static str, ms: u32) -> Result<(), ControlError> {
    if ms == 0 || ms > MAX_IDLE_TIMEOUT_MS {
        return Err(ControlError::Invalid {
            field,
            reason: "idle timeout outside 1..=3600000 ms",
        });
    }
    Ok(())
}

fn hops(field: &'static str, path: &[HopSpec]) -> Result<(), ControlError> {
    max_len(field, path.len(), MAX_PATH_HOPS)?;
    for hop in path {
        visible_ascii(field, &hop.node, MAX_NODE_NAME_LEN)?;
        addr(field, &hop.data_addr)?;
    }
    Ok(())
}

/// Deserialises a path without trusting the declared element count for preallocation:
/// postcard reports the count as a size hint, and serde's default would reserve up to a
/// megabyte for it. Capacity starts at [`MAX_PATH_HOPS`]; anything longer can only grow by
/// elements actually present in the (bounded) frame, and validation then refuses it.
fn de_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<HopSpec>, D::Error> {
    struct PathVisitor;
    impl<'de> serde::de::Visitor<'de> for PathVisitor {
        type Value = Vec<HopSpec>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence of hops")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut path = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PATH_HOPS));
            while let Some(hop) = seq.next_element()? {
                path.push(hop);
            }
            Ok(path)
        }
    }
    d.deserialize_seq(PathVisitor)
}
