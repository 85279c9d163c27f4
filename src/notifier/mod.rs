//! [`WsNotifier`]: the actix actor that owns the server WebSocket, stays authenticated and
//! subscribed across failures, and fans notifications out to subscriber actors.
//!
//! ```no_run
//! use actix::prelude::*;
//! use jellyfish_notifier::{MetricsReport, Notification, SubscribeMetrics, SubscribeServerNotifications, WsNotifier};
//!
//! struct Printer;
//! impl Actor for Printer {
//!     type Context = Context<Self>;
//! }
//! impl Handler<Notification> for Printer {
//!     type Result = ();
//!     fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
//!         println!("Received a notification: {notification:?}");
//!     }
//! }
//! impl Handler<MetricsReport> for Printer {
//!     type Result = ();
//!     fn handle(&mut self, report: MetricsReport, _: &mut Context<Self>) {
//!         println!("Received WebRTC metrics: {report:?}");
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() {
//!     let notifier = WsNotifier::start("localhost:5002", "development");
//!     let printer = Printer.start();
//!     let _notifications = notifier.send(SubscribeServerNotifications(printer.clone().recipient())).await.unwrap();
//!     let _metrics = notifier.send(SubscribeMetrics(printer.recipient())).await.unwrap();
//!     notifier.send(jellyfish_notifier::WaitReady).await.unwrap().expect("connected");
//!     tokio::signal::ctrl_c().await.unwrap();
//! }
//! ```

mod backoff;
mod close;
mod config;
mod connector;
mod events;
mod fanout;

use std::time::{Duration, Instant};

use actix::prelude::*;
use awc::ws;
use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

pub use backoff::Backoff;
pub use config::{DeliveryPolicy, WsNotifierBuilder, server_websocket_url};
pub use events::{ConnectionEvent, ConnectionState, NotifierError, NotifierStats};
pub use fanout::{Delivery, FanOut, SubscriptionId};

use crate::codec::{DecodedMessage, decode_server_message};
use crate::control::{ApiToken, ControlMessage, EventType};
use crate::notification::{MetricsReport, Notification};
use close::{Disposition, classify_close};
use config::NotifierConfig;

/// The actix actor that receives server notifications over the WebSocket.
///
/// Start it with [`WsNotifier::start`] (or [`WsNotifier::builder`]) inside an actix `System`, then
/// register subscriber actors with [`SubscribeServerNotifications`] and [`SubscribeMetrics`]; they
/// receive [`Notification`] / [`MetricsReport`] messages through their `Handler` impls.
///
/// It authenticates, subscribes only to the event types that have subscribers, and, unlike the
/// official SDKs, reconnects by itself with exponential backoff and full jitter, subscribing again
/// after every reconnect. A wrong token or a protocol violation stops it with a
/// [`NotifierError`]. Every subscriber gets every notification in server order; a slow subscriber
/// never holds up the socket or the others.
///
/// The server replays nothing: what it sends while no connection is up is lost.
/// [`ConnectionEvent::Ready`] reports how long such a gap lasted.
pub struct WsNotifier {
    config: NotifierConfig,
    phase: Phase,
    /// Bumped for every connection attempt, so late timers and stream items of an old connection are
    /// ignored.
    generation: u64,
    /// Consecutive attempts that did not reach ready.
    attempts: u32,
    notifications: FanOut<Notification>,
    metrics: FanOut<MetricsReport>,
    events: FanOut<ConnectionEvent>,
    next_subscription: u64,
    waiters: Vec<oneshot::Sender<Result<(), NotifierError>>>,
    lost_at: Option<Instant>,
    counters: Counters,
    /// The current connection attempt's span: every log line of the attempt carries its fields.
    span: tracing::Span,
}

#[derive(Default)]
struct Counters {
    attempts: u64,
    notifications: u64,
    metrics: u64,
    malformed: u64,
    unknown: u64,
    dropped: u64,
}

enum Phase {
    /// Opening the TCP connection and upgrading.
    Opening,
    /// Connected (authenticating, subscribing or ready).
    Open(Connection),
    /// Waiting for the backoff delay.
    Waiting,
    Failed(NotifierError),
    Stopped,
}

/// Which event types a connection has asked for and had confirmed.
#[derive(Clone, Copy, Default)]
struct Types {
    notifications: bool,
    metrics: bool,
}

impl Types {
    fn get(&self, event: EventType) -> bool {
        match event {
            EventType::Metrics => self.metrics,
            _ => self.notifications,
        }
    }

    fn set(&mut self, event: EventType) {
        match event {
            EventType::Metrics => self.metrics = true,
            _ => self.notifications = true,
        }
    }
}

struct Connection {
    writer: mpsc::UnboundedSender<ws::Message>,
    reader: SpawnHandle,
    last_received: Instant,
    authenticated: bool,
    requested: Types,
    confirmed: Types,
    ready: bool,
    /// A message arriving in continuation frames (`None` also while the rest of an oversized or
    /// text message is skipped).
    partial: Option<BytesMut>,
}

impl Connection {
    /// Authenticated with every needed type confirmed.
    fn complete(&self, needed: Types) -> bool {
        self.authenticated
            && (!needed.notifications || self.confirmed.notifications)
            && (!needed.metrics || self.confirmed.metrics)
    }

    fn send(&self, message: &ControlMessage) {
        // A closed writer means the link is going down; the reader reports that.
        let _ = self
            .writer
            .send(ws::Message::Binary(Bytes::from(message.encode())));
    }
}

/// One item from a connection's read half; `item: None` marks its end.
struct Incoming {
    generation: u64,
    item: Option<Result<ws::Frame, actix_http::ws::ProtocolError>>,
}

impl WsNotifier {
    /// Starts a notifier for `server_address` (`host:port` as in the official SDKs, or a `ws://`,
    /// `wss://`, `http://` or `https://` base URL) with the server API token, and every other option
    /// at its default.
    ///
    /// # Panics
    ///
    /// Outside an actix `System`, or if the address cannot be parsed. Use
    /// [`WsNotifier::builder`] and [`WsNotifierBuilder::try_start`] to get those as errors.
    pub fn start(
        server_address: impl Into<String>,
        server_api_token: impl Into<ApiToken>,
    ) -> Addr<Self> {
        Self::builder(server_address, server_api_token).start()
    }

    /// A builder for the other options: TLS, reconnect policy, timeouts, frame size, delivery.
    pub fn builder(
        server_address: impl Into<String>,
        server_api_token: impl Into<ApiToken>,
    ) -> WsNotifierBuilder {
        WsNotifierBuilder::new(server_address, server_api_token)
    }

    fn new(config: NotifierConfig) -> Self {
        Self {
            config,
            phase: Phase::Waiting,
            generation: 0,
            attempts: 0,
            notifications: FanOut::default(),
            metrics: FanOut::default(),
            events: FanOut::default(),
            next_subscription: 0,
            waiters: Vec::new(),
            lost_at: None,
            counters: Counters::default(),
            span: tracing::Span::none(),
        }
    }

    fn connection(&mut self) -> Option<&mut Connection> {
        match &mut self.phase {
            Phase::Open(connection) => Some(connection),
            _ => None,
        }
    }

    fn state(&self) -> ConnectionState {
        let needed = self.needed();
        match &self.phase {
            Phase::Open(c) if c.complete(needed) => ConnectionState::Ready,
            Phase::Open(_) | Phase::Opening => ConnectionState::Connecting,
            Phase::Waiting => ConnectionState::Waiting,
            Phase::Failed(err) => ConnectionState::Failed(err.clone()),
            Phase::Stopped => ConnectionState::Failed(NotifierError::Shutdown),
        }
    }

    /// Which event types have subscribers.
    fn needed(&self) -> Types {
        Types {
            notifications: !self.notifications.is_empty(),
            metrics: !self.metrics.is_empty(),
        }
    }

    fn emit(&mut self, event: ConnectionEvent) {
        self.events.deliver(event, DeliveryPolicy::Unbounded);
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        self.attempts += 1;
        self.counters.attempts += 1;
        self.phase = Phase::Opening;
        let (generation, attempt) = (self.generation, self.attempts);
        self.span = tracing::info_span!("jellyfish_connection", attempt, generation, url = %self.config.url);
        let _entered = self.span.clone().entered();
        tracing::info!("connecting to the Jellyfish server WebSocket");
        self.emit(ConnectionEvent::Connecting { attempt });
        let config = self.config.clone();
        ctx.spawn(
            connector::open(config)
                .into_actor(self)
                .map(move |opened, act, ctx| {
                    if act.generation != generation || !matches!(act.phase, Phase::Opening) {
                        return;
                    }
                    match opened {
                        Ok(framed) => act.on_open(framed, ctx),
                        Err(connector::OpenError::Fatal(err)) => act.fail(err, ctx),
                        Err(connector::OpenError::Retry(reason)) => act.lose(reason, ctx),
                    }
                }),
        );
    }

    fn on_open(&mut self, framed: connector::Framed, ctx: &mut Context<Self>) {
        let generation = self.generation;
        let (writer, reader) = connector::split(framed, generation);
        let reader = ctx.add_stream(futures_util::StreamExt::map(reader, move |item| Incoming {
            generation,
            item,
        }));
        let connection = Connection {
            writer,
            reader,
            last_received: Instant::now(),
            authenticated: false,
            requested: Types::default(),
            confirmed: Types::default(),
            ready: false,
            partial: None,
        };
        connection.send(&ControlMessage::AuthRequest {
            token: self.config.token.clone(),
        });
        self.phase = Phase::Open(connection);
        tracing::debug!(generation, "WebSocket open, authenticating");
        let timeout = self.config.auth_timeout;
        ctx.run_later(timeout, move |act, ctx| {
            let waiting =
                act.generation == generation && act.connection().is_some_and(|c| !c.authenticated);
            if waiting {
                act.lose(
                    format!("the server did not answer auth_request within {timeout:?}"),
                    ctx,
                );
            }
        });
    }

    /// Asks for every needed event type this connection has not asked for yet.
    fn request_subscriptions(&mut self, ctx: &mut Context<Self>) {
        let needed = self.needed();
        let generation = self.generation;
        let timeout = self.config.subscribe_timeout;
        let Some(connection) = self.connection() else {
            return;
        };
        if !connection.authenticated {
            return;
        }
        let mut asked = false;
        for event in [EventType::ServerNotification, EventType::Metrics] {
            if needed.get(event) && !connection.requested.get(event) {
                connection.send(&ControlMessage::SubscribeRequest(event));
                connection.requested.set(event);
                asked = true;
            }
        }
        if asked {
            ctx.run_later(timeout, move |act, ctx| {
                let needed = act.needed();
                let unconfirmed = act.generation == generation
                    && act.connection().is_some_and(|c| !c.complete(needed));
                if unconfirmed {
                    act.lose(
                        format!("the server did not confirm the subscriptions within {timeout:?}"),
                        ctx,
                    );
                }
            });
        }
    }

    /// Announces readiness once authenticated with every needed type confirmed.
    fn check_ready(&mut self) {
        let needed = self.needed();
        let Some(connection) = self.connection() else {
            return;
        };
        if !connection.complete(needed) {
            return;
        }
        let first = !connection.ready;
        connection.ready = true;
        if first {
            self.attempts = 0;
            let gap = self.lost_at.take().map(|at| at.elapsed());
            tracing::info!(
                gap_ms = gap.map(|g| g.as_millis() as u64),
                "Jellyfish notifier ready"
            );
            self.emit(ConnectionEvent::Ready { gap });
        }
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }

    /// Ends the current connection, if any: the writer closes it, the reader stops.
    fn close_connection(
        &mut self,
        ctx: &mut Context<Self>,
        close: Option<ws::CloseReason>,
    ) -> bool {
        let phase = std::mem::replace(&mut self.phase, Phase::Waiting);
        match phase {
            Phase::Open(connection) => {
                if let Some(reason) = close {
                    let _ = connection.writer.send(ws::Message::Close(Some(reason)));
                }
                ctx.cancel_future(connection.reader);
                connection.ready
            }
            other => {
                self.phase = other;
                false
            }
        }
    }

    /// The connection failed in a way that is worth another attempt.
    fn lose(&mut self, reason: String, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        if matches!(self.phase, Phase::Failed(_) | Phase::Stopped) {
            return;
        }
        let was_ready = self.close_connection(ctx, None);
        if was_ready {
            self.lost_at = Some(Instant::now());
        }
        if !self.config.backoff.may_retry(self.attempts) {
            let attempts = self.attempts;
            self.fail(
                NotifierError::RetriesExhausted {
                    attempts,
                    last_error: reason,
                },
                ctx,
            );
            return;
        }
        let retry_in = self.config.backoff.next_delay(self.attempts.max(1));
        tracing::warn!(
            attempt = self.attempts,
            delay_ms = retry_in.as_millis() as u64,
            %reason,
            "Jellyfish server WebSocket lost; reconnecting"
        );
        self.emit(ConnectionEvent::Disconnected {
            reason,
            retry_in,
            attempt: self.attempts,
        });
        self.phase = Phase::Waiting;
        let generation = self.generation;
        ctx.run_later(retry_in, move |act, ctx| {
            if act.generation == generation && matches!(act.phase, Phase::Waiting) {
                act.connect(ctx);
            }
        });
    }

    /// Stops trying for good.
    fn fail(&mut self, err: NotifierError, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        self.close_connection(ctx, None);
        tracing::error!(%err, "Jellyfish notifier stopped");
        self.phase = Phase::Failed(err.clone());
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(err.clone()));
        }
        self.emit(ConnectionEvent::Failed(err));
    }

    fn on_frame(&mut self, frame: ws::Frame, ctx: &mut Context<Self>) {
        match frame {
            ws::Frame::Binary(bytes) => self.on_message(&bytes, ctx),
            ws::Frame::Continuation(item) => self.on_continuation(item, ctx),
            ws::Frame::Ping(payload) => {
                if let Some(connection) = self.connection() {
                    let _ = connection.writer.send(ws::Message::Pong(payload));
                }
            }
            ws::Frame::Pong(_) => {}
            ws::Frame::Text(text) => {
                tracing::warn!(
                    len = text.len(),
                    "skipping a text frame: the server sends binary protobuf frames"
                );
                self.counters.malformed += 1;
            }
            ws::Frame::Close(reason) => {
                let (code, description) = match reason {
                    Some(reason) => (
                        u16::from(reason.code),
                        reason.description.unwrap_or_default(),
                    ),
                    None => (1005, String::new()),
                };
                match classify_close(code, &description) {
                    Disposition::Fatal(err) => self.fail(err, ctx),
                    Disposition::Retry => self.lose(
                        format!("the server closed the connection: {code} {description:?}"),
                        ctx,
                    ),
                }
            }
        }
    }

    fn on_continuation(&mut self, item: actix_http::ws::Item, ctx: &mut Context<Self>) {
        let limit = self.config.max_message_size;
        let Some(connection) = self.connection() else {
            return;
        };
        let (chunk, last) = match item {
            actix_http::ws::Item::FirstBinary(chunk) => {
                connection.partial = Some(BytesMut::from(&chunk[..]));
                (None, false)
            }
            actix_http::ws::Item::FirstText(_) => {
                connection.partial = None;
                (None, false)
            }
            actix_http::ws::Item::Continue(chunk) => (Some(chunk), false),
            actix_http::ws::Item::Last(chunk) => (Some(chunk), true),
        };
        if let (Some(chunk), Some(partial)) = (chunk, connection.partial.as_mut()) {
            partial.extend_from_slice(&chunk[..]);
        }
        if connection.partial.as_ref().is_some_and(|p| p.len() > limit) {
            tracing::warn!(
                limit,
                "skipping a fragmented message larger than the size cap"
            );
            connection.partial = None;
            self.counters.malformed += 1;
        }
        if last {
            let Some(connection) = self.connection() else {
                return;
            };
            if let Some(message) = connection.partial.take() {
                self.on_message(&message, ctx);
            }
        }
    }

    fn on_message(&mut self, bytes: &[u8], ctx: &mut Context<Self>) {
        match decode_server_message(bytes) {
            Ok(DecodedMessage::Notification(notification)) => self.fan_out(notification),
            Ok(DecodedMessage::Batch(notifications)) => {
                for notification in notifications {
                    self.fan_out(notification);
                }
            }
            Ok(DecodedMessage::Metrics(report)) => {
                self.counters.metrics += 1;
                let delivery = self.metrics.deliver(report, self.config.delivery);
                self.account(delivery);
            }
            Ok(DecodedMessage::Control(ControlMessage::Authenticated)) => {
                if let Some(connection) = self.connection() {
                    connection.authenticated = true;
                }
                tracing::info!("authenticated with the Jellyfish server");
                self.request_subscriptions(ctx);
                self.check_ready();
            }
            Ok(DecodedMessage::Control(ControlMessage::SubscribeResponse(event))) => {
                if let Some(connection) = self.connection() {
                    connection.confirmed.set(event);
                }
                tracing::debug!(%event, "subscription confirmed");
                self.check_ready();
            }
            Ok(DecodedMessage::Control(other)) => {
                tracing::warn!(
                    kind = other.kind(),
                    "skipping a control message the server should not send"
                );
            }
            Err(err) => {
                self.counters.malformed += 1;
                tracing::warn!(%err, len = bytes.len(), "skipping a frame that is not a valid ServerMessage");
            }
        }
    }

    fn fan_out(&mut self, notification: Notification) {
        if let Notification::Unknown(unknown) = &notification {
            // Delivered like any other (as the webhook path does), and counted.
            self.counters.unknown += 1;
            tracing::debug!(
                field = unknown.field,
                "a content member this version does not know"
            );
        }
        self.counters.notifications += 1;
        let delivery = self
            .notifications
            .deliver(notification, self.config.delivery);
        self.account(delivery);
    }

    fn account(&mut self, delivery: Delivery) {
        for id in delivery.pruned {
            tracing::debug!(subscription = id.0, "subscriber stopped; removed");
        }
        for (subscription, total) in delivery.dropped {
            self.counters.dropped += 1;
            if total.is_power_of_two() {
                tracing::warn!(
                    subscription = subscription.0,
                    total,
                    "subscriber mailbox full; messages dropped"
                );
                self.emit(ConnectionEvent::NotificationsDropped {
                    subscription,
                    total,
                });
            }
        }
    }

    /// Periodic: a dead link is noticed even when nothing arrives, and stopped subscribers leave.
    fn housekeeping(&mut self, ctx: &mut Context<Self>) {
        self.notifications.prune();
        self.metrics.prune();
        self.events.prune();
        let idle = self.config.idle_timeout;
        let silent = self.connection().map(|c| c.last_received.elapsed());
        if let Some(silent) = silent
            && silent > idle
        {
            self.lose(
                format!(
                    "nothing received for {silent:?} (idle timeout {idle:?}): the link is dead"
                ),
                ctx,
            );
        }
    }

    fn subscription(&mut self, ctx: &Context<Self>) -> Subscription {
        self.next_subscription += 1;
        Subscription {
            id: SubscriptionId(self.next_subscription),
            notifier: ctx.address(),
        }
    }
}

