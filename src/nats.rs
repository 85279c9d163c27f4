//! NATS JetStream (feature `nats`): [`JetStreamBridge`] publishes every notification into a durable
//! stream, [`JetStreamConsumer`] reads it back and delivers it to the same `Handler<Notification>`
//! subscribers a [`WsNotifier`](crate::WsNotifier) feeds.
//!
//! **Subjects.** A notification about a room goes to `<prefix>.<room>.<kind>` (`jellyfish.lobby.
//! peer_connected`); one without a room (livestreams, recordings) to `<prefix>.~.<kind>`; the
//! notifier's gaps to `<prefix>.~.gap`; metrics reports to `<prefix>.metrics`. The room token is the
//! room id with every byte outside `A-Z a-z 0-9 - _` written as `%XX` (so `.`, `*`, `>`, `~`, `%` and
//! whitespace cannot break the hierarchy): [`subject_token`]. Filter one room with
//! `<prefix>.<token>.*`, one kind with `<prefix>.*.<kind>`.
//!
//! **Messages.** The body is the notification's protobuf `ServerMessage`, the bytes the server
//! sends, so any official SDK's `receive_binary` decodes it. Headers: [`KIND_HEADER`],
//! [`ROOM_HEADER`] (the room id as sent), and `Nats-Msg-Id` ([`DedupIds`]).
//!
//! **De-duplication.** The server gives notifications no ids, so two bridges on one server agree on
//! an id from what they both see: the room, the notification's bytes, and how many times the same
//! bytes came before in that room (within the stream's duplicate window), corrected by JetStream's
//! own answers. JetStream stores a message id once per duplicate window. What this guarantees, and
//! where it stops, is on [`DedupIds`].

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::notification::{MetricsReport, Notification};
use crate::notifier::{
    ConnectionEvent, SubscribeServerNotifications, Subscription, SubscriptionId, Unsubscribe,
};
use crate::retry::{Retries, Retry, RetryPolicy};

/// The subject prefix when none is given.
pub const DEFAULT_PREFIX: &str = "jellyfish";
/// The stream name when none is given.
pub const DEFAULT_STREAM: &str = "JELLYFISH";
/// The header carrying the notification's kind (`peer_connected`; `gap` for a gap message).
pub const KIND_HEADER: &str = "Jellyfish-Kind";
/// The header carrying the room id as the server sent it (absent without a room).
pub const ROOM_HEADER: &str = "Jellyfish-Room";
/// The room token of messages that belong to no room.
pub const NO_ROOM: &str = "~";

/// A room id as one subject token: bytes outside `A-Z a-z 0-9 - _` become `%XX`.
///
/// ```
/// use jellyfish_notifier::nats::subject_token;
///
/// assert_eq!(subject_token("lobby-1"), "lobby-1");
/// assert_eq!(subject_token("a.b *>~ %"), "a%2Eb%20%2A%3E%7E%20%25");
/// ```
pub fn subject_token(room_id: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !room_id.is_empty() && room_id.bytes().all(plain) {
        return Cow::Borrowed(room_id);
    }
    let mut token = String::with_capacity(room_id.len() * 3);
    for byte in room_id.bytes() {
        if plain(byte) {
            token.push(char::from(byte));
        } else {
            token.push_str(&format!("%{byte:02X}"));
        }
    }
    if token.is_empty() {
        // An empty room id still needs a token; `%` never starts a plain one.
        token.push('%');
    }
    Cow::Owned(token)
}

/// The subject of a notification: `<prefix>.<room token>.<kind>`, or `<prefix>.~.<kind>`.
pub fn notification_subject(prefix: &str, notification: &Notification) -> String {
    let room = notification
        .room_id()
        .map_or(Cow::Borrowed(NO_ROOM), |room| subject_token(room));
    format!("{prefix}.{room}.{}", notification.kind())
}

/// The subject of the notifier's gap messages: `<prefix>.~.gap`.
pub fn gap_subject(prefix: &str) -> String {
    format!("{prefix}.{NO_ROOM}.gap")
}

/// The subject of metrics reports: `<prefix>.metrics`.
pub fn metrics_subject(prefix: &str) -> String {
    format!("{prefix}.metrics")
}

