//! [`RoomsView`]: a live view of every room, peer and track, kept from notifications and healed
//! over REST after every gap.

mod changes;
mod diff;
mod messages;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
mod model;
mod phase;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::FutureExt as _;
use tokio::sync::oneshot;

pub use changes::{RoomChange, RoomsViewStats, SyncReason, SyncReport, SyncScope};
pub use messages::{GetRoom, GetRooms, GetViewStats, Resync, SubscribeRoomChanges, WaitSynced};
pub use model::RoomsModel;

use crate::notification::{Notification, RoomId};
use crate::notifier::{
    ConnectionEvent, ConnectionState, GetStats, Lagged, StreamNotifications,
    SubscribeConnectionEvents, WsNotifier,
};
use crate::retry::{Retries, RetryPolicy, Supervisor};
use crate::room_api::{RoomApi, RoomApiError};
use crate::rooms::Room;
use crate::task::Task;
use phase::{Event, Next, Phase};

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
    /// The notifier to subscribe to as the view starts.
    notifier: Option<Addr<WsNotifier>>,
    /// Where live notifications come from, and whether that feed is up.
    feed: Feed,
    resync_every: Option<Duration>,
    model: RoomsModel,
    subscribers: Vec<Recipient<RoomChange>>,
    /// What it is doing with the REST API: nothing, a fetch, a wait after a failed one.
    phase: Phase,
    queue: Queue,
    /// Consecutive failed fetches, and the reset rule.
    supervisor: Supervisor,
    waiters: Vec<oneshot::Sender<()>>,
    stats: RoomsViewStats,
    #[cfg(feature = "metrics")]
    metrics: Option<metrics::RoomsViewMetrics>,
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

/// Where live notifications come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feed {
    /// No notifier (or it stopped): webhooks, if any, and REST.
    Webhooks,
    /// An attached notifier, not connected to the server now: what the server does meanwhile is
    /// lost, and a fetch would be stale at once.
    Down,
    /// An attached notifier, connected.
    Up,
}

/// A fetch under way.
pub(super) struct Fetch {
    /// The REST call: cancelled when the fetch is dropped, so no stale answer arrives.
    pub(super) _task: Task,
    pub(super) scope: SyncScope,
    pub(super) reason: SyncReason,
    pub(super) asked: Instant,
    /// Notifications of the scope that arrived since the request went out.
    pub(super) buffer: Vec<Notification>,
    pub(super) overflowed: bool,
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
    #[cfg(feature = "metrics")]
    metrics: Option<metrics::RoomsViewMetrics>,
}

impl RoomsViewBuilder {
    /// Counts into these Prometheus metrics (feature `metrics`): whether the view is synced, its
    /// rooms and peers, resyncs by reason.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: metrics::RoomsViewMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

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

    /// How failed REST calls are retried (by default from 250 ms up to 4 s). The view keeps
    /// trying for ever, and says it is not synced meanwhile: the policy's attempt limit means
    /// nothing here (a view that gave up would hand out a state it can no longer check), so a
    /// policy with one is taken without it, and a warning says so at start.
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
        if let Some(limit) = self.retry.attempts_limit() {
            tracing::warn!(
                limit,
                "rooms view: a retry attempt limit was given; the view retries its REST calls for ever (it says it is not synced meanwhile), so the limit is not used"
            );
        }
        let feed = match self.notifier {
            Some(_) => Feed::Down,
            None => Feed::Webhooks,
        };
        RoomsView {
            api: self.api,
            notifier: self.notifier,
            feed,
            resync_every,
            model: RoomsModel::default(),
            subscribers: self.subscribers,
            phase: Phase::Idle,
            queue: Queue::default(),
            supervisor: Supervisor::endless(self.retry),
            waiters: Vec::new(),
            stats: RoomsViewStats::default(),
            #[cfg(feature = "metrics")]
            metrics: self.metrics,
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
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }

