//! The config file's sections, with their defaults and the reason for each limit.
//! `docs/configuration.md` is the operator's version of these comments; keep them in step.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use lightspeed_mesh::Role;
use serde::Deserialize;

use lightspeed_actors::fec_setting::FecSetting;
use lightspeed_mesh::policy::{Cidr, DestinationPolicy};

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event (the default).
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// A shared secret (client token). Its `Debug` output is redacted so a config dump or an error
/// report never leaks it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Token {
        Token(secret.into())
    }

    /// The secret itself, for comparing with what a client presents.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} chars redacted>)", self.0.chars().count())
    }
}

/// `[node]`: identity, roles and listening addresses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// This node's name in the mesh: a DNS-style name, also its TLS name. Default `lightspeed`.
    pub name: String,
    /// Free-form region label shown in `/health` and gossip, e.g. `sgp`. Default none.
    pub region: Option<String>,
    /// Roles this node holds. Default `["relay"]`: the common case is a rented box that only
    /// forwards. `--role` replaces this list.
    pub roles: Vec<Role>,
    /// UDP address of the data plane (tunnelled game packets). Default `0.0.0.0:4434`.
    pub data_listen: SocketAddr,
    /// The data-plane address other nodes and edges reach this node at, when it differs from
    /// `data_listen` (a wildcard listen address, NAT). A proxy hands it to edges and relays.
    /// Default: `data_listen`.
    pub data_advertise: Option<SocketAddr>,
    /// UDP address of the QUIC control plane (mesh, sessions, gossip). Default `0.0.0.0:4433`
    /// (the customary QUIC test port), with the data plane on the next port.
    pub control_listen: SocketAddr,
    /// TCP address of the admin HTTP server (`/health`, `/metrics`). Default `127.0.0.1:8080`:
    /// loopback, because the endpoints are unauthenticated.
    pub admin_listen: SocketAddr,
    /// Log line format. Default `human`; `--log-format` overrides it.
    pub log_format: LogFormat,
}

impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            name: "lightspeed".to_string(),
            region: None,
            roles: vec![Role::Relay],
            data_listen: SocketAddr::from(([0, 0, 0, 0], 4434)),
            data_advertise: None,
            control_listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_format: LogFormat::Human,
        }
    }
}

/// `[tls]`: mesh identity files (PEM). Optional for now; relative paths are resolved against
/// the config file's directory. When given, the file must exist.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// The mesh CA certificate every peer's certificate must chain to.
    pub ca_cert: Option<PathBuf>,
    /// This node's certificate.
    pub cert: Option<PathBuf>,
    /// This node's private key. Required exactly when `cert` is given.
    pub key: Option<PathBuf>,
}

/// `[limits]`: bounds that keep memory and CPU fixed under any load.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Most sessions this node holds at once. Default 10 000: per-session state is fixed-size
    /// (a few KiB with replay window and FEC buffers), so the table stays in tens of MiB on a
    /// 1 GiB VPS, far above the player count of a self-hosted mesh. Allowed 1..=1 000 000.
    pub max_sessions: usize,
    /// A session with no packets for this long is removed. Default 30 s: edges send keepalives
    /// every 0.5 s, so 30 s of silence means the client is gone, while a stall of a few seconds
    /// (loading screen, Wi-Fi hiccup) never tears down a match. Allowed 1 s..=1 h.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Packets per second one session may send. Default 1 000: the fastest games tick at 128 Hz
    /// and duplication doubles that, so a real session stays under ~300 pps; 1 000 leaves
    /// headroom and still caps what a stolen token can push through. Allowed 1..=1 000 000.
    pub per_session_pps: u32,
    /// Packets per second from one source address across its sessions. Default 2 000: two
    /// sessions' worth, for players sharing one NAT address. Must be at least
    /// `per_session_pps`. Allowed 1..=1 000 000.
    pub per_source_pps: u32,
    /// Game flows (on an edge) or session admissions (on a proxy) waiting to be set up at once.
    /// Default 256: setups take one round trip, so even a burst of clients drains quickly; the
    /// bound stops a flood of new flows from growing memory. Allowed 1..=65 536.
    pub max_pending_flows: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_sessions: 10_000,
            idle_timeout: Duration::from_secs(30),
            per_session_pps: 1_000,
            per_source_pps: 2_000,
            max_pending_flows: 256,
        }
    }
}

/// `[proxy]`: the egress role that talks to game servers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySection {
    /// Client tokens this proxy accepts. Required (non-empty) for role proxy; each 16..=256
    /// printable ASCII characters so it cannot be guessed.
    pub tokens: Vec<Token>,
    /// Destinations allowed even inside a range refused by default (private, loopback, ...),
    /// e.g. a LAN game server. The deny list still wins.
    pub allow_destinations: Vec<Cidr>,
    /// Destinations refused in addition to the default refused ranges.
    pub deny_destinations: Vec<Cidr>,
    /// Allow loopback destinations (127.0.0.0/8, ::1). Default false. Only for the demo and
    /// tests, where the "game server" runs on the same machine.
    pub allow_loopback_for_testing: bool,
    /// Source address for egress sockets towards game servers. Default: the OS picks.
    pub egress_bind: Option<IpAddr>,
    /// `[proxy.server_probe]`: querying the game servers to time the leg to them. Off by
    /// default.
    pub server_probe: super::server_probe::ServerProbeSection,
}

