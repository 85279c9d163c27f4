//! [`RoomsView`]: a live view of every room, peer and track, kept from notifications and healed
//! over REST after every gap.

mod model;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::FutureExt as _;
use tokio::sync::oneshot;

pub use model::RoomsModel;

use crate::notification::{Notification, RoomId};
use crate::notifier::{
    ConnectionEvent, ConnectionState, GetStats, Lagged, StreamNotifications,
    SubscribeConnectionEvents, WsNotifier,
};
use crate::retry::{Retries, Retry, RetryPolicy};
use crate::room_api::{RoomApi, RoomApiError};
use crate::rooms::Room;

/// What a [`RoomsView`] tells its subscribers, in the order it applied them. Applying every one to
/// an empty [`RoomsModel`] gives the view's state (see [`RoomsModel::apply`]).
#[derive(Clone, Debug, PartialEq, actix::Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum RoomChange {
    /// A notification as the server sent it, already applied to the view.
    Notification(Notification),
    /// A notification the view made up after a resync, describing a change it could not see (it
    /// happened during a gap): a peer that left while the connection was down yields a
    /// `peer_deleted` here. Intermediate states that came and went inside the gap are not
    /// recovered: only the difference between before and after.
    Synthesized(Notification),
    /// A room as the server reported it at the end of a resync, with what no notification carries
    /// (its configuration, components, a Cloud peer's subscriptions). It replaces the room.
    /// Follows the room's synthesized notifications. A room that is gone gets a synthesized
    /// `room_deleted` instead.
    Resynced(Arc<Room>),
    /// A resync finished: the view now equals what the server reported, with the notifications
    /// that arrived meanwhile applied on top.
    Synced(SyncReport),
    /// A resync's REST call failed; it is tried again after `retry_in` (and the view keeps applying
    /// live notifications meanwhile).
    SyncFailed {
        /// What was being fetched.
        scope: SyncScope,
        /// What went wrong.
        error: RoomApiError,
        /// Consecutive failures so far.
        attempt: u32,
        /// The wait before the next try.
        retry_in: Duration,
    },
}

/// What a resync fetched.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncScope {
    /// Every room (`GET /room`).
    All,
    /// One room (`GET /room/{id}`), to learn what its notifications could not say.
    Room(RoomId),
}

/// Why a resync ran.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncReason {
    /// The view started.
    Start,
    /// The notifier connected again after a gap: whatever the server sent meanwhile is lost.
    Gap(#[serde(serialize_with = "crate::serde_util::opt_seconds")] Option<Duration>),
    /// The view's notification stream fell behind and missed this many notifications.
    Lagged(u64),
    /// The periodic resync (webhooks that were lost are invisible).
    Periodic,
    /// A notification could not say everything `GET /room` shows (a new room's configuration, an
    /// unknown peer, a component's state).
    Incomplete,
    /// More notifications arrived during the fetch than the view buffers: the answer cannot be
    /// trusted, so it fetched again.
    BufferFull,
    /// Someone sent [`Resync`].
    Requested,
}

/// The end of a resync, as [`RoomChange::Synced`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// What was fetched.
    pub scope: SyncScope,
    /// Why.
    pub reason: SyncReason,
    /// Rooms the answer held.
    pub rooms: usize,
    /// Notifications synthesized for what changed unseen.
    pub synthesized: usize,
    /// Notifications that arrived during the fetch and were applied again on top of the answer.
    pub replayed: usize,
    /// From the moment the resync was asked for (the notifier's readiness, for a gap) to this
    /// report.
    #[serde(serialize_with = "crate::serde_util::seconds")]
    pub took: Duration,
}

/// A [`RoomsView`]'s counters, from [`GetViewStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoomsViewStats {
    /// Whether the first full resync has finished.
    pub synced: bool,
    /// Resyncs finished (full and per room).
    pub resyncs: u64,
    /// REST calls of resyncs that failed (each was retried).
    pub failed_fetches: u64,
    /// Notifications applied as they arrived.
    pub live: u64,
    /// Notifications synthesized by resyncs.
    pub synthesized: u64,
    /// Webhook notifications skipped because the notifier was connected and delivers the same.
    pub webhook_duplicates: u64,
    /// Gaps seen: reconnects after a loss, and stream lags.
    pub gaps: u64,
    /// Whether a fetch runs, waits to be retried, or is asked for: `false` once the view has
    /// learned everything it knows it is missing.
    pub fetching: bool,
    /// Rooms in the view.
    pub rooms: usize,
    /// Current subscribers.
    pub subscribers: usize,
}