/// De-duplication ids (`Nats-Msg-Id`) that two bridges on the same server compute alike.
///
/// The id of a notification is a hash of its room, its bytes, and how many times this bridge saw
/// the same bytes in that room before (within the duplicate window). Notifications are nearly
/// always unique (they carry peer and track ids), so two bridges agree on their ids even when one
/// missed others during a gap. Repeated ones (a voice-activity flip-flop, a peer reconnecting) are
/// told apart by the count. When one bridge missed an earlier repetition its count lags and its id
/// names that earlier message: JetStream answers "duplicate" with a sequence older than this
/// bridge's previous message in the room ([`Verdict::Suspect`]), and if that message was stored
/// more than a second before this notification arrived, the bridge counts one more and publishes
/// again ([`DedupIds::recount`]), so the repetition is stored, not lost.
///
/// **Guarantees.** One bridge never loses a notification to de-duplication. Two bridges on one
/// server store each notification they both received once, gaps or not, and killing either loses
/// nothing the other received.
///
/// **Limits.** The time check assumes the bridges receive a frame within a second of each other
/// and their clocks agree with the NATS server's within that second. Identical repetitions of one
/// notification in a room less than a second apart, missed by different bridges, could be taken for
/// one another: one of them stored once. A stored copy the stream cannot show (it expired) counts
/// as a repetition: stored again, a duplicate, never a loss.
#[derive(Debug)]
pub struct DedupIds {
    window: Duration,
    rooms: HashMap<String, RoomIds>,
    /// The stream's last sequence when the bridge connected: older messages were stored before
    /// this bridge could have published anything.
    floor: u64,
    last_prune: Option<Instant>,
}

#[derive(Debug)]
struct RoomIds {
    /// Digest of a notification's bytes → (times seen, last seen).
    counts: HashMap<[u8; 32], (u64, Instant)>,
    /// The stream sequence of the last message of this room this bridge had acked (stored by it
    /// or by another bridge).
    last_sequence: u64,
    last_seen: Instant,
}

/// What JetStream's answer to a publish means: [`DedupIds::acked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stored, or a duplicate of this very notification (another bridge stored it).
    Settled,
    /// A duplicate of a message stored before this bridge's previous one in the room: this very
    /// notification stored early by another bridge, or an earlier repetition named by a lagging
    /// count. The stored message's time tells them apart.
    Suspect,
}

/// The id of one message, with what [`DedupIds::acked`] needs to correct it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DedupId {
    /// The `Nats-Msg-Id`.
    pub id: String,
    room: String,
    digest: [u8; 32],
}

fn message_id(room: &str, digest: &[u8; 32], occurrence: u64) -> String {
    let mut id = Sha256::new();
    id.update(room.as_bytes());
    id.update([0]);
    id.update(digest);
    id.update(occurrence.to_be_bytes());
    hex::encode(&id.finalize()[..16])
}

impl DedupIds {
    /// Ids for a stream whose duplicate window is `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            rooms: HashMap::new(),
            floor: 0,
            last_prune: None,
        }
    }

    /// The stream's last sequence as the bridge connected (see [`DedupIds::acked`]).
    pub fn start_at(&mut self, sequence: u64) {
        self.floor = self.floor.max(sequence);
    }

    /// The id of the next notification of `room` (its subject token), whose bytes are `body`.
    ///
    /// Nothing is forgotten before JetStream has forgotten it: a count is dropped only once it has
    /// been idle for one and a half duplicate windows.
    pub fn next(&mut self, room: &str, body: &[u8]) -> DedupId {
        let now = Instant::now();
        let keep = self.window + self.window / 2;
        if self
            .last_prune
            .is_none_or(|at| now.duration_since(at) > self.window / 2)
        {
            self.rooms.retain(|_, ids| {
                ids.counts
                    .retain(|_, (_, last)| now.duration_since(*last) <= keep);
                now.duration_since(ids.last_seen) <= keep
            });
            self.last_prune = Some(now);
        }
        let ids = self.room(room);
        ids.last_seen = now;
        let digest: [u8; 32] = Sha256::digest(body).into();
        let entry = ids.counts.entry(digest).or_insert((0, now));
        let occurrence = entry.0;
        *entry = (occurrence + 1, now);
        DedupId {
            id: message_id(room, &digest, occurrence),
            room: room.to_owned(),
            digest,
        }
    }

    /// Takes JetStream's answer to a publish: the message's `sequence` (for a duplicate, the
    /// original's). A duplicate of a message older than this room's previous acked message (or
    /// than the stream's end when this bridge connected) is [`Verdict::Suspect`]: maybe an
    /// earlier repetition this bridge missed, named by a lagging count. The bridge then looks at
    /// when that message was stored and calls [`DedupIds::recount`] or [`DedupIds::settle`].
    pub fn acked(&mut self, id: &DedupId, sequence: u64, duplicate: bool) -> Verdict {
        let ids = self.room(&id.room);
        if duplicate && sequence <= ids.last_sequence {
            return Verdict::Suspect;
        }
        ids.last_sequence = ids.last_sequence.max(sequence);
        Verdict::Settled
    }

    /// A suspect duplicate was a lagging count: counts one more and answers the id to publish
    /// again.
    pub fn recount(&mut self, id: &DedupId) -> DedupId {
        let now = Instant::now();
        let entry = self
            .room(&id.room)
            .counts
            .entry(id.digest)
            .or_insert((0, now));
        let occurrence = entry.0;
        *entry = (occurrence + 1, now);
        DedupId {
            id: message_id(&id.room, &id.digest, occurrence),
            room: id.room.clone(),
            digest: id.digest,
        }
    }

    /// A suspect duplicate was this very notification after all (another bridge stored it).
    pub fn settle(&mut self, id: &DedupId, sequence: u64) {
        let ids = self.room(&id.room);
        ids.last_sequence = ids.last_sequence.max(sequence);
    }

    /// The room's state, made on first sight (only then is the room's name copied).
    fn room(&mut self, room: &str) -> &mut RoomIds {
        if !self.rooms.contains_key(room) {
            let ids = RoomIds {
                counts: HashMap::new(),
                last_sequence: self.floor,
                last_seen: Instant::now(),
            };
            self.rooms.insert(room.to_owned(), ids);
        }
        self.rooms
            .get_mut(room)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// How many rooms it remembers.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }
}