impl Actor for WsNotifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let period =
            (self.config.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        ctx.run_interval(period, Self::housekeeping);
        self.connect(ctx);
    }
}

impl StreamHandler<Incoming> for WsNotifier {
    fn handle(&mut self, incoming: Incoming, ctx: &mut Context<Self>) {
        if incoming.generation != self.generation {
            return;
        }
        let _entered = self.span.clone().entered();
        let Some(connection) = self.connection() else {
            return;
        };
        connection.last_received = Instant::now();
        match incoming.item {
            Some(Ok(frame)) => self.on_frame(frame, ctx),
            Some(Err(err)) => self.lose(format!("WebSocket protocol error: {err}"), ctx),
            None => self.lose("the connection ended without a close frame".to_owned(), ctx),
        }
    }

    /// The end of a stream is reported as an `Incoming` item; the actor keeps running.
    fn finished(&mut self, _: &mut Context<Self>) {}
}

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
#[derive(actix::Message)]
#[rtype(result = "Subscription")]
pub struct SubscribeConnectionEvents(pub Recipient<ConnectionEvent>);

/// Removes a subscription; answers whether it existed. [`Subscription::unsubscribe`] sends it.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "bool")]
pub struct Unsubscribe(pub SubscriptionId);

/// Resolves once authenticated with every needed subscription confirmed, or with the
/// [`NotifierError`] that stopped the notifier. Wrap it in a timeout to bound the wait.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "Result<(), NotifierError>")]
pub struct WaitReady;

