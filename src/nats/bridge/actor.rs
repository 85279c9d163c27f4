//! The [`JetStreamBridge`] actor: every handler, and the effects of its transitions. Where an
//! event takes it is [`phase::next`]'s to say; this file carries it out: it builds the next
//! phase (spawning its task, asking the supervisor for its wait) and drops the old one with every
//! task it owned.

use std::collections::HashMap;
use std::time::Instant;

use actix::prelude::*;
use async_nats::jetstream::context::PublishErrorKind;
use bytes::Bytes;

use super::outgoing::{MessageId, Outgoing};
use super::phase::{self, Activity, Event, Next, Phase, Question, StreamCheck};
use super::round::{Answer, Round, send};
use super::setup::{self, Advisory, Setup};
use super::window::Window;
use super::{BridgeEvent, BridgeStats, GetBridgeStats, JetStreamBridgeBuilder};
use crate::nats::NO_ROOM;
use crate::nats::dedup::{DedupId, DedupIds, Key};
use crate::nats::error::NatsError;
use crate::nats::subject::{gap_subject, metrics_subject};
use crate::notification::{MetricsReport, Notification};
use crate::notifier::ConnectionEvent;
use crate::retry::{GaveUp, Retries, Supervisor};
use crate::task::Task;

/// How much earlier than its receipt a stored copy must be to be another notification: more than
/// the delay between two bridges receiving the same frame, plus clock skew between the bridge
/// and the NATS server.
const SAME_NOTIFICATION_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Publishes every notification it is sent (subscribe it to a [`WsNotifier`](crate::WsNotifier),
/// or send it webhook notifications) to JetStream, with a window of publishes in flight: each
/// room's notifications in order whatever fails, all of them in arrival order while nothing does,
/// each counted as forwarded only once JetStream acknowledged it. While NATS is unreachable it keeps up to
/// `queue_limit` messages and retries with backoff; beyond that it drops the newest, counts them and
/// says so ([`BridgeEvent::Dropped`], an error log line). Subscribed to the notifier's
/// [`ConnectionEvent`]s, it publishes a gap message after every reconnect (and, with another
/// bridge on the same stream, checks a repetition the other stored while it heard nothing, so
/// that it is stored, not taken for the other's copy: subscribe it to both).
///
/// ```no_run
/// use jellyfish_notifier::nats::JetStreamBridge;
/// use jellyfish_notifier::WsNotifier;
///
/// # #[actix::main] async fn main() {
/// let bridge = JetStreamBridge::builder("nats://127.0.0.1:4222").start();
/// let _notifier = WsNotifier::builder("localhost:5002", "development")
///     .subscribe_notifications(bridge.clone().recipient())
///     .subscribe_connection_events(bridge.recipient())
///     .start();
/// # }
/// ```
pub struct JetStreamBridge {
    pub(super) config: JetStreamBridgeBuilder,
    /// What it is doing, with what is valid in that.
    phase: Phase<Link>,
    /// Failed setups or publishes in a row, the reset rule and the attempt limit.
    supervisor: Supervisor,
    /// What waits to be stored, and the publishes in flight.
    pub(super) window: Window,
    pub(super) dedup: DedupIds,
    /// Gap messages queued, for their ids.
    gaps: u64,
    /// Setups that found or created the stream: one created after the first is one recreated.
    setups: u64,
    pub(super) stats: BridgeStats,
    /// The ids of [`Publish`]ed notifications that were answered `Err`, with when each first
    /// arrived, for a sender's retry.
    pub(super) refused: HashMap<Key, (DedupId, Instant)>,
}

/// What a setup found, and the tasks that live as long as it: the NATS client's events, the
/// stream's advisories, the publishes in flight.
pub(super) struct Link {
    jetstream: async_nats::jetstream::Context,
    stream: async_nats::jetstream::stream::Stream,
    /// The client's connection is up, as it last said (it reconnects by itself).
    up: bool,
    /// The publishes in flight, while there are: dropped to send everything again.
    round: Option<Round>,
    /// Reading where the stream ends, as the media server's connection first came up: nothing
    /// is sent until it is read ([`JetStreamBridge::floor_at_stream_end`]).
    floor: Option<Task>,
    _links: Task,
    _advisories: Task,
}

impl JetStreamBridge {
    pub(super) fn new(config: JetStreamBridgeBuilder) -> Self {
        let window = config.stream.duplicate_window;
        let supervisor = Supervisor::new(config.retry);
        Self {
            config,
            // Replaced by the setup as the actor starts.
            phase: Phase::Stopped,
            supervisor,
            window: Window::default(),
            dedup: DedupIds::new(window),
            gaps: 0,
            setups: 0,
            stats: BridgeStats::default(),
            refused: HashMap::new(),
        }
    }

    pub(super) fn event(&self, event: BridgeEvent) {
        if let Some(events) = &self.config.events {
            events.do_send(event);
        }
    }

    /// Where `event` takes the bridge (`error`: what failed, for a wait), carried out.
    fn on(&mut self, event: Event, error: Option<NatsError>, ctx: &mut Context<Self>) {
        let error = || {
            error.unwrap_or(NatsError::Publish {
                detail: "a publish failed".to_owned(),
            })
        };
        match phase::next(&self.phase, event) {
            Next::Stay => {}
            Next::SetUp => self.set_up(ctx),
            Next::WaitToSetUp => self.wait(error(), false, ctx),
            Next::Publish => self.publish(ctx),
            Next::PublishAgain => {
                self.resend_unacknowledged();
                self.publish(ctx);
            }
            Next::WaitToPublish => self.wait(error(), true, ctx),
            Next::Ask(question) => self.ask(question, ctx),
            Next::StreamGone => self.stream_gone(ctx),
        }
        self.levels();
    }

    /// A setup starts: connecting and finding (or creating) the stream, the mailbox open
    /// meanwhile (what arrives is queued and counted).
    fn set_up(&mut self, ctx: &mut Context<Self>) {
        let after = match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::SetupWait { error, .. } => Some(error),
            _ => None,
        };
        let setup = setup::set_up(
            self.config.url.clone(),
            self.config.stream.clone(),
            vec![format!("{}.>", self.config.prefix)],
            self.config.ack_timeout,
        );
        let task = Task::spawn(ctx, setup, |result, bridge: &mut Self, ctx| match result {
            Ok(setup) => {
                if phase::next(&bridge.phase, Event::SetUp) == Next::Publish {
                    bridge.ready(setup, ctx);
                    bridge.levels();
                }
            }
            Err(error) => bridge.on(Event::SetupFailed, Some(error), ctx),
        });
        self.phase = Phase::SettingUp { _task: task, after };
    }

    /// The stream is found (or created): publishing starts.
    fn ready(&mut self, setup: Setup, ctx: &mut Context<Self>) {
        let name = self.config.stream.name.clone();
        if setup.created && self.setups > 0 {
            tracing::warn!(stream = %name, "NATS bridge: the stream was gone (deleted, or nats-server lost its store); created it again with the bridge's settings. What it held before is gone with it");
            self.dedup.stream_recreated(setup.last);
            self.stats.recreated += 1;
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &self.config.metrics {
                metrics.on_recreated();
            }
            self.event(BridgeEvent::StreamRecreated { stream: name });
        } else {
            self.dedup.start_at(setup.last);
        }
        self.setups += 1;
        if let Some(limits) =
            setup::discarding_limits(&setup.stream.cached_info().config, &self.config.stream)
        {
            tracing::warn!(stream = %self.config.stream.name, %limits, "NATS bridge: the stream's limits can discard notifications it acknowledged");
            self.event(BridgeEvent::StreamLimits {
                stream: self.config.stream.name.clone(),
                limits,
            });
        }
        let links = futures_util::stream::unfold(setup.links, |mut links| async move {
            links.recv().await.map(|up| (up, links))
        });
        let link = Link {
            // As the client is now: a link lost during the setup (said before the bridge had a
            // connection to name) is not taken back by it.
            up: setup.jetstream.client().connection_state()
                == async_nats::connection::State::Connected,
            jetstream: setup.jetstream,
            stream: setup.stream,
            round: None,
            floor: None,
            _links: Task::each(ctx, links, |up, bridge: &mut Self, ctx| {
                bridge.link_changed(up, ctx);
            }),
            _advisories: Task::each(ctx, setup.advisories, |message, bridge: &mut Self, ctx| {
                bridge.advisory(&message, ctx);
            }),
        };
        self.supervisor.connected(Instant::now());
        self.phase = Phase::Up {
            link,
            activity: Activity::Publishing,
        };
        self.event(BridgeEvent::Ready);
        // A suspect duplicate at the front whose check could not start while there was no
        // stream is checked now: the line would wait for it for ever.
        self.settle(ctx);
        self.pump(ctx);
    }

    /// Publishing (again): the wait or the question is dropped, the front settled, and what is
    /// queued sent.
    fn publish(&mut self, ctx: &mut Context<Self>) {
        if let Phase::Up { activity, .. } = &mut self.phase {
            *activity = Activity::Publishing;
        }
        self.settle(ctx);
        self.pump(ctx);
    }

    /// A setup or a publish failed: said (with how many wait), and tried again as the supervisor
    /// says, or, at the attempt limit, the bridge stops.
    fn wait(&mut self, error: NatsError, publishing: bool, ctx: &mut Context<Self>) {
        let wait = match self.supervisor.failed(None, ctx) {
            Ok(wait) => wait,
            Err(gave_up) => return self.give_up(gave_up, error, ctx),
        };
        let queued = self.window.len();
        let retry_in = wait.delay;
        tracing::warn!(%error, ?retry_in, attempt = wait.attempt, queued, "NATS bridge: retrying");
        self.event(BridgeEvent::Retrying {
            error: error.clone(),
            queued,
            retry_in,
        });
        match &mut self.phase {
            Phase::Up { activity, .. } if publishing => {
                *activity = Activity::PublishWait { _wait: wait, error };
            }
            _ => self.phase = Phase::SetupWait { _wait: wait, error },
        }
    }

    /// JetStream is asked `question`; nothing is sent until it answers.
    fn ask(&mut self, question: Question, ctx: &mut Context<Self>) {
        let Phase::Up { link, activity } = &mut self.phase else {
            return;
        };
        let task = match question {
            Question::Suspect { serial, sequence } => {
                let Some(received) = self
                    .window
                    .suspect_mut(serial)
                    .map(|first| first.received())
                else {
                    return;
                };
                let stream = link.stream.clone();
                let stored = async move {
                    stream
                        .get_raw_message(sequence)
                        .await
                        .map(|message| std::time::SystemTime::from(message.time))
                };
                Task::spawn(ctx, stored, move |stored, bridge: &mut Self, ctx| {
                    // An earlier repetition when that copy was stored well before this one
                    // arrived; when the stream cannot say, it is published again: a duplicate,
                    // never a loss.
                    let earlier = stored.map_or(true, |stored| {
                        stored
                            .checked_add(SAME_NOTIFICATION_WITHIN)
                            .is_some_and(|limit| limit < received)
                    });
                    bridge.suspect_checked(serial, sequence, earlier);
                    bridge.on(Event::SuspectChecked, None, ctx);
                })
            }
            Question::Stream => {
                let jetstream = link.jetstream.clone();
                let name = self.config.stream.name.clone();
                let found = async move { jetstream.get_stream(&name).await.map(|_| ()) };
                Task::spawn(ctx, found, |found, bridge: &mut Self, ctx| {
                    let detail = match found {
                        Err(err) if setup::not_found(&err) => {
                            return bridge.on(Event::StreamChecked(StreamCheck::Gone), None, ctx);
                        }
                        Ok(()) => "nobody answered a publish: the stream is there, without a leader at the moment (a cluster electing one)".to_owned(),
                        Err(err) => format!("nobody answered a publish, and asking JetStream about the stream failed too: {err}"),
                    };
                    bridge.stats.retries += 1;
                    let error = NatsError::Publish { detail };
                    bridge.on(Event::StreamChecked(StreamCheck::There), Some(error), ctx);
                })
            }
        };
        *activity = Activity::Asking {
            question,
            _task: task,
        };
    }

    /// The front, answered "duplicate", was checked: an `earlier` repetition (this bridge's count
    /// lagged) is counted once more and sent again; otherwise another bridge stored this very
    /// notification.
    fn suspect_checked(&mut self, serial: u64, sequence: u64, earlier: bool) {
        // Still the message checked, still answered as a duplicate (nothing else settles the
        // front while it is checked; a resend since starts it over).
        let Some(first) = self.window.suspect_mut(serial) else {
            return;
        };
        let Some(id) = first.id.clone() else {
            return;
        };
        if earlier {
            // Sent again under the next count: after other rooms' messages in flight, still
            // before the rest of its room (held while it was unsettled).
            first.id = Some(self.dedup.recount(&id));
            first.sent = super::outgoing::Sent::Waiting;
            self.stats.recounted += 1;
        } else {
            self.dedup.settle(&id, sequence);
            if let Some(took) = self.window.pop_duplicate() {
                self.stored(true, took);
            }
        }
    }

    /// A publish found no stream: an operator deleted it, or nats-server came back without its
    /// store. Created again (and said), or, if the bridge must not, it stops at once, loudly.
    fn stream_gone(&mut self, ctx: &mut Context<Self>) {
        let stream = self.config.stream.name.clone();
        if self.config.recreate_stream {
            self.set_up(ctx);
            return;
        }
        tracing::error!(%stream, queued = self.window.len(), "NATS bridge: the stream is gone and recreating it is disabled; stopping");
        self.stop_with(NatsError::StreamGone {
            stream: stream.clone(),
        });
        self.event(BridgeEvent::StreamGone {
            stream,
            unpublished: self.window.len(),
        });
        ctx.stop();
    }

    /// The retry policy's attempt limit is reached: the bridge stops, and says what it leaves.
    fn give_up(&mut self, GaveUp { attempts }: GaveUp, error: NatsError, ctx: &mut Context<Self>) {
        let unpublished = self.window.len();
        tracing::error!(%error, attempts, unpublished, "NATS bridge: gave up after the retry policy's attempt limit; stopping");
        self.stop_with(error.clone());
        self.event(BridgeEvent::GaveUp {
            attempts,
            error,
            unpublished,
        });
        ctx.stop();
    }

    /// Stopped for good: every waiting [`Publish`] is told `error`.
    fn stop_with(&mut self, error: NatsError) {
        self.phase = Phase::Stopped;
        for waiter in self.window.iter_mut().filter_map(|m| m.waiter.take()) {
            let _ = waiter.send(Err(error.clone()));
        }
    }

    /// Sends queued messages, in order, until the window is full or the next one must wait for an
    /// earlier one of its room to be stored. One sending task at a time puts them on the
    /// connection in queue order; the round's other task takes their answers in the same order.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let Some(link) = self.phase.sending() else {
            return;
        };
        if link.floor.is_some() || link.round.as_ref().is_some_and(|r| r.sending.is_some()) {
            return;
        }
        let room = self.config.window.saturating_sub(self.window.in_flight());
        if room == 0 {
            return;
        }
        let batch = self
            .window
            .batch(room, &mut self.dedup, &self.config.prefix, Instant::now());
        if batch.is_empty() {
            // What could not be encoded leaves at the front.
            self.settle(ctx);
            return;
        }
        let jetstream = link.jetstream.clone();
        let round = link.round.get_or_insert_with(|| {
            Round::new(ctx, |serial, answer, bridge: &mut Self, ctx| {
                bridge.answered(serial, answer, ctx);
            })
        });
        let acks = round.acks.clone();
        let send = send(jetstream, batch, acks);
        round.sending = Some(Task::spawn(ctx, send, |(), bridge: &mut Self, ctx| {
            if let Some(round) = bridge.phase.link_mut().and_then(|l| l.round.as_mut()) {
                round.sending = None;
            }
            bridge.pump(ctx);
        }));
    }

    /// The answer to the publish of message `serial`, in the order sent.
    pub(super) fn answered(&mut self, serial: u64, answer: Answer, ctx: &mut Context<Self>) {
        match answer {
            Ok(ack) => {
                if self
                    .window
                    .acked(serial, ack.sequence, ack.duplicate)
                    .is_none()
                {
                    return;
                }
                self.supervisor.succeeded();
                self.settle(ctx);
                // Refilled by halves: a send per answer would cost a task per message.
                if self.window.in_flight() <= self.config.window / 2 {
                    self.pump(ctx);
                }
            }
            Err(error) => {
                let Some(waiter) = self.window.failed(serial) else {
                    return;
                };
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Err(NatsError::Publish {
                        detail: error.to_string(),
                    }));
                }
                self.resend_unacknowledged();
                // async-nats says "no stream" for no responders: a stream gone, or one without a
                // leader for a moment.
                if error.kind() == PublishErrorKind::StreamNotFound {
                    return self.on(Event::NoResponders, None, ctx);
                }
                self.stats.retries += 1;
                let error = NatsError::Publish {
                    detail: error.to_string(),
                };
                self.on(Event::PublishFailed, Some(error), ctx);
            }
        }
    }

    /// Everything in flight goes with its round, and is sent again from the first
    /// unacknowledged message.
    fn resend_unacknowledged(&mut self) {
        if let Some(link) = self.phase.link_mut() {
            link.round = None;
        }
        self.window.resend_unacknowledged();
    }

    /// Takes the acknowledgements at the front of the queue, in order; a suspect duplicate is
    /// checked with the stream before anything after it.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        if let Phase::Up {
            activity:
                Activity::Asking {
                    question: Question::Suspect { .. },
                    ..
                },
            ..
        } = self.phase
        {
            return; // the front is being checked: its answer settles it
        }
        let (stats, config) = (&mut self.stats, &self.config);
        let suspect = self.window.settle(&mut self.dedup, |duplicate, took| {
            count_stored(stats, config, duplicate, took);
        });
        if let Some(suspect) = suspect {
            let event = Event::Suspect {
                serial: suspect.serial,
                sequence: suspect.sequence,
            };
            self.on(event, None, ctx);
        }
        self.levels();
    }

    /// The message at the front is stored (or was already: a duplicate), and gone from the queue.
    fn stored(&mut self, duplicate: bool, took: std::time::Duration) {
        count_stored(&mut self.stats, &self.config, duplicate, took);
        self.levels();
    }

    /// How many wait and whether JetStream can store, for the metrics: read from the phase.
    fn levels(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.levels(self.window.len(), self.unavailable().is_none());
        }
    }

    /// Why JetStream cannot store now, if it cannot.
    pub(super) fn unavailable(&self) -> Option<NatsError> {
        self.phase.unavailable(|link| link.up)
    }

    /// Queues `message` (or, with the queue full, drops it, counted and said).
    pub(super) fn enqueue(&mut self, message: Outgoing, ctx: &mut Context<Self>) {
        if self.window.len() >= self.config.queue_limit {
            self.stats.dropped += 1;
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &self.config.metrics {
                metrics.on_dropped();
            }
            let total = self.stats.dropped;
            if total.is_power_of_two() {
                tracing::error!(
                    total,
                    limit = self.config.queue_limit,
                    "NATS bridge: the queue is full (NATS unreachable?); dropping notifications"
                );
                self.event(BridgeEvent::Dropped { total });
            }
            if let Some(waiter) = message.waiter {
                let _ = waiter.send(Err(NatsError::QueueFull {
                    limit: self.config.queue_limit,
                }));
            }
            return;
        }
        self.window.push(message, &self.dedup);
        self.levels();
        self.pump(ctx);
    }

    /// The NATS client's connection came up or went down: said once the bridge is set up (the
    /// first connection is [`BridgeEvent::Ready`]).
    fn link_changed(&mut self, up: bool, ctx: &mut Context<Self>) {
        let Some(link) = self.phase.link_mut().filter(|link| link.up != up) else {
            return;
        };
        link.up = up;
        let info = link.jetstream.client().server_info();
        let server = format!("{} ({}:{})", info.server_name, info.host, info.port);
        if up {
            tracing::info!(%server, "NATS bridge: connected again");
            self.event(BridgeEvent::Reconnected { server });
            self.on(Event::LinkUp, None, ctx);
        } else {
            tracing::warn!(%server, queued = self.window.len(), "NATS bridge: lost the connection; the client reconnects, failing over between the URLs");
            self.event(BridgeEvent::Disconnected { server });
        }
        self.levels();
    }

    /// A stream advisory: a leader elected (publishing resumes at once if it waited) or the
    /// quorum lost, said as it comes.
    fn advisory(&mut self, message: &async_nats::Message, ctx: &mut Context<Self>) {
        match Advisory::read(message) {
            Some(Advisory::LeaderElected { stream, leader }) => {
                tracing::info!(%stream, %leader, "NATS bridge: the stream has a new leader");
                self.event(BridgeEvent::LeaderElected { stream, leader });
                self.on(Event::LeaderElected, None, ctx);
            }
            Some(Advisory::QuorumLost { stream }) => {
                tracing::warn!(%stream, "NATS bridge: the stream lost its quorum; nothing is stored until enough of its servers are back");
                self.event(BridgeEvent::QuorumLost { stream });
            }
            None => {}
        }
    }

    /// The connection to the media server is up for the first time: whatever other bridges
    /// stored before now, this one never heard, so its counts may lag behind any of it. The
    /// de-duplication floor moves to the stream's end (as a gap marker moves it after a
    /// reconnect), and nothing is sent until it has. Before the stream is set up, its setup
    /// reads the end then.
    fn floor_at_stream_end(&mut self, ctx: &mut Context<Self>) {
        let Some(link) = self.phase.link_mut() else {
            return;
        };
        let stream = link.stream.clone();
        let end = async move { stream.get_info().await.map(|info| info.state.last_sequence) };
        link.floor = Some(Task::spawn(ctx, end, |end, bridge: &mut Self, ctx| {
            if let Some(link) = bridge.phase.link_mut() {
                link.floor = None;
            }
            match end {
                Ok(end) => bridge.dedup.gap_at(end),
                Err(error) => {
                    tracing::warn!(%error, "NATS bridge: could not read where the stream ends as the server connection came up; a repetition another bridge stored before it is told apart by the stored sequences alone");
                }
            }
            bridge.pump(ctx);
        }));
    }
}

