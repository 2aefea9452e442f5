//! The foca `Runtime` as a collector: foca's sends, timers and notifications are queued as
//! plain data for the caller to drain, so the membership core never does I/O.

use std::collections::VecDeque;
use std::fmt;

use foca::{Notification, OwnedNotification, Runtime, Timer};
use lightspeed_protocol::Micros;

use super::NodeId;

/// A datagram to send to a member over the QUIC connection to `to.name()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The member; the driver must deliver only over a connection whose certificate names
    /// `to.name()`, whatever address the identity carries.
    pub to: NodeId,
    /// At most [`super::MAX_PACKET_SIZE`] bytes.
    pub bytes: Vec<u8>,
}

/// An opaque membership timer; hand it back to [`super::Membership::handle_timer`] when due.
#[derive(Clone, PartialEq, Eq)]
pub struct MembershipTimer(pub(super) Timer<NodeId>);

impl MembershipTimer {
    /// A short name of the timer kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match &self.0 {
            Timer::ProbeRandomMember(_) => "probe",
            Timer::SendIndirectProbe { .. } => "indirect-probe",
            Timer::ChangeSuspectToDown { .. } => "suspect-to-down",
            Timer::PeriodicAnnounce(_) => "announce",
            Timer::PeriodicAnnounceDown(_) => "announce-down",
            Timer::PeriodicGossip(_) => "gossip",
            Timer::RemoveDown(_) => "remove-down",
        }
    }
}

impl fmt::Debug for MembershipTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// A timer to fire at `at` (the driver's clock). Timers due at the same instant must fire in
/// the order they were drained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTimer {
    /// When it is due.
    pub at: Micros,
    /// What to hand back.
    pub timer: MembershipTimer,
}

/// Collects what foca asks for during one call.
#[derive(Default)]
pub(super) struct Collector {
    pub(super) now: Micros,
    pub(super) transmits: VecDeque<Transmit>,
    pub(super) timers: VecDeque<ScheduledTimer>,
    pub(super) notifications: Vec<OwnedNotification<NodeId>>,
    /// Members a failed probe made suspect (foca reports that only through the timer).
    pub(super) suspected: Vec<NodeId>,
    pub(super) sent: u64,
    pub(super) sent_bytes: u64,
}

impl Runtime<NodeId> for Collector {
    fn notify(&mut self, notification: Notification<'_, NodeId>) {
        self.notifications.push(notification.to_owned());
    }

    fn send_to(&mut self, to: NodeId, data: &[u8]) {
        self.sent += 1;
        self.sent_bytes += data.len() as u64;
        self.transmits.push_back(Transmit {
            to,
            bytes: data.to_vec(),
        });
    }

    fn submit_after(&mut self, event: Timer<NodeId>, after: std::time::Duration) {
        if let Timer::ChangeSuspectToDown { member_id, .. } = &event {
            self.suspected.push(member_id.clone());
        }
        self.timers.push_back(ScheduledTimer {
            at: self.now + after,
            timer: MembershipTimer(event),
        });
    }
}
