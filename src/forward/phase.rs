//! What the forwarder is doing with the head of its queue, as one enum whose variants own their
//! task or wait, and the one function ([`next`]) that says where an event takes it.

use crate::retry::Wait;
use crate::task::Task;

/// Where the forwarder is.
pub(super) enum Phase {
    /// Nothing in flight, nothing waited for: the next queued notification goes at once.
    Idle,
    /// The head of the queue is being POSTed.
    Posting { _task: Task },
    /// The head's last POST failed: the next after the wait.
    Waiting { _wait: Wait },
}

/// What can happen to the forwarder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// Something may be sent: a notification queued, the forwarder started.
    Queued,
    /// The head's POST got its final answer (delivered, rejected) or the head left the queue
    /// (unreadable, dropped).
    Settled,
    /// The head's POST failed in a way worth another try (or, before it, its body could not be
    /// read back from the spool for now).
    Failed,
    /// The wait is over.
    WaitOver,
    /// A drain asks for the queue now: a target that recovered gets it without the wait.
    Drain,
}

/// Where an event takes the forwarder: the actor builds that phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing changes.
    Stay,
    /// The head is POSTed (idle if the queue is empty).
    Post,
    /// The supervisor's wait (or, at the attempt limit, the head is given up).
    Wait,
}

/// The one transition function: an event that does not belong to the phase changes nothing.
pub(super) fn next(phase: &Phase, event: Event) -> Next {
    match (phase, event) {
        (Phase::Idle, Event::Queued | Event::Drain) => Next::Post,
        (Phase::Posting { .. }, Event::Settled) => Next::Post,
        (Phase::Idle | Phase::Posting { .. }, Event::Failed) => Next::Wait,
        (Phase::Waiting { .. }, Event::WaitOver | Event::Drain) => Next::Post,
        _ => Next::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_and_event_goes_where_the_table_says() {
        let posting = || Phase::Posting {
            _task: Task::idle(),
        };
        let waiting = || Phase::Waiting {
            _wait: Wait::idle(),
        };
        use Event::*;
        let table: Vec<(&str, Phase, Event, Next)> = vec![
            ("queued while idle", Phase::Idle, Queued, Next::Post),
            ("a drain while idle", Phase::Idle, Drain, Next::Post),
            ("no answer to take", Phase::Idle, Settled, Next::Stay),
            (
                "the head's body unreadable for now",
                Phase::Idle,
                Failed,
                Next::Wait,
            ),
            ("no wait to end", Phase::Idle, WaitOver, Next::Stay),
            ("one POST at a time", posting(), Queued, Next::Stay),
            ("the next after an answer", posting(), Settled, Next::Post),
            ("a failure waits", posting(), Failed, Next::Wait),
            ("a drain waits for the answer", posting(), Drain, Next::Stay),
            ("no wait to end", posting(), WaitOver, Next::Stay),
            ("queued during a wait", waiting(), Queued, Next::Stay),
            ("wait over", waiting(), WaitOver, Next::Post),
            ("a drain ends the wait", waiting(), Drain, Next::Post),
            ("a stale answer", waiting(), Settled, Next::Stay),
            ("a stale failure", waiting(), Failed, Next::Stay),
        ];
        for (what, phase, event, expected) in &table {
            assert_eq!(next(phase, *event), *expected, "{what}: {event:?}");
        }
    }
}
