//! [`JetStreamConsumer`]: a durable JetStream consumer delivering to `Handler<Notification>`
//! subscribers, acknowledging after they handled each notification.

use std::time::{Duration, Instant};

use actix::prelude::*;
use async_nats::jetstream::AckKind;

use super::error::NatsError;
use super::{DEFAULT_STREAM, KIND_HEADER};
use crate::notification::Notification;
use crate::notifier::{SubscribeServerNotifications, Subscription, SubscriptionId, Unsubscribe};
use crate::retry::{RetryState, Retry, RetryPolicy};

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
    /// Shared with the reading task, which runs on the consumer's own thread.
    shared: std::rc::Rc<ConsumerShared>,
    next_id: u64,
    /// Failed connections in a row, and the pending retry.
    retry: Retry,
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
    /// to 4 s; a connection that read for its `reset_after` starts the count over). Its attempt
    /// limit is not used: the consumer retries for ever.
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
            config: self,
            shared: std::rc::Rc::default(),
            next_id: 0,
            retry: Retry::default(),
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

    /// Connects, then reads for as long as the actor lives; on any error, starts over after the
    /// retry policy's delay (JetStream redelivers what was not acknowledged).
    fn run(&mut self, ctx: &mut Context<Self>) {
        let reading = std::rc::Rc::new(std::cell::Cell::new(None));
        let task = read(
            self.config.clone(),
            std::rc::Rc::clone(&self.shared),
            std::rc::Rc::clone(&reading),
        );
        ctx.spawn(task.into_actor(self).map(move |result, consumer, ctx| {
            // A connection that read for the policy's `reset_after` was a success: the count
            // starts over before its end is counted (one that fails at once, a consumer deleted
            // under it, backs off as any failure).
            if reading
                .get()
                .is_some_and(|since: Instant| consumer.config.retry.resets(since.elapsed()))
            {
                consumer.retry.succeeded();
            }
            let retry_in = consumer.retry.failed_again(&consumer.config.retry, None);
            match result {
                Err(error) => {
                    tracing::warn!(%error, ?retry_in, "NATS consumer: reading stopped; starting over");
                    consumer.shared.stats.borrow_mut().error = Some(error.to_string());
                }
                Ok(()) => {
                    tracing::warn!(?retry_in, "NATS consumer: the server ended the message stream; starting over");
                }
            }
            Retry::wait(consumer, retry_in, ctx);
        }));
    }
}

