//! The SessionActor's second path: the edge sets up a session's standby path with
//! `PathSetup` and binds it after the proxy's Ack; the proxy installs that path's relays; after
//! a failover the edge sets the dead path up again as the new standby, with backoff.
//!
//! The switch itself never waits for this actor: the data plane moves the game to the
//! standby at once and reports it (`DataEvent::PathSwitched`, `DataEvent::FailedOver`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use actix::prelude::*;

use lightspeed_mesh::dataplane::liveness::packet_gap;
use lightspeed_mesh::quic::PeerInfo;
use lightspeed_protocol::control::{Envelope, ErrorCode, HopSpec, Message, TraceContext};
use lightspeed_protocol::{SessionId, SessionKey};

use super::{REQUEST_TIMEOUT, SessionActor, SetupError, random_trace};
use crate::control::{ClientPool, decode, encode, error_reply};
use crate::discovery::{DiscoveryActor, LookupPeer, ViaOf};
use crate::route::Path;

/// How long after a failover the dead path is set up again as the standby. A crashed relay
/// leaves membership well within the routing policy's 30 s veto; 10 s lets a quick restart
/// (a supervisor bringing the process back) serve as the standby again soon.
pub const REARM_AFTER: Duration = Duration::from_secs(10);
/// Longest wait between attempts to set a dead path up again (doubling from
/// [`REARM_AFTER`]): a path that stays down costs one control request a minute.
pub const MAX_REARM: Duration = Duration::from_secs(60);

/// The paths an edge session was given, by path id, so a dead one can be set up again.
#[derive(Debug, Clone)]
pub(super) struct EdgePaths {
    pub(super) paths: [Option<Path>; 2],
}

/// The expected time between the game's downstream packets, from its profile; without a
/// profile, the keepalive interval (the active path is then judged as slowly as before).
pub fn downstream_gap(game: Option<&str>, keepalive: Duration) -> Duration {
    game.and_then(lightspeed_edge::profiles::profile)
        .map_or(keepalive, |p| packet_gap(p.downstream.pps))
}

/// Installs a path's relays, proxy side first, each forwarding towards the next hop; returns
/// the edge's first hop on that path. The last relay forwards to this proxy at the address its
/// own link claim says it reaches it at (`me` is this proxy's name), else at `proxy_data`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn install_chain(
    me: String,
    discovery: Addr<DiscoveryActor>,
    pool: std::sync::Arc<ClientPool>,
    request_id: u64,
    trace: Option<TraceContext>,
    session: SessionId,
    key: SessionKey,
    path: Vec<HopSpec>,
    proxy_data: SocketAddr,
    idle_timeout_ms: u32,
) -> Result<SocketAddr, SetupError> {
    let mut proxy_data = proxy_data;
    if let Some(last) = path.last() {
        let via = ViaOf {
            from: last.node.clone(),
            to: me,
        };
        if let Some(addr) = discovery.send(via).await? {
            proxy_data = addr;
        }
    }
    let (chain, first_hop) = crate::route::relay_chain(&path, proxy_data);
    for (node, upstream) in chain {
        let peer = discovery
            .send(LookupPeer(node))
            .await?
            .ok_or(SetupError::Unexpected)?;
        let install = Envelope::new(
            request_id,
            trace.clone(),
            Message::RelayInstall {
                session,
                key: key.clone(),
                upstream,
                idle_timeout_ms,
            },
        );
        let quic = pool.get(&peer, true).await?;
        let answer = decode(&quic.request(&encode(&install)?, REQUEST_TIMEOUT).await?)?;
        match answer.body {
            Message::Ack => {}
            Message::Error { code, message } => {
                return Err(SetupError::Refused { code, message });
            }
            _ => return Err(SetupError::Unexpected),
        }
    }
    Ok(first_hop)
}

