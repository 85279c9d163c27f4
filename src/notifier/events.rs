//! What the notifier tells its users: connection events, errors and stats.

use std::time::Duration;

use super::SubscriptionId;

/// A duration as people read it in a message: "25.2 s", "0.2 s".
pub(crate) struct Seconds(pub(crate) Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} s", self.0.as_secs_f64())
    }
}
use crate::address::AddressError;

/// Why a connection attempt failed or a connection was lost. Every variant is worth another attempt
/// (what is not is a [`NotifierError`]); an application can tell them apart to decide what to say or
/// whether to resync.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Nothing listens at the address (TCP connection refused): the server is down or restarting.
    #[error("connection refused: nothing is listening there")]
    Refused,
    /// The TCP connection, TLS or the upgrade request failed for another reason (DNS, a reset, a
    /// TLS error); the text is the transport's own.
    #[error("could not connect: {0}")]
    ConnectFailed(String),
    /// Connecting (TCP, TLS and the upgrade) took longer than the connect timeout.
    #[error("connecting took longer than {}", Seconds(*.0))]
    ConnectTimeout(Duration),
    /// The server answered the upgrade with an HTTP status that may pass (5xx, 408, 429).
    #[error("the server answered the WebSocket upgrade with HTTP {status}")]
    UpgradeRefused {
        /// The HTTP status.
        status: u16,
    },
    /// The server did not answer `auth_request` within the auth timeout.
    #[error("the server did not answer auth_request within {}", Seconds(*.0))]
    AuthTimeout(Duration),
    /// The server did not confirm every needed subscription within the subscribe timeout.
    #[error("the server did not confirm the subscriptions within {}", Seconds(*.0))]
    SubscribeTimeout(Duration),
    /// The server closed the connection with a close frame whose code is worth retrying (a restart's
    /// 1001 or 1012, a crash's 1011, a plain 1000, …). `1005` stands for a close frame without a code.
    #[error("the server closed the connection: {code} {reason:?}")]
    Closed {
        /// The close code.
        code: u16,
        /// The close reason (empty if none).
        reason: String,
    },
    /// The connection ended without a close frame (EOF or reset): the server died, or a proxy cut it.
    #[error("the connection ended without a close frame")]
    Dropped,
    /// Nothing, not even a ping, arrived for longer than the idle timeout: the link is dead.
    #[error(
        "nothing received for {} (idle timeout {}): the link is dead",
        Seconds(*silent),
        Seconds(*limit)
    )]
    IdleTimeout {
        /// How long it had been silent.
        silent: Duration,
        /// The idle timeout.
        limit: Duration,
    },
    /// The WebSocket framing was broken (a bad frame, an oversized frame header).
    #[error("WebSocket protocol error: {0}")]
    Protocol(ProtocolViolation),
}

/// How the server's WebSocket stream broke the protocol (RFC 6455), as the frame decoder found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A frame from the server was masked (only clients mask).
    #[error("a masked frame from the server")]
    MaskedFrame,
    /// A frame with an opcode RFC 6455 does not define.
    #[error("an invalid opcode ({0})")]
    InvalidOpcode(u8),
    /// A control frame longer than 125 bytes.
    #[error("a control frame of invalid length ({0})")]
    InvalidLength(usize),
    /// A frame larger than the notifier's `max_frame_size`, or with an invalid length.
    #[error("a frame larger than the frame size limit, or of invalid length")]
    TooLarge,
    /// A continuation frame without a start, or a new message inside a fragmented one.
    #[error("a continuation frame out of place")]
    Continuation,
    /// Reading the socket failed.
    #[error("reading the socket failed: {detail}")]
    Io {
        /// The system's words.
        detail: String,
    },
    /// Any other violation the decoder reports.
    #[error("{detail}")]
    Other {
        /// The decoder's words.
        detail: String,
    },
}