/// Subscribes an actor to a [`RoomsView`]'s [`RoomChange`]s. It first receives the current state
/// (as synthesized notifications and a [`RoomChange::Resynced`] per room), then every change.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct SubscribeRoomChanges(pub Recipient<RoomChange>);

/// Answers one room from the view's memory (no REST call).
#[derive(Clone, Debug, actix::Message)]
#[rtype(result = "Option<Room>")]
pub struct GetRoom(pub RoomId);

/// Answers every room from the view's memory (no REST call), in room id order.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "RoomsModel")]
pub struct GetRooms;

/// Answers the view's [`RoomsViewStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "RoomsViewStats")]
pub struct GetViewStats;

/// Asks for a full resync now (after the current one, if one runs).
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct Resync;

/// Resolves once the view has finished its first full resync (at once if it has). Wrap it in a
/// timeout: while the server cannot be reached, it waits.
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct WaitSynced;

/// The most notifications kept during one fetch. Past it the fetch's answer cannot be trusted and
/// the fetch is repeated; memory stays bounded whatever the rate.
const BUFFER_LIMIT: usize = 100_000;

/// More rooms than this waiting for a per-room fetch are fetched with one `GET /room`.
const ROOMS_PER_LIST: usize = 8;

/// How many notifications may wait in the view's subscription to the notifier before it lags
/// (a lag is a gap: the view resyncs).
const STREAM_CAPACITY: usize = 65_536;

/// A live view of every room, peer and track on the server, that heals every gap.
///
/// The server replays nothing: what it sends while no connection is up is lost, and it never
/// retries a webhook. The view is fed notifications by a [`WsNotifier`], by webhooks (send it each
/// [`Notification`]), or both, and reads `GET /room` through a [`RoomApi`]:
///
/// - on start, after every gap (the notifier's `Ready` after a loss, or its stream falling behind),
///   and, with webhooks alone, every [`RoomsViewBuilder::resync_every`], it fetches the rooms and
///   reconciles without a race: notifications that arrive during the fetch are applied live, kept,
///   and applied again on top of the answer (applying one twice changes nothing);
/// - when a notification cannot say everything `GET /room` shows (a new room's configuration, a
///   Fishjam Cloud peer, a peer it never heard of), it fetches that room the same way.
///
/// Subscribers ([`SubscribeRoomChanges`]) get every live notification, and after a resync the
/// notifications that describe what changed unseen, marked [`RoomChange::Synthesized`], then
/// [`RoomChange::Resynced`] per room. Applied to an empty [`RoomsModel`], they always give the
/// server's state. [`GetRooms`] and [`GetRoom`] answer from memory.
///
/// With both feeds, webhook notifications are applied only while the notifier is not connected (a
/// connected notifier delivers the same ones, and two copies could arrive out of order).
///
/// ```no_run
/// use std::time::Duration;
/// use jellyfish_notifier::{GetRooms, RoomApi, RoomsView, WaitSynced, WsNotifier};
///
/// # #[actix::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let notifier = WsNotifier::start("localhost:5002", "development");
/// let api = RoomApi::new("localhost:5002", "development")?;
/// let view = RoomsView::builder(api).notifier(notifier).start();
/// tokio::time::timeout(Duration::from_secs(10), view.send(WaitSynced)).await??;
/// for room in view.send(GetRooms).await?.rooms() {
///     println!("{}: {} peers", room.id, room.peers.len());
/// }
/// # Ok(()) }
/// ```
pub struct RoomsView {
    api: RoomApi,
    notifier: Option<Addr<WsNotifier>>,
    notifier_ready: bool,
    resync_every: Option<Duration>,
    policy: RetryPolicy,
    model: RoomsModel,
    subscribers: Vec<Recipient<RoomChange>>,
    fetch: Option<Fetch>,
    queue: Queue,
    /// Consecutive failed fetches, and the pending retry.
    retry: Retry,
    waiters: Vec<oneshot::Sender<()>>,
    stats: RoomsViewStats,
}

