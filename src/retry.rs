//! One way to retry, for every component: the notifier's reconnects, the forwarder's POSTs, the
//! NATS bridge's publishes, the NATS consumer's reconnects and the rooms view's REST fetches.
//!
//! [`RetryPolicy`] is a value: a pure function ([`RetryPolicy::decide`]) from the attempt history
//! to the next step, table-tested below. Each component keeps one supervisor (the consecutive
//! failures, the reset rule, the attempt limit) and drives it the same small way: on a failure,
//! the supervisor answers a wait (which the component's phase holds: leaving the phase cancels
//! it) or, at the attempt limit, give up; on a success, it starts the count over (a request at
//! once, a connection once [`RetryPolicy::resets`] says it lasted long enough).
//!
//! | what | rule |
//! |---|---|
//! | delay before retry `n` (from 1) | a random time in `[0, min(cap, base · 2^(n-1))]` (full jitter) |
//! | `Retry-After` from the other side | waited as asked, kept within `[50 ms, cap]` |
//! | the count starts over | a request: on its success; a connection: once it stayed up for `reset_after` |
//! | giving up | after `max_attempts` consecutive failures; by default never (the rooms view never gives up) |
//!
//! **The defaults** (base 250 ms, cap 4 s, `reset_after` 2 s, no limit), and why. Fishjam replays
//! nothing, so every second offline is lost for good: after any outage the server must find the
//! client back within seconds. The cap bounds that wait: once the server is back, the next
//! attempt comes within 4 s (2 s on average), however long the outage was. The reset makes a
//! short blip cost a short wait whatever happened before it: a connection that stayed up 2 s
//! starts the count over, so the first retries after the next drop come within 250 ms, 500 ms,
//! 1 s. A crash-looping server (one that accepts, gets ready and drops at once) never resets the
//! count, so its attempts spread out to one per 2 s on average, about 5 in 10 s. async-nats and
//! LiveKit's SDKs cap at a few seconds too. A component that keeps its own rhythm says so (the
//! forwarder: 500 ms up to 30 s, since a webhook target that is down is rarely back in seconds).
//!
//! ```
//! use std::time::Duration;
//! use jellyfish_notifier::retry::{Decision, RetryPolicy};
//!
//! let policy = RetryPolicy::default()
//!     .base(Duration::from_millis(100))
//!     .cap(Duration::from_secs(2))
//!     .max_attempts(Some(5));
//! // The third failure in a row: at most 100 ms · 2² = 400 ms.
//! assert_eq!(
//!     policy.decide(3, None, 1.0),
//!     Decision::Retry { attempt: 3, delay: Duration::from_millis(400) }
//! );
//! // A server that asked for 1 s gets 1 s.
//! assert_eq!(
//!     policy.decide(1, Some(Duration::from_secs(1)), 0.3),
//!     Decision::Retry { attempt: 1, delay: Duration::from_secs(1) }
//! );
//! assert_eq!(policy.decide(5, None, 0.5), Decision::GiveUp { attempts: 5 });
//! ```

use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::task::Task;

/// The shortest `Retry-After` honoured: a target that asks for 0 s is not stormed.
const RETRY_AFTER_FLOOR: Duration = Duration::from_millis(50);

/// How a component retries: exponential backoff with full jitter, an optional attempt limit, and
/// when the count starts over. The module docs have the whole rule as a table.
///
/// ```
/// use std::time::Duration;
/// use jellyfish_notifier::retry::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .base(Duration::from_millis(50))
///     .cap(Duration::from_secs(5))
///     .max_attempts(Some(10));
/// assert_eq!(policy.ceiling(1), Duration::from_millis(50));
/// assert_eq!(policy.ceiling(3), Duration::from_millis(200));
/// assert_eq!(policy.ceiling(30), Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    base: Duration,
    cap: Duration,
    max_attempts: Option<u32>,
    reset_after: Duration,
}

impl Default for RetryPolicy {
    /// 250 ms base, 4 s cap, no attempt limit, and a connection resets the count once it stayed
    /// up 2 s. The module docs say why.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(4),
            max_attempts: None,
            reset_after: Duration::from_secs(2),
        }
    }
}

