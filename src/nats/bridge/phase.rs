//! What the bridge is doing, as one enum whose variants own what is valid in them, and the one
//! function ([`next`]) that says where an event takes it. The actor
//! ([`JetStreamBridge`](super::JetStreamBridge)) only carries it out: it builds the next phase
//! (spawning its task, asking the supervisor for its wait) and drops the old one, and with it
//! every task of the old one, so no answer from a phase that was left ever reaches it.

use crate::nats::error::NatsError;
use crate::retry::Wait;
use crate::task::Task;

/// Where the bridge is. `L` is what a setup found (the connection, the stream and its tasks);
/// tests of [`next`] use `()`.
pub(super) enum Phase<L> {
    /// Connecting to NATS and finding (or creating) the stream, in `task`; `after` is why the
    /// setup before it failed, if one did (said to a [`Publish`](super::Publish) meanwhile).
    SettingUp {
        _task: Task,
        after: Option<NatsError>,
    },
    /// The last setup failed with `error`: the next one after the wait.
    SetupWait { _wait: Wait, error: NatsError },
    /// Set up: JetStream can store.
    Up { link: L, activity: Activity },
    /// Stopped for good: the stream gone and not to be created again, or the retry policy's
    /// attempt limit reached.
    Stopped,
}

/// What the bridge does while set up.
pub(super) enum Activity {
    /// Sending what is queued, in order, a window at a time.
    Publishing,
    /// A publish failed with `error`: nothing is sent until the wait is over or the stream has
    /// a new leader.
    PublishWait { _wait: Wait, error: NatsError },
    /// Nothing is sent until JetStream answers `question` (asked in `task`).
    Asking { question: Question, _task: Task },
}

/// What the bridge asks JetStream before it sends anything more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Question {
    /// Whether the front message, answered "duplicate of `sequence`", names an earlier
    /// repetition (when that copy was stored).
    Suspect { serial: u64, sequence: u64 },
    /// Whether the stream is there, after a publish nobody answered.
    Stream,
}

/// What JetStream said of the stream after a publish nobody answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StreamCheck {
    /// It is there (without a leader for a moment), or JetStream could not say.
    There,
    /// It is gone: deleted, or nats-server lost its store.
    Gone,
}

/// What can happen to the bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A setup found (or created) the stream.
    SetUp,
    /// A setup failed.
    SetupFailed,
    /// A wait is over.
    WaitOver,
    /// A publish failed (no acknowledgement in time, the connection lost).
    PublishFailed,
    /// A publish had nobody to answer it: the stream gone, or without a leader for a moment.
    NoResponders,
    /// The front message was answered "duplicate" by a copy that may be an earlier repetition.
    Suspect { serial: u64, sequence: u64 },
    /// The suspect duplicate was told apart (its message settled or to be sent again).
    SuspectChecked,
    /// JetStream answered whether the stream is there.
    StreamChecked(StreamCheck),
    /// The stream's replicas elected a leader.
    LeaderElected,
    /// The NATS client's connection came back (it reconnects by itself).
    LinkUp,
}

/// Where an event takes the bridge: the actor builds that phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing changes.
    Stay,
    /// A setup starts.
    SetUp,
    /// The setup failed: the supervisor's wait (or, at the attempt limit, a stop).
    WaitToSetUp,
    /// Publishing (again).
    Publish,
    /// Publishing, and whatever is in flight is taken as lost and sent again from the first
    /// unacknowledged message, under the same ids: the leader it went to may be gone (a
    /// duplicate is acked as one, never stored twice).
    PublishAgain,
    /// A publish failed: the supervisor's wait (or, at the attempt limit, a stop).
    WaitToPublish,
    /// JetStream is asked this, and nothing is sent meanwhile.
    Ask(Question),
    /// The stream is gone: created again (a setup), or the bridge stops, as configured.
    StreamGone,
}

