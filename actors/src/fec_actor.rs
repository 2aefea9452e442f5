//! FecActor: the FEC of every session — the scheme a new session starts with (pure
//! [`fec_policy`]), and, with the edge setting `auto`, the adaptive loop that changes it while
//! the session runs ([`crate::fec_control`], agreed with the proxy over QUIC).
//!
//! Once a period (1 s) it refreshes the [`SessionBook`] from the data plane (logging the
//! summary of every session that ended) and, for each adaptive edge session, either exchanges
//! `FecReport`s with the proxy and feeds the controller, or (re)sends the switch the
//! controller decided. Invariant of its loop: at most one request per session is in flight;
//! every reply is applied back on the actor, which alone writes FEC changes to the edge's
//! endpoints. At a proxy it answers the edge's requests ([`crate::fec_serve`]).
//!
//! Cross-path parity: each round the edge's standby figures (probe loss, extra delay) go to
//! the controller while the standby is bound and usable. Where parity travels is the edge's
//! business alone (the proxy mirrors where the edge's repairs arrive), so a change of
//! placement with the same scheme is applied at once without a `FecSwitch`; a change of
//! scheme takes its placement when the proxy accepts it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use lightspeed_mesh::dataplane::io::DataPlane;
use lightspeed_mesh::quic::PeerInfo;
use lightspeed_protocol::control::{Envelope, LinkReport, Message};
use lightspeed_protocol::fec::FecScheme;
use lightspeed_protocol::{Micros, SessionId};

use crate::control::{ClientPool, decode, encode};
use crate::fec_control::{FecControl, SecondPath};
use crate::fec_policy;
use crate::fec_serve::{self, apply_edge_switch, with_endpoint};
use crate::health;
use crate::routing::adaptive_fec::{FecConfig, Placement};
use crate::session::REQUEST_TIMEOUT;
use crate::session_view::{SessionBook, SessionRecord, log_summary, scheme_name};
use crate::spec::{FecSetting, PeerSpec};

/// What the adaptive loop needs of the node.
pub struct Wiring {
    /// The data plane whose sessions it reads and changes.
    pub dp: Arc<DataPlane>,
    /// QUIC clients (the edge's connection to its proxy).
    pub pool: Arc<ClientPool>,
    /// Where session records live.
    pub book: SessionBook,
    /// Thresholds of the FEC policy.
    pub config: FecConfig,
    /// How often figures are refreshed and exchanged. 1 s: the loss window's sample.
    pub period: Duration,
}

struct EdgeFec {
    control: FecControl,
    proxy: PeerSpec,
    busy: bool,
}

/// Chooses and adapts FEC per session.
pub struct FecActor {
    setting: FecSetting,
    deadline: Duration,
    wiring: Option<Wiring>,
    edges: HashMap<SessionId, EdgeFec>,
    next_request: u64,
}

impl std::fmt::Debug for FecActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FecActor")
            .field("setting", &self.setting)
            .field("adaptive_sessions", &self.edges.len())
            .finish_non_exhaustive()
    }
}

impl FecActor {
    /// An actor applying `setting` to new sessions, with `deadline` for explicitly configured
    /// block codes; no adaptation (nothing to read figures from).
    pub fn new(setting: FecSetting, deadline: Duration) -> FecActor {
        FecActor {
            setting,
            deadline,
            wiring: None,
            edges: HashMap::new(),
            next_request: 1,
        }
    }

    /// [`FecActor::new`] wired to the node: keeps the session book and, for `auto`, adapts.
    pub fn wired(setting: FecSetting, deadline: Duration, wiring: Wiring) -> FecActor {
        FecActor {
            wiring: Some(wiring),
            ..FecActor::new(setting, deadline)
        }
    }

