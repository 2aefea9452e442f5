//! Loss of one path from its keepalive probes (pure): of the last [`PROBE_WINDOW`] probes sent
//! on it, how many went unanswered.
//!
//! Every bound path is probed once a keepalive (500 ms by default) whatever the game does, so
//! the standby path, which carries no game data, has a loss figure of its own. A probe counts
//! once it is *settled*: answered, or unanswered for longer than the timeout the caller gives
//! (a few RTTs); the ones still in flight count neither way. A probe and its reply cross the
//! path both ways, so this is round-trip loss: an upper bound of either direction's, which is
//! the cautious side for choosing where FEC parity goes.
//!
//! The window is a fixed ring (no allocation after construction, ~1 KB per path). At one probe
//! per 500 ms it spans 64 s, and one lost probe in a full window reads 0.78 %: probes alone
//! cannot tell 0.1 % from 0 in any reasonable time, which is why [`ProbeLoss::loss_ppm`] can
//! blend in a prior figure (the planned path's loss from the gossiped topology, measured by
//! the mesh's own link probes over a longer time).

use std::time::Duration;

use lightspeed_protocol::Micros;

/// Probes remembered per path: 128, 64 s at the default 500 ms keepalive.
pub const PROBE_WINDOW: usize = 128;
/// Settled probes a path needs before its own figure counts without a prior: 32 (16 s at
/// the default keepalive). A path losing 10 % shows at least one loss among 32 probes 97 % of
/// the time.
pub const MIN_PROBES: u64 = 32;
/// Weight of a prior loss figure, in probes: 32, a quarter of the window. The prior (the
/// planned route's composed link loss) describes the links, not this session's path through
/// them, so once the window is full the path's own probes weigh 80 %; until then the prior
/// dominates and a lucky or unlucky handful of probes cannot swing the figure.
pub const PRIOR_WEIGHT: u64 = 32;

/// Settled probes of a window: how many, and how many of them were never answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeCounts {
    /// Probes answered or timed out.
    pub settled: u64,
    /// Probes timed out without an answer.
    pub lost: u64,
}

/// The probe window of one path.
#[derive(Debug, Clone)]
pub struct ProbeLoss {
    sent_at: [Micros; PROBE_WINDOW],
    /// Bit `i` set: slot `i` was answered.
    answered: u128,
    /// Next slot to write.
    next: usize,
    /// Valid slots (≤ [`PROBE_WINDOW`]).
    len: usize,
}

impl Default for ProbeLoss {
    fn default() -> ProbeLoss {
        ProbeLoss {
            sent_at: [Micros(0); PROBE_WINDOW],
            answered: 0,
            next: 0,
            len: 0,
        }
    }
}

impl ProbeLoss {
    /// A probe was sent at `now` (the header timestamp its reply will echo); it replaces the
    /// oldest one once the window is full.
    pub fn on_sent(&mut self, now: Micros) {
        let i = self.next % PROBE_WINDOW;
        if let Some(slot) = self.sent_at.get_mut(i) {
            *slot = now;
        }
        self.answered &= !(1u128 << i);
        self.next = (i + 1) % PROBE_WINDOW;
        self.len = (self.len + 1).min(PROBE_WINDOW);
    }

    /// A reply echoing the wire timestamp `echo` arrived: marks the newest unanswered probe
    /// sent with that stamp. False when none matches (a probe that left the window, a forged
    /// or repeated echo).
    pub fn on_reply(&mut self, echo: u32) -> bool {
        for back in 1..=self.len {
            let i = (self.next + PROBE_WINDOW - back) % PROBE_WINDOW;
            let bit = 1u128 << i;
            let matches = self.sent_at.get(i).is_some_and(|t| t.as_wire() == echo);
            if matches && self.answered & bit == 0 {
                self.answered |= bit;
                return true;
            }
        }
        false
    }

    /// Probes settled at `now`: answered, or unanswered for longer than `timeout`.
    pub fn counts(&self, now: Micros, timeout: Duration) -> ProbeCounts {
        let mut c = ProbeCounts::default();
        for back in 1..=self.len {
            let i = (self.next + PROBE_WINDOW - back) % PROBE_WINDOW;
            let answered = self.answered & (1u128 << i) != 0;
            let Some(sent) = self.sent_at.get(i) else {
                continue;
            };
            if answered {
                c.settled += 1;
            } else if now.saturating_since(*sent) > timeout {
                c.settled += 1;
                c.lost += 1;
            }
        }
        c
    }

