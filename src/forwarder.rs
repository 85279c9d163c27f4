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

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytes::Bytes;

use crate::control::ApiToken;
use crate::notification::Notification;
use crate::retry::{Retries, Retry, RetryPolicy};
use crate::signature::{SIGNATURE_HEADER, sign_webhook};

/// The header carrying each notification's idempotency key (as in the Standard Webhooks
/// specification): the same value on every retry and after a restart from the spool.
pub const IDEMPOTENCY_HEADER: &str = "webhook-id";

/// How a notification is written in the POST body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFormat {
    /// The protobuf `ServerMessage`, as Jellyfish 0.4+ and Fishjam servers send (the default).
    #[default]
    Protobuf,
    /// This crate's JSON shape.
    Json,
}

impl BodyFormat {
    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Protobuf => "pb",
            Self::Json => "json",
        }
    }

    fn encode(self, notification: &Notification) -> Result<Vec<u8>, String> {
        match self {
            Self::Protobuf => notification.encode().map_err(|err| err.to_string()),
            Self::Json => serde_json::to_vec(notification).map_err(|err| err.to_string()),
        }
    }

    fn decode(self, body: &[u8]) -> Option<Notification> {
        match self {
            Self::Protobuf => crate::codec::receive_binary(body).ok()?.into_iter().next(),
            Self::Json => serde_json::from_slice(body).ok(),
        }
    }
}

/// What happened to a notification, for a subscriber of the forwarder's events.
#[derive(Clone, Debug, PartialEq, Eq, actix::Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum ForwardEvent {
    /// The target answered 2xx.
    Delivered {
        /// The notification's kind and room (if any), for the report.
        what: String,
        /// The HTTP status.
        status: u16,
        /// How many POSTs it took.
        attempts: u32,
    },
    /// A POST failed in a way worth retrying; the next one follows after `retry_in`.
    Retrying {
        /// The notification's kind and room.
        what: String,
        /// What went wrong.
        reason: String,
        /// The delay before the next POST.
        retry_in: Duration,
    },
    /// The target answered a final 4xx: not retried.
    Rejected {
        /// The notification's kind and room.
        what: String,
        /// The HTTP status.
        status: u16,
    },
    /// Notifications were dropped: the queue (and the spool) were full, or one could not be
    /// encoded, written to or read back from the spool. Sent when the total reaches 1, 2, 4, 8, …;
    /// [`ForwarderStats::dropped`] has the exact count.
    Dropped {
        /// The notification's kind and room.
        what: String,
        /// Dropped so far in all.
        total: u64,
    },
}

/// The forwarder's counters, from [`GetForwarderStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwarderStats {
    /// Waiting to be delivered (including the one in flight).
    pub queued: usize,
    /// Of those, kept in the spool on disk.
    pub spooled: usize,
    /// Memory the queue takes: bodies held in memory with their entries, and the index of
    /// spooled ones.
    pub memory_bytes: usize,
    /// Answered 2xx.
    pub delivered: u64,
    /// POSTs that failed and were retried.
    pub retries: u64,
    /// Answered a final 4xx.
    pub rejected: u64,
    /// Dropped because every bound was full.
    pub dropped: u64,
}

/// Answers the forwarder's [`ForwarderStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "ForwarderStats")]
pub struct GetForwarderStats;

/// Waits until the queue is empty or `timeout` has passed, then stops the forwarder. Answers what
/// was still queued: kept in the spool (delivered first on the next start), or lost.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "DrainOutcome")]
pub struct Drain {
    /// How long to keep delivering.
    pub timeout: Duration,
}

/// What [`Drain`] left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainOutcome {
    /// Still queued, kept in the spool.
    pub spooled: usize,
    /// Still queued in memory: lost with the process.
    pub lost: usize,
    /// The counters at the end.
    pub stats: ForwarderStats,
}