/// What to do after a failure: [`RetryPolicy::decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Try again after `delay`; this was failure number `attempt` in a row.
    Retry {
        /// Consecutive failures so far, this one included (1 for the first).
        attempt: u32,
        /// How long to wait.
        delay: Duration,
    },
    /// The attempt limit is reached: stop.
    GiveUp {
        /// Consecutive failures made.
        attempts: u32,
    },
}

impl RetryPolicy {
    /// The ceiling of the first retry's delay.
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The largest delay ever waited (a `Retry-After` included).
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Consecutive failures before giving up; `None` retries for ever. At least 1.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts.map(|n| n.max(1));
        self
    }

    /// How long a connection must stay up before the count starts over. Requests (a POST, a
    /// publish, a fetch) start over on every success whatever this says.
    pub fn reset_after(mut self, period: Duration) -> Self {
        self.reset_after = period;
        self
    }

    /// The configured attempt limit.
    pub fn attempts_limit(&self) -> Option<u32> {
        self.max_attempts
    }

    /// How long a connection must stay up before the count starts over.
    pub fn reset_period(&self) -> Duration {
        self.reset_after
    }

    /// The largest delay before retry `retry` (from 1): `min(cap, base · 2^(retry-1))`, without
    /// overflow for any `retry`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(63);
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        let nanos = self.base.as_nanos().saturating_mul(u128::from(factor));
        let capped = nanos.min(self.cap.as_nanos());
        Duration::from_nanos(u64::try_from(capped).unwrap_or(u64::MAX))
    }

    /// The next step after `failures` consecutive failures (this one included), given the other
    /// side's `Retry-After` if it sent one, for a uniform random `unit` in `[0, 1)` (out-of-range
    /// values are clamped). Pure: the same inputs give the same answer.
    pub fn decide(&self, failures: u32, retry_after: Option<Duration>, unit: f64) -> Decision {
        let failures = failures.max(1);
        if self.max_attempts.is_some_and(|max| failures >= max) {
            return Decision::GiveUp { attempts: failures };
        }
        let delay = match retry_after {
            Some(asked) => asked.clamp(RETRY_AFTER_FLOOR, self.cap.max(RETRY_AFTER_FLOOR)),
            None => self.ceiling(failures).mul_f64(unit.clamp(0.0, 1.0)),
        };
        Decision::Retry {
            attempt: failures,
            delay,
        }
    }

    /// Whether a connection that stayed up for `lasted` starts the count over.
    pub fn resets(&self, lasted: Duration) -> bool {
        lasted >= self.reset_after
    }
}

/// The one retry supervisor every component drives the same way: it keeps the consecutive
/// failures and applies the reset rule and the attempt limit; the component's phase holds the
/// [`Wait`] it hands out, so leaving that phase (a shutdown, a server found back) cancels the
/// retry.
///
/// - a failure: [`Supervisor::failed`] answers a [`Wait`] (after which
///   [`Retries::retry_now`] runs) or, at the policy's attempt limit, [`GaveUp`];
/// - a request that succeeded (a POST, a publish, a fetch): [`Supervisor::succeeded`], the count
///   starts over now;
/// - a connection that came up: [`Supervisor::connected`], the count starts over if it stays up
///   for the policy's `reset_after` (judged when it ends: a server that accepts and drops at once
///   never resets it).
#[derive(Debug)]
pub(crate) struct Supervisor {
    policy: RetryPolicy,
    failures: u32,
    /// When the connection came up, while it is up.
    up_since: Option<Instant>,
}

/// A retry waiting for its time: dropping it cancels the retry.
#[derive(Debug)]
pub(crate) struct Wait {
    /// Consecutive failures so far, this one included.
    pub(crate) attempt: u32,
    /// How long it waits.
    pub(crate) delay: Duration,
    _timer: Task,
}

/// The policy's attempt limit was reached: the component stops trying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GaveUp {
    /// Consecutive failures made.
    pub(crate) attempts: u32,
}

/// A component that retries: what a retry does once its [`Wait`] is over.
pub(crate) trait Retries: Actor<Context = Context<Self>> {
    /// Runs when the wait is over.
    fn retry_now(&mut self, ctx: &mut Context<Self>);
}

