//! The scenario file as written: TOML tables deserialized with `deny_unknown_fields`, before
//! any cross-checking ([`super::model`] turns them into a validated [`super::Scenario`]).

use serde::Deserialize;

use lightspeed_mesh::Role;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub(super) scenario: Header,
    #[serde(default)]
    pub(super) node: Vec<NodeEntry>,
    #[serde(default)]
    pub(super) link: Vec<LinkEntry>,
    pub(super) game: GameEntry,
    #[serde(default)]
    pub(super) event: Vec<EventEntry>,
    #[serde(default)]
    pub(super) expect: Vec<ExpectEntry>,
}

/// `[scenario]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Header {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    pub(super) duration_s: f64,
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    /// Name of the phase before the first event.
    #[serde(default = "default_first_phase")]
    pub(super) first_phase: String,
    /// Nodes join a gossip mesh and probe their links through the emulated forwarders.
    #[serde(default)]
    pub(super) mesh: bool,
}

fn default_seed() -> u64 {
    1
}

fn default_first_phase() -> String {
    "start".into()
}

/// `[[node]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NodeEntry {
    pub(super) name: String,
    pub(super) roles: Vec<Role>,
    #[serde(default)]
    pub(super) region: String,
}

/// `loss = { iid = 0.05 }` or `loss = { burst_loss = 0.05, mean_burst = 3 }`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct LossEntry {
    pub(super) iid: Option<f64>,
    pub(super) burst_loss: Option<f64>,
    pub(super) mean_burst: Option<f64>,
}

/// `[[link]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkEntry {
    pub(super) a: String,
    pub(super) b: String,
    #[serde(default)]
    pub(super) delay_ms: f64,
    #[serde(default)]
    pub(super) jitter_ms: f64,
    pub(super) loss: Option<LossEntry>,
    pub(super) rate_kbps: Option<u64>,
    #[serde(default = "default_true")]
    pub(super) symmetric: bool,
}

fn default_true() -> bool {
    true
}

/// A last-mile link's shape: `[game] client_link = { delay_ms = 2 }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShapeEntry {
    #[serde(default)]
    pub(super) delay_ms: f64,
    #[serde(default)]
    pub(super) jitter_ms: f64,
    pub(super) loss: Option<LossEntry>,
    pub(super) rate_kbps: Option<u64>,
}

/// `[game]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GameEntry {
    pub(super) profile: String,
    #[serde(default = "default_players")]
    pub(super) players: u32,
    pub(super) server: String,
    pub(super) edge: String,
    #[serde(default)]
    pub(super) route: RouteEntry,
    pub(super) backup_route: Option<Vec<String>>,
    /// With `route = "auto"`: the path policy's minimum dwell, ms (default: the profile's).
    pub(super) min_dwell_ms: Option<u64>,
    #[serde(default = "default_multipath")]
    pub(super) multipath: String,
    #[serde(default = "default_fec")]
    pub(super) fec: String,
    #[serde(default)]
    pub(super) client_link: ShapeEntry,
    #[serde(default)]
    pub(super) server_link: ShapeEntry,
}

/// `game.route`: the relays of a static path, or `"auto"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RouteEntry {
    /// Relay names, edge side first.
    Relays(Vec<String>),
    /// A routing mode (only `"auto"` is valid).
    Mode(String),
}

impl Default for RouteEntry {
    fn default() -> RouteEntry {
        RouteEntry::Relays(Vec::new())
    }
}

fn default_players() -> u32 {
    1
}

fn default_multipath() -> String {
    "off".into()
}

fn default_fec() -> String {
    "auto".into()
}

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ActionEntry {
    #[serde(alias = "crash")]
    Kill,
    Leave,
    Join,
    Restart,
    Degrade,
    Restore,
    Partition,
    Heal,
}

/// `[[event]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventEntry {
    pub(super) at_s: f64,
    pub(super) action: ActionEntry,
    pub(super) node: Option<String>,
    pub(super) link: Option<Vec<String>>,
    pub(super) phase: Option<String>,
    pub(super) delay_ms: Option<f64>,
    pub(super) jitter_ms: Option<f64>,
    pub(super) loss: Option<LossEntry>,
    pub(super) rate_kbps: Option<u64>,
}

/// `[[expect]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectEntry {
    pub(super) phase: Option<String>,
    pub(super) residual_loss_max: Option<f64>,
    pub(super) rtt_p50_min_ms: Option<f64>,
    pub(super) rtt_p50_max_ms: Option<f64>,
    pub(super) rtt_p95_max_ms: Option<f64>,
    pub(super) rtt_p99_max_ms: Option<f64>,
    pub(super) jitter_max_ms: Option<f64>,
    pub(super) link_loss_min: Option<f64>,
    pub(super) link_loss_max: Option<f64>,
    pub(super) fec_recovered_min: Option<u64>,
    pub(super) cross_parity_min: Option<f64>,
    pub(super) max_gap_max_ms: Option<f64>,
    pub(super) failover_max_ms: Option<f64>,
    pub(super) path: Option<Vec<String>>,
    pub(super) switches_max: Option<u64>,
    pub(super) members_seen_min: Option<u32>,
    pub(super) members_alive: Option<u32>,
    pub(super) members_suspect: Option<u32>,
    pub(super) members_down: Option<u32>,
    pub(super) members_left: Option<u32>,
    pub(super) observers: Option<Vec<String>>,
    pub(super) detect_max_ms: Option<f64>,
}
