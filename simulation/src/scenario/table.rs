//! The human-readable report: a header, one row per phase (and the whole run), then each
//! expectation with its verdict.

use std::fmt::Write as _;

use super::report::{PhaseStats, Report};

const HEADER: [&str; 16] = [
    "phase",
    "span s",
    "sent",
    "echoed",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "jitter",
    "max gap",
    "failover",
    "link loss",
    "lost data",
    "recovered",
    "residual",
    "dup sent",
    "deduped",
];

fn row(p: &PhaseStats) -> [String; 16] {
    [
        p.name.clone(),
        format!("{:.1}–{:.1}", p.start_s, p.end_s),
        p.sent.to_string(),
        p.received.to_string(),
        format!("{:.2}", p.rtt_ms.p50),
        format!("{:.2}", p.rtt_ms.p95),
        format!("{:.2}", p.rtt_ms.p99),
        format!("{:.2}", p.jitter_ms),
        format!("{:.0} ms", p.max_gap_ms),
        format!("{:.0} ms", p.failover_ms),
        format!("{:.2} %", p.link_loss * 100.0),
        p.data_lost_on_links.to_string(),
        p.fec_recovered.to_string(),
        format!("{:.3} %", p.residual_loss * 100.0),
        p.duplicates_sent.to_string(),
        p.deduplicated.to_string(),
    ]
}

/// The report as text for a terminal.
pub fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {}: {} × {} for {:.1} s, FEC {}, seed {}, configured path {}",
        r.scenario,
        r.players,
        r.game,
        r.duration_s,
        r.fec,
        r.seed,
        r.configured_path.join(" → ")
    );
    for e in &r.events {
        let _ = writeln!(out, "  event at {:>5.1} s: {}", e.at_s, e.action);
    }
    let rows: Vec<[String; 16]> = r
        .phases
        .iter()
        .chain(std::iter::once(&r.overall))
        .map(row)
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for cells in &rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                let _ = write!(l, "{c}{}", " ".repeat(pad));
            } else {
                let _ = write!(l, "  {}{c}", " ".repeat(pad));
            }
        }
        l
    };
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", line(&HEADER.map(String::from)));
    for cells in &rows {
        let _ = writeln!(out, "{}", line(cells));
    }
    let _ = writeln!(out);
    for p in r.phases.iter().chain(std::iter::once(&r.overall)) {
        let path = if p.path.is_empty() {
            "none (no link carried the game)".to_string()
        } else {
            p.path.join(" → ")
        };
        let _ = writeln!(
            out,
            "  path in use, {}: {path}; FEC overhead {:.0} %{}",
            p.name,
            p.fec_overhead * 100.0,
            if p.cross_parity > 0.0 {
                format!(
                    ", {:.0} % of the edge's parity on its standby",
                    p.cross_parity * 100.0
                )
            } else {
                String::new()
            }
        );
    }
    members(&mut out, r);
    let _ = writeln!(out);
    for o in &r.expectations {
        let _ = writeln!(out, "{o}");
    }
    let verdict = if r.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "{verdict}: {} of {} expectations held ({:.1} s wall)",
        r.expectations.iter().filter(|o| o.passed).count(),
        r.expectations.len(),
        r.wall_s
    );
    out
}

/// Mesh mode: each phase's member tables (alive/suspect/down/left per running node) and
/// detection time, then the final topology as the first node sees it.
fn members(out: &mut String, r: &Report) {
    let phases = r.phases.iter().chain(std::iter::once(&r.overall));
    for p in phases.filter(|p| !p.members.is_empty()) {
        let tables: Vec<String> = p
            .members
            .iter()
            .map(|c| format!("{} {}/{}/{}/{}", c.node, c.alive, c.suspect, c.down, c.left))
            .collect();
        let detect = p
            .detect_ms
            .map(|ms| format!("; its event seen everywhere after {ms:.0} ms"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  members alive/suspect/down/left at the end of {}: {}{detect}",
            p.name,
            tables.join(", ")
        );
    }
    if let Some(first) = r.topology.first() {
        let links: Vec<String> = r
            .topology
            .iter()
            .filter(|l| l.observer == first.observer)
            .map(|l| format!("{}→{} {:.1} ms", l.from, l.to, l.rtt_ms))
            .collect();
        let _ = writeln!(
            out,
            "  measured links (as {} sees them): {}",
            first.observer,
            links.join(", ")
        );
    }
}
