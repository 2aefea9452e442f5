//! Link probes on the data port: what the data loop does with them, in place and without
//! allocating, and the table it shares with the prober ([`crate::topology::LinkProber`], driven
//! by the HealthActor).
//!
//! Every node draws a random 32-byte *probe key* at start and publishes it in its signed
//! claim; claims travel only between certificate-authenticated members, so only mesh members
//! can probe a node. A probe from A to B is a [`PacketType::Probe`] whose session id lies in
//! the reserved range [`LINK_PROBE_BASE`]`..=u32::MAX` (the low 16 bits name A's slot for B),
//! sealed with B's key. B verifies it with its own key and answers in place with a
//! [`PacketType::ProbeReply`] of the same size (34 bytes) sealed with its key: same session
//! id and sequence number, payload [`ProbeReplyBody`] (the probe's timestamp, hold time 0).
//! A's data loop verifies the reply with the key of the slot's peer and queues the echo for
//! the prober ([`LinkProbes::drain`]); no actor mailbox is involved.
//!
//! Never an amplifier: replies are never larger than probes, only authenticated probes are
//! answered, each source address gets at most [`ANSWERS_PER_SOURCE`] answers a second (a
//! replayed probe can be reflected at most that often, at 1:1), and replies are never
//! answered. Bad probes and replies charge the data socket's per-source limiter like any bad
//! packet.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::{Mutex, RwLock};

use lightspeed_protocol::fec::FecField;
use lightspeed_protocol::header::{
    self, CONTROL_PAYLOAD_LEN, HEADER_LEN, Header, PacketType, ProbeReplyBody, Unverified,
};
use lightspeed_protocol::{Micros, SessionId, SessionKey};

use super::batch_io::SendBatch;
use super::limiter::SourceLimiter;
use super::{Counters, DropReason};
use crate::topology::SlotKey;

/// First session id of the link-probe range; sessions are never granted ids in it.
pub const LINK_PROBE_BASE: u32 = 0xFFFF_0000;

/// Answers to link probes per source address per second. Peers probe once a second by
/// default (ten times with a 100 ms interval), and one address rarely hosts more than a few
/// nodes; 100 leaves room while capping what a replayed probe can reflect.
pub const ANSWERS_PER_SOURCE: u32 = 100;

/// Echoes waiting for the prober. It drains them every few ms; 1,024 covers a second of
/// echoes from 64 peers at a 100 ms interval with room to spare. More are dropped (counted).
pub const ECHO_QUEUE: usize = 1_024;

/// Length of a link probe and of its reply.
pub const PROBE_LEN: usize = HEADER_LEN + CONTROL_PAYLOAD_LEN;

/// True for session ids of the link-probe range.
pub fn is_link_probe(id: SessionId) -> bool {
    id.0 >= LINK_PROBE_BASE
}

/// The session id of prober slot `slot`.
pub fn probe_session(slot: u16) -> SessionId {
    SessionId(LINK_PROBE_BASE | u32::from(slot))
}

/// An authenticated reply to one of this node's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// The prober slot (the peer).
    pub slot: u16,
    /// The probe's sequence number.
    pub seq: u32,
    /// How long the peer held the probe, µs.
    pub hold_us: u32,
    /// When the data loop received it.
    pub at: Micros,
}

/// Link-probe counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeCounters {
    /// Probes sent by this node.
    pub sent: u64,
    /// Probes from peers answered.
    pub answered: u64,
    /// Authenticated replies handed to the prober.
    pub echoes: u64,
}

/// What the data loop and the prober share: this node's probe key, the key of each prober
/// slot, the echo queue and the answer limiter.
#[derive(Debug)]
pub struct LinkProbes {
    own: SessionKey,
    slots: RwLock<Vec<Option<SessionKey>>>,
    echoes: Mutex<Vec<Echo>>,
    answers: Mutex<SourceLimiter>,
    sent: AtomicU64,
    answered: AtomicU64,
    echoed: AtomicU64,
}

impl LinkProbes {
    /// A table answering probes sealed with `own`.
    pub fn new(own: SessionKey, now: Micros) -> LinkProbes {
        LinkProbes {
            own,
            slots: RwLock::new(Vec::new()),
            echoes: Mutex::new(Vec::with_capacity(ECHO_QUEUE)),
            answers: Mutex::new(SourceLimiter::new(ANSWERS_PER_SOURCE, now)),
            sent: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            echoed: AtomicU64::new(0),
        }
    }

    /// This node's probe key (published in its claim).
    pub fn key(&self) -> &SessionKey {
        &self.own
    }