impl ProxySection {
    /// The destination policy the proxy enforces (the data plane's own type).
    pub fn destination_policy(&self) -> DestinationPolicy {
        DestinationPolicy {
            allow: self.allow_destinations.clone(),
            deny: self.deny_destinations.clone(),
            allow_loopback_for_testing: self.allow_loopback_for_testing,
        }
    }
}

/// `[edge]`: the role on the gaming PC that captures game traffic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSection {
    /// Token presented to the proxy. Required for role edge.
    pub token: Option<Token>,
    /// Name of this edge's proxy: a `[[peers]]` entry, or with a `[mesh]` section any mesh
    /// member (resolved when a session is set up). Required for role edge.
    pub proxy: Option<String>,
    /// Relays to go through, in order, by name (as for `proxy`): 0 (direct), 1 or 2.
    /// Default: direct.
    pub via: Vec<String>,
    /// Relays of the standby path, in order, by peer name: `[]` is the direct path as
    /// standby, 1 or 2 relays otherwise; none may be on `via` (the two paths must be
    /// disjoint). Default: no standby, so a dead path ends the session and the next game
    /// packet sets up a new one (seconds) instead of a failover (≤ 300 ms).
    pub backup_via: Option<Vec<String>>,
    /// Whether game packets also go over the standby path: `off`, `duplicate` (always; a
    /// relay crash then loses nothing, for twice the upstream and downstream traffic) or
    /// `adaptive` (only while the primary loses ≥ 0.1 % or its RTT is ≥ 20 ms above its
    /// baseline). Needs `backup_via`. Default `off`.
    pub multipath: Multipath,
    /// FEC scheme. Default `auto`.
    pub fec: FecSetting,
    /// Longest a parity group stays open waiting for data. Default 2 ms: parity sent later than
    /// a few ms arrives after the game's next tick and no longer helps. Allowed 100 µs..=20 ms.
    #[serde(with = "humantime_serde")]
    pub fec_deadline: Duration,
    /// Keepalive interval while the game is silent. Default 500 ms: two small packets a second
    /// keep NAT mappings and the session alive and let a dead path show up within a second.
    /// Allowed 50 ms..=10 s and below half of `limits.idle_timeout`.
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
    /// Local ports the game connects to and the servers they stand for. At least one for role
    /// edge.
    pub redirect: Vec<Redirect>,
    /// JSON-lines file the routing measurements are recorded to for `lightspeed-node ml
    /// train` (docs/routing.md, "Recorded measurements"). Default: not recorded.
    pub ml_record: Option<PathBuf>,
    /// Size at which the recording is rotated to `<file>.1` (replacing it). Default 64 MiB:
    /// about seven weeks of rounds at the recorder's default sampling (~1.3 MB a day for 17
    /// candidates), and two files bound the disk used to 128 MiB. Allowed 1 MiB..=4 GiB.
    pub ml_record_max_bytes: u64,
    /// How paths are chosen: `static` (`via` and `backup_via`) or `auto` (planned from the
    /// gossiped topology and re-planned every probe round; needs `[mesh]`, and `via`/
    /// `backup_via` must be left out). Default `static`.
    pub route: RouteMode,
    /// With `route = "auto"`: which selector ranks candidate paths, `nearest` (lowest cost
    /// now) or `ml` (the model's forecast costs; nearest without a usable `ml_model`).
    /// Default `nearest`.
    pub selector: SelectorName,
    /// The model file of the `ml` selector (`lightspeed-node ml train`). Default none.
    pub ml_model: Option<PathBuf>,
    /// With `route = "auto"`: overrides of the path policy (docs/routing.md, "Rules that
    /// pay"); unset fields keep the game profile's defaults.
    pub policy: PolicySection,
}

/// `[edge] route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    /// The configured `via` and `backup_via`.
    #[default]
    Static,
    /// Planned and re-planned by the route actor.
    Auto,
}

/// `[edge] selector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SelectorName {
    /// Lowest cost now.
    #[default]
    Nearest,
    /// The trained model's forecast.
    Ml,
}

/// `[edge.policy]`: path-policy overrides. Every field is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// Cost a relayed path must save over direct to be selected (default 10 ms). 0..=200 ms.
    #[serde(with = "humantime_serde")]
    pub select_margin: Option<Duration>,
    /// Cost a new path must save over the current one to switch (default 15 ms). 0..=200 ms.
    #[serde(with = "humantime_serde")]
    pub switch_margin: Option<Duration>,
    /// A relayed path is kept while it saves this much (default 5 ms). 0..=200 ms, at most
    /// `select_margin`.
    #[serde(with = "humantime_serde")]
    pub keep_margin: Option<Duration>,
    /// Least time on a path before an optional switch (default: 640 packets at the game's
    /// rate, 3-20 s; 10 s without a profile). 0..=10 min.
    #[serde(with = "humantime_serde")]
    pub min_dwell: Option<Duration>,
    /// How long a failed path stays out of selection (default 30 s). 0..=10 min.
    #[serde(with = "humantime_serde")]
    pub veto: Option<Duration>,
}

