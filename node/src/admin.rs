//! The admin HTTP server: `GET /health` (JSON), `GET /metrics` (OpenMetrics text),
//! `GET /api/members`, `GET /api/topology`, `GET /api/sessions` (JSON) and
//! `GET|POST /api/roles`.
//!
//! Unauthenticated by design, so it listens on loopback by default (`node.admin_listen`).
//! Handlers only read shared state; nothing here can slow the packet path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lightspeed_actors::mesh_view::{GossipCounters, MemberRow, MeshView};
use lightspeed_actors::server_probe::ServerProbeStats;
use lightspeed_actors::session_view::{SessionBook, SessionRow, row};
use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::Counters;
use lightspeed_mesh::topology::NodeSnapshot;
use lightspeed_protocol::Micros;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::metrics;
use crate::shutdown::Shutdown;

/// What the admin endpoints report. Cheap to clone: every field the engine updates is a shared
/// handle, so the engine keeps a clone and writes through it.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The node's name (`node.name`).
    pub name: String,
    /// Roles held now; the engine replaces them on a runtime role change.
    pub roles: Arc<RwLock<Vec<Role>>>,
    /// When the node started, for `uptime_seconds`.
    pub started: Instant,
    /// The data plane's counters, exported by `/metrics`.
    pub counters: Arc<Counters>,
    /// Sessions in the session table now; the engine keeps it current.
    pub sessions: Arc<AtomicUsize>,
    /// The mesh as the node sees it (members, topology, gossip counters).
    pub mesh: MeshView,
    /// The node's session records (`/api/sessions`, FEC and path metrics).
    pub book: SessionBook,
    /// The proxy's game-server probing figures (`[proxy.server_probe]`), for `/metrics`.
    pub server_probe: Arc<ServerProbeStats>,
    role_tx: mpsc::Sender<RoleRequest>,
    role_rx: Arc<Mutex<Option<mpsc::Receiver<RoleRequest>>>>,
}

/// A runtime role change asked for over the admin API, answered by the engine.
#[derive(Debug)]
pub struct RoleRequest {
    /// The complete new role list.
    pub roles: Vec<Role>,
    /// The roles now held, or why the change was refused.
    pub reply: oneshot::Sender<Result<Vec<Role>, String>>,
}

/// Body of `POST /api/roles` and of its answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RolesBody {
    /// The complete role list.
    pub roles: Vec<Role>,
}

impl AdminState {
    /// State for a node called `name` holding `roles`, started now, with zeroed counters.
    pub fn new(name: impl Into<String>, roles: Vec<Role>) -> AdminState {
        let (role_tx, role_rx) = mpsc::channel(4);
        AdminState {
            name: name.into(),
            roles: Arc::new(RwLock::new(roles)),
            started: Instant::now(),
            counters: Arc::new(Counters::default()),
            sessions: Arc::new(AtomicUsize::new(0)),
            mesh: MeshView::default(),
            book: SessionBook::default(),
            server_probe: Arc::new(ServerProbeStats::default()),
            role_tx,
            role_rx: Arc::new(Mutex::new(Some(role_rx))),
        }
    }

