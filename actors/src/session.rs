//! SessionActor: the session lifecycle of every role.
//!
//! - **edge**: a new game flow (reported by the redirect loop) → path from the RouteActor and
//!   FEC proposal from the FecActor → `SessionRequest` over QUIC with the client token →
//!   `SessionGrant` (id, key, first hop) → the session is installed in the data-plane table
//!   and binds itself through the path.
//! - **proxy**: admits or refuses a request (pure [`crate::admission`]), installs transit
//!   entries on the path's relays over mutual-TLS QUIC, opens a per-session egress socket and
//!   installs the session; refusals carry a reason code.
//! - **relay**: installs transit entries, only for requests from authenticated mesh nodes.
//!
//! It also expires idle sessions and closes every session on shutdown. The invariant of its
//! loop: the data plane's events and control requests are handled as they arrive; any await
//! (QUIC, socket set-up) runs as a spawned actor future whose result is applied back on the
//! actor, so the table is only written from here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use rand::Rng;

use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::edge::{EdgeSession, EdgeTiming};
use lightspeed_mesh::dataplane::endpoint::Endpoint;
use lightspeed_mesh::dataplane::io::{DataEvent, DataPlane, bind_udp};
use lightspeed_mesh::dataplane::limiter::TokenBucket;
use lightspeed_mesh::dataplane::link_probe::is_link_probe;
use lightspeed_mesh::dataplane::proxy::ProxySession;
use lightspeed_mesh::dataplane::relay::RelayState;
use lightspeed_mesh::quic::{PeerIdentity, PeerInfo};
use lightspeed_protocol::control::{
    ClientToken, Envelope, ErrorCode, HopSpec, Message, TraceContext,
};
use lightspeed_protocol::fec::{FecScheme, new_decoder, new_encoder};
use lightspeed_protocol::{SessionId, SessionKey};

use crate::admission::{Admission, Request};
use crate::control::{ClientPool, decode, encode, error_reply};
use crate::discovery::DiscoveryActor;
use crate::fec_actor::{AcceptFec, FecActor, PeerFec, ProposeFec, SessionUp};
use crate::fec_policy::{self, DECODER_SLOTS};
use crate::route::{RouteActor, RouteFor};
use crate::route_auto::{PathEventKind, Track};
use crate::session_view::{SessionRecord, SessionRole};
use crate::spec::{NodeSpec, SharedRoles};
use lightspeed_mesh::identity::{MeshTrust, TokenVerifier};

#[path = "session_paths.rs"]
mod paths;
#[path = "session_route.rs"]
mod route_moves;
pub use paths::{MAX_REARM, REARM_AFTER, downstream_gap};

/// How long a control request may take before the set-up is abandoned.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Burst allowance of the per-session rate limit: a quarter second at the configured rate,
/// enough for a game's burst after a hitch without letting a flood through.
const BURST_DIVISOR: u32 = 4;

