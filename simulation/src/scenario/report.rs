//! What a run measured: per-phase figures from the per-packet samples and the link and FEC
//! counters snapshotted at phase boundaries, and the expectations checked against them.

use serde::Serialize;

use super::members::View;
use super::model::{Bound, Expect, Metric, Phase, Scenario};
use super::players::Sample;
use super::world::FecTotals;
use crate::udp_link::UdpLinkStats;

/// Counters read at one instant of the run.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    pub(super) links: Vec<UdpLinkStats>,
    pub(super) fec: FecTotals,
    /// Member tables of the running nodes (mesh mode).
    pub(super) views: Vec<View>,
}

/// One node's member table summed up: how many members it lists in each state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MemberCounts {
    /// The observing node.
    pub node: String,
    /// Alive, itself included.
    pub alive: u32,
    /// Suspected (missed probes, may still refute).
    pub suspect: u32,
    /// Declared down.
    pub down: u32,
    /// Left gracefully.
    pub left: u32,
}

/// One measured link in a node's topology graph (what `/api/topology` shows).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeenLink {
    /// The node whose graph this is.
    pub observer: String,
    /// Measuring node.
    pub from: String,
    /// Far end.
    pub to: String,
    /// Smoothed RTT of the data-port probes, ms.
    pub rtt_ms: f64,
    /// Probe loss, fraction.
    pub loss: f64,
    /// Older than the staleness bound.
    pub stale: bool,
}

/// RTT percentiles, ms (nearest rank).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
}

/// Figures of one phase (or of the whole run).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseStats {
    /// Phase name (`all` for the whole run).
    pub name: String,
    /// Start, s from the start of the run.
    pub start_s: f64,
    /// End, s.
    pub end_s: f64,
    /// Game packets sent in the phase, all players.
    pub sent: u64,
    /// Of those, echoed back.
    pub received: u64,
    /// `1 − received / sent`: loss the game saw, after FEC.
    pub residual_loss: f64,
    /// Round-trip time of echoed packets (player → edge → … → game server and back).
    pub rtt_ms: Percentiles,
    /// Mean |ΔRTT| between a player's consecutive echoes, ms.
    pub jitter_ms: f64,
    /// Longest time a player went without echoes: from the first lost packet of a run of
    /// losses to the next packet that came back, ms (0 without loss).
    pub max_gap_ms: f64,
    /// From the phase's start (the event that opened it: the fault) to the first game packet
    /// delivered to the game server after the first loss of the phase, ms, worst player;
    /// delivery is taken as half the packet's RTT after its send. 0 when the phase lost
    /// nothing. The first phase has no event, so there it counts from its first lost packet.
    /// For the whole run: the worst phase.
    pub failover_ms: f64,
    /// Second copies of game packets sent on the standby path by the edge and the proxy
    /// (multipath).
    pub duplicates_sent: u64,
    /// `duplicates_sent` per game packet the edge and the proxy sent: multipath's overhead.
    pub duplicate_overhead: f64,
    /// Later copies the edge and the proxy dropped (their replay windows had the first).
    pub deduplicated: u64,
    /// Packets the emulated inter-node links dropped / were offered (all packet types,
    /// both directions): loss before FEC.
    pub link_loss: f64,
    /// Tunnel data packets (not parity or control) the inter-node links dropped.
    pub data_lost_on_links: u64,
    /// Packets FEC rebuilt at the edge and the proxy.
    pub fec_recovered: u64,
    /// Parity packets per data packet sent by the edge and the proxy.
    pub fec_overhead: f64,
    /// Share of the edge's parity sent on its standby path (cross-path parity), 0 when it
    /// sent none.
    pub cross_parity: f64,
    /// Path changes of the game's sessions at the edge in the phase (chosen moves and
    /// failovers).
    pub path_switches: u64,
    /// Nodes that carried the game's packets, from the edge (links that delivered at least
    /// half as many packets as the players sent).
    pub path: Vec<String>,
    /// Mesh mode: each running node's member table at the end of the phase.
    pub members: Vec<MemberCounts>,
    /// Mesh mode, phases opened by a kill, leave, join or restart: from the event until every
    /// other running node showed its outcome, ms (`None`: not within the phase).
    pub detect_ms: Option<f64>,
    /// The proxy's leg to the game server at the end of the phase as its sessions measured it
    /// from the game traffic (smoothed, mean over sessions), ms; `None` before a sample. The
    /// echo server answers at once, so this is ≈ 2 × the server link's delay plus timer rounding
    /// while that is shorter than the game's packet interval (mesh `server_leg.rs`).
    pub server_rtt_ms: Option<f64>,
}

/// One checked expectation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    /// `expect[i] key = bound (phase "p")`.
    pub expectation: String,
    /// What was measured.
    pub measured: String,
    /// Whether it held.
    pub passed: bool,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed { "ok    " } else { "FAILED" };
        write!(
            f,
            "{verdict} {}: measured {}",
            self.expectation, self.measured
        )
    }
}

