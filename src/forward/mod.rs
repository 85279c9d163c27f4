//! [`WebhookForwarder`]: relays notifications to an HTTP endpoint the way a webhook sender should
//! have done it — one at a time, in order, at least once, with retries, an idempotency key, a
//! bounded queue and an optional disk spool that survives a restart. `jellyfish-notify forward`
//! is this actor behind a command line.
//!
//! ```no_run
//! use actix::prelude::*;
//! use jellyfish_notifier::{SubscribeServerNotifications, WebhookForwarder, WsNotifier};
//!
//! # #[actix::main] async fn main() -> std::io::Result<()> {
//! let forwarder = WebhookForwarder::builder("http://localhost:5003/webhook")
//!     .spool("/var/spool/jellyfish", 1 << 30)
//!     .start()?;
//! let notifier = WsNotifier::start("localhost:5002", "development");
//! notifier.send(SubscribeServerNotifications(forwarder.recipient())).await.unwrap();
//! # Ok(()) }
//! ```
//!
//! # Guarantee
//!
//! Every notification handed to the forwarder is POSTed until the target answers 2xx (at least
//! once: a target that stores the body and then fails to answer gets it again, with the same
//! `webhook-id` header so that it can drop the duplicate), in the order received. Connection
//! failures, timeouts, 5xx, 408 and 429 are retried for ever with exponential backoff and full
//! jitter, honouring `Retry-After` (in seconds, kept between 50 ms and the backoff's cap). Any other
//! answer (a 4xx, or a 1xx/3xx: redirects are not followed, as a redirected POST would lose its
//! body) is the target's final word: counted as rejected, and delivery moves on. What does not fit
//! in the bounds (memory, and the spool if there is one), and a spool file that cannot be written
//! or no longer decodes, is dropped, counted and reported — never silently.

mod body;
mod events;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
mod phase;
mod request;
mod spool;
mod spooling;
mod target;

use std::collections::VecDeque;
use std::path::PathBuf;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytes::Bytes;

pub use crate::transport::TransportError;
pub use body::BodyFormat;
pub use events::{
    About, Drain, DrainOutcome, DropCause, ForwardEvent, ForwarderStats, GetForwarderStats,
    RetryReason,
};
pub use request::{IDEMPOTENCY_HEADER, WebhookAnswer, WebhookRequest};
pub use target::{ForwardTarget, InvalidUri, TargetError};

use crate::control::ApiToken;
use crate::notification::Notification;
use crate::retry::{GaveUp, Retries, RetryPolicy, Supervisor};
use crate::task::Task;
use phase::{Event, Next, Phase};
use request::{Verdict, http_client};
use spool::{Location, Spool};

/// Configures a [`WebhookForwarder`].
#[derive(Clone)]
pub struct WebhookForwarderBuilder {
    /// Parsed as the builder was made; a bad one is [`WebhookForwarderBuilder::start`]'s error.
    url: Result<ForwardTarget, TargetError>,
    format: BodyFormat,
    secret: Option<ApiToken>,
    timeout: Duration,
    retry: RetryPolicy,
    memory_limit: usize,
    spool: Option<(PathBuf, u64)>,
    events: Option<Recipient<ForwardEvent>>,
    #[cfg(feature = "metrics")]
    metrics: Option<metrics::ForwardMetrics>,
}

impl std::fmt::Debug for WebhookForwarderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookForwarderBuilder")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("secret", &self.secret)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("memory_limit", &self.memory_limit)
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

impl WebhookForwarderBuilder {
    /// The body format. Default [`BodyFormat::Protobuf`].
    pub fn format(mut self, format: BodyFormat) -> Self {
        self.format = format;
        self
    }

