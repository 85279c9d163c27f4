//! [`JetStreamConsumer`]: a durable JetStream consumer delivering to `Handler<Notification>`
//! subscribers, acknowledging after they handled each notification.

mod phase;
mod read;

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::DEFAULT_STREAM;
use super::error::NatsError;
use crate::notification::Notification;
use crate::notifier::{SubscribeServerNotifications, Subscription, SubscriptionId, Unsubscribe};
use crate::retry::{GaveUp, Retries, RetryPolicy, Supervisor};
use crate::task::Task;
use phase::{Event, Next, Phase};

/// Counters of a [`JetStreamConsumer`], from [`GetConsumerStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerStats {
    /// Notifications delivered to every subscriber and acknowledged.
    pub delivered: u64,
    /// Messages redelivered by JetStream (an earlier delivery was not acknowledged in time).
    pub redelivered: u64,
    /// Gap messages seen (acknowledged, not delivered as notifications).
    pub gaps: u64,
    /// Messages that were not notifications (acknowledged and skipped, with a warning).
    pub skipped: u64,
    /// Notifications not handed to every subscriber (none subscribed, or one stopped before it
    /// handled it): not acknowledged but given back to JetStream, which delivers them again
    /// after a second (to another instance of a work queue, if one is free), each time counted.
    pub undelivered: u64,
    /// Why reading stopped the last time, until it reads again (the consumer retries meanwhile).
    pub error: Option<String>,
    /// Messages in the stream not yet delivered to this consumer, as of the last check (its lag).
    pub pending: u64,
}

/// Answers a [`JetStreamConsumer`]'s [`ConsumerStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "ConsumerStats")]
pub struct GetConsumerStats;

/// Reads a JetStream consumer and delivers each notification to the same `Handler<Notification>`
/// subscribers a [`WsNotifier`](crate::WsNotifier) takes ([`SubscribeServerNotifications`]),
/// acknowledging a message only after every subscriber has handled it: at least once, with
/// JetStream's redelivery after a crash.
///
/// Two patterns, named for what they do: [`JetStreamConsumer::every_notification`] (each instance
/// its own durable name: each sees everything, and resumes where it stopped) and
/// [`JetStreamConsumer::work_queue`] (a fleet sharing one durable name: each notification goes to
/// one of them).
///
/// ```no_run
/// use jellyfish_notifier::nats::JetStreamConsumer;
/// use jellyfish_notifier::{Notification, SubscribeServerNotifications};
/// use actix::prelude::*;
///
/// struct App;
/// impl Actor for App { type Context = Context<Self>; }
/// impl Handler<Notification> for App {
///     type Result = ();
///     fn handle(&mut self, n: Notification, _: &mut Context<Self>) { println!("{}", n.kind()); }
/// }
///
/// # #[actix::main] async fn main() {
/// // Every instance started as "billing" shares the work (`JetStreamConsumer::every_notification`
/// // with a name per instance has each see everything).
/// let consumer = JetStreamConsumer::work_queue("nats://127.0.0.1:4222", "billing")
///     .filter("jellyfish.*.peer_connected")
///     .start();
/// let _subscription = consumer.send(SubscribeServerNotifications(App.start().recipient())).await;
/// # }
/// ```
pub struct JetStreamConsumer {
    config: JetStreamConsumerBuilder,
    /// What it is doing, with the task or the wait of that.
    phase: Phase,
    /// Shared with the reading task, which runs on the consumer's own thread.
    shared: std::rc::Rc<ConsumerShared>,
    next_id: u64,
    /// Failed attempts in a row, the reset rule and the attempt limit.
    supervisor: Supervisor,
}

#[derive(Default)]
struct ConsumerShared {
    subscribers: std::cell::RefCell<Vec<(SubscriptionId, Recipient<Notification>)>>,
    stats: std::cell::RefCell<ConsumerStats>,
}

/// Builds a [`JetStreamConsumer`]: [`JetStreamConsumer::builder`]. Its `Debug` output shows the
/// URLs without their credentials.
#[derive(Clone)]
pub struct JetStreamConsumerBuilder {
    url: String,
    durable: String,
    stream: String,
    filter: Option<String>,
    ack_wait: Duration,
    max_batch: usize,
    retry: RetryPolicy,
}