    /// Refreshes the book from the data plane; logs and forgets the sessions that ended.
    fn refresh(&mut self) {
        // A relay records nothing: skip reading its (possibly large) table.
        let Some(w) = self.wiring.as_ref().filter(|w| !w.book.is_empty()) else {
            return;
        };
        let now = w.dp.clock.now();
        for ended in w.book.refresh(&health::snapshot(&w.dp.table)) {
            log_summary(&ended, now);
            self.edges.remove(&ended.id);
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.refresh();
        let idle: Vec<SessionId> = self
            .edges
            .iter()
            .filter(|(_, e)| !e.busy)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            match self.edges.get(&id).and_then(|e| e.control.pending()) {
                Some(p) => self.send_switch(id, p.scheme, p.from_seq, ctx),
                None => self.exchange_report(id, ctx),
            }
        }
    }

    /// Sends `body` to the proxy of edge session `id`; `then` runs on the actor with the
    /// answer (the session is marked idle again first).
    fn request(
        &mut self,
        id: SessionId,
        body: Message,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut Self, Result<Message, String>, &mut Context<Self>) + 'static,
    ) {
        let (Some(w), Some(edge)) = (&self.wiring, self.edges.get_mut(&id)) else {
            return;
        };
        edge.busy = true;
        let env = Envelope::new(self.next_request, None, body);
        self.next_request += 1;
        let (pool, proxy) = (Arc::clone(&w.pool), edge.proxy.clone());
        let fut = async move {
            let frame = encode(&env).map_err(|e| e.to_string())?;
            let quic = pool.get(&proxy, false).await.map_err(|e| e.to_string())?;
            let answer = quic
                .request(&frame, REQUEST_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            decode(&answer).map(|e| e.body).map_err(|e| e.to_string())
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            if let Some(e) = act.edges.get_mut(&id) {
                e.busy = false;
                then(act, res, ctx);
            }
        }));
    }

    fn exchange_report(&mut self, id: SessionId, ctx: &mut Context<Self>) {
        let Some(local) = self.wiring.as_ref().and_then(|w| w.book.get(id)) else {
            return;
        };
        let body = Message::FecReport {
            session: id,
            report: local.local,
        };
        self.request(id, body, ctx, move |act, res, ctx| match res {
            Ok(Message::FecReport { report, .. }) => act.on_report(id, report, ctx),
            Ok(other) => tracing::debug!(session = %id, answer = ?other, "FEC report refused"),
            Err(e) => tracing::debug!(session = %id, error = %e, "FEC report failed"),
        });
    }

    fn on_report(&mut self, id: SessionId, remote: LinkReport, ctx: &mut Context<Self>) {
        let (Some(w), Some(edge)) = (&self.wiring, self.edges.get_mut(&id)) else {
            return;
        };
        let now = w.dp.clock.now();
        let Some(st) = fec_serve::stats(&w.dp, id) else {
            return;
        };
        let paths = fec_serve::with_edge(&w.dp, id, |s| {
            (s.paths_settled(now), s.standby_figures(now))
        });
        // Their data count as of answering, our deliveries now: aligned within the RTT.
        let local = w.book.update(id, |r| {
            r.local = LinkReport {
                peer_data_sent: remote.data_sent,
                delivered_then: st.delivered,
                ..fec_serve::report(&st, r.local)
            };
            r.remote = Some(remote);
            r.local
        });
        let Some(local) = local else {
            return;
        };
        if paths.is_some_and(|(settled, _)| !settled) {
            // A failover that may still be undone: which path is the standby may flip back
            // within the next packet. This round's figures stay in the book; the controller
            // takes the next round's (its counters are cumulative, nothing is lost).
            return;
        }
        let second = paths.and_then(|(_, figures)| figures).map(|f| SecondPath {
            loss_ppm: f.loss_ppm,
            extra_delay: f.extra_delay,
        });
        edge.control.set_second_path(second);
        let decided = edge.control.observe(now, &local, &remote);
        if let Some(est) = edge.control.estimate() {
            tracing::trace!(
                session = %id,
                loss_ppm = est.loss_ppm,
                mean_burst = est.mean_burst,
                pps = est.pps,
                second_path_loss_ppm = est.second_path_loss_ppm,
                current = %scheme_name(edge.control.current().scheme),
                "FEC estimate"
            );
        }
        let Some(choice) = decided else {
            return;
        };
        let in_use = w.book.get(id).map(|r| r.fec);
        if in_use == Some(choice.scheme) {
            // Only the parity's path changes: the edge's own business, at once.
            place_parity(&w.dp, id, choice.placement);
            tracing::info!(
                session = %id,
                scheme = %scheme_name(choice.scheme),
                second_path = choice.placement == Placement::SecondPath,
                second_path_loss_ppm = edge.control.estimate().and_then(|e| e.second_path_loss_ppm),
                predicted_residual = choice.residual,
                "FEC parity path changed"
            );
            return;
        }
        let Some(from_seq) = with_endpoint(&w.dp, id, |ep| ep.fec_switch_seq()) else {
            return;
        };
        edge.control.begin(choice.scheme, from_seq, now);
        if let Some(est) = edge.control.estimate() {
            tracing::debug!(
                session = %id,
                loss_ppm = est.loss_ppm,
                mean_burst = est.mean_burst,
                pps = est.pps,
                to = %scheme_name(choice.scheme),
                second_path = choice.placement == Placement::SecondPath,
                second_path_loss_ppm = est.second_path_loss_ppm,
                predicted_residual = choice.residual,
                "FEC switch decided"
            );
        }
        self.send_switch(id, choice.scheme, from_seq, ctx);
    }

    fn send_switch(
        &mut self,
        id: SessionId,
        scheme: FecScheme,
        from_seq: u32,
        ctx: &mut Context<Self>,
    ) {
        let body = Message::FecSwitch {
            session: id,
            fec: scheme,
            from_seq,
        };
        self.request(id, body, ctx, move |act, res, _ctx| {
            act.on_switch_answer(id, from_seq, res)
        });
    }

    fn on_switch_answer(&mut self, id: SessionId, own_from: u32, res: Result<Message, String>) {
        let (Some(w), Some(edge)) = (&self.wiring, self.edges.get_mut(&id)) else {
            return;
        };
        let now = w.dp.clock.now();
        let in_use = w.book.get(id).map_or(FecScheme::Off, |r| r.fec);
        match res {
            Ok(Message::FecSwitch {
                fec: accepted,
                from_seq: peer_from,
                ..
            }) => {
                let pps = Some(edge.control.pps());
                if let Err(e) = apply_edge_switch(&w.dp, id, accepted, pps, own_from, peer_from) {
                    tracing::warn!(session = %id, error = %e, "FEC switch not applied");
                    return;
                }
                edge.control.done(accepted, now);
                let placement = edge.control.current().placement;
                place_parity(&w.dp, id, placement);
                w.book.fec_changed(id, accepted, now);
                let est = edge.control.estimate();
                tracing::info!(
                    session = %id,
                    role = "edge",
                    from = %scheme_name(in_use),
                    to = %scheme_name(accepted),
                    second_path = placement == Placement::SecondPath,
                    loss_ppm = est.map(|e| e.loss_ppm),
                    pps = est.map(|e| e.pps),
                    "FEC scheme changed"
                );
            }
            Ok(other) => {
                // Refused: the proxy armed nothing, so both ends simply stay where they are
                // (the controller's state for it places parity with the data).
                edge.control.refused(in_use, now);
                place_parity(&w.dp, id, edge.control.current().placement);
                tracing::warn!(session = %id, answer = ?other, "FEC switch refused by the proxy");
            }
            // No answer: the proxy may have armed this switch point, so it is retried as is.
            Err(e) => tracing::debug!(session = %id, error = %e, "FEC switch unanswered; retrying"),
        }
    }
}

