//! What a node is asked to be: the runtime form of its configuration. The binary turns its
//! TOML file into a [`NodeSpec`]; tests and the demo build one directly.

use std::net::SocketAddr;
use std::time::Duration;

use lightspeed_mesh::Role;
use lightspeed_mesh::membership::{MembershipConfig, SeedEntry};
use lightspeed_mesh::policy::DestinationPolicy;
use lightspeed_mesh::topology::PublishPolicy;

/// A mesh peer known from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// Its node name (the name in its mesh certificate).
    pub name: String,
    /// Its QUIC control address.
    pub control: SocketAddr,
    /// Its data-plane address.
    pub data: SocketAddr,
    /// TLS server name to expect (defaults to the node name).
    pub server_name: String,
}

pub use crate::fec_setting::FecSetting;
pub use lightspeed_mesh::dataplane::multipath::MultipathMode;

/// One `[[edge.redirect]]`: a local port the game talks to, and the real server behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectSpec {
    /// Local address the game sends to.
    pub listen: SocketAddr,
    /// The game server.
    pub target: SocketAddr,
    /// Game profile id, if known.
    pub game: Option<String>,
}

/// Edge role settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeSpec {
    /// Admission token presented to proxies.
    pub token: String,
    /// The proxy's peer name.
    pub proxy: String,
    /// Relay peer names between edge and proxy, edge side first (0..=2).
    pub via: Vec<String>,
    /// The standby path's relays, edge side first (0..=2): `Some(vec![])` is the direct path
    /// as standby, `None` no standby (a dead path then ends the session, and the next game
    /// packet sets up a new one). It must share no relay with `via`.
    pub backup_via: Option<Vec<String>>,
    /// Whether game packets also go on the standby: off, always (`duplicate`) or while the
    /// primary is lossy or spiking (`adaptive`).
    pub multipath: MultipathMode,
    /// FEC setting.
    pub fec: FecSetting,
    /// FEC group deadline for block codes.
    pub fec_deadline: Duration,
    /// Keepalive probe interval.
    pub keepalive: Duration,
    /// Redirect sockets.
    pub redirects: Vec<RedirectSpec>,
    /// How paths are chosen: the static `via`/`backup_via` (default) or by the route actor.
    pub routing: RoutingSpec,
}

/// How an edge chooses its sessions' paths (docs/routing.md).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoutingSpec {
    /// `edge.route = "auto"`: the route actor plans each session's primary and standby from
    /// the gossiped topology and moves running sessions; `via`/`backup_via` are ignored.
    /// Needs `[mesh]`. Default false: the static paths.
    pub auto: bool,
    /// Which selector ranks candidates.
    pub selector: SelectorKind,
    /// The model file of the `ml` selector (`lightspeed-node ml train`).
    pub ml_model: Option<std::path::PathBuf>,
    /// Operator overrides of the path policy, applied over the game profile's defaults.
    pub policy: PolicyOverrides,
    /// Where recorded rounds go when `edge.ml_record` is set.
    pub record: Option<RecordSink>,
}

/// `edge.selector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectorKind {
    /// Lowest cost now.
    #[default]
    Nearest,
    /// The trained model's forecast costs (falls back to nearest without a usable model).
    Ml,
}

/// Path-policy fields an operator may override (`[edge.policy]`); `None` keeps the game
/// profile's value ([`crate::routing::policy::PolicyConfig::for_profile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolicyOverrides {
    /// Cost a relayed path must save over direct to be selected.
    pub select_margin: Option<Duration>,
    /// Cost a new path must save over the current one to switch.
    pub switch_margin: Option<Duration>,
    /// A relayed path is kept while it saves at least this much.
    pub keep_margin: Option<Duration>,
    /// Least time on a path before an optional switch.
    pub min_dwell: Option<Duration>,
    /// How long a failed path stays out of selection.
    pub veto: Option<Duration>,
}

impl PolicyOverrides {
    /// `base` with the overridden fields replaced.
    pub fn apply(
        &self,
        mut base: crate::routing::policy::PolicyConfig,
    ) -> crate::routing::policy::PolicyConfig {
        let set = |field: &mut Duration, v: Option<Duration>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut base.select_margin, self.select_margin);
        set(&mut base.switch_margin, self.switch_margin);
        set(&mut base.keep_margin, self.keep_margin);
        set(&mut base.min_dwell, self.min_dwell);
        set(&mut base.veto, self.veto);
        base
    }
}

