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
//! use jellyfish_notifier::{Notification, PeerConnected};
//!
//! let n = Notification::from(PeerConnected::new("room-1", "peer-1"));
//! let json = serde_json::to_string(&n).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"type":"peer_connected","room_id":"room-1","peer_id":"peer-1","peer_type":"unspecified"}"#
//! );
//! assert_eq!(serde_json::from_str::<Notification>(&json).unwrap(), n);
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        ///
        /// Cheap to clone (an `Arc<str>` inside); compares, hashes and derefs as the id text.
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an id as the server sent it.
            pub fn new(id: impl Into<Arc<str>>) -> Self {
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

        impl From<Arc<str>> for $name {
            fn from(id: Arc<str>) -> Self {
                Self(id)
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
/// use jellyfish_notifier::Metadata;
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
pub struct Metadata(Arc<str>);

impl Metadata {
    /// Wraps metadata JSON text. The text is not validated: the server's bytes are kept as sent.
    pub fn new(json_text: impl Into<Arc<str>>) -> Self {
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

impl From<String> for Metadata {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

/// Defines a protobuf enum as a Rust enum that keeps values it does not know (`Unknown(n)`), so a
/// newer server never fails decoding and re-encoding gives the same bytes.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident = $num:literal, $json:literal;)* }
    ) => {
        $(#[$doc])*
        ///
        /// Serializes as its lowercase short name; a value this crate does not know serializes as
        /// the bare number and is kept as `Unknown(n)`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version of the crate does not know, kept as sent.
            Unknown(i32),
        }

        impl $name {
            /// The enum for a wire value.
            pub const fn from_i32(value: i32) -> Self {
                match value {
                    $($num => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }

            /// The wire value.
            pub const fn to_i32(self) -> i32 {
                match self {
                    $(Self::$variant => $num,)*
                    Self::Unknown(other) => other,
                }
            }

            /// The lowercase short name used in the JSON shape, or `None` for `Unknown`.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some($json),)*
                    Self::Unknown(_) => None,
                }
            }

            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($json => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::from_i32(0)
            }
        }

        impl From<i32> for $name {
            fn from(value: i32) -> Self {
                Self::from_i32(value)
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.to_i32()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}", self.to_i32()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(name) => serializer.serialize_str(name),
                    None => serializer.serialize_i32(self.to_i32()),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($json),*];
                deserializer.deserialize_any(crate::notification::WireEnumVisitor {
                    expecting: stringify!($name),
                    names: NAMES,
                    from_name: Self::from_name,
                    from_i32: Self::from_i32,
                })
            }
        }
    };
}
pub(crate) use wire_enum;

/// Shared visitor behind every `wire_enum!`: a short name or a wire number.
pub(crate) struct WireEnumVisitor<T> {
    pub(crate) expecting: &'static str,
    pub(crate) names: &'static [&'static str],
    pub(crate) from_name: fn(&str) -> Option<T>,
    pub(crate) from_i32: fn(i32) -> T,
}

impl<T> de::Visitor<'_> for WireEnumVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} name or wire number", self.expecting)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<T, E> {
        (self.from_name)(name).ok_or_else(|| de::Error::unknown_variant(name, self.names))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        i32::try_from(value)
            .map(self.from_i32)
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        i32::try_from(value)
            .map(self.from_i32)
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Unsigned(value), &self))
    }
}

wire_enum! {
    /// The kind of a media track.
    TrackType {
        /// The server did not say.
        Unspecified = 0, "unspecified";
        /// A video track.
        Video = 1, "video";
        /// An audio track.
        Audio = 2, "audio";
    }
}

wire_enum! {
    /// The kind of a peer. Only Fishjam Cloud sets it; Jellyfish servers always send `Unspecified`.
    PeerType {
        /// Not set (every Jellyfish server).
        Unspecified = 0, "unspecified";
        /// A WebRTC peer.
        Webrtc = 1, "webrtc";
        /// An agent peer.
        Agent = 2, "agent";
        /// A VAPI peer.
        Vapi = 3, "vapi";
    }
}

wire_enum! {
    /// Voice activity on a track (Fishjam Cloud).
    VadStatus {
        /// Not set.
        Unspecified = 0, "unspecified";
        /// The speaker went silent.
        Silence = 1, "silence";
        /// The speaker started speaking.
        Speech = 2, "speech";
    }
}

