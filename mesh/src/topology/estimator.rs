//! Per-peer link estimator for the HealthActor's probes: smoothed RTT (EWMA, gain 1/8 as
//! RFC 6298's SRTT), jitter as RFC 3550 §6.4.1 computes it (mean deviation of successive
//! samples, gain 1/16) and loss over the last N probes.
//!
//! The estimator numbers the probes itself, so a reply is matched to its probe by sequence
//! number in a preallocated ring: no allocation per probe, duplicates and replies to probes
//! that left the window are ignored.

use std::time::Duration;

use lightspeed_protocol::Micros;

use super::claim::LinkClaim;

/// Estimator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimatorConfig {
    /// Probes the loss estimate covers (default 100: at one probe per second, loss over the
    /// last 100 s with a 1 % resolution; clamped to 1..=1,024).
    pub window: usize,
    /// An unanswered probe counts as lost after this long (default 1 s, well above any
    /// terrestrial RTT); younger ones are still in flight and count as neither.
    pub timeout: Duration,
}

impl Default for EstimatorConfig {
    fn default() -> EstimatorConfig {
        EstimatorConfig {
            window: 100,
            timeout: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Empty,
    InFlight,
    Answered,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    sent_at: Micros,
    state: SlotState,
}

/// What a reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A fresh sample.
    Sample(Duration),
    /// The probe was already answered.
    Duplicate,
    /// No such probe in the window (never sent, or too old).
    Unknown,
}

/// Current estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Smoothed RTT, µs (0 before the first sample).
    pub srtt_us: u32,
    /// Jitter, µs.
    pub jitter_us: u32,
    /// Loss over the window, parts per million.
    pub loss_ppm: u32,
    /// Probes answered in the window.
    pub answered: u32,
    /// Probes lost in the window.
    pub lost: u32,
    /// When the latest sample arrived.
    pub last_sample: Option<Micros>,
}

/// Estimates one link from probes and their echoes.
#[derive(Debug, Clone)]
pub struct LinkEstimator {
    config: EstimatorConfig,
    slots: Vec<Slot>,
    next_seq: u64,
    srtt_us: Option<u64>,
    last_rtt_us: u64,
    /// Jitter scaled by 16, as RFC 3550's reference code keeps it, to stay in integers.
    jitter_x16: u64,
    last_sample: Option<Micros>,
}

impl LinkEstimator {
    /// A fresh estimator; allocates its window once.
    pub fn new(mut config: EstimatorConfig) -> LinkEstimator {
        config.window = config.window.clamp(1, 1_024);
        LinkEstimator {
            slots: vec![
                Slot {
                    seq: 0,
                    sent_at: Micros::ZERO,
                    state: SlotState::Empty,
                };
                config.window
            ],
            config,
            next_seq: 0,
            srtt_us: None,
            last_rtt_us: 0,
            jitter_x16: 0,
            last_sample: None,
        }
    }

    fn slot_index(&self, seq: u64) -> usize {
        (seq % self.slots.len() as u64) as usize
    }

