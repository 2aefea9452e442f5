//! Membership events, derived by comparing foca's member table with the last state reported.
//!
//! foca notifies only ups, downs and renames; suspicion and refutation are visible only in its
//! table. The core keeps a mirror of what it last reported and, after any input that may have
//! changed the table, reports the differences.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use foca::{Member, State};

use super::NodeId;

/// The state of a member as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// Failed a probe; still treated as alive until the suspicion times out.
    Suspect,
    /// Declared failed, or left.
    Down,
}

impl From<State> for MemberState {
    fn from(s: State) -> MemberState {
        match s {
            State::Alive => MemberState::Alive,
            State::Suspect => MemberState::Suspect,
            State::Down => MemberState::Down,
        }
    }
}

/// What changed in the membership, in the order it was observed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MembershipEvent {
    /// A member joined, came back, or restarted (its identity carries a higher bump).
    Up {
        /// Its identity.
        id: NodeId,
        /// Its SWIM incarnation (raised each time it refutes a suspicion).
        incarnation: u16,
    },
    /// A member failed a probe and is suspected.
    Suspect {
        /// Its identity.
        id: NodeId,
        /// The incarnation suspected.
        incarnation: u16,
    },
    /// A suspected member refuted the suspicion.
    Alive {
        /// Its identity.
        id: NodeId,
        /// Its new incarnation.
        incarnation: u16,
    },
    /// A member was declared failed.
    Down {
        /// Its identity.
        id: NodeId,
        /// The incarnation declared down.
        incarnation: u16,
    },
    /// A member left gracefully.
    Left {
        /// Its identity (the leaving form).
        id: NodeId,
    },
    /// This node was declared down by the mesh and rejoined under a renewed identity.
    Rejoined {
        /// The new identity.
        id: NodeId,
    },
    /// This node has at least one live member: it is part of a mesh.
    Active,
    /// This node lost its last live member.
    Idle,
    /// This node was declared down and could not rejoin.
    Defunct,
}

#[derive(Debug, Clone)]
struct Entry {
    id: NodeId,
    state: State,
    incarnation: u16,
}

/// What was last reported for each member name.
#[derive(Debug, Default)]
pub(super) struct Mirror {
    entries: BTreeMap<Arc<str>, Entry>,
}

fn active(s: State) -> bool {
    !matches!(s, State::Down)
}

impl Mirror {
    /// True when `member` would change what was reported.
    pub(super) fn differs(&self, id: &NodeId, state: State, incarnation: u16) -> bool {
        self.entries
            .get(id.name())
            .is_none_or(|e| e.id != *id || e.state != state || e.incarnation != incarnation)
    }

    /// Names held (alive, suspect or remembered down).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when `name` is held.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Members that are alive or suspect, in name order.
    pub(super) fn active(&self) -> impl Iterator<Item = (&NodeId, MemberState)> {
        self.entries
            .values()
            .filter(|e| active(e.state))
            .map(|e| (&e.id, e.state.into()))
    }

    /// Brings the mirror in line with foca's table, reporting each change.
    pub(super) fn sync<'a>(
        &mut self,
        members: impl Iterator<Item = &'a Member<NodeId>>,
        out: &mut VecDeque<MembershipEvent>,
    ) {
        let mut seen = BTreeSet::new();
        for m in members {
            let (id, state, incarnation) = (m.id(), m.state(), m.incarnation());
            seen.insert(id.name().to_owned());
            let previous = self.entries.insert(
                Arc::from(id.name()),
                Entry {
                    id: id.clone(),
                    state,
                    incarnation,
                },
            );
            report(previous.as_ref(), id, state, incarnation, out);
        }
        self.entries.retain(|name, _| seen.contains(&**name));
    }
}

fn report(
    previous: Option<&Entry>,
    id: &NodeId,
    state: State,
    incarnation: u16,
    out: &mut VecDeque<MembershipEvent>,
) {
    let was_active = previous.is_some_and(|p| active(p.state));
    let same_life = previous.is_some_and(|p| p.id.bump() == id.bump());
    let up = || MembershipEvent::Up {
        id: id.clone(),
        incarnation,
    };
    match state {
        // A leaving identity that is still alive is on its way out: nothing to report yet.
        State::Alive | State::Suspect if id.is_leaving() => {}
        State::Alive | State::Suspect => {
            if !was_active || !same_life {
                out.push_back(up());
            } else if let Some(p) = previous {
                match (p.state, state) {
                    (State::Alive, State::Suspect) => out.push_back(MembershipEvent::Suspect {
                        id: id.clone(),
                        incarnation,
                    }),
                    (State::Suspect, State::Alive) => out.push_back(MembershipEvent::Alive {
                        id: id.clone(),
                        incarnation,
                    }),
                    _ => {}
                }
                return;
            }
            if state == State::Suspect {
                out.push_back(MembershipEvent::Suspect {
                    id: id.clone(),
                    incarnation,
                });
            }
        }
        State::Down if was_active || previous.is_some_and(|p| p.id.is_leaving()) => {
            if previous.is_some_and(|p| p.state == State::Down) {
                return;
            }
            out.push_back(if id.is_leaving() {
                MembershipEvent::Left { id: id.clone() }
            } else {
                MembershipEvent::Down {
                    id: id.clone(),
                    incarnation,
                }
            });
        }
        State::Down => {}
    }
}