wire_enum! {
    /// State of a recording (Fishjam Cloud).
    RecordingStatus {
        /// Not set.
        Unspecified = 0, "unspecified";
        /// Recording is in progress.
        Active = 1, "active";
        /// Recording has finished.
        Finished = 2, "finished";
        /// The recording is available for download.
        Available = 3, "available";
        /// Recording failed.
        Failed = 4, "failed";
    }
}

/// A media track, as carried by the track notifications.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Track {
    /// The track id.
    pub id: TrackId,
    /// Audio or video.
    #[serde(rename = "type")]
    pub track_type: TrackType,
    /// The track's metadata JSON text (`"null"` when the peer set none).
    pub metadata: Metadata,
}

impl Track {
    /// A track with the given id, type and metadata text.
    pub fn new(
        id: impl Into<TrackId>,
        track_type: TrackType,
        metadata: impl Into<Metadata>,
    ) -> Self {
        Self {
            id: id.into(),
            track_type,
            metadata: metadata.into(),
        }
    }
}

/// Who owns a track or channel: a peer or a component (the protobuf `endpoint_info` oneof).
///
/// In the JSON shape it appears as a `peer_id` or a `component_id` key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Endpoint {
    /// A peer's track.
    #[serde(rename = "peer_id")]
    Peer(PeerId),
    /// A component's track.
    #[serde(rename = "component_id")]
    Component(ComponentId),
}

impl Endpoint {
    /// The id, whichever kind it is.
    pub fn id(&self) -> &str {
        match self {
            Self::Peer(id) => id,
            Self::Component(id) => id,
        }
    }
}

/// Defines payload structs whose fields are all ids and texts, with a positional constructor.
macro_rules! payload {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty),* $(,)? }
        $([ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty),* $(,)? ])?
    )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
            $($($(#[$xdoc])* pub $xfield: $xty,)*)?
        }

        impl $name {
            /// Builds the notification from its ids and texts; any other field takes its default.
            #[allow(clippy::too_many_arguments, clippy::needless_update)]
            pub fn new($($field: impl Into<$ty>),*) -> Self {
                Self {
                    $($field: $field.into(),)*
                    ..Default::default()
                }
            }
        }
    )*};
}

