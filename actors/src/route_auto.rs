//! The route actor's automatic mode (`edge.route = "auto"`): plans a new session's path from
//! the gossiped topology and the edge's own probes, and re-plans every running session once a
//! probe round (1 s), moving it when its [`PathPolicy`] says so.
//!
//! A move sets the new path up on the session's standby slot (`PathSetup`), waits for its
//! Bind to be answered, then makes it active (`DataPlane::switch_path`); the old path stays
//! bound as the standby, so nothing in flight is lost. The standby slot otherwise holds the
//! cheapest path disjoint from the active one ([`Planner::plan`]), refilled when it is
//! missing, vetoed or no longer a candidate. A failover (`DataEvent::FailedOver`) vetoes the
//! dead path for the policy's veto period. Each round also records the direct path's RTT
//! in the session book (for `saved_ms`) and, with `edge.ml_record`, feeds the recorder.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use lightspeed_mesh::dataplane::table::SessionTable;
use lightspeed_protocol::{Micros, SessionId};

use crate::link_probe::LinkShare;
use crate::mesh_view::MeshView;
use crate::route::Path;
use crate::routing::ml::features::FeatureVec;
use crate::routing::ml::{Fallback, MlConfig, MlSelector, Recorder, RecorderConfig};
use crate::routing::paths::Path as RoutePath;
use crate::routing::planner::{PlannedPath, Planner, Round};
use crate::routing::policy::{Decision, PathPolicy, PolicyConfig, Reason};
use crate::routing::selector::{History, NearestSelector};
use crate::session_view::SessionBook;
use crate::spec::{PeerSpec, PolicyOverrides, RecordSink, RoutingSpec, SelectorKind};

/// New sessions planned but not yet tracked (set-up in flight); the oldest is dropped first.
/// A set-up takes one QUIC round trip, so 256 covers a burst of new flows.
const MAX_PENDING: usize = 256;
/// A move not finished after this is given up (a PathSetup times out after 5 s).
const MOVE_TIMEOUT: Duration = Duration::from_secs(10);
/// A failover is final once the data plane has not undone it for this long
/// (`lightspeed_mesh::dataplane::edge::UNDO_WINDOW`, 1 s: a delay spike, not a death).
const UNDO_WINDOW: Duration = lightspeed_mesh::dataplane::edge::UNDO_WINDOW;

/// What automatic routing reads and writes besides its own state.
#[derive(Clone)]
pub struct AutoWiring {
    /// The mesh view discovery refreshes (the topology snapshot).
    pub mesh: MeshView,
    /// The edge's own link measurements (fresher than its gossiped claim).
    pub links: Arc<LinkShare>,
    /// The session records (`/api/sessions`): switches and the direct RTT.
    pub book: SessionBook,
    /// The data-plane table, to forget ended sessions.
    pub table: Arc<SessionTable>,
}

impl std::fmt::Debug for AutoWiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AutoWiring")
    }
}

/// A session's path slot: which path it holds and how the data plane reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The path as the policy knows it.
    pub path: RoutePath,
    /// Node names from the first hop to the proxy.
    pub names: Vec<String>,
}

impl Slot {
    fn of(p: &PlannedPath) -> Slot {
        Slot {
            path: p.path,
            names: p.names().map(str::to_owned).collect(),
        }
    }
}

#[derive(Debug)]
struct Move {
    slot: u8,
    to: Slot,
    activate: bool,
    since: Micros,
    reason: Option<Reason>,
}

struct Routed {
    policy: PathPolicy,
    slots: [Option<Slot>; 2],
    active: u8,
    moving: Option<Move>,
    proxy: PeerSpec,
    mover: Recipient<MovePath>,
    /// A failover the data plane made: the slot it left and when. Confirmed (vetoed,
    /// counted) once [`UNDO_WINDOW`] passed without an undo.
    failover: Option<(u8, Micros)>,
}

struct Pending {
    ticket: u64,
    policy: PathPolicy,
    primary: Slot,
}

/// Automatic routing state of the route actor.
pub(crate) struct AutoRouter {
    wiring: AutoWiring,
    edge: String,
    planner: Planner,
    ml: Option<MlSelector>,
    use_ml: bool,
    recorder: Option<(Recorder, RecordSink)>,
    overrides: PolicyOverrides,
    round: Option<Round>,
    history: History,
    sessions: HashMap<SessionId, Routed>,
    pending: VecDeque<Pending>,
    next_ticket: u64,
    features: Vec<FeatureVec>,
}