impl std::fmt::Debug for JetStreamConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamConsumerBuilder")
            .field("url", &super::redacted(&self.url))
            .field("durable", &self.durable)
            .field("stream", &self.stream)
            .field("filter", &self.filter)
            .field("ack_wait", &self.ack_wait)
            .field("max_batch", &self.max_batch)
            .field("retry", &self.retry)
            .finish()
    }
}

impl JetStreamConsumerBuilder {
    /// The stream (default [`DEFAULT_STREAM`]).
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// Only messages whose subject matches (`jellyfish.lobby.*`, `jellyfish.*.track_added`).
    pub fn filter(mut self, subject: impl Into<String>) -> Self {
        self.filter = Some(subject.into());
        self
    }

    /// How long JetStream waits for an acknowledgement before it redelivers (default 30 s).
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    /// How many messages it asks JetStream for at once (default 200). JetStream's ack wait runs
    /// from delivery, so the messages waiting their turn are redelivered if handling those ahead
    /// of them takes longer: keep `max_batch` × a handler's time well under the ack wait. (The
    /// message being handled is kept from redelivery however long its handler takes.)
    pub fn max_batch(mut self, messages: usize) -> Self {
        self.max_batch = messages.max(1);
        self
    }

    /// How it reconnects after NATS went away or the stream could not be read (default 250 ms up
    /// to 4 s, for ever; a connection that read for its `reset_after` starts the count over).
    /// With an attempt limit, the consumer stops after that many failed attempts in a row, said
    /// at error level and in [`ConsumerStats::error`] until then.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Starts the consumer in the current arbiter; it connects by itself, retrying.
    pub fn start(self) -> Addr<JetStreamConsumer> {
        self.into_consumer().start()
    }

    /// Starts the consumer in another arbiter (a thread of its own).
    pub fn start_in(self, arbiter: &ArbiterHandle) -> Addr<JetStreamConsumer> {
        // Built on its thread: what it shares with its reading task stays there.
        JetStreamConsumer::start_in_arbiter(arbiter, move |_| self.into_consumer())
    }

    fn into_consumer(self) -> JetStreamConsumer {
        JetStreamConsumer {
            supervisor: Supervisor::new(self.retry),
            config: self,
            // Replaced by the first attempt as the actor starts.
            phase: Phase::Stopped,
            shared: std::rc::Rc::default(),
            next_id: 0,
        }
    }
}

impl JetStreamConsumer {
    /// Instances that share the work: every instance started with the same `group` reads one
    /// durable consumer, and each notification goes to one of them (a work queue). One that dies
    /// leaves its unacknowledged notifications to the others, after [`ack_wait`]. `url` as for
    /// [`JetStreamConsumer::builder`].
    ///
    /// [`ack_wait`]: JetStreamConsumerBuilder::ack_wait
    pub fn work_queue(
        url: impl Into<String>,
        group: impl Into<String>,
    ) -> JetStreamConsumerBuilder {
        Self::builder(url, group)
    }

    /// An instance that sees every notification: its own durable consumer `name`, so that it
    /// resumes where it stopped (a restart under the same name gets what it missed, and what it
    /// had not acknowledged again). Give each instance its own name.
    pub fn every_notification(
        url: impl Into<String>,
        name: impl Into<String>,
    ) -> JetStreamConsumerBuilder {
        Self::builder(url, name)
    }

    /// A builder for the durable consumer `durable` on the NATS server at `url` (or a cluster:
    /// several URLs separated by commas, failed over between).
    pub fn builder(url: impl Into<String>, durable: impl Into<String>) -> JetStreamConsumerBuilder {
        JetStreamConsumerBuilder {
            url: url.into(),
            durable: durable.into(),
            stream: DEFAULT_STREAM.to_owned(),
            filter: None,
            ack_wait: Duration::from_secs(30),
            max_batch: 200,
            retry: RetryPolicy::default(),
        }
    }