    /// The receiving end of role change requests; the engine takes it once (later calls get
    /// `None`). Without a taker, `POST /api/roles` answers 503.
    pub fn take_role_requests(&self) -> Option<mpsc::Receiver<RoleRequest>> {
        self.role_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// The roles held now.
    pub fn roles(&self) -> Vec<Role> {
        // A writer that panicked cannot leave a Vec<Role> half-written in a way that matters.
        self.roles
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the roles held.
    pub fn set_roles(&self, roles: Vec<Role>) {
        *self
            .roles
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = roles;
    }

    /// The `/health` body now.
    pub fn health(&self) -> Health {
        Health {
            status: "ok",
            name: self.name.clone(),
            roles: self.roles(),
            sessions: self.sessions.load(Ordering::Relaxed),
            uptime_seconds: self.started.elapsed().as_secs(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The `/health` response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// Always `"ok"` while the process serves requests.
    pub status: &'static str,
    /// The node's name.
    pub name: String,
    /// Roles held now.
    pub roles: Vec<Role>,
    /// Sessions in the table now.
    pub sessions: usize,
    /// Whole seconds since start.
    pub uptime_seconds: u64,
    /// The binary's version.
    pub version: &'static str,
}

/// The admin routes. Anything else is 404.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/api/members", get(members))
        .route("/api/topology", get(topology))
        .route("/api/sessions", get(sessions))
        .route("/api/roles", get(roles_get).post(roles_set))
        .with_state(state)
}

async fn health(State(state): State<AdminState>) -> axum::Json<Health> {
    axum::Json(state.health())
}

async fn metrics_text(State(state): State<AdminState>) -> Response {
    match metrics::render(
        &state.counters,
        &state.sessions,
        &state.mesh,
        &state.book,
        &state.server_probe,
    ) {
        Ok(body) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics encoding failed\n",
        )
            .into_response(),
    }
}

/// `GET /api/members` body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MembersBody {
    /// False when the node has no `[mesh]` section (the list is then empty).
    pub enabled: bool,
    /// Members, this node included, in name order.
    pub members: Vec<MemberRow>,
    /// Gossip counters.
    pub counters: GossipCounters,
}

async fn members(State(state): State<AdminState>) -> axum::Json<MembersBody> {
    let snap = state.mesh.read();
    axum::Json(MembersBody {
        enabled: snap.enabled,
        members: snap.members.clone(),
        counters: snap.counters,
    })
}

/// One link of `GET /api/topology`, in operator units.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopologyLink {
    /// Measuring node.
    pub from: String,
    /// Far end.
    pub to: String,
    /// Smoothed RTT, ms.
    pub rtt_ms: f64,
    /// Jitter, ms.
    pub jitter_ms: f64,
    /// Loss fraction, 0–1.
    pub loss: f64,
    /// Age of the measurement, ms.
    pub age_ms: u64,
    /// Older than the staleness bound.
    pub stale: bool,
    /// The data-plane address `from` probes and sends to for `to`.
    pub via: Option<SocketAddr>,
}

/// `GET /api/topology` body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopologyBody {
    /// False without `[mesh]`.
    pub enabled: bool,
    /// What the links measure.
    pub measured: &'static str,
    /// Nodes with their claimed attributes.
    pub nodes: Vec<NodeSnapshot>,
    /// Directed links.
    pub links: Vec<TopologyLink>,
}

async fn topology(State(state): State<AdminState>) -> axum::Json<TopologyBody> {
    let snap = state.mesh.read();
    let (nodes, links) = snap
        .topology
        .as_ref()
        .map_or((Vec::new(), Vec::new()), |t| {
            let links = t
                .links
                .iter()
                .map(|l| TopologyLink {
                    from: l.from.clone(),
                    to: l.to.clone(),
                    rtt_ms: f64::from(l.rtt_us) / 1e3,
                    jitter_ms: f64::from(l.jitter_us) / 1e3,
                    loss: f64::from(l.loss_ppm) / 1e6,
                    age_ms: l.age_ms,
                    stale: l.stale,
                    via: l.via,
                })
                .collect();
            (t.nodes.clone(), links)
        });
    axum::Json(TopologyBody {
        enabled: snap.enabled,
        measured: "authenticated probes over the data port (RTT, RFC 3550 jitter, loss over the last 100 probes)",
        nodes,
        links,
    })
}

/// `GET /api/sessions` body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionsBody {
    /// Sessions this node is an end of (edge or proxy), by id. Relays hold no figures.
    pub sessions: Vec<SessionRow>,
}

/// The `/api/sessions` body for `book` at `now` (the data plane's clock).
pub fn sessions_body(book: &SessionBook, now: Micros) -> SessionsBody {
    SessionsBody {
        sessions: book.records().iter().map(|r| row(r, now)).collect(),
    }
}

async fn sessions(State(state): State<AdminState>) -> axum::Json<SessionsBody> {
    axum::Json(sessions_body(&state.book, state.book.now()))
}

async fn roles_get(State(state): State<AdminState>) -> axum::Json<RolesBody> {
    axum::Json(RolesBody {
        roles: state.roles(),
    })
}

