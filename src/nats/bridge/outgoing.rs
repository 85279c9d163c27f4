//! One queued message: what it sends (a notification is encoded at each send), its
//! de-duplication id, and where it stands.

use std::borrow::Cow;

use bytes::Bytes;

use crate::codec::EncodeError;
use crate::nats::dedup::{DedupId, DedupIds};
use crate::nats::error::NatsError;
use crate::nats::subject::{subject_token, subject_with_token};
use crate::nats::{KIND_HEADER, NO_ROOM, ROOM_HEADER};
use crate::notification::{Notification, RoomId};

/// One message to publish. Its headers are made at each send from what it is (kind, room, id):
/// nothing to copy, and a recounted id is simply the new `id`.
pub(super) struct Outgoing {
    pub(super) kind: &'static str,
    content: Content,
    /// Its de-duplication id (none for gap messages, whose ids are random: `gap_id`; none yet
    /// for a notification not encoded yet).
    pub(super) id: Option<DedupId>,
    gap_id: Option<String>,
    /// When the bridge received it (monotonic): its de-duplication id is counted as of then,
    /// however late it is encoded; [`Outgoing::received`] is the same on the wall clock.
    arrived: std::time::Instant,
    /// Told the outcome of the first attempt, for [`Publish`](super::Publish).
    pub(super) waiter: Option<Waiter>,
    /// Its place in the queue's order (set when queued).
    pub(super) serial: u64,
    /// Whose order it keeps (set when queued).
    pub(super) order: Order,
    /// Sent or not, answered or not.
    pub(super) sent: Sent,
}

/// The `Nats-Msg-Id` of a message made whole on arrival.
pub(super) enum MessageId {
    /// A de-duplication id, counted per room: bridges of every version give the same
    /// notification the same one.
    Counted(DedupId),
    /// A gap marker's random id, never taken for another bridge's.
    Gap(String),
}

/// Where a [`Publish`](super::Publish) waits for its message's outcome.
pub(super) type Waiter = tokio::sync::oneshot::Sender<Result<(), NatsError>>;

/// Where a queued message stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Sent {
    /// Not sent, or to be sent again.
    #[default]
    Waiting,
    /// Not sent, and never will be: it could not be encoded (said when found). It leaves the
    /// queue when it reaches the front, counted nowhere.
    Skipped,
    /// Sent at this time; no answer yet.
    InFlight { at: std::time::Instant },
    /// Acknowledged: stored at `sequence` (or a duplicate of it), after `took`.
    Acked {
        sequence: u64,
        duplicate: bool,
        took: std::time::Duration,
    },
}

/// What a message keeps its order with. It is sent only once every earlier message it keeps its
/// order with is stored: a publish lost on its way (a node's death, a connection cut) is sent
/// again before anything it must precede, which a window of publishes in flight alone does not
/// promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    /// The other messages of its room (by its key in the de-duplication maps); those without a
    /// room are one such "room".
    Room(u64),
    /// Every message: a gap marks a place in the whole stream.
    All,
}

/// What a queued message sends.
enum Content {
    /// A notification as it was taken in, encoded at each send (again only after a failure), its
    /// subject made then too: nothing kept beside it, nothing copied. It is given its
    /// de-duplication id when first sent: sends go in queue order, so ids are still counted in
    /// arrival order (and as of arrival); and a burst taken in at once is being published while
    /// the rest of it is encoded, not after.
    Notification(Notification),
    /// A message made whole on arrival (a gap, a metrics report, a webhook's notification): its
    /// subject and bytes, cloned at each send without a copy, and its room for its headers.
    Ready {
        subject: async_nats::Subject,
        body: Bytes,
        room: Option<RoomId>,
    },
}

impl Outgoing {
    /// A message ready to send, under the id `id`.
    pub(super) fn new(
        subject: String,
        kind: &'static str,
        room: Option<RoomId>,
        body: Bytes,
        id: MessageId,
    ) -> Self {
        let (id, gap_id) = match id {
            MessageId::Counted(id) => (Some(id), None),
            MessageId::Gap(gap_id) => (None, Some(gap_id)),
        };
        let subject = subject.into();
        let content = Content::Ready {
            subject,
            body,
            room,
        };
        Self::with(kind, content, id, gap_id)
    }

