//! [`JetStreamBridge`]: notifications into a durable JetStream stream, in order, each counted
//! only once JetStream acknowledged it.

mod actor;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
mod outgoing;
mod phase;
mod publish;
mod round;
mod setup;
mod window;

use std::time::Duration;

use actix::prelude::*;

use super::error::NatsError;
use super::{DEFAULT_PREFIX, DEFAULT_STREAM};
use crate::notification::Notification;
use crate::retry::RetryPolicy;
pub use actor::JetStreamBridge;

/// The stream a [`JetStreamBridge`] creates when it is missing (at start, or when an operator
/// deleted it or nats-server came back without its store).
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// The stream's name.
    pub name: String,
    /// How long a message is kept.
    pub max_age: Duration,
    /// How long JetStream remembers a message id.
    pub duplicate_window: Duration,
    /// How many servers of a cluster keep a copy (1: no replication; 3 is what a three-server
    /// cluster wants). More than the cluster has servers is refused, said as a stream error.
    pub replicas: usize,
}

impl Default for StreamSettings {
    /// `JELLYFISH`, messages kept 7 days, ids remembered 2 minutes (JetStream's own default).
    fn default() -> Self {
        Self {
            name: DEFAULT_STREAM.to_owned(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
        }
    }
}

/// What a [`JetStreamBridge`] tells its event subscriber.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, actix::Message)]
#[rtype(result = "()")]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BridgeEvent {
    /// Connected to NATS and the stream exists.
    Ready,
    /// Publishing failed (NATS unreachable, no ack in time); the message stays first in the queue
    /// and is tried again after `retry_in`.
    Retrying {
        /// What failed.
        #[serde(serialize_with = "crate::serde_util::display")]
        error: NatsError,
        /// Messages waiting.
        queued: usize,
        /// The wait.
        #[serde(serialize_with = "crate::serde_util::seconds")]
        retry_in: Duration,
    },
    /// The queue was full: the newest message was dropped. Sent at 1, 2, 4, 8, … drops.
    Dropped {
        /// Dropped in all.
        total: u64,
    },
    /// The stream was gone (an operator deleted it, or nats-server came back without its store):
    /// the bridge created it again with its settings and goes on. What the old stream held is
    /// gone with it.
    StreamRecreated {
        /// The stream's name.
        stream: String,
    },
    /// The stream was gone and recreating it is disabled
    /// ([`JetStreamBridgeBuilder::recreate_stream`]): the bridge stopped.
    StreamGone {
        /// The stream's name.
        stream: String,
        /// Messages left unpublished.
        unpublished: usize,
    },
    /// The client lost its connection to the NATS server `server` (it reconnects by itself,
    /// failing over between the URLs); publishes wait meanwhile.
    Disconnected {
        /// The server it was connected to: its name and address.
        server: String,
    },
    /// Connected again after a [`BridgeEvent::Disconnected`], to `server` (on a cluster, maybe
    /// another one).
    Reconnected {
        /// The server now connected to: its name and address.
        server: String,
    },
    /// The stream's replicas elected a leader (a cluster's stream; after its leader died, or a
    /// rolling restart moved it): JetStream's own advisory, said as it comes.
    LeaderElected {
        /// The stream's name.
        stream: String,
        /// The server now leading it.
        leader: String,
    },
    /// The stream lost its quorum (too few of its replicas' servers are up): nothing is stored
    /// until enough are back; publishes time out and are retried.
    QuorumLost {
        /// The stream's name.
        stream: String,
    },
    /// The retry policy's attempt limit was reached ([`JetStreamBridgeBuilder::retry`]): the
    /// bridge stopped, and every [`Publish`] still waiting was answered `error`.
    GaveUp {
        /// Consecutive failures made.
        attempts: u32,
        /// The last failure.
        #[serde(serialize_with = "crate::serde_util::display")]
        error: NatsError,
        /// Messages left unpublished.
        unpublished: usize,
    },
    /// The stream (made by someone else) has limits under which JetStream deletes messages it
    /// acknowledged: notifications "published" may not stay stored. Said at every connection.
    StreamLimits {
        /// The stream's name.
        stream: String,
        /// The limits, in words (`max_msgs=100, discard old …`).
        limits: String,
    },
}