impl AutoRouter {
    pub(crate) fn new(edge: &str, proxy: &str, spec: &RoutingSpec, wiring: AutoWiring) -> Self {
        let use_ml = spec.selector == SelectorKind::Ml;
        let ml = (use_ml || spec.record.is_some()).then(|| load_ml(spec, use_ml));
        AutoRouter {
            wiring,
            edge: edge.to_owned(),
            planner: Planner::new(edge, proxy),
            ml,
            use_ml,
            recorder: spec
                .record
                .clone()
                .map(|sink| (Recorder::new(RecorderConfig::default()), sink)),
            overrides: spec.policy,
            round: None,
            history: History::default(),
            sessions: HashMap::new(),
            pending: VecDeque::new(),
            next_ticket: 1,
            features: Vec::new(),
        }
    }

    fn now(&self) -> Micros {
        self.wiring.book.now()
    }

    /// Builds this round's candidates (ml observation, recording and forecast included).
    fn refresh_round(&mut self) {
        let own = self.wiring.links.measured();
        let round = {
            let view = self.wiring.mesh.read();
            view.topology.as_ref().map(|t| self.planner.round(t, &own))
        };
        let Some(mut round) = round else {
            return;
        };
        let wall = wall_clock();
        if let Some(ml) = &mut self.ml {
            ml.observe(wall, &round.candidates);
            if let Some((recorder, sink)) = &mut self.recorder {
                ml.features(&round.candidates, &mut self.features);
                let done = recorder.observe(wall, &round.candidates, &self.features);
                if !done.is_empty() {
                    (sink.0)(&done);
                }
            }
            if self.use_ml {
                ml.forecast(&mut round.candidates);
            }
        }
        self.round = Some(round);
    }

    /// The policy a new session of `game` starts with.
    fn policy_for(&self, game: Option<&str>) -> PathPolicy {
        let base = game
            .and_then(lightspeed_edge::profiles::profile)
            .map_or_else(PolicyConfig::default, PolicyConfig::for_profile);
        PathPolicy::new(self.overrides.apply(base))
    }

