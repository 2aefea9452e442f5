//! The admin HTTP server: `GET /health` (JSON) and `GET /metrics` (OpenMetrics text).
//!
//! Unauthenticated by design, so it listens on loopback by default (`node.admin_listen`).
//! Handlers only read shared state; nothing here can slow the packet path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::Counters;
use tokio::net::TcpListener;

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
}

impl AdminState {
    /// State for a node called `name` holding `roles`, started now, with zeroed counters.
    pub fn new(name: impl Into<String>, roles: Vec<Role>) -> AdminState {
        AdminState {
            name: name.into(),
            roles: Arc::new(RwLock::new(roles)),
            started: Instant::now(),
            counters: Arc::new(Counters::default()),
            sessions: Arc::new(AtomicUsize::new(0)),
        }
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
        .with_state(state)
}

async fn health(State(state): State<AdminState>) -> axum::Json<Health> {
    axum::Json(state.health())
}

async fn metrics_text(State(state): State<AdminState>) -> Response {
    match metrics::render(&state.counters, &state.sessions) {
        Ok(body) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics encoding failed\n",
        )
            .into_response(),
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