    /// Signs each body with `x-fishjam-signature-256`, as Fishjam Cloud does.
    pub fn secret(mut self, secret: impl Into<ApiToken>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// How long one POST may take before it counts as failed (and is retried). Default 10 s: a
    /// target still answering within it is never reported failed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry schedule. Default: 500 ms base, 30 s cap, full jitter, and no attempt limit: a
    /// notification is retried until the target answers. With a limit, a notification that
    /// failed that many times in a row is given up: counted as lost and said
    /// ([`DropCause::GaveUp`]), and the next one goes.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The most memory the queued bodies may take. Default 64 MiB.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Keeps the queue on disk in `dir`, so that a restart delivers what was left, first and in
    /// order. `max_bytes` (at least 64 KiB) bounds what the folder takes on disk, counted as `du`
    /// does. Records are written and synced by a thread of their own, in groups: delivery does not
    /// wait for the disk. A record that cannot be written (a full or read-only disk) stays queued
    /// in memory and [`ForwardEvent::SpoolFailing`] says why.
    pub fn spool(mut self, dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        self.spool = Some((dir.into(), max_bytes));
        self
    }

    /// Where [`ForwardEvent`]s go.
    pub fn events(mut self, recipient: Recipient<ForwardEvent>) -> Self {
        self.events = Some(recipient);
        self
    }

    /// Counts into these Prometheus metrics (feature `metrics`): delivered, retried, rejected,
    /// lost by reason, the queue's depth, the spool's size, the delivery time.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: metrics::ForwardMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Starts the forwarder in the current actix `System`, after loading the spool (if any): what
    /// it holds is delivered first. Fails if the target is not one (`InvalidInput`, its
    /// [`TargetError`] as the source) or the spool folder cannot be used.
    pub fn start(self) -> std::io::Result<Addr<WebhookForwarder>> {
        let target = match &self.url {
            Ok(target) => target.clone(),
            Err(error) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    error.clone(),
                ));
            }
        };
        let mut forwarder = WebhookForwarder {
            target,
            client: http_client(self.timeout)?,
            queue: VecDeque::new(),
            stats: ForwarderStats::default(),
            spool: None,
            spool_failure: None,
            next_seq: 0,
            run: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            phase: Phase::Idle,
            supervisor: Supervisor::new(self.retry),
            draining: Vec::new(),
            config: self,
        };
        forwarder.open_spool()?;
        Ok(forwarder.start())
    }
}

/// Where a queued notification's body is.
enum Held {
    /// In memory only: no spool, or the spool could not take it.
    Memory(Bytes),
    /// In memory, and handed to the spool's writer.
    Writing(Bytes, Location),
    /// In the spool, synced.
    Spooled(Location),
    /// In the spool, but it does not decode: passed over in its turn (already counted dropped).
    Unreadable(Location),
}

/// One queued notification.
struct Entry {
    seq: u64,
    run: u64,
    about: About,
    size: usize,
    held: Held,
    /// When it was received (or found in the spool at start), for the delivery time.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    received: std::time::Instant,
}

impl Entry {
    fn idempotency_key(&self) -> String {
        format!("msg_{:016x}_{}", self.run, self.seq)
    }
}

