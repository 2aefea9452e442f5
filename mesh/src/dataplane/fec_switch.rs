//! Changing a running session's FEC scheme without garbage or duplicates (pure).
//!
//! # The problem
//! Packets of the old scheme are still in flight when the peer starts sending the new one, and
//! nothing in a packet says which scheme built it: the [`FecField`](lightspeed_protocol::fec::FecField)
//! carries a group number and a shape that two schemes can share (RS(3,2) data fits an RS(4,2)
//! decoder; both group counters start at 0). Fed to the wrong decoder, an old packet is
//! refused (a loss), taken as a member of an unrelated group (a later "recovery" from it is
//! garbage), or marks a slot as received so that the real packet is reported a duplicate.
//!
//! # The rule
//! The switch point of each direction is a **sequence number** both ends know before the first
//! packet of the new scheme exists:
//!
//! 1. The sender picks `from = next sequence number + `[`SWITCH_SEQ_JUMP`] and tells the
//!    receiver over the control channel. It keeps sending the old scheme with its ordinary
//!    numbers meanwhile (2^20 packets are hours of game traffic, so it never reaches `from`).
//! 2. The receiver *arms*: peer packets numbered `≥ from` will go to a new decoder, older ones
//!    to the current one.
//! 3. Only once the receiver has armed (the control reply, or at the proxy the edge's first
//!    packet `≥` the edge's own `from`, which the edge sends only after arming) does the sender
//!    jump its numbering to `from` and switch its encoder.
//!
//! Every packet thus reaches the decoder of the scheme that built it: exact, whatever the
//! reordering. Old packets overtaken by new ones would look 2^20 packets too old to the
//! replay window, so at the switch the receiver keeps a copy of the window as it was and
//! checks packets numbered before the switch point against that copy (replays are still
//! refused, stragglers accepted). It keeps the previous decoder and window until the current
//! window has moved a whole window past the switch (nothing older could be accepted anyway),
//! so at most three decoders (previous, current, armed) exist per session. The jump is not
//! loss: the receiver counts it in [`FecSwitch::skipped`] (from the highest old packet it has
//! seen, so old packets lost at the very end of the old scheme count as skipped, not lost). Cost: the parity of the sender's
//! last open group of the old scheme is not sent (at most `k − 1` packets unprotected).

use lightspeed_protocol::fec::{FecDecoder, FecEncoder};
use lightspeed_protocol::replay::{ReplayError, ReplayWindow, WINDOW};

/// How far ahead of its current numbering a sender announces its switch point: 2^20 packets,
/// 2.3 hours at 128 packets/s with 100 % parity. Far below the 2^31 that 32-bit sequence
/// extension tolerates, far above what is sent while a control request is answered.
pub const SWITCH_SEQ_JUMP: u32 = 1 << 20;

/// The decoder half of a scheme (`None`: FEC off).
pub type Decoder = Option<Box<dyn FecDecoder>>;
/// The encoder half of a scheme (`None`: FEC off).
pub type Encoder = Option<Box<dyn FecEncoder>>;

struct Armed {
    decoder: Decoder,
    from: u64,
}

/// The scheme before the last switch: its decoder and the replay window as it stood.
struct Previous {
    decoder: Decoder,
    replay: ReplayWindow,
}

struct PendingTx {
    encoder: Encoder,
    at: u32,
    after_peer: u64,
}

/// A sender switch that became due: use `encoder`, numbering from `at`.
pub struct TxSwitch {
    /// The new encoder.
    pub encoder: Encoder,
    /// The first sequence number of the new scheme.
    pub at: u32,
}

/// The switch state of one endpoint; the current encoder and decoder stay with the endpoint.
#[derive(Default)]
pub struct FecSwitch {
    previous: Option<Previous>,
    current_from: u64,
    armed: Option<Armed>,
    pending_tx: Option<PendingTx>,
    skipped: u64,
    switches: u32,
}

impl std::fmt::Debug for FecSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FecSwitch")
            .field("previous", &self.previous.is_some())
            .field("current_from", &self.current_from)
            .field("armed", &self.armed.as_ref().map(|a| a.from))
            .field("pending_tx", &self.pending_tx.as_ref().map(|p| p.at))
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// Extends a 32-bit sequence number to the 64-bit value closest to `highest` (the replay
/// window's rule, so both agree).
pub fn extend(highest: Option<u64>, seq: u32) -> u64 {
    const HALF: u64 = 1 << 31;
    const EPOCH: u64 = 1 << 32;
    let Some(top) = highest else {
        return u64::from(seq);
    };
    let candidate = (top & !(EPOCH - 1)) | u64::from(seq);
    if candidate > top.saturating_add(HALF) && candidate >= EPOCH {
        candidate - EPOCH
    } else if candidate.saturating_add(HALF) < top {
        candidate.saturating_add(EPOCH)
    } else {
        candidate
    }
}