/// Fetches asked for and not started.
#[derive(Default)]
struct Queue {
    /// A full resync, why, and since when it was wanted.
    all: Option<(SyncReason, Instant)>,
    rooms: BTreeSet<RoomId>,
    /// When the oldest room in `rooms` was asked for.
    rooms_since: Option<Instant>,
}

struct Fetch {
    /// The REST call: cancelled when the fetch is dropped, so no stale answer arrives.
    task: SpawnHandle,
    scope: SyncScope,
    reason: SyncReason,
    asked: Instant,
    /// Notifications of the scope that arrived since the request went out.
    buffer: Vec<Notification>,
    overflowed: bool,
}

impl Fetch {
    fn covers(&self, notification: &Notification) -> bool {
        match &self.scope {
            SyncScope::All => true,
            SyncScope::Room(room) => notification.room_id() == Some(room),
        }
    }
}

/// Builds a [`RoomsView`]: [`RoomsView::builder`].
pub struct RoomsViewBuilder {
    api: RoomApi,
    notifier: Option<Addr<WsNotifier>>,
    resync_every: Option<Option<Duration>>,
    retry: RetryPolicy,
    subscribers: Vec<Recipient<RoomChange>>,
}

impl RoomsViewBuilder {
    /// Feeds the view from this notifier (it subscribes itself, to notifications and to connection
    /// events, and resyncs after every gap).
    pub fn notifier(mut self, notifier: Addr<WsNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Resyncs every `period` whatever happens (`None`: only after gaps). Without a notifier the
    /// default is every 60 s, since a lost webhook is invisible; with one, `None`.
    pub fn resync_every(mut self, period: Option<Duration>) -> Self {
        self.resync_every = Some(period);
        self
    }

    /// How failed REST calls are retried (by default from 250 ms up to 30 s). Its attempt limit
    /// is not used: the view keeps trying, and says it is not synced meanwhile.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A subscriber from the very start.
    pub fn subscribe(mut self, subscriber: Recipient<RoomChange>) -> Self {
        self.subscribers.push(subscriber);
        self
    }

    /// Starts the view in the current actix system.
    pub fn start(self) -> Addr<RoomsView> {
        let resync_every = self
            .resync_every
            .unwrap_or_else(|| self.notifier.is_none().then_some(Duration::from_secs(60)));
        RoomsView {
            api: self.api,
            notifier: self.notifier,
            notifier_ready: false,
            resync_every,
            policy: self.retry,
            model: RoomsModel::default(),
            subscribers: self.subscribers,
            fetch: None,
            queue: Queue::default(),
            retry: Retry::default(),
            waiters: Vec::new(),
            stats: RoomsViewStats::default(),
        }
        .start()
    }
}

impl RoomsView {
    /// A builder: the view reads rooms through `api`.
    pub fn builder(api: RoomApi) -> RoomsViewBuilder {
        RoomsViewBuilder {
            api,
            notifier: None,
            resync_every: None,
            retry: RetryPolicy::default(),
            subscribers: Vec::new(),
        }
    }

    /// A view fed by `notifier`, reading rooms through `api`, with every other option at its
    /// default.
    pub fn start(api: RoomApi, notifier: Addr<WsNotifier>) -> Addr<Self> {
        Self::builder(api).notifier(notifier).start()
    }

    fn emit(&mut self, change: RoomChange) {
        self.model.apply(&change);
        self.subscribers.retain(|s| s.connected());
        for subscriber in &self.subscribers {
            subscriber.do_send(change.clone());
        }
    }

