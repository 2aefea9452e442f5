//! Token-bucket rate limiter: a pure core that takes `now`.

use lightspeed_protocol::Micros;

/// A token bucket refilled at `rate` tokens per second up to `burst` tokens.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate_per_sec: u32,
    burst: u32,
    // Tokens scaled by 1e6 so refills of a fraction of a token are not lost between packets.
    micro_tokens: u64,
    last: Micros,
}

impl TokenBucket {
    /// A full bucket. `rate_per_sec == 0` means unlimited.
    pub fn new(rate_per_sec: u32, burst: u32, now: Micros) -> TokenBucket {
        TokenBucket {
            rate_per_sec,
            burst: burst.max(1),
            micro_tokens: u64::from(burst.max(1)) * 1_000_000,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Micros) -> bool {
        if self.has_token(now) {
            if self.rate_per_sec != 0 {
                self.micro_tokens -= 1_000_000;
            }
            true
        } else {
            false
        }
    }

    /// Refills, then says whether a token is there, without taking it.
    pub fn has_token(&mut self, now: Micros) -> bool {
        if self.rate_per_sec == 0 {
            return true;
        }
        let elapsed_us = now.0.saturating_sub(self.last.0);
        self.last = Micros(self.last.0.max(now.0));
        let cap = u64::from(self.burst) * 1_000_000;
        self.micro_tokens = self
            .micro_tokens
            .saturating_add(elapsed_us.saturating_mul(u64::from(self.rate_per_sec)))
            .min(cap);
        self.micro_tokens >= 1_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_burst_then_rate() {
        let mut b = TokenBucket::new(100, 10, Micros(0));
        let first: usize = (0..50).filter(|_| b.try_take(Micros(0))).count();
        assert_eq!(first, 10);
        // One second later: 100 more tokens, capped at the burst of 10.
        let later: usize = (0..50).filter(|_| b.try_take(Micros(1_000_000))).count();
        assert_eq!(later, 10);
        // Steady state at exactly the rate: one packet every 10 ms always passes.
        let mut t = 1_000_000;
        for _ in 0..1_000 {
            t += 10_000;
            assert!(b.try_take(Micros(t)));
        }
        // Twice the rate: about half pass.
        let passed = (0..1_000)
            .filter(|i| b.try_take(Micros(t + (i + 1) * 5_000)))
            .count();
        assert!((495..=515).contains(&passed), "{passed}");
    }

    #[test]
    fn zero_rate_is_unlimited_and_time_going_back_is_harmless() {
        let mut b = TokenBucket::new(0, 1, Micros(5));
        assert!((0..1000).all(|_| b.try_take(Micros(0))));
        let mut c = TokenBucket::new(10, 1, Micros(1_000_000));
        assert!(c.try_take(Micros(1_000_000)));
        assert!(!c.try_take(Micros(0)));
    }
}

/// Per-source-address limit on *bad* packets, in fixed memory: a table of token buckets
/// indexed by a keyed hash of the source IP (SipHash with per-process random keys, so an
/// attacker cannot aim many addresses at one bucket). A packet that fails parsing, session
/// lookup or MAC verification takes a token from its source's bucket; once a source's bucket
/// is empty, its packets are dropped before any parsing or MAC work until it refills. Good
/// packets are never charged, because one source legitimately carries many sessions (a relay
/// sees all of a proxy's traffic from one address). Sources that collide share a bucket — the
/// price of never allocating per source.
#[derive(Debug)]
pub struct SourceLimiter {
    buckets: Box<[TokenBucket]>,
    hasher: std::collections::hash_map::RandomState,
    enabled: bool,
}

/// Buckets in a [`SourceLimiter`]: 4,096 × 32 bytes = 128 KiB per node.
pub const SOURCE_BUCKETS: usize = 4_096;

impl SourceLimiter {
    /// Limits each source to `pps` packets per second with a burst of a quarter second
    /// (`pps == 0`: no limit).
    pub fn new(pps: u32, now: Micros) -> SourceLimiter {
        let burst = (pps / 4).max(32);
        SourceLimiter {
            buckets: vec![TokenBucket::new(pps, burst, now); SOURCE_BUCKETS].into_boxed_slice(),
            hasher: std::collections::hash_map::RandomState::new(),
            enabled: pps > 0,
        }
    }

    fn slot(&self, ip: std::net::IpAddr) -> usize {
        use std::hash::BuildHasher;
        (self.hasher.hash_one(ip) as usize) % SOURCE_BUCKETS
    }

    /// False when `ip` has used up its allowance of bad packets: drop its packet unread.
    pub fn allow(&mut self, ip: std::net::IpAddr, now: Micros) -> bool {
        if !self.enabled {
            return true;
        }
        let slot = self.slot(ip);
        self.buckets[slot].has_token(now)
    }

    /// Charges `ip` for a packet that turned out bad.
    pub fn charge(&mut self, ip: std::net::IpAddr, now: Micros) {
        if self.enabled {
            let slot = self.slot(ip);
            self.buckets[slot].try_take(now);
        }
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn a_junk_flooder_is_cut_while_good_traffic_from_one_source_is_never_charged() {
        let mut l = SourceLimiter::new(1_000, Micros(0));
        let flood: IpAddr = "198.51.100.66".parse().unwrap();
        // Every packet of the flood is bad: within one second it gets its burst plus a
        // second of rate read, not 50,000.
        let read = (0..50_000u64)
            .filter(|i| {
                let now = Micros(i * 20);
                let allowed = l.allow(flood, now);
                if allowed {
                    l.charge(flood, now);
                }
                allowed
            })
            .count();
        assert!((1_000..=1_300).contains(&read), "{read}");
        // A peer relaying 50,000 good packets a second is never limited.
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert!((0..50_000u64).all(|i| l.allow(peer, Micros(2_000_000 + i * 20))));
        let mut off = SourceLimiter::new(0, Micros(0));
        assert!((0..10_000).all(|_| off.allow(flood, Micros(0))));
    }
}