/// The stream a [`JetStreamBridge`] creates when it is missing.
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// The stream's name.
    pub name: String,
    /// How long a message is kept.
    pub max_age: Duration,
    /// How long JetStream remembers a message id.
    pub duplicate_window: Duration,
}

impl Default for StreamSettings {
    /// `JELLYFISH`, messages kept 7 days, ids remembered 2 minutes (JetStream's own default).
    fn default() -> Self {
        Self {
            name: DEFAULT_STREAM.to_owned(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// What a [`JetStreamBridge`] tells its event subscriber.
#[derive(Clone, Debug, PartialEq, Eq, actix::Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum BridgeEvent {
    /// Connected to NATS and the stream exists.
    Ready,
    /// Publishing failed (NATS unreachable, no ack in time); the message stays first in the queue
    /// and is tried again after `retry_in`.
    Retrying {
        /// What failed.
        error: String,
        /// Messages waiting.
        queued: usize,
        /// The wait.
        retry_in: Duration,
    },
    /// The queue was full: the newest message was dropped. Sent at 1, 2, 4, 8, … drops.
    Dropped {
        /// Dropped in all.
        total: u64,
    },
}

/// Counters of a [`JetStreamBridge`], from [`GetBridgeStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Stored by JetStream (acked, not as duplicates).
    pub stored: u64,
    /// Acked as duplicates: another bridge (or an earlier attempt) had stored the same id.
    pub duplicates: u64,
    /// Publish attempts that failed and were retried.
    pub retries: u64,
    /// Dropped because the queue was full.
    pub dropped: u64,
    /// Published again under the next count: JetStream took the first id for an earlier
    /// repetition that this bridge had missed ([`DedupIds`]).
    pub recounted: u64,
    /// Waiting to be published.
    pub queued: usize,
}

/// Answers a [`JetStreamBridge`]'s [`BridgeStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "BridgeStats")]
pub struct GetBridgeStats;

/// Publishes notifications and answers once JetStream has stored every one of them (or acked it
/// as a duplicate): `Ok(())`; or, if the bridge is not connected to NATS, its queue is full, or a
/// publish failed, `Err` with the reason at once. What was refused may still be stored later (it
/// stays queued), but nothing is ever answered `Ok` that was not stored: what a webhook receiver
/// needs before it answers 2xx.
#[derive(Debug, actix::Message)]
#[rtype(result = "Result<(), String>")]
pub struct Publish(pub Vec<Notification>);

/// One message to publish.
struct Outgoing {
    subject: String,
    headers: async_nats::HeaderMap,
    body: Bytes,
    /// Its de-duplication id (none for gap messages, whose ids are random).
    id: Option<DedupId>,
    /// When the bridge received it.
    received: std::time::SystemTime,
    /// Told the outcome of the first attempt, for [`Publish`].
    waiter: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// Publishes every notification it is sent (subscribe it to a [`WsNotifier`](crate::WsNotifier),
/// or send it webhook notifications) to JetStream, in order, one at a time, each counted as
/// forwarded only once JetStream acknowledged it. While NATS is unreachable it keeps up to
/// `queue_limit` messages and retries with backoff; beyond that it drops the newest, counts them and
/// says so ([`BridgeEvent::Dropped`], an error log line). Subscribed to the notifier's
/// [`ConnectionEvent`]s, it publishes a gap message after every reconnect.
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
    config: JetStreamBridgeBuilder,
    jetstream: Option<async_nats::jetstream::Context>,
    stream: Option<async_nats::jetstream::stream::Stream>,
    queue: VecDeque<Outgoing>,
    /// A publish (or the check of a suspect duplicate) is under way.
    in_flight: bool,
    /// Failed setups or publishes in a row, and the pending retry.
    retry: Retry,
    dedup: DedupIds,
    gaps: u64,
    stats: BridgeStats,
}

/// Builds a [`JetStreamBridge`]: [`JetStreamBridge::builder`].
#[derive(Clone)]
pub struct JetStreamBridgeBuilder {
    url: String,
    prefix: String,
    stream: StreamSettings,
    queue_limit: usize,
    retry: RetryPolicy,
    ack_timeout: Duration,
    events: Option<Recipient<BridgeEvent>>,
}

impl JetStreamBridgeBuilder {
    /// How long a publish waits for JetStream's acknowledgement before it is retried (default
    /// 5 s). A retry carries the same message id, so a publish that was stored but whose ack was
    /// lost is acked again as a duplicate, not stored twice.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// The subject prefix (default [`DEFAULT_PREFIX`]).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The stream to create when it is missing (default [`StreamSettings::default`]).
    pub fn stream(mut self, stream: StreamSettings) -> Self {
        self.stream = stream;
        self
    }

    /// The most messages kept while NATS is unreachable (default 100 000).
    pub fn queue_limit(mut self, limit: usize) -> Self {
        self.queue_limit = limit.max(1);
        self
    }

    /// How failed setups and publishes are retried (default 250 ms up to 30 s). Its attempt limit
    /// is not used: the bridge retries for ever, and its queue bound says what is dropped.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Where [`BridgeEvent`]s go.
    pub fn events(mut self, recipient: Recipient<BridgeEvent>) -> Self {
        self.events = Some(recipient);
        self
    }

    /// Starts the bridge; it connects (and creates the stream) by itself, retrying.
    pub fn start(self) -> Addr<JetStreamBridge> {
        let window = self.stream.duplicate_window;
        JetStreamBridge {
            config: self,
            jetstream: None,
            stream: None,
            queue: VecDeque::new(),
            in_flight: false,
            retry: Retry::default(),
            dedup: DedupIds::new(window),
            gaps: 0,
            stats: BridgeStats::default(),
        }
        .start()
    }
}

impl JetStreamBridge {
    /// A builder for a bridge to the NATS server at `url` (`nats://host:port`, or `host:port`).
    pub fn builder(url: impl Into<String>) -> JetStreamBridgeBuilder {
        JetStreamBridgeBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            stream: StreamSettings::default(),
            queue_limit: 100_000,
            retry: RetryPolicy::default(),
            ack_timeout: Duration::from_secs(5),
            events: None,
        }
    }

    fn event(&self, event: BridgeEvent) {
        if let Some(events) = &self.config.events {
            events.do_send(event);
        }
    }

    fn enqueue(&mut self, message: Outgoing, ctx: &mut Context<Self>) {
        if self.queue.len() >= self.config.queue_limit {
            self.stats.dropped += 1;
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
                let _ = waiter.send(Err("the NATS bridge's queue is full".to_owned()));
            }
            return;
        }
        self.queue.push_back(message);
        self.pump(ctx);
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let url = self.config.url.clone();
        let stream = self.config.stream.clone();
        let subjects = vec![format!("{}.>", self.config.prefix)];
        let ack_timeout = self.config.ack_timeout;
        let setup = async move {
            let client = async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .connect(url.as_str())
                .await
                .map_err(|err| err.to_string())?;
            let mut jetstream = async_nats::jetstream::new(client);
            jetstream.set_timeout(ack_timeout);
            let mut created = jetstream
                .get_or_create_stream(async_nats::jetstream::stream::Config {
                    name: stream.name,
                    subjects,
                    max_age: stream.max_age,
                    duplicate_window: stream.duplicate_window,
                    storage: async_nats::jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|err| err.to_string())?;
            let last = created
                .info()
                .await
                .map_err(|err| err.to_string())?
                .state
                .last_sequence;
            Ok::<_, String>((jetstream, created, last))
        };
        ctx.wait(setup.into_actor(self).map(|result, bridge, ctx| match result {
            Ok((jetstream, stream, last)) => {
                bridge.dedup.start_at(last);
                bridge.jetstream = Some(jetstream);
                bridge.stream = Some(stream);
                bridge.retry.succeeded();
                bridge.event(BridgeEvent::Ready);
                bridge.pump(ctx);
            }
            Err(error) => {
                let retry_in = bridge.retry.failed_again(&bridge.config.retry, None);
                tracing::warn!(%error, ?retry_in, "NATS bridge: cannot set up the stream; retrying");
                bridge.event(BridgeEvent::Retrying {
                    error,
                    queued: bridge.queue.len(),
                    retry_in,
                });
                Retry::wait(bridge, retry_in, ctx);
            }
        }));
    }

    /// Publishes the first queued message, if none is in flight.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || self.retry.waiting() {
            return;
        }
        let (Some(jetstream), Some(first)) = (&self.jetstream, self.queue.front()) else {
            return;
        };
        self.in_flight = true;
        let jetstream = jetstream.clone();
        let (subject, headers, body) = (
            first.subject.clone(),
            first.headers.clone(),
            first.body.clone(),
        );
        let publish = async move {
            jetstream
                .publish_with_headers(subject, headers, body)
                .await?
                .await
        };
        ctx.spawn(publish.into_actor(self).map(|result, bridge, ctx| {
            bridge.in_flight = false;
            match result {
                Ok(ack) => {
                    bridge.retry.succeeded();
                    let suspect = bridge.queue.front().and_then(|m| m.id.as_ref()).is_some_and(
                        |id| bridge.dedup.acked(id, ack.sequence, ack.duplicate) == Verdict::Suspect,
                    );
                    if suspect {
                        bridge.check_suspect(ack.sequence, ctx);
                        return;
                    }
                    if let Some(waiter) = bridge.queue.pop_front().and_then(|m| m.waiter) {
                        let _ = waiter.send(Ok(()));
                    }
                    if ack.duplicate {
                        bridge.stats.duplicates += 1;
                    } else {
                        bridge.stats.stored += 1;
                    }
                    bridge.pump(ctx);
                }
                Err(error) => {
                    if let Some(waiter) = bridge.queue.front_mut().and_then(|m| m.waiter.take()) {
                        let _ = waiter.send(Err(format!("JetStream did not store it: {error}")));
                    }
                    bridge.stats.retries += 1;
                    let retry_in = bridge.retry.failed_again(&bridge.config.retry, None);
                    tracing::warn!(%error, ?retry_in, queued = bridge.queue.len(), "NATS bridge: publishing failed; retrying");
                    bridge.event(BridgeEvent::Retrying {
                        error: error.to_string(),
                        queued: bridge.queue.len(),
                        retry_in,
                    });
                    Retry::wait(bridge, retry_in, ctx);
                }
            }
        }));
    }
}

