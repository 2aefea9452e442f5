//! Node assembly: binds the data plane, starts the actors and the QUIC control server for the
//! node's roles, and tears it all down again.
//!
//! Must run inside an actix `System` (started with `System::with_tokio_rt` on a multi-thread
//! tokio runtime): the actors live on the system's arbiter, the packet loops are tokio tasks on
//! the runtime's worker threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use lightspeed_mesh::Role;
use lightspeed_mesh::dataplane::Counters;
use lightspeed_mesh::dataplane::io::DataPlane;
use lightspeed_mesh::dataplane::link_probe::LinkProbes;
use lightspeed_mesh::dataplane::table::{Clock, SessionTable};
use lightspeed_mesh::identity::{Identity, IdentityError, MeshTrust};
use lightspeed_mesh::quic::{self, ControlServer, DatagramLinks, QuicError, TransportSettings};
use lightspeed_mesh::topology::ProberConfig;
use lightspeed_protocol::SessionKey;

use crate::control::{Bridge, ClientPool};
use crate::discovery::{self, DiscoveryActor, Inbound, Leave, Reload, RolesChanged};
use crate::fec_actor::{FecActor, Wiring};
use crate::health::{HealthActor, HealthSnapshot};
use crate::link_probe::{LinkShare, ProbeDriver};
use crate::mesh_view::MeshView;
use crate::node_gossip::{GossipLinks, gossip_for};
use crate::route::RouteActor;
use crate::route_auto::AutoWiring;
use crate::session::{CloseAll, Event, SessionActor, Stop};
use crate::session_view::SessionBook;
use crate::spec::{FecSetting, NodeSpec, SharedRoles};

/// Data-plane events buffered for the session actor. New flows and path events are rare; 1024
/// absorbs a burst of new players without unbounded memory.
const EVENT_QUEUE: usize = 1_024;

/// Membership datagrams buffered for the discovery actor: a few seconds of the worst-case
/// gossip rate of a large mesh; beyond it they are dropped like lost UDP.
const INBOUND_QUEUE: usize = 1_024;

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
    /// Gossip membership could not start (bad settings, unusable key).
    #[error("mesh membership: {0}")]
    Mesh(String),
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
    /// Roles held now (see [`NodeHandle::set_roles`]).
    pub roles: SharedRoles,
    /// The mesh as this node sees it (members, topology), refreshed by discovery.
    pub view: MeshView,
    /// The node's sessions (`/api/sessions`), refreshed by the FecActor.
    pub book: SessionBook,
    session: Addr<SessionActor>,
    fec: Addr<FecActor>,
    discovery: Addr<DiscoveryActor>,
    health_actor: Addr<HealthActor>,
    links: Option<Arc<DatagramLinks>>,
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
    start_with(spec, counters, MeshView::default()).await
}

/// [`start`], publishing the mesh view into `view` (the admin API's handle).
pub async fn start_with(
    spec: NodeSpec,
    counters: Arc<Counters>,
    view: MeshView,
) -> Result<NodeHandle, StartError> {
    start_with_book(spec, counters, view, SessionBook::default()).await
}