    /// Records a probe sent at `now` and returns the sequence number to put in it.
    pub fn probe_sent(&mut self, now: Micros) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let index = self.slot_index(seq);
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Slot {
                seq,
                sent_at: now,
                state: SlotState::InFlight,
            };
        }
        seq
    }

    /// Records the echo of probe `seq` arriving at `now`; `hold` is how long the peer held it
    /// before replying and is not part of the path's RTT.
    pub fn reply(&mut self, now: Micros, seq: u64, hold: Duration) -> Reply {
        let index = self.slot_index(seq);
        let Some(slot) = self.slots.get_mut(index) else {
            return Reply::Unknown;
        };
        if slot.seq != seq || slot.state == SlotState::Empty {
            return Reply::Unknown;
        }
        if slot.state == SlotState::Answered {
            return Reply::Duplicate;
        }
        slot.state = SlotState::Answered;
        let rtt = now.saturating_since(slot.sent_at).saturating_sub(hold);
        let rtt_us = rtt.as_micros().min(u128::from(u32::MAX)) as u64;
        self.srtt_us = Some(match self.srtt_us {
            None => rtt_us,
            Some(s) => (s * 7 + rtt_us) / 8,
        });
        if self.last_sample.is_some() {
            let d = rtt_us.abs_diff(self.last_rtt_us);
            // J += (|D| - J) / 16, in sixteenths.
            self.jitter_x16 = self.jitter_x16 + d - (self.jitter_x16 + 8) / 16;
        }
        self.last_rtt_us = rtt_us;
        self.last_sample = Some(now);
        Reply::Sample(rtt)
    }

    /// The estimates at `now`.
    pub fn stats(&self, now: Micros) -> LinkStats {
        let timeout = self.config.timeout;
        let (mut answered, mut lost) = (0u32, 0u32);
        for slot in &self.slots {
            match slot.state {
                SlotState::Answered => answered += 1,
                SlotState::InFlight if now.saturating_since(slot.sent_at) > timeout => lost += 1,
                _ => {}
            }
        }
        let total = u64::from(answered + lost);
        let loss_ppm = (u64::from(lost) * 1_000_000)
            .checked_div(total)
            .unwrap_or(0) as u32;
        LinkStats {
            srtt_us: self.srtt_us.unwrap_or(0).min(u64::from(u32::MAX)) as u32,
            jitter_us: (self.jitter_x16 / 16).min(u64::from(u32::MAX)) as u32,
            loss_ppm,
            answered,
            lost,
            last_sample: self.last_sample,
        }
    }

    /// The link as a topology claim entry towards `to`, once there is a sample.
    pub fn to_claim(&self, to: &str, now: Micros) -> Option<LinkClaim> {
        let stats = self.stats(now);
        let last = stats.last_sample?;
        Some(LinkClaim {
            to: to.to_owned(),
            rtt_us: stats.srtt_us,
            jitter_us: stats.jitter_us,
            loss_ppm: stats.loss_ppm,
            age_ms: now
                .saturating_since(last)
                .as_millis()
                .min(u128::from(u32::MAX)) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Micros {
        Micros::from_millis(v)
    }

    #[test]
    fn ewma_rtt_and_rfc3550_jitter() {
        let mut e = LinkEstimator::new(EstimatorConfig::default());
        // RTTs alternate 40 ms / 60 ms: srtt converges to ~50 ms, |D| is always 20 ms so jitter
        // converges to 20 ms.
        for i in 0..200u64 {
            let t = ms(i * 1_000);
            let seq = e.probe_sent(t);
            let rtt = if i % 2 == 0 { 40 } else { 60 };
            assert_eq!(
                e.reply(t + Duration::from_millis(rtt), seq, Duration::ZERO),
                Reply::Sample(Duration::from_millis(rtt))
            );
        }
        let s = e.stats(ms(200_000));
        assert!((47_000..=53_000).contains(&s.srtt_us), "{}", s.srtt_us);
        assert!((19_000..=20_000).contains(&s.jitter_us), "{}", s.jitter_us);
        assert_eq!((s.loss_ppm, s.answered, s.lost), (0, 100, 0));
    }

    #[test]
    fn first_sample_sets_srtt_and_hold_time_is_removed() {
        let mut e = LinkEstimator::new(EstimatorConfig::default());
        let seq = e.probe_sent(ms(0));
        assert_eq!(
            e.reply(ms(30), seq, Duration::from_millis(5)),
            Reply::Sample(Duration::from_millis(25))
        );
        assert_eq!(e.reply(ms(31), seq, Duration::ZERO), Reply::Duplicate);
        assert_eq!(e.reply(ms(31), 99, Duration::ZERO), Reply::Unknown);
        let s = e.stats(ms(31));
        assert_eq!((s.srtt_us, s.jitter_us), (25_000, 0));
        let claim = e.to_claim("relay-2", ms(1_031)).unwrap();
        assert_eq!((claim.rtt_us, claim.age_ms), (25_000, 1_001));
    }

    #[test]
    fn loss_over_a_sliding_window() {
        let cfg = EstimatorConfig {
            window: 10,
            timeout: Duration::from_secs(1),
        };
        let mut e = LinkEstimator::new(cfg);
        // 20 probes, every 4th lost: the window holds the last 10.
        for i in 0..20u64 {
            let seq = e.probe_sent(ms(i * 100));
            if i % 4 != 3 {
                e.reply(ms(i * 100 + 10), seq, Duration::ZERO);
            }
        }
        // The window holds probes 10..=19; 11, 15 and 19 went unanswered. At t = 2,200 ms only
        // probe 11 (sent at 1,100 ms) is older than the timeout.
        let s = e.stats(ms(2_200));
        assert_eq!((s.answered, s.lost), (7, 1), "15 and 19 still in flight");
        assert_eq!(s.loss_ppm, 125_000);
        let s = e.stats(ms(10_000));
        assert_eq!((s.answered, s.lost), (7, 3));
        assert_eq!(s.loss_ppm, 300_000);
        // A reply to a probe that left the window is not counted.
        assert_eq!(e.reply(ms(10_000), 0, Duration::ZERO), Reply::Unknown);
        assert!(LinkEstimator::new(cfg).to_claim("x", ms(0)).is_none());
    }
}
