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

mod close;
mod config;
mod connector;
mod events;
mod fanout;
mod handshake;
mod incoming;
mod liveness;
mod messages;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
mod phase;
mod reassembly;
mod stream;

use incoming::Incoming;

use std::time::Instant;

use actix::prelude::*;
use awc::ws;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub use config::{DeliveryPolicy, WsNotifierBuilder, server_websocket_url};
pub use events::{
    ConnectionEvent, ConnectionState, DisconnectReason, NotifierError, NotifierStats,
    ProtocolViolation,
};
pub use fanout::{Delivery, FanOut, SubscriptionId};
pub use messages::{
    GetStats, Shutdown, StreamMetrics, StreamNotifications, SubscribeConnectionEvents,
    SubscribeMetrics, SubscribeServerNotifications, Subscription, Unsubscribe, WaitReady,
};
pub use stream::{Lagged, MessageStream};

use crate::codec::{DecodedMessage, decode_server_message};
use crate::control::{ApiToken, ControlMessage, EventType};
use crate::notification::{MetricsReport, Notification};
use crate::retry::{GaveUp, Retries, Supervisor, Wait};
use crate::task::Task;
use close::{Disposition, classify_close};
use config::{InitialSubscribers, NotifierConfig};
use handshake::{Handshake, Step, Types};
use reassembly::{Outcome, Reassembly, Skip};

/// A bounded stream of notifications: see [`MessageStream`] and [`StreamNotifications`].
pub type NotificationStream = MessageStream<Notification>;

/// A bounded stream of metrics reports: see [`MessageStream`] and [`StreamMetrics`].
pub type MetricsStream = MessageStream<MetricsReport>;

/// The actix actor that receives server notifications over the WebSocket.
///
/// Start it with [`WsNotifier::start`] (or [`WsNotifier::builder`]) inside an actix `System`, then
/// register subscriber actors with [`SubscribeServerNotifications`] and [`SubscribeMetrics`] (or
/// give them to the builder, so that they see the very first events); they receive
/// [`Notification`] / [`MetricsReport`] messages through their `Handler` impls. Code that is not an
/// actor takes a bounded [`NotificationStream`] with [`StreamNotifications`].
///
/// It authenticates, subscribes only to the event types that have subscribers, and, unlike the
/// official SDKs, reconnects by itself with exponential backoff and full jitter (for ever, unless
/// [`RetryPolicy::max_attempts`](crate::retry::RetryPolicy::max_attempts) says otherwise), subscribing again after every reconnect. A wrong
/// token or a protocol violation stops it with a [`NotifierError`]. Every subscriber gets every
/// notification in server order; a slow subscriber never holds up the socket or the others.
///
/// The server replays nothing: what it sends while no connection is up is lost.
/// [`ConnectionEvent::Ready`] reports how long such a gap lasted.
///
/// A test against the emulator package (`jellyfish-emulator`, a dev-dependency):
///
/// ```
/// use actix::prelude::*;
/// use jellyfish_emulator::Emulator;
/// use jellyfish_notifier::{Notification, WaitReady, WsNotifier};
/// use tokio::sync::mpsc;
///
/// struct Forward(mpsc::UnboundedSender<Notification>);
/// impl Actor for Forward {
///     type Context = Context<Self>;
/// }
/// impl Handler<Notification> for Forward {
///     type Result = ();
///     fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
///         let _ = self.0.send(notification);
///     }
/// }
///
/// # actix::System::new().block_on(async {
/// let emulator = Emulator::builder().token("secret").start().await.unwrap();
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// let notifier = WsNotifier::builder(emulator.server_address(), "secret")
///     .subscribe_notifications(Forward(tx).start().recipient())
///     .start();
/// notifier.send(WaitReady).await.unwrap().unwrap();
///
/// emulator.create_room(&serde_json::json!({"roomId": "r1"})).unwrap();
/// assert_eq!(rx.recv().await.unwrap().kind(), "room_created");
/// # });
/// ```
pub struct WsNotifier {
    config: NotifierConfig,
    phase: Phase,
    /// Consecutive failed attempts since the last stable connection (one that stayed ready for
    /// the policy's `reset_after`): the delay grows with it, so a crash-looping server is not
    /// stormed; and the attempt limit.
    supervisor: Supervisor,
    notifications: FanOut<Notification>,
    metrics: FanOut<MetricsReport>,
    events: FanOut<ConnectionEvent>,
    next_subscription: u64,
    waiters: Vec<oneshot::Sender<Result<(), NotifierError>>>,
    lost_at: Option<Instant>,
    counters: Counters,
    /// Consecutive connections dropped while a metrics subscription was unanswered.
    metrics_drops: u32,
    /// The server does not do metrics (Fishjam Cloud): they are no longer asked for.
    metrics_unsupported: bool,
    /// When housekeeping last ran: a late tick means the process itself was paused.
    last_tick: Instant,
    /// Consecutive late housekeeping ticks: a thread that is always late is busy, not paused.
    late_ticks: u32,
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

/// Where the actor stands. Each phase owns what runs for it (the opening task, the reader, the
/// retry timer), and leaving a phase cancels it: nothing of an old connection can reach a new one.
enum Phase {
    /// Opening the TCP connection and upgrading.
    Opening {
        _task: Task,
    },
    /// Connected: authenticating, subscribing or ready.
    Open(Connection),
    /// Waiting for the backoff delay.
    Waiting {
        _wait: Wait,
    },
    /// `Shutdown` is under way: close 1000 was sent on the connection (if there was one), whose
    /// frames are still read and delivered until the server's reply, which `replied` reports.
    /// Nothing reconnects or fails any more.
    Closing {
        connection: Option<Connection>,
        replied: Option<oneshot::Sender<()>>,
    },
    Failed(NotifierError),
    Stopped,
}

struct Connection {
    writer: mpsc::UnboundedSender<ws::Message>,
    reader: SpawnHandle,
    /// When the last byte arrived (any frame, pongs included): where a gap starts.
    last_byte: Instant,
    /// The same, moved forward across pauses of this process: what the idle timeout judges.
    last_received: Instant,
    /// When this client last pinged the server.
    last_ping: Instant,
    handshake: Handshake,
    reassembly: Reassembly,
}

impl Connection {
    fn send(&self, message: &ControlMessage) {
        // A closed writer means the link is going down; the reader reports that.
        let _ = self
            .writer
            .send(ws::Message::Binary(Bytes::from(message.encode())));
    }
}

impl WsNotifier {
    /// Starts a notifier for `server_address` with the server API token (Fishjam: the management
    /// token), and every other option at its default. The address is `host:port` as in the
    /// official SDKs, a `ws://`, `wss://`, `http://` or `https://` base URL, or a Fishjam ID (one
    /// word of letters, digits, `-`, `_`; not `localhost`), which means
    /// `wss://fishjam.io/api/v1/connect/{id}` as in the official SDKs: give a host a port or a
    /// scheme so it is not taken for one. The URL it connects to is in every log line's span.
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