/// [`start_with`], keeping the session records in `book` (the admin API's handle).
pub async fn start_with_book(
    spec: NodeSpec,
    counters: Arc<Counters>,
    view: MeshView,
    book: SessionBook,
) -> Result<NodeHandle, StartError> {
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
    let roles: SharedRoles = Arc::new(parking_lot::RwLock::new(spec.roles.clone()));
    let wants_control = spec.has(Role::Proxy) || spec.has(Role::Relay) || spec.mesh.is_some();
    let server = match (wants_control, &identity) {
        (true, Some(id)) => Some(ControlServer::bind(
            spec.control_listen,
            quic::server_config(id, &TransportSettings::default())?,
        )?),
        _ => None,
    };
    let (inbound_tx, mut inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let share = Arc::new(LinkShare::default());
    let mut probing = None;
    let (discovery, links) = match (&spec.mesh, &identity, &server) {
        (Some(mesh), Some(id), Some(server)) => {
            let control = discovery::control_advertise(server.local_addr(), advertise);
            let origin = Instant::now();
            // A fresh key per process: peers learn it from this life's claim.
            let probes = Arc::new(LinkProbes::new(SessionKey(rand::random()), dp.clock.now()));
            dp.set_link_probes(Arc::clone(&probes));
            let gossip_links = GossipLinks {
                data: advertise,
                share: Arc::clone(&share),
                probe_key: probes.key().clone(),
            };
            let (gossip, dialer, links) = gossip_for(
                mesh,
                id,
                &trust,
                control,
                gossip_links,
                &roles,
                inbound_tx.clone(),
            )?;
            let config = ProberConfig {
                interval: mesh.probe_interval,
                ..ProberConfig::default()
            };
            probing = Some((
                ProbeDriver::new(config, probes, Arc::clone(&dp), Arc::clone(&share)),
                mesh.probe_interval,
            ));
            let actor =
                DiscoveryActor::with_gossip(&spec.peers, gossip, dialer, view.clone(), origin);
            (actor.start(), Some(links))
        }
        _ => (DiscoveryActor::new(&spec.peers).start(), None),
    };
    let route = RouteActor::with_discovery(Arc::clone(&spec), discovery.clone())
        .with_auto(AutoWiring {
            mesh: view.clone(),
            links: Arc::clone(&share),
            book: book.clone(),
            table: Arc::clone(&table),
        })
        .start();
    let pool = Arc::new(ClientPool::new(identity.clone(), trust));
    book.set_clock(dp.clock);
    let fec = FecActor::wired(
        fec_setting,
        fec_deadline,
        Wiring {
            dp: Arc::clone(&dp),
            pool: Arc::clone(&pool),
            book: book.clone(),
            config: Default::default(),
            period: Duration::from_secs(1),
        },
    )
    .start();
    let session = SessionActor::new(
        Arc::clone(&spec),
        Arc::clone(&dp),
        fec.clone(),
        route,
        discovery.clone(),
        Arc::clone(&pool),
        advertise,
        roles.clone(),
    )
    .start();
    let health = HealthSnapshot::default();
    let mut health_actor =
        HealthActor::new(Arc::clone(&table), health.clone(), Duration::from_secs(1));
    if let Some((driver, interval)) = probing {
        health_actor = health_actor.with_probes(driver, interval);
    }
    let health_actor = health_actor.start();

    let forward = session.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(ev) = events_rx.recv().await {
            forward.do_send(Event(ev));
        }
    }));

    let gossip_to = discovery.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(dg) = inbound_rx.recv().await {
            gossip_to.do_send(Inbound(dg));
        }
    }));
    let mut control_addr = None;
    if let Some(server) = &server {
        control_addr = Some(server.local_addr());
        let serving = server.clone();
        let bridge = Arc::new(Bridge {
            session: session.clone(),
        });
        let sink = links.is_some().then(|| inbound_tx.clone());
        tasks.push(tokio::spawn(async move {
            serving.serve_with_datagrams(bridge, sink).await
        }));
    }
    drop(inbound_tx);
    let control = server;

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
        roles,
        view,
        book,
        session,
        fec,
        discovery,
        health_actor,
        links,
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

    /// Replaces the roles held: the session actor admits by them from now on, and the mesh
    /// hears of the change at once.
    pub fn set_roles(&self, roles: Vec<Role>) {
        *self.roles.write() = roles;
        self.discovery.do_send(RolesChanged);
    }

    /// Applies new static peers, mesh seeds and reach book (a config reload) without touching
    /// sessions.
    pub fn reload_peers(
        &self,
        peers: Vec<crate::spec::PeerSpec>,
        seeds: Vec<lightspeed_mesh::membership::SeedEntry>,
        reach: std::collections::BTreeMap<String, SocketAddr>,
    ) {
        self.discovery.do_send(Reload {
            peers,
            seeds,
            reach,
        });
    }

    /// Leaves the mesh gracefully, closes every session cleanly, stops the control server, the
    /// actors and the packet loops, and releases the node's sockets.
    pub async fn shutdown(self) -> usize {
        let _ = self.discovery.send(Leave).await;
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
        // Gossip and link probes first: a crashed node must fall silent on the mesh too, and
        // the probe driver holds the data plane (and its socket) while it runs.
        let _ = self.discovery.send(Stop).await;
        let _ = self.health_actor.send(Stop).await;
        if let Some(links) = &self.links {
            links.close_all();
        }
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
        // Logs the summaries of the sessions just ended and lets go of the data plane.
        let _ = self.fec.send(Stop).await;
        // Let the aborted loops drop their handles on the data plane (and its sockets).
        tokio::task::yield_now().await;
    }
}