impl Default for EdgeSection {
    fn default() -> Self {
        EdgeSection {
            token: None,
            proxy: None,
            via: Vec::new(),
            backup_via: None,
            multipath: Multipath::Off,
            fec: FecSetting::Auto,
            fec_deadline: Duration::from_millis(2),
            keepalive: Duration::from_millis(500),
            redirect: Vec::new(),
            ml_record: None,
            ml_record_max_bytes: 64 << 20,
            route: RouteMode::Static,
            selector: SelectorName::Nearest,
            ml_model: None,
            policy: PolicySection::default(),
        }
    }
}

/// `[edge] multipath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Multipath {
    /// One path at a time.
    Off,
    /// Every game packet on both paths.
    Duplicate,
    /// Both paths while the primary is lossy or spiking.
    Adaptive,
    /// Game data on the active path, FEC repairs on the standby.
    Parity,
}

impl Multipath {
    /// The data plane's mode.
    pub fn mode(self) -> lightspeed_actors::spec::MultipathMode {
        use lightspeed_actors::spec::MultipathMode;
        match self {
            Multipath::Off => MultipathMode::Off,
            Multipath::Duplicate => MultipathMode::Always,
            Multipath::Adaptive => MultipathMode::Adaptive,
            Multipath::Parity => MultipathMode::Parity,
        }
    }
}

/// One `[[edge.redirect]]`: the game sends to `listen`, the proxy forwards to `target`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// Local UDP address the game client is pointed at. Unique across redirects.
    pub listen: SocketAddr,
    /// The game server.
    pub target: SocketAddr,
    /// Game profile name (e.g. `cs2`), for FEC and telemetry defaults. Default none.
    #[serde(default)]
    pub game: Option<String>,
}

/// One `[[peers]]` entry: another node this one knows statically.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// The peer's node name; unique.
    pub name: String,
    /// The peer's QUIC control address.
    pub control: SocketAddr,
    /// The peer's data-plane address.
    pub data: SocketAddr,
    /// Name expected in the peer's certificate. Default: `name`.
    #[serde(default)]
    pub server_name: Option<String>,
}

impl Peer {
    /// The TLS name to verify: `server_name`, or `name` when unset.
    pub fn tls_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.name)
    }
}

/// Membership timing preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeshPreset {
    /// One data centre or region: 1 s probes, 4 s suspicion; a crash is seen everywhere in
    /// ~6–7 s (5 nodes).
    #[default]
    Lan,
    /// Nodes on several continents: 5 s probes, 30 s suspicion; a crash is seen in ~40 s.
    Wan,
}

/// `[mesh]`: gossip membership. Without this section the node uses its `[[peers]]` only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshSection {
    /// Where to join: `ip:port`, `host[:port]` (A/AAAA) or `srv:domain`
    /// (`_lightspeed._udp.domain` SRV records). A node may list itself. Default none (a
    /// first node waits for others to join it).
    pub seeds: Vec<String>,
    /// Timing preset, `lan` (default) or `wan`.
    pub preset: MeshPreset,
    /// Expected mesh size; suspicion time and transmissions grow with log10 of it. Default 16.
    pub cluster_size: u32,
    /// Overrides the preset's probe period (how often each node probes one member).
    #[serde(with = "humantime_serde")]
    pub probe_period: Option<Duration>,
    /// Overrides the preset's suspicion time (how long a suspect may refute before it is
    /// declared down). Detection time ≈ 2 × probe_period + suspect_timeout + 3 gossip periods.
    #[serde(with = "humantime_serde")]
    pub suspect_timeout: Option<Duration>,
    /// Overrides the preset's gossip period.
    #[serde(with = "humantime_serde")]
    pub gossip_period: Option<Duration>,
    /// How often each peer is probed over the data port (RTT, jitter, loss) and the claim
    /// considered for republication. Default 1 s: 34-byte probes, ~2 KB/s for 64 peers, loss
    /// resolved to 1 % over 100 s. Allowed 10 ms..=60 s.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// Republish this node's claim at least this often. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// `[[mesh.reach]]`: data addresses this node uses for given peers instead of the ones
    /// they gossip (private VPC addresses between relays, a NAT hairpin). Default none.
    pub reach: Vec<Reach>,
}

/// One `[[mesh.reach]]` entry: send to `peer` at `data_addr`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reach {
    /// The peer's node name; unique in the list.
    pub peer: String,
    /// The data-plane address to probe it and send its traffic to.
    pub data_addr: SocketAddr,
}

impl Default for MeshSection {
    fn default() -> Self {
        MeshSection {
            seeds: Vec::new(),
            preset: MeshPreset::Lan,
            cluster_size: 16,
            probe_period: None,
            suspect_timeout: None,
            gossip_period: None,
            probe_interval: Duration::from_secs(1),
            refresh: Duration::from_secs(30),
            reach: Vec::new(),
        }
    }
}
