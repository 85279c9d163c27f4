//! Cheap-to-clone ids ([`RoomId`], [`PeerId`], …) and [`Metadata`], the server's JSON text kept as sent.

use std::fmt;
use std::sync::Arc;

use bytestring::ByteString;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        ///
        /// Cheap to clone (a reference-counted UTF-8 buffer inside, which takes over a decoded
        /// `String` without copying it); compares, hashes and derefs as the id text.
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(ByteString);

        impl $name {
            /// Wraps an id as the server sent it.
            pub fn new(id: impl Into<ByteString>) -> Self {
                Self(id.into())
            }

            /// The id text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.into())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id.into())
            }
        }

        impl super::TextField for $name {}

        impl From<Arc<str>> for $name {
            fn from(id: Arc<str>) -> Self {
                Self(ByteString::from(&*id))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }
    )*};
}

id_type! {
    /// A room id (`room_id`).
    RoomId;
    /// A peer id (`peer_id`).
    PeerId;
    /// A component id (`component_id`: HLS, RTSP, file, SIP, recording).
    ComponentId;
    /// A track id.
    TrackId;
    /// A data channel id (Fishjam Cloud).
    ChannelId;
    /// A livestream id (Fishjam Cloud).
    StreamId;
    /// A livestream viewer id (Fishjam Cloud).
    ViewerId;
    /// A livestream streamer id (Fishjam Cloud).
    StreamerId;
    /// A composition input id (Fishjam Cloud track forwarding).
    InputId;
    /// A recording id (Fishjam Cloud).
    RecordingId;
}

/// Metadata exactly as the server sent it: the JSON text of what the peer set
/// (`"null"` when it set nothing).
///
/// The text is kept verbatim so that nothing is lost or reformatted; [`Metadata::parse`] and
/// [`Metadata::to_value`] decode it on demand.
///
/// ```
/// use jellyfish_notifier::notification::Metadata;
///
/// #[derive(serde::Deserialize)]
/// struct Peer { name: String }
///
/// let metadata = Metadata::new(r#"{"name":"Zoë"}"#);
/// assert_eq!(metadata.parse::<Peer>().unwrap().name, "Zoë");
/// assert!(Metadata::null().to_value().unwrap().is_null());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(ByteString);

impl Metadata {
    /// Wraps metadata JSON text. The text is not validated: the server's bytes are kept as sent.
    pub fn new(json_text: impl Into<ByteString>) -> Self {
        Self(json_text.into())
    }

    /// `"null"`: what the server sends for a peer or track that set no metadata.
    pub fn null() -> Self {
        Self::new("null")
    }

    /// Encodes a value as metadata JSON text, the way the server does.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self::new)
    }

    /// The JSON text as the server sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the JSON text into `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// Parses the JSON text into a [`serde_json::Value`].
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.parse()
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Metadata {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl super::TextField for Metadata {}

impl AsRef<str> for Metadata {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Metadata {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}
