//! [`ScaleReport`]: what a scale run measured, and its table. Times are whole milliseconds of
//! simulated time and rates whole bytes, so the JSON is byte-identical for a seed; `None`
//! (JSON `null`) means the condition was not met within the phase limit.

use std::fmt::Write as _;

use serde::Serialize;

/// Everything a scale run measured, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleReport {
    /// What was simulated.
    pub params: ParamsReport,
    /// Phase 1: the mesh forming.
    pub formation: FormationReport,
    /// Phase 1: claims spreading (absent when no claims are published).
    pub claims: Option<ClaimsReport>,
    /// Phase 3: one more node joining.
    pub join: JoinReport,
    /// Phase 4: one node crashing.
    pub crash: CrashReport,
    /// Phase 5: loss on every link.
    pub loss: LossReport,
    /// Gossip traffic per node per second, by phase.
    pub traffic: TrafficReport,
}

/// The parameters, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamsReport {
    /// Nodes at formation.
    pub nodes: usize,
    /// The seed.
    pub seed: u64,
    /// `lan` or `wan`.
    pub preset: super::Preset,
    /// Seed nodes.
    pub seeds: usize,
    /// Time between starts, ms.
    pub join_interval_ms: u64,
    /// One-way delay range per pair, ms.
    pub delay_ms: (u64, u64),
    /// Per-datagram jitter bound, µs.
    pub jitter_us: u64,
    /// Loss in the loss phase, parts per million.
    pub loss_ppm: u64,
    /// Loss phase length, s.
    pub loss_window_s: u64,
    /// Steady window length, s.
    pub steady_window_s: u64,
    /// Links per claim.
    pub links_per_node: usize,
    /// SWIM probe period, ms.
    pub probe_period_ms: u64,
    /// Suspicion time before down, ms.
    pub suspect_to_down_ms: u64,
    /// Gossip period, ms.
    pub gossip_period_ms: u64,
    /// Transmissions per update.
    pub max_transmissions: u8,
}

/// The mesh forming from nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormationReport {
    /// From the first start to the last.
    pub starts_span_ms: u64,
    /// From the first start until every node holds all others as live members.
    pub all_see_all_ms: Option<u64>,
    /// The same, counted from the last start.
    pub after_last_start_ms: Option<u64>,
    /// Full-state syncs pulled (one per node becoming active, plus retries for parked claims).
    pub sync_requests: u64,
    /// Bytes in those syncs (reliable streams, not gossip).
    pub sync_bytes: u64,
}

/// Claims spreading during formation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimsReport {
    /// From the first start until every node holds every node's claim.
    pub all_hold_all_ms: Option<u64>,
    /// Nodes holding every claim when the phase ended.
    pub nodes_complete: usize,
}

/// One node joining the converged mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinReport {
    /// Until every other node reported it up.
    pub seen_by_all_ms: Option<u64>,
    /// Until half of them had.
    pub seen_by_half_ms: Option<u64>,
    /// How many reported it (out of `observers`).
    pub seen_by: usize,
    /// Nodes watching.
    pub observers: usize,
}

/// One node crashing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrashReport {
    /// Until the first node reported it down.
    pub first_down_ms: Option<u64>,
    /// Until half the others had.
    pub half_down_ms: Option<u64>,
    /// Until every other node had.
    pub all_down_ms: Option<u64>,
    /// The membership config's expected detection time, for comparison.
    pub expected_ms: u64,
    /// How many reported it down (out of `observers`).
    pub seen_by: usize,
    /// Nodes watching.
    pub observers: usize,
}

/// Loss on every link, no crashes: what the live nodes said about each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossReport {
    /// Suspect reports about live nodes (one per observer and suspicion).
    pub suspicions: u64,
    /// Refutations seen (a suspect reported alive again).
    pub refutations: u64,
    /// Down reports about live nodes: false positives.
    pub false_downs: u64,
    /// Distinct live nodes reported down or forced to rejoin.
    pub nodes_falsely_down: usize,
    /// Times a live node learnt it had been declared down and rejoined under a renewed
    /// identity (foca `Rejoin`): the false positives, whether or not a `Down` was reported.
    pub rejoins: u64,
    /// Suspicions and false downs in the lossless steady window, for comparison.
    pub steady_suspicions: u64,
    /// False downs in the lossless steady window.
    pub steady_false_downs: u64,
    /// After the loss stops, until every node again holds every live node.
    pub reconverged_ms: Option<u64>,
}

