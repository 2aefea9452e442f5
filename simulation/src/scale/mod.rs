//! Scale runs: N = 100 … 2,000 membership cores (SWIM via foca, with topology claims riding
//! along) on an emulated WAN under a simulated clock, in one thread (`lightspeed-sim scale`).
//!
//! Nothing real is involved: no sockets, no clock, no threads, no QUIC. The driver calls the
//! pure [`lightspeed_mesh::membership::Membership`] cores exactly as the DiscoveryActor does
//! (datagrams, timers, the full-state sync a node pulls over a QUIC stream when it becomes
//! active) and routes their datagrams through a seeded link model. Claims are signed with
//! [`lightspeed_mesh::topology::SimKeys`] (a keyed hash, not ECDSA) so thousands of nodes do
//! not spend the run verifying signatures.
//!
//! Phases, in order (see [`run`]):
//! 1. formation: nodes start `join_interval` apart, each announcing to one of `seeds` seed
//!    nodes; each publishes its claim once it has members. Measured: time until every node
//!    holds all N as live members, and until every node holds every claim.
//! 2. steady: a quiet window; gossip bytes per node per second.
//! 3. join: one more node joins the converged mesh; time until every other node reports it up.
//! 4. crash: one node stops silently; time until every other node reports it down.
//! 5. loss: iid `loss` on every link for `loss_window`, no crashes; suspicions, refutations
//!    and false downs about live nodes, then the time to reconverge once the loss stops.
//!
//! Determinism: one seeded RNG draws every datagram's loss and jitter in event order; the
//! queue breaks time ties by insertion order; nodes are numbered and iterated in order (no
//! hash maps); the cores are deterministic for a seed. So the report ([`ScaleReport`]) is a
//! function of [`ScaleParams`]; wall time is measured by the caller and kept out of it.
//!
//! Layout:
//! - `net.rs`: the link model (per-pair delay, jitter, loss) and the event queue.
//! - `driver.rs`: the nodes and the run loop.
//! - `phases.rs`: [`run`], the phases above.
//! - `report.rs`: [`ScaleReport`] and its table.

mod driver;
mod net;
mod phases;
mod report;

use std::time::Duration;

use lightspeed_mesh::membership::{MembershipConfig, MembershipError};

pub use phases::{run, run_with_progress};
pub use report::{
    ClaimsReport, CrashReport, FormationReport, JoinReport, LossReport, ParamsReport, Rates,
    ScaleReport, TrafficReport, render_table,
};

/// Most nodes a run accepts (the topology's default node bound, and a memory bound: each node
/// holds every other node and its claim, so memory grows as N²: ~1 GB at 500 nodes, ~4 GB
/// at 1,000, so 2,000 would need ~16 GB).
pub const MAX_NODES: usize = 4_000;

/// The membership timing preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// [`MembershipConfig::lan`]: 1 s probes, 4 s × log10 N suspicion.
    Lan,
    /// [`MembershipConfig::wan`]: 5 s probes, 30 s × log10 N suspicion.
    Wan,
}

impl Preset {
    /// The membership configuration for `nodes` nodes.
    pub fn config(self, nodes: usize) -> MembershipConfig {
        let n = u32::try_from(nodes).unwrap_or(u32::MAX);
        match self {
            Preset::Lan => MembershipConfig::lan(n),
            Preset::Wan => MembershipConfig::wan(n),
        }
    }
}

/// What a scale run simulates.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleParams {
    /// Nodes in the mesh at formation (one more joins later), 3 ..= [`MAX_NODES`].
    pub nodes: usize,
    /// Seeds the link model, every core and the claims' keys.
    pub seed: u64,
    /// Membership timing.
    pub preset: Preset,
    /// How many nodes act as seeds (node `i` announces to seed `i % seeds`).
    pub seeds: usize,
    /// Time between two nodes starting during formation.
    pub join_interval: Duration,
    /// Range of the one-way delay of a pair of nodes, drawn once per pair.
    pub delay: (Duration, Duration),
    /// Extra delay per datagram, uniform in `[0, jitter]` (it may reorder, as UDP does).
    pub jitter: Duration,
    /// iid loss on every link during the loss phase, in [0, 1).
    pub loss: f64,
    /// Length of the loss phase.
    pub loss_window: Duration,
    /// Length of the quiet window measured for steady-state traffic.
    pub steady_window: Duration,
    /// Links each node claims (0: no claims published).
    pub links_per_node: usize,
    /// Most simulated time any phase waits for its condition.
    pub phase_limit: Duration,
}

impl ScaleParams {
    /// The defaults for `nodes` nodes: LAN timing, 3 seeds, joins 10 ms apart, 5–80 ms
    /// one-way delays with 0–2 ms jitter, 10 % loss for 60 s, a 30 s steady window, 4 links
    /// per claim, phases abandoned after 120 s.
    pub fn new(nodes: usize, seed: u64) -> ScaleParams {
        ScaleParams {
            nodes,
            seed,
            preset: Preset::Lan,
            seeds: 3,
            join_interval: Duration::from_millis(10),
            delay: (Duration::from_millis(5), Duration::from_millis(80)),
            jitter: Duration::from_millis(2),
            loss: 0.10,
            loss_window: Duration::from_secs(60),
            steady_window: Duration::from_secs(30),
            links_per_node: 4,
            phase_limit: Duration::from_secs(120),
        }
    }

    fn validate(&self) -> Result<(), ScaleError> {
        if !(3..=MAX_NODES).contains(&self.nodes) {
            return Err(ScaleError::Params("nodes must be 3 ..= 4000"));
        }
        if self.seeds == 0 || self.seeds >= self.nodes {
            return Err(ScaleError::Params("seeds must be 1 ..< nodes"));
        }
        if !(0.0..1.0).contains(&self.loss) {
            return Err(ScaleError::Params("loss must be in [0, 1)"));
        }
        if self.delay.0 > self.delay.1 || self.delay.1 > Duration::from_secs(10) {
            return Err(ScaleError::Params("delay must be a range within 10 s"));
        }
        if self.jitter > Duration::from_secs(10) {
            return Err(ScaleError::Params("jitter must be within 10 s"));
        }
        if self.links_per_node > 64 {
            return Err(ScaleError::Params("links_per_node must be at most 64"));
        }
        Ok(())
    }
}

/// Why a scale run could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScaleError {
    /// A parameter is out of range (the message says which).
    #[error("invalid scale parameters: {0}")]
    Params(&'static str),
    /// A membership core refused to start.
    #[error(transparent)]
    Membership(#[from] MembershipError),
}