    /// Plans a new session: its primary path, remembered under the returned ticket until
    /// the session is tracked. `None` when no candidate is known yet.
    pub(crate) fn plan_new(&mut self, game: Option<&str>) -> Option<(u64, PlannedPath)> {
        if self.round.is_none() {
            self.refresh_round();
        }
        let now = self.now();
        let mut policy = self.policy_for(game);
        let round = self.round.as_ref()?;
        let plan = self
            .planner
            .plan(now, round, &mut policy, &NearestSelector, &self.history);
        let primary = plan.primary?;
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            ticket,
            policy,
            primary: Slot::of(&primary),
        });
        Some((ticket, primary))
    }

    /// A session set up on a path the planner did not choose (no candidates yet): the
    /// configured proxy, direct.
    pub(crate) fn fallback_ticket(&mut self, game: Option<&str>) -> u64 {
        let policy = self.policy_for(game);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        let proxy = self.planner.proxy_id();
        self.pending.push_back(Pending {
            ticket,
            policy,
            primary: Slot {
                path: RoutePath::direct(proxy),
                names: vec![self.planner.proxy().to_owned()],
            },
        });
        ticket
    }

    /// Starts re-planning `session`, set up under `ticket`.
    pub(crate) fn track(&mut self, msg: Track) {
        let Some(i) = self.pending.iter().position(|p| p.ticket == msg.ticket) else {
            return;
        };
        let Some(p) = self.pending.remove(i) else {
            return;
        };
        self.sessions.insert(
            msg.session,
            Routed {
                policy: p.policy,
                slots: [Some(p.primary), None],
                active: 0,
                moving: None,
                proxy: msg.proxy,
                mover: msg.mover,
                failover: None,
            },
        );
    }

    /// One probe round: re-plan every session and act on what changed.
    pub(crate) fn tick(&mut self) {
        let table = Arc::clone(&self.wiring.table);
        self.sessions.retain(|id, _| table.get(*id).is_some());
        self.refresh_round();
        let now = self.now();
        let Some(round) = self.round.take() else {
            return;
        };
        let direct = round.direct().map(|d| u64::from(d.rtt_us));
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.wiring.book.set_direct_rtt(id, direct);
            self.replan(now, id, &round);
        }
        self.round = Some(round);
    }

    fn replan(&mut self, now: Micros, id: SessionId, round: &Round) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if let Some((dead, at)) = s.failover {
            if now.saturating_since(at) < UNDO_WINDOW {
                return;
            }
            s.failover = None;
            if let Some(slot) = s.slots.get_mut(usize::from(dead)).and_then(Option::take) {
                s.policy.veto(now, slot.path);
                tracing::info!(session = %id, path = ?slot.names, "failed path vetoed");
            }
            let names = s
                .slots
                .get(usize::from(s.active))
                .and_then(|x| x.as_ref())
                .map(|x| x.names.clone());
            if let Some(names) = names {
                let mut path = vec![self.edge.clone()];
                path.extend(names);
                self.wiring.book.path_switched(id, path);
            }
        }
        if let Some(m) = &s.moving {
            if now.saturating_since(m.since) < MOVE_TIMEOUT {
                return;
            }
            tracing::warn!(session = %id, slot = m.slot, "path move timed out");
            s.moving = None;
        }
        let plan = self
            .planner
            .plan(now, round, &mut s.policy, &NearestSelector, &self.history);
        let reason = match plan.decision {
            Decision::Switch { reason, .. } => Some(reason),
            Decision::Stay | Decision::NoPath => None,
        };
        let active = usize::from(s.active.min(1));
        let standby = 1 - active;
        let slot_path = |k: usize| s.slots.get(k).and_then(|x| x.as_ref()).map(|x| x.path);
        if let Some(primary) = plan.primary.as_ref()
            && slot_path(active) != Some(primary.path)
        {
            let on_standby = slot_path(standby) == Some(primary.path);
            let to = Slot::of(primary);
            let path = (!on_standby).then(|| route_path(&s.proxy, primary));
            s.moving = Some(Move {
                slot: standby as u8,
                to,
                activate: true,
                since: now,
                reason,
            });
            s.mover.do_send(MovePath {
                session: id,
                slot: standby as u8,
                path,
                activate: true,
                loss_prior_ppm: Some(primary.candidate.metrics.loss_ppm),
            });
            return;
        }
        let standby_ok = slot_path(standby).is_some_and(|p| {
            !s.policy.is_vetoed(now, &p) && round.candidates.iter().any(|c| c.path == p)
        });
        if standby_ok {
            return;
        }
        if let Some(next) = plan.standby.as_ref()
            && slot_path(standby) != Some(next.path)
        {
            s.moving = Some(Move {
                slot: standby as u8,
                to: Slot::of(next),
                activate: false,
                since: now,
                reason: None,
            });
            s.mover.do_send(MovePath {
                session: id,
                slot: standby as u8,
                path: Some(route_path(&s.proxy, next)),
                activate: false,
                loss_prior_ppm: Some(next.candidate.metrics.loss_ppm),
            });
        }
    }

    /// The session actor finished (or failed) a move.
    pub(crate) fn moved(&mut self, msg: PathMoved) {
        let now = self.now();
        let Some(s) = self.sessions.get_mut(&msg.session) else {
            return;
        };
        let Some(m) = s.moving.take_if(|m| m.slot == msg.slot) else {
            return;
        };
        if !msg.ok {
            tracing::warn!(session = %msg.session, slot = m.slot, to = ?m.to.names, "path move failed; vetoing the path");
            s.policy.veto(now, m.to.path);
            return;
        }
        let names = m.to.names.clone();
        if let Some(slot) = s.slots.get_mut(usize::from(m.slot)) {
            *slot = Some(m.to);
        }
        if !m.activate {
            tracing::info!(session = %msg.session, slot = m.slot, standby = ?names, "standby path set up");
            return;
        }
        let from = s
            .slots
            .get(usize::from(s.active))
            .and_then(|x| x.as_ref())
            .map(|x| x.names.clone())
            .unwrap_or_default();
        s.active = m.slot;
        let mut path = vec![self.edge.clone()];
        path.extend(names.iter().cloned());
        self.wiring.book.path_switched(msg.session, path);
        tracing::info!(
            session = %msg.session,
            ?from,
            to = ?names,
            reason = ?m.reason,
            "path switched"
        );
    }

    /// The data plane moved a session by itself (failover, undo). A failover is acted on
    /// (the dead path vetoed, the switch counted) only once it can no longer be undone, so a
    /// delay spike neither vetoes a good path nor counts as a switch.
    pub(crate) fn data_event(&mut self, msg: PathEvent) {
        let now = self.now();
        let Some(s) = self.sessions.get_mut(&msg.session) else {
            return;
        };
        match msg.kind {
            PathEventKind::Switched { to } => {
                s.active = to.min(1);
                s.failover = Some((1 - s.active, now));
            }
            PathEventKind::Undone { to } => {
                s.active = to.min(1);
                s.failover = None;
            }
            PathEventKind::FailedOver { to } => {
                s.active = to.min(1);
                let dead = 1 - s.active;
                // Keep the time of the switch: the undo window runs from there.
                if s.failover.is_none_or(|(d, _)| d != dead) {
                    s.failover = Some((dead, now));
                }
            }
        }
    }
}