impl Actor for JetStreamBridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.connect(ctx);
    }
}

impl Retries for JetStreamBridge {
    fn retry_state(&mut self) -> &mut Retry {
        &mut self.retry
    }

    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        if self.jetstream.is_none() {
            self.connect(ctx);
        } else {
            self.pump(ctx);
        }
    }
}

/// How much earlier than its receipt a stored copy must be to be another notification: more than
/// the delay between two bridges receiving the same frame, plus clock skew between the bridge
/// and the NATS server.
const SAME_NOTIFICATION_WITHIN: Duration = Duration::from_secs(1);

impl JetStreamBridge {
    /// A publish was answered "duplicate of `sequence`", older than this bridge's previous message
    /// in the room: if that message was stored well before this notification arrived, it is an
    /// earlier repetition (this bridge's count lagged): count one more and publish again.
    /// Otherwise another bridge stored this very notification. When the stream cannot say, it is
    /// published again: a duplicate, never a loss.
    fn check_suspect(&mut self, sequence: u64, ctx: &mut Context<Self>) {
        let (Some(stream), Some(first)) = (self.stream.clone(), self.queue.front()) else {
            return;
        };
        let received = first.received;
        self.in_flight = true;
        let stored = async move {
            stream
                .get_raw_message(sequence)
                .await
                .map(|message| std::time::SystemTime::from(message.time))
        };
        ctx.spawn(stored.into_actor(self).map(move |stored, bridge, ctx| {
            bridge.in_flight = false;
            let earlier = match stored {
                Ok(stored) => stored
                    .checked_add(SAME_NOTIFICATION_WITHIN)
                    .is_some_and(|limit| limit < received),
                Err(_) => true,
            };
            let Some(first) = bridge.queue.front_mut() else {
                return;
            };
            let Some(id) = first.id.clone() else {
                return;
            };
            if earlier {
                let again = bridge.dedup.recount(&id);
                first
                    .headers
                    .insert(async_nats::header::NATS_MESSAGE_ID, again.id.as_str());
                first.id = Some(again);
                bridge.stats.recounted += 1;
            } else {
                bridge.dedup.settle(&id, sequence);
                if let Some(waiter) = bridge.queue.pop_front().and_then(|m| m.waiter) {
                    let _ = waiter.send(Ok(()));
                }
                bridge.stats.duplicates += 1;
            }
            bridge.pump(ctx);
        }));
    }

