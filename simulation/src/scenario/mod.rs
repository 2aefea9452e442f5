//! Topology scenarios: a TOML file describes nodes, emulated links, the game traffic, a
//! timeline of events and expectations; [`run_blocking`] stands the nodes up on loopback with
//! real sockets, QUIC and the data plane, drives the game through them and reports, per phase
//! of the timeline, what the game saw (DESIGN.md §9). `lightspeed-sim run FILE` is the CLI.
//! The format is documented in `docs/simulation.md`.
//!
//! Layout:
//! - `file`: the file as written (serde, `deny_unknown_fields`).
//! - `validate`: names resolved, numbers checked, links paired, phases derived →
//!   [`Scenario`] (in `model`).
//! - `world`: the running nodes, links, last-mile links and echo server; `timeline`: the
//!   actions that change it; `world_mesh`: mesh mode (gossip membership, reach books).
//! - `members`: the nodes' member tables sampled through a run (mesh mode).
//! - `players`: game clients recording each packet's RTT or loss.
//! - `report`: per-phase figures and expectation checks → [`Report`].
//! - `table` and `plot`: the human table and the SVG plot.
//!
//! Wall time: a run takes its `duration_s` plus the warm-up (the tunnel coming up, well under a
//! second on loopback), a drain of one second plus the configured delays, and teardown.

mod file;
mod links;
mod members;
mod model;
mod players;
mod plot;
mod report;
mod table;
mod timeline;
mod validate;
mod validate_members;
mod validate_timeline;
mod world;
mod world_mesh;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

pub use model::{
    Action, Bound, Degrade, Event, Expect, GameDef, LinkDef, Metric, NodeDef, Phase, Scenario,
    ScenarioError, Target,
};
pub use players::Sample;
pub use plot::render_svg;
pub use report::{
    EventReport, MemberCounts, Outcome, Percentiles, PhaseStats, PlayerSamples, Report, SeenLink,
};
pub use table::render_table;
pub use validate::{MAX_DURATION_S, MAX_PLAYERS};

use members::Timeline;
use report::Snapshot;
use world::World;

/// Extra time a run may take beyond its duration before it is abandoned (set-up, warm-up,
/// events such as a restart waiting for its ports, drain, teardown).
const RUN_SLACK: Duration = Duration::from_secs(60);
/// Time after the last packet for echoes still in flight (plus the configured delays).
const DRAIN: Duration = Duration::from_secs(1);

/// Why a run could not be carried out (a failed expectation is not an error: see
/// [`Report::passed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Something could not be started.
    #[error("setting up {what}: {reason}")]
    Setup {
        /// What.
        what: String,
        /// Why.
        reason: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A player's socket failed.
    #[error("player socket: {0}")]
    Io(std::io::Error),
    /// No echo came back through the tunnel during the warm-up.
    #[error("the tunnel did not come up for player {player} within 10 s")]
    TunnelDown {
        /// Which player.
        player: usize,
    },
    /// The run took far longer than its duration.
    #[error("the run did not finish within {0:?}")]
    Timeout(Duration),
    /// The tokio runtime could not start.
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
}

/// Runs `scenario` on a fresh tokio runtime and actix system (the nodes' actors need one);
/// returns when everything it started is stopped.
pub fn run_blocking(scenario: &Scenario, options: &RunOptions) -> Result<Report, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lightspeed-sim")
        .build()
        .map_err(RunError::Runtime)?;
    let sc = scenario.clone();
    let options = options.clone();
    actix_rt::System::with_tokio_rt(move || runtime)
        .block_on(async move { run(&sc, &options).await })
}