/// Puts edge session `id`'s FEC parity on its standby (cross-path parity) or behind the data.
fn place_parity(dp: &DataPlane, id: SessionId, placement: Placement) {
    let cross = placement == Placement::SecondPath;
    let _ = fec_serve::with_edge(dp, id, |s| s.set_cross_parity(cross));
}

impl Actor for FecActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(w) = &self.wiring {
            ctx.run_interval(w.period, |act, ctx| act.tick(ctx));
        }
    }
}

/// Stops the actor after a last refresh (summaries of the sessions that ended), releasing
/// its handle on the data plane.
impl Handler<crate::session::Stop> for FecActor {
    type Result = ();
    fn handle(&mut self, _msg: crate::session::Stop, ctx: &mut Context<Self>) {
        self.refresh();
        self.wiring = None;
        self.edges.clear();
        ctx.stop();
    }
}

/// The scheme and group deadline an edge proposes for a new session of `game`.
#[derive(Debug, Message)]
#[rtype(result = "(FecScheme, Duration)")]
pub struct ProposeFec {
    /// The game profile id, if known.
    pub game: Option<String>,
}

impl Handler<ProposeFec> for FecActor {
    type Result = MessageResult<ProposeFec>;
    fn handle(&mut self, msg: ProposeFec, _ctx: &mut Context<Self>) -> Self::Result {
        let pps = msg
            .game
            .as_deref()
            .and_then(lightspeed_edge::profiles::profile)
            .map(|p| p.upstream.pps);
        MessageResult(fec_policy::choose_with_deadline(
            self.setting,
            self.deadline,
            pps,
        ))
    }
}