/// Connects and reads until the connection or the stream ends; `reading` is when messages could
/// first flow.
async fn read(
    config: JetStreamConsumerBuilder,
    shared: std::rc::Rc<ConsumerShared>,
    reading: std::rc::Rc<std::cell::Cell<Option<Instant>>>,
) -> Result<(), NatsError> {
    use futures_util::StreamExt as _;
    // One attempt over the servers, failing with its cause; the actor's retry policy does the
    // rest (the client's own retry of a first connection outlives a dropped client).
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(super::servers(&config.url)?)
        .await
        .map_err(|err| NatsError::Connect {
            url: super::redacted(&config.url),
            detail: err.to_string(),
        })?;
    let consumer_error = |detail: String| NatsError::Consumer {
        durable: config.durable.clone(),
        detail,
    };
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .get_stream(config.stream.as_str())
        .await
        .map_err(|err| NatsError::Stream {
            stream: config.stream.clone(),
            detail: err.to_string(),
        })?;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            config.durable.as_str(),
            async_nats::jetstream::consumer::pull::Config {
                durable_name: Some(config.durable.clone()),
                filter_subject: config.filter.clone().unwrap_or_default(),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                ..Default::default()
            },
        )
        .await
        .map_err(|err| consumer_error(err.to_string()))?;
    // A durable that exists is returned as it is: one made with another filter or ack wait (an
    // instance given a name already taken, or a changed setting) is said, not read as if it were
    // this one.
    let existing = &consumer.cached_info().config;
    let filter = config.filter.clone().unwrap_or_default();
    if existing.filter_subject != filter || existing.ack_wait != config.ack_wait {
        let shown = |filter: &str| {
            if filter.is_empty() {
                "everything".to_owned()
            } else {
                format!("\"{filter}\"")
            }
        };
        return Err(consumer_error(format!(
            "it exists with filter {} and ack wait {:.1} s, and this instance asks for filter {} and ack wait {:.1} s: give this instance another name, or remove the consumer (nats consumer rm {} {}) to have it made anew",
            shown(&existing.filter_subject),
            existing.ack_wait.as_secs_f64(),
            shown(&filter),
            config.ack_wait.as_secs_f64(),
            config.stream,
            config.durable,
        )));
    }
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(config.max_batch)
        // As the client's own default stream: a dead connection is noticed within 30 s.
        .heartbeat(Duration::from_secs(15))
        .messages()
        .await
        .map_err(|err| consumer_error(err.to_string()))?;
    reading.set(Some(Instant::now()));
    shared.stats.borrow_mut().error = None;
    let mut checked = Instant::now();
    // Said once until notifications are delivered again: with no subscriber, each comes back
    // every second.
    let mut undelivered_said = false;
    // Every half ack wait, the message being handled is said to be in progress.
    let mut progress = tokio::time::interval((config.ack_wait / 2).max(Duration::from_millis(1)));
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    progress.reset();
    while let Some(message) = messages.next().await {
        let message = message.map_err(|err| consumer_error(err.to_string()))?;
        let redelivered = message.info().is_ok_and(|info| info.delivered > 1);
        let kind = message
            .headers
            .as_ref()
            .and_then(|h| h.get(KIND_HEADER))
            .map(|v| v.as_str().to_owned());
        let outcome = match kind.as_deref() {
            Some("gap") => Outcome::Gap,
            Some("metrics_report") => Outcome::Skipped,
            _ => match crate::codec::receive_binary(&message.payload) {
                Ok(notifications) => {
                    let mut delivered = true;
                    for notification in notifications {
                        let mut sends: Vec<_> = {
                            let mut subscribers = shared.subscribers.borrow_mut();
                            let before = subscribers.len();
                            subscribers.retain(|(_, s)| s.connected());
                            if subscribers.len() < before {
                                tracing::warn!(
                                    gone = before - subscribers.len(),
                                    left = subscribers.len(),
                                    "NATS consumer: subscribers stopped; no longer delivered to"
                                );
                            }
                            subscribers
                                .iter()
                                .map(|(_, s)| s.send(notification.clone()))
                                .collect()
                        };
                        // Handled by every subscriber before the acknowledgement.
                        delivered &= match (sends.pop(), sends.is_empty()) {
                            (None, _) => false,
                            // One subscriber (the usual case): nothing to gather.
                            (Some(send), true) => {
                                in_progress(&message, send, &mut progress).await.is_ok()
                            }
                            (Some(last), false) => {
                                sends.push(last);
                                let handled = futures_util::future::join_all(sends);
                                let answers = in_progress(&message, handled, &mut progress).await;
                                answers.iter().all(Result::is_ok)
                            }
                        };
                        if !delivered {
                            break;
                        }
                    }
                    if delivered {
                        Outcome::Delivered
                    } else {
                        Outcome::Undelivered
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, subject = %message.subject, "NATS consumer: not a notification; skipped");
                    Outcome::Skipped
                }
            },
        };
        if outcome == Outcome::Undelivered {
            if !undelivered_said {
                tracing::error!(subject = %message.subject, stream_sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default(), "NATS consumer: a notification reached no subscriber, or one stopped before handling it: not acknowledged, JetStream delivers it again (subscribe before messages flow; each such delivery is counted in `undelivered`)");
                undelivered_said = true;
            }
            message
                .ack_with(AckKind::Nak(Some(REDELIVER_UNDELIVERED_AFTER)))
                .await
                .map_err(|err| consumer_error(err.to_string()))?;
        } else {
            if undelivered_said && outcome == Outcome::Delivered {
                tracing::info!("NATS consumer: delivering to subscribers again");
                undelivered_said = false;
            }
            message
                .ack()
                .await
                .map_err(|err| consumer_error(err.to_string()))?;
        }
        {
            let mut stats = shared.stats.borrow_mut();
            match outcome {
                Outcome::Delivered => stats.delivered += 1,
                Outcome::Gap => stats.gaps += 1,
                Outcome::Skipped => stats.skipped += 1,
                Outcome::Undelivered => stats.undelivered += 1,
            }
            if redelivered {
                stats.redelivered += 1;
            }
        }
        if checked.elapsed() > Duration::from_secs(1) {
            checked = Instant::now();
            if let Ok(info) = consumer.info().await {
                shared.stats.borrow_mut().pending = info.num_pending;
            }
        }
    }
    Ok(())
}

/// Awaits `handled` (the subscribers' answers for `message`), telling JetStream at each tick of
/// `progress` that the message is still being handled: a slow handler's message is not delivered
/// again (to another instance of a work queue) while it is at work. One timer serves every message.
async fn in_progress<T>(
    message: &async_nats::jetstream::Message,
    handled: impl Future<Output = T>,
    progress: &mut tokio::time::Interval,
) -> T {
    let mut handled = std::pin::pin!(handled);
    loop {
        tokio::select! {
            biased;
            answers = &mut handled => return answers,
            _ = progress.tick() => {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(%error, subject = %message.subject, "NATS consumer: could not tell JetStream a slow handler is still at work; it may deliver the message again");
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    /// Not handed to every subscriber: given back to JetStream, not acknowledged.
    Undelivered,
    Gap,
    Skipped,
}

/// How long a connection attempt (to each server of the list) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// When JetStream delivers again a notification no subscriber took.
const REDELIVER_UNDELIVERED_AFTER: Duration = Duration::from_secs(1);

impl Actor for JetStreamConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.run(ctx);
    }
}

impl RetryState for JetStreamConsumer {
    fn retry_state(&mut self) -> &mut Retry {
        &mut self.retry
    }

    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.run(ctx);
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
