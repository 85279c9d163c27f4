//! What a [`RoomsView`](super::RoomsView) tells: its changes, why and how it resynced, and its
//! counters.

use std::sync::Arc;
use std::time::Duration;

use crate::notification::{Notification, RoomId};
use crate::room_api::RoomApiError;
use crate::rooms::Room;

/// What a [`RoomsView`](super::RoomsView) tells its subscribers, in the order it applied them. Applying every one to
/// an empty [`RoomsModel`](super::RoomsModel) gives the view's state (see [`RoomsModel::apply`](super::RoomsModel::apply)).
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
    /// that arrived meanwhile applied on top. When [`SyncReport::in_sync`] says so, the view is a
    /// state the server had again.
    Synced(SyncReport),
    /// The view is no longer known to be a state the server had, until a [`RoomChange::Synced`]
    /// whose report is [`in_sync`](SyncReport::in_sync): the notifier went away (whatever the
    /// server does meanwhile is lost), its stream fell behind, or a notification could not say
    /// everything `GET /room` shows and that room is being fetched. Sent before the change that
    /// caused it.
    Unsynced(SyncReason),
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
    /// Someone sent [`Resync`](super::Resync).
    Requested,
}

impl SyncReason {
    /// The `reason` label of `jellyfish_rooms_view_resyncs_total`.
    #[cfg(feature = "metrics")]
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Gap(_) => "gap",
            Self::Lagged(_) => "lagged",
            Self::Periodic => "periodic",
            Self::Incomplete => "incomplete",
            Self::BufferFull => "buffer_full",
            Self::Requested => "requested",
        }
    }
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
    /// Whether the view is now, as a whole, a state the server had: nothing it knows it missed is
    /// still to be fetched.
    pub in_sync: bool,
    /// When this resync finished (the wall clock), as a model keeps it for
    /// [`RoomsModel::synced_at`](super::RoomsModel::synced_at).
    #[serde(skip)]
    pub at: std::time::SystemTime,
}

/// A [`RoomsView`](super::RoomsView)'s counters, from [`GetViewStats`](super::GetViewStats).
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