    /// A notification, encoded when sent ([`Outgoing::prepared`]).
    pub(super) fn later(notification: Notification) -> Self {
        let kind = notification.kind();
        Self::with(kind, Content::Notification(notification), None, None)
    }

    fn with(
        kind: &'static str,
        content: Content,
        id: Option<DedupId>,
        gap_id: Option<String>,
    ) -> Self {
        Self {
            kind,
            content,
            id,
            gap_id,
            arrived: std::time::Instant::now(),
            waiter: None,
            serial: 0,
            order: Order::All,
            sent: Sent::Waiting,
        }
    }

    /// Its room: the notification's own (nothing copied), or the one a ready message was given.
    fn room(&self) -> Option<&RoomId> {
        match &self.content {
            Content::Notification(notification) => notification.room_id(),
            Content::Ready { room, .. } => room.as_ref(),
        }
    }

    /// A gap marker (this bridge missed notifications before it).
    pub(super) fn is_gap(&self) -> bool {
        self.gap_id.is_some()
    }

    /// Whose order it keeps: its room's (its key from `dedup`), or, for a gap, everyone's.
    pub(super) fn order_in(&self, dedup: &DedupIds) -> Order {
        match (&self.gap_id, self.room()) {
            (Some(_), _) => Order::All,
            (None, Some(room)) => Order::Room(dedup.room_key(room.as_str())),
            (None, None) => Order::Room(dedup.room_key(NO_ROOM)),
        }
    }

    /// Its subject and bytes, to send: a notification is encoded (and given its id from
    /// `dedup`, the first time).
    pub(super) fn prepared(
        &mut self,
        dedup: &mut DedupIds,
        prefix: &str,
    ) -> Result<(async_nats::Subject, Bytes), EncodeError> {
        match &self.content {
            Content::Ready { subject, body, .. } => Ok((subject.clone(), body.clone())),
            Content::Notification(notification) => {
                let body = Bytes::from(notification.encode()?);
                let (subject, token) = subject_with_token(prefix, notification);
                if self.id.is_none() {
                    self.id = Some(dedup.next_at(&subject[token], &body, self.arrived));
                }
                Ok((subject.into(), body))
            }
        }
    }

    /// The same message, taken as having arrived at `arrived` (a sender's retry of one refused
    /// before: when it first arrived).
    pub(super) fn arrived_at(mut self, arrived: std::time::Instant) -> Self {
        self.arrived = arrived;
        self
    }

    /// When the bridge received it, on the wall clock (to compare with JetStream's stored times);
    /// one clock read at arrival serves both.
    pub(super) fn received(&self) -> std::time::SystemTime {
        let now = std::time::SystemTime::now();
        now.checked_sub(self.arrived.elapsed()).unwrap_or(now)
    }

    /// Its headers: the kind, the room id as sent, and the `Nats-Msg-Id`.
    pub(super) fn headers(&self) -> async_nats::HeaderMap {
        const KIND: async_nats::header::HeaderName =
            async_nats::header::HeaderName::from_static(KIND_HEADER);
        const ROOM: async_nats::header::HeaderName =
            async_nats::header::HeaderName::from_static(ROOM_HEADER);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(KIND, self.kind);
        if let Some(room) = self.room() {
            headers.insert(ROOM, room.as_str());
        }
        let id = match (&self.id, &self.gap_id) {
            (Some(id), _) => id.id.as_str(),
            (None, Some(gap_id)) => gap_id.as_str(),
            (None, None) => "",
        };
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        headers
    }
}

/// A notification's room as a subject token (`~` for none), and its bytes.
pub(super) fn encoded(notification: &Notification) -> Result<(Cow<'_, str>, Bytes), EncodeError> {
    let body = Bytes::from(notification.encode()?);
    let room = notification
        .room_id()
        .map_or(Cow::Borrowed(NO_ROOM), |room| subject_token(room));
    Ok((room, body))
}