/// Configures a [`WebhookForwarder`].
#[derive(Clone)]
pub struct WebhookForwarderBuilder {
    url: String,
    format: BodyFormat,
    secret: Option<ApiToken>,
    timeout: Duration,
    retry: RetryPolicy,
    memory_limit: usize,
    spool: Option<(PathBuf, u64)>,
    events: Option<Recipient<ForwardEvent>>,
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

    /// The retry schedule. Default: 500 ms base, 30 s cap, full jitter. Its attempt limit is not
    /// used: a notification is retried until the target answers.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The most memory the queued bodies may take. Default 64 MiB.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Keeps the queue on disk in `dir` (at most `max_bytes`), so that a restart delivers what
    /// was left, first and in order.
    pub fn spool(mut self, dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        self.spool = Some((dir.into(), max_bytes));
        self
    }

    /// Where [`ForwardEvent`]s go.
    pub fn events(mut self, recipient: Recipient<ForwardEvent>) -> Self {
        self.events = Some(recipient);
        self
    }

    /// Starts the forwarder in the current actix `System`, after loading the spool (if any): what
    /// it holds is delivered first. Fails if the spool folder cannot be used.
    pub fn start(self) -> std::io::Result<Addr<WebhookForwarder>> {
        let mut forwarder = WebhookForwarder {
            client: http_client(self.timeout)?,
            queue: VecDeque::new(),
            stats: ForwarderStats::default(),
            spool_bytes: 0,
            next_seq: 0,
            run: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            in_flight: false,
            retry: Retry::default(),
            draining: Vec::new(),
            _spool_lock: None,
            config: self,
        };
        forwarder.load_spool()?;
        Ok(forwarder.start())
    }
}

/// One queued notification.
struct Entry {
    seq: u64,
    run: u64,
    what: String,
    size: usize,
    /// The body, when it is held in memory (otherwise it is in the spool file).
    body: Option<Bytes>,
    spooled: bool,
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
/// use jellyfish_notifier::{
///     Drain, SubscribeServerNotifications, WebhookForwarder, WsNotifier,
/// };
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
    client: awc::Client,
    queue: VecDeque<Entry>,
    stats: ForwarderStats,
    spool_bytes: u64,
    next_seq: u64,
    run: u64,
    /// A POST of the head entry is under way.
    in_flight: bool,
    /// Failed POSTs of the head entry, and its pending retry (brought forward by a drain).
    retry: Retry,
    draining: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Held for the forwarder's life: one process per spool.
    _spool_lock: Option<std::fs::File>,
}

impl WebhookForwarder {
    /// A builder for a forwarder to `url` (`http://` or `https://`, the latter with the `rustls`
    /// feature).
    pub fn builder(url: impl Into<String>) -> WebhookForwarderBuilder {
        WebhookForwarderBuilder {
            url: url.into(),
            format: BodyFormat::default(),
            secret: None,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default()
                .base(Duration::from_millis(500))
                .cap(Duration::from_secs(30)),
            memory_limit: 64 << 20,
            spool: None,
            events: None,
        }
    }

    fn emit(&self, event: ForwardEvent) {
        if let Some(events) = &self.config.events {
            events.do_send(event);
        }
    }

    fn spool_path(dir: &Path, run: u64, seq: u64, format: BodyFormat) -> PathBuf {
        dir.join(format!("{seq:020}_{run:016x}.{}", format.extension()))
    }

