//! What happened to the packets offered to a link: outcomes, drop reasons and counters.

/// Why a packet (or a duplicate copy) was dropped. Each reason has its own counter in
/// [`DropCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The loss model ([`LossModel`](super::LossModel)) picked it.
    Loss,
    /// Sent while the link was down ([`Link::set_down`](super::Link::set_down)) or inside a
    /// scheduled [`Outage`](super::Outage), or still in flight when
    /// [`Link::drop_in_flight`](super::Link::drop_in_flight) cut the link.
    Outage,
    /// Tail drop: the bottleneck queue ([`LinkConfig::queue_limit_bytes`](super::LinkConfig))
    /// had no room for it.
    QueueFull,
    /// The emulator already held [`LinkConfig::max_in_flight`](super::LinkConfig) packets.
    InFlightFull,
}

/// Result of [`Link::send`](super::Link::send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendOutcome {
    /// The packet will be released by [`Link::poll`](super::Link::poll).
    Queued {
        /// Whether a duplicate copy was queued as well (it is released separately).
        duplicated: bool,
    },
    /// The packet was dropped and will never be released.
    Dropped(DropReason),
}

/// Drop counters, one per [`DropReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// [`DropReason::Loss`].
    pub loss: u64,
    /// [`DropReason::Outage`].
    pub outage: u64,
    /// [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// [`DropReason::InFlightFull`].
    pub in_flight_full: u64,
}

impl DropCounts {
    /// Sum over all reasons.
    pub fn total(&self) -> u64 {
        self.loss
            .saturating_add(self.outage)
            .saturating_add(self.queue_full)
            .saturating_add(self.in_flight_full)
    }

    pub(crate) fn count(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Loss => &mut self.loss,
            DropReason::Outage => &mut self.outage,
            DropReason::QueueFull => &mut self.queue_full,
            DropReason::InFlightFull => &mut self.in_flight_full,
        };
        *counter = counter.saturating_add(1);
    }
}

/// Counters of one link since it was built.
///
/// Conservation: `sent + duplicated == delivered + dropped.total() + in_flight` at all times
/// (duplicate copies are counted when made; a copy that finds the emulator full is counted in
/// `dropped.in_flight_full`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets offered to [`Link::send`](super::Link::send).
    pub sent: u64,
    /// Bytes offered (sum of `size_bytes`).
    pub sent_bytes: u64,
    /// Packets (originals and copies) returned by [`Link::poll`](super::Link::poll).
    pub delivered: u64,
    /// Bytes returned by [`Link::poll`](super::Link::poll).
    pub delivered_bytes: u64,
    /// Duplicate copies made.
    pub duplicated: u64,
    /// Packets picked for reordering, i.e. held back by
    /// [`LinkConfig::reorder_hold`](super::LinkConfig). Such a packet is actually overtaken
    /// only if another is sent within the hold.
    pub reordered: u64,
    /// Drops by reason.
    pub dropped: DropCounts,
    /// Packets currently held by the emulator, not yet returned by `poll`.
    pub in_flight: u64,
}