/// A function taking labelled rounds.
pub type RecordFn = dyn Fn(&[crate::routing::ml::RecordedRound]) + Send + Sync;

/// Receives the route actor's labelled rounds (the node appends them to `edge.ml_record`).
#[derive(Clone)]
pub struct RecordSink(pub std::sync::Arc<RecordFn>);

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordSink")
    }
}

impl PartialEq for RecordSink {
    fn eq(&self, other: &RecordSink) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Proxy role settings.
#[derive(Debug, Clone, Default)]
pub struct ProxySpec {
    /// Accepted client tokens.
    pub tokens: Vec<String>,
    /// Destination rules.
    pub policy: DestinationPolicy,
    /// Source IP for egress sockets (default: unspecified).
    pub egress_bind: Option<std::net::IpAddr>,
}

/// Node-wide limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Session table cap.
    pub max_sessions: usize,
    /// A session with no authenticated packet for this long is removed.
    pub idle_timeout: Duration,
    /// Per-session packet rate limit (0: none).
    pub per_session_pps: u32,
    /// Per-source-address packet rate limit on the data port (0: none).
    pub per_source_pps: u32,
    /// Edge flows waiting for a session.
    pub max_pending_flows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 10_000,
            idle_timeout: Duration::from_secs(30),
            per_session_pps: 1_000,
            per_source_pps: 2_000,
            max_pending_flows: 256,
        }
    }
}

/// TLS material paths of the node's mesh identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    /// Mesh CA certificate (PEM).
    pub ca_cert: std::path::PathBuf,
    /// This node's certificate (PEM); edges without one connect anonymously.
    pub cert: Option<std::path::PathBuf>,
    /// This node's private key (PEM).
    pub key: Option<std::path::PathBuf>,
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Data-plane socket.
    pub data_listen: SocketAddr,
    /// The data address other nodes reach this one at (defaults to `data_listen`).
    pub data_advertise: Option<SocketAddr>,
    /// QUIC control socket (proxies and relays).
    pub control_listen: SocketAddr,
    /// Mesh identity.
    pub tls: TlsSpec,
    /// Limits.
    pub limits: Limits,
    /// Proxy settings.
    pub proxy: ProxySpec,
    /// Edge settings (required for the edge role).
    pub edge: Option<EdgeSpec>,
    /// Known peers.
    pub peers: Vec<PeerSpec>,
    /// Gossip membership (`[mesh]`); `None`: static peers only.
    pub mesh: Option<MeshSpec>,
}

/// Gossip membership settings: how this node finds and watches the rest of the mesh.
#[derive(Debug, Clone)]
pub struct MeshSpec {
    /// Seeds to join through (addresses, host names, SRV domains).
    pub seeds: Vec<SeedEntry>,
    /// SWIM timings (a LAN or WAN preset, possibly adjusted).
    pub membership: MembershipConfig,
    /// Region label gossiped with this node's attributes.
    pub region: String,
    /// How often each peer is probed over the data port (and claims considered for
    /// republication).
    pub probe_interval: Duration,
    /// The operator's reach book: peer name → the data address this node sends to for it,
    /// overriding the address the peer gossips (private addresses inside one VPC, a
    /// per-direction forwarder in the simulator).
    pub reach: std::collections::BTreeMap<String, SocketAddr>,
    /// When this node republishes its claim.
    pub publish: PublishPolicy,
    /// How often to retry joining while no member is known.
    pub join_retry: Duration,
}

impl MeshSpec {
    /// Settings with `membership` timings, the default publish policy, probes every second
    /// and join retries every 2 s.
    pub fn new(seeds: Vec<SeedEntry>, membership: MembershipConfig) -> MeshSpec {
        MeshSpec {
            seeds,
            membership,
            region: String::new(),
            probe_interval: Duration::from_secs(1),
            reach: std::collections::BTreeMap::new(),
            publish: PublishPolicy::default(),
            join_retry: Duration::from_secs(2),
        }
    }
}

/// The roles a node holds now, shared between whoever changes them (the admin API) and whoever
/// obeys them (the session actor, gossip).
pub type SharedRoles = std::sync::Arc<parking_lot::RwLock<Vec<Role>>>;

impl NodeSpec {
    /// True if the node holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
