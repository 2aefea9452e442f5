//! Membership events, derived by comparing foca's member table with the last state reported.
//!
//! foca notifies only ups, downs and renames; suspicion and refutation are visible only in its
//! table. The core keeps a mirror of what it last reported and, after any input that changed
//! the table, reports the differences for the members that input named.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::SocketAddr;

use foca::{Member, State};

use super::NodeId;
use super::identity::NameKey;

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

/// What was last reported about one member (its name is the key).
#[derive(Debug, Clone)]
struct Entry {
    name: NameKey,
    addr: SocketAddr,
    bump: u32,
    leaving: bool,
    state: State,
    incarnation: u16,
}

impl Entry {
    fn of(id: &NodeId, state: State, incarnation: u16) -> Entry {
        Entry {
            name: id.key().clone(),
            addr: id.addr(),
            bump: id.bump(),
            leaving: id.is_leaving(),
            state,
            incarnation,
        }
    }

    fn same(&self, other: &Entry) -> bool {
        (
            self.addr,
            self.bump,
            self.leaving,
            self.state,
            self.incarnation,
        ) == (
            other.addr,
            other.bump,
            other.leaving,
            other.state,
            other.incarnation,
        ) && self.name == other.name
    }
}

/// What [`Mirror::look`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Look {
    /// Another name with the same hash is held or noted.
    Clash,
    /// The name is not held.
    New,
    /// The name is held; `differs` when the update would change what was reported.
    Held { differs: bool },
}

/// Hashes a [`NameKey`] (or a digest) by passing its precomputed hash through
/// (deterministic, no seed).
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Words in the filter that picks noted names out of foca's table.
const FILTER_WORDS: usize = 16;

/// What was last reported for each member name, kept equal to foca's member table.
///
/// foca changes its table only through the members a call names: the sender and updates of
/// a datagram, the member a suspicion timer or removal timer is about, the member a failed
/// probe makes suspect (which schedules a suspicion timer naming it), and the members its
/// notifications name. The core notes those ([`Mirror::note`]) and [`Mirror::sync`] re-reads
/// just them, in one pass over foca's table that compares a filter bit per member. So a
/// datagram costs a walk of foca's table (which foca's own lookups walk anyway), never a
/// rebuild of the mirror. Nothing here iterates the hash map, so its order cannot leak.
#[derive(Debug, Default)]
pub(super) struct Mirror {
    /// By name hash (foca's member key); each entry holds its name.
    entries: HashMap<u64, Entry, BuildHasherDefault<KeyHasher>>,
    noted: Vec<NameKey>,
    found: Vec<bool>,
}

impl Mirror {
    /// True when `id` is held as suspect at `incarnation`: the only case in which foca's
    /// suspicion timer for it declares it down.
    pub(super) fn is_suspect(&self, id: &NodeId, incarnation: u16) -> bool {
        self.entries
            .get(&id.key().hash64())
            .is_some_and(|e| e.same(&Entry::of(id, State::Suspect, incarnation)))
    }

    /// Names held (alive, suspect or remembered down).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when `name` is held.
    #[cfg(test)]
    pub(super) fn contains(&self, name: &NameKey) -> bool {
        self.entries
            .get(&name.hash64())
            .is_some_and(|e| e.name == *name)
    }

    /// What the mirror holds about `id` against the update (`state`, `incarnation`), in one
    /// lookup: the datagram check asks this for every update it carries.
    pub(super) fn look(&self, id: &NodeId, state: State, incarnation: u16) -> Look {
        let key = id.key();
        if self.noted_clash(key) {
            return Look::Clash;
        }
        match self.entries.get(&key.hash64()) {
            None => Look::New,
            Some(e) if e.name != *key => Look::Clash,
            Some(e) => Look::Held {
                differs: !e.same(&Entry::of(id, state, incarnation)),
            },
        }
    }

    fn noted_clash(&self, name: &NameKey) -> bool {
        self.noted
            .iter()
            .any(|k| k.hash64() == name.hash64() && k != name)
    }

    /// True when another name with `name`'s hash is held or noted: foca would take the two
    /// for one member.
    pub(super) fn clashes(&self, name: &NameKey) -> bool {
        self.entries
            .get(&name.hash64())
            .is_some_and(|e| e.name != *name)
            || self.noted_clash(name)
    }

