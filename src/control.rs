//! The four control messages of the server WebSocket (auth and subscription), the event types and
//! the API token.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::notification::wire_enum;

wire_enum! {
    /// A message group a client subscribes to with `subscribe_request`.
    EventType {
        /// Not a valid subscription: the real server's socket process crashes on it.
        Unspecified = 0, "unspecified";
        /// Every notification of every room.
        ServerNotification = 1, "server_notification";
        /// A `metrics_report` every 1000 ms (Jellyfish only; reserved in Fishjam Cloud ≥ 0.21).
        Metrics = 2, "metrics";
    }
}

/// The server API token: the WebSocket's `auth_request` token and the REST
/// API's bearer token.
///
/// Its `Debug` output is redacted so it cannot leak into logs; [`ApiToken::expose`] gives the text
/// to the few places that must send it.
///
/// ```
/// use jellyfish_notifier::ApiToken;
///
/// let token = ApiToken::new("development");
/// assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");
/// assert_eq!(token.expose(), "development");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(Arc<str>);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// The token text, for sending it to the server. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with a presented token in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl From<&str> for ApiToken {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

impl From<String> for ApiToken {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

/// A close frame of the server's notification socket: the ones the Jellyfish server sends during
/// the handshake, by name, and any other code and reason as they came.
///
/// ```
/// use jellyfish_notifier::control::ServerClose;
///
/// let close = ServerClose::from_frame(1000, "invalid token");
/// assert_eq!(close, ServerClose::InvalidToken);
/// assert_eq!((close.code(), close.reason()), (1000, "invalid token"));
/// assert!(close.is_final());
/// assert!(!ServerClose::from_frame(1012, "service restart").is_final());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerClose {
    /// 1000 "invalid token": the API token is wrong. Final: reconnecting would repeat it.
    InvalidToken,
    /// 1000 "invalid auth request": the first message was not an `auth_request`. Final.
    InvalidAuthRequest,
    /// 1003 "operation not allowed": a message the server does not accept at that point. Final.
    OperationNotAllowed,
    /// 1001 "going away": the server is stopping. Worth reconnecting.
    GoingAway,
    /// Any other close. Final only with code 1003 (an operation not allowed, whatever the reason);
    /// otherwise (a restart's 1012, a crash's 1011, a plain 1000) worth reconnecting.
    Other {
        /// The close code (1005 for a close frame without one).
        code: u16,
        /// The close reason.
        reason: String,
    },
}

impl ServerClose {
    /// The meaning of a close frame with `code` and `reason`.
    pub fn from_frame(code: u16, reason: &str) -> Self {
        match (code, reason) {
            (1000, "invalid token") => Self::InvalidToken,
            (1000, "invalid auth request") => Self::InvalidAuthRequest,
            (1003, "operation not allowed") => Self::OperationNotAllowed,
            (1001, "going away") => Self::GoingAway,
            (code, reason) => Self::Other {
                code,
                reason: reason.to_owned(),
            },
        }
    }

    /// The close code.
    pub fn code(&self) -> u16 {
        match self {
            Self::InvalidToken | Self::InvalidAuthRequest => 1000,
            Self::OperationNotAllowed => 1003,
            Self::GoingAway => 1001,
            Self::Other { code, .. } => *code,
        }
    }

    /// The close reason.
    pub fn reason(&self) -> &str {
        match self {
            Self::InvalidToken => "invalid token",
            Self::InvalidAuthRequest => "invalid auth request",
            Self::OperationNotAllowed => "operation not allowed",
            Self::GoingAway => "going away",
            Self::Other { reason, .. } => reason,
        }
    }

    /// Whether reconnecting cannot help: a wrong token, or this client breaking the protocol.
    pub fn is_final(&self) -> bool {
        match self {
            Self::InvalidToken | Self::InvalidAuthRequest | Self::OperationNotAllowed => true,
            Self::GoingAway => false,
            Self::Other { code, .. } => *code == 1003,
        }
    }
}

/// The messages that set up a server WebSocket, in the order they are exchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlMessage {
    /// Client → server: the first frame (`auth_request`, 7).
    AuthRequest {
        /// The server API token.
        token: ApiToken,
    },
    /// Server → client: the token was accepted (`authenticated`, 6).
    Authenticated,
    /// Client → server: deliver this event type (`subscribe_request`, 8).
    SubscribeRequest(EventType),
    /// Server → client: the subscription is active (`subscribe_response`, 9).
    SubscribeResponse(EventType),
}

impl ControlMessage {
    /// The protobuf `oneof` member name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AuthRequest { .. } => "auth_request",
            Self::Authenticated => "authenticated",
            Self::SubscribeRequest(_) => "subscribe_request",
            Self::SubscribeResponse(_) => "subscribe_response",
        }
    }
}