    /// A builder for the other options: TLS, reconnect policy, timeouts, frame size, delivery, and
    /// subscribers that must see the first events.
    pub fn builder(
        server_address: impl Into<String>,
        server_api_token: impl Into<ApiToken>,
    ) -> WsNotifierBuilder {
        WsNotifierBuilder::new(server_address, server_api_token)
    }

    fn new(config: NotifierConfig, initial: InitialSubscribers) -> Self {
        let mut notifier = Self {
            supervisor: Supervisor::new(config.retry),
            config,
            phase: Phase::Stopped,
            notifications: FanOut::default(),
            metrics: FanOut::default(),
            events: FanOut::default(),
            next_subscription: initial.last_id,
            waiters: Vec::new(),
            lost_at: None,
            counters: Counters::default(),
            metrics_drops: 0,
            metrics_unsupported: false,
            last_tick: Instant::now(),
            late_ticks: 0,
            span: tracing::Span::none(),
        };
        for (id, recipient) in initial.notifications {
            notifier.notifications.add(id, recipient);
        }
        for (id, sender) in initial.notification_streams {
            notifier.notifications.add_stream(id, sender);
        }
        for (id, recipient) in initial.metrics {
            notifier.metrics.add(id, recipient);
        }
        for (id, recipient) in initial.events {
            notifier.events.add(id, recipient);
        }
        notifier
    }

    fn next_id(&mut self) -> SubscriptionId {
        self.next_subscription += 1;
        SubscriptionId(self.next_subscription)
    }

    fn connection(&mut self) -> Option<&mut Connection> {
        match &mut self.phase {
            Phase::Open(connection)
            | Phase::Closing {
                connection: Some(connection),
                ..
            } => Some(connection),
            _ => None,
        }
    }