async fn roles_set(
    State(state): State<AdminState>,
    body: Result<axum::Json<RolesBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(body) = match body {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let (reply, answer) = oneshot::channel();
    let request = RoleRequest {
        roles: body.roles,
        reply,
    };
    if state.role_tx.send(request).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "node is not running\n").into_response();
    }
    match answer.await {
        Ok(Ok(roles)) => axum::Json(RolesBody { roles }).into_response(),
        Ok(Err(why)) => (StatusCode::CONFLICT, format!("{why}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "node is stopping\n").into_response(),
    }
}

/// Binds the admin address. Separate from [`serve`] so a busy port is a startup error, before
/// the engine starts.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for admin HTTP on {addr} (node.admin_listen)"))
}

/// Serves the admin routes on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.requested().await })
        .await
        .context("admin HTTP server failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightspeed_actors::session_view::{SessionRecord, SessionRole};
    use lightspeed_protocol::SessionId;
    use lightspeed_protocol::control::LinkReport;
    use lightspeed_protocol::fec::FecScheme;

    #[test]
    fn sessions_json_has_the_documented_shape() {
        let book = SessionBook::default();
        let mut r = SessionRecord::new(
            SessionId(0xab),
            SessionRole::Edge,
            vec!["edge-bkk".into(), "relay-sgp".into(), "proxy-lax".into()],
            FecScheme::Off,
            Micros(0),
        );
        r.local = LinkReport {
            data_sent: 100,
            expected: 200,
            received: 190,
            delivered: 99,
            recovered: 9,
            peer_data_sent: 100,
            delivered_then: 99,
            srtt_us: 191_500,
            loss_runs: 6,
            server_rtt_us: 0,
        };
        book.insert(r);
        book.fec_changed(SessionId(0xab), FecScheme::Xor { k: 4 }, Micros(2_000_000));
        let json = serde_json::to_value(sessions_body(&book, Micros(5_000_000))).unwrap();
        let s = &json["sessions"][0];
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(s),
            [
                "age_ms",
                "direct_rtt_ms",
                "downstream",
                "end_to_end_rtt_ms",
                "fec",
                "id",
                "jitter_ms",
                "path",
                "path_switches",
                "role",
                "rtt_ms",
                "saved_ms",
                "server_rtt_ms",
                "upstream"
            ]
        );
        assert_eq!(
            keys(&s["upstream"]),
            [
                "delivered",
                "loss_after_fec",
                "loss_before_fec",
                "recovered",
                "sent"
            ]
        );
        assert_eq!(
            keys(&s["fec"]),
            ["changes", "last_change_ms_ago", "scheme", "used"]
        );
        assert_eq!(s["id"], "000000ab");
        assert_eq!(s["role"], "edge");
        assert_eq!(s["path"][1], "relay-sgp");
        assert_eq!(s["age_ms"], 5_000);
        assert_eq!(s["rtt_ms"], 191.5);
        assert_eq!(s["fec"]["scheme"], "xor(4)");
        assert_eq!(s["fec"]["changes"], 1);
        assert_eq!(s["fec"]["last_change_ms_ago"], 3_000);
        assert_eq!(s["fec"]["used"], serde_json::json!(["off", "xor(4)"]));
        assert_eq!(s["downstream"]["loss_before_fec"], 0.05);
        assert_eq!(s["downstream"]["loss_after_fec"], 0.01);
        assert_eq!(s["downstream"]["recovered"], 9);
        // Nothing reported by the proxy yet, and no direct measurement: nulls, not zeros.
        assert!(s["upstream"]["loss_before_fec"].is_null());
        assert!(s["downstream"]["sent"].is_null());
        assert!(s["direct_rtt_ms"].is_null());
        assert!(s["saved_ms"].is_null());
        assert!(s["server_rtt_ms"].is_null());
        assert!(s["end_to_end_rtt_ms"].is_null());
        assert_eq!(s["path_switches"], 0);

        // The proxy's report brings its server leg: the whole path is tunnel + leg.
        book.update(SessionId(0xab), |r| {
            r.remote = Some(LinkReport {
                server_rtt_us: 12_500,
                ..LinkReport::default()
            });
        });
        let json = serde_json::to_value(sessions_body(&book, Micros(6_000_000))).unwrap();
        let s = &json["sessions"][0];
        assert_eq!(s["server_rtt_ms"], 12.5);
        assert_eq!(s["end_to_end_rtt_ms"], 204.0);
    }
}