fn load_ml(spec: &RoutingSpec, use_ml: bool) -> MlSelector {
    let cfg = MlConfig::default();
    let ml = match &spec.ml_model {
        None => MlSelector::fallback(cfg, Fallback::NoModel),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => MlSelector::from_json(cfg, &text),
            Err(e) => {
                tracing::warn!(model = %path.display(), error = %e, "ml model unreadable");
                MlSelector::fallback(cfg, Fallback::NoModel)
            }
        },
    };
    if use_ml && let Some(why) = ml.fallback_reason() {
        tracing::warn!(reason = ?why, "ml selector falls back to nearest");
    }
    ml
}

fn wall_clock() -> Micros {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

/// A planned path as the session actor sets it up: relays at the addresses the previous
/// hop reaches them at, the proxy (control connection as looked up) at the address the edge
/// reaches it at when direct. Relays' control addresses are never used by the edge (the proxy
/// installs them, looking them up itself), so their data address stands in.
pub(crate) fn route_path(proxy: &PeerSpec, p: &PlannedPath) -> Path {
    Path {
        proxy: PeerSpec {
            data: p.proxy_addr,
            ..proxy.clone()
        },
        relays: p
            .relays
            .iter()
            .map(|(name, data)| PeerSpec {
                name: name.clone(),
                control: *data,
                data: *data,
                server_name: name.clone(),
            })
            .collect(),
    }
}

/// Starts re-planning a session the session actor installed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Track {
    /// The session.
    pub session: SessionId,
    /// The ticket its paths were planned under.
    pub ticket: u64,
    /// Its proxy as looked up (control connection).
    pub proxy: PeerSpec,
    /// Where moves go (the session actor).
    pub mover: Recipient<MovePath>,
}

/// Route actor → session actor: set up `path` on `slot` (when given) and, with `activate`,
/// make the slot active once it is bound. Answered by [`PathMoved`].
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MovePath {
    /// The session.
    pub session: SessionId,
    /// The slot (path id) to use; never the active one.
    pub slot: u8,
    /// The path to set up there; `None`: the slot already holds it.
    pub path: Option<Path>,
    /// Make it the active path once bound.
    pub activate: bool,
    /// The planned path's compound loss (ppm) from the topology: the edge's prior for the
    /// path's loss until its own probes outweigh it (cross-path FEC needs a figure at once).
    pub loss_prior_ppm: Option<u32>,
}

/// Session actor → route actor: how a [`MovePath`] ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PathMoved {
    /// The session.
    pub session: SessionId,
    /// The slot.
    pub slot: u8,
    /// It was set up (and, if asked, activated).
    pub ok: bool,
}

/// Session actor → route actor: the data plane moved a session by itself.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PathEvent {
    /// The session.
    pub session: SessionId,
    /// What happened.
    pub kind: PathEventKind,
}

/// What the data plane did to a session's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEventKind {
    /// The active path went silent; the game moved to `to`.
    Switched {
        /// The path carrying the game now.
        to: u8,
    },
    /// The first game packet came back on `to` after a failover: the other path is dead.
    FailedOver {
        /// The path carrying the game now.
        to: u8,
    },
    /// A failover was undone: the game is back on `to`.
    Undone {
        /// The path carrying the game now.
        to: u8,
    },
}