    /// Where `event` takes the consumer (`error`: what ended the attempt), carried out.
    fn on(&mut self, event: Event, error: Option<NatsError>, ctx: &mut Context<Self>) {
        match phase::next(&self.phase, &event) {
            Next::Stay | Next::Read => {}
            Next::Open => self.open(ctx),
            Next::Wait => self.wait(error, ctx),
        }
    }

    /// An attempt starts: connecting, and opening the durable consumer.
    fn open(&mut self, ctx: &mut Context<Self>) {
        let task = Task::spawn(
            ctx,
            read::open(self.config.clone()),
            |opened, consumer: &mut Self, ctx| match opened {
                Ok(opened) => consumer.read(opened, ctx),
                Err(error) => consumer.on(Event::Failed, Some(error), ctx),
            },
        );
        self.phase = Phase::Opening { _task: task };
    }

    /// Messages flow: read and delivered until the connection or the stream ends. The count of
    /// failures starts over once it read for the policy's `reset_after`.
    fn read(&mut self, opened: read::Opened, ctx: &mut Context<Self>) {
        if phase::next(&self.phase, &Event::Opened) != Next::Read {
            return;
        }
        self.supervisor.connected(Instant::now());
        self.shared.stats.borrow_mut().error = None;
        let reading = read::read(
            self.config.clone(),
            std::rc::Rc::clone(&self.shared),
            opened,
        );
        let task = Task::spawn(
            ctx,
            reading,
            |ended, consumer: &mut Self, ctx| match ended {
                Err(error) => consumer.on(Event::Failed, Some(error), ctx),
                Ok(()) => consumer.on(Event::Ended, None, ctx),
            },
        );
        self.phase = Phase::Reading { _task: task };
    }

    /// An attempt failed (`error`) or the server ended the message stream: said, and tried again
    /// after the supervisor's wait; at the attempt limit, the consumer stops.
    fn wait(&mut self, error: Option<NatsError>, ctx: &mut Context<Self>) {
        let failed = self.supervisor.failed(None, ctx);
        if let Some(error) = &error {
            self.shared.stats.borrow_mut().error = Some(error.to_string());
        }
        let wait = match failed {
            Ok(wait) => wait,
            Err(GaveUp { attempts }) => {
                let error = error.map_or_else(
                    || "the server ended the message stream".to_owned(),
                    |e| e.to_string(),
                );
                tracing::error!(%error, attempts, "NATS consumer: gave up after the retry policy's attempt limit; stopping");
                self.shared.stats.borrow_mut().error = Some(format!(
                    "gave up after {attempts} attempts in a row: {error}"
                ));
                self.phase = Phase::Stopped;
                ctx.stop();
                return;
            }
        };
        let retry_in = wait.delay;
        match error {
            Some(error) => {
                tracing::warn!(%error, ?retry_in, attempt = wait.attempt, "NATS consumer: reading stopped; starting over");
            }
            None => {
                tracing::warn!(
                    ?retry_in,
                    attempt = wait.attempt,
                    "NATS consumer: the server ended the message stream; starting over"
                );
            }
        }
        self.phase = Phase::Waiting { _wait: wait };
    }
}

impl Actor for JetStreamConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.open(ctx);
    }
}

impl Retries for JetStreamConsumer {
    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.on(Event::WaitOver, None, ctx);
    }
}

impl Handler<SubscribeServerNotifications> for JetStreamConsumer {
    type Result = MessageResult<SubscribeServerNotifications>;

    fn handle(
        &mut self,
        msg: SubscribeServerNotifications,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        self.next_id += 1;
        let id = SubscriptionId::new(self.next_id);
        self.shared.subscribers.borrow_mut().push((id, msg.0));
        MessageResult(Subscription::new(id, ctx.address().recipient()))
    }
}

impl Handler<Unsubscribe> for JetStreamConsumer {
    type Result = bool;

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) -> bool {
        let mut subscribers = self.shared.subscribers.borrow_mut();
        let before = subscribers.len();
        subscribers.retain(|(id, _)| *id != msg.0);
        before != subscribers.len()
    }
}

impl Handler<GetConsumerStats> for JetStreamConsumer {
    type Result = MessageResult<GetConsumerStats>;

    fn handle(&mut self, _: GetConsumerStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.shared.stats.borrow().clone())
    }
}
