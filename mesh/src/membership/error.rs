//! What the membership core refuses, and its counters.

use crate::topology::PublishError;

/// Why an input was refused or an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The configuration breaks an invariant (the message says which).
    #[error("invalid membership config: {0}")]
    InvalidConfig(&'static str),
    /// The signer's name is not the identity's name.
    #[error("signer is {signer:?} but the identity is {identity:?}")]
    SignerMismatch {
        /// Name of the signer.
        signer: String,
        /// Name of the identity.
        identity: String,
    },
    /// A datagram above [`super::MAX_PACKET_SIZE`]; dropped unread.
    #[error("datagram of {0} bytes exceeds the membership limit")]
    TooLarge(usize),
    /// The datagram header does not decode.
    #[error("undecodable membership datagram")]
    Decode,
    /// The datagram claims a sender other than the node whose certificate the QUIC connection
    /// verified; dropped, nothing applied.
    #[error("datagram claims to be from {claimed:?} but arrived from {authenticated:?}")]
    SpoofedSender {
        /// Sender named in the header.
        claimed: String,
        /// Name from the peer's certificate.
        authenticated: String,
    },
    /// Applying the datagram would hold more than [`super::MembershipConfig::max_members`] members.
    #[error("member table full")]
    TooManyMembers,
    /// The datagram names a node whose name has the same hash as another name this node
    /// holds (foca would take the two for one member); ~2^-64 per name pair by accident.
    #[error("two node names share a member key")]
    NameClash,
    /// foca refused the input; its state may still have changed (its outputs are queued).
    #[error("swim: {0}")]
    Swim(String),
    /// Publishing this node's claim failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Datagrams dropped before foca saw them, by reason; plain numbers for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipCounters {
    /// Datagrams handed to foca.
    pub accepted: u64,
    /// Dropped: too large.
    pub too_large: u64,
    /// Dropped: header did not decode.
    pub undecodable: u64,
    /// Dropped: header sender is not the authenticated peer.
    pub spoofed: u64,
    /// Dropped: member table full.
    pub table_full: u64,
    /// Dropped: a name clashes with another name's member key.
    pub name_clash: u64,
    /// Suspicion timers dropped because the member refuted in time (foca would have told
    /// the live member that it was down; see `Membership::handle_timer`).
    pub refuted_timers: u64,
    /// Gossip items dropped unparsed as copies of items already settled.
    pub duplicate_items: u64,
    /// Datagrams produced.
    pub sent: u64,
    /// Bytes produced.
    pub sent_bytes: u64,
}