/// Gossip bytes and datagrams sent per node per second (membership and claims; syncs are
/// counted in [`FormationReport::sync_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rates {
    /// Window length, ms.
    pub window_ms: u64,
    /// Mean over nodes of bytes per second.
    pub mean_bytes_per_s: u64,
    /// The busiest node's bytes per second.
    pub max_bytes_per_s: u64,
    /// Mean over nodes of datagrams per second, ×1000.
    pub mean_datagrams_per_ks: u64,
}

/// Traffic by phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrafficReport {
    /// From the first start until formation converged (or gave up).
    pub formation: Rates,
    /// The quiet window.
    pub steady: Rates,
    /// The loss window.
    pub loss: Rates,
    /// Datagrams sent over the whole run.
    pub datagrams: u64,
    /// Of which lost by the link model.
    pub lost: u64,
    /// Inputs a core refused.
    pub refused: u64,
    /// Queue events processed.
    pub events: u64,
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(
        || "not reached".to_owned(),
        |v| format!("{:.1} s", v as f64 / 1e3),
    )
}

fn rates(r: &Rates) -> String {
    format!(
        "mean {} B/s, max {} B/s, {:.1} datagrams/s ({:.0} s)",
        r.mean_bytes_per_s,
        r.max_bytes_per_s,
        r.mean_datagrams_per_ks as f64 / 1e3,
        r.window_ms as f64 / 1e3
    )
}

/// The report as a human-readable table.
pub fn render_table(r: &ScaleReport) -> String {
    let p = &r.params;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scale: {} nodes, seed {}, {:?} preset (probe {} ms, suspicion {} ms), {} seeds, \
         joins {} ms apart, delay {}-{} ms + {} us jitter",
        p.nodes,
        p.seed,
        p.preset,
        p.probe_period_ms,
        p.suspect_to_down_ms,
        p.seeds,
        p.join_interval_ms,
        p.delay_ms.0,
        p.delay_ms.1,
        p.jitter_us
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(s, "  {k:<34} {v}");
    };
    let f = &r.formation;
    row(
        "formation: all see all",
        format!(
            "{} from first start ({} after the last, starts span {})",
            ms(f.all_see_all_ms),
            ms(f.after_last_start_ms),
            ms(Some(f.starts_span_ms))
        ),
    );
    if let Some(c) = &r.claims {
        row(
            "formation: all hold every claim",
            format!(
                "{} ({} nodes complete; {} links each)",
                ms(c.all_hold_all_ms),
                c.nodes_complete,
                p.links_per_node
            ),
        );
    }
    row(
        "full-state syncs",
        format!("{} ({} bytes)", f.sync_requests, f.sync_bytes),
    );
    let j = &r.join;
    row(
        "join seen by all",
        format!(
            "{} (half: {}; {}/{})",
            ms(j.seen_by_all_ms),
            ms(j.seen_by_half_ms),
            j.seen_by,
            j.observers
        ),
    );
    let c = &r.crash;
    row(
        "crash detected by all",
        format!(
            "{} (first {}, half {}; expected {}; {}/{})",
            ms(c.all_down_ms),
            ms(c.first_down_ms),
            ms(c.half_down_ms),
            ms(Some(c.expected_ms)),
            c.seen_by,
            c.observers
        ),
    );
    let l = &r.loss;
    row(
        &format!(
            "{}% loss for {} s",
            p.loss_ppm as f64 / 1e4,
            p.loss_window_s
        ),
        format!(
            "{} suspicions, {} refutations, {} Down reports, {} forced rejoins ({} nodes)",
            l.suspicions, l.refutations, l.false_downs, l.rejoins, l.nodes_falsely_down
        ),
    );
    row(
        "  (lossless steady window)",
        format!(
            "{} suspicions, {} false downs",
            l.steady_suspicions, l.steady_false_downs
        ),
    );
    row("  reconverged after loss", ms(l.reconverged_ms));
    let t = &r.traffic;
    row("gossip/node: formation", rates(&t.formation));
    row("gossip/node: steady", rates(&t.steady));
    row("gossip/node: loss window", rates(&t.loss));
    row(
        "datagrams",
        format!(
            "{} sent, {} lost, {} refused, {} events",
            t.datagrams, t.lost, t.refused, t.events
        ),
    );
    s
}
