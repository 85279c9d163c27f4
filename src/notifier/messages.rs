//! The messages a [`WsNotifier`] answers: subscriptions, streams, readiness, stats and shutdown,
//! each with its handler.

use actix::prelude::*;
use awc::ws;
use tokio::sync::oneshot;

use super::{ConnectionEvent, ConnectionState};
use super::{
    MetricsStream, NotificationStream, NotifierError, NotifierStats, Phase, SubscriptionId,
    WsNotifier, stream,
};
use crate::notification::{MetricsReport, Notification};

/// Subscribes an actor to every server notification (all rooms). Answered with a
/// [`Subscription`].
///
/// The notifier sends `subscribe_request` for notifications when the first such subscriber arrives,
/// and again after every reconnect.
#[derive(actix::Message)]
#[rtype(result = "Subscription")]
pub struct SubscribeServerNotifications(pub Recipient<Notification>);

/// Subscribes an actor to the metrics reports (every 1000 ms; Jellyfish only). Answered with a
/// [`Subscription`].
#[derive(actix::Message)]
#[rtype(result = "Subscription")]
pub struct SubscribeMetrics(pub Recipient<MetricsReport>);

/// Subscribes an actor to [`ConnectionEvent`]s. Answered with a [`Subscription`].
///
/// Events that happened before this message was handled are not replayed: the first
/// `Connecting`, and often the first `Ready`, come before a subscription sent after
/// [`WsNotifier::start`]. Give the subscriber to
/// [`WsNotifierBuilder::subscribe_connection_events`](super::WsNotifierBuilder::subscribe_connection_events) to see every event.
#[derive(actix::Message)]
#[rtype(result = "Subscription")]
pub struct SubscribeConnectionEvents(pub Recipient<ConnectionEvent>);

/// Subscribes a bounded [`NotificationStream`] to every server notification: for code that is not
/// an actor. Answered with the stream; dropping it ends the subscription.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "NotificationStream")]
pub struct StreamNotifications {
    /// How many notifications may wait in the stream before it lags (at least 1).
    pub capacity: usize,
}

/// Subscribes a bounded [`MetricsStream`] to the metrics reports. Answered with the stream.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "MetricsStream")]
pub struct StreamMetrics {
    /// How many reports may wait in the stream before it lags (at least 1).
    pub capacity: usize,
}

/// Removes a subscription; answers whether it existed. [`Subscription::unsubscribe`] sends it.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "bool")]
pub struct Unsubscribe(pub SubscriptionId);

/// Resolves once authenticated with every needed subscription confirmed, or with the
/// [`NotifierError`] that stopped the notifier. Wrap it in a timeout to bound the wait.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "Result<(), NotifierError>")]
pub struct WaitReady;

/// Closes the WebSocket with close 1000, waits (at most the builder's `close_timeout`, 2 s by
/// default) for the server's close reply, then stops the actor. Answered once stopped.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Answers the notifier's [`NotifierStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "NotifierStats")]
pub struct GetStats;

/// A registered subscription. Dropping it keeps the subscription; [`Subscription::unsubscribe`]
/// ends it. A subscriber actor that stops is removed automatically (within a second).
///
/// The same for every source that answers [`SubscribeServerNotifications`]: a [`WsNotifier`], or
/// (feature `nats`) a `JetStreamConsumer`.
#[must_use = "dropping a Subscription keeps it; keep it to unsubscribe later"]
#[derive(Clone, Debug)]
pub struct Subscription {
    id: SubscriptionId,
    source: Recipient<Unsubscribe>,
}

impl Subscription {
    /// A subscription `id` of the actor behind `source`.
    pub(crate) fn new(id: SubscriptionId, source: Recipient<Unsubscribe>) -> Self {
        Self { id, source }
    }

    /// This subscription's id.
    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    /// Ends the subscription: no message is delivered to it after the source handles this.
    pub fn unsubscribe(self) {
        self.source.do_send(Unsubscribe(self.id));
    }
}

impl Handler<SubscribeServerNotifications> for WsNotifier {
    type Result = MessageResult<SubscribeServerNotifications>;

    fn handle(
        &mut self,
        msg: SubscribeServerNotifications,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        let subscription = self.subscription(ctx);
        self.notifications.add(subscription.id, msg.0);
        self.wanted();
        MessageResult(subscription)
    }
}

impl Handler<SubscribeMetrics> for WsNotifier {
    type Result = MessageResult<SubscribeMetrics>;