payload! {
    /// A room crashed (`room_crashed`, 1).
    RoomCrashed { /// The room.
        room_id: RoomId }
    /// A peer's socket authenticated (`peer_connected`, 2).
    PeerConnected { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId }
    [ /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
        peer_type: PeerType ]
    /// A peer disconnected (`peer_disconnected`, 3).
    PeerDisconnected { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId }
    [ /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
        peer_type: PeerType ]
    /// A peer crashed (`peer_crashed`, 4).
    PeerCrashed { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId, /// Free text from the server (v0.5+; empty before).
        reason: Arc<str> }
    [ /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
        peer_type: PeerType ]
    /// A component crashed (`component_crashed`, 5).
    ComponentCrashed { /// The room.
        room_id: RoomId, /// The component.
        component_id: ComponentId }
    /// A room was created (`room_created`, 10).
    RoomCreated { /// The room.
        room_id: RoomId }
    /// A room was deleted (`room_deleted`, 11).
    RoomDeleted { /// The room.
        room_id: RoomId }
    /// An HLS stream became playable (`hls_playable`, 13).
    HlsPlayable { /// The room.
        room_id: RoomId, /// The HLS component.
        component_id: ComponentId }
    /// An HLS recording was uploaded to S3 (`hls_uploaded`, 14).
    HlsUploaded { /// The room.
        room_id: RoomId }
    /// Uploading an HLS recording to S3 failed (`hls_upload_crashed`, 15).
    HlsUploadCrashed { /// The room.
        room_id: RoomId }
    /// A peer updated its metadata (`peer_metadata_updated`, 16).
    PeerMetadataUpdated { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId, /// The new metadata JSON text.
        metadata: Metadata }
    [ /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
        peer_type: PeerType ]
    /// A peer was added through the REST API (`peer_added`, 20).
    PeerAdded { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId }
    [ /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
        peer_type: PeerType ]
    /// A peer was removed (`peer_deleted`, 21).
    PeerDeleted { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId }
    [ /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
        peer_type: PeerType ]
    /// A streamer connected to a livestream (`stream_connected`, 22; deprecated in Cloud).
    StreamConnected { /// The stream.
        stream_id: StreamId }
    /// A streamer disconnected (`stream_disconnected`, 23; deprecated in Cloud).
    StreamDisconnected { /// The stream.
        stream_id: StreamId }
    /// A viewer connected to a livestream (`viewer_connected`, 24).
    ViewerConnected { /// The stream.
        stream_id: StreamId, /// The viewer.
        viewer_id: ViewerId }
    /// A viewer disconnected (`viewer_disconnected`, 25).
    ViewerDisconnected { /// The stream.
        stream_id: StreamId, /// The viewer.
        viewer_id: ViewerId }
    /// A streamer connected (`streamer_connected`, 26).
    StreamerConnected { /// The stream.
        stream_id: StreamId, /// The streamer.
        streamer_id: StreamerId }
    /// A streamer disconnected (`streamer_disconnected`, 27).
    StreamerDisconnected { /// The stream.
        stream_id: StreamId, /// The streamer.
        streamer_id: StreamerId }
    /// A track forwarding to a composition was removed (`track_forwarding_removed`, 31).
    TrackForwardingRemoved { /// The room.
        room_id: RoomId, /// The peer whose tracks were forwarded.
        peer_id: PeerId, /// The composition's URL.
        composition_url: Arc<str>, /// The composition input.
        input_id: InputId }
    /// Voice activity changed on a track (`vad_notification`, 32).
    VadNotification { /// The room.
        room_id: RoomId, /// The peer.
        peer_id: PeerId, /// The audio track.
        track_id: TrackId }
    [ /// Speech or silence.
        status: VadStatus ]
    /// A recording changed state (`recording_status_changed`, 34).
    RecordingStatusChanged { /// The recording.
        recording_id: RecordingId }
    [ /// Its new state.
        status: RecordingStatus, /// Metadata JSON text.
        metadata: Metadata ]
}

/// Defines the track-carrying payloads (members 17–19): a room, the endpoint and the track.
macro_rules! track_event {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $name {
            /// The room.
            pub room_id: RoomId,
            /// The peer or component that owns the track; `None` only if the server set neither.
            #[serde(flatten)]
            pub endpoint: Option<Endpoint>,
            /// The track.
            pub track: Track,
        }

        impl $name {
            /// A track event for a room, an endpoint and a track.
            pub fn new(room_id: impl Into<RoomId>, endpoint: Endpoint, track: Track) -> Self {
                Self { room_id: room_id.into(), endpoint: Some(endpoint), track }
            }
        }
    )*};
}

track_event! {
    /// A peer or component added a track (`track_added`, 17).
    TrackAdded;
    /// A track was removed (`track_removed`, 18).
    TrackRemoved;
    /// A track's metadata was updated (`track_metadata_updated`, 19).
    TrackMetadataUpdated;
}

/// Defines the data-channel payloads (members 28–29).
macro_rules! channel_event {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $name {
            /// The room.
            pub room_id: RoomId,
            /// The peer or component that owns the channel; `None` only if the server set neither.
            #[serde(flatten)]
            pub endpoint: Option<Endpoint>,
            /// The channel.
            pub channel_id: ChannelId,
        }

        impl $name {
            /// A channel event for a room, an endpoint and a channel.
            pub fn new(
                room_id: impl Into<RoomId>,
                endpoint: Endpoint,
                channel_id: impl Into<ChannelId>,
            ) -> Self {
                Self { room_id: room_id.into(), endpoint: Some(endpoint), channel_id: channel_id.into() }
            }
        }
    )*};
}

channel_event! {
    /// A peer created a data channel (`channel_added`, 28).
    ChannelAdded;
    /// A peer deleted a data channel (`channel_removed`, 29).
    ChannelRemoved;
}

