//! A validated scenario: every name resolved, every number in range, phases derived from the
//! timeline. Built by [`Scenario::from_toml`] / [`Scenario::load`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use lightspeed_actors::spec::{FecSetting, MultipathMode};
use lightspeed_mesh::Role;

use crate::link::{LinkConfig, LossModel};

/// Why a scenario file was rejected. Every message names the offending field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// TOML syntax, or a field that is unknown, missing or of the wrong type (the message gives
    /// the field and its line).
    #[error("{0}")]
    Parse(toml::de::Error),
    /// A field's value is wrong; `field` is its path, e.g. `link[2].b`.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The field is part of the format but this runner cannot measure it yet.
    #[error("{field}: not supported yet: {reason}")]
    Unsupported {
        /// Path of the field.
        field: String,
        /// Why.
        reason: &'static str,
    },
}

// By hand rather than `#[from]`, which would also make the TOML error the `source` and print
// its message twice in an error chain.
impl From<toml::de::Error> for ScenarioError {
    fn from(e: toml::de::Error) -> Self {
        ScenarioError::Parse(e)
    }
}

impl ScenarioError {
    pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `[scenario] name`.
    pub name: String,
    /// `[scenario] description`.
    pub description: String,
    /// Length of the measured run (after the warm-up).
    pub duration: Duration,
    /// Seed of every emulated link and traffic schedule.
    pub seed: u64,
    /// Mesh mode: the nodes run gossip membership and probe their links (`[scenario] mesh`).
    pub mesh: bool,
    /// Nodes, in file order.
    pub nodes: Vec<NodeDef>,
    /// Links between nodes, one per unordered pair.
    pub links: Vec<LinkDef>,
    /// The game session(s) driven through the mesh.
    pub game: GameDef,
    /// Timeline, sorted by time (stable).
    pub events: Vec<Event>,
    /// Phases: the run split at event times.
    pub phases: Vec<Phase>,
    /// Expectations, one per checked key.
    pub expects: Vec<Expect>,
}

/// A mesh node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDef {
    /// Name (also its certificate name).
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Free text, e.g. `"Bangkok"`.
    pub region: String,
}

/// An emulated link between two nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDef {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// Direction `a → b`.
    pub a_to_b: LinkConfig,
    /// Direction `b → a`.
    pub b_to_a: LinkConfig,
}

impl LinkDef {
    /// Whether this link joins `x` and `y` (either way round).
    pub fn joins(&self, x: &str, y: &str) -> bool {
        (self.a == x && self.b == y) || (self.a == y && self.b == x)
    }

    /// Whether `node` is one of its ends.
    pub fn touches(&self, node: &str) -> bool {
        self.a == node || self.b == node
    }
}

/// The game traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct GameDef {
    /// Game profile id (`lightspeed_edge::profiles`).
    pub profile: String,
    /// Concurrent players, each its own session.
    pub players: u32,
    /// The proxy hosting the game server.
    pub proxy: String,
    /// The edge the players use.
    pub edge: String,
    /// Relays between edge and proxy, edge side first (empty with `auto_route`).
    pub route: Vec<String>,
    /// `route = "auto"`: the edge plans its paths from the mesh topology (mesh mode only).
    pub auto_route: bool,
    /// With `auto_route`: the path policy's minimum dwell (default: the profile's).
    pub min_dwell: Option<std::time::Duration>,
    /// The standby path's relays (`Some(vec![])`: direct), `None` without a standby.
    pub backup_route: Option<Vec<String>>,
    /// Whether the edge duplicates on the standby.
    pub multipath: MultipathMode,
    /// The edge's FEC setting.
    pub fec: FecSetting,
    /// The FEC setting as written.
    pub fec_text: String,
    /// Each player ↔ edge link (direction player → edge; the other direction is the same).
    pub client_link: LinkConfig,
    /// Proxy ↔ game server link (both directions).
    pub server_link: LinkConfig,
}

impl GameDef {
    /// Node names along the configured path: edge, relays, proxy.
    pub fn path(&self) -> Vec<String> {
        self.path_through(&self.route)
    }

    /// Node names along the standby path, if one is configured.
    pub fn backup_path(&self) -> Option<Vec<String>> {
        self.backup_route.as_deref().map(|r| self.path_through(r))
    }

    fn path_through(&self, relays: &[String]) -> Vec<String> {
        std::iter::once(self.edge.clone())
            .chain(relays.iter().cloned())
            .chain(std::iter::once(self.proxy.clone()))
            .collect()
    }
}

/// Changes a `degrade` event makes to a link (both directions); `None` keeps the base value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Degrade {
    /// New one-way delay.
    pub delay: Option<Duration>,
    /// New jitter scale.
    pub jitter: Option<Duration>,
    /// New loss model.
    pub loss: Option<LossModel>,
    /// New bottleneck rate, bits per second.
    pub rate_bps: Option<u64>,
}

impl Degrade {
    /// `base` with these changes.
    pub fn apply(&self, base: &LinkConfig) -> LinkConfig {
        LinkConfig {
            delay: self.delay.unwrap_or(base.delay),
            jitter: self.jitter.unwrap_or(base.jitter),
            loss: self.loss.unwrap_or(base.loss),
            rate_bps: self.rate_bps.or(base.rate_bps),
            ..base.clone()
        }
    }
}

/// What a partition or heal cuts or restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One link.
    Link(String, String),
    /// Every link of a node.
    Node(String),
}