    /// The message of a notification (`None` for an unknown member without its bytes, which is
    /// said in a warning).
    fn message_of(&mut self, notification: &Notification) -> Option<Outgoing> {
        let body = match notification.encode() {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                tracing::warn!(%error, kind = notification.kind(), "NATS bridge: cannot encode; skipped");
                return None;
            }
        };
        let room = notification
            .room_id()
            .map_or(Cow::Borrowed(NO_ROOM), |room| subject_token(room))
            .into_owned();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(KIND_HEADER, notification.kind());
        if let Some(room_id) = notification.room_id() {
            headers.insert(ROOM_HEADER, room_id.as_str());
        }
        let id = self.dedup.next(&room, &body);
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.id.as_str());
        Some(Outgoing {
            subject: notification_subject(&self.config.prefix, notification),
            headers,
            body,
            id: Some(id),
            received: std::time::SystemTime::now(),
            waiter: None,
        })
    }
}

impl Handler<Notification> for JetStreamBridge {
    type Result = ();

    fn handle(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        if let Some(message) = self.message_of(&notification) {
            self.enqueue(message, ctx);
        }
    }
}

impl Handler<Publish> for JetStreamBridge {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) -> Self::Result {
        if self.jetstream.is_none() {
            return Box::pin(async { Err("not connected to NATS".to_owned()) });
        }
        let mut waiting = Vec::new();
        for notification in &msg.0 {
            let Some(mut message) = self.message_of(notification) else {
                return Box::pin(async { Err("a notification could not be encoded".to_owned()) });
            };
            let (sender, receiver) = tokio::sync::oneshot::channel();
            message.waiter = Some(sender);
            waiting.push(receiver);
            self.enqueue(message, ctx);
        }
        Box::pin(async move {
            for receiver in waiting {
                receiver
                    .await
                    .map_err(|_| "the NATS bridge stopped".to_owned())??;
            }
            Ok(())
        })
    }
}

