//! Node assembly: binds the data plane, starts the actors and the QUIC control server for the
//! node's roles, and tears it all down again.
//!
//! Must run inside an actix `System` (started with `System::with_tokio_rt` on a multi-thread
//! tokio runtime): the actors live on the system's arbiter, the packet loops are tokio tasks on
//! the runtime's worker threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::Counters;
use lightspeed_mesh::dataplane::io::DataPlane;
use lightspeed_mesh::dataplane::table::{Clock, SessionTable};
use lightspeed_mesh::identity::{Identity, IdentityError, MeshTrust};
use lightspeed_mesh::quic::{self, ControlServer, QuicError, TransportSettings};

use crate::control::{Bridge, ClientPool};
use crate::discovery::DiscoveryActor;
use crate::fec_actor::FecActor;
use crate::health::{HealthActor, HealthSnapshot};
use crate::route::RouteActor;
use crate::session::{CloseAll, Event, SessionActor, Stop};
use crate::spec::{FecSetting, NodeSpec};

/// Data-plane events buffered for the session actor. New flows and path events are rare; 1024
/// absorbs a burst of new players without unbounded memory.
const EVENT_QUEUE: usize = 1_024;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The mesh identity could not be loaded.
    #[error("mesh identity: {0}")]
    Identity(#[from] IdentityError),
    /// A role needs a node certificate the config does not give.
    #[error("role {0} needs a node certificate and key (tls.cert, tls.key)")]
    NeedsCertificate(Role),
    /// The edge role needs edge settings.
    #[error("role edge needs an [edge] section")]
    NeedsEdge,
    /// A socket could not be bound.
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// Its address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The QUIC server could not start.
    #[error("QUIC control server: {0}")]
    Quic(#[from] QuicError),
}

/// A running node.
pub struct NodeHandle {
    /// The data plane.
    pub dp: Arc<DataPlane>,
    /// Where the QUIC control server listens (proxy and relay roles).
    pub control_addr: Option<SocketAddr>,
    /// Bound redirect sockets (edge role), in configuration order.
    pub redirects: Vec<SocketAddr>,
    /// Latest per-session health.
    pub health: HealthSnapshot,
    session: Addr<SessionActor>,
    control: Option<ControlServer>,
    pool: Arc<ClientPool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("data", &self.dp.local_addr().ok())
            .field("control", &self.control_addr)
            .field("redirects", &self.redirects)
            .finish_non_exhaustive()
    }
}

/// Starts a node for `spec`, counting into `counters`.
pub async fn start(spec: NodeSpec, counters: Arc<Counters>) -> Result<NodeHandle, StartError> {
    let trust = MeshTrust::load(&spec.tls.ca_cert)?;
    let identity = match (&spec.tls.cert, &spec.tls.key) {
        (Some(cert), Some(key)) => Some(Identity::load(&spec.tls.ca_cert, cert, key)?),
        _ => None,
    };
    for role in [Role::Proxy, Role::Relay] {
        if spec.has(role) && identity.is_none() {
            return Err(StartError::NeedsCertificate(role));
        }
    }
    if spec.has(Role::Edge) && spec.edge.is_none() {
        return Err(StartError::NeedsEdge);
    }

    let table = Arc::new(SessionTable::new(
        spec.limits.max_sessions,
        spec.limits.max_pending_flows,
    ));
    let (events_tx, mut events_rx) = mpsc::channel(EVENT_QUEUE);
    let dp = DataPlane::bind(
        spec.data_listen,
        Arc::clone(&table),
        counters,
        Clock::default(),
        events_tx,
    )
    .map_err(|source| StartError::Bind {
        what: "data socket",
        addr: spec.data_listen,
        source,
    })?;
    dp.set_source_limit(spec.limits.per_source_pps);
    let mut tasks = dp.start();
    let local = dp.local_addr().map_err(|source| StartError::Bind {
        what: "data socket",
        addr: spec.data_listen,
        source,
    })?;
    let advertise = spec.data_advertise.unwrap_or(local);

    let spec = Arc::new(spec);
    let (fec_setting, fec_deadline) = spec
        .edge
        .as_ref()
        .map_or((FecSetting::Auto, Duration::from_millis(2)), |e| {
            (e.fec, e.fec_deadline)
        });
    let discovery = DiscoveryActor::new(&spec.peers).start();
    let route = RouteActor::new(Arc::clone(&spec)).start();
    let fec = FecActor::new(fec_setting, fec_deadline).start();
    let pool = Arc::new(ClientPool::new(identity.clone(), trust));
    let session = SessionActor::new(
        Arc::clone(&spec),
        Arc::clone(&dp),
        fec,
        route,
        discovery,
        Arc::clone(&pool),
        advertise,
    )
    .start();
    let health = HealthSnapshot::default();
    HealthActor::new(Arc::clone(&table), health.clone(), Duration::from_secs(1)).start();

    let forward = session.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(ev) = events_rx.recv().await {
            forward.do_send(Event(ev));
        }
    }));

    let mut control = None;
    let mut control_addr = None;
    if let (true, Some(id)) = (spec.has(Role::Proxy) || spec.has(Role::Relay), &identity) {
        let server = ControlServer::bind(
            spec.control_listen,
            quic::server_config(id, &TransportSettings::default())?,
        )?;
        control_addr = Some(server.local_addr());
        let serving = server.clone();
        let bridge = Arc::new(Bridge {
            session: session.clone(),
        });
        tasks.push(tokio::spawn(async move { serving.serve(bridge).await }));
        control = Some(server);
    }

    let mut redirects = Vec::new();
    if let (true, Some(edge)) = (spec.has(Role::Edge), &spec.edge) {
        for r in &edge.redirects {
            let (_, bound, task) =
                dp.add_redirect(r.listen)
                    .map_err(|source| StartError::Bind {
                        what: "redirect socket",
                        addr: r.listen,
                        source,
                    })?;
            tasks.push(task);
            redirects.push(bound);
        }
    }
    tracing::info!(
        name = %spec.name,
        roles = ?spec.roles,
        data = %local,
        control = ?control_addr,
        redirects = ?redirects,
        "node started"
    );
    Ok(NodeHandle {
        dp,
        control_addr,
        redirects,
        health,
        session,
        control,
        pool,
        tasks,
    })
}

impl NodeHandle {
    /// Sessions in the table.
    pub fn sessions(&self) -> usize {
        self.dp.table.len()
    }

    /// Closes every session cleanly, stops the control server, the actors and the packet
    /// loops, and releases the node's sockets.
    pub async fn shutdown(self) -> usize {
        let closed = self.session.send(CloseAll).await.unwrap_or(0);
        self.stop().await;
        tracing::info!(closed, "node stopped");
        closed
    }

    /// Stops the node the way a crash would look to its peers: no Close to anyone, sockets
    /// gone. For simulations and tests; the process itself keeps running.
    pub async fn crash(self) {
        self.stop().await;
        tracing::info!("node crashed (simulated)");
    }

    async fn stop(self) {
        if let Some(server) = &self.control {
            server.shutdown().await;
        }
        self.pool.close_all().await;
        let _ = self.session.send(Stop).await;
        for t in &self.tasks {
            t.abort();
        }
        for id in self.dp.table.entries().iter().map(|e| e.id) {
            self.dp.remove_session(id);
        }
        // Let the aborted loops drop their handles on the data plane (and its sockets).
        tokio::task::yield_now().await;
    }
}
