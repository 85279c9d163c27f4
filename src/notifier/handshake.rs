//! The handshake as a state machine with no I/O: authenticate, subscribe to what subscribers need,
//! be ready. The actor feeds it what arrives and the time; it answers what to send and whether the
//! connection just became ready or ran out of time. Deadlines live here, so no timer of an old
//! connection can fire into a new one.

use std::time::{Duration, Instant};

use super::DisconnectReason;
use crate::control::{ControlMessage, EventType};

/// Which event types are wanted, asked for, or confirmed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Types {
    pub(crate) notifications: bool,
    pub(crate) metrics: bool,
}

impl Types {
    const ORDER: [EventType; 2] = [EventType::ServerNotification, EventType::Metrics];

    fn get(self, event: EventType) -> bool {
        match event {
            EventType::ServerNotification => self.notifications,
            EventType::Metrics => self.metrics,
            _ => false,
        }
    }

    /// Records `event`; a type this client never asks for (unspecified, unknown) is ignored.
    fn set(&mut self, event: EventType) {
        match event {
            EventType::ServerNotification => self.notifications = true,
            EventType::Metrics => self.metrics = true,
            _ => {}
        }
    }

    /// Whether every type wanted in `needed` is in `self`.
    fn covers(self, needed: Types) -> bool {
        (!needed.notifications || self.notifications) && (!needed.metrics || self.metrics)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// `auth_request` sent; waiting for `authenticated` until the deadline.
    Authenticating { deadline: Instant },
    /// Authenticated; some `subscribe_request` is unanswered (deadline set) or none is.
    Authenticated { deadline: Option<Instant> },
}

/// What the actor must do after feeding the handshake something.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Step {
    /// Control messages to send, in order.
    pub(crate) send: Vec<ControlMessage>,
    /// The connection became ready just now (authenticated, every needed type confirmed); true at
    /// most once per connection.
    pub(crate) ready: bool,
}

/// One connection's handshake.
#[derive(Clone, Debug)]
pub(crate) struct Handshake {
    stage: Stage,
    requested: Types,
    confirmed: Types,
    was_ready: bool,
    auth_timeout: Duration,
    subscribe_timeout: Duration,
}

impl Handshake {
    /// A new connection: the caller sends `auth_request` now.
    pub(crate) fn start(now: Instant, auth_timeout: Duration, subscribe_timeout: Duration) -> Self {
        Self {
            stage: Stage::Authenticating {
                deadline: now + auth_timeout,
            },
            requested: Types::default(),
            confirmed: Types::default(),
            was_ready: false,
            auth_timeout,
            subscribe_timeout,
        }
    }

    /// Authenticated with every type in `needed` confirmed.
    pub(crate) fn is_ready(&self, needed: Types) -> bool {
        matches!(self.stage, Stage::Authenticated { .. }) && self.confirmed.covers(needed)
    }

    /// Whether this connection was ever ready.
    pub(crate) fn was_ready(&self) -> bool {
        self.was_ready
    }

    /// Whether `event` was asked for and not confirmed yet.
    pub(crate) fn awaiting(&self, event: EventType) -> bool {
        self.requested.get(event) && !self.confirmed.get(event)
    }

    /// The server said `authenticated`.
    pub(crate) fn on_authenticated(&mut self, now: Instant, needed: Types) -> Step {
        if matches!(self.stage, Stage::Authenticating { .. }) {
            self.stage = Stage::Authenticated { deadline: None };
        }
        self.advance(now, needed)
    }

    /// The server confirmed a subscription.
    pub(crate) fn on_confirmed(&mut self, event: EventType, now: Instant, needed: Types) -> Step {
        self.confirmed.set(event);
        self.advance(now, needed)
    }

    /// The set of wanted types changed (a subscriber of a new type arrived).
    pub(crate) fn on_wanted(&mut self, now: Instant, needed: Types) -> Step {
        self.advance(now, needed)
    }