impl Supervisor {
    /// A supervisor with no failure yet.
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            up_since: None,
        }
    }

    /// Consecutive failures so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// A request succeeded: the count starts over.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.up_since = None;
    }

    /// A connection came up at `now`: the count starts over if it stays up for `reset_after`.
    pub(crate) fn connected(&mut self, now: Instant) {
        self.up_since.get_or_insert(now);
    }

    /// Counts a failure at `now` and answers what the policy says, for a uniform random `unit`
    /// in `[0, 1)`: the reset rule first (a connection that lasted), then the count and the
    /// limit. Pure but for the count it keeps.
    pub(crate) fn decide(
        &mut self,
        retry_after: Option<Duration>,
        now: Instant,
        unit: f64,
    ) -> Decision {
        if let Some(since) = self.up_since.take()
            && self.policy.resets(now.saturating_duration_since(since))
        {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.policy.decide(self.failures, retry_after, unit)
    }

    /// A supervisor of a component that never gives up (a view that must heal): the policy's
    /// attempt limit is not applied, and [`Supervisor::retry`] always waits.
    pub(crate) fn endless(policy: RetryPolicy) -> Self {
        Self::new(policy.max_attempts(None))
    }

    /// Counts a failure of an [`endless`](Supervisor::endless) supervisor and starts the wait
    /// after which `actor.retry_now` runs.
    pub(crate) fn retry<A: Retries>(
        &mut self,
        retry_after: Option<Duration>,
        ctx: &mut Context<A>,
    ) -> Wait {
        let (attempt, delay) = match self.decide(retry_after, Instant::now(), fastrand::f64()) {
            Decision::Retry { attempt, delay } => (attempt, delay),
            // Not with an endless supervisor's policy; the longest wait if it ever were.
            Decision::GiveUp { attempts } => (attempts, self.policy.cap),
        };
        Wait {
            attempt,
            delay,
            _timer: Task::after(ctx, delay, A::retry_now),
        }
    }

    /// Counts a failure and, unless the policy gives up, starts the wait after which
    /// `actor.retry_now` runs (unless the [`Wait`] was dropped first).
    pub(crate) fn failed<A: Retries>(
        &mut self,
        retry_after: Option<Duration>,
        ctx: &mut Context<A>,
    ) -> Result<Wait, GaveUp> {
        match self.decide(retry_after, Instant::now(), fastrand::f64()) {
            Decision::Retry { attempt, delay } => Ok(Wait {
                attempt,
                delay,
                _timer: Task::after(ctx, delay, A::retry_now),
            }),
            Decision::GiveUp { attempts } => Err(GaveUp { attempts }),
        }
    }
}