/// A peer's tracks are forwarded to a composition (`track_forwarding`, 30).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrackForwarding {
    /// The room.
    pub room_id: RoomId,
    /// The peer whose tracks are forwarded.
    pub peer_id: PeerId,
    /// The composition's URL.
    pub composition_url: Arc<str>,
    /// The composition input.
    pub input_id: InputId,
    /// The forwarded audio track, if any.
    pub audio_track: Option<Track>,
    /// The forwarded video track, if any.
    pub video_track: Option<Track>,
}

/// One server notification, from the WebSocket or a webhook.
///
/// One variant per `ServerMessage.content` member that is a notification (every member except the
/// four control messages, `metrics_report` and `notification_batch`, which is unwrapped). Members this
/// version does not know arrive as [`Notification::Unknown`], so a newer server never breaks a
/// subscriber.
///
/// It is an actix [`Message`](actix::Message): an actor that implements `Handler<Notification>`
/// receives it from the WebSocket notifier and from webhook handlers alike.
///
/// Each payload sits behind an [`Arc`], so the clone the notifier makes for every subscriber is one
/// reference-count increment, and the enum is two words. Build one with `From` (every payload
/// converts) and read fields through the `Arc`:
///
/// ```
/// use jellyfish_notifier::{Notification, PeerConnected};
///
/// let n = Notification::from(PeerConnected::new("room-1", "peer-1"));
/// if let Notification::PeerConnected(connected) = &n {
///     assert_eq!(connected.peer_id, "peer-1");
/// }
/// assert_eq!(std::mem::size_of::<Notification>(), 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, actix::Message)]
#[rtype(result = "()")]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Notification {
    /// `room_crashed` (1).
    RoomCrashed(Arc<RoomCrashed>),
    /// `peer_connected` (2).
    PeerConnected(Arc<PeerConnected>),
    /// `peer_disconnected` (3).
    PeerDisconnected(Arc<PeerDisconnected>),
    /// `peer_crashed` (4).
    PeerCrashed(Arc<PeerCrashed>),
    /// `component_crashed` (5).
    ComponentCrashed(Arc<ComponentCrashed>),
    /// `room_created` (10).
    RoomCreated(Arc<RoomCreated>),
    /// `room_deleted` (11).
    RoomDeleted(Arc<RoomDeleted>),
    /// `hls_playable` (13).
    HlsPlayable(Arc<HlsPlayable>),
    /// `hls_uploaded` (14).
    HlsUploaded(Arc<HlsUploaded>),
    /// `hls_upload_crashed` (15).
    HlsUploadCrashed(Arc<HlsUploadCrashed>),
    /// `peer_metadata_updated` (16).
    PeerMetadataUpdated(Arc<PeerMetadataUpdated>),
    /// `track_added` (17).
    TrackAdded(Arc<TrackAdded>),
    /// `track_removed` (18).
    TrackRemoved(Arc<TrackRemoved>),
    /// `track_metadata_updated` (19).
    TrackMetadataUpdated(Arc<TrackMetadataUpdated>),
    /// `peer_added` (20).
    PeerAdded(Arc<PeerAdded>),
    /// `peer_deleted` (21).
    PeerDeleted(Arc<PeerDeleted>),
    /// `stream_connected` (22).
    StreamConnected(Arc<StreamConnected>),
    /// `stream_disconnected` (23).
    StreamDisconnected(Arc<StreamDisconnected>),
    /// `viewer_connected` (24).
    ViewerConnected(Arc<ViewerConnected>),
    /// `viewer_disconnected` (25).
    ViewerDisconnected(Arc<ViewerDisconnected>),
    /// `streamer_connected` (26).
    StreamerConnected(Arc<StreamerConnected>),
    /// `streamer_disconnected` (27).
    StreamerDisconnected(Arc<StreamerDisconnected>),
    /// `channel_added` (28).
    ChannelAdded(Arc<ChannelAdded>),
    /// `channel_removed` (29).
    ChannelRemoved(Arc<ChannelRemoved>),
    /// `track_forwarding` (30).
    TrackForwarding(Arc<TrackForwarding>),
    /// `track_forwarding_removed` (31).
    TrackForwardingRemoved(Arc<TrackForwardingRemoved>),
    /// `vad_notification` (32).
    VadNotification(Arc<VadNotification>),
    /// `recording_status_changed` (34).
    RecordingStatusChanged(Arc<RecordingStatusChanged>),
    /// A `ServerMessage.content` member this version of the crate does not know.
    Unknown {
        /// Its protobuf field number.
        field: u32,
    },
}

