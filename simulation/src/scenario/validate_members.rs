//! Validation of what mesh mode adds: node lifecycles on the timeline (kill/crash, leave,
//! join, restart in an order that makes sense per node), which nodes may join late, and the
//! membership expectations (`members_*`, `observers`, `detect_max_ms`).

use std::collections::BTreeMap;

use super::file::ExpectEntry;
use super::model::{Action, Bound, Event, GameDef, Metric, NodeDef, Phase, ScenarioError};
use super::validate::known;

type Result<T> = std::result::Result<T, ScenarioError>;

/// What checking an `[[expect]]` entry needs besides the entry.
pub(crate) struct ExpectContext<'a> {
    pub(crate) phases: &'a [Phase],
    pub(crate) nodes: &'a [NodeDef],
    pub(crate) events: &'a [Event],
    pub(crate) mesh: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    NotStarted,
    Running,
    Crashed,
    Left,
}

/// The subject of a node event.
pub(super) fn subject(a: &Action) -> Option<&str> {
    match a {
        Action::Kill(n) | Action::Leave(n) | Action::Join(n) | Action::Restart(n) => Some(n),
        _ => None,
    }
}

/// Per node, in time order: a node with a `join` starts with it; kill and leave need it
/// running; restart follows a kill or a leave. `events` are `(file index, event)`, sorted.
pub(super) fn lifecycle(events: &[(usize, Event)]) -> Result<()> {
    let mut life: BTreeMap<&str, Life> = BTreeMap::new();
    for (_, e) in events {
        if let Action::Join(n) = &e.action {
            life.entry(n).or_insert(Life::NotStarted);
        }
    }
    for (i, e) in events {
        let Some(n) = subject(&e.action) else {
            continue;
        };
        let now = life.get(n).copied().unwrap_or(Life::Running);
        let next = match (&e.action, now) {
            (Action::Join(_), Life::NotStarted) => Life::Running,
            (Action::Join(_), _) => {
                return Err(ScenarioError::invalid(
                    format!("event[{i}].node"),
                    format!(
                        "'{n}' joins only once, as its first event (use restart after a kill \
                         or a leave)"
                    ),
                ));
            }
            (Action::Kill(_) | Action::Leave(_), Life::Running) => {
                if matches!(e.action, Action::Kill(_)) {
                    Life::Crashed
                } else {
                    Life::Left
                }
            }
            (Action::Restart(_), Life::Crashed | Life::Left) => Life::Running,
            (Action::Restart(_), _) => {
                return Err(ScenarioError::invalid(
                    format!("event[{i}].node"),
                    format!(
                        "'{n}' is not killed or gone at that time; restart follows a kill or a leave"
                    ),
                ));
            }
            (_, Life::NotStarted) => {
                return Err(ScenarioError::invalid(
                    format!("event[{i}].node"),
                    format!("'{n}' has not joined yet at that time"),
                ));
            }
            _ => {
                return Err(ScenarioError::invalid(
                    format!("event[{i}].node"),
                    format!("'{n}' is already killed or gone at that time"),
                ));
            }
        };
        life.insert(n, next);
    }
    Ok(())
}

/// Late joiners need mesh mode (nobody else could find them) and may not carry the game
/// (its edge, proxy and static paths exist from the start).
pub(super) fn late_joins(events: &[Event], game: &GameDef, mesh: bool) -> Result<()> {
    for e in events {
        let Action::Join(n) = &e.action else { continue };
        if !mesh {
            return Err(ScenarioError::invalid(
                "event.action",
                format!("join '{n}' needs mesh mode ([scenario] mesh = true) to be found"),
            ));
        }
        let on_path = game.path().contains(n) || game.backup_path().is_some_and(|p| p.contains(n));
        if on_path {
            return Err(ScenarioError::invalid(
                "event.node",
                format!("'{n}' carries the game (edge, proxy or route) and cannot join late"),
            ));
        }
    }
    Ok(())
}

fn needs_mesh(i: usize, key: &str, ctx: &ExpectContext<'_>) -> Result<()> {
    if ctx.mesh {
        Ok(())
    } else {
        Err(ScenarioError::invalid(
            format!("expect[{i}].{key}"),
            "member tables exist in mesh mode only ([scenario] mesh = true)",
        ))
    }
}

/// `observers = [...]`: known nodes, only with member counts.
pub(super) fn observers(i: usize, e: &ExpectEntry, ctx: &ExpectContext<'_>) -> Result<Vec<String>> {
    let Some(list) = &e.observers else {
        return Ok(Vec::new());
    };
    let counts = e.members_seen_min.is_some()
        || e.members_alive.is_some()
        || e.members_suspect.is_some()
        || e.members_down.is_some()
        || e.members_left.is_some();
    if !counts {
        return Err(ScenarioError::invalid(
            format!("expect[{i}].observers"),
            "only used with members_seen_min, members_alive, members_suspect, members_down or \
             members_left",
        ));
    }
    if list.is_empty() {
        return Err(ScenarioError::invalid(
            format!("expect[{i}].observers"),
            "name at least one node (leave it out for every running node)",
        ));
    }
    for (j, n) in list.iter().enumerate() {
        known(ctx.nodes, &format!("expect[{i}].observers[{j}]"), n)?;
    }
    Ok(list.clone())
}

/// The membership keys of one entry, checked.
pub(super) fn keys(
    i: usize,
    e: &ExpectEntry,
    ctx: &ExpectContext<'_>,
    phase: Option<&str>,
) -> Result<Vec<(&'static str, Metric, Bound)>> {
    let mut out = Vec::new();
    let counts = [
        (
            "members_seen_min",
            Metric::MembersAlive,
            e.members_seen_min,
            true,
        ),
        (
            "members_alive",
            Metric::MembersAlive,
            e.members_alive,
            false,
        ),
        (
            "members_suspect",
            Metric::MembersSuspect,
            e.members_suspect,
            false,
        ),
        ("members_down", Metric::MembersDown, e.members_down, false),
        ("members_left", Metric::MembersLeft, e.members_left, false),
    ];
    for (key, metric, value, is_min) in counts {
        let Some(v) = value else { continue };
        needs_mesh(i, key, ctx)?;
        let v = f64::from(v);
        out.push((
            key,
            metric,
            if is_min {
                Bound::Min(v)
            } else {
                Bound::Exact(v)
            },
        ));
    }
    if let Some(raw) = e.detect_max_ms {
        let key = "detect_max_ms";
        needs_mesh(i, key, ctx)?;
        if !(raw.is_finite() && raw >= 0.0) {
            return Err(ScenarioError::invalid(
                format!("expect[{i}].{key}"),
                format!("must be a non-negative number, got {raw}"),
            ));
        }
        let opened = phase.and_then(|p| ctx.phases.iter().find(|q| q.name == p));
        let has_event = opened.is_some_and(|p| {
            ctx.events
                .iter()
                .any(|ev| ev.at == p.start && subject(&ev.action).is_some())
        });
        if !has_event {
            return Err(ScenarioError::invalid(
                format!("expect[{i}].{key}"),
                "needs a phase opened by a kill, crash, leave, join or restart event",
            ));
        }
        out.push((key, Metric::Detect, Bound::Max(raw)));
    }
    Ok(out)
}
