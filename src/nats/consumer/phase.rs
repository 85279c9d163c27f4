//! What the consumer is doing, as one enum whose variants own their task or wait, and the one
//! function ([`next`]) that says where an event takes it.

use crate::retry::Wait;
use crate::task::Task;

/// Where the consumer is.
pub(super) enum Phase {
    /// Connecting and opening the durable consumer.
    Opening { _task: Task },
    /// Reading and delivering.
    Reading { _task: Task },
    /// The last attempt failed: the next after the wait.
    Waiting { _wait: Wait },
    /// The retry policy's attempt limit was reached.
    Stopped,
}

/// What can happen to the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// The durable consumer is open: messages flow.
    Opened,
    /// Opening or reading failed.
    Failed,
    /// The server ended the message stream.
    Ended,
    /// The wait is over.
    WaitOver,
}

/// Where an event takes the consumer: the actor builds that phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing changes.
    Stay,
    /// Reading starts.
    Read,
    /// An attempt starts.
    Open,
    /// The supervisor's wait (or, at the attempt limit, a stop).
    Wait,
}

/// The one transition function: an event that does not belong to the phase (an answer from an
/// attempt since replaced) changes nothing.
pub(super) fn next(phase: &Phase, event: &Event) -> Next {
    match (phase, event) {
        (Phase::Opening { .. }, Event::Opened) => Next::Read,
        (Phase::Opening { .. } | Phase::Reading { .. }, Event::Failed) => Next::Wait,
        (Phase::Reading { .. }, Event::Ended) => Next::Wait,
        (Phase::Waiting { .. }, Event::WaitOver) => Next::Open,
        _ => Next::Stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_and_event_goes_where_the_table_says() {
        let opening = || Phase::Opening {
            _task: Task::idle(),
        };
        let reading = || Phase::Reading {
            _task: Task::idle(),
        };
        let waiting = || Phase::Waiting {
            _wait: Wait::idle(),
        };
        use Event::*;
        let table: Vec<(&str, Phase, Event, Next)> = vec![
            ("opened: reading starts", opening(), Opened, Next::Read),
            ("opening failed", opening(), Failed, Next::Wait),
            ("no stream to end yet", opening(), Ended, Next::Stay),
            ("no wait while opening", opening(), WaitOver, Next::Stay),
            ("reading failed", reading(), Failed, Next::Wait),
            ("the server ended it", reading(), Ended, Next::Wait),
            ("no wait while reading", reading(), WaitOver, Next::Stay),
            ("a stale open", reading(), Opened, Next::Stay),
            ("wait over", waiting(), WaitOver, Next::Open),
            ("a stale failure", waiting(), Failed, Next::Stay),
            ("a stale end", waiting(), Ended, Next::Stay),
            ("a stale open", waiting(), Opened, Next::Stay),
            ("stopped", Phase::Stopped, WaitOver, Next::Stay),
            ("stopped", Phase::Stopped, Failed, Next::Stay),
        ];
        for (what, phase, event, expected) in &table {
            assert_eq!(next(phase, event), *expected, "{what}: {event:?}");
        }
    }
}
