//! What the forwarder tells: its events, counters and drain outcome.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::codec::EncodeError;
use crate::notification::{Notification, RoomId};
use crate::transport::TransportError;

/// Which notification a [`ForwardEvent`] is about: its kind and room. Displays as
/// "`peer_added` of room r1".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct About {
    /// The notification's kind (`tail --json`'s `type`).
    pub kind: &'static str,
    /// Its room, if it has one.
    pub room: Option<RoomId>,
}

impl About {
    /// The kind and room of `notification`.
    pub fn of(notification: &Notification) -> Self {
        Self {
            kind: notification.kind(),
            room: notification.room_id().cloned(),
        }
    }

    /// A spooled record that no longer decodes: its kind is not known.
    pub(crate) fn unreadable() -> Self {
        Self {
            kind: "unreadable",
            room: None,
        }
    }
}

impl fmt::Display for About {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.room {
            Some(room) => write!(f, "{} of room {room}", self.kind),
            None => f.write_str(self.kind),
        }
    }
}

/// Why a POST is retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RetryReason {
    /// The target answered 408, 429 or 5xx.
    #[error("the target answered HTTP {status}")]
    Status {
        /// The status.
        status: u16,
    },
    /// No answer: the target could not be reached or the exchange broke off.
    #[error(transparent)]
    Failed(TransportError),
    /// The body could not be read back from the spool (out of file descriptors, an I/O error).
    #[error("cannot read {path} from the spool: {detail}")]
    SpoolRead {
        /// The spool file.
        path: PathBuf,
        /// The system's words.
        detail: String,
    },
}

/// Why a notification was dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "cause", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropCause {
    /// The memory bound is reached (raise it, or use a spool).
    #[error("the queue is full ({limit} bytes of memory)")]
    QueueFull {
        /// The memory bound, in bytes.
        limit: usize,
    },
    /// The spool's size bound is reached (raise it).
    #[error("the spool is full ({limit} bytes)")]
    SpoolFull {
        /// The spool's bound, in bytes.
        limit: u64,
    },
    /// The memory bound is reached because the spool cannot be written (a full or read-only
    /// disk): what it could not take stayed in memory until that filled up too.
    #[error("the spool cannot be written ({path}: {detail}) and the memory queue is full")]
    SpoolWrite {
        /// The spool file.
        path: PathBuf,
        /// The system's words.
        detail: String,
    },
    /// Bytes in the spool that are not a record, or a record that no longer decodes: a write cut
    /// short by a crash (the tail of the last segment, cut off) or damage. Skipped.
    #[error(
        "{bytes} bytes at offset {offset} of {path} are not a whole record (a write cut short, or damage); skipped"
    )]
    SpoolCorrupt {
        /// The spool's segment file.
        path: PathBuf,
        /// Where the bad bytes start.
        offset: u64,
        /// How many bytes were skipped.
        bytes: u64,
    },
    /// A spool file vanished before it was delivered (removed by hand).
    #[error("{path} is gone from the spool")]
    SpoolGone {
        /// The spool file.
        path: PathBuf,
    },
    /// The notification cannot be encoded in the body format. In JSON:
    /// `{"cause": "encode", "error": "…"}`.
    #[error(transparent)]
    #[serde(serialize_with = "crate::serde_util::error_field")]
    Encode(EncodeError),
    /// The retry policy's attempt limit was reached for this notification
    /// ([`WebhookForwarderBuilder::retry`](super::WebhookForwarderBuilder::retry)).
    #[error("gave up after {attempts} failed attempts in a row (the last: {reason})")]
    GaveUp {
        /// Failed attempts in a row.
        attempts: u32,
        /// Why the last one failed.
        reason: RetryReason,
    },
}

impl DropCause {
    /// The `reason` label of `jellyfish_forward_lost_total`.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::QueueFull { .. } => "queue_full",
            Self::SpoolFull { .. } => "spool_full",
            Self::SpoolWrite { .. } => "spool_write",
            Self::SpoolCorrupt { .. } => "spool_corrupt",
            Self::SpoolGone { .. } => "spool_gone",
            Self::Encode(_) => "encode",
            Self::GaveUp { .. } => "gave_up",
        }
    }
}

/// What happened to a notification, for a subscriber of the forwarder's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, actix::Message)]
#[rtype(result = "()")]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ForwardEvent {
    /// The target answered 2xx.
    Delivered {
        /// The notification.
        about: About,
        /// The HTTP status.
        status: u16,
        /// How many POSTs it took.
        attempts: u32,
    },
    /// A POST failed in a way worth retrying; the next one follows after `retry_in`.
    Retrying {
        /// The notification.
        about: About,
        /// What went wrong.
        reason: RetryReason,
        /// The delay before the next POST.
        #[serde(serialize_with = "crate::serde_util::seconds")]
        retry_in: Duration,
    },
    /// The target answered a final 4xx: not retried.
    Rejected {
        /// The notification.
        about: About,
        /// The HTTP status.
        status: u16,
    },
    /// The spool cannot be written (a full or read-only disk, an I/O error): what it cannot take
    /// stays queued in memory, delivered if the process lives but lost if it is killed, until a
    /// write succeeds again ([`ForwardEvent::SpoolRecovered`]). Said once per failing period.
    SpoolFailing {
        /// The segment file that could not be written.
        path: PathBuf,
        /// The system's words.
        error: String,
        /// Queued when it started failing.
        queued: usize,
    },
    /// The spool takes writes again after [`ForwardEvent::SpoolFailing`].
    SpoolRecovered {
        /// The segment file written.
        path: PathBuf,
    },
    /// Notifications were dropped: the queue (and the spool) were full, or one could not be
    /// encoded, written to or read back from the spool. Sent when the total reaches 1, 2, 4, 8, …;
    /// [`ForwarderStats::dropped`] has the exact count.
    Dropped {
        /// The notification, when it is known (a spool file that no longer decodes is not).
        about: Option<About>,
        /// Why.
        cause: DropCause,
        /// Dropped so far in all.
        total: u64,
    },
}

/// The forwarder's counters, from [`GetForwarderStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ForwarderStats {
    /// Waiting to be delivered (including the one in flight).
    pub queued: usize,
    /// Of those, kept in the spool on disk (written and synced).
    pub spooled: usize,
    /// What the spool's folder takes on disk, counted as `du` does (whole 4 KiB blocks).
    pub spool_bytes: u64,
    /// Memory the queue takes: bodies held in memory with their entries, and the index of
    /// spooled ones.
    pub memory_bytes: usize,
    /// Answered 2xx.
    pub delivered: u64,
    /// POSTs that failed and were retried.
    pub retries: u64,
    /// Answered a final 4xx.
    pub rejected: u64,
    /// Dropped: every bound was full, or a body could not be encoded, spooled or read back.
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DrainOutcome {
    /// Still queued, kept in the spool.
    pub spooled: usize,
    /// Still queued in memory: lost with the process.
    pub lost: usize,
    /// The counters at the end.
    pub stats: ForwarderStats,
}