    /// The deadline that has passed at `now`, if one has.
    pub(crate) fn expired(&self, now: Instant) -> Option<DisconnectReason> {
        match self.stage {
            Stage::Authenticating { deadline } if now >= deadline => {
                Some(DisconnectReason::AuthTimeout(self.auth_timeout))
            }
            Stage::Authenticated {
                deadline: Some(deadline),
            } if now >= deadline => {
                Some(DisconnectReason::SubscribeTimeout(self.subscribe_timeout))
            }
            _ => None,
        }
    }

    /// Once authenticated: asks for every needed type not yet asked for, keeps a deadline while any
    /// asked type is unconfirmed, and reports readiness the first time it is reached.
    fn advance(&mut self, now: Instant, needed: Types) -> Step {
        let mut step = Step::default();
        let Stage::Authenticated { deadline } = &mut self.stage else {
            return step;
        };
        for event in Types::ORDER {
            if needed.get(event) && !self.requested.get(event) {
                step.send.push(ControlMessage::SubscribeRequest(event));
                self.requested.set(event);
            }
        }
        // Only what is still needed must be confirmed in time: a type whose last subscriber left
        // while its request was unanswered no longer holds the connection up.
        if self.confirmed.covers(needed) {
            *deadline = None;
        } else if !step.send.is_empty() || deadline.is_none() {
            *deadline = Some(now + self.subscribe_timeout);
        }
        if !self.was_ready && self.confirmed.covers(needed) {
            self.was_ready = true;
            step.ready = true;
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: Duration = Duration::from_secs(5);
    const SUBSCRIBE: Duration = Duration::from_secs(3);
    const NOTIFICATIONS: Types = Types {
        notifications: true,
        metrics: false,
    };
    const BOTH: Types = Types {
        notifications: true,
        metrics: true,
    };
    const NOTHING: Types = Types {
        notifications: false,
        metrics: false,
    };

    #[derive(Clone, Copy, Debug)]
    enum Input {
        Authenticated,
        Confirmed(EventType),
        Wanted,
    }

    fn sub(event: EventType) -> ControlMessage {
        ControlMessage::SubscribeRequest(event)
    }

    /// Each row: what is needed, the inputs in order (each at `t0 + its offset in seconds`), and
    /// for each input the messages sent and whether it made the connection ready; then whether a
    /// deadline has passed at the row's final time.
    #[test]
    fn the_handshake_follows_the_protocol() {
        use EventType::{Metrics, ServerNotification as Server};
        use Input::*;
        type Row = (
            &'static str,
            Types,
            &'static [(u64, Input, &'static [EventType], bool)],
            u64,
            Option<DisconnectReason>,
        );
        let table: &[Row] = &[
            (
                "notifications only: one request, ready on its confirmation",
                NOTIFICATIONS,
                &[
                    (0, Authenticated, &[Server], false),
                    (1, Confirmed(Server), &[], true),
                ],
                100,
                None,
            ),
            (
                "both types: two requests, ready only when both are confirmed",
                BOTH,
                &[
                    (0, Authenticated, &[Server, Metrics], false),
                    (1, Confirmed(Metrics), &[], false),
                    (2, Confirmed(Server), &[], true),
                ],
                100,
                None,
            ),
            (
                "no subscriber yet: ready on authentication, nothing requested",
                NOTHING,
                &[(0, Authenticated, &[], true)],
                100,
                None,
            ),
            (
                "no answer to auth_request: the auth deadline passes",
                NOTIFICATIONS,
                &[],
                5,
                Some(DisconnectReason::AuthTimeout(AUTH)),
            ),
            (
                "just before the auth deadline: nothing has expired",
                NOTIFICATIONS,
                &[],
                4,
                None,
            ),
            (
                "an unconfirmed subscription: the subscribe deadline passes",
                NOTIFICATIONS,
                &[(1, Authenticated, &[Server], false)],
                4,
                Some(DisconnectReason::SubscribeTimeout(SUBSCRIBE)),
            ),
            (
                "a confirmation before authentication is kept, and readiness waits for auth",
                NOTIFICATIONS,
                &[
                    (0, Confirmed(Server), &[], false),
                    (1, Authenticated, &[Server], true),
                ],
                100,
                None,
            ),
            (
                "a duplicate authenticated asks for nothing twice",
                NOTIFICATIONS,
                &[
                    (0, Authenticated, &[Server], false),
                    (1, Authenticated, &[], false),
                    (2, Confirmed(Server), &[], true),
                    (3, Confirmed(Server), &[], false),
                ],
                100,
                None,
            ),
            (
                "a subscriber arriving before authentication waits for it",
                NOTIFICATIONS,
                &[
                    (0, Wanted, &[], false),
                    (1, Authenticated, &[Server], false),
                ],
                2,
                None,
            ),
        ];
        for (name, needed, inputs, end, expired) in table {
            let t0 = Instant::now();
            let mut handshake = Handshake::start(t0, AUTH, SUBSCRIBE);
            for (at, input, sent, ready) in *inputs {
                let now = t0 + Duration::from_secs(*at);
                let step = match input {
                    Authenticated => handshake.on_authenticated(now, *needed),
                    Confirmed(event) => handshake.on_confirmed(*event, now, *needed),
                    Wanted => handshake.on_wanted(now, *needed),
                };
                let want: Vec<ControlMessage> = sent.iter().map(|e| sub(*e)).collect();
                assert_eq!(step.send, want, "{name}: sent after {input:?}");
                assert_eq!(step.ready, *ready, "{name}: ready after {input:?}");
            }
            assert_eq!(
                handshake.expired(t0 + Duration::from_secs(*end)),
                *expired,
                "{name}: expiry at {end} s"
            );
        }
    }