    /// A notification that reached us (from the notifier or a webhook).
    fn live(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        self.stats.live += 1;
        if let Some(fetch) = &mut self.fetch
            && fetch.covers(&notification)
        {
            if fetch.buffer.len() < BUFFER_LIMIT {
                fetch.buffer.push(notification.clone());
            } else {
                fetch.overflowed = true;
            }
        }
        let fetch = self.model.apply_notification(&notification);
        self.subscribers.retain(|s| s.connected());
        let change = RoomChange::Notification(notification);
        for subscriber in &self.subscribers {
            subscriber.do_send(change.clone());
        }
        if let Some(room) = fetch {
            self.want_room(room);
        }
        self.pump(ctx);
    }

    fn want_all(&mut self, reason: SyncReason) {
        // A full resync already wanted keeps its first reason and time.
        self.queue.all.get_or_insert((reason, Instant::now()));
    }

    fn want_room(&mut self, room: RoomId) {
        if self.queue.rooms.is_empty() {
            self.queue.rooms_since = Some(Instant::now());
        }
        self.queue.rooms.insert(room);
    }

    /// Whether fetching now is worth it: not while an attached notifier is down (whatever it
    /// misses would make the answer stale at once; its `Ready` asks for a resync).
    fn may_fetch(&self) -> bool {
        self.notifier.is_none() || self.notifier_ready
    }

    /// Starts the next fetch, if none runs.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.fetch.is_some() || self.retry.waiting() || !self.may_fetch() {
            return;
        }
        let (scope, reason, asked) = if let Some((reason, asked)) = self.queue.all.take() {
            self.queue.rooms.clear();
            (SyncScope::All, reason, asked)
        } else if self.queue.rooms.len() > ROOMS_PER_LIST {
            self.queue.rooms.clear();
            let asked = self.queue.rooms_since.take().unwrap_or_else(Instant::now);
            (SyncScope::All, SyncReason::Incomplete, asked)
        } else if let Some(room) = self.queue.rooms.pop_first() {
            let asked = self.queue.rooms_since.unwrap_or_else(Instant::now);
            if self.queue.rooms.is_empty() {
                self.queue.rooms_since = None;
            }
            (SyncScope::Room(room), SyncReason::Incomplete, asked)
        } else {
            return;
        };
        let api = self.api.clone();
        let request = match &scope {
            SyncScope::All => async move { api.list_rooms().await }.boxed_local(),
            SyncScope::Room(room) => {
                let room = room.clone();
                async move {
                    match api.get_room(&room).await {
                        Ok(room) => Ok(vec![room]),
                        Err(err) if err.status() == Some(404) => Ok(Vec::new()),
                        Err(err) => Err(err),
                    }
                }
                .boxed_local()
            }
        };
        let task = ctx.spawn(
            request
                .into_actor(self)
                .map(|answer, view, ctx| view.fetched(answer, ctx)),
        );
        self.fetch = Some(Fetch {
            task,
            scope,
            reason,
            asked,
            buffer: Vec::new(),
            overflowed: false,
        });
    }

    fn fetched(&mut self, answer: Result<Vec<Room>, RoomApiError>, ctx: &mut Context<Self>) {
        let Some(fetch) = self.fetch.take() else {
            return;
        };
        match answer {
            Ok(rooms) => self.reconcile(fetch, rooms),
            Err(error) => {
                self.stats.failed_fetches += 1;
                let retry_in = self.retry.failed_again(&self.policy, None);
                let attempt = self.retry.failures();
                tracing::warn!(
                    scope = ?fetch.scope, %error, attempt, ?retry_in,
                    "rooms view: the resync's REST call failed; trying again"
                );
                match &fetch.scope {
                    SyncScope::All => {
                        self.queue
                            .all
                            .get_or_insert((fetch.reason.clone(), fetch.asked));
                    }
                    SyncScope::Room(room) => self.want_room(room.clone()),
                }
                self.emit(RoomChange::SyncFailed {
                    scope: fetch.scope,
                    error,
                    attempt,
                    retry_in,
                });
                Retry::wait(self, retry_in, ctx);
                return;
            }
        }
        self.pump(ctx);
    }

    /// Puts the server's answer in place of the scope's rooms, with the notifications that arrived
    /// during the fetch applied on top, and tells subscribers the difference.
    fn reconcile(&mut self, fetch: Fetch, rooms: Vec<Room>) {
        self.retry.succeeded();
        let count = rooms.len();
        let mut fresh = RoomsModel::from_rooms(rooms);
        if let SyncScope::Room(room) = &fetch.scope {
            // `GET /room/{id}` answers that room only.
            fresh = RoomsModel::from_rooms(fresh.remove(room));
        }
        let mut incomplete = Vec::new();
        for notification in &fetch.buffer {
            incomplete.extend(fresh.apply_notification(notification));
        }
        let ids: BTreeSet<RoomId> = match &fetch.scope {
            SyncScope::All => self
                .model
                .room_ids()
                .chain(fresh.room_ids())
                .cloned()
                .collect(),
            SyncScope::Room(room) => BTreeSet::from([room.clone()]),
        };
        let mut synthesized = Vec::new();
        let mut total = 0;
        for id in &ids {
            model::synthesize(id, self.model.room(id), fresh.room(id), &mut synthesized);
            total += synthesized.len();
            for notification in synthesized.drain(..) {
                self.emit(RoomChange::Synthesized(notification));
            }
            if let Some(room) = fresh.room(id) {
                self.emit(RoomChange::Resynced(model::shared(room)));
            }
        }
        self.stats.resyncs += 1;
        self.stats.synthesized += total as u64;
        let full = fetch.scope == SyncScope::All;
        let report = SyncReport {
            scope: fetch.scope.clone(),
            reason: fetch.reason.clone(),
            rooms: count,
            synthesized: total,
            replayed: fetch.buffer.len(),
            took: fetch.asked.elapsed(),
        };
        self.emit(RoomChange::Synced(report));
        for room in incomplete {
            if self.model.room(&room).is_some() {
                self.want_room(room);
            }
        }
        if fetch.overflowed {
            match fetch.scope {
                SyncScope::All => self.want_all(SyncReason::BufferFull),
                SyncScope::Room(room) => self.want_room(room),
            }
        }
        if full {
            self.stats.synced = true;
            for waiter in self.waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Drops the running fetch (what it buffered misses what a gap lost) and asks for a full one.
    fn refetch_all(&mut self, reason: SyncReason, ctx: &mut Context<Self>) {
        self.drop_fetch(ctx);
        self.want_all(reason);
    }

    /// Cancels the running fetch, if any: its answer will not come.
    fn drop_fetch(&mut self, ctx: &mut Context<Self>) {
        if let Some(fetch) = self.fetch.take() {
            ctx.cancel_future(fetch.task);
        }
    }
}

impl Retries for RoomsView {
    fn retry_state(&mut self) -> &mut Retry {
        &mut self.retry
    }

    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.pump(ctx);
    }
}

