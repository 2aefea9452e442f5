//! A relay's replay window that survives an FEC switch (pure).
//!
//! At an FEC switch the sender jumps its numbering [`SWITCH_SEQ_JUMP`] ahead
//! (`fec_switch.rs`). The endpoints know the switch point from the control exchange; a relay
//! does not, so a packet of the old scheme overtaken by the first new one looked 2^20 packets
//! too old and was dropped. The relay authenticates every packet (it holds the session key),
//! so only the real sender can make such a jump: a forward jump of at least half of
//! [`SWITCH_SEQ_JUMP`] (the sender keeps sending old packets while the switch is agreed, so
//! the jump seen is a little short of the full one) is taken as a switch point. Packets
//! numbered before it are checked against a copy of the window as it stood — stragglers pass
//! once, replays are still refused — until the window has moved a whole window past the
//! switch (nothing older could pass anyway). The copy is boxed: it exists only around a
//! switch, and relay entries are the many.

use lightspeed_protocol::replay::{ReplayError, ReplayWindow, WINDOW};

use super::fec_switch::{SWITCH_SEQ_JUMP, extend};

/// A forward jump at least this large is a switch point.
const SWITCH_MIN_JUMP: u64 = SWITCH_SEQ_JUMP as u64 / 2;

/// The window before the last switch point.
#[derive(Debug, Clone)]
struct Before {
    /// First (extended) sequence number of the new numbering.
    from: u64,
    window: ReplayWindow,
}

/// One direction's replay window at a relay.
#[derive(Debug, Clone, Default)]
pub struct RelayWindow {
    now: ReplayWindow,
    before: Option<Box<Before>>,
}

impl RelayWindow {
    /// An empty window.
    pub fn new() -> RelayWindow {
        RelayWindow::default()
    }

    /// Accepts `seq` once, whichever side of the last switch point it belongs to.
    ///
    /// # Errors
    /// The sequence number was seen already or is older than the window it belongs to.
    pub fn accept(&mut self, seq: u32) -> Result<(), ReplayError> {
        let high = self.now.highest();
        let s = extend(high, seq);
        if let Some(b) = &mut self.before
            && s < b.from
        {
            return b.window.accept(seq).map(drop);
        }
        if let Some(h) = high
            && s >= h.saturating_add(SWITCH_MIN_JUMP)
        {
            self.before = Some(Box::new(Before {
                from: s,
                window: self.now.clone(),
            }));
        }
        self.now.accept(seq)?;
        if self
            .before
            .as_ref()
            .zip(self.now.highest())
            .is_some_and(|(b, top)| top >= b.from.saturating_add(WINDOW))
        {
            self.before = None;
        }
        Ok(())
    }

    /// Whether a pre-switch copy is held (for tests and memory accounting).
    pub fn holds_previous(&self) -> bool {
        self.before.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const J: u32 = SWITCH_SEQ_JUMP;

    #[test]
    fn old_packets_overtaken_at_a_switch_pass_once_and_replays_do_not() {
        let mut w = RelayWindow::new();
        for s in 0..100 {
            assert_eq!(w.accept(s), Ok(()));
        }
        // The sender announced `from = 100 + J` and sent 100..110 meanwhile; 105..110 are
        // overtaken by the first new packets.
        for s in 100..105 {
            assert_eq!(w.accept(s), Ok(()));
        }
        let from = 100 + J;
        for s in from..from + 3 {
            assert_eq!(w.accept(s), Ok(()));
        }
        assert!(w.holds_previous());
        for s in 105..110 {
            assert_eq!(w.accept(s), Ok(()), "straggler {s}");
        }
        assert_eq!(w.accept(107), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(50), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(from + 1), Err(ReplayError::Duplicate));
        // A window past the switch, the copy goes and old numbers are too old again.
        for s in from + 3..from + 3 + WINDOW as u32 {
            assert_eq!(w.accept(s), Ok(()));
        }
        assert!(!w.holds_previous());
        assert_eq!(w.accept(108), Err(ReplayError::TooOld));
    }

    #[test]
    fn ordinary_gaps_are_not_switches() {
        let mut w = RelayWindow::new();
        assert_eq!(w.accept(10), Ok(()));
        // The other path's packets (multipath) or losses leave gaps; a big one is still not a
        // switch unless it is half the switch jump.
        assert_eq!(w.accept(10 + 5_000), Ok(()));
        assert!(!w.holds_previous());
        assert_eq!(w.accept(11), Err(ReplayError::TooOld));
    }

    #[test]
    fn a_second_switch_replaces_the_copy() {
        let mut w = RelayWindow::new();
        assert_eq!(w.accept(1), Ok(()));
        assert_eq!(w.accept(1 + J), Ok(()));
        assert_eq!(w.accept(1 + 2 * J), Ok(()));
        assert!(w.holds_previous());
        // Before the second switch point: judged by the window as it stood then.
        assert_eq!(w.accept(2 + J), Ok(()));
        assert_eq!(w.accept(1 + J), Err(ReplayError::Duplicate));
    }
}