/// A proxy's answer to an edge's proposal.
#[derive(Debug, Message)]
#[rtype(result = "FecScheme")]
pub struct AcceptFec(pub FecScheme);

impl Handler<AcceptFec> for FecActor {
    type Result = MessageResult<AcceptFec>;
    fn handle(&mut self, msg: AcceptFec, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(fec_policy::accept(msg.0))
    }
}

/// A session was installed: record it and, for an edge session under `auto`, adapt its FEC.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SessionUp {
    /// Its record.
    pub record: SessionRecord,
    /// At an edge: the proxy to negotiate with.
    pub proxy: Option<PeerSpec>,
    /// The game profile's packet rate, when known.
    pub game_pps: Option<u32>,
}

impl Handler<SessionUp> for FecActor {
    type Result = ();
    fn handle(&mut self, msg: SessionUp, _ctx: &mut Context<Self>) {
        let Some(w) = &self.wiring else {
            return;
        };
        let id = msg.record.id;
        if let (Some(proxy), FecSetting::Auto) = (msg.proxy, self.setting) {
            let now: Micros = w.dp.clock.now();
            let control = FecControl::new(w.config, msg.record.fec, msg.game_pps, now);
            self.edges.insert(
                id,
                EdgeFec {
                    control,
                    proxy,
                    busy: false,
                },
            );
        }
        w.book.insert(msg.record);
    }
}

/// An edge's FEC request to this proxy (`FecSwitch`, `FecReport`), from its control address.
#[derive(Debug, Message)]
#[rtype(result = "Envelope")]
pub struct PeerFec {
    /// Who sent it.
    pub peer: PeerInfo,
    /// The request.
    pub env: Envelope,
}

impl Handler<PeerFec> for FecActor {
    type Result = MessageResult<PeerFec>;
    fn handle(&mut self, msg: PeerFec, _ctx: &mut Context<Self>) -> Self::Result {
        let rid = msg.env.request_id;
        MessageResult(match &self.wiring {
            Some(w) => fec_serve::serve(&w.dp, &w.book, msg.peer.addr, msg.env, w.dp.clock.now()),
            None => crate::control::error_reply(
                rid,
                lightspeed_protocol::control::ErrorCode::Internal,
                "FEC changes are not served here",
            ),
        })
    }
}