/// Closes the WebSocket with a close frame, stops the timers, and stops the actor.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Answers the notifier's [`NotifierStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "NotifierStats")]
pub struct GetStats;

/// A registered subscription. Dropping it keeps the subscription; [`Subscription::unsubscribe`]
/// ends it. A subscriber actor that stops is removed automatically (within a second).
#[must_use = "dropping a Subscription keeps it; keep it to unsubscribe later"]
#[derive(Clone, Debug)]
pub struct Subscription {
    id: SubscriptionId,
    notifier: Addr<WsNotifier>,
}

impl Subscription {
    /// This subscription's id.
    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    /// Ends the subscription: no message is delivered to it after the notifier handles this.
    pub fn unsubscribe(self) {
        self.notifier.do_send(Unsubscribe(self.id));
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
        self.request_subscriptions(ctx);
        MessageResult(subscription)
    }
}

impl Handler<SubscribeMetrics> for WsNotifier {
    type Result = MessageResult<SubscribeMetrics>;

    fn handle(&mut self, msg: SubscribeMetrics, ctx: &mut Context<Self>) -> Self::Result {
        let subscription = self.subscription(ctx);
        self.metrics.add(subscription.id, msg.0);
        self.request_subscriptions(ctx);
        MessageResult(subscription)
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
        self.notifications.remove(msg.0) | self.metrics.remove(msg.0) | self.events.remove(msg.0)
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
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        let close = ws::CloseReason {
            code: ws::CloseCode::Normal,
            description: None,
        };
        self.close_connection(ctx, Some(close));
        self.phase = Phase::Stopped;
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(NotifierError::Shutdown));
        }
        tracing::info!("Jellyfish notifier shut down");
        ctx.stop();
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