    /// Reads what a previous run left in the spool, oldest first.
    fn load_spool(&mut self) -> std::io::Result<()> {
        let Some((dir, _)) = self.config.spool.clone() else {
            return Ok(());
        };
        std::fs::create_dir_all(&dir)?;
        // An advisory lock, released by the kernel when the process dies: two forwarders on one
        // spool would deliver the same files twice.
        let lock = std::fs::File::create(dir.join(".lock"))?;
        if lock.try_lock().is_err() {
            return Err(std::io::Error::other(format!(
                "the spool {} is in use by another process",
                dir.display()
            )));
        }
        self._spool_lock = Some(lock);
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((stem, extension)) = name.rsplit_once('.') else {
                continue;
            };
            let format = match extension {
                "pb" => BodyFormat::Protobuf,
                "json" => BodyFormat::Json,
                _ => continue,
            };
            let Some((seq, run)) = stem.split_once('_') else {
                continue;
            };
            let (Ok(seq), Ok(run)) = (seq.parse::<u64>(), u64::from_str_radix(run, 16)) else {
                continue;
            };
            if format != self.config.format {
                return Err(std::io::Error::other(format!(
                    "the spool {} holds {extension} bodies; forward them with the same format",
                    dir.display()
                )));
            }
            let size = entry.metadata()?.len();
            found.push((seq, run, size));
        }
        found.sort_unstable();
        for (seq, run, size) in found {
            let path = Self::spool_path(&dir, run, seq, self.config.format);
            let decoded = std::fs::read(&path)
                .ok()
                .and_then(|body| self.config.format.decode(&body));
            let Some(notification) = decoded else {
                // Set aside, not sent: a file cut short cannot be what was received.
                let aside = path.with_extension("corrupt");
                tracing::error!(path = %path.display(), aside = %aside.display(), "a spooled notification does not decode; set aside");
                let _ = std::fs::rename(&path, &aside);
                self.drop_one(format!("spooled notification {seq}"));
                continue;
            };
            let what = describe(&notification);
            self.spool_bytes += size;
            self.stats.memory_bytes += entry_cost(&what);
            self.next_seq = self.next_seq.max(seq + 1);
            self.queue.push_back(Entry {
                seq,
                run,
                what,
                size: usize::try_from(size).unwrap_or(usize::MAX),
                body: None,
                spooled: true,
            });
        }
        self.stats.spooled = self.queue.len();
        self.stats.queued = self.queue.len();
        Ok(())
    }

    fn enqueue(&mut self, notification: &Notification) {
        let what = describe(notification);
        let body = match self.config.format.encode(notification) {
            Ok(body) => body,
            Err(err) => {
                tracing::warn!(%what, %err, "cannot encode the notification; dropped");
                self.drop_one(what);
                return;
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let size = body.len();
        let entry = match &self.config.spool {
            Some((dir, max)) => {
                let cost = entry_cost(&what);
                let fits = self.spool_bytes + size as u64 <= *max
                    && self.stats.memory_bytes + cost <= self.config.memory_limit;
                if !fits {
                    self.drop_one(what);
                    return;
                }
                let path = Self::spool_path(dir, self.run, seq, self.config.format);
                if let Err(err) = write_atomically(&path, &body) {
                    tracing::error!(path = %path.display(), %err, "cannot write to the spool; dropped");
                    self.drop_one(what);
                    return;
                }
                self.spool_bytes += size as u64;
                self.stats.memory_bytes += cost;
                self.stats.spooled += 1;
                Entry {
                    seq,
                    run: self.run,
                    what,
                    size,
                    body: None,
                    spooled: true,
                }
            }
            None => {
                let cost = size + entry_cost(&what);
                if self.stats.memory_bytes + cost > self.config.memory_limit {
                    self.drop_one(what);
                    return;
                }
                self.stats.memory_bytes += cost;
                Entry {
                    seq,
                    run: self.run,
                    what,
                    size,
                    body: Some(Bytes::from(body)),
                    spooled: false,
                }
            }
        };
        self.queue.push_back(entry);
        self.stats.queued = self.queue.len();
    }

    /// Counts a dropped notification; says so when the total reaches 1, 2, 4, 8, … (a firehose
    /// into a full queue must not become a firehose of reports).
    fn drop_one(&mut self, what: String) {
        self.stats.dropped += 1;
        let total = self.stats.dropped;
        if total.is_power_of_two() {
            tracing::warn!(total, %what, "forward queue full: notifications dropped");
            self.emit(ForwardEvent::Dropped { what, total });
        }
    }

    /// Removes the head entry after its final answer.
    fn finish_head(&mut self) {
        let Some(entry) = self.queue.pop_front() else {
            return;
        };
        if entry.spooled {
            if let Some((dir, _)) = &self.config.spool {
                let path = Self::spool_path(dir, entry.run, entry.seq, self.config.format);
                if let Err(err) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), %err, "cannot remove a delivered entry from the spool");
                }
            }
            self.spool_bytes = self.spool_bytes.saturating_sub(entry.size as u64);
            self.stats.spooled = self.stats.spooled.saturating_sub(1);
            let cost = entry_cost(&entry.what);
            self.stats.memory_bytes = self.stats.memory_bytes.saturating_sub(cost);
        } else {
            let cost = entry.size + entry_cost(&entry.what);
            self.stats.memory_bytes = self.stats.memory_bytes.saturating_sub(cost);
        }
        self.stats.queued = self.queue.len();
        self.retry.succeeded();
        if self.queue.is_empty() {
            for waiter in self.draining.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Sends the head entry if nothing is in flight or waiting to be retried.
    fn kick(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || self.retry.waiting() {
            return;
        }
        let Some(entry) = self.queue.front() else {
            return;
        };
        let body = match &entry.body {
            Some(body) => body.clone(),
            None => {
                let Some((dir, _)) = &self.config.spool else {
                    return;
                };
                let path = Self::spool_path(dir, entry.run, entry.seq, self.config.format);
                match std::fs::read(&path) {
                    Ok(body) => Bytes::from(body),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        let what = entry.what.clone();
                        tracing::error!(path = %path.display(), "a spooled notification is gone from the spool; dropped");
                        self.finish_head();
                        self.drop_one(what);
                        ctx.notify(Kick);
                        return;
                    }
                    Err(err) => {
                        // Transient (no file descriptors, an I/O error): try again later.
                        self.on_answer(
                            WebhookAnswer::Failed(format!("cannot read the spool: {err}")),
                            ctx,
                        );
                        return;
                    }
                }
            }
        };
        let request = WebhookRequest {
            url: self.config.url.clone(),
            content_type: self.config.format.content_type(),
            body,
            secret: self.config.secret.clone(),
            idempotency_key: Some(entry.idempotency_key()),
        };
        self.in_flight = true;
        let client = self.client.clone();
        ctx.spawn(
            async move { request.send(&client).await }
                .into_actor(self)
                .map(|answer, act, ctx| {
                    act.in_flight = false;
                    act.on_answer(answer, ctx);
                }),
        );
    }

    fn on_answer(&mut self, answer: WebhookAnswer, ctx: &mut Context<Self>) {
        let Some(entry) = self.queue.front() else {
            return;
        };
        let what = entry.what.clone();
        let retry = match answer {
            WebhookAnswer::Status {
                status: status @ 200..=299,
                ..
            } => {
                self.stats.delivered += 1;
                let attempts = self.retry.failures() + 1;
                self.finish_head();
                self.emit(ForwardEvent::Delivered {
                    what: what.clone(),
                    status,
                    attempts,
                });
                None
            }
            WebhookAnswer::Status {
                status: status @ (408 | 429 | 500..=599),
                retry_after,
            } => Some((format!("the target answered HTTP {status}"), retry_after)),
            WebhookAnswer::Status { status, .. } => {
                self.stats.rejected += 1;
                self.finish_head();
                self.emit(ForwardEvent::Rejected {
                    what: what.clone(),
                    status,
                });
                None
            }
            WebhookAnswer::Failed(reason) => Some((reason, None)),
        };
        match retry {
            None => self.kick(ctx),
            Some((reason, retry_after)) => {
                self.stats.retries += 1;
                let retry_in = self.retry.failed_again(&self.config.retry, retry_after);
                self.emit(ForwardEvent::Retrying {
                    what,
                    reason,
                    retry_in,
                });
                Retry::wait(self, retry_in, ctx);
            }
        }
    }
}

