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