impl FecSwitch {
    /// Peer packets numbered `from_seq` and later go to `decoder`. `highest` is the highest
    /// peer sequence number accepted so far. Arming again replaces an armed decoder that no
    /// packet has reached yet.
    pub fn arm(&mut self, decoder: Decoder, from_seq: u32, highest: Option<u64>) {
        self.armed = Some(Armed {
            decoder,
            from: extend(highest, from_seq),
        });
    }

    /// Once a peer packet numbered `after_peer_seq` or later arrives, the sender switches to
    /// `encoder` numbering from `at` ([`FecSwitch::on_peer_seq`] returns it).
    pub fn schedule_tx(
        &mut self,
        encoder: Encoder,
        at: u32,
        after_peer_seq: u32,
        highest: Option<u64>,
    ) {
        self.pending_tx = Some(PendingTx {
            encoder,
            at,
            after_peer: extend(highest, after_peer_seq),
        });
    }

    /// True while a scheduled sender switch waits for the peer.
    pub fn tx_pending(&self) -> bool {
        self.pending_tx.is_some()
    }

    /// True while an armed decoder waits for its first packet.
    pub fn rx_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// The replay check of an authenticated peer packet, switch-aware: a packet from before
    /// the last switch point is checked against the window as it stood at the switch. The
    /// first packet at or past an armed switch point promotes the armed decoder. Also
    /// retires the previous scheme once nothing older can be accepted, and returns the
    /// extended sequence number and a sender switch that became due.
    ///
    /// # Errors
    /// The replay window's verdict (duplicate, too old).
    pub fn accept(
        &mut self,
        replay: &mut ReplayWindow,
        seq: u32,
        current: &mut Decoder,
    ) -> Result<(u64, Option<TxSwitch>), ReplayError> {
        let highest = replay.highest();
        let ext = extend(highest, seq);
        if let Some(prev) = self.previous.as_mut().filter(|_| ext < self.current_from) {
            let top = prev.replay.highest();
            let ext = prev.replay.accept(seq)?;
            // A straggler beyond the old top was sent, not skipped.
            if let Some(top) = top.filter(|t| ext > *t) {
                self.skipped = self.skipped.saturating_sub(ext - top);
            }
            return Ok((ext, None));
        }
        let promote = self.armed.as_ref().is_some_and(|a| ext >= a.from);
        let before = promote.then(|| replay.clone());
        let ext = replay.accept(seq)?;
        if let (Some(armed), Some(window)) = (self.armed.take_if(|_| promote), before) {
            let old = std::mem::replace(current, armed.decoder);
            self.previous = Some(Previous {
                decoder: old,
                replay: window,
            });
            self.current_from = armed.from;
            if let Some(h) = highest {
                self.skipped += armed.from.saturating_sub(h.saturating_add(1));
            }
            self.switches = self.switches.saturating_add(1);
        }
        if self.previous.is_some() && ext > self.current_from.saturating_add(WINDOW) {
            self.previous = None;
        }
        let due = self.pending_tx.take_if(|p| ext >= p.after_peer);
        Ok((
            ext,
            due.map(|d| TxSwitch {
                encoder: d.encoder,
                at: d.at,
            }),
        ))
    }

    /// The decoder for the peer packet numbered `ext`: the previous scheme's for packets from
    /// before the last switch, else `current`. `None` when that scheme is FEC off.
    pub fn decoder<'a>(
        &'a mut self,
        ext: u64,
        current: &'a mut Decoder,
    ) -> Option<&'a mut (dyn FecDecoder + 'static)> {
        match &mut self.previous {
            Some(prev) if ext < self.current_from => prev.decoder.as_deref_mut(),
            _ => current.as_deref_mut(),
        }
    }

    /// The previous scheme's decoder, for draining what it recovered.
    pub fn previous(&mut self) -> Option<&mut (dyn FecDecoder + 'static)> {
        self.previous
            .as_mut()
            .and_then(|p| p.decoder.as_deref_mut())
    }

    /// Sequence numbers the peer jumped over at switches (not losses).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Receive-side switches completed (armed decoders that took over).
    pub fn switches(&self) -> u32 {
        self.switches
    }
}

#[cfg(test)]
#[path = "fec_switch_tests.rs"]
mod tests;
