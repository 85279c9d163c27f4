//! How a notification is written in a forwarded POST's body.

use crate::codec::EncodeError;
use crate::notification::Notification;

/// How a notification is written in the POST body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFormat {
    /// The protobuf `ServerMessage`, as Jellyfish 0.4+ and Fishjam servers send (the default).
    #[default]
    Protobuf,
    /// This crate's JSON shape.
    Json,
}

impl BodyFormat {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    pub(crate) fn encode(self, notification: &Notification) -> Result<Vec<u8>, EncodeError> {
        match self {
            Self::Protobuf => notification.encode(),
            Self::Json => serde_json::to_vec(notification).map_err(|err| EncodeError::Json {
                detail: err.to_string(),
            }),
        }
    }

    pub(crate) fn decode(self, body: &[u8]) -> Option<Notification> {
        match self {
            Self::Protobuf => crate::codec::receive_binary(body).ok()?.into_iter().next(),
            Self::Json => serde_json::from_slice(body).ok(),
        }
    }
}
