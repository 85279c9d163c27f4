//! What the view is doing with the REST API, as one enum whose variants own their fetch or wait,
//! and the one function ([`next`]) that says where an event takes it.

use super::Fetch;
use crate::retry::Wait;

/// Where the view's REST side is.
pub(super) enum Phase {
    /// No fetch running, none waited for.
    Idle,
    /// A fetch is running (its task, and the notifications of its scope since it started).
    Fetching(Fetch),
    /// The last fetch failed: the next after the wait.
    Waiting { _wait: Wait },
}

/// What can happen to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A fetch is wanted (a room to complete, a resync asked for, a periodic one).
    Wanted,
    /// The running fetch answered; the view reconciled it.
    Answered,
    /// The running fetch failed.
    Failed,
    /// The wait is over.
    WaitOver,
    /// The notifier is connected (again): what a running fetch buffered misses the gap, and a
    /// fetch waiting out a failure goes now.
    FeedUp,
    /// The notifier lost the server: a fetch now would be stale at once.
    FeedDown,
    /// The view's stream fell behind the notifier: what a running fetch buffered misses that.
    Lagged,
}

/// Where an event takes the view: the actor builds that phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing changes.
    Stay,
    /// The next wanted fetch starts, if the feed allows one (else idle).
    Fetch,
    /// The running fetch is dropped (its answer will not come), and the next wanted one starts,
    /// if the feed allows.
    Refetch,
    /// The running fetch is dropped: idle.
    Drop,
    /// The supervisor's wait.
    Wait,
}

/// The one transition function: an event that does not belong to the phase changes nothing.
pub(super) fn next(phase: &Phase, event: Event) -> Next {
    use Event::*;
    match (phase, event) {
        (Phase::Idle, Wanted | FeedUp | Lagged) => Next::Fetch,
        (Phase::Fetching(_), Answered) => Next::Fetch,
        (Phase::Fetching(_), Failed) => Next::Wait,
        (Phase::Fetching(_), FeedUp | Lagged) => Next::Refetch,
        (Phase::Fetching(_), FeedDown) => Next::Drop,
        (Phase::Waiting { .. }, WaitOver | FeedUp) => Next::Fetch,
        _ => Next::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms_view::{SyncReason, SyncScope};
    use crate::task::Task;

    fn fetching() -> Phase {
        Phase::Fetching(Fetch {
            _task: Task::idle(),
            scope: SyncScope::All,
            reason: SyncReason::Start,
            asked: std::time::Instant::now(),
            buffer: Vec::new(),
            overflowed: false,
        })
    }

    fn waiting() -> Phase {
        Phase::Waiting {
            _wait: Wait::idle(),
        }
    }

    #[test]
    fn every_phase_and_event_goes_where_the_table_says() {
        use Event::*;
        let table: Vec<(&str, Phase, Event, Next)> = vec![
            ("wanted while idle", Phase::Idle, Wanted, Next::Fetch),
            ("the feed back while idle", Phase::Idle, FeedUp, Next::Fetch),
            ("fell behind while idle", Phase::Idle, Lagged, Next::Fetch),
            (
                "the feed down while idle",
                Phase::Idle,
                FeedDown,
                Next::Stay,
            ),
            ("a stale answer", Phase::Idle, Answered, Next::Stay),
            ("a stale failure", Phase::Idle, Failed, Next::Stay),
            ("no wait to end", Phase::Idle, WaitOver, Next::Stay),
            ("one fetch at a time", fetching(), Wanted, Next::Stay),
            (
                "the next after an answer",
                fetching(),
                Answered,
                Next::Fetch,
            ),
            ("a failure waits", fetching(), Failed, Next::Wait),
            ("a gap: fetched again", fetching(), FeedUp, Next::Refetch),
            (
                "fell behind: fetched again",
                fetching(),
                Lagged,
                Next::Refetch,
            ),
            ("the feed down: dropped", fetching(), FeedDown, Next::Drop),
            ("no wait to end", fetching(), WaitOver, Next::Stay),
            ("wanted during a wait", waiting(), Wanted, Next::Stay),
            ("wait over", waiting(), WaitOver, Next::Fetch),
            (
                "the server back ends the wait",
                waiting(),
                FeedUp,
                Next::Fetch,
            ),
            (
                "the feed down during a wait",
                waiting(),
                FeedDown,
                Next::Stay,
            ),
            ("fell behind during a wait", waiting(), Lagged, Next::Stay),
            ("a stale answer", waiting(), Answered, Next::Stay),
            ("a stale failure", waiting(), Failed, Next::Stay),
        ];
        for (what, phase, event, expected) in &table {
            assert_eq!(next(phase, *event), *expected, "{what}: {event:?}");
        }
    }
}
