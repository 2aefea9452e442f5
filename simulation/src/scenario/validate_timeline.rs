//! Validation of the timeline and the expectations: events resolved and ordered, phases
//! derived from event times, each `[[expect]]` key turned into a checked [`Expect`].

use std::time::Duration;

use super::file::{ActionEntry, EventEntry, ExpectEntry};
use super::model::{
    Action, Bound, Degrade, Event, Expect, LinkDef, Metric, NodeDef, Phase, ScenarioError, Target,
};
use super::validate::{known, loss, ms, rate};
use super::validate_members;

pub(super) use super::validate_members::{ExpectContext, late_joins};

type Result<T> = std::result::Result<T, ScenarioError>;

pub(super) fn events(
    entries: &[EventEntry],
    nodes: &[NodeDef],
    links: &[LinkDef],
    duration: Duration,
) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let field = |f: &str| format!("event[{i}].{f}");
        if !(e.at_s.is_finite() && e.at_s >= 0.0 && e.at_s < duration.as_secs_f64()) {
            return Err(ScenarioError::invalid(
                field("at_s"),
                format!(
                    "must be in [0, duration_s = {}), got {}",
                    duration.as_secs_f64(),
                    e.at_s
                ),
            ));
        }
        let shaped = e.delay_ms.is_some()
            || e.jitter_ms.is_some()
            || e.loss.is_some()
            || e.rate_kbps.is_some();
        if shaped && e.action != ActionEntry::Degrade {
            return Err(ScenarioError::invalid(
                field("action"),
                "delay_ms, jitter_ms, loss and rate_kbps belong to degrade events only",
            ));
        }
        let node = |needed: bool| -> Result<Option<String>> {
            match (&e.node, needed) {
                (Some(n), true) => known(nodes, &field("node"), n).map(|()| Some(n.clone())),
                (None, true) => Err(ScenarioError::invalid(field("node"), "required")),
                (Some(_), false) => Err(ScenarioError::invalid(
                    field("node"),
                    "not used by this action",
                )),
                (None, false) => Ok(None),
            }
        };
        let link = || -> Result<Option<(String, String)>> {
            let Some(l) = &e.link else { return Ok(None) };
            let [a, b] = l.as_slice() else {
                return Err(ScenarioError::invalid(
                    field("link"),
                    "give the two ends, e.g. link = [\"edge\", \"relay\"]",
                ));
            };
            if !links.iter().any(|d| d.joins(a, b)) {
                return Err(ScenarioError::invalid(
                    field("link"),
                    format!("no [[link]] joins '{a}' and '{b}'"),
                ));
            }
            Ok(Some((a.clone(), b.clone())))
        };
        let need_link = || -> Result<(String, String)> {
            link()?.ok_or_else(|| ScenarioError::invalid(field("link"), "required"))
        };
        let action = match e.action {
            ActionEntry::Kill | ActionEntry::Restart | ActionEntry::Leave | ActionEntry::Join => {
                if e.link.is_some() {
                    return Err(ScenarioError::invalid(
                        field("link"),
                        "not used by this action",
                    ));
                }
                let n = node(true)?.unwrap_or_default();
                match e.action {
                    ActionEntry::Kill => Action::Kill(n),
                    ActionEntry::Leave => Action::Leave(n),
                    ActionEntry::Join => Action::Join(n),
                    _ => Action::Restart(n),
                }
            }
            ActionEntry::Degrade => {
                node(false)?;
                let (a, b) = need_link()?;
                if !shaped {
                    return Err(ScenarioError::invalid(
                        field("action"),
                        "degrade needs at least one of delay_ms, jitter_ms, loss, rate_kbps",
                    ));
                }
                let f = field("");
                let change = Degrade {
                    delay: e
                        .delay_ms
                        .map(|v| ms(&format!("{f}delay_ms"), v))
                        .transpose()?,
                    jitter: e
                        .jitter_ms
                        .map(|v| ms(&format!("{f}jitter_ms"), v))
                        .transpose()?,
                    loss: e.loss.map(|l| loss(&format!("{f}loss"), &l)).transpose()?,
                    rate_bps: rate(&format!("{f}rate_kbps"), e.rate_kbps)?,
                };
                Action::Degrade { a, b, change }
            }
            ActionEntry::Restore => {
                node(false)?;
                let (a, b) = need_link()?;
                Action::Restore { a, b }
            }
            ActionEntry::Partition | ActionEntry::Heal => {
                let target = match (link()?, &e.node) {
                    (Some((a, b)), None) => Target::Link(a, b),
                    (None, Some(_)) => Target::Node(node(true)?.unwrap_or_default()),
                    _ => {
                        return Err(ScenarioError::invalid(
                            field("link"),
                            "give exactly one of link = [a, b] or node = \"name\"",
                        ));
                    }
                };
                if e.action == ActionEntry::Partition {
                    Action::Partition(target)
                } else {
                    Action::Heal(target)
                }
            }
        };
        out.push((
            i,
            Event {
                at: Duration::from_secs_f64(e.at_s),
                action,
            },
        ));
    }
    out.sort_by_key(|(_, e)| e.at);
    validate_members::lifecycle(&out)?;
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