/// The one transition function: where `event` takes the bridge from `phase`. An event that
/// does not belong to the phase (an answer to a question no longer asked, a wait that is no
/// longer waited) changes nothing.
pub(super) fn next<L>(phase: &Phase<L>, event: Event) -> Next {
    use Activity::*;
    use Event::*;
    match (phase, event) {
        (Phase::SettingUp { .. }, SetUp) => Next::Publish,
        (Phase::SettingUp { .. }, SetupFailed) => Next::WaitToSetUp,
        (Phase::SetupWait { .. }, WaitOver) => Next::SetUp,
        (Phase::Up { activity, .. }, event) => match (activity, event) {
            (Publishing | Asking { .. }, PublishFailed) => Next::WaitToPublish,
            // A new leader, or the connection back: what went to the old one may never be
            // answered, and waiting for its acknowledgement's timeout is what the new one need
            // not cost. Resumes within a round trip of the election.
            (Publishing, LeaderElected | LinkUp) => Next::PublishAgain,
            (Publishing | Asking { .. }, NoResponders) => Next::Ask(Question::Stream),
            (Publishing, Suspect { serial, sequence }) => {
                Next::Ask(Question::Suspect { serial, sequence })
            }
            (PublishWait { .. }, WaitOver | LeaderElected | LinkUp) => Next::Publish,
            (
                Asking {
                    question: Question::Suspect { .. },
                    ..
                },
                SuspectChecked,
            ) => Next::Publish,
            (
                Asking {
                    question: Question::Stream,
                    ..
                },
                check,
            ) => match check {
                StreamChecked(StreamCheck::Gone) => Next::StreamGone,
                StreamChecked(StreamCheck::There) => Next::WaitToPublish,
                // A leader elected: the stream is there and stores again.
                LeaderElected => Next::Publish,
                _ => Next::Stay,
            },
            _ => Next::Stay,
        },
        _ => Next::Stay,
    }
}

impl<L> Phase<L> {
    /// Why JetStream cannot store now, if it cannot (`up`: the NATS client's connection).
    pub(super) fn unavailable(&self, up: impl FnOnce(&L) -> bool) -> Option<NatsError> {
        match self {
            Self::SettingUp { after: None, .. } | Self::Stopped => Some(NatsError::NotConnected),
            Self::SettingUp {
                after: Some(error), ..
            }
            | Self::SetupWait { error, .. }
            | Self::Up {
                activity: Activity::PublishWait { error, .. },
                ..
            } => Some(NatsError::Unavailable {
                detail: error.to_string(),
            }),
            Self::Up { link, .. } if !up(link) => Some(NatsError::Unavailable {
                detail: "the connection to NATS is down; the client is reconnecting".to_owned(),
            }),
            Self::Up { .. } => None,
        }
    }

    /// The link, while set up.
    pub(super) fn link_mut(&mut self) -> Option<&mut L> {
        match self {
            Self::Up { link, .. } => Some(link),
            _ => None,
        }
    }