impl From<RoomCrashed> for Notification {
    fn from(payload: RoomCrashed) -> Self {
        Self::RoomCrashed(Arc::new(payload))
    }
}

impl From<PeerConnected> for Notification {
    fn from(payload: PeerConnected) -> Self {
        Self::PeerConnected(Arc::new(payload))
    }
}

impl From<PeerDisconnected> for Notification {
    fn from(payload: PeerDisconnected) -> Self {
        Self::PeerDisconnected(Arc::new(payload))
    }
}

impl From<PeerCrashed> for Notification {
    fn from(payload: PeerCrashed) -> Self {
        Self::PeerCrashed(Arc::new(payload))
    }
}

impl From<ComponentCrashed> for Notification {
    fn from(payload: ComponentCrashed) -> Self {
        Self::ComponentCrashed(Arc::new(payload))
    }
}

impl From<RoomCreated> for Notification {
    fn from(payload: RoomCreated) -> Self {
        Self::RoomCreated(Arc::new(payload))
    }
}

impl From<RoomDeleted> for Notification {
    fn from(payload: RoomDeleted) -> Self {
        Self::RoomDeleted(Arc::new(payload))
    }
}

impl From<HlsPlayable> for Notification {
    fn from(payload: HlsPlayable) -> Self {
        Self::HlsPlayable(Arc::new(payload))
    }
}

impl From<HlsUploaded> for Notification {
    fn from(payload: HlsUploaded) -> Self {
        Self::HlsUploaded(Arc::new(payload))
    }
}

impl From<HlsUploadCrashed> for Notification {
    fn from(payload: HlsUploadCrashed) -> Self {
        Self::HlsUploadCrashed(Arc::new(payload))
    }
}

impl From<PeerMetadataUpdated> for Notification {
    fn from(payload: PeerMetadataUpdated) -> Self {
        Self::PeerMetadataUpdated(Arc::new(payload))
    }
}

impl From<TrackAdded> for Notification {
    fn from(payload: TrackAdded) -> Self {
        Self::TrackAdded(Arc::new(payload))
    }
}

impl From<TrackRemoved> for Notification {
    fn from(payload: TrackRemoved) -> Self {
        Self::TrackRemoved(Arc::new(payload))
    }
}

impl From<TrackMetadataUpdated> for Notification {
    fn from(payload: TrackMetadataUpdated) -> Self {
        Self::TrackMetadataUpdated(Arc::new(payload))
    }
}

impl From<PeerAdded> for Notification {
    fn from(payload: PeerAdded) -> Self {
        Self::PeerAdded(Arc::new(payload))
    }
}

impl From<PeerDeleted> for Notification {
    fn from(payload: PeerDeleted) -> Self {
        Self::PeerDeleted(Arc::new(payload))
    }
}

impl From<StreamConnected> for Notification {
    fn from(payload: StreamConnected) -> Self {
        Self::StreamConnected(Arc::new(payload))
    }
}

impl From<StreamDisconnected> for Notification {
    fn from(payload: StreamDisconnected) -> Self {
        Self::StreamDisconnected(Arc::new(payload))
    }
}

impl From<ViewerConnected> for Notification {
    fn from(payload: ViewerConnected) -> Self {
        Self::ViewerConnected(Arc::new(payload))
    }
}

impl From<ViewerDisconnected> for Notification {
    fn from(payload: ViewerDisconnected) -> Self {
        Self::ViewerDisconnected(Arc::new(payload))
    }
}

impl From<StreamerConnected> for Notification {
    fn from(payload: StreamerConnected) -> Self {
        Self::StreamerConnected(Arc::new(payload))
    }
}

impl From<StreamerDisconnected> for Notification {
    fn from(payload: StreamerDisconnected) -> Self {
        Self::StreamerDisconnected(Arc::new(payload))
    }
}

impl From<ChannelAdded> for Notification {
    fn from(payload: ChannelAdded) -> Self {
        Self::ChannelAdded(Arc::new(payload))
    }
}