impl Actor for RoomsView {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(period) = self.resync_every {
            ctx.run_interval(period, |view, ctx| {
                view.want_all(SyncReason::Periodic);
                view.pump(ctx);
            });
        }
        let Some(notifier) = self.notifier.clone() else {
            self.want_all(SyncReason::Start);
            self.pump(ctx);
            return;
        };
        let events = ctx.address().recipient();
        // Subscribed before the first fetch, so that nothing falls between the fetch and the feed.
        let subscribe = async move {
            let stream = notifier
                .send(StreamNotifications {
                    capacity: STREAM_CAPACITY,
                })
                .await?;
            let subscription = notifier.send(SubscribeConnectionEvents(events)).await?;
            let stats = notifier.send(GetStats).await?;
            Ok::<_, MailboxError>((stream, subscription, stats.state))
        };
        ctx.wait(subscribe.into_actor(self).map(|subscribed, view, ctx| {
            match subscribed {
                Ok((stream, _subscription, state)) => {
                    ctx.add_stream(stream);
                    // Already connected: no `Ready` will come to start the first fetch.
                    view.notifier_ready = state == ConnectionState::Ready;
                }
                Err(error) => {
                    tracing::warn!(%error, "rooms view: the notifier is gone; webhooks and REST only");
                    view.notifier = None;
                }
            }
            view.want_all(SyncReason::Start);
            view.pump(ctx);
        }));
    }
}