impl Handler<MetricsReport> for JetStreamBridge {
    type Result = ();

    fn handle(&mut self, report: MetricsReport, ctx: &mut Context<Self>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(KIND_HEADER, "metrics_report");
        let body = Bytes::copy_from_slice(report.raw().as_bytes());
        let id = self.dedup.next(NO_ROOM, &body);
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.id.as_str());
        let subject = metrics_subject(&self.config.prefix);
        self.enqueue(
            Outgoing {
                subject,
                headers,
                body,
                id: Some(id),
                received: std::time::SystemTime::now(),
                waiter: None,
            },
            ctx,
        );
    }
}

impl Handler<ConnectionEvent> for JetStreamBridge {
    type Result = ();

    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        let ConnectionEvent::Ready { gap: Some(gap) } = event else {
            return;
        };
        self.gaps += 1;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(KIND_HEADER, "gap");
        // Each bridge's gap is its own: a random id, never taken for another bridge's.
        let id = format!("gap-{:016x}-{}", fastrand::u64(..), self.gaps);
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let body = Bytes::from(format!("{{\"gap_ms\":{}}}", gap.as_millis()));
        let subject = gap_subject(&self.config.prefix);
        self.enqueue(
            Outgoing {
                subject,
                headers,
                body,
                id: None,
                received: std::time::SystemTime::now(),
                waiter: None,
            },
            ctx,
        );
    }
}

impl Handler<GetBridgeStats> for JetStreamBridge {
    type Result = MessageResult<GetBridgeStats>;