    /// Marks a member foca may have changed in the call in progress.
    pub(super) fn note(&mut self, id: &NodeId) {
        if !self.noted.contains(id.key()) {
            self.noted.push(id.key().clone());
        }
    }

    /// Drops the notes of a datagram that was refused before foca saw it.
    pub(super) fn forget_noted(&mut self) {
        self.noted.clear();
    }

    /// Brings the noted members in line with foca's table (`members`), reporting each change
    /// in table order; noted names foca no longer holds are forgotten.
    pub(super) fn sync<'a>(
        &mut self,
        members: impl Iterator<Item = &'a Member<NodeId>>,
        out: &mut VecDeque<MembershipEvent>,
    ) {
        if self.noted.is_empty() {
            return;
        }
        let mut filter = [0u64; FILTER_WORDS];
        let bit = |key: &NameKey| {
            let h = key_hash(key);
            ((h >> 6) as usize % FILTER_WORDS, 1u64 << (h & 63))
        };
        for key in &self.noted {
            let (word, mask) = bit(key);
            if let Some(w) = filter.get_mut(word) {
                *w |= mask;
            }
        }
        self.found.clear();
        self.found.resize(self.noted.len(), false);
        for m in members {
            let (word, mask) = bit(m.id().key());
            if filter.get(word).is_none_or(|w| w & mask == 0) {
                continue;
            }
            let Some(at) = self.noted.iter().position(|k| k == m.id().key()) else {
                continue;
            };
            if let Some(f) = self.found.get_mut(at) {
                *f = true;
            }
            let (id, state, incarnation) = (m.id(), m.state(), m.incarnation());
            let previous = self
                .entries
                .insert(id.key().hash64(), Entry::of(id, state, incarnation));
            report(previous.as_ref(), id, state, incarnation, out);
        }
        for (key, found) in self.noted.iter().zip(&self.found) {
            if !found {
                self.entries.remove(&key.hash64());
            }
        }
        self.noted.clear();
    }

    /// Checks that every member of foca's table is mirrored as it is, and nothing else.
    #[cfg(test)]
    pub(super) fn check<'a>(&self, members: impl Iterator<Item = &'a Member<NodeId>>) {
        let mut count = 0;
        for m in members {
            count += 1;
            let e = self.entries.get(&m.id().key().hash64());
            assert!(
                e.is_some_and(|e| e.same(&Entry::of(m.id(), m.state(), m.incarnation()))),
                "mirror out of date for {:?}: {e:?} vs {m:?}",
                m.id()
            );
        }
        assert_eq!(count, self.entries.len(), "mirror holds forgotten members");
    }
}

fn key_hash(key: &NameKey) -> u64 {
    key.hash64()
}

fn report(
    previous: Option<&Entry>,
    id: &NodeId,
    state: State,
    incarnation: u16,
    out: &mut VecDeque<MembershipEvent>,
) {
    let was_active = previous.is_some_and(|p| active(p.state));
    let same_life = previous.is_some_and(|p| p.bump == id.bump());
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
        State::Down if was_active || previous.is_some_and(|p| p.leaving) => {
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

/// True for the states foca treats as live.
pub(super) fn active(s: State) -> bool {
    !matches!(s, State::Down)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_name_with_a_held_or_noted_hash_clashes() {
        let addr = "192.0.2.1:4433".parse().unwrap();
        let id = |name: &str| NodeId::new(name, addr, 1).unwrap();
        let a = id("a").with_hash(42);
        let b = id("b").with_hash(42);
        let mut mirror = Mirror::default();
        mirror.note(&a);
        let mut out = VecDeque::new();
        mirror.sync([Member::alive(a.clone())].iter(), &mut out);
        assert_eq!(
            out.pop_front(),
            Some(MembershipEvent::Up {
                id: a.clone(),
                incarnation: 0
            })
        );
        assert!(mirror.contains(a.key()) && !mirror.contains(b.key()));
        assert!(mirror.clashes(b.key()), "held under the same hash");
        assert!(!mirror.clashes(a.key()) && !mirror.clashes(id("c").key()));
        // Two new names in one datagram: the first is noted before the second is checked.
        let d = id("d").with_hash(7);
        mirror.note(&d);
        assert!(mirror.clashes(id("e").with_hash(7).key()));
        // Nothing in foca's table under the noted name: forgotten, no event.
        mirror.sync([Member::alive(a)].iter(), &mut out);
        assert!(out.is_empty() && !mirror.contains(d.key()));
    }
}