/// One webhook POST as Fishjam servers send it: the body with its content type, the
/// `x-fishjam-signature-256` signature when there is a secret, and an idempotency key when the
/// sender retries. The emulator's webhook sender and [`WebhookForwarder`] both send through it.
#[derive(Clone)]
pub struct WebhookRequest {
    /// Where to POST.
    pub url: String,
    /// `application/x-protobuf` or `application/json`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
    /// Signs the body when set.
    pub secret: Option<ApiToken>,
    /// Sent as [`IDEMPOTENCY_HEADER`] when set.
    pub idempotency_key: Option<String>,
}

impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("secret", &self.secret)
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

/// How a [`WebhookRequest`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookAnswer {
    /// The target answered (any status), with its `Retry-After` in seconds if it sent one.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After`, when it is a number of seconds.
        retry_after: Option<Duration>,
    },
    /// No answer: refused, reset, timed out, TLS failure; the transport's words.
    Failed(String),
}

impl WebhookRequest {
    /// Sends it with `client` (whose timeout bounds the whole exchange) and reads the answer, so
    /// that the connection can be reused.
    pub async fn send(self, client: &awc::Client) -> WebhookAnswer {
        let mut request = client
            .post(self.url.as_str())
            .insert_header(("content-type", self.content_type));
        if let Some(key) = &self.idempotency_key {
            request = request.insert_header((IDEMPOTENCY_HEADER, key.as_str()));
        }
        if let Some(secret) = &self.secret {
            request = request.insert_header((
                SIGNATURE_HEADER,
                sign_webhook(secret.expose().as_bytes(), &self.body),
            ));
        }
        match request.send_body(self.body).await {
            Ok(mut response) => {
                let _ = response.body().limit(64 * 1024).await;
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                WebhookAnswer::Status {
                    status: response.status().as_u16(),
                    retry_after,
                }
            }
            Err(err) => WebhookAnswer::Failed(err.to_string()),
        }
    }
}