/// A scenario event as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventReport {
    /// When, s.
    pub at_s: f64,
    /// What, e.g. `kill relay-sgp`.
    pub action: String,
}

/// One player's packets.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlayerSamples {
    /// Player index.
    pub player: usize,
    /// Send times, ms from the start of the run.
    pub sent_ms: Vec<f64>,
    /// Round-trip times, ms, `null` when lost.
    pub rtt_ms: Vec<Option<f64>>,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Game profile.
    pub game: String,
    /// Players.
    pub players: u32,
    /// FEC setting of the edge.
    pub fec: String,
    /// The configured (static) path.
    pub configured_path: Vec<String>,
    /// Measured run length, s.
    pub duration_s: f64,
    /// Timeline.
    pub events: Vec<EventReport>,
    /// Per phase.
    pub phases: Vec<PhaseStats>,
    /// Whole run.
    pub overall: PhaseStats,
    /// Expectations in file order.
    pub expectations: Vec<Outcome>,
    /// All expectations held.
    pub passed: bool,
    /// Wall time of the whole run including set-up and teardown, s.
    pub wall_s: f64,
    /// Every game packet.
    pub samples: Vec<PlayerSamples>,
    /// Mesh mode: every running node's topology graph at the end of the run.
    pub topology: Vec<SeenLink>,
}

impl Report {
    /// The failed expectations.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.expectations.iter().filter(|o| !o.passed)
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied().unwrap_or(0)
}

fn delta(after: u64, before: u64) -> u64 {
    after.saturating_sub(before)
}

/// Figures for `[start, end)` µs of the run, counters from `before` to `after`.
pub(super) fn phase_stats(
    sc: &Scenario,
    name: &str,
    (start, end): (u64, u64),
    players: &[Vec<Sample>],
    links: &[(String, String)],
    before: &Snapshot,
    after: &Snapshot,
) -> PhaseStats {
    let mut rtts = Vec::new();
    let (mut sent, mut jitter_sum, mut jitter_n, mut max_gap) = (0u64, 0u64, 0u64, 0u64);
    let failover = players
        .iter()
        .map(|s| failover_us(s, start, end))
        .max()
        .unwrap_or(0);
    for samples in players {
        let mut prev: Option<u64> = None;
        let mut gap_start: Option<u64> = None;
        for s in samples
            .iter()
            .filter(|s| s.sent_us >= start && s.sent_us < end)
        {
            sent += 1;
            match s.rtt_us {
                Some(r) => {
                    rtts.push(r);
                    if let Some(p) = prev {
                        jitter_sum += r.abs_diff(p);
                        jitter_n += 1;
                    }
                    prev = Some(r);
                    if let Some(g) = gap_start.take() {
                        max_gap = max_gap.max(s.sent_us - g);
                    }
                }
                None => {
                    gap_start.get_or_insert(s.sent_us);
                }
            }
        }
        if let Some(g) = gap_start {
            max_gap = max_gap.max(end.saturating_sub(g));
        }
    }
    rtts.sort_unstable();
    let received = rtts.len() as u64;
    let (mut offered, mut dropped, mut data_lost) = (0u64, 0u64, 0u64);
    let mut carried = Vec::new();
    for (i, (from, to)) in links.iter().enumerate() {
        let (Some(b), Some(a)) = (before.links.get(i), after.links.get(i)) else {
            continue;
        };
        offered += delta(a.up.sent, b.up.sent) + delta(a.down.sent, b.down.sent);
        dropped += delta(a.up.dropped.total(), b.up.dropped.total())
            + delta(a.down.dropped.total(), b.down.dropped.total());
        data_lost += delta(a.data_dropped, b.data_dropped);
        let up = delta(a.up.delivered, b.up.delivered);
        if sent > 0 && up * 2 >= sent {
            carried.push((from.as_str(), to.as_str(), up));
        }
    }
    let fec_data = delta(after.fec.data, before.fec.data);
    PhaseStats {
        name: name.to_string(),
        start_s: start as f64 / 1e6,
        end_s: end as f64 / 1e6,
        sent,
        received,
        residual_loss: if sent == 0 {
            0.0
        } else {
            1.0 - received as f64 / sent as f64
        },
        rtt_ms: Percentiles {
            p50: ms(percentile(&rtts, 0.50)),
            p95: ms(percentile(&rtts, 0.95)),
            p99: ms(percentile(&rtts, 0.99)),
            max: ms(rtts.last().copied().unwrap_or(0)),
        },
        jitter_ms: if jitter_n == 0 {
            0.0
        } else {
            ms(jitter_sum) / jitter_n as f64
        },
        max_gap_ms: ms(max_gap),
        failover_ms: ms(failover),
        duplicates_sent: delta(after.fec.duplicates, before.fec.duplicates),
        duplicate_overhead: if fec_data == 0 {
            0.0
        } else {
            delta(after.fec.duplicates, before.fec.duplicates) as f64 / fec_data as f64
        },
        deduplicated: delta(after.fec.deduplicated, before.fec.deduplicated),
        link_loss: if offered == 0 {
            0.0
        } else {
            dropped as f64 / offered as f64
        },
        data_lost_on_links: data_lost,
        fec_recovered: delta(after.fec.recovered, before.fec.recovered),
        fec_overhead: if fec_data == 0 {
            0.0
        } else {
            delta(after.fec.parity, before.fec.parity) as f64 / fec_data as f64
        },
        cross_parity: {
            let edge = delta(after.fec.edge_parity, before.fec.edge_parity);
            let cross = delta(after.fec.cross_parity, before.fec.cross_parity);
            if edge == 0 {
                0.0
            } else {
                cross as f64 / edge as f64
            }
        },
        path_switches: delta(after.fec.switches, before.fec.switches),
        path: walk(&sc.game.edge, &sc.game.proxy, &carried),
        members: after.views.iter().map(View::counts).collect(),
        detect_ms: None,
        server_rtt_ms: after.fec.server_rtt_us.map(ms),
    }
}

