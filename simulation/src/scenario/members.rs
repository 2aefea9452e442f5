//! Membership as the running nodes see it (mesh mode): each node's member table read from its
//! mesh view ([`lightspeed_actors::mesh_view`], what `/api/members` serves), sampled through
//! the run; per-phase counts and detection times come from the samples.
//!
//! Resolution: a node refreshes its view on each probe tick ([`super::world::PROBE_INTERVAL`])
//! and the runner samples every [`SAMPLE_EVERY`], so a detection time is late by up to their
//! sum.

use std::time::Duration;

use lightspeed_actors::mesh_view::{MemberStatus, MeshSnapshot};

use super::model::{Action, Bound, Expect, Metric};
use super::report::{MemberCounts, Outcome, PhaseStats};

/// How often the runner reads the nodes' member tables.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// One node's member table at one instant.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct View {
    /// The observing node.
    pub(super) node: String,
    /// Its own identity bump (a new life after each restart).
    pub(super) own_bump: u32,
    /// Every other member it lists: name, state, bump.
    pub(super) rows: Vec<(String, MemberStatus, u32)>,
}

impl View {
    /// The table of `node` in `snap`.
    pub(super) fn of(node: &str, snap: &MeshSnapshot) -> View {
        let own_bump = snap.members.iter().find(|m| m.local).map_or(0, |m| m.bump);
        View {
            node: node.to_string(),
            own_bump,
            rows: snap
                .members
                .iter()
                .filter(|m| !m.local)
                .map(|m| (m.name.clone(), m.state, m.bump))
                .collect(),
        }
    }

    fn state_of(&self, name: &str) -> Option<(MemberStatus, u32)> {
        self.rows
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, s, b)| (*s, *b))
    }

    /// Counts by state; the observer counts itself as alive.
    pub(super) fn counts(&self) -> MemberCounts {
        let n = |s: MemberStatus| self.rows.iter().filter(|(_, st, _)| *st == s).count() as u32;
        MemberCounts {
            node: self.node.clone(),
            alive: n(MemberStatus::Alive) + 1,
            suspect: n(MemberStatus::Suspect),
            down: n(MemberStatus::Down),
            left: n(MemberStatus::Left),
        }
    }
}

/// Samples `(µs from the start of the run, every running node's table)`, in time order.
pub(super) type Timeline = Vec<(u64, Vec<View>)>;

/// Whether every running node other than the subject of `event` shows its outcome in `views`
/// (at least one such node must be running).
fn settled(event: &Action, views: &[View]) -> bool {
    let (subject, want, bump) = match event {
        Action::Kill(n) => (n, MemberStatus::Down, None),
        Action::Leave(n) => (n, MemberStatus::Left, None),
        Action::Join(n) | Action::Restart(n) => {
            // The new life is the one the node itself runs.
            let Some(own) = views.iter().find(|v| v.node == *n) else {
                return false;
            };
            (n, MemberStatus::Alive, Some(own.own_bump))
        }
        _ => return false,
    };
    let mut others = views.iter().filter(|v| v.node != *subject).peekable();
    others.peek().is_some()
        && others.all(|v| {
            v.state_of(subject)
                .is_some_and(|(s, b)| s == want && bump.is_none_or(|want_b| b == want_b))
        })
}

/// Time from `from` µs (the event) until the first sample, before `until`, in which every
/// other running node shows the outcome of `event`; `None` if none did.
pub(super) fn detect_us(timeline: &Timeline, event: &Action, from: u64, until: u64) -> Option<u64> {
    timeline
        .iter()
        .filter(|(at, _)| *at >= from && *at <= until)
        .find(|(_, views)| settled(event, views))
        .map(|(at, _)| at - from)
}

/// Checks a membership expectation against a phase's figures: member counts for every
/// observer (the named ones, else every node running at the end of the phase), or the
/// detection time.
pub(super) fn check(e: &Expect, stats: &PhaseStats) -> Outcome {
    let outcome = |passed: bool, measured: String| Outcome {
        expectation: e.to_string(),
        measured,
        passed,
    };
    if e.metric == Metric::Detect {
        return match (stats.detect_ms, &e.bound) {
            (Some(ms), Bound::Max(b)) => outcome(ms <= *b, format!("{ms:.0} ms")),
            (Some(ms), _) => outcome(false, format!("{ms:.0} ms")),
            (None, _) => outcome(false, "never (not within the phase)".into()),
        };
    }
    let count = |c: &MemberCounts| match e.metric {
        Metric::MembersSuspect => c.suspect,
        Metric::MembersDown => c.down,
        Metric::MembersLeft => c.left,
        _ => c.alive,
    };
    let rows: Vec<(String, Option<u32>)> = if e.observers.is_empty() {
        stats
            .members
            .iter()
            .map(|c| (c.node.clone(), Some(count(c))))
            .collect()
    } else {
        e.observers
            .iter()
            .map(|o| {
                let c = stats.members.iter().find(|c| c.node == *o);
                (o.clone(), c.map(count))
            })
            .collect()
    };
    if rows.is_empty() {
        return outcome(false, "no node running".into());
    }
    let holds = |v: u32| match e.bound {
        Bound::Exact(b) => f64::from(v) == b,
        Bound::Min(b) => f64::from(v) >= b,
        Bound::Max(b) => f64::from(v) <= b,
        Bound::Path(_) => false,
    };
    let passed = rows.iter().all(|(_, v)| v.is_some_and(holds));
    let measured = rows
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!("{n} {v}"),
            None => format!("{n} not running"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    outcome(passed, measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: &str, own_bump: u32, rows: &[(&str, MemberStatus, u32)]) -> View {
        View {
            node: node.into(),
            own_bump,
            rows: rows
                .iter()
                .map(|(n, s, b)| (n.to_string(), *s, *b))
                .collect(),
        }
    }

    #[test]
    fn detection_waits_for_every_other_running_node() {
        use MemberStatus::{Alive, Down, Suspect};
        let kill = Action::Kill("c".into());
        let timeline: Timeline = vec![
            (900_000, vec![view("a", 1, &[("c", Alive, 7)])]),
            (
                1_200_000,
                vec![
                    view("a", 1, &[("c", Suspect, 7)]),
                    view("b", 1, &[("c", Alive, 7)]),
                ],
            ),
            (
                1_500_000,
                vec![
                    view("a", 1, &[("c", Down, 7)]),
                    view("b", 1, &[("c", Suspect, 7)]),
                ],
            ),
            (
                2_100_000,
                vec![
                    view("a", 1, &[("c", Down, 7)]),
                    view("b", 1, &[("c", Down, 7)]),
                ],
            ),
        ];
        assert_eq!(
            detect_us(&timeline, &kill, 1_000_000, 3_000_000),
            Some(1_100_000)
        );
        assert_eq!(detect_us(&timeline, &kill, 1_000_000, 2_000_000), None);
        // A restart is seen once everyone lists the node's new life (its own bump) alive.
        let restart = Action::Restart("c".into());
        let back: Timeline = vec![
            (
                100,
                vec![view("a", 1, &[("c", Alive, 7)]), view("c", 9, &[])],
            ),
            (
                200,
                vec![view("a", 1, &[("c", Alive, 9)]), view("c", 9, &[])],
            ),
        ];
        assert_eq!(detect_us(&back, &restart, 50, 1_000), Some(150));
        assert_eq!(
            view("a", 1, &[("c", Down, 7), ("b", Alive, 1)]).counts(),
            MemberCounts {
                node: "a".into(),
                alive: 2,
                suspect: 0,
                down: 1,
                left: 0,
            }
        );
    }
}