    /// The path's loss in ppm at `now`. With a `prior` (ppm), the prior weighs
    /// [`PRIOR_WEIGHT`] probes against the settled ones, so it is the figure until probes
    /// accumulate and fades as they do. Without one, the probes' own share once at least
    /// [`MIN_PROBES`] settled, else `None`.
    pub fn loss_ppm(&self, now: Micros, timeout: Duration, prior: Option<u32>) -> Option<u32> {
        let c = self.counts(now, timeout);
        let lost = c.lost.saturating_mul(1_000_000);
        let ppm = match prior {
            Some(p) => {
                let p = u64::from(p.min(1_000_000));
                (p * PRIOR_WEIGHT + lost) / (PRIOR_WEIGHT + c.settled)
            }
            None if c.settled >= MIN_PROBES => lost / c.settled,
            None => return None,
        };
        Some(ppm.min(1_000_000) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;
    const TIMEOUT: Duration = Duration::from_secs(1);

    /// Sends `n` probes 500 ms apart from `start`, answering those `answer` says.
    fn run(w: &mut ProbeLoss, start: u64, n: u64, answer: impl Fn(u64) -> bool) -> u64 {
        for k in 0..n {
            let at = Micros(start + k * 500 * MS);
            w.on_sent(at);
            if answer(k) {
                assert!(w.on_reply(at.as_wire()));
            }
        }
        start + n * 500 * MS
    }

    #[test]
    fn unanswered_probes_count_as_lost_only_after_the_timeout() {
        let mut w = ProbeLoss::default();
        let end = run(&mut w, 0, 10, |k| k != 3 && k != 9);
        // Probe 9 went out 500 ms before `end`: still in flight.
        assert_eq!(
            w.counts(Micros(end), TIMEOUT),
            ProbeCounts {
                settled: 9,
                lost: 1
            }
        );
        assert_eq!(
            w.counts(Micros(end + 600 * MS), TIMEOUT),
            ProbeCounts {
                settled: 10,
                lost: 2
            }
        );
    }

    #[test]
    fn a_late_reply_still_settles_its_probe_as_answered() {
        let mut w = ProbeLoss::default();
        w.on_sent(Micros(0));
        w.on_sent(Micros(500 * MS));
        assert_eq!(w.counts(Micros(2_000 * MS), TIMEOUT).lost, 2);
        assert!(w.on_reply(Micros(0).as_wire()));
        assert_eq!(w.counts(Micros(2_000 * MS), TIMEOUT).lost, 1);
        // Twice the same echo, or one for no probe: ignored.
        assert!(!w.on_reply(Micros(0).as_wire()));
        assert!(!w.on_reply(12_345));
        assert_eq!(w.counts(Micros(2_000 * MS), TIMEOUT).lost, 1);
    }

    #[test]
    fn the_window_keeps_only_the_last_128_probes() {
        let mut w = ProbeLoss::default();
        // 100 probes all lost, then 128 all answered: the losses slid out.
        let t = run(&mut w, 0, 100, |_| false);
        let end = run(&mut w, t, 128, |_| true);
        let c = w.counts(Micros(end + 2_000 * MS), TIMEOUT);
        assert_eq!(
            c,
            ProbeCounts {
                settled: 128,
                lost: 0
            }
        );
        // 13 of the next 128 lost: 13 / 128 = 101,562 ppm.
        let end = run(&mut w, end, 128, |k| k % 10 != 0);
        assert_eq!(
            w.loss_ppm(Micros(end + 2_000 * MS), TIMEOUT, None),
            Some(101_562)
        );
    }

    #[test]
    fn without_a_prior_the_figure_waits_for_32_settled_probes() {
        let mut w = ProbeLoss::default();
        let end = run(&mut w, 0, 31, |_| true);
        assert_eq!(w.loss_ppm(Micros(end + 2_000 * MS), TIMEOUT, None), None);
        let end = run(&mut w, end, 1, |_| false);
        // 1 of 32 lost.
        assert_eq!(
            w.loss_ppm(Micros(end + 2_000 * MS), TIMEOUT, None),
            Some(31_250)
        );
    }

    #[test]
    fn a_prior_is_the_figure_at_first_and_fades_as_probes_settle() {
        let mut w = ProbeLoss::default();
        let prior = Some(20_000);
        assert_eq!(w.loss_ppm(Micros(0), TIMEOUT, prior), Some(20_000));
        // 32 clean probes weigh as much as the prior: half of it.
        let end = run(&mut w, 0, 32, |_| true);
        assert_eq!(w.loss_ppm(Micros(end), TIMEOUT, prior), Some(10_000));
        // A full clean window: 32 / 160 of the prior.
        let end = run(&mut w, end, 96, |_| true);
        assert_eq!(w.loss_ppm(Micros(end), TIMEOUT, prior), Some(4_000));
        // A nonsense prior above 100 % is read as 100 %.
        assert_eq!(
            ProbeLoss::default().loss_ppm(Micros(0), TIMEOUT, Some(u32::MAX)),
            Some(1_000_000)
        );
    }
}