/// A timeline action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Crash a node (`kill` or `crash`): its links go dark, then it stops without a Close or
    /// a membership Leave.
    Kill(String),
    /// Stop a node gracefully: it leaves the mesh and closes its sessions, then its links go
    /// dark.
    Leave(String),
    /// Start a node that was not started with the others (its first event).
    Join(String),
    /// Start a killed or departed node again with the same identity and addresses.
    Restart(String),
    /// Change a link's shape.
    Degrade {
        /// One end.
        a: String,
        /// Other end.
        b: String,
        /// The change.
        change: Degrade,
    },
    /// Put a link back to its configured shape.
    Restore {
        /// One end.
        a: String,
        /// Other end.
        b: String,
    },
    /// Cut a link or all of a node's links.
    Partition(Target),
    /// Undo a partition.
    Heal(Target),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = |t: &Target| match t {
            Target::Link(a, b) => format!("{a}–{b}"),
            Target::Node(n) => n.clone(),
        };
        match self {
            Action::Kill(n) => write!(f, "kill {n}"),
            Action::Leave(n) => write!(f, "leave {n}"),
            Action::Join(n) => write!(f, "join {n}"),
            Action::Restart(n) => write!(f, "restart {n}"),
            Action::Degrade { a, b, .. } => write!(f, "degrade {a}–{b}"),
            Action::Restore { a, b } => write!(f, "restore {a}–{b}"),
            Action::Partition(t) => write!(f, "partition {}", target(t)),
            Action::Heal(t) => write!(f, "heal {}", target(t)),
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When, from the start of the measured run.
    pub at: Duration,
    /// What.
    pub action: Action,
}

/// A stretch of the run between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Name (`phase = ...` of the event that starts it, or made up from the event).
    pub name: String,
    /// Start, from the start of the run.
    pub start: Duration,
    /// End.
    pub end: Duration,
}

/// A measured quantity an expectation bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Metric {
    /// Game packets not echoed / sent.
    ResidualLoss,
    /// Median RTT, ms.
    RttP50,
    /// 95th percentile RTT, ms.
    RttP95,
    /// 99th percentile RTT, ms.
    RttP99,
    /// Mean |ΔRTT| between consecutive echoes, ms.
    Jitter,
    /// Packets dropped by the emulated inter-node links / offered to them (before FEC).
    LinkLoss,
    /// Packets FEC rebuilt at the edge and the proxy.
    FecRecovered,
    /// Longest stretch of consecutive lost game packets, ms.
    MaxGap,
    /// From the event that starts the phase (the fault) to the first game packet delivered
    /// after the interruption it caused, ms (0 when nothing was lost).
    Failover,
    /// The node path that carried the game traffic.
    Path,
    /// Path changes of the game's sessions at the edge (chosen moves and failovers).
    Switches,
    /// Share of the edge's FEC parity sent on its sessions' standby path (cross-path
    /// parity), 0 when the edge sent none.
    CrossParity,
    /// Members each observer lists as alive at the end of the phase (itself included).
    MembersAlive,
    /// Members each observer lists as suspect at the end of the phase.
    MembersSuspect,
    /// Members each observer lists as down at the end of the phase.
    MembersDown,
    /// Members each observer lists as left at the end of the phase.
    MembersLeft,
    /// From the membership event that opens the phase until every other running node shows
    /// its outcome (crash: down; leave: left; join, restart: alive in its new life), ms.
    Detect,
}

impl Metric {
    /// Whether the metric is read from the nodes' member tables.
    pub fn is_membership(self) -> bool {
        matches!(
            self,
            Metric::MembersAlive
                | Metric::MembersSuspect
                | Metric::MembersDown
                | Metric::MembersLeft
                | Metric::Detect
        )
    }
}

/// The bound of an expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// Measured must be ≤ this.
    Max(f64),
    /// Measured must be ≥ this.
    Min(f64),
    /// Measured path must equal this.
    Path(Vec<String>),
    /// Measured must equal this (member counts, for every observer).
    Exact(f64),
}

/// One checked key of an `[[expect]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// Position of its `[[expect]]` entry in the file (0-based).
    pub index: usize,
    /// The key as written, e.g. `residual_loss_max`.
    pub key: &'static str,
    /// Phase it applies to; `None` for the whole run.
    pub phase: Option<String>,
    /// What is measured.
    pub metric: Metric,
    /// The bound.
    pub bound: Bound,
    /// For member counts: the nodes whose tables are checked (empty: every node running at
    /// the end of the phase).
    pub observers: Vec<String>,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expect[{}] {} = ", self.index, self.key)?;
        match &self.bound {
            Bound::Max(v) | Bound::Min(v) | Bound::Exact(v) => write!(f, "{v}")?,
            Bound::Path(p) => write!(f, "{p:?}")?,
        }
        if let Some(p) = &self.phase {
            write!(f, " (phase \"{p}\")")?;
        }
        Ok(())
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Scenario::from_toml(&text)
    }

    /// Parses and validates scenario TOML.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let file: super::file::File = toml::from_str(text)?;
        super::validate::scenario(file)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeDef> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Whether `name` starts late, with a `join` event.
    pub fn joins_late(&self, name: &str) -> bool {
        self.events
            .iter()
            .any(|e| matches!(&e.action, Action::Join(n) if n == name))
    }

    /// The link joining `x` and `y`, if any.
    pub fn link(&self, x: &str, y: &str) -> Option<&LinkDef> {
        self.links.iter().find(|l| l.joins(x, y))
    }
}