impl Wait {
    /// A wait that never ends, for a test of a phase's transitions (nothing runs there).
    #[cfg(test)]
    pub(crate) fn idle() -> Self {
        Self {
            attempt: 1,
            delay: Duration::ZERO,
            _timer: Task::idle(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .base(Duration::from_millis(100))
            .cap(Duration::from_secs(10))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// One row of the table: failures, Retry-After, unit, limit, and the decision.
    type Row = (u32, Option<Duration>, f64, Option<u32>, Decision);

    /// The whole rule in one table.
    #[test]
    fn decisions_follow_the_table() {
        let retry = |attempt, delay| Decision::Retry { attempt, delay };
        let table: &[Row] = &[
            // Exponential growth of the ceiling, full jitter below it.
            (1, None, 1.0, None, retry(1, ms(100))),
            (2, None, 1.0, None, retry(2, ms(200))),
            (3, None, 1.0, None, retry(3, ms(400))),
            (7, None, 1.0, None, retry(7, ms(6400))),
            (3, None, 0.5, None, retry(3, ms(200))),
            (3, None, 0.0, None, retry(3, Duration::ZERO)),
            // The cap, and no overflow however long it went on.
            (8, None, 1.0, None, retry(8, Duration::from_secs(10))),
            (
                u32::MAX,
                None,
                1.0,
                None,
                retry(u32::MAX, Duration::from_secs(10)),
            ),
            // Out-of-range units are clamped; failure 0 counts as the first.
            (3, None, 7.0, None, retry(3, ms(400))),
            (3, None, -1.0, None, retry(3, Duration::ZERO)),
            (0, None, 1.0, None, retry(1, ms(100))),
            // Retry-After is honoured within [50 ms, cap], whatever the count.
            (1, Some(ms(1500)), 0.0, None, retry(1, ms(1500))),
            (9, Some(ms(1500)), 1.0, None, retry(9, ms(1500))),
            (1, Some(Duration::ZERO), 1.0, None, retry(1, ms(50))),
            (
                1,
                Some(Duration::from_secs(3600)),
                1.0,
                None,
                retry(1, Duration::from_secs(10)),
            ),
            // The limit counts consecutive failures, the first included.
            (2, None, 1.0, Some(3), retry(2, ms(200))),
            (3, None, 1.0, Some(3), Decision::GiveUp { attempts: 3 }),
            (1, None, 1.0, Some(1), Decision::GiveUp { attempts: 1 }),
            (
                1,
                Some(ms(100)),
                1.0,
                Some(1),
                Decision::GiveUp { attempts: 1 },
            ),
        ];
        for &(failures, retry_after, unit, limit, expected) in table {
            let decided = policy()
                .max_attempts(limit)
                .decide(failures, retry_after, unit);
            assert_eq!(
                decided, expected,
                "failures {failures}, Retry-After {retry_after:?}, unit {unit}, limit {limit:?}"
            );
        }
    }

    #[test]
    fn jittered_samples_stay_in_range() {
        let p = policy();
        let mut supervisor = Supervisor::new(p);
        for n in 1..12 {
            match supervisor.decide(None, Instant::now(), fastrand::f64()) {
                Decision::Retry { attempt, delay } => {
                    assert_eq!(attempt, n);
                    assert!(delay <= p.ceiling(n), "{delay:?} > {:?}", p.ceiling(n));
                }
                other => panic!("gave up: {other:?}"),
            }
        }
    }

    #[test]
    fn huge_settings_do_not_overflow() {
        let huge = RetryPolicy::default()
            .base(Duration::MAX)
            .cap(Duration::MAX);
        assert_eq!(huge.ceiling(u32::MAX), Duration::from_nanos(u64::MAX));
        assert_eq!(policy().max_attempts(Some(0)).attempts_limit(), Some(1));
    }

    /// (how long the connection lasted, reset_after, whether the count starts over).
    #[test]
    fn a_connection_resets_the_count_only_once_it_lasted() {
        let table: &[(u64, u64, bool)] = &[
            (29_999, 30_000, false),
            (30_000, 30_000, true),
            (0, 0, true),
            (60_000, 30_000, true),
        ];
        for &(lasted, reset_after, resets) in table {
            let policy = policy().reset_after(ms(reset_after));
            assert_eq!(policy.resets(ms(lasted)), resets, "{lasted} {reset_after}");
        }
        let mut supervisor = Supervisor::new(policy());
        for _ in 0..4 {
            supervisor.decide(None, Instant::now(), 0.5);
        }
        assert_eq!(supervisor.failures(), 4);
        supervisor.succeeded();
        assert_eq!(supervisor.failures(), 0, "a success starts the count over");
    }

    /// The reset rule and the limit, as the supervisor applies them: (what happened, failures
    /// counted after it, and the decision of a failure).
    #[test]
    fn the_supervisor_resets_on_success_or_a_connection_that_lasted_and_gives_up_at_the_limit() {
        let policy = policy()
            .reset_after(Duration::from_secs(2))
            .max_attempts(Some(3));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut supervisor = Supervisor::new(policy);
        assert!(matches!(
            supervisor.decide(None, at(0), 1.0),
            Decision::Retry { attempt: 1, .. }
        ));
        assert!(matches!(
            supervisor.decide(None, at(1), 1.0),
            Decision::Retry { attempt: 2, .. }
        ));
        // A connection that stayed up 1 s does not start the count over.
        supervisor.connected(at(1));
        assert_eq!(
            supervisor.decide(None, at(2), 1.0),
            Decision::GiveUp { attempts: 3 }
        );
        // One that stayed up 2 s does.
        supervisor.connected(at(10));
        assert!(matches!(
            supervisor.decide(None, at(12), 1.0),
            Decision::Retry { attempt: 1, .. }
        ));
        // Its end was judged once: the next failure counts on.
        assert!(matches!(
            supervisor.decide(None, at(30), 1.0),
            Decision::Retry { attempt: 2, .. }
        ));
        // A request's success starts over at once.
        supervisor.succeeded();
        assert_eq!(supervisor.failures(), 0);
        assert!(matches!(
            supervisor.decide(None, at(31), 1.0),
            Decision::Retry { attempt: 1, .. }
        ));
    }
}