impl From<actix_http::ws::ProtocolError> for ProtocolViolation {
    fn from(err: actix_http::ws::ProtocolError) -> Self {
        use actix_http::ws::ProtocolError as E;
        match err {
            E::MaskedFrame | E::UnmaskedFrame => Self::MaskedFrame,
            E::InvalidOpcode(code) => Self::InvalidOpcode(code),
            E::InvalidLength(length) => Self::InvalidLength(length),
            E::Overflow => Self::TooLarge,
            E::ContinuationNotStarted | E::ContinuationStarted | E::ContinuationFragment(_) => {
                Self::Continuation
            }
            E::Io(err) => Self::Io {
                detail: err.to_string(),
            },
            other => Self::Other {
                detail: other.to_string(),
            },
        }
    }
}

impl NotifierError {
    /// The error itself, without the note an [`NotifierError::AtFishjamId`] adds.
    pub fn cause(&self) -> &NotifierError {
        match self {
            Self::AtFishjamId { error, .. } => error.cause(),
            other => other,
        }
    }
}

/// Why the notifier stopped trying. Every variant is final: the notifier will not reconnect by
/// itself after it (build a new one once the cause is fixed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifierError {
    /// The server closed with 1000 `invalid token`: the API token is wrong. Not retried, so a wrong
    /// token costs the server one connection, not a retry storm.
    #[error(
        "the server rejected the API token (close 1000 \"invalid token\"); check the API token given to the notifier; not retried"
    )]
    InvalidToken,
    /// The server closed the connection for a protocol violation (`1000 invalid auth request` or
    /// `1003 operation not allowed`). Retrying would repeat it.
    #[error(
        "the server closed the connection as a protocol violation: {code} {reason:?}; not retried"
    )]
    Protocol {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The WebSocket upgrade was answered with a status that will not change by itself: a 4xx (a
    /// wrong path or address, a proxy denying access), or a 2xx/3xx (a web page or a redirect:
    /// the address is not the server's WebSocket).
    #[error(
        "the server answered the WebSocket upgrade with HTTP {status}, not 101; check the address (is it the server's port?); not retried"
    )]
    UpgradeRejected {
        /// The HTTP status.
        status: u16,
    },
    /// The reconnect policy's attempt limit (opt-in: [`RetryPolicy::max_attempts`]) was reached
    /// without getting ready.
    ///
    /// [`RetryPolicy::max_attempts`]: crate::retry::RetryPolicy::max_attempts
    #[error("gave up after {attempts} connection attempts; the last failure: {last_error}")]
    RetriesExhausted {
        /// Consecutive attempts made since the last stable connection.
        attempts: u32,
        /// Why the last one failed.
        last_error: DisconnectReason,
    },
    /// The server address could not be turned into a WebSocket URL.
    #[error(transparent)]
    InvalidAddress(#[from] AddressError),
    /// The server's TLS certificate did not verify (an unknown issuer, a wrong host name, an
    /// expired certificate), or a root certificate given to the builder is unusable. Retrying
    /// cannot help: trust the issuer (`add_root_certificate`) or fix the address.
    #[error(
        "TLS with {host:?} failed: {reason}; not retried (add its root certificate, or check the address)"
    )]
    Tls {
        /// The host whose certificate failed (empty for an unusable root certificate).
        host: String,
        /// What rustls said.
        reason: String,
    },
    /// `wss://` was asked for, but the server answered the TLS handshake in plain text: it does
    /// not speak TLS at that port. Retrying cannot help: use `ws://` (or a port with TLS).
    #[error(
        "{host} answered the TLS handshake in plain text: the server does not speak TLS there; use ws:// (or http://) for it; not retried"
    )]
    NotTls {
        /// The host.
        host: String,
    },
    /// `wss://` was asked for, but this build has no TLS support.
    #[error(
        "wss:// needs TLS, which this build of jellyfish-notifier does not include (enable its `rustls` feature)"
    )]
    TlsUnavailable,
    /// Any of the other errors, for an address that was a bare word taken as a Fishjam ID: the
    /// error says so, with the URL it became and how to give a host of that name instead.
    #[error("{error} ({address})")]
    AtFishjamId {
        /// How the address was read.
        address: crate::address::FishjamIdAddress,
        /// The error itself.
        error: Box<NotifierError>,
    },
    /// The notifier was started outside an actix `System`.
    #[error(
        "WsNotifier must run inside an actix System: start it from #[actix::main], #[actix_web::main] or System::new().block_on(…)"
    )]
    NoSystem,
    /// The notifier was shut down.
    #[error("the notifier was shut down")]
    Shutdown,
}