/// An HTTP client with this crate's TLS roots (feature `rustls`).
fn http_client(timeout: Duration) -> std::io::Result<awc::Client> {
    #[cfg(feature = "rustls")]
    {
        let tls = crate::tls::ExtraRoots::default()
            .client_config()
            .map_err(std::io::Error::other)?;
        Ok(awc::Client::builder()
            .timeout(timeout)
            .disable_redirects()
            .connector(awc::Connector::new().rustls_0_23(tls))
            .finish())
    }
    #[cfg(not(feature = "rustls"))]
    {
        Ok(awc::Client::builder()
            .timeout(timeout)
            .disable_redirects()
            .finish())
    }
}

/// Writes a spool file whole or not at all: a temporary file, synced, then renamed (a kill in the
/// middle leaves a `.tmp` that loading ignores).
fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(body)?;
    file.sync_data()?;
    std::fs::rename(&temporary, path)
}

/// What an entry held in memory costs besides its body: the entry, its description, and the
/// allocations' bookkeeping.
fn entry_cost(what: &str) -> usize {
    size_of::<Entry>() + what.len() + 64
}

/// "`peer_added` of room r1".
fn describe(notification: &Notification) -> String {
    match notification.room_id() {
        Some(room) => format!("{} of room {room}", notification.kind()),
        None => notification.kind().to_owned(),
    }
}

#[derive(actix::Message)]
#[rtype(result = "()")]
struct Kick;

impl Actor for WebhookForwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.kick(ctx);
    }
}

impl Retries for WebhookForwarder {
    fn retry_state(&mut self) -> &mut Retry {
        &mut self.retry
    }

    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.kick(ctx);
    }
}

impl Handler<Kick> for WebhookForwarder {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Context<Self>) {
        self.kick(ctx);
    }
}

impl Handler<Notification> for WebhookForwarder {
    type Result = ();

    fn handle(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        self.enqueue(&notification);
        self.kick(ctx);
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
        Retry::now(self, ctx);
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
                let spooled = act.queue.iter().filter(|e| e.spooled).count();
                let lost = act.queue.len() - spooled;
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
