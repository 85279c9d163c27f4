//! Reconnect delays: exponential backoff with full jitter, as a pure function of the attempt.

use std::time::Duration;

/// How the notifier waits between connection attempts: exponential backoff with full jitter.
///
/// Before retry `n` (1 for the first retry) it waits a random time in
/// `[0, min(cap, base · 2^(n-1))]`. The count starts over once a connection has stayed up for the
/// builder's `stable_after` (30 s by default), so a server that crash-loops gets growing delays.
/// After `max_attempts` consecutive attempts without such a stable connection it gives up with
/// [`NotifierError::RetriesExhausted`](crate::NotifierError::RetriesExhausted).
///
/// ```
/// use std::time::Duration;
/// use jellyfish_notifier::Backoff;
///
/// let backoff = Backoff::default()
///     .base(Duration::from_millis(50))
///     .cap(Duration::from_secs(5))
///     .max_attempts(Some(10));
/// assert_eq!(backoff.ceiling(1), Duration::from_millis(50));
/// assert_eq!(backoff.ceiling(3), Duration::from_millis(200));
/// assert_eq!(backoff.ceiling(30), Duration::from_secs(5));
/// assert!(backoff.delay(3, 0.5) <= Duration::from_millis(200));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    max_attempts: Option<u32>,
}

impl Default for Backoff {
    /// 250 ms base, 30 s cap, and no attempt limit: a long-running backend keeps trying through
    /// any outage (at most one attempt per 30 s once the cap is reached). Set
    /// [`Backoff::max_attempts`] to give up instead.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The ceiling of the first retry's delay.
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The largest delay ever waited.
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Consecutive attempts (the first connection included) before giving up; `None` retries for
    /// ever. Must be at least 1.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts.map(|n| n.max(1));
        self
    }

    /// The configured attempt limit.
    pub fn attempts_limit(&self) -> Option<u32> {
        self.max_attempts
    }

    /// Whether another attempt may follow `attempts` failed ones.
    pub fn may_retry(&self, attempts: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempts < max)
    }

    /// The largest delay before retry `retry` (from 1): `min(cap, base · 2^(retry-1))`, without
    /// overflow for any `retry`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(63);
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        let nanos = (self.base.as_nanos()).saturating_mul(u128::from(factor));
        let capped = nanos.min(self.cap.as_nanos());
        Duration::from_nanos(u64::try_from(capped).unwrap_or(u64::MAX))
    }

    /// The delay before retry `retry` for a uniform random `unit` in `[0, 1)`: full jitter.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// A jittered delay with a fresh random number.
    pub(crate) fn next_delay(&self, retry: u32) -> Duration {
        self.delay(retry, fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff::default()
            .base(Duration::from_millis(100))
            .cap(Duration::from_secs(10))
    }

    #[test]
    fn grows_exponentially_from_the_base() {
        let b = backoff();
        let ceilings: Vec<u128> = (1..=7).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 6400]);
    }

    #[test]
    fn never_exceeds_the_cap() {
        let b = backoff();
        assert_eq!(b.ceiling(8), Duration::from_secs(10));
        assert_eq!(b.ceiling(64), Duration::from_secs(10));
    }

    #[test]
    fn does_not_overflow_at_u32_max() {
        let b = backoff();
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(10));
        let huge = Backoff::default().base(Duration::MAX).cap(Duration::MAX);
        assert_eq!(huge.ceiling(u32::MAX), Duration::from_nanos(u64::MAX));
        assert_eq!(
            b.ceiling(0),
            Duration::from_millis(100),
            "retry 0 is treated as the first"
        );
    }

    #[test]
    fn jittered_samples_stay_in_range() {
        let b = backoff();
        for retry in 1..12 {
            for _ in 0..200 {
                let delay = b.next_delay(retry);
                assert!(
                    delay <= b.ceiling(retry),
                    "{delay:?} > {:?}",
                    b.ceiling(retry)
                );
            }
        }
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(
            b.delay(3, 7.0),
            Duration::from_millis(400),
            "out-of-range units are clamped"
        );
    }

    #[test]
    fn the_attempt_limit_counts_the_first_connection() {
        let b = backoff().max_attempts(Some(3));
        assert!(b.may_retry(1) && b.may_retry(2));
        assert!(!b.may_retry(3));
        assert!(backoff().max_attempts(None).may_retry(u32::MAX));
        assert_eq!(backoff().max_attempts(Some(0)).attempts_limit(), Some(1));
    }
}