/// What happens to the notifier's connection, for subscribers of
/// [`SubscribeConnectionEvents`](crate::SubscribeConnectionEvents).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, actix::Message)]
#[rtype(result = "()")]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A connection attempt starts (1 for the first attempt after start or after a stable
    /// connection: one that stayed up for the retry policy's `reset_after`).
    Connecting {
        /// The consecutive attempt number.
        attempt: u32,
    },
    /// Authenticated and every needed subscription confirmed.
    Ready {
        /// After a reconnect, how long nothing could arrive: from the last frame received on the
        /// lost connection to this connection's readiness, so never shorter than the real
        /// silence. The server replays nothing, so notifications sent in this window are lost: an
        /// application may resync its rooms over REST. `None` for the first connection.
        #[serde(serialize_with = "crate::serde_util::opt_seconds")]
        gap: Option<Duration>,
    },
    /// The connection ended or an attempt failed; another follows after `retry_in`.
    Disconnected {
        /// What happened (its `Display` is written for people).
        reason: DisconnectReason,
        /// The backoff delay before the next attempt.
        #[serde(serialize_with = "crate::serde_util::seconds")]
        retry_in: Duration,
        /// The consecutive attempt count since the last stable connection (0 if a stable
        /// connection was lost).
        attempt: u32,
    },
    /// The notifier stopped trying for good. In JSON: `{"event": "failed", "error": "…"}`.
    #[serde(serialize_with = "crate::serde_util::error_field")]
    Failed(NotifierError),
    /// The server dropped the connection twice in a row right after `subscribe_request` for
    /// metrics, as Fishjam Cloud does (it removed metrics, and its socket process crashes on the
    /// unknown event type). The notifier stops asking for metrics, so notifications keep flowing;
    /// metrics subscribers stay registered and receive nothing from this server.
    MetricsUnsupported,
    /// A subscriber missed messages: its actor's mailbox was full under
    /// [`DeliveryPolicy::DropWhenFull`](crate::notifier::DeliveryPolicy::DropWhenFull), or its bounded
    /// stream was full (under any policy). Sent when its total reaches 1, 2, 4, 8, …
    NotificationsDropped {
        /// The lagging subscription.
        subscription: SubscriptionId,
        /// How many messages it has missed in all.
        total: u64,
    },
}

/// Where the notifier's connection stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening a connection, authenticating or subscribing.
    Connecting,
    /// Authenticated with every needed subscription confirmed.
    Ready,
    /// Waiting before the next attempt.
    Waiting,
    /// Stopped trying.
    Failed(NotifierError),
}

/// Counters, from [`GetStats`](crate::GetStats).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotifierStats {
    /// Where the connection stands.
    pub state: ConnectionState,
    /// Connection attempts since start.
    pub connection_attempts: u64,
    /// Notifications received from the server (not counting skipped frames).
    pub notifications_received: u64,
    /// Metrics reports received.
    pub metrics_received: u64,
    /// Frames that could not be decoded and were skipped.
    pub malformed_frames: u64,
    /// Content members this version does not know, delivered as `Notification::Unknown`.
    pub unknown_members: u64,
    /// Messages dropped for full subscribers: actor mailboxes under the drop policy, and bounded
    /// streams under any policy.
    pub dropped: u64,
    /// Current notification subscribers.
    pub notification_subscribers: usize,
    /// Current metrics subscribers.
    pub metrics_subscribers: usize,
}

impl serde::Serialize for DisconnectReason {
    /// As its message.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl serde::Serialize for NotifierError {
    /// As its message.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_messages_read_as_seconds() {
        let idle = DisconnectReason::IdleTimeout {
            silent: Duration::from_nanos(25_244_552_948),
            limit: Duration::from_secs(25),
        };
        assert_eq!(
            idle.to_string(),
            "nothing received for 25.2 s (idle timeout 25.0 s): the link is dead"
        );
        assert_eq!(
            DisconnectReason::ConnectTimeout(Duration::from_millis(10_000)).to_string(),
            "connecting took longer than 10.0 s"
        );
    }
}
