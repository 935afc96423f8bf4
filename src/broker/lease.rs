//! When to renew a lease and when to replace it, as pure logic over an injected `now`.
//!
//! A lease is renewed at two thirds of what was granted, asking each time for its first
//! duration again (DESIGN, Broker). The broker may grant less: the lease has reached its role's
//! max TTL and will end whatever guard asks, so guard replaces it with new credentials at two
//! thirds of what is left, while the old ones still work for connections already open. A lease
//! that is not renewable, or whose renewal was refused, is replaced the same way.

use std::time::{Duration, Instant};

use super::client::Grant;

/// Retries of a failed replacement start here and double up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Extend the current lease.
    Renew,
    /// Issue new credentials and make them the current ones.
    Reissue,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    granted_at: Instant,
    ttl: Duration,
    renewable: bool,
    /// What each renewal asks for: the duration of the lease as first issued.
    increment: Duration,
    /// The last renewal got less than it asked for: the max TTL is near.
    capped: bool,
    retry_at: Option<Instant>,
    failures: u32,
}

impl Schedule {
    /// A lease granted at `now` (take `now` before the request went out: the broker's clock
    /// started no later than that).
    pub fn new(now: Instant, grant: &Grant) -> Self {
        Schedule {
            granted_at: now,
            ttl: grant.duration,
            renewable: grant.renewable,
            increment: grant.duration,
            capped: false,
            retry_at: None,
            failures: 0,
        }
    }

    /// What to do next, and when.
    pub fn next(&self) -> (Step, Instant) {
        if let Some(at) = self.retry_at {
            return (Step::Reissue, at);
        }
        let at = self.granted_at + self.ttl * 2 / 3;
        if self.renewable && !self.capped {
            (Step::Renew, at)
        } else {
            (Step::Reissue, at)
        }
    }

    /// The increment to ask for when renewing.
    pub fn increment(&self) -> Duration {
        self.increment
    }

    /// A renewal sent at `sent_at` was granted `granted`.
    pub fn renewed(&mut self, sent_at: Instant, granted: Duration) {
        self.granted_at = sent_at;
        self.ttl = granted;
        self.capped = granted < self.increment;
    }

    /// The broker refused to renew: replace the credentials now.
    pub fn refused(&mut self, now: Instant) {
        self.retry_at = Some(now);
    }

    /// Issuing replacement credentials failed: try again a little later.
    pub fn reissue_failed(&mut self, now: Instant) {
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << self.failures.min(5))
            .min(MAX_BACKOFF);
        self.failures += 1;
        self.retry_at = Some(now + backoff);
    }

    /// When the current lease ends, as far as guard knows.
    pub fn expires_at(&self) -> Instant {
        self.granted_at + self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(secs: u64, renewable: bool) -> Grant {
        Grant {
            lease_id: "database/creds/ro/x".into(),
            duration: Duration::from_secs(secs),
            renewable,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_renewable_lease_is_renewed_at_two_thirds() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, &grant(9, true));
        assert_eq!(s.next(), (Step::Renew, t0 + secs(6)));
        assert_eq!(s.increment(), secs(9));
        assert_eq!(s.expires_at(), t0 + secs(9));
    }

    #[test]
    fn each_renewal_restarts_the_clock_from_when_it_was_sent() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &grant(9, true));
        s.renewed(t0 + secs(6), secs(9));
        assert_eq!(s.next(), (Step::Renew, t0 + secs(12)));
        assert_eq!(s.expires_at(), t0 + secs(15));
    }

    #[test]
    fn a_capped_renewal_means_replace_at_two_thirds_of_what_is_left() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &grant(9, true));
        // max TTL 12s: the renewal at 6s gets only 6s.
        s.renewed(t0 + secs(6), secs(6));
        assert_eq!(s.next(), (Step::Reissue, t0 + secs(10)));
        assert_eq!(s.expires_at(), t0 + secs(12));
    }

    #[test]
    fn a_lease_that_is_not_renewable_is_replaced_at_two_thirds() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, &grant(30, false));
        assert_eq!(s.next(), (Step::Reissue, t0 + secs(20)));
    }

    #[test]
    fn a_refused_renewal_replaces_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &grant(9, true));
        s.refused(t0 + secs(6));
        assert_eq!(s.next(), (Step::Reissue, t0 + secs(6)));
    }

    #[test]
    fn failed_replacements_back_off_up_to_a_limit() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &grant(9, false));
        let mut waits = Vec::new();
        for _ in 0..8 {
            s.reissue_failed(t0);
            waits.push(s.next().1 - t0);
        }
        let expected = [1, 2, 4, 8, 16, 30, 30, 30].map(secs);
        assert_eq!(waits, expected);
        assert!(s.next().0 == Step::Reissue);
    }
}