/// Counters of a [`JetStreamBridge`], from [`GetBridgeStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
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
    /// repetition that this bridge had missed ([`DedupIds`](crate::nats::DedupIds)).
    pub recounted: u64,
    /// Waiting to be published.
    pub queued: usize,
    /// Times the stream was gone and was created again.
    pub recreated: u64,
}

/// Answers a [`JetStreamBridge`]'s [`BridgeStats`].
#[derive(Clone, Copy, Debug, actix::Message)]
#[rtype(result = "BridgeStats")]
pub struct GetBridgeStats;

/// Publishes notifications and answers once JetStream has stored every one of them (or acked it
/// as a duplicate): `Ok(())`. `Err` at once if JetStream cannot store now (not connected, or a
/// publish failed and its retry is pending), if the queue is full, or if a publish of these
/// fails; and `Err` after [`JetStreamBridgeBuilder::publish_timeout`] if they are not all stored
/// by then. Nothing is ever answered `Ok` that was not stored: what a webhook receiver needs
/// before it answers 2xx, and an `Err` is its 503.
///
/// What was refused stays queued and may be stored later; a sender that retries (the same
/// notifications in the same room, within the stream's duplicate window) gets the same message
/// ids, so the stream holds one copy either way.
#[derive(Debug, actix::Message)]
#[rtype(result = "Result<(), NatsError>")]
pub struct Publish(pub Vec<Notification>);

/// Builds a [`JetStreamBridge`]: [`JetStreamBridge::builder`].
#[derive(Clone)]
pub struct JetStreamBridgeBuilder {
    url: String,
    prefix: String,
    stream: StreamSettings,
    queue_limit: usize,
    retry: RetryPolicy,
    ack_timeout: Duration,
    publish_timeout: Duration,
    recreate_stream: bool,
    window: usize,
    events: Option<Recipient<BridgeEvent>>,
    #[cfg(feature = "metrics")]
    metrics: Option<metrics::BridgeMetrics>,
}

impl JetStreamBridgeBuilder {
    /// The longest a [`Publish`] waits for JetStream to store its notifications before it is
    /// answered `Err` (default 5 s): a webhook sender gets its 503 in bounded time, whatever the
    /// outage.
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// How many publishes may wait for JetStream's acknowledgement at once (default 256; 1 is one
    /// at a time). They go out in order on one connection, which JetStream stores in order, at
    /// most one per room: a room's next message is sent once the one before it is stored, so no
    /// failure (a lost publish, a node's death) can store a room out of order. The window fills
    /// when many rooms are busy; a burst in one room goes one at a time. When a publish fails,
    /// everything unacknowledged is sent again from the first with the same ids.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Whether a stream found missing (deleted by an operator, or lost with nats-server's store)
    /// is created again with the bridge's settings, and said ([`BridgeEvent::StreamRecreated`]);
    /// default yes. If not, the bridge stops at once ([`BridgeEvent::StreamGone`]).
    pub fn recreate_stream(mut self, recreate: bool) -> Self {
        self.recreate_stream = recreate;
        self
    }

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

    /// How failed setups and publishes are retried (default 250 ms up to 4 s, for ever). The count
    /// starts over at every stored message, or once a setup's connection lasted the policy's
    /// `reset_after`; a new leader elected for the stream ends a wait at once. With an attempt
    /// limit, the bridge stops after that many failures in a row ([`BridgeEvent::GaveUp`]);
    /// without one, its queue bound says what is dropped.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Where [`BridgeEvent`]s go.
    pub fn events(mut self, recipient: Recipient<BridgeEvent>) -> Self {
        self.events = Some(recipient);
        self
    }

    /// Counts into these Prometheus metrics (feature `metrics`): published, duplicates, pending,
    /// the publish time, readiness, drops, stream recreations.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: metrics::BridgeMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Starts the bridge; it connects (and creates the stream) by itself, retrying.
    pub fn start(self) -> Addr<JetStreamBridge> {
        JetStreamBridge::new(self).start()
    }
}

impl JetStreamBridge {
    /// A builder for a bridge to the NATS server at `url` (`nats://host:port`, or `host:port`), or
    /// to a cluster: several URLs separated by commas, failed over between.
    pub fn builder(url: impl Into<String>) -> JetStreamBridgeBuilder {
        JetStreamBridgeBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            stream: StreamSettings::default(),
            queue_limit: 100_000,
            retry: RetryPolicy::default(),
            ack_timeout: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(5),
            recreate_stream: true,
            window: 256,
            events: None,
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }
}