impl SessionActor {
    /// Edge: after `delay`, asks the proxy to set up path `path_id` of `session` and binds it
    /// on the Ack. A failure is retried with doubling delay while the session lives.
    pub(super) fn setup_path(
        &mut self,
        session: SessionId,
        path_id: u8,
        path: Path,
        delay: Duration,
        ctx: &mut Context<Self>,
    ) {
        let request_id = self.next_request;
        self.next_request += 1;
        let pool = std::sync::Arc::clone(&self.pool);
        let (hops, proxy, first_hop) = (path.hops(), path.proxy.clone(), path.first_hop());
        let request = async move {
            tokio::time::sleep(delay).await;
            let env = Envelope::new(
                request_id,
                random_trace(),
                Message::PathSetup {
                    session,
                    path_id,
                    path: hops,
                },
            );
            let quic = pool.get(&proxy, false).await?;
            let reply = decode(&quic.request(&encode(&env)?, REQUEST_TIMEOUT).await?)?;
            match reply.body {
                Message::Ack => Ok(()),
                Message::Error { code, message } => Err(SetupError::Refused { code, message }),
                _ => Err(SetupError::Unexpected),
            }
        };
        ctx.spawn(request.into_actor(self).map(move |res, act, ctx| {
            if act.dp.table.get(session).is_none() {
                return;
            }
            match res {
                Ok(()) if act.dp.set_standby(session, path_id, first_hop) => {
                    tracing::info!(session = %session, path_id, %first_hop, "standby path set up");
                }
                Ok(()) => {}
                Err(e) => {
                    let retry = (delay * 2).clamp(REARM_AFTER, MAX_REARM);
                    tracing::warn!(session = %session, path_id, error = %e, ?retry, "standby path set-up failed");
                    act.setup_path(session, path_id, path, retry, ctx);
                }
            }
        }));
    }

    /// Edge: the data plane moved `session` from path `from` to its standby `to`.
    pub(super) fn on_switched(
        &mut self,
        session: SessionId,
        from: u8,
        to: u8,
        detect: Duration,
        ctx: &mut Context<Self>,
    ) {
        tracing::warn!(
            session = %session,
            from,
            to,
            detect_ms = detect.as_secs_f64() * 1e3,
            "path went silent; game moved to the standby"
        );
        self.tell_route(session, crate::route_auto::PathEventKind::Switched { to });
        if self.auto_routed() {
            // The route actor vetoes the dead path and sets up a fresh standby itself.
            return;
        }
        let dead = self
            .edge_paths
            .get(&session)
            .and_then(|p| p.paths.get(usize::from(from)).cloned().flatten());
        if let Some(path) = dead {
            self.setup_path(session, from, path, REARM_AFTER, ctx);
        }
    }

    /// Proxy: installs the relays of path `path_id` of a session this peer requested.
    pub(super) fn path_setup(
        &mut self,
        peer: &PeerInfo,
        request_id: u64,
        trace: Option<TraceContext>,
        session: SessionId,
        path: Vec<HopSpec>,
    ) -> ResponseActFuture<Self, Envelope> {
        let refuse = |code, message: &str| -> ResponseActFuture<Self, Envelope> {
            Box::pin(actix::fut::ready(error_reply(request_id, code, message)))
        };
        if self.requesters.get(&session) != Some(&peer.addr) {
            return refuse(
                ErrorCode::UnknownSession,
                "no session of this connection has that id",
            );
        }
        let Some(entry) = self.dp.table.get(session) else {
            return refuse(ErrorCode::UnknownSession, "session is gone");
        };
        let idle_ms = self.spec.limits.idle_timeout.as_millis().min(3_600_000) as u32;
        let install = install_chain(
            self.spec.name.clone(),
            self.discovery.clone(),
            std::sync::Arc::clone(&self.pool),
            request_id,
            trace,
            session,
            entry.key.clone(),
            path,
            self.advertise,
            idle_ms,
        );
        Box::pin(
            install
                .into_actor(self)
                .map(move |res, _act, _ctx| match res {
                    Ok(_) => Envelope::new(request_id, None, Message::Ack),
                    Err(e) => {
                        tracing::warn!(session = %session, error = %e, "path set-up failed");
                        let code = match e {
                            SetupError::Refused { code, .. } => code,
                            _ => ErrorCode::Internal,
                        };
                        error_reply(request_id, code, e.to_string())
                    }
                }),
        )
    }

    /// Forgets the path bookkeeping of sessions no longer in the table.
    pub(super) fn prune_paths(&mut self) {
        let table = &self.dp.table;
        self.edge_paths.retain(|id, _| table.get(*id).is_some());
        self.requesters.retain(|id, _| table.get(*id).is_some());
    }
}

/// Per-session bookkeeping maps of the SessionActor.
pub(super) type Requesters = HashMap<SessionId, SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_active_path_is_judged_by_the_games_downstream_rate() {
        let keepalive = Duration::from_millis(500);
        // cs2 sends 64 packets/s downstream: a 15.625 ms gap, a 46.875 ms threshold.
        assert_eq!(
            downstream_gap(Some("cs2"), keepalive),
            Duration::from_micros(15_625)
        );
        assert_eq!(downstream_gap(None, keepalive), keepalive);
        assert_eq!(downstream_gap(Some("no-such-game"), keepalive), keepalive);
    }
}