    fn handle(&mut self, _: GetBridgeStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(BridgeStats {
            queued: self.queue.len(),
            ..self.stats.clone()
        })
    }
}

/// Counters of a [`JetStreamConsumer`], from [`GetConsumerStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Notifications delivered to every subscriber and acknowledged.
    pub delivered: u64,
    /// Messages redelivered by JetStream (an earlier delivery was not acknowledged in time).
    pub redelivered: u64,
    /// Gap messages seen (acknowledged, not delivered as notifications).
    pub gaps: u64,
    /// Messages that were not notifications (acknowledged and skipped, with a warning).
    pub skipped: u64,
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
/// Two patterns: give every instance its own durable name (each sees everything, and resumes where
/// it stopped), or give a fleet one durable name (a work queue: each message goes to one of them).
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
/// let consumer = JetStreamConsumer::builder("nats://127.0.0.1:4222", "billing")
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

/// Builds a [`JetStreamConsumer`]: [`JetStreamConsumer::builder`].
#[derive(Clone, Debug)]
pub struct JetStreamConsumerBuilder {
    url: String,
    durable: String,
    stream: String,
    filter: Option<String>,
    ack_wait: Duration,
    retry: RetryPolicy,
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

    /// How it reconnects after NATS went away or the stream could not be read (default 250 ms up
    /// to 30 s; a connection that read messages starts the count over). Its attempt limit is not
    /// used: the consumer retries for ever.
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
    /// A builder for the durable consumer `durable` on the NATS server at `url`.
    pub fn builder(url: impl Into<String>, durable: impl Into<String>) -> JetStreamConsumerBuilder {
        JetStreamConsumerBuilder {
            url: url.into(),
            durable: durable.into(),
            stream: DEFAULT_STREAM.to_owned(),
            filter: None,
            ack_wait: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }

    /// Connects, then reads for as long as the actor lives; on any error, starts over after the
    /// retry policy's delay (JetStream redelivers what was not acknowledged).
    fn run(&mut self, ctx: &mut Context<Self>) {
        use futures_util::StreamExt as _;
        let config = self.config.clone();
        let shared = std::rc::Rc::clone(&self.shared);
        let reading = async move {
            // Whether this connection got as far as reading: then it was a success, and the
            // retry count starts over before its end is counted.
            let mut reading = false;
            let result = async {
            let client = async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .connect(config.url.as_str())
                .await
                .map_err(|err| err.to_string())?;
            let jetstream = async_nats::jetstream::new(client);
            let stream = jetstream
                .get_stream(config.stream.as_str())
                .await
                .map_err(|err| err.to_string())?;
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
                .map_err(|err| err.to_string())?;
            let mut messages = consumer.messages().await.map_err(|err| err.to_string())?;
            reading = true;
            let mut checked = Instant::now();
            while let Some(message) = messages.next().await {
                let message = message.map_err(|err| err.to_string())?;
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
                            for notification in notifications {
                                let sends: Vec<_> = {
                                    let mut subscribers = shared.subscribers.borrow_mut();
                                    subscribers.retain(|(_, s)| s.connected());
                                    subscribers
                                        .iter()
                                        .map(|(_, s)| s.send(notification.clone()))
                                        .collect()
                                };
                                // Handled by every subscriber (one that stopped meanwhile counts
                                // as done) before the acknowledgement.
                                for send in sends {
                                    let _ = send.await;
                                }
                            }
                            Outcome::Delivered
                        }
                        Err(error) => {
                            tracing::warn!(%error, subject = %message.subject, "NATS consumer: not a notification; skipped");
                            Outcome::Skipped
                        }
                    },
                };
                message.ack().await.map_err(|err| err.to_string())?;
                {
                    let mut stats = shared.stats.borrow_mut();
                    match outcome {
                        Outcome::Delivered => stats.delivered += 1,
                        Outcome::Gap => stats.gaps += 1,
                        Outcome::Skipped => stats.skipped += 1,
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
            Ok::<(), String>(())
            }
            .await;
            (reading, result)
        };
        ctx.spawn(
            reading
                .into_actor(self)
                .map(|(reading, result), consumer, ctx| {
                    if reading {
                        consumer.retry.succeeded();
                    }
                    let retry_in = consumer.retry.failed_again(&consumer.config.retry, None);
                    let error = result.err().unwrap_or_else(|| "the stream ended".to_owned());
                    tracing::warn!(%error, ?retry_in, "NATS consumer: reading stopped; starting over");
                    Retry::wait(consumer, retry_in, ctx);
                }),
        );
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Gap,
    Skipped,
}

impl Actor for JetStreamConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.run(ctx);
    }
}