impl From<ChannelRemoved> for Notification {
    fn from(payload: ChannelRemoved) -> Self {
        Self::ChannelRemoved(Arc::new(payload))
    }
}

impl From<TrackForwarding> for Notification {
    fn from(payload: TrackForwarding) -> Self {
        Self::TrackForwarding(Arc::new(payload))
    }
}

impl From<TrackForwardingRemoved> for Notification {
    fn from(payload: TrackForwardingRemoved) -> Self {
        Self::TrackForwardingRemoved(Arc::new(payload))
    }
}

impl From<VadNotification> for Notification {
    fn from(payload: VadNotification) -> Self {
        Self::VadNotification(Arc::new(payload))
    }
}

impl From<RecordingStatusChanged> for Notification {
    fn from(payload: RecordingStatusChanged) -> Self {
        Self::RecordingStatusChanged(Arc::new(payload))
    }
}

impl Notification {
    /// The protobuf `oneof` member name, as in the JSON shape's `"type"` (`"unknown"` for
    /// [`Notification::Unknown`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RoomCrashed(_) => "room_crashed",
            Self::PeerConnected(_) => "peer_connected",
            Self::PeerDisconnected(_) => "peer_disconnected",
            Self::PeerCrashed(_) => "peer_crashed",
            Self::ComponentCrashed(_) => "component_crashed",
            Self::RoomCreated(_) => "room_created",
            Self::RoomDeleted(_) => "room_deleted",
            Self::HlsPlayable(_) => "hls_playable",
            Self::HlsUploaded(_) => "hls_uploaded",
            Self::HlsUploadCrashed(_) => "hls_upload_crashed",
            Self::PeerMetadataUpdated(_) => "peer_metadata_updated",
            Self::TrackAdded(_) => "track_added",
            Self::TrackRemoved(_) => "track_removed",
            Self::TrackMetadataUpdated(_) => "track_metadata_updated",
            Self::PeerAdded(_) => "peer_added",
            Self::PeerDeleted(_) => "peer_deleted",
            Self::StreamConnected(_) => "stream_connected",
            Self::StreamDisconnected(_) => "stream_disconnected",
            Self::ViewerConnected(_) => "viewer_connected",
            Self::ViewerDisconnected(_) => "viewer_disconnected",
            Self::StreamerConnected(_) => "streamer_connected",
            Self::StreamerDisconnected(_) => "streamer_disconnected",
            Self::ChannelAdded(_) => "channel_added",
            Self::ChannelRemoved(_) => "channel_removed",
            Self::TrackForwarding(_) => "track_forwarding",
            Self::TrackForwardingRemoved(_) => "track_forwarding_removed",
            Self::VadNotification(_) => "vad_notification",
            Self::RecordingStatusChanged(_) => "recording_status_changed",
            Self::Unknown { .. } => "unknown",
        }
    }

    /// The room this notification is about, if it is about one (livestream and recording
    /// notifications are not).
    pub fn room_id(&self) -> Option<&RoomId> {
        match self {
            Self::RoomCrashed(n) => Some(&n.room_id),
            Self::PeerConnected(n) => Some(&n.room_id),
            Self::PeerDisconnected(n) => Some(&n.room_id),
            Self::PeerCrashed(n) => Some(&n.room_id),
            Self::ComponentCrashed(n) => Some(&n.room_id),
            Self::RoomCreated(n) => Some(&n.room_id),
            Self::RoomDeleted(n) => Some(&n.room_id),
            Self::HlsPlayable(n) => Some(&n.room_id),
            Self::HlsUploaded(n) => Some(&n.room_id),
            Self::HlsUploadCrashed(n) => Some(&n.room_id),
            Self::PeerMetadataUpdated(n) => Some(&n.room_id),
            Self::TrackAdded(n) => Some(&n.room_id),
            Self::TrackRemoved(n) => Some(&n.room_id),
            Self::TrackMetadataUpdated(n) => Some(&n.room_id),
            Self::PeerAdded(n) => Some(&n.room_id),
            Self::PeerDeleted(n) => Some(&n.room_id),
            Self::ChannelAdded(n) => Some(&n.room_id),
            Self::ChannelRemoved(n) => Some(&n.room_id),
            Self::TrackForwarding(n) => Some(&n.room_id),
            Self::TrackForwardingRemoved(n) => Some(&n.room_id),
            Self::VadNotification(n) => Some(&n.room_id),
            Self::StreamConnected(_)
            | Self::StreamDisconnected(_)
            | Self::ViewerConnected(_)
            | Self::ViewerDisconnected(_)
            | Self::StreamerConnected(_)
            | Self::StreamerDisconnected(_)
            | Self::RecordingStatusChanged(_)
            | Self::Unknown { .. } => None,
        }
    }
}