    /// The link, while it may send (set up, publishing).
    pub(super) fn sending(&mut self) -> Option<&mut L> {
        match self {
            Self::Up {
                link,
                activity: Activity::Publishing,
            } => Some(link),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting_up() -> Phase<()> {
        Phase::SettingUp {
            _task: Task::idle(),
            after: None,
        }
    }

    fn setup_wait() -> Phase<()> {
        Phase::SetupWait {
            _wait: Wait::idle(),
            error: NatsError::NotConnected,
        }
    }

    fn up(activity: Activity) -> Phase<()> {
        Phase::Up { link: (), activity }
    }

    fn publishing() -> Phase<()> {
        up(Activity::Publishing)
    }

    fn publish_wait() -> Phase<()> {
        up(Activity::PublishWait {
            _wait: Wait::idle(),
            error: NatsError::NotConnected,
        })
    }

    fn asking(question: Question) -> Phase<()> {
        up(Activity::Asking {
            question,
            _task: Task::idle(),
        })
    }

    const SUSPECT: Question = Question::Suspect {
        serial: 7,
        sequence: 3,
    };

    /// Every phase against every event: where it goes. The rows that once needed a flag or a
    /// generation counter are here too (an answer after the phase that asked was left, a
    /// publish failure while a question is asked, a leader elected during a wait).
    #[test]
    fn every_phase_and_event_goes_where_the_table_says() {
        use Event::*;
        let failed = PublishFailed;
        let suspect = Suspect {
            serial: 7,
            sequence: 3,
        };
        let gone = StreamChecked(StreamCheck::Gone);
        let there = StreamChecked(StreamCheck::There);
        let table: Vec<(&str, Phase<()>, Event, Next)> = vec![
            // Setting up.
            ("setup done", setting_up(), SetUp, Next::Publish),
            ("setup failed", setting_up(), SetupFailed, Next::WaitToSetUp),
            (
                "no wait while setting up",
                setting_up(),
                WaitOver,
                Next::Stay,
            ),
            (
                "no leader news to act on",
                setting_up(),
                LeaderElected,
                Next::Stay,
            ),
            (
                "the setup follows its own link",
                setting_up(),
                LinkUp,
                Next::Stay,
            ),
            // A check answered after the stream was set up again: from a phase left.
            ("stale stream check", setting_up(), gone, Next::Stay),
            (
                "stale suspect check",
                setting_up(),
                SuspectChecked,
                Next::Stay,
            ),
            ("stale publish failure", setting_up(), failed, Next::Stay),
            // Waiting to set up.
            ("wait over", setup_wait(), WaitOver, Next::SetUp),
            ("stale setup answer", setup_wait(), SetUp, Next::Stay),
            ("stale stream gone", setup_wait(), gone, Next::Stay),
            ("stale publish failure", setup_wait(), failed, Next::Stay),
            // Publishing.
            ("publish failed", publishing(), failed, Next::WaitToPublish),
            (
                "nobody answered",
                publishing(),
                NoResponders,
                Next::Ask(Question::Stream),
            ),
            (
                "a suspect duplicate",
                publishing(),
                suspect,
                Next::Ask(SUSPECT),
            ),
            (
                "a new leader: what is in flight again",
                publishing(),
                LeaderElected,
                Next::PublishAgain,
            ),
            (
                "the connection back: what is in flight again",
                publishing(),
                LinkUp,
                Next::PublishAgain,
            ),
            ("no wait to end", publishing(), WaitOver, Next::Stay),
            ("stale stream check", publishing(), gone, Next::Stay),
            (
                "stale suspect check",
                publishing(),
                SuspectChecked,
                Next::Stay,
            ),
            // Waiting to publish again.
            ("wait over", publish_wait(), WaitOver, Next::Publish),
            (
                "a new leader ends the wait",
                publish_wait(),
                LeaderElected,
                Next::Publish,
            ),
            (
                "the connection back ends it",
                publish_wait(),
                LinkUp,
                Next::Publish,
            ),
            (
                "no suspect while waiting",
                publish_wait(),
                suspect,
                Next::Stay,
            ),
            ("stale stream check", publish_wait(), gone, Next::Stay),
            ("stale setup answer", publish_wait(), SetUp, Next::Stay),
            // Asking whether a duplicate is an earlier repetition.
            ("told apart", asking(SUSPECT), SuspectChecked, Next::Publish),
            (
                "a publish failed meanwhile",
                asking(SUSPECT),
                failed,
                Next::WaitToPublish,
            ),
            (
                "nobody answered meanwhile",
                asking(SUSPECT),
                NoResponders,
                Next::Ask(Question::Stream),
            ),
            ("one check at a time", asking(SUSPECT), suspect, Next::Stay),
            ("not the question asked", asking(SUSPECT), gone, Next::Stay),
            (
                "a leader while checking",
                asking(SUSPECT),
                LeaderElected,
                Next::Stay,
            ),
            (
                "the link while checking",
                asking(SUSPECT),
                LinkUp,
                Next::Stay,
            ),
            // Asking whether the stream is there.
            ("gone", asking(Question::Stream), gone, Next::StreamGone),
            (
                "there",
                asking(Question::Stream),
                there,
                Next::WaitToPublish,
            ),
            (
                "a leader answers it",
                asking(Question::Stream),
                LeaderElected,
                Next::Publish,
            ),
            (
                "not the question asked",
                asking(Question::Stream),
                SuspectChecked,
                Next::Stay,
            ),
            (
                "the answer will come",
                asking(Question::Stream),
                LinkUp,
                Next::Stay,
            ),
            // Stopped: nothing moves it.
            ("stopped", Phase::Stopped, SetUp, Next::Stay),
            ("stopped", Phase::Stopped, WaitOver, Next::Stay),
            ("stopped", Phase::Stopped, LeaderElected, Next::Stay),
        ];
        for (what, phase, event, expected) in &table {
            assert_eq!(next(phase, *event), *expected, "{what}: {event:?}");
        }
    }

    #[test]
    fn what_a_publish_is_told_follows_the_phase() {
        let connecting = setting_up().unavailable(|_| true);
        assert_eq!(connecting, Some(NatsError::NotConnected));
        let retried = Phase::<()>::SettingUp {
            _task: Task::idle(),
            after: Some(NatsError::NotConnected),
        };
        assert!(matches!(
            retried.unavailable(|_| true),
            Some(NatsError::Unavailable { .. })
        ));
        assert!(matches!(
            publish_wait().unavailable(|_| true),
            Some(NatsError::Unavailable { .. })
        ));
        assert!(matches!(
            publishing().unavailable(|_| false),
            Some(NatsError::Unavailable { .. })
        ));
        assert_eq!(publishing().unavailable(|_| true), None);
        assert_eq!(asking(SUSPECT).unavailable(|_| true), None);
    }
}
