//! The typed notification model every path of this crate delivers: [`Notification`], its payload
//! structs, cheap-to-clone ids, [`Track`], [`Metadata`] and [`MetricsReport`].
//!
//! Each payload sits behind one `Arc`, so cloning a notification for each subscriber costs one
//! reference-count increment and no allocation; ids and texts are `Arc<str>`, cheap to clone out.
//!
//! # JSON shape
//!
//! Every notification serializes as one object: `"type"` is the protobuf `oneof` member name, the
//! other keys are the payload's protobuf field names, default values included. A track event names
//! its endpoint by whichever of `peer_id` / `component_id` the server set. Enums are lowercase short
//! names. Metadata stays JSON *text* (a string).
//!
//! ```
//! use jellyfish_notifier::Notification;
//! use jellyfish_notifier::notification::PeerConnected;
//!
//! let n = Notification::from(PeerConnected::new("room-1", "peer-1"));
//! let json = serde_json::to_string(&n).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"type":"peer_connected","room_id":"room-1","peer_id":"peer-1","peer_type":"unspecified"}"#
//! );
//! assert_eq!(serde_json::from_str::<Notification>(&json).unwrap(), n);
//! ```

mod ids;
mod kinds;
mod metrics;
mod payloads;
pub(crate) mod wire_enums;

use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

pub use ids::{
    ChannelId, ComponentId, InputId, Metadata, PeerId, RecordingId, RoomId, StreamId, StreamerId,
    TrackId, ViewerId,
};
pub(crate) use kinds::with_kinds;
pub use metrics::MetricsReport;
pub use payloads::{Endpoint, Track};
pub(crate) use wire_enums::wire_enum;
pub use wire_enums::{ParseNameError, PeerType, RecordingStatus, TrackType, VadStatus};

/// A payload field carried as protobuf `string`: every id, [`Metadata`] and free text. The codec
/// and the samples convert all of them the same way.
pub(crate) trait TextField: From<String> + AsRef<str> {}

impl TextField for Arc<str> {}

/// A payload field carried as a protobuf enum (`int32` on the wire).
pub(crate) trait NumberField: Copy {
    fn from_wire(value: i32) -> Self;
    fn to_wire(self) -> i32;
}

/// The server release that introduced a notification kind (see [`Notification::since`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ServerRelease {
    /// Jellyfish v0.3.0: members 1–15.
    Jellyfish0_3,
    /// Jellyfish v0.4: track and peer-metadata notifications.
    Jellyfish0_4,
    /// Jellyfish v0.5.0: `peer_added`, `peer_deleted`.
    Jellyfish0_5,
    /// Fishjam Cloud: livestreams, channels, track forwarding, voice activity, recordings.
    FishjamCloud,
}

/// One row of the table of kinds: what [`Notification::KINDS`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Kind {
    /// The `ServerMessage.content` field number.
    pub field: u32,
    /// The member name (the JSON shape's `"type"`).
    pub name: &'static str,
    /// The release that introduced it.
    pub since: ServerRelease,
}

/// A notification this version of the crate does not know: a `ServerMessage.content` member with a
/// field number it has no row for, or a JSON body whose `"type"` it does not know.
///
/// It is delivered like any other notification (on the WebSocket and through webhooks alike), so an
/// application can count or log what a newer server sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct UnknownNotification {
    /// The protobuf field number, when it arrived as protobuf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<u32>,
    /// The JSON `"type"`, when it arrived in the crate's JSON shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Arc<str>>,
}

impl UnknownNotification {
    /// An unknown protobuf member.
    pub fn field(field: u32) -> Self {
        Self {
            field: Some(field),
            kind: None,
        }
    }
}

