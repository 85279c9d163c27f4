//! The one function ([`next`]) that says where an event takes the notifier's [`Phase`]. The
//! actor carries it out; the phase's variants own what runs for them (the opening task, the
//! reader, the wait), so leaving one cancels it.

use super::Phase;

/// What can happen to the notifier's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// The WebSocket opened.
    Opened,
    /// The attempt or the connection failed in a way worth another try.
    Lost,
    /// It failed in a way no retry can fix (a wrong token, a rejected upgrade, …).
    Fatal,
    /// The wait is over.
    WaitOver,
    /// [`Shutdown`](crate::Shutdown) asked.
    Shutdown,
}

/// Where an event takes the notifier: the actor builds that phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing changes.
    Stay,
    /// Authenticating and subscribing on the connection just opened.
    Open,
    /// The next attempt starts.
    Connect,
    /// The supervisor's wait (or, at the attempt limit, a final failure).
    Wait,
    /// Stopped trying for good.
    Fail,
    /// Close 1000 is sent on the open connection, and its reply awaited.
    Close,
    /// Stopped: nothing to close (or the close finished).
    Stop,
}

/// The one transition function. An event that does not belong to the phase (an answer from an
/// attempt since left) changes nothing; during a shutdown, the connection's end finishes it.
pub(super) fn next(phase: &Phase, event: Event) -> Next {
    use Event::*;
    match (phase, event) {
        (Phase::Opening { .. }, Opened) => Next::Open,
        (Phase::Opening { .. } | Phase::Open(_), Lost) => Next::Wait,
        (Phase::Opening { .. } | Phase::Open(_), Fatal) => Next::Fail,
        (Phase::Waiting { .. }, WaitOver) => Next::Connect,
        (Phase::Open(_), Shutdown) => Next::Close,
        (
            Phase::Opening { .. } | Phase::Waiting { .. } | Phase::Failed(_) | Phase::Stopped,
            Shutdown,
        ) => Next::Stop,
        (Phase::Closing { .. }, Lost | Fatal) => Next::Stop,
        _ => Next::Stay,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::{Connection, Handshake, NotifierError, Reassembly};
    use super::*;
    use crate::retry::Wait;
    use crate::task::Task;

    fn opening() -> Phase {
        Phase::Opening {
            _task: Task::idle(),
        }
    }

    fn open() -> Phase {
        let now = Instant::now();
        Phase::Open(Connection {
            writer: tokio::sync::mpsc::unbounded_channel().0,
            reader: actix::SpawnHandle::default(),
            last_byte: now,
            last_received: now,
            last_ping: now,
            handshake: Handshake::start(now, Duration::from_secs(5), Duration::from_secs(5)),
            reassembly: Reassembly::new(1 << 20),
        })
    }

    fn waiting() -> Phase {
        Phase::Waiting {
            _wait: Wait::idle(),
        }
    }

    fn closing() -> Phase {
        Phase::Closing {
            connection: None,
            replied: None,
        }
    }

    #[test]
    fn every_phase_and_event_goes_where_the_table_says() {
        use Event::*;
        let failed = || Phase::Failed(NotifierError::InvalidToken);
        let table: Vec<(&str, Phase, Event, Next)> = vec![
            ("opened", opening(), Opened, Next::Open),
            ("the attempt failed", opening(), Lost, Next::Wait),
            ("a final failure", opening(), Fatal, Next::Fail),
            ("no wait to end", opening(), WaitOver, Next::Stay),
            (
                "a shutdown cancels the attempt",
                opening(),
                Shutdown,
                Next::Stop,
            ),
            ("the connection lost", open(), Lost, Next::Wait),
            ("a final close", open(), Fatal, Next::Fail),
            ("a shutdown closes it", open(), Shutdown, Next::Close),
            ("a stale open", open(), Opened, Next::Stay),
            ("no wait to end", open(), WaitOver, Next::Stay),
            ("wait over", waiting(), WaitOver, Next::Connect),
            (
                "a shutdown during a backoff",
                waiting(),
                Shutdown,
                Next::Stop,
            ),
            ("a stale loss", waiting(), Lost, Next::Stay),
            ("a stale failure", waiting(), Fatal, Next::Stay),
            ("a stale open", waiting(), Opened, Next::Stay),
            ("closing: the end finishes it", closing(), Lost, Next::Stop),
            ("closing: a final close too", closing(), Fatal, Next::Stop),
            ("closing: once", closing(), Shutdown, Next::Stay),
            ("closing: no reconnect", closing(), WaitOver, Next::Stay),
            ("failed: final", failed(), WaitOver, Next::Stay),
            ("failed: final", failed(), Lost, Next::Stay),
            ("failed: nothing to close", failed(), Shutdown, Next::Stop),
            ("stopped", Phase::Stopped, Opened, Next::Stay),
            ("stopped", Phase::Stopped, Shutdown, Next::Stop),
        ];
        for (what, phase, event, expected) in &table {
            assert_eq!(next(phase, *event), *expected, "{what}: {event:?}");
        }
    }
}