/// Runs `scenario`. Must be called inside an actix system on a multi-thread tokio runtime
/// (see [`run_blocking`]).
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<Report, RunError> {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let wall = std::time::Instant::now();
    let mut sc = scenario.clone();
    if let Some(seed) = options.seed {
        sc.seed = seed;
    }
    let dir = std::env::temp_dir().join(format!(
        "lightspeed-sim-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let limit = sc.duration + RUN_SLACK;
    let outcome = tokio::time::timeout(limit, async {
        let mut world = World::start(&sc, dir.clone()).await?;
        let result = drive(&sc, &mut world).await;
        world.stop().await;
        result
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let measured = outcome.map_err(|_| RunError::Timeout(limit))??;
    Ok(assemble(&sc, measured, wall.elapsed()))
}

/// What a run recorded.
struct Measured {
    samples: Vec<Vec<Sample>>,
    snapshots: Vec<Snapshot>,
    timeline: Timeline,
    topology: Vec<SeenLink>,
}

fn snapshot(world: &World) -> Snapshot {
    Snapshot {
        links: world.link_stats(),
        fec: world.fec_totals(),
        views: world.views(),
    }
}

/// Waits until `deadline`; in mesh mode reads the member tables every
/// [`members::SAMPLE_EVERY`] meanwhile (and once at the deadline).
async fn wait(world: &World, t0: Instant, deadline: Instant, timeline: &mut Timeline) {
    if world.mesh.is_none() {
        tokio::time::sleep_until(deadline).await;
        return;
    }
    loop {
        let now = Instant::now();
        timeline.push((
            now.saturating_duration_since(t0).as_micros() as u64,
            world.views(),
        ));
        if now >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.min(now + members::SAMPLE_EVERY)).await;
    }
}

async fn drive(sc: &Scenario, world: &mut World) -> Result<Measured, RunError> {
    let g = &sc.game;
    let profile = lightspeed_edge::profiles::profile(&g.profile).ok_or(RunError::Setup {
        what: "game profile".into(),
        reason: format!("unknown game '{}'", g.profile).into(),
    })?;
    let pps = profile.upstream.pps.max(1);
    let targets: Vec<_> = (0..g.players as usize)
        .filter_map(|p| world.player_target(p))
        .collect();
    let capacity = (f64::from(pps) * sc.duration.as_secs_f64()) as usize + 16;
    let origin = Instant::now();
    let (mut players, t0) = players::warm_up(&targets, origin, capacity).await?;
    let mut snapshots = vec![snapshot(world)];
    let interval = Duration::from_micros(1_000_000 / u64::from(pps));
    let mut senders = Vec::new();
    for (i, p) in players.iter().enumerate() {
        // Players spread over one tick, as real clients are not in phase.
        let stagger = interval * i as u32 / g.players.max(1);
        let seed = sc.seed ^ (0x7ea_0000 + i as u64);
        senders.push(p.spawn_sender(&g.profile, seed, stagger, origin, t0, sc.duration)?);
    }
    let mut timeline = Timeline::new();
    let mut last_boundary = Duration::ZERO;
    for e in &sc.events {
        if e.at > last_boundary {
            wait(world, t0, t0 + e.at, &mut timeline).await;
            snapshots.push(snapshot(world));
            last_boundary = e.at;
        }
        world.apply(&e.action).await?;
    }
    wait(world, t0, t0 + sc.duration, &mut timeline).await;
    for s in senders {
        let _ = s.await;
    }
    let delays: Duration = sc
        .links
        .iter()
        .map(|l| l.a_to_b.delay + l.b_to_a.delay)
        .sum::<Duration>()
        + (g.client_link.delay + g.server_link.delay) * 2;
    wait(world, t0, Instant::now() + DRAIN + delays, &mut timeline).await;
    snapshots.push(snapshot(world));
    let samples = players
        .iter_mut()
        .map(|p| {
            p.stop();
            std::mem::take(&mut *p.samples.lock())
        })
        .collect();
    Ok(Measured {
        samples,
        snapshots,
        timeline,
        topology: world.topology(),
    })
}

/// Detection time of the membership event that opens each phase, ms.
fn detections(sc: &Scenario, timeline: &Timeline, phases: &mut [PhaseStats]) {
    let last = phases.len().saturating_sub(1);
    for (i, (p, phase)) in sc.phases.iter().zip(phases.iter_mut()).enumerate() {
        let Some(event) = sc
            .events
            .iter()
            .find(|e| e.at == p.start && validate_members::subject(&e.action).is_some())
        else {
            continue;
        };
        // The last phase runs on through the drain.
        let until = if i == last {
            u64::MAX
        } else {
            p.end.as_micros() as u64
        };
        let from = p.start.as_micros() as u64;
        phase.detect_ms =
            members::detect_us(timeline, &event.action, from, until).map(|us| us as f64 / 1e3);
    }
}

fn assemble(sc: &Scenario, measured: Measured, wall: Duration) -> Report {
    let Measured {
        samples,
        snapshots: snaps,
        timeline,
        topology,
    } = measured;
    let links: Vec<(String, String)> = sc.links.iter().map(|l| world::orient(sc, l)).collect();
    let empty = Snapshot::default();
    let first = snaps.first().unwrap_or(&empty);
    let last = snaps.last().unwrap_or(&empty);
    let bounds = report::phase_bounds(&sc.phases);
    let mut phases: Vec<PhaseStats> = bounds
        .iter()
        .enumerate()
        .map(|(i, (name, start, end))| {
            let before = snaps.get(i).unwrap_or(first);
            let after = snaps.get(i + 1).unwrap_or(last);
            report::phase_stats(sc, name, (*start, *end), &samples, &links, before, after)
        })
        .collect();
    let end = sc.duration.as_micros() as u64;
    let mut overall = report::phase_stats(sc, "all", (0, end), &samples, &links, first, last);
    overall.failover_ms = phases.iter().map(|p| p.failover_ms).fold(0.0, f64::max);
    detections(sc, &timeline, &mut phases);
    let expectations: Vec<Outcome> = sc
        .expects
        .iter()
        .map(|e| report::check(e, &phases, &overall))
        .collect();
    Report {
        scenario: sc.name.clone(),
        seed: sc.seed,
        game: sc.game.profile.clone(),
        players: sc.game.players,
        fec: sc.game.fec_text.clone(),
        configured_path: sc.game.path(),
        duration_s: sc.duration.as_secs_f64(),
        events: sc
            .events
            .iter()
            .map(|e| EventReport {
                at_s: e.at.as_secs_f64(),
                action: e.action.to_string(),
            })
            .collect(),
        passed: expectations.iter().all(|o| o.passed),
        phases,
        overall,
        expectations,
        wall_s: wall.as_secs_f64(),
        samples: samples
            .into_iter()
            .enumerate()
            .map(|(player, s)| PlayerSamples {
                player,
                sent_ms: s.iter().map(|x| x.sent_us as f64 / 1e3).collect(),
                rtt_ms: s.iter().map(|x| x.rtt_us.map(|r| r as f64 / 1e3)).collect(),
            })
            .collect(),
        topology,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mesh;