    #[test]
    fn a_confirmation_of_a_type_never_asked_for_confirms_nothing() {
        let t0 = Instant::now();
        let mut handshake = Handshake::start(t0, AUTH, SUBSCRIBE);
        handshake.on_authenticated(t0, NOTIFICATIONS);
        for stray in [EventType::Unspecified, EventType::Unknown(7)] {
            let step = handshake.on_confirmed(stray, t0, NOTIFICATIONS);
            assert!(!step.ready, "{stray:?}");
        }
        assert!(!handshake.is_ready(NOTIFICATIONS));
        assert!(
            handshake
                .on_confirmed(EventType::ServerNotification, t0, NOTIFICATIONS)
                .ready
        );
    }

    #[test]
    fn a_type_no_longer_needed_stops_holding_up_the_connection() {
        let t0 = Instant::now();
        let mut handshake = Handshake::start(t0, AUTH, SUBSCRIBE);
        handshake.on_authenticated(t0, BOTH);
        handshake.on_confirmed(EventType::ServerNotification, t0, BOTH);
        assert!(!handshake.is_ready(BOTH));
        // The metrics subscriber left before the server answered.
        let step = handshake.on_wanted(t0, NOTIFICATIONS);
        assert!(step.ready && step.send.is_empty());
        assert_eq!(handshake.expired(t0 + SUBSCRIBE * 2), None);
        assert!(handshake.was_ready());
    }

    #[test]
    fn a_new_type_wanted_after_ready_is_requested_with_its_own_deadline() {
        let t0 = Instant::now();
        let mut handshake = Handshake::start(t0, AUTH, SUBSCRIBE);
        handshake.on_authenticated(t0, NOTIFICATIONS);
        let step = handshake.on_confirmed(EventType::ServerNotification, t0, NOTIFICATIONS);
        assert!(step.ready);
        let later = t0 + Duration::from_secs(10);
        let step = handshake.on_wanted(later, BOTH);
        assert_eq!(step.send, vec![sub(EventType::Metrics)]);
        assert!(!step.ready, "ready is reported once per connection");
        assert!(!handshake.is_ready(BOTH));
        assert_eq!(
            handshake.expired(later + SUBSCRIBE),
            Some(DisconnectReason::SubscribeTimeout(SUBSCRIBE))
        );
        handshake.on_confirmed(EventType::Metrics, later, BOTH);
        assert!(handshake.is_ready(BOTH));
        assert_eq!(handshake.expired(later + SUBSCRIBE * 10), None);
    }
}