/// Why an edge could not set a session up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// No path.
    #[error("no route: {0}")]
    Route(#[from] crate::route::RouteError),
    /// An actor is gone (shutdown).
    #[error("actor unavailable")]
    Mailbox(#[from] MailboxError),
    /// QUIC failed.
    #[error("control connection: {0}")]
    Quic(#[from] lightspeed_mesh::quic::QuicError),
    /// A frame did not encode or decode.
    #[error("control message: {0}")]
    Control(#[from] lightspeed_protocol::control::ControlError),
    /// The proxy refused.
    #[error("refused by the proxy ({code:?}): {message}")]
    Refused {
        /// Its reason code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// The peer answered something else.
    #[error("unexpected reply")]
    Unexpected,
    /// FEC codec construction failed.
    #[error("FEC: {0}")]
    Fec(#[from] lightspeed_protocol::fec::FecError),
    /// The data-plane table refused the session.
    #[error("session table: {0}")]
    Table(#[from] lightspeed_mesh::dataplane::table::TableError),
    /// A socket could not be opened.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

type Codecs = (
    Option<Box<dyn lightspeed_protocol::fec::FecEncoder>>,
    Option<Box<dyn lightspeed_protocol::fec::FecDecoder>>,
);

/// Both halves of a scheme's codec (`None` when FEC is off).
pub fn codecs(scheme: FecScheme, deadline: Duration) -> Result<Codecs, SetupError> {
    if scheme == FecScheme::Off {
        return Ok((None, None));
    }
    Ok((
        Some(new_encoder(scheme, deadline)?),
        Some(new_decoder(scheme, DECODER_SLOTS)?),
    ))
}

/// The game profile's packet rate, upstream or downstream.
fn game_pps(game: Option<&str>, upstream: bool) -> Option<u32> {
    let p = lightspeed_edge::profiles::profile(game?)?;
    Some(if upstream {
        p.upstream.pps
    } else {
        p.downstream.pps
    })
}

fn random_trace() -> Option<TraceContext> {
    let mut rng = rand::rng();
    TraceContext::new(rng.random(), rng.random(), TraceContext::FLAG_SAMPLED).ok()
}

/// The session actor of a node.
pub struct SessionActor {
    spec: Arc<NodeSpec>,
    dp: Arc<DataPlane>,
    fec: Addr<FecActor>,
    route: Addr<RouteActor>,
    discovery: Addr<DiscoveryActor>,
    pool: Arc<ClientPool>,
    admission: Admission,
    advertise: SocketAddr,
    roles: SharedRoles,
    next_request: u64,
    /// Edge: each session's paths by id, to set a dead one up again.
    edge_paths: std::collections::HashMap<SessionId, paths::EdgePaths>,
    /// Proxy: the QUIC peer that requested each session (only it may add paths).
    requesters: paths::Requesters,
    /// Edge, automatic routing: the slot each session moves to once it binds.
    activations: std::collections::HashMap<SessionId, u8>,
}

impl SessionActor {
    /// Wires the actor to its data plane and sibling actors.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: Arc<NodeSpec>,
        dp: Arc<DataPlane>,
        fec: Addr<FecActor>,
        route: Addr<RouteActor>,
        discovery: Addr<DiscoveryActor>,
        pool: Arc<ClientPool>,
        advertise: SocketAddr,
        roles: SharedRoles,
    ) -> SessionActor {
        let admission = Admission {
            tokens: spec.proxy.tokens.clone(),
            policy: spec.proxy.policy.clone(),
            max_sessions: spec.limits.max_sessions,
            // The node loaded this CA certificate at start; without it only static tokens work.
            ca_tokens: MeshTrust::load(&spec.tls.ca_cert)
                .ok()
                .and_then(|t| TokenVerifier::new(&t).ok()),
        };
        SessionActor {
            spec,
            dp,
            fec,
            route,
            discovery,
            pool,
            admission,
            advertise,
            roles,
            next_request: 1,
            edge_paths: std::collections::HashMap::new(),
            requesters: paths::Requesters::new(),
            activations: std::collections::HashMap::new(),
        }
    }

    /// Whether the node holds `role` now (roles change at runtime).
    fn holds(&self, role: Role) -> bool {
        self.roles.read().contains(&role)
    }

    fn limiter(&self) -> TokenBucket {
        let pps = self.spec.limits.per_session_pps;
        TokenBucket::new(pps, (pps / BURST_DIVISOR).max(16), self.dp.clock.now())
    }

    fn fresh_id(&self) -> SessionId {
        let mut rng = rand::rng();
        loop {
            let id = SessionId(rng.random());
            // The top of the id space belongs to link probes (`link_probe::LINK_PROBE_BASE`).
            if id.0 != 0 && !is_link_probe(id) && self.dp.table.get(id).is_none() {
                return id;
            }
        }
    }

    fn start_edge_session(&mut self, redirect: usize, client: SocketAddr, ctx: &mut Context<Self>) {
        let Some(edge) = self.spec.edge.clone() else {
            return;
        };
        let Some(rspec) = edge.redirects.get(redirect).cloned() else {
            return;
        };
        let request_id = self.next_request;
        self.next_request += 1;
        let game = rspec.game.clone();
        let (route, fec, pool) = (self.route.clone(), self.fec.clone(), Arc::clone(&self.pool));
        let (me, game_pps) = (
            self.spec.name.clone(),
            game_pps(rspec.game.as_deref(), true),
        );
        let setup = async move {
            let routes = route
                .send(RouteFor {
                    target: rspec.target,
                    game: rspec.game.clone(),
                })
                .await??;
            let (path, standby, ticket) = (routes.primary, routes.standby, routes.ticket);
            let (scheme, deadline) = fec
                .send(ProposeFec {
                    game: rspec.game.clone(),
                })
                .await?;
            let env = Envelope::new(
                request_id,
                random_trace(),
                Message::SessionRequest {
                    token: ClientToken(edge.token.clone()),
                    target: rspec.target,
                    game: rspec.game.clone(),
                    fec: scheme,
                    path: path.hops(),
                },
            );
            let quic = pool.get(&path.proxy, false).await?;
            let reply = decode(&quic.request(&encode(&env)?, REQUEST_TIMEOUT).await?)?;
            match reply.body {
                Message::SessionGrant {
                    session,
                    key,
                    data_addr,
                    fec,
                    ..
                } => {
                    // Automatic routing knows the address the edge itself reaches the first
                    // hop at (its probes'); the static path keeps the proxy's answer.
                    let first = if ticket.is_some() {
                        path.first_hop()
                    } else {
                        data_addr
                    };
                    Ok((
                        (session, key, first, fec, deadline, env.trace, ticket),
                        [Some(path), standby],
                    ))
                }
                Message::Error { code, message } => Err(SetupError::Refused { code, message }),
                _ => Err(SetupError::Unexpected),
            }
        };
        let keepalive = edge.keepalive;
        let multipath = edge.multipath;
        ctx.spawn(setup.into_actor(self).map(move |res, act, ctx| {
            let installed = res.and_then(|(granted, paths)| {
                let (id, key, first_hop, scheme, deadline, trace, ticket) = granted;
                let now = act.dp.clock.now();
                let (enc, dec) = codecs(scheme, deadline)?;
                let mut timing = EdgeTiming::new(
                    keepalive,
                    // A few keepalives without any answer on any path: the session is dead.
                    keepalive * 3,
                    downstream_gap(game.as_deref(), keepalive),
                );
                timing.multipath.mode = multipath;
                let session = EdgeSession::new(
                    Endpoint::new(id, enc, dec, now),
                    first_hop,
                    rand::rng().random(),
                    timing,
                    now,
                );
                act.dp.install_edge(id, key, session, redirect, client)?;
                if let [Some(path), _] = &paths {
                    let mut names = vec![me];
                    names.extend(path.relays.iter().map(|r| r.name.clone()));
                    names.push(path.proxy.name.clone());
                    act.fec.do_send(SessionUp {
                        record: SessionRecord::new(id, SessionRole::Edge, names, scheme, now),
                        proxy: Some(path.proxy.clone()),
                        game_pps,
                    });
                }
                if let [_, Some(standby)] = &paths {
                    act.setup_path(id, 1, standby.clone(), Duration::ZERO, ctx);
                }
                if let (Some(ticket), [Some(path), _]) = (ticket, &paths) {
                    act.route.do_send(Track {
                        session: id,
                        ticket,
                        proxy: path.proxy.clone(),
                        mover: ctx.address().recipient(),
                    });
                }
                act.edge_paths.insert(id, paths::EdgePaths { paths });
                tracing::info!(
                    session = %id,
                    %client,
                    %first_hop,
                    fec = ?scheme,
                    trace_id = trace.map(|t| t.to_traceparent()).unwrap_or_default(),
                    "edge session up"
                );
                Ok(())
            });
            if let Err(e) = installed {
                let retry_in = act
                    .dp
                    .table
                    .fail_flow((redirect, client), act.dp.clock.now());
                tracing::warn!(%client, error = %e, ?retry_in, "session set-up failed");
            }
        }));
    }

    fn handle_request(
        &mut self,
        peer: PeerInfo,
        env: Envelope,
    ) -> ResponseActFuture<Self, Envelope> {
        let id = env.request_id;
        let reply =
            |e: Envelope| -> ResponseActFuture<Self, Envelope> { Box::pin(actix::fut::ready(e)) };
        match env.body {
            Message::Ping { nonce } => reply(Envelope::new(id, None, Message::Pong { nonce })),
            Message::SessionRequest {
                token,
                target,
                game,
                fec,
                path,
            } if self.holds(Role::Proxy) => {
                self.admit(id, peer.addr, env.trace, token, target, game, fec, path)
            }
            Message::PathSetup { session, path, .. } if self.holds(Role::Proxy) => {
                self.path_setup(&peer, id, env.trace, session, path)
            }
            Message::FecSwitch { .. } | Message::FecReport { .. } if self.holds(Role::Proxy) => {
                let fec = self.fec.clone();
                let fallback = error_reply(id, ErrorCode::Internal, "node shutting down");
                Box::pin(
                    async move { fec.send(PeerFec { peer, env }).await.unwrap_or(fallback) }
                        .into_actor(self),
                )
            }
            Message::RelayInstall {
                session,
                key,
                upstream,
                ..
            } if self.holds(Role::Relay) => {
                if !matches!(peer.identity, PeerIdentity::Node(_)) {
                    return reply(error_reply(
                        id,
                        ErrorCode::BadToken,
                        "relay installs are for mesh nodes only",
                    ));
                }
                if is_link_probe(session) {
                    return reply(error_reply(
                        id,
                        ErrorCode::Malformed,
                        "session id in the link-probe range",
                    ));
                }
                let now = self.dp.clock.now();
                let relay = RelayState::new(upstream, self.limiter(), now);
                reply(match self.dp.install_relay(session, key, relay) {
                    Ok(()) => {
                        tracing::info!(session = %session, %upstream, "relay entry installed");
                        Envelope::new(id, None, Message::Ack)
                    }
                    Err(e) => error_reply(id, ErrorCode::SessionLimit, e.to_string()),
                })
            }
            Message::TopologySync { from } => {
                if !matches!(peer.identity, PeerIdentity::Node(_)) {
                    return reply(error_reply(
                        id,
                        ErrorCode::BadToken,
                        "topology sync is for mesh nodes only",
                    ));
                }
                let page = self.discovery.send(crate::discovery::SyncPage { from });
                Box::pin(page.into_actor(self).map(move |answer, _, _| match answer {
                    Ok(Some((items, next))) => {
                        Envelope::new(id, None, Message::TopologyItems { items, next })
                    }
                    Ok(None) => error_reply(id, ErrorCode::Malformed, "this node has no mesh"),
                    Err(_) => error_reply(id, ErrorCode::Internal, "node shutting down"),
                }))
            }
            _ => reply(error_reply(
                id,
                ErrorCode::Malformed,
                "request not served by this node's roles",
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        request_id: u64,
        requester: SocketAddr,
        trace: Option<TraceContext>,
        token: ClientToken,
        target: SocketAddr,
        game: Option<String>,
        proposed: FecScheme,
        path: Vec<HopSpec>,
    ) -> ResponseActFuture<Self, Envelope> {
        let decision = self.admission.decide(&Request {
            token: &token.0,
            target,
            sessions: self.dp.table.len(),
            now_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        });
        if let Err((code, message)) = decision {
            tracing::info!(%target, ?code, "session refused");
            return Box::pin(actix::fut::ready(error_reply(request_id, code, message)));
        }
        let id = self.fresh_id();
        let key = SessionKey(rand::rng().random());
        let idle_ms = self.spec.limits.idle_timeout.as_millis().min(3_600_000) as u32;
        let (discovery, fec, pool) = (
            self.discovery.clone(),
            self.fec.clone(),
            Arc::clone(&self.pool),
        );
        let advertise = self.advertise;
        let egress_ip = self.spec.proxy.egress_bind.unwrap_or(match target {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        let relay_key = key.clone();
        let me = self.spec.name.clone();
        let mut names = vec![requester.to_string()];
        names.extend(path.iter().map(|h| h.node.clone()));
        names.push(self.spec.name.clone());
        let setup = async move {
            let scheme = fec.send(AcceptFec(proposed)).await?;
            let first_hop = paths::install_chain(
                me, discovery, pool, request_id, trace, id, relay_key, path, advertise, idle_ms,
            )
            .await?;
            let egress = bind_udp(SocketAddr::new(egress_ip, 0))?;
            egress.connect(target).await?;
            Ok((scheme, egress, first_hop))
        };
        Box::pin(setup.into_actor(self).map(move |res, act, _ctx| {
            let granted = res.and_then(|(scheme, egress, first_hop)| {
                let now = act.dp.clock.now();
                let pps = game
                    .as_deref()
                    .and_then(lightspeed_edge::profiles::profile)
                    .map(|p| p.downstream.pps);
                let deadline = fec_policy::auto_deadline(pps);
                let (enc, dec) = codecs(scheme, deadline)?;
                let session = ProxySession::new(Endpoint::new(id, enc, dec, now), act.limiter());
                act.dp
                    .install_proxy(id, key.clone(), session, Arc::new(egress))?;
                let mut record = SessionRecord::new(id, SessionRole::Proxy, names, scheme, now);
                record.edge_control = Some(requester);
                act.fec.do_send(SessionUp {
                    record,
                    proxy: None,
                    game_pps: pps,
                });
                act.requesters.insert(id, requester);
                tracing::info!(session = %id, %target, fec = ?scheme, "proxy session admitted");
                Ok(Envelope::new(
                    request_id,
                    None,
                    Message::SessionGrant {
                        session: id,
                        key: key.clone(),
                        data_addr: first_hop,
                        fec: scheme,
                        idle_timeout_ms: idle_ms,
                    },
                ))
            });
            granted.unwrap_or_else(|e| {
                tracing::warn!(%target, error = %e, "session admission failed");
                let code = match e {
                    SetupError::Refused { code, .. } => code,
                    _ => ErrorCode::Internal,
                };
                error_reply(request_id, code, e.to_string())
            })
        }))
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Idle expiry: a tenth of the timeout keeps a session's lifetime within 10 % of it.
        let every = (self.spec.limits.idle_timeout / 10).max(Duration::from_millis(100));
        let timeout = self.spec.limits.idle_timeout;
        ctx.run_interval(every, move |act, _ctx| {
            for id in act.dp.expire_idle(timeout) {
                tracing::info!(session = %id, "session expired (idle)");
            }
            act.prune_paths();
        });
    }
}

/// An event from the data plane.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Event(pub DataEvent);

impl actix::Handler<Event> for SessionActor {
    type Result = ();
    fn handle(&mut self, msg: Event, ctx: &mut Context<Self>) {
        match msg.0 {
            DataEvent::NewFlow { redirect, client } => {
                self.start_edge_session(redirect, client, ctx)
            }
            DataEvent::Bound(id) => tracing::debug!(session = %id, "session bound"),
            DataEvent::PathDead(id) => {
                // Until routing can move the session to another path, a dead path ends it:
                // the game's next packet sets up a fresh session (through a restarted proxy,
                // say) instead of waiting for the idle timeout.
                self.dp.remove_session(id);
                tracing::warn!(
                    session = %id,
                    "path stopped answering; session dropped, the next game packet sets up a new one"
                );
            }
            DataEvent::Closed(id) => tracing::info!(session = %id, "session closed by peer"),
            DataEvent::PathSwitched {
                session,
                from,
                to,
                detect,
            } => self.on_switched(session, from, to, detect, ctx),
            DataEvent::FailedOver {
                session,
                path,
                record,
            } => {
                tracing::info!(
                    session = %session,
                    path,
                    detect_ms = record.detect.as_secs_f64() * 1e3,
                    total_ms = record.total.as_secs_f64() * 1e3,
                    "failover complete: game packets back on the standby"
                );
                self.tell_route(session, PathEventKind::FailedOver { to: path });
            }
            DataEvent::SwitchUndone { session, path } => {
                tracing::info!(
                    session = %session,
                    path,
                    "failover undone: the path answered again at once (a delay spike, not a crash)"
                );
                self.tell_route(session, PathEventKind::Undone { to: path });
            }
            DataEvent::StandbyBound { session, path } => {
                tracing::debug!(session = %session, path, "standby path bound");
                self.standby_bound(session, path);
            }
        }
    }
}

/// A control-plane request from a QUIC peer.
#[derive(Debug, Message)]
#[rtype(result = "Envelope")]
pub struct Control {
    /// Who sent it.
    pub peer: PeerInfo,
    /// What it says.
    pub env: Envelope,
}

impl actix::Handler<Control> for SessionActor {
    type Result = ResponseActFuture<Self, Envelope>;
    fn handle(&mut self, msg: Control, _ctx: &mut Context<Self>) -> Self::Result {
        self.handle_request(msg.peer, msg.env)
    }
}

/// Closes every session (authenticated Close to each peer); returns how many.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl actix::Handler<CloseAll> for SessionActor {
    type Result = usize;
    fn handle(&mut self, _msg: CloseAll, _ctx: &mut Context<Self>) -> usize {
        let ids: Vec<SessionId> = self.dp.table.entries().iter().map(|e| e.id).collect();
        ids.into_iter()
            .filter(|id| self.dp.close_session(*id))
            .count()
    }
}

/// Stops the actor (after [`CloseAll`], or instead of it for a crash): it drops its data-plane
/// handle so the node's sockets are released.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Stop;

impl actix::Handler<Stop> for SessionActor {
    type Result = ();
    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
