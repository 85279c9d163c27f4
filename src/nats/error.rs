//! What can go wrong between this crate and NATS JetStream.

/// A NATS or JetStream failure, as the bridge's events, [`Publish`](super::Publish) answers and
/// the consumer's logs report it. The `detail` fields carry the NATS client's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// No connection to the NATS server could be made, or it was lost. Retrying helps once the
    /// server is back (the components retry by themselves).
    #[error("cannot reach NATS at {url}: {detail}")]
    Connect {
        /// The URL tried.
        url: String,
        /// The client's error.
        detail: String,
    },
    /// The stream could not be created, found or read (JetStream disabled on the server, a
    /// stream with other subjects under that name, an account limit). Retrying helps only once
    /// an operator fixed the server or the stream.
    #[error("cannot use the JetStream stream {stream}: {detail}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// The client's error.
        detail: String,
    },
    /// The durable consumer could not be created or read. Retrying helps once the stream is back.
    #[error("cannot read the JetStream consumer {durable}: {detail}")]
    Consumer {
        /// The durable name.
        durable: String,
        /// The client's error.
        detail: String,
    },
    /// A publish was not acknowledged (no ack in time, no JetStream, the stream gone). The
    /// bridge keeps the message first in its queue and tries again.
    #[error("JetStream did not store the message: {detail}")]
    Publish {
        /// The client's error.
        detail: String,
    },
    /// The bridge has no connection to NATS yet: nothing could be stored now. Retrying later
    /// helps.
    #[error("not connected to NATS")]
    NotConnected,
    /// JetStream cannot store now: the last setup or publish failed (its words in `detail`) and
    /// the bridge is waiting to try again. Retrying later helps.
    #[error("JetStream cannot store now ({detail})")]
    Unavailable {
        /// Why the last attempt failed.
        detail: String,
    },
    /// The notifications were not all stored within the bridge's publish timeout (NATS slow or
    /// gone). They stay queued; retrying later helps, and stores no second copy.
    #[error("JetStream did not store it within {:.1} s", after.as_secs_f64())]
    NotStoredInTime {
        /// The publish timeout.
        after: std::time::Duration,
    },
    /// The stream was gone and the bridge was told not to create it again: it stopped.
    #[error(
        "the JetStream stream {stream} is gone (deleted, or nats-server lost its store) and is not recreated"
    )]
    StreamGone {
        /// The stream's name.
        stream: String,
    },
    /// The bridge's queue holds `limit` messages already (NATS unreachable for long): the message
    /// was dropped and counted. Retrying later helps.
    #[error("the NATS bridge's queue is full ({limit} messages)")]
    QueueFull {
        /// The queue's bound.
        limit: usize,
    },
    /// A notification could not be encoded (an unknown member without its bytes). Permanent for
    /// that notification.
    #[error("a notification cannot be encoded: {0}")]
    Encode(#[from] crate::codec::EncodeError),
    /// The bridge stopped before JetStream answered. Permanent for this bridge.
    #[error("the NATS bridge stopped")]
    Stopped,
}