/// One payload struct from a row of the table: positional fields (the constructor's arguments),
/// then, for `endpoint` rows, the owning endpoint, then the defaulted fields.
macro_rules! payload_struct {
    (
        [$($module:ident)?]
        $(#[$doc:meta])* $number:literal $name:literal $variant:ident
        { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }
        [ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty,)* ]
    ) => {
        payload_struct!(@emit [$($module)?] $(#[$doc])* $number $name $variant
            { $($(#[$fdoc])* $field: $ty,)* } [ $($(#[$xdoc])* $xfield: $xty,)* ]);
    };
    (
        @emit [] $(#[$doc:meta])* $number:literal $name:literal $variant:ident
        { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }
        [ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty,)* ]
    ) => {
        $(#[$doc])*
        #[doc = concat!("\n\nThe `", $name, "` notification (`ServerMessage` member ", $number, ").")]
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $variant {
            $($(#[$fdoc])* pub $field: $ty,)*
            $($(#[$xdoc])* pub $xfield: $xty,)*
        }

        impl $variant {
            /// Builds the notification from its ids and texts; any other field takes its default.
            #[allow(clippy::too_many_arguments, clippy::needless_update)]
            pub fn new($($field: impl Into<$ty>),*) -> Self {
                Self {
                    $($field: $field.into(),)*
                    ..Default::default()
                }
            }
        }
    };
    (
        @emit [$module:ident] $(#[$doc:meta])* $number:literal $name:literal $variant:ident
        { $(#[$f0doc:meta])* $f0:ident: $t0:ty, $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }
        [ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty,)* ]
    ) => {
        $(#[$doc])*
        #[doc = concat!("\n\nThe `", $name, "` notification (`ServerMessage` member ", $number, ").")]
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $variant {
            $(#[$f0doc])* pub $f0: $t0,
            /// The peer or component that owns it; `None` only if the server set neither.
            #[serde(flatten)]
            pub endpoint: Option<Endpoint>,
            $($(#[$fdoc])* pub $field: $ty,)*
            $($(#[$xdoc])* pub $xfield: $xty,)*
        }

        impl $variant {
            /// Builds the notification from its room, owner and the rest; any other field takes
            /// its default.
            #[allow(clippy::needless_update)]
            pub fn new($f0: impl Into<$t0>, endpoint: Endpoint, $($field: impl Into<$ty>),*) -> Self {
                Self {
                    $f0: $f0.into(),
                    endpoint: Some(endpoint),
                    $($field: $field.into(),)*
                    ..Default::default()
                }
            }
        }
    };
}

/// Everything the model derives from the table.
macro_rules! define_notification {
    ($(
        $(#[$doc:meta])*
        $number:literal $name:literal $variant:ident since $since:ident $(endpoint $module:ident)?
        { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }
        [ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty,)* ];
    )*) => {
        $(payload_struct! {
            [$($module)?] $(#[$doc])* $number $name $variant
            { $($(#[$fdoc])* $field: $ty,)* } [ $($(#[$xdoc])* $xfield: $xty,)* ]
        })*

        /// One server notification, from the WebSocket or a webhook.
        ///
        /// One variant per `ServerMessage.content` member that is a notification (every member
        /// except the four control messages, `metrics_report` and `notification_batch`, which is
        /// unwrapped). Members this version does not know arrive as [`Notification::Unknown`], so a
        /// newer server never breaks a subscriber.
        ///
        /// It is an actix [`Message`](actix::Message): an actor that implements
        /// `Handler<Notification>` receives it from the WebSocket notifier and from webhook
        /// handlers alike.
        ///
        /// Each payload sits behind an [`Arc`], so the clone the notifier makes for every
        /// subscriber is one reference-count increment, and the enum is two words. Build one with
        /// `From` (every payload converts) and read fields through the `Arc`:
        ///
        /// ```
        /// use jellyfish_notifier::Notification;
        /// use jellyfish_notifier::notification::PeerConnected;
        ///
        /// let n = Notification::from(PeerConnected::new("room-1", "peer-1"));
        /// if let Notification::PeerConnected(connected) = &n {
        ///     assert_eq!(connected.peer_id, "peer-1");
        /// }
        /// assert_eq!(std::mem::size_of::<Notification>(), 16);
        /// ```
        ///
        /// To match into a payload's fields (nested patterns do not see through an `Arc`), match
        /// on [`Notification::view`], which borrows each payload as a plain `&` reference:
        ///
        /// ```
        /// use jellyfish_notifier::*;
        /// use jellyfish_notifier::notification::*;
        /// use jellyfish_notifier::rooms::*;
        ///
        /// let n = Notification::from(TrackAdded::new(
        ///     "room-1",
        ///     Endpoint::Peer("peer-1".into()),
        ///     Track::new("track-1", TrackType::Video, "null"),
        /// ));
        /// let who = match n.view() {
        ///     NotificationRef::TrackAdded(TrackAdded {
        ///         endpoint: Some(Endpoint::Peer(peer)),
        ///         track: Track { track_type: TrackType::Video, .. },
        ///         ..
        ///     }) => format!("{peer} shares video"),
        ///     NotificationRef::PeerConnected(PeerConnected { peer_id, .. }) => format!("{peer_id} joined"),
        ///     _ => String::new(),
        /// };
        /// assert_eq!(who, "peer-1 shares video");
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq, Hash, actix::Message)]
        #[rtype(result = "()")]
        #[non_exhaustive]
        pub enum Notification {
            $(
                #[doc = concat!("`", $name, "` (", $number, ").")]
                $variant(Arc<$variant>),
            )*
            /// A member this version of the crate does not know.
            Unknown(Arc<UnknownNotification>),
        }

        /// A [`Notification`] with each payload borrowed as a plain reference, for nested
        /// patterns: see [`Notification::view`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum NotificationRef<'a> {
            $(
                #[doc = concat!("`", $name, "` (", $number, ").")]
                $variant(&'a $variant),
            )*
            /// A member this version of the crate does not know.
            Unknown(&'a UnknownNotification),
        }

        $(
            impl From<$variant> for Notification {
                fn from(payload: $variant) -> Self {
                    Self::$variant(Arc::new(payload))
                }
            }
        )*

        impl From<UnknownNotification> for Notification {
            fn from(payload: UnknownNotification) -> Self {
                Self::Unknown(Arc::new(payload))
            }
        }

        impl Notification {
            /// Every kind this version knows, in field-number order.
            pub const KINDS: &'static [Kind] = &[
                $(Kind { field: $number, name: $name, since: ServerRelease::$since },)*
            ];

            /// The protobuf `oneof` member name, as in the JSON shape's `"type"` (`"unknown"` for
            /// [`Notification::Unknown`]).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                    Self::Unknown(_) => "unknown",
                }
            }

            /// The `ServerMessage.content` field number (for an unknown member, the one it came
            /// with, if it came as protobuf).
            pub fn field_number(&self) -> Option<u32> {
                match self {
                    $(Self::$variant(_) => Some($number),)*
                    Self::Unknown(unknown) => unknown.field,
                }
            }

            /// The server release that introduced this kind (`None` for an unknown one).
            pub fn since(&self) -> Option<ServerRelease> {
                match self {
                    $(Self::$variant(_) => Some(ServerRelease::$since),)*
                    Self::Unknown(_) => None,
                }
            }

            /// The payload as a plain reference, for nested patterns (see [`Notification`]).
            pub fn view(&self) -> NotificationRef<'_> {
                match self {
                    $(Self::$variant(payload) => NotificationRef::$variant(payload),)*
                    Self::Unknown(payload) => NotificationRef::Unknown(payload),
                }
            }

            /// The room this notification is about, if it is about one (livestream and recording
            /// notifications are not).
            pub fn room_id(&self) -> Option<&RoomId> {
                match self {
                    $(Self::$variant(payload) => room_of!(payload; $($field)*),)*
                    Self::Unknown(_) => None,
                }
            }

            /// The peer's kind, for the notifications about a peer that carry it (Fishjam Cloud
            /// sets it; Jellyfish servers send `Unspecified`).
            pub fn peer_type(&self) -> Option<PeerType> {
                match self {
                    $(Self::$variant(payload) => peer_type_of!(payload; $($field)* $($xfield)*),)*
                    Self::Unknown(_) => None,
                }
            }

            /// The same notification with its peer kind set, if it carries one (otherwise
            /// unchanged). Clones the payload only if it is shared.
            pub fn with_peer_type(self, peer_type: PeerType) -> Self {
                match self {
                    $(Self::$variant(mut payload) => {
                        set_peer_type!(payload, peer_type; $($field)* $($xfield)*);
                        Self::$variant(payload)
                    })*
                    unknown @ Self::Unknown(_) => unknown,
                }
            }
        }

        impl Serialize for Notification {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(payload) => Tagged { kind: $name, payload: &**payload }.serialize(serializer),)*
                    Self::Unknown(payload) => Tagged { kind: "unknown", payload: &**payload }.serialize(serializer),
                }
            }
        }

        /// Reads `"type"` first: a known kind must then have its payload's shape, `"unknown"` or
        /// any other type decodes to [`Notification::Unknown`].
        impl<'de> Deserialize<'de> for Notification {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
                let kind = match object.remove("type") {
                    Some(serde_json::Value::String(kind)) => kind,
                    Some(other) => {
                        return Err(de::Error::custom(format!(
                            "\"type\" must be a string naming the notification, got {other}"
                        )));
                    }
                    None => return Err(de::Error::missing_field("type")),
                };
                let payload = serde_json::Value::Object(object);
                let known = match kind.as_str() {
                    $($name => serde_json::from_value::<$variant>(payload).map(Self::from),)*
                    "unknown" => serde_json::from_value::<UnknownNotification>(payload).map(Self::from),
                    _ => Ok(Self::from(UnknownNotification { field: None, kind: Some(kind.as_str().into()) })),
                };
                known.map_err(|err| de::Error::custom(format_args!("`{kind}`: {err}")))
            }
        }
    };
}

with_kinds!(define_notification);

/// A payload serialized after its `"type"`.
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    payload: &'a T,
}

/// `Some(&payload.room_id)` if the row has a `room_id` field, else `None`.
macro_rules! room_of {
    ($payload:ident; room_id $($rest:ident)*) => { Some(&$payload.room_id) };
    ($payload:ident; $other:ident $($rest:ident)*) => { room_of!($payload; $($rest)*) };
    ($payload:ident;) => {{
        let _ = $payload;
        None
    }};
}
use room_of;

/// `Some(payload.peer_type)` if the row has a `peer_type` field, else `None`.
macro_rules! peer_type_of {
    ($payload:ident; peer_type $($rest:ident)*) => { Some($payload.peer_type) };
    ($payload:ident; $other:ident $($rest:ident)*) => { peer_type_of!($payload; $($rest)*) };
    ($payload:ident;) => {{
        let _ = $payload;
        None
    }};
}
use peer_type_of;

/// Sets `payload.peer_type` if the row has that field.
macro_rules! set_peer_type {
    ($payload:ident, $value:ident; peer_type $($rest:ident)*) => {
        Arc::make_mut(&mut $payload).peer_type = $value;
    };
    ($payload:ident, $value:ident; $other:ident $($rest:ident)*) => {
        set_peer_type!($payload, $value; $($rest)*)
    };
    ($payload:ident, $value:ident;) => {
        let _ = (&mut $payload, $value);
    };
}
use set_peer_type;