pub(super) fn phases(
    first: &str,
    entries: &[EventEntry],
    events: &[Event],
    duration: Duration,
) -> Result<Vec<Phase>> {
    let mut phases = vec![Phase {
        name: first.to_string(),
        start: Duration::ZERO,
        end: duration,
    }];
    for e in events {
        let named = entries
            .iter()
            .filter(|x| Duration::from_secs_f64(x.at_s) == e.at)
            .find_map(|x| x.phase.clone());
        let Some(last) = phases.last_mut() else {
            continue;
        };
        if last.start == e.at {
            // Simultaneous events open one phase; an explicit name wins.
            if let Some(n) = named {
                last.name = n;
            }
            continue;
        }
        last.end = e.at;
        let name = named.unwrap_or_else(|| format!("{} @{}s", e.action, e.at.as_secs_f64()));
        phases.push(Phase {
            name,
            start: e.at,
            end: duration,
        });
    }
    for (i, p) in phases.iter().enumerate() {
        if p.name == "all" || phases.iter().take(i).any(|q| q.name == p.name) {
            return Err(ScenarioError::invalid(
                "event.phase",
                format!("phase name '{}' is reserved or used twice", p.name),
            ));
        }
    }
    Ok(phases)
}

pub(super) fn expect(i: usize, e: &ExpectEntry, ctx: &ExpectContext<'_>) -> Result<Vec<Expect>> {
    let (phases, nodes) = (ctx.phases, ctx.nodes);
    let phase = match e.phase.as_deref() {
        None | Some("all") => None,
        Some(p) if phases.iter().any(|q| q.name == p) => Some(p.to_string()),
        Some(p) => {
            let names: Vec<&str> = phases.iter().map(|q| q.name.as_str()).collect();
            return Err(ScenarioError::invalid(
                format!("expect[{i}].phase"),
                format!("no phase '{p}' (phases: {names:?}, or \"all\")"),
            ));
        }
    };
    let observers = validate_members::observers(i, e, ctx)?;
    let mut out = Vec::new();
    let mut push = |key: &'static str, metric: Metric, bound: Bound| {
        out.push(Expect {
            index: i,
            key,
            phase: phase.clone(),
            metric,
            bound,
            observers: observers.clone(),
        });
    };
    let f = |v: Option<f64>| v.filter(|x| x.is_finite());
    let checks = [
        (
            "residual_loss_max",
            Metric::ResidualLoss,
            e.residual_loss_max,
            true,
        ),
        ("rtt_p50_min_ms", Metric::RttP50, e.rtt_p50_min_ms, false),
        ("rtt_p50_max_ms", Metric::RttP50, e.rtt_p50_max_ms, true),
        ("rtt_p95_max_ms", Metric::RttP95, e.rtt_p95_max_ms, true),
        ("rtt_p99_max_ms", Metric::RttP99, e.rtt_p99_max_ms, true),
        ("jitter_max_ms", Metric::Jitter, e.jitter_max_ms, true),
        ("link_loss_min", Metric::LinkLoss, e.link_loss_min, false),
        ("link_loss_max", Metric::LinkLoss, e.link_loss_max, true),
        (
            "fec_recovered_min",
            Metric::FecRecovered,
            e.fec_recovered_min.map(|v| v as f64),
            false,
        ),
        (
            "cross_parity_min",
            Metric::CrossParity,
            e.cross_parity_min,
            false,
        ),
        ("max_gap_max_ms", Metric::MaxGap, e.max_gap_max_ms, true),
        ("failover_max_ms", Metric::Failover, e.failover_max_ms, true),
        (
            "switches_max",
            Metric::Switches,
            e.switches_max.map(|v| v as f64),
            true,
        ),
    ];
    for (key, metric, value, is_max) in checks {
        if let Some(raw) = value {
            let v = f(Some(raw)).filter(|v| *v >= 0.0).ok_or_else(|| {
                ScenarioError::invalid(
                    format!("expect[{i}].{key}"),
                    format!("must be a non-negative number, got {raw}"),
                )
            })?;
            push(
                key,
                metric,
                if is_max { Bound::Max(v) } else { Bound::Min(v) },
            );
        }
    }
    if let Some(p) = &e.path {
        for (j, n) in p.iter().enumerate() {
            known(nodes, &format!("expect[{i}].path[{j}]"), n)?;
        }
        push("path", Metric::Path, Bound::Path(p.clone()));
    }
    for (key, metric, bound) in validate_members::keys(i, e, ctx, phase.as_deref())? {
        push(key, metric, bound);
    }
    if out.is_empty() {
        return Err(ScenarioError::invalid(
            format!("expect[{i}]"),
            "checks nothing: give at least one bound, e.g. residual_loss_max",
        ));
    }
    Ok(out)
}