impl Retries for JetStreamConsumer {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_tokens_cannot_break_the_subject_hierarchy() {
        for room in ["a.b", "*", ">", "a b", "~", "%41", "tab\there", "ünï"] {
            let token = subject_token(room);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{room:?} → {token:?}"
            );
            assert_ne!(token, NO_ROOM);
        }
        // Distinct rooms, distinct tokens.
        assert_ne!(subject_token("a.b"), subject_token("a%2Eb"));
        assert_eq!(subject_token(""), "%");
    }

    #[test]
    fn one_bridge_never_repeats_an_id_and_two_bridges_agree() {
        let window = Duration::from_secs(120);
        let (mut a, mut b) = (DedupIds::new(window), DedupIds::new(window));
        // A voice-activity flip-flop: the same two bodies over and over.
        let bodies: Vec<&[u8]> = (0..50)
            .map(|i| {
                if i % 2 == 0 {
                    &b"speech"[..]
                } else {
                    b"silence"
                }
            })
            .collect();
        let ids_a: Vec<String> = bodies.iter().map(|body| a.next("room", body).id).collect();
        let ids_b: Vec<String> = bodies.iter().map(|body| b.next("room", body).id).collect();
        assert_eq!(ids_a, ids_b, "two bridges that saw the same agree");
        let unique: std::collections::HashSet<&String> = ids_a.iter().collect();
        assert_eq!(unique.len(), ids_a.len(), "one bridge never repeats an id");
        assert_ne!(
            DedupIds::new(window).next("x", b"n").id,
            DedupIds::new(window).next("y", b"n").id,
            "rooms do not share ids"
        );
    }

    #[test]
    fn a_room_id_used_again_gets_new_ids() {
        let mut ids = DedupIds::new(Duration::from_secs(120));
        let round: [&[u8]; 3] = [b"room_created r", b"peer_added r p", b"room_deleted r"];
        let first: Vec<String> = round.iter().map(|b| ids.next("r", b).id).collect();
        let second: Vec<String> = round.iter().map(|b| ids.next("r", b).id).collect();
        assert!(
            first.iter().all(|id| !second.contains(id)),
            "{first:?} {second:?}"
        );
    }

    /// JetStream's de-duplication, for the tests: an id stored once; a duplicate answers the
    /// original's sequence.
    #[derive(Default)]
    struct Store {
        ids: HashMap<String, u64>,
        messages: Vec<String>,
    }

    impl Store {
        fn publish(&mut self, id: &str, what: &str) -> (u64, bool) {
            if let Some(sequence) = self.ids.get(id) {
                return (*sequence, true);
            }
            self.messages.push(what.to_owned());
            let sequence = self.messages.len() as u64;
            self.ids.insert(id.to_owned(), sequence);
            (sequence, false)
        }

        /// Publishes until stored or a true duplicate, as the bridge does.
        fn bridge(&mut self, ids: &mut DedupIds, room: &str, what: &str) {
            let mut id = ids.next(room, what.as_bytes());
            loop {
                let (sequence, duplicate) = self.publish(&id.id, what);
                // The scenario's suspects are all earlier repetitions (the bridge tells them
                // apart by the stored message's time).
                match ids.acked(&id, sequence, duplicate) {
                    Verdict::Suspect => id = ids.recount(&id),
                    Verdict::Settled => return,
                }
            }
        }
    }

    /// B misses one "speech" (a gap), so its count lags; after A dies, B's next "speech" first
    /// names A's earlier one, JetStream answers with that older sequence, and B publishes again
    /// under the next count: stored, not lost. And unique notifications agree across the gap.
    #[test]
    fn a_lagging_count_is_corrected_by_the_streams_answer() {
        let window = Duration::from_secs(120);
        let (mut a, mut b) = (DedupIds::new(window), DedupIds::new(window));
        let mut store = Store::default();
        store.bridge(&mut a, "r", "joined");
        store.bridge(&mut b, "r", "joined");
        store.bridge(&mut a, "r", "speech"); // B is in a gap
        store.bridge(&mut a, "r", "left");
        store.bridge(&mut b, "r", "left");
        assert_eq!(store.messages, ["joined", "speech", "left"], "each once");
        // A dies; the next "speech" reaches B alone.
        store.bridge(&mut b, "r", "speech");
        assert_eq!(
            store.messages,
            ["joined", "speech", "left", "speech"],
            "not lost"
        );
    }
}
