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
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
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