/// Forwards notifications to a webhook URL: in order, at least once, with bounded retries and an
/// optional disk spool (the module docs tell the whole guarantee).
///
/// ```no_run
/// use std::time::Duration;
/// use jellyfish_notifier::forward::Drain;
/// use jellyfish_notifier::{SubscribeServerNotifications, WebhookForwarder, WsNotifier};
///
/// # #[actix::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let forwarder = WebhookForwarder::builder("http://127.0.0.1:8080/webhook")
///     .secret("shared-secret")
///     .spool("/var/lib/my-app/spool", 1 << 30)
///     .start()?;
/// let notifier = WsNotifier::start("localhost:5002", "development");
/// notifier.send(SubscribeServerNotifications(forwarder.clone().recipient())).await?;
/// // … on shutdown: deliver what is queued, for at most 10 s.
/// let outcome = forwarder.send(Drain { timeout: Duration::from_secs(10) }).await?;
/// println!("{outcome:?}");
/// # Ok(()) }
/// ```
pub struct WebhookForwarder {
    config: WebhookForwarderBuilder,
    /// Where it POSTs.
    target: ForwardTarget,
    client: awc::Client,
    queue: VecDeque<Entry>,
    stats: ForwarderStats,
    spool: Option<Spool>,
    /// The spool's last write failed: where, and why.
    spool_failure: Option<(PathBuf, String)>,
    next_seq: u64,
    run: u64,
    /// What it is doing with the head entry: nothing, a POST, a wait.
    phase: Phase,
    /// Failed POSTs of the head entry in a row, and the attempt limit.
    supervisor: Supervisor,
    draining: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl WebhookForwarder {
    /// A builder for a forwarder to `url` (`http://` or `https://`, the latter with the `rustls`
    /// feature): a [`ForwardTarget`], or a text parsed into one now. A text that is not one (no
    /// host, a port out of range, a scheme this build cannot speak) makes
    /// [`start`](WebhookForwarderBuilder::start) fail with [`TargetError`] as the cause.
    pub fn builder<T>(url: T) -> WebhookForwarderBuilder
    where
        T: TryInto<ForwardTarget>,
        T::Error: Into<TargetError>,
    {
        WebhookForwarderBuilder {
            url: url.try_into().map_err(Into::into),
            format: BodyFormat::default(),
            secret: None,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default()
                .base(Duration::from_millis(500))
                .cap(Duration::from_secs(30)),
            memory_limit: 64 << 20,
            spool: None,
            events: None,
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }

    fn emit(&self, event: ForwardEvent) {
        if let Some(events) = &self.config.events {
            events.do_send(event);
        }
    }

    fn enqueue(&mut self, notification: &Notification) {
        let about = About::of(notification);
        let body = match self.config.format.encode(notification) {
            Ok(body) => body,
            Err(err) => {
                tracing::warn!(%about, %err, "cannot encode the notification; dropped");
                self.drop_one(Some(about), DropCause::Encode(err));
                return;
            }
        };
        let size = body.len();
        let cost = entry_cost(&about);
        if self.stats.memory_bytes + size + cost > self.config.memory_limit {
            let limit = self.config.memory_limit;
            let cause = match &self.spool_failure {
                // The spool is why memory fills up: say so, not "use a spool".
                Some((path, detail)) => DropCause::SpoolWrite {
                    path: path.clone(),
                    detail: detail.clone(),
                },
                None => DropCause::QueueFull { limit },
            };
            self.drop_one(Some(about), cause);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let body = Bytes::from(body);
        let held = match &mut self.spool {
            Some(spool) => {
                let Some(location) = spool.plan(size) else {
                    let limit = self.config.spool.as_ref().map_or(0, |(_, max)| *max);
                    self.drop_one(Some(about), DropCause::SpoolFull { limit });
                    return;
                };
                spool.append(location, self.run, seq, body.clone());
                self.stats.spool_bytes = spool.disk_bytes();
                Held::Writing(body, location)
            }
            None => Held::Memory(body),
        };
        self.stats.memory_bytes += size + cost;
        self.queue.push_back(Entry {
            seq,
            run: self.run,
            about,
            size,
            held,
            received: std::time::Instant::now(),
        });
        self.stats.queued = self.queue.len();
        self.levels();
    }

    /// The queue's depth and the spool's size, for the metrics.
    fn levels(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.levels(self.stats.queued, self.stats.spool_bytes);
        }
    }

    /// Counts a dropped notification; says so when the total reaches 1, 2, 4, 8, … (a firehose
    /// into a full queue must not become a firehose of reports).
    fn drop_one(&mut self, about: Option<About>, cause: DropCause) {
        self.stats.dropped += 1;
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.on_lost(cause.label());
        }
        let total = self.stats.dropped;
        if total.is_power_of_two() {
            tracing::warn!(total, %cause, "forward: notifications dropped");
            self.emit(ForwardEvent::Dropped {
                about,
                cause,
                total,
            });
        }
    }

    /// Removes the head entry after its final answer.
    fn finish_head(&mut self) {
        let Some(entry) = self.queue.pop_front() else {
            return;
        };
        let cost = entry_cost(&entry.about);
        let (body, location) = match entry.held {
            Held::Memory(_) => (entry.size, None),
            Held::Writing(_, location) => (entry.size, Some(location)),
            Held::Spooled(location) => {
                self.stats.spooled = self.stats.spooled.saturating_sub(1);
                (0, Some(location))
            }
            Held::Unreadable(location) => (0, Some(location)),
        };
        if let (Some(spool), Some(location)) = (&mut self.spool, location) {
            spool.delivered(location);
            self.stats.spool_bytes = spool.disk_bytes();
        }
        self.stats.memory_bytes = self.stats.memory_bytes.saturating_sub(body + cost);
        self.stats.queued = self.queue.len();
        self.levels();
        self.supervisor.succeeded();
        if self.queue.is_empty() {
            for waiter in self.draining.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Where `event` takes the forwarder, carried out.
    fn on(&mut self, event: Event, ctx: &mut Context<Self>) {
        match phase::next(&self.phase, event) {
            Next::Stay => {}
            Next::Post => {
                self.phase = Phase::Idle;
                self.post(ctx);
            }
            Next::Wait => {}
        }
    }

    /// POSTs the head entry (the forwarder is idle).
    fn post(&mut self, ctx: &mut Context<Self>) {
        let Some(entry) = self.queue.front() else {
            return;
        };
        let body = match &entry.held {
            Held::Memory(body) | Held::Writing(body, _) => body.clone(),
            Held::Unreadable(_) => {
                self.finish_head();
                ctx.notify(Kick);
                return;
            }
            &Held::Spooled(location) => {
                let Some(spool) = &mut self.spool else {
                    return;
                };
                match spool.read(location) {
                    Ok(body) => Bytes::from(body),
                    Err(err) => {
                        let path = spool.segment_path(location.segment);
                        let detail = err.to_string();
                        let cause = match err.kind() {
                            std::io::ErrorKind::NotFound => DropCause::SpoolGone { path },
                            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                                DropCause::SpoolCorrupt {
                                    path,
                                    offset: location.offset,
                                    bytes: location.len,
                                }
                            }
                            _ => {
                                // Transient (no file descriptors, an I/O error): try again later.
                                let reason = RetryReason::SpoolRead { path, detail };
                                self.retry_head(reason, None, ctx);
                                return;
                            }
                        };
                        let about = entry.about.clone();
                        tracing::error!(%detail, "a spooled notification cannot be read back; dropped");
                        self.finish_head();
                        self.drop_one(Some(about), cause);
                        ctx.notify(Kick);
                        return;
                    }
                }
            }
        };
        let request = WebhookRequest {
            url: self.target.as_str().to_owned(),
            content_type: self.config.format.content_type(),
            body,
            secret: self.config.secret.clone(),
            idempotency_key: Some(entry.idempotency_key()),
        };
        let client = self.client.clone();
        let posting = async move { request.send(&client).await };
        let task = Task::spawn(ctx, posting, |answer, forwarder: &mut Self, ctx| {
            forwarder.on_answer(answer, ctx);
        });
        self.phase = Phase::Posting { _task: task };
    }

    fn on_answer(&mut self, answer: WebhookAnswer, ctx: &mut Context<Self>) {
        let Some(entry) = self.queue.front() else {
            return;
        };
        let about = entry.about.clone();
        #[cfg(feature = "metrics")]
        let received = entry.received;
        match (Verdict::of(&answer), answer) {
            (Verdict::Delivered, WebhookAnswer::Status { status, .. }) => {
                self.stats.delivered += 1;
                #[cfg(feature = "metrics")]
                if let Some(metrics) = &self.config.metrics {
                    metrics.on_delivered(received.elapsed());
                }
                let attempts = self.supervisor.failures() + 1;
                self.finish_head();
                self.emit(ForwardEvent::Delivered {
                    about,
                    status,
                    attempts,
                });
                self.on(Event::Settled, ctx);
            }
            (Verdict::Rejected, WebhookAnswer::Status { status, .. }) => {
                self.stats.rejected += 1;
                #[cfg(feature = "metrics")]
                if let Some(metrics) = &self.config.metrics {
                    metrics.on_rejected();
                }
                self.finish_head();
                self.emit(ForwardEvent::Rejected { about, status });
                self.on(Event::Settled, ctx);
            }
            (
                _,
                WebhookAnswer::Status {
                    status,
                    retry_after,
                },
            ) => self.retry_head(RetryReason::Status { status }, retry_after, ctx),
            (_, WebhookAnswer::Failed(failure)) => {
                self.retry_head(RetryReason::Failed(failure), None, ctx);
            }
        }
    }

    /// The head entry failed in a way worth another try: wait as the retry policy says.
    fn retry_head(
        &mut self,
        reason: RetryReason,
        retry_after: Option<Duration>,
        ctx: &mut Context<Self>,
    ) {
        let Some(entry) = self.queue.front() else {
            return;
        };
        let about = entry.about.clone();
        self.stats.retries += 1;
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.on_retry();
        }
        if phase::next(&self.phase, Event::Failed) != Next::Wait {
            return;
        }
        match self.supervisor.failed(retry_after, ctx) {
            Ok(wait) => {
                self.emit(ForwardEvent::Retrying {
                    about,
                    reason,
                    retry_in: wait.delay,
                });
                self.phase = Phase::Waiting { _wait: wait };
            }
            Err(GaveUp { attempts }) => {
                tracing::error!(%about, attempts, %reason, "forward: gave up on a notification after the retry policy's attempt limit; dropped");
                self.finish_head();
                self.drop_one(Some(about), DropCause::GaveUp { attempts, reason });
                self.phase = Phase::Idle;
                self.on(Event::Queued, ctx);
            }
        }
    }
}

/// What an entry held in memory costs besides its body: the entry, its room id, and the
/// allocations' bookkeeping.
fn entry_cost(about: &About) -> usize {
    size_of::<Entry>() + about.room.as_ref().map_or(0, |room| room.as_str().len()) + 64
}

#[derive(actix::Message)]
#[rtype(result = "()")]
struct Kick;

impl Actor for WebhookForwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.await_reports(ctx);
        self.on(Event::Queued, ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // The writer finishes what it was handed and syncs it with the ledger.
        self.spool = None;
    }
}