/// Counts a message stored (or acked as a duplicate) after `took`.
fn count_stored(
    stats: &mut BridgeStats,
    config: &JetStreamBridgeBuilder,
    duplicate: bool,
    took: std::time::Duration,
) {
    if duplicate {
        stats.duplicates += 1;
    } else {
        stats.stored += 1;
    }
    #[cfg(feature = "metrics")]
    if let Some(metrics) = &config.metrics {
        metrics.on_ack(duplicate, took);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (config, took);
}

impl Actor for JetStreamBridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.set_up(ctx);
        self.levels();
    }
}

impl Retries for JetStreamBridge {
    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.on(Event::WaitOver, None, ctx);
    }
}

impl Handler<Notification> for JetStreamBridge {
    type Result = ();

    /// Queued as it is: encoded when first sent (a cannot-encode is said then, and skipped).
    fn handle(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        self.enqueue(Outgoing::later(notification), ctx);
    }
}

impl Handler<MetricsReport> for JetStreamBridge {
    type Result = ();

    fn handle(&mut self, report: MetricsReport, ctx: &mut Context<Self>) {
        let body = Bytes::copy_from_slice(report.raw().as_bytes());
        let id = self.dedup.next(NO_ROOM, &body);
        let subject = metrics_subject(&self.config.prefix);
        let message = Outgoing::new(
            subject,
            "metrics_report",
            None,
            body,
            MessageId::Counted(id),
        );
        self.enqueue(message, ctx);
    }
}

impl Handler<ConnectionEvent> for JetStreamBridge {
    type Result = ();

    /// A reconnect (a gap) is marked in the stream; the first connection moves the
    /// de-duplication floor to the stream's end ([`DedupIds::gap_at`]).
    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        let ConnectionEvent::Ready { gap } = event else {
            return;
        };
        let Some(gap) = gap else {
            self.floor_at_stream_end(ctx);
            return;
        };
        self.gaps += 1;
        // Each bridge's gap is its own: a random id, never taken for another bridge's.
        let id = format!("gap-{:016x}-{}", fastrand::u64(..), self.gaps);
        let body = Bytes::from(format!("{{\"gap_ms\":{}}}", gap.as_millis()));
        let subject = gap_subject(&self.config.prefix);
        self.enqueue(
            Outgoing::new(subject, "gap", None, body, MessageId::Gap(id)),
            ctx,
        );
    }
}

impl Handler<GetBridgeStats> for JetStreamBridge {
    type Result = MessageResult<GetBridgeStats>;

    fn handle(&mut self, _: GetBridgeStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(BridgeStats {
            queued: self.window.len(),
            ..self.stats.clone()
        })
    }
}