impl StreamHandler<Result<Notification, Lagged>> for RoomsView {
    fn handle(&mut self, item: Result<Notification, Lagged>, ctx: &mut Context<Self>) {
        match item {
            Ok(notification) => self.live(notification, ctx),
            Err(lagged) => {
                tracing::warn!(
                    missed = lagged.missed,
                    "rooms view: fell behind the notifier; resyncing"
                );
                self.stats.gaps += 1;
                self.refetch_all(SyncReason::Lagged(lagged.missed), ctx);
                self.pump(ctx);
            }
        }
    }

    /// The notifier stopped: webhooks (if any) and REST remain.
    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.notifier = None;
        self.notifier_ready = false;
        self.pump(ctx);
    }
}

impl Handler<ConnectionEvent> for RoomsView {
    type Result = ();

    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        match event {
            ConnectionEvent::Ready { gap } => {
                self.notifier_ready = true;
                // Even the first connection: the view's first fetch may predate it.
                let reason = match gap {
                    Some(gap) => {
                        self.stats.gaps += 1;
                        SyncReason::Gap(Some(gap))
                    }
                    None => SyncReason::Start,
                };
                self.refetch_all(reason, ctx);
                // The server is back: a fetch waiting out a failure's delay goes now.
                if !Retry::now(self, ctx) {
                    self.pump(ctx);
                }
            }
            ConnectionEvent::Disconnected { .. } => {
                self.notifier_ready = false;
                self.drop_fetch(ctx);
            }
            ConnectionEvent::Failed(_) => {
                // It stopped for good: webhooks (if any) and REST remain.
                self.notifier = None;
                self.notifier_ready = false;
                self.pump(ctx);
            }
            _ => {}
        }
    }
}

/// A notification from a webhook (or any other feed).
impl Handler<Notification> for RoomsView {
    type Result = ();

    fn handle(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        if self.notifier.is_some() && self.notifier_ready {
            self.stats.webhook_duplicates += 1;
            return;
        }
        self.live(notification, ctx);
    }
}

impl Handler<SubscribeRoomChanges> for RoomsView {
    type Result = ();

    fn handle(&mut self, msg: SubscribeRoomChanges, _: &mut Context<Self>) {
        let mut notifications = Vec::new();
        for room in self.model.rooms() {
            model::synthesize(&room.id, None, Some(room), &mut notifications);
            for notification in notifications.drain(..) {
                msg.0.do_send(RoomChange::Synthesized(notification));
            }
            msg.0.do_send(RoomChange::Resynced(model::shared(room)));
        }
        self.subscribers.push(msg.0);
    }
}

impl Handler<GetRoom> for RoomsView {
    type Result = Option<Room>;

    fn handle(&mut self, msg: GetRoom, _: &mut Context<Self>) -> Option<Room> {
        self.model.room(&msg.0).cloned()
    }
}

impl Handler<GetRooms> for RoomsView {
    type Result = MessageResult<GetRooms>;

    fn handle(&mut self, _: GetRooms, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.model.clone())
    }
}

impl Handler<GetViewStats> for RoomsView {
    type Result = MessageResult<GetViewStats>;

    fn handle(&mut self, _: GetViewStats, _: &mut Context<Self>) -> Self::Result {
        self.subscribers.retain(|s| s.connected());
        MessageResult(RoomsViewStats {
            fetching: self.fetch.is_some()
                || self.retry.waiting()
                || self.queue.all.is_some()
                || !self.queue.rooms.is_empty(),
            rooms: self.model.len(),
            subscribers: self.subscribers.len(),
            ..self.stats.clone()
        })
    }
}

impl Handler<Resync> for RoomsView {
    type Result = ();

    fn handle(&mut self, _: Resync, ctx: &mut Context<Self>) {
        self.want_all(SyncReason::Requested);
        self.pump(ctx);
    }
}

impl Handler<WaitSynced> for RoomsView {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: WaitSynced, _: &mut Context<Self>) -> Self::Result {
        if self.stats.synced {
            return Box::pin(async {});
        }
        let (sender, receiver) = oneshot::channel();
        self.waiters.push(sender);
        Box::pin(async move {
            let _ = receiver.await;
        })
    }
}