impl Retries for WebhookForwarder {
    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.on(Event::WaitOver, ctx);
    }
}

impl Handler<Kick> for WebhookForwarder {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Context<Self>) {
        self.on(Event::Queued, ctx);
    }
}

impl Handler<Notification> for WebhookForwarder {
    type Result = ();

    fn handle(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        self.enqueue(&notification);
        self.on(Event::Queued, ctx);
    }
}

impl Handler<GetForwarderStats> for WebhookForwarder {
    type Result = MessageResult<GetForwarderStats>;

    fn handle(&mut self, _: GetForwarderStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats.clone())
    }
}

impl Handler<Drain> for WebhookForwarder {
    type Result = ResponseActFuture<Self, DrainOutcome>;

    fn handle(&mut self, drain: Drain, ctx: &mut Context<Self>) -> Self::Result {
        // A target that recovered gets the queue now, not after the pending retry delay.
        self.on(Event::Drain, ctx);
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.queue.is_empty() {
            let _ = tx.send(());
        } else {
            self.draining.push(tx);
        }
        Box::pin(
            async move {
                let _ = tokio::time::timeout(drain.timeout, rx).await;
            }
            .into_actor(self)
            .map(|(), act, ctx| {
                if let Some(spool) = &act.spool {
                    spool.flush();
                }
                act.take_reports();
                let spooled = act
                    .queue
                    .iter()
                    .filter(|e| matches!(e.held, Held::Spooled(_)))
                    .count();
                let lost = act.queue.len() - spooled;
                // The writer syncs the ledger and the spool's lock is released before the answer:
                // a new forwarder may open the spool at once.
                act.spool = None;
                ctx.stop();
                DrainOutcome {
                    spooled,
                    lost,
                    stats: act.stats.clone(),
                }
            }),
        )
    }
}