    /// A view fed by `notifier`, reading rooms through `api`, with every other option at its
    /// default.
    pub fn start(api: RoomApi, notifier: Addr<WsNotifier>) -> Addr<Self> {
        Self::builder(api).notifier(notifier).start()
    }

    fn emit(&mut self, change: RoomChange) {
        self.model.apply(&change);
        #[cfg(feature = "metrics")]
        if let (Some(metrics), RoomChange::Synced(report)) = (&self.metrics, &change) {
            metrics.on_resync(report.reason.label());
        }
        self.levels();
        self.subscribers.retain(|s| s.connected());
        for subscriber in &self.subscribers {
            subscriber.do_send(change.clone());
        }
    }

    /// The gauges, read from the model after each of its changes (a live notification or a
    /// change the view emits): they cannot disagree with it.
    fn levels(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.levels(self.model.is_synced(), self.model.len(), self.model.peers());
        }
    }

    /// A notification that reached us (from the notifier or a webhook).
    fn live(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        self.stats.live += 1;
        if let Phase::Fetching(fetch) = &mut self.phase
            && fetch.covers(&notification)
        {
            if fetch.buffer.len() < BUFFER_LIMIT {
                fetch.buffer.push(notification.clone());
            } else {
                fetch.overflowed = true;
            }
        }
        let fetch = self.model.apply_notification(&notification);
        self.levels();
        if fetch.is_some() {
            // Subscribers hear it before the change that makes the view incomplete.
            self.unsync(SyncReason::Incomplete);
        }
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
        self.feed != Feed::Down
    }

    /// A fetch is wanted: it starts if none runs and none is waited for.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        self.on(Event::Wanted, ctx);
    }

    /// Where `event` takes the view's REST side, carried out.
    fn on(&mut self, event: Event, ctx: &mut Context<Self>) {
        match phase::next(&self.phase, event) {
            Next::Stay | Next::Wait => {}
            // Refetch: dropping the running fetch cancels its task; its answer will not come.
            Next::Fetch | Next::Refetch => {
                self.phase = Phase::Idle;
                self.fetch_next(ctx);
            }
            Next::Drop => self.phase = Phase::Idle,
        }
    }

    /// Starts the next wanted fetch (the view is idle), if the feed allows one.
    fn fetch_next(&mut self, ctx: &mut Context<Self>) {
        if !self.may_fetch() {
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
        let task = Task::spawn(ctx, request, |answer, view: &mut Self, ctx| {
            view.fetched(answer, ctx);
        });
        self.phase = Phase::Fetching(Fetch {
            _task: task,
            scope,
            reason,
            asked,
            buffer: Vec::new(),
            overflowed: false,
        });
    }

    fn fetched(&mut self, answer: Result<Vec<Room>, RoomApiError>, ctx: &mut Context<Self>) {
        // An answer is reconciled and the next fetch goes; a failure waits.
        let event = match answer {
            Ok(_) => Event::Answered,
            Err(_) => Event::Failed,
        };
        if phase::next(&self.phase, event) == Next::Stay {
            return; // not fetching: from a fetch since dropped
        }
        let Phase::Fetching(fetch) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        match answer {
            Ok(rooms) => self.reconcile(fetch, rooms),
            Err(error) => {
                self.stats.failed_fetches += 1;
                let wait = self.supervisor.retry(None, ctx);
                let (attempt, retry_in) = (wait.attempt, wait.delay);
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
                self.phase = Phase::Waiting { _wait: wait };
                return;
            }
        }
        self.pump(ctx);
    }

    /// Puts the server's answer in place of the scope's rooms, with the notifications that arrived
    /// during the fetch applied on top, and tells subscribers the difference.
    fn reconcile(&mut self, fetch: Fetch, rooms: Vec<Room>) {
        self.supervisor.succeeded();
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
            diff::synthesize(id, self.model.room(id), fresh.room(id), &mut synthesized);
            total += synthesized.len();
            for notification in synthesized.drain(..) {
                self.emit(RoomChange::Synthesized(notification));
            }
            if let Some(room) = fresh.room(id) {
                self.emit(RoomChange::Resynced(diff::shared(room)));
            }
        }
        self.stats.resyncs += 1;
        self.stats.synthesized += total as u64;
        let full = fetch.scope == SyncScope::All;
        for room in incomplete {
            if self.model.room(&room).is_some() {
                self.want_room(room);
            }
        }
        if fetch.overflowed {
            match &fetch.scope {
                SyncScope::All => self.want_all(SyncReason::BufferFull),
                SyncScope::Room(room) => self.want_room(room.clone()),
            }
        }
        if full {
            self.stats.synced = true;
        }
        let missing = self.missing();
        if let Some(reason) = &missing {
            self.unsync(reason.clone());
        }
        let report = SyncReport {
            scope: fetch.scope,
            reason: fetch.reason,
            rooms: count,
            synthesized: total,
            replayed: fetch.buffer.len(),
            took: fetch.asked.elapsed(),
            in_sync: missing.is_none(),
            at: std::time::SystemTime::now(),
        };
        self.emit(RoomChange::Synced(report));
        if full {
            for waiter in self.waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// What the view knows it is missing, if anything: no full sync yet, a gap or lag not yet
    /// resynced, rooms to fetch for what their notifications could not say, or a notifier that is
    /// down (what the server does meanwhile is lost). A periodic or requested resync is a check,
    /// not something missed.
    fn missing(&self) -> Option<SyncReason> {
        if !self.stats.synced {
            return Some(SyncReason::Start);
        }
        if !self.may_fetch() {
            return Some(SyncReason::Gap(None));
        }
        if let Some((reason, _)) = &self.queue.all
            && !matches!(reason, SyncReason::Periodic | SyncReason::Requested)
        {
            return Some(reason.clone());
        }
        (!self.queue.rooms.is_empty()).then_some(SyncReason::Incomplete)
    }

    /// Says the view is no longer a state the server had (once, until it is again).
    fn unsync(&mut self, reason: SyncReason) {
        if self.model.is_synced() {
            self.emit(RoomChange::Unsynced(reason));
        }
    }
}

impl Retries for RoomsView {
    fn retry_now(&mut self, ctx: &mut Context<Self>) {
        self.on(Event::WaitOver, ctx);
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
        let Some(notifier) = self.notifier.take() else {
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
                    if state == ConnectionState::Ready {
                        view.feed = Feed::Up;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "rooms view: the notifier is gone; webhooks and REST only");
                    view.feed = Feed::Webhooks;
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
                self.unsync(SyncReason::Lagged(lagged.missed));
                self.want_all(SyncReason::Lagged(lagged.missed));
                self.on(Event::Lagged, ctx);
            }
        }
    }

    /// The notifier stopped: webhooks (if any) and REST remain.
    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.feed = Feed::Webhooks;
        self.pump(ctx);
    }
}

impl Handler<ConnectionEvent> for RoomsView {
    type Result = ();

    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        match event {
            ConnectionEvent::Ready { gap } => {
                self.feed = Feed::Up;
                // Even the first connection: the view's first fetch may predate it.
                let reason = match gap {
                    Some(gap) => {
                        self.stats.gaps += 1;
                        SyncReason::Gap(Some(gap))
                    }
                    None => SyncReason::Start,
                };
                // What a running fetch buffered misses the gap; a fetch waiting out a failure's
                // delay goes now: the server is back.
                self.want_all(reason);
                self.on(Event::FeedUp, ctx);
            }
            ConnectionEvent::Disconnected { .. } => {
                self.feed = Feed::Down;
                self.unsync(SyncReason::Gap(None));
                self.on(Event::FeedDown, ctx);
            }
            ConnectionEvent::Failed(_) => {
                // It stopped for good: webhooks (if any) and REST remain.
                self.feed = Feed::Webhooks;
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
        if self.feed == Feed::Up {
            self.stats.webhook_duplicates += 1;
            return;
        }
        self.live(notification, ctx);
    }
}