/// Fault (`start`) to the first delivery after the phase's first loss, µs (see
/// [`PhaseStats::failover_ms`]); 0 without loss. A loss with no delivery after it in the
/// phase counts to the phase's end.
fn failover_us(samples: &[Sample], start: u64, end: u64) -> u64 {
    let mut in_phase = samples
        .iter()
        .filter(|s| s.sent_us >= start && s.sent_us < end);
    let Some(first_loss) = in_phase.find(|s| s.rtt_us.is_none()) else {
        return 0;
    };
    let fault = if start == 0 {
        first_loss.sent_us
    } else {
        start
    };
    in_phase
        .find_map(|s| s.rtt_us.map(|r| s.sent_us + r / 2))
        .unwrap_or(end)
        .saturating_sub(fault)
}

/// Follows the links that carried traffic from the edge, busiest first, to the proxy.
fn walk(edge: &str, proxy: &str, carried: &[(&str, &str, u64)]) -> Vec<String> {
    let mut path = vec![edge.to_string()];
    let mut at = edge;
    while at != proxy && path.len() <= carried.len() {
        let next = carried
            .iter()
            .filter(|(f, _, _)| *f == at)
            .filter(|(_, t, _)| !path.iter().any(|p| p == t))
            .max_by_key(|(_, _, n)| *n);
        let Some((_, to, _)) = next else { break };
        path.push((*to).to_string());
        at = to;
    }
    if path.len() == 1 { Vec::new() } else { path }
}

fn number(metric: Metric, value: f64) -> String {
    match metric {
        Metric::FecRecovered => format!("{value:.0}"),
        _ => format!("{value:.4}"),
    }
}

/// Checks one expectation against the phase figures.
pub(super) fn check(e: &Expect, phases: &[PhaseStats], overall: &PhaseStats) -> Outcome {
    let stats = match &e.phase {
        Some(p) => phases.iter().find(|s| s.name == *p).unwrap_or(overall),
        None => overall,
    };
    if e.metric.is_membership() {
        return super::members::check(e, stats);
    }
    let value = match e.metric {
        Metric::ResidualLoss => stats.residual_loss,
        Metric::RttP50 => stats.rtt_ms.p50,
        Metric::RttP95 => stats.rtt_ms.p95,
        Metric::RttP99 => stats.rtt_ms.p99,
        Metric::Jitter => stats.jitter_ms,
        Metric::LinkLoss => stats.link_loss,
        Metric::FecRecovered => stats.fec_recovered as f64,
        Metric::MaxGap => stats.max_gap_ms,
        Metric::Failover => stats.failover_ms,
        Metric::Switches => stats.path_switches as f64,
        Metric::CrossParity => stats.cross_parity,
        _ => f64::NAN,
    };
    let no_echo = stats.received == 0
        && matches!(
            e.metric,
            Metric::RttP50 | Metric::RttP95 | Metric::RttP99 | Metric::Jitter
        );
    let (passed, measured) = match &e.bound {
        Bound::Path(want) => (stats.path == *want, format!("{:?}", stats.path)),
        _ if no_echo => (false, "nothing (no packet came back)".into()),
        Bound::Max(b) => (value <= *b, number(e.metric, value)),
        Bound::Min(b) => (value >= *b, number(e.metric, value)),
        Bound::Exact(b) => (value == *b, number(e.metric, value)),
    };
    Outcome {
        expectation: e.to_string(),
        measured,
        passed,
    }
}

/// The phase list as `(name, start µs, end µs)`.
pub(super) fn phase_bounds(phases: &[Phase]) -> Vec<(String, u64, u64)> {
    phases
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.start.as_micros() as u64,
                p.end.as_micros() as u64,
            )
        })
        .collect()
}