    fn state(&self) -> ConnectionState {
        match &self.phase {
            Phase::Open(c) if c.handshake.is_ready(self.needed()) => ConnectionState::Ready,
            Phase::Open(_) | Phase::Opening { .. } => ConnectionState::Connecting,
            Phase::Waiting { .. } => ConnectionState::Waiting,
            Phase::Failed(err) => ConnectionState::Failed(err.clone()),
            Phase::Closing { .. } | Phase::Stopped => {
                ConnectionState::Failed(NotifierError::Shutdown)
            }
        }
    }

    /// Which event types have subscribers.
    fn needed(&self) -> Types {
        Types {
            notifications: !self.notifications.is_empty(),
            metrics: !self.metrics.is_empty() && !self.metrics_unsupported,
        }
    }

    fn emit(&mut self, event: ConnectionEvent) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.event(&event);
        }
        self.events.deliver(event, DeliveryPolicy::Unbounded);
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        self.counters.attempts += 1;
        let attempt = self.supervisor.failures() + 1;
        self.span = tracing::info_span!("jellyfish_connection", attempt, url = %self.config.url);
        let _entered = self.span.clone().entered();
        tracing::info!("connecting to the Jellyfish server WebSocket");
        self.emit(ConnectionEvent::Connecting { attempt });
        let opening = Task::spawn(
            ctx,
            connector::open(self.config.clone()),
            |opened, act: &mut Self, ctx| match opened {
                Ok(framed)
                    if phase::next(&act.phase, phase::Event::Opened) == phase::Next::Open =>
                {
                    act.on_open(framed, ctx);
                }
                Ok(_) => {}
                Err(connector::OpenError::Fatal(err)) => act.fail(err, ctx),
                Err(connector::OpenError::Retry(reason)) => act.lose(reason, ctx),
            },
        );
        self.phase = Phase::Opening { _task: opening };
    }

    fn on_open(&mut self, framed: connector::Framed, ctx: &mut Context<Self>) {
        let (writer, reader) = connector::split(framed);
        let reader = ctx.add_stream(futures_util::StreamExt::map(reader, Incoming));
        let now = Instant::now();
        let connection = Connection {
            writer,
            reader,
            last_byte: now,
            last_received: now,
            last_ping: now,
            handshake: Handshake::start(
                now,
                self.config.auth_timeout,
                self.config.subscribe_timeout,
            ),
            reassembly: Reassembly::new(self.config.max_message_size),
        };
        connection.send(&ControlMessage::AuthRequest {
            token: self.config.token.clone(),
        });
        self.phase = Phase::Open(connection);
        tracing::debug!("WebSocket open, authenticating");
    }

    /// Sends what a handshake step asks for, and announces readiness.
    fn apply(&mut self, step: Step) {
        if let Some(connection) = self.connection() {
            for message in &step.send {
                connection.send(message);
            }
        }
        if step.ready {
            // The attempt count starts over once this connection proves stable: judged when it
            // ends, by how long it stayed ready.
            self.supervisor.connected(Instant::now());
        }
        if step.ready {
            // From the last frame of the lost connection to now (this connection's latest frame).
            let gap = self.lost_at.take().map(|at| at.elapsed());
            tracing::info!(
                gap_ms = gap.map(|g| g.as_millis() as u64),
                "Jellyfish notifier ready"
            );
            self.emit(ConnectionEvent::Ready { gap });
        }
        if matches!(self.state(), ConnectionState::Ready) {
            for waiter in self.waiters.drain(..) {
                let _ = waiter.send(Ok(()));
            }
        }
    }

    /// A subscriber of a type that may be new arrived: subscribe to it on the open connection.
    fn wanted(&mut self) {
        let needed = self.needed();
        if let Some(connection) = self.connection() {
            let step = connection.handshake.on_wanted(Instant::now(), needed);
            self.apply(step);
        }
    }

    /// Leaves the current phase, cancelling what runs for it. Answers, if a connection that was
    /// ready is lost, when it last received anything: where the gap starts.
    fn leave_phase(
        &mut self,
        ctx: &mut Context<Self>,
        close: Option<ws::CloseReason>,
    ) -> Option<Instant> {
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Open(connection)
            | Phase::Closing {
                connection: Some(connection),
                ..
            } => {
                if let Some(reason) = close {
                    let _ = connection.writer.send(ws::Message::Close(Some(reason)));
                }
                ctx.cancel_future(connection.reader);
                connection
                    .handshake
                    .was_ready()
                    .then_some(connection.last_byte)
            }
            // Dropped, the opening task or the wait's timer never answers.
            Phase::Opening { .. } | Phase::Waiting { .. } => None,
            Phase::Closing {
                connection: None, ..
            } => None,
            finished @ (Phase::Failed(_) | Phase::Stopped) => {
                self.phase = finished;
                None
            }
        }
    }

    /// The connection failed in a way that is worth another attempt.
    fn lose(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        match phase::next(&self.phase, phase::Event::Lost) {
            phase::Next::Wait => {}
            phase::Next::Stop => return self.closing_ended(),
            _ => return,
        }
        self.note_metrics_refusal();
        if let Some(last_received) = self.leave_phase(ctx, None) {
            self.lost_at = Some(last_received);
        }
        let wait = match self.supervisor.failed(None, ctx) {
            Ok(wait) => wait,
            Err(GaveUp { attempts }) => {
                let exhausted = NotifierError::RetriesExhausted {
                    attempts,
                    last_error: reason,
                };
                return self.failed_for_good(exhausted, ctx);
            }
        };
        let (attempt, retry_in) = (wait.attempt, wait.delay);
        tracing::warn!(
            attempt,
            delay_ms = retry_in.as_millis() as u64,
            %reason,
            "Jellyfish server WebSocket lost; reconnecting"
        );
        self.emit(ConnectionEvent::Disconnected {
            reason,
            retry_in,
            attempt,
        });
        self.phase = Phase::Waiting { _wait: wait };
    }

    /// While `Shutdown` waits, the connection's end (the server's close reply, or the link
    /// going) finishes it.
    fn closing_ended(&mut self) {
        if let Phase::Closing { replied, .. } = &mut self.phase
            && let Some(replied) = replied.take()
        {
            let _ = replied.send(());
        }
    }

    /// Stops trying for good.
    fn fail(&mut self, err: NotifierError, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        match phase::next(&self.phase, phase::Event::Fatal) {
            phase::Next::Fail => self.failed_for_good(err, ctx),
            phase::Next::Stop => self.closing_ended(),
            _ => {}
        }
    }

    /// The phase left for [`Phase::Failed`]: said, and everyone waiting told.
    fn failed_for_good(&mut self, err: NotifierError, ctx: &mut Context<Self>) {
        let err = self.config.noted(err);
        self.leave_phase(ctx, None);
        tracing::error!(%err, "Jellyfish notifier stopped");
        self.phase = Phase::Failed(err.clone());
        // Streams end with the notifier; actors hear it from `ConnectionEvent::Failed`.
        self.notifications.close_streams();
        self.metrics.close_streams();
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(err.clone()));
        }
        self.emit(ConnectionEvent::Failed(err));
    }

    /// A connection ended: twice in a row right after asking for metrics (with or without a close
    /// frame) means the server has none (Fishjam Cloud), so stop asking. The attempts that cause
    /// found do not count toward an attempt limit.
    fn note_metrics_refusal(&mut self) {
        let awaiting_metrics = self
            .connection()
            .is_some_and(|c| c.handshake.awaiting(EventType::Metrics));
        if !awaiting_metrics {
            return;
        }
        self.metrics_drops += 1;
        if self.metrics_drops >= 2 && !self.metrics_unsupported {
            self.metrics_unsupported = true;
            self.supervisor.succeeded();
            tracing::warn!(
                "the server dropped the connection on every metrics subscription: it has no metrics \
                 (Fishjam Cloud); no longer asking for them"
            );
            self.emit(ConnectionEvent::MetricsUnsupported);
        }
    }

    fn subscription(&mut self, ctx: &Context<Self>) -> Subscription {
        Subscription::new(self.next_id(), ctx.address().recipient())
    }
}

impl Retries for WsNotifier {
    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        if phase::next(&self.phase, phase::Event::WaitOver) == phase::Next::Connect {
            self.connect(ctx);
        }
    }
}

impl Actor for WsNotifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(address) = &self.config.fishjam_id {
            tracing::info!(%address, "the server address is a Fishjam ID");
        }
        self.last_tick = Instant::now();
        ctx.run_interval(self.tick_period(), Self::housekeeping);
        self.connect(ctx);
    }
}