/// A WebRTC metrics report (`metrics_report`, 12): the server's JSON text, parsed on first use.
///
/// The schema is not stable across server versions, so it is exposed as a [`serde_json::Value`]:
/// an object of global counters plus nested `"room_id=…"` → `"endpoint_id=…"` → `"track_id=…"`
/// objects. Cloning is one reference-count increment, and the parse is shared by every clone, so
/// fanning a large report out to many subscribers parses it at most once.
///
/// Serializes as `{"type":"metrics_report","metrics":<the parsed JSON, or the raw text as a string
/// if it is not valid JSON>}`.
///
/// ```
/// use jellyfish_notifier::MetricsReport;
///
/// let report = MetricsReport::new(r#"{"room_id=r1":{"endpoint_id=p1":{"track_id=t1":{"bytes":5}}}}"#);
/// let value = report.json().unwrap();
/// assert_eq!(value["room_id=r1"]["endpoint_id=p1"]["track_id=t1"]["bytes"], 5);
/// ```
#[derive(Clone, actix::Message)]
#[rtype(result = "()")]
pub struct MetricsReport(Arc<MetricsInner>);

struct MetricsInner {
    raw: Box<str>,
    parsed: OnceLock<Result<serde_json::Value, serde_json::Error>>,
}

impl MetricsReport {
    /// Wraps the report's JSON text as the server sent it.
    pub fn new(raw: impl Into<Box<str>>) -> Self {
        Self(Arc::new(MetricsInner {
            raw: raw.into(),
            parsed: OnceLock::new(),
        }))
    }

    /// The JSON text exactly as the server sent it.
    pub fn raw(&self) -> &str {
        &self.0.raw
    }

    /// The report parsed as JSON (parsed once, on first call, and shared by every clone).
    pub fn json(&self) -> Result<&serde_json::Value, &serde_json::Error> {
        self.0
            .parsed
            .get_or_init(|| serde_json::from_str(&self.0.raw))
            .as_ref()
    }
}

impl PartialEq for MetricsReport {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.raw == other.0.raw
    }
}

impl Eq for MetricsReport {}

impl fmt::Debug for MetricsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 200;
        let raw = self.raw();
        let mut f = f.debug_struct("MetricsReport");
        if raw.len() <= SHOWN {
            f.field("metrics", &raw);
        } else {
            let cut = raw.floor_char_boundary(SHOWN);
            f.field(
                "metrics",
                &format_args!("{:?}… ({} bytes)", &raw[..cut], raw.len()),
            );
        }
        f.finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MetricsTag {
    MetricsReport,
}

#[derive(Serialize)]
struct MetricsOut<'a> {
    #[serde(rename = "type")]
    tag: MetricsTag,
    metrics: MetricsPayload<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum MetricsPayload<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

#[derive(Deserialize)]
struct MetricsIn {
    #[serde(rename = "type")]
    _tag: MetricsTag,
    metrics: Box<RawValue>,
}

impl Serialize for MetricsReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = self.raw();
        let valid: Option<&RawValue> = serde_json::from_str(raw).ok();
        let metrics = match valid {
            Some(json) => MetricsPayload::Json(json),
            None => MetricsPayload::Text(raw),
        };
        MetricsOut {
            tag: MetricsTag::MetricsReport,
            metrics,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MetricsReport {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let MetricsIn { metrics, .. } = MetricsIn::deserialize(deserializer)?;
        let text = metrics.get();
        // A string that is not itself JSON text is how a non-JSON report was serialized.
        if let Ok(inner) = serde_json::from_str::<String>(text)
            && serde_json::from_str::<&RawValue>(&inner).is_err()
        {
            return Ok(Self::new(inner));
        }
        Ok(Self::new(text))
    }
}
