//! A token bucket with the clock passed in: `rate` tokens a second, at most `burst` saved, full
//! at the start. A browser's chat lines and a still page's snapshot bytes both come out of one.

use std::time::Instant;

#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn full(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket { rate, burst, tokens: burst, at: now }
    }

    /// The tokens there are at `now` (negative after spending more than there were).
    pub fn available(&mut self, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.at = self.at.max(now);
        self.tokens
    }

    pub fn spend(&mut self, n: f64, now: Instant) {
        self.available(now);
        self.tokens -= n;
    }

    /// Takes `n` tokens if there are that many.
    pub fn take(&mut self, n: f64, now: Instant) -> bool {
        let ok = self.available(now) >= n;
        if ok {
            self.tokens -= n;
        }
        ok
    }

    pub fn burst(&self) -> f64 {
        self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut r = TokenBucket::full(10.0, 20.0, t0);
        assert_eq!((0..100).filter(|_| r.take(1.0, t0)).count(), 20);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..100).filter(|_| r.take(1.0, t1)).count(), 5);
        // A clock that goes back (two callers' instants out of order) refills nothing.
        assert!(!r.take(1.0, t0));
    }
}