    fn handle(&mut self, msg: SubscribeMetrics, ctx: &mut Context<Self>) -> Self::Result {
        let subscription = self.subscription(ctx);
        self.metrics.add(subscription.id, msg.0);
        self.wanted();
        MessageResult(subscription)
    }
}

impl Handler<StreamNotifications> for WsNotifier {
    type Result = MessageResult<StreamNotifications>;

    fn handle(&mut self, msg: StreamNotifications, _: &mut Context<Self>) -> Self::Result {
        let id = self.next_id();
        let (sender, stream) = stream::channel(id, msg.capacity);
        self.notifications.add_stream(id, sender);
        self.wanted();
        MessageResult(stream)
    }
}

impl Handler<StreamMetrics> for WsNotifier {
    type Result = MessageResult<StreamMetrics>;

    fn handle(&mut self, msg: StreamMetrics, _: &mut Context<Self>) -> Self::Result {
        let id = self.next_id();
        let (sender, stream) = stream::channel(id, msg.capacity);
        self.metrics.add_stream(id, sender);
        self.wanted();
        MessageResult(stream)
    }
}

impl Handler<SubscribeConnectionEvents> for WsNotifier {
    type Result = MessageResult<SubscribeConnectionEvents>;

    fn handle(&mut self, msg: SubscribeConnectionEvents, ctx: &mut Context<Self>) -> Self::Result {
        let subscription = self.subscription(ctx);
        self.events.add(subscription.id, msg.0);
        MessageResult(subscription)
    }
}

impl Handler<Unsubscribe> for WsNotifier {
    type Result = bool;

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) -> bool {
        // The server has no unsubscribe: frames of a type nobody wants are simply not delivered.
        let removed = self.notifications.remove(msg.0)
            | self.metrics.remove(msg.0)
            | self.events.remove(msg.0);
        // A type nobody wants any more no longer holds up readiness.
        self.wanted();
        removed
    }
}

impl Handler<WaitReady> for WsNotifier {
    type Result = ResponseFuture<Result<(), NotifierError>>;

    fn handle(&mut self, _: WaitReady, _: &mut Context<Self>) -> Self::Result {
        let immediate = match self.state() {
            ConnectionState::Ready => Some(Ok(())),
            ConnectionState::Failed(err) => Some(Err(err)),
            _ => None,
        };
        if let Some(result) = immediate {
            return Box::pin(std::future::ready(result));
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        Box::pin(async move { rx.await.unwrap_or(Err(NotifierError::Shutdown)) })
    }
}

impl Handler<Shutdown> for WsNotifier {
    type Result = ResponseActFuture<Self, ()>;

    /// Sends close 1000 and waits (at most `close_timeout`) for the server's reply, so the server
    /// sees a clean close, not a dropped socket; then stops.
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        // Open: closed (close 1000, its reply awaited); an attempt or a wait: cancelled with its
        // phase; closing already: its close goes on; failed or stopped: nothing to close.
        let next = super::phase::next(&self.phase, super::phase::Event::Shutdown);
        let connection = match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Open(connection) if next == super::phase::Next::Close => {
                let close = ws::CloseReason {
                    code: ws::CloseCode::Normal,
                    description: None,
                };
                let _ = connection.writer.send(ws::Message::Close(Some(close)));
                Some(connection)
            }
            Phase::Closing { connection, .. } => connection,
            other => {
                // Nothing to close: an attempt or a wait is cancelled with its phase.
                self.phase = other;
                self.leave_phase(ctx, None);
                None
            }
        };
        let waiting = connection.is_some();
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.stopped();
        }
        self.phase = Phase::Closing {
            connection,
            replied: waiting.then_some(tx),
        };
        let timeout = self.config.close_timeout;
        Box::pin(
            async move {
                if waiting {
                    let _ = tokio::time::timeout(timeout, rx).await;
                }
            }
            .into_actor(self)
            .map(|(), act, ctx| {
                act.leave_phase(ctx, None);
                act.phase = Phase::Stopped;
                for waiter in act.waiters.drain(..) {
                    let _ = waiter.send(Err(NotifierError::Shutdown));
                }
                tracing::info!("Jellyfish notifier shut down");
                ctx.stop();
            }),
        )
    }
}

impl Handler<GetStats> for WsNotifier {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(NotifierStats {
            state: self.state(),
            connection_attempts: self.counters.attempts,
            notifications_received: self.counters.notifications,
            metrics_received: self.counters.metrics,
            malformed_frames: self.counters.malformed,
            unknown_members: self.counters.unknown,
            dropped: self.counters.dropped,
            notification_subscribers: self.notifications.len(),
            metrics_subscribers: self.metrics.len(),
        })
    }
}