    /// Applies the prober's slot changes.
    pub fn set_slots(&self, changes: &[SlotKey]) {
        let mut slots = self.slots.write();
        for c in changes {
            let i = usize::from(c.slot);
            if slots.len() <= i {
                slots.resize(i + 1, None);
            }
            if let Some(s) = slots.get_mut(i) {
                s.clone_from(&c.key);
            }
        }
    }

    /// Moves the queued echoes into `out` (allocation-free when `out` has the capacity).
    pub fn drain(&self, out: &mut Vec<Echo>) {
        out.append(&mut self.echoes.lock());
    }

    /// Seals probe `seq` for `slot` with the peer's `key` into `buf`; returns its length.
    pub fn seal_probe(
        &self,
        slot: u16,
        seq: u32,
        now: Micros,
        key: &SessionKey,
        buf: &mut [u8; PROBE_LEN],
    ) -> usize {
        self.sent.fetch_add(1, Relaxed);
        let h = header_of(PacketType::Probe, probe_session(slot), seq, now);
        // A control-size payload of a fixed buffer: validation and size cannot fail.
        header::seal(&h, key, &[0; CONTROL_PAYLOAD_LEN], buf).unwrap_or(0)
    }

    /// Counters since start.
    pub fn counters(&self) -> ProbeCounters {
        ProbeCounters {
            sent: self.sent.load(Relaxed),
            answered: self.answered.load(Relaxed),
            echoes: self.echoed.load(Relaxed),
        }
    }

    /// Handles a parsed packet whose session id is in the link-probe range. Returns false when
    /// the packet was bad (the caller charges its source).
    pub(super) fn on_packet(
        &self,
        now: Micros,
        packet: Unverified<'_>,
        from: SocketAddr,
        sb: &mut SendBatch,
        counters: &Counters,
    ) -> bool {
        match packet.packet_type() {
            PacketType::Probe => self.answer(now, packet, from, sb, counters),
            PacketType::ProbeReply => self.echo(now, packet, counters),
            _ => {
                counters.dropped(DropReason::WrongType);
                false
            }
        }
    }

    fn answer(
        &self,
        now: Micros,
        packet: Unverified<'_>,
        from: SocketAddr,
        sb: &mut SendBatch,
        counters: &Counters,
    ) -> bool {
        let Ok(probe) = packet.verify(&self.own) else {
            counters.dropped(DropReason::BadMac);
            return false;
        };
        {
            let mut answers = self.answers.lock();
            if !answers.allow(from.ip(), now) {
                counters.dropped(DropReason::ProbeRateLimited);
                return true;
            }
            answers.charge(from.ip(), now);
        }
        let Some(buf) = sb.slot(from) else {
            counters.dropped(DropReason::SendFailed);
            return true;
        };
        let body = ProbeReplyBody {
            echo_timestamp: probe.header.timestamp,
            hold_us: 0,
        };
        let h = Header {
            packet_type: PacketType::ProbeReply,
            ..probe.header
        };
        match header::seal(&h, &self.own, &body.to_bytes(), buf) {
            Ok(len) => {
                sb.commit(len);
                self.answered.fetch_add(1, Relaxed);
            }
            Err(_) => counters.dropped(DropReason::SendFailed),
        }
        true
    }

    fn echo(&self, now: Micros, packet: Unverified<'_>, counters: &Counters) -> bool {
        let slot = (packet.session().0 & 0xffff) as u16;
        let verified = {
            let slots = self.slots.read();
            let Some(Some(key)) = slots.get(usize::from(slot)) else {
                counters.dropped(DropReason::UnknownSession);
                return false;
            };
            packet.verify(key)
        };
        let Ok(reply) = verified else {
            counters.dropped(DropReason::BadMac);
            return false;
        };
        let Some(body) = ProbeReplyBody::from_bytes(reply.payload) else {
            counters.dropped(DropReason::BadLength);
            return false;
        };
        let mut queue = self.echoes.lock();
        if queue.len() >= ECHO_QUEUE {
            counters.dropped(DropReason::TableFull);
            return true;
        }
        queue.push(Echo {
            slot,
            seq: reply.header.seq,
            hold_us: body.hold_us,
            at: now,
        });
        self.echoed.fetch_add(1, Relaxed);
        true
    }
}

fn header_of(packet_type: PacketType, session: SessionId, seq: u32, now: Micros) -> Header {
    Header {
        packet_type,
        path: 0,
        session,
        seq,
        timestamp: now.as_wire(),
        fec: FecField::NONE,
    }
}

#[cfg(test)]
#[path = "link_probe_tests.rs"]
mod tests;
