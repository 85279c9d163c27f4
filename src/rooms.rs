//! The REST API's JSON types (rooms, peers, tracks), with the field names of the servers' own
//! models: Jellyfish 0.3–0.5 (`jellyfish-v0.5.0-openapi.yaml`) and Fishjam Cloud (the official SDKs'
//! generated models). One set of types parses both: fields only one of them has are `Option`s, left
//! out when `None`. Shared by the Room API client and the emulator, so both speak one shape.

use serde::{Deserialize, Serialize};

use crate::notification::{
    ComponentId, InputId, Metadata, PeerId, PeerType, RoomId, TrackId, TrackType,
};

/// A string enum of the REST API that keeps values this crate does not know (`Other`), so a newer
/// server's value never fails a whole room listing.
macro_rules! rest_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $json:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version of the crate does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as the server writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $json,)*
                    Self::Other(other) => other,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok(match text {
                    $($json => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok(match text.parse() {
                    Ok(value) => value,
                    Err(never) => match never {},
                })
            }
        }
    };
}

rest_enum! {
    /// A Fishjam Cloud room's type (`roomType`).
    RoomType {
        /// Audio and video for everyone (the default).
        Conference = "conference",
        /// Audio only.
        AudioOnly = "audio_only",
        /// One streamer, many viewers.
        Livestream = "livestream",
        /// Every feature.
        FullFeature = "full_feature",
        /// A broadcaster room.
        Broadcaster = "broadcaster",
        /// An audio-only livestream.
        AudioOnlyLivestream = "audio_only_livestream",
    }
}

rest_enum! {
    /// How a Fishjam Cloud peer receives others' tracks (`subscribeMode`).
    SubscribeMode {
        /// Every track of every peer (the default).
        Auto = "auto",
        /// Only what `subscribe_peer` / `subscribe_tracks` asked for.
        Manual = "manual",
    }
}

/// REST bodies carry metadata as a JSON value; the model keeps it as JSON text ([`Metadata`]), the
/// same as notifications do, so the two compare and convert without a second type.
mod metadata_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    use crate::notification::Metadata;

    pub(super) fn serialize<S: Serializer>(
        metadata: &Metadata,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(metadata.as_str()) {
            Ok(json) => json.serialize(serializer),
            // Not JSON text (only a hand-made `Metadata` can be): sent as a string, not lost.
            Err(_) => metadata.as_str().serialize(serializer),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Metadata, D::Error> {
        // A `Value`, not a `RawValue`: these types also parse from buffered content (the
        // adjacently tagged `PeerOptions`), which a `RawValue` cannot come from.
        let value = Option::<serde_json::Value>::deserialize(deserializer)?;
        Ok(value.map_or_else(Metadata::null, |value| Metadata::new(value.to_string())))
    }

    /// The same for an optional field (`None` is left out by `skip_serializing_if`).
    pub(super) mod optional {
        use serde::{Deserializer, Serializer};

        use crate::notification::Metadata;

        pub(crate) fn serialize<S: Serializer>(
            metadata: &Option<Metadata>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match metadata {
                Some(metadata) => super::serialize(metadata, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Metadata>, D::Error> {
            super::deserialize(deserializer).map(Some)
        }
    }
}

/// The video codec a room enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// H.264.
    H264,
    /// VP8.
    Vp8,
}

/// A room's configuration (`RoomConfig`): what `POST /room` takes and what the room reports.
///
/// Every field is optional and left out when `None`, which every server reads as "not set"
/// (Fishjam Cloud's SDKs reject a `null` `videoCodec` or `roomType`). The Jellyfish fields come
/// first, then Fishjam Cloud's.
///
/// ```
/// use jellyfish_notifier::rooms::{RoomConfig, RoomType};
///
/// let config = RoomConfig {
///     max_peers: Some(10),
///     webhook_url: Some("http://localhost:5003/webhook".into()),
///     room_type: Some(RoomType::Conference),
///     batch_webhook_notifications: Some(true),
///     ..RoomConfig::default()
/// };
/// let json = serde_json::to_value(&config).unwrap();
/// assert_eq!(json["maxPeers"], 10);
/// assert_eq!(json["webhookUrl"], "http://localhost:5003/webhook");
/// assert_eq!(json["roomType"], "conference");
/// assert!(json.get("videoCodec").is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomConfig {
    /// A custom room id (letters, digits, `-` and `_`); a random UUID when `None`. Jellyfish only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<RoomId>,
    /// The most peers the room admits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_peers: Option<u32>,
    /// The codec every peer must use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<VideoCodec>,
    /// Where the server POSTs this room's notifications (needs a scheme, a host and a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Seconds without connected peers after which the room is removed. Jellyfish only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peerless_purge_timeout: Option<u32>,
    /// Seconds after which a disconnected peer is removed. Jellyfish only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_disconnected_timeout: Option<u32>,
    /// The room's type. Fishjam Cloud only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_type: Option<RoomType>,
    /// Whether the room is public. Fishjam Cloud only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// Whether webhooks come as one `notification_batch` per POST. Fishjam Cloud only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_webhook_notifications: Option<bool>,
}

/// Whether a peer's socket is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerStatus {
    /// The peer's socket is connected.
    Connected,
    /// The peer has not connected, or has left.
    Disconnected,
}

/// A media track as the REST API describes it (`Track`), with the same id, type and metadata types
/// as the track notifications. Fishjam Cloud marks every field optional; a missing one takes its
/// default (an empty id, `Unspecified`, `"null"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// The track id.
    #[serde(default)]
    pub id: TrackId,
    /// Audio or video.
    #[serde(rename = "type", default, skip_serializing_if = "is_unspecified")]
    pub track_type: TrackType,
    /// The metadata the peer set, as JSON text (`"null"` when none); a JSON value on the wire.
    #[serde(with = "metadata_json", default = "Metadata::null")]
    pub metadata: Metadata,
}

fn is_unspecified(track_type: &TrackType) -> bool {
    *track_type == TrackType::Unspecified
}

impl From<TrackInfo> for crate::notification::Track {
    fn from(info: TrackInfo) -> Self {
        Self::new(info.id, info.track_type, info.metadata)
    }
}

impl From<crate::notification::Track> for TrackInfo {
    fn from(track: crate::notification::Track) -> Self {
        Self {
            id: track.id,
            track_type: track.track_type,
            metadata: track.metadata,
        }
    }
}

/// A peer (`Peer`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// The peer id.
    pub id: PeerId,
    /// WebRTC, or on Fishjam Cloud an agent or a VAPI peer.
    #[serde(rename = "type")]
    pub peer_type: PeerType,
    /// Connected or not.
    pub status: PeerStatus,
    /// The peer's tracks.
    #[serde(default)]
    pub tracks: Vec<TrackInfo>,
    /// The metadata the peer set, as JSON text (`"null"` when none); a JSON value on the wire.
    #[serde(with = "metadata_json", default = "Metadata::null")]
    pub metadata: Metadata,
    /// How it receives others' tracks. Fishjam Cloud only.
    #[serde(
        rename = "subscribeMode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_mode: Option<SubscribeMode>,
    /// What it subscribed to in manual mode. Fishjam Cloud only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<Subscriptions>,
}

/// A Fishjam Cloud peer's manual subscriptions (`subscriptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// Peers whose every track it receives.
    #[serde(default)]
    pub peers: Vec<PeerId>,
    /// Single tracks it receives.
    #[serde(default)]
    pub tracks: Vec<TrackId>,
}

/// A component (`Component`): HLS, RTSP, file, SIP or recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The component id.
    pub id: ComponentId,
    /// The component type (`"hls"`, `"rtsp"`, `"file"`, `"sip"`, `"recording"`).
    #[serde(rename = "type")]
    pub component_type: String,
    /// Type-specific properties.
    #[serde(default)]
    pub properties: serde_json::Value,
    /// The component's tracks.
    pub tracks: Vec<TrackInfo>,
}

/// A room (`Room`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    /// The room id.
    pub id: RoomId,
    /// Its configuration.
    pub config: RoomConfig,
    /// Its components (Jellyfish; Fishjam Cloud has none and leaves the key out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Its peers.
    pub peers: Vec<Peer>,
    /// Where its tracks are forwarded to a composition. Fishjam Cloud only.
    #[serde(
        rename = "compositionInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub composition_info: Option<CompositionInfo>,
}

/// A Fishjam Cloud room's track forwardings (`compositionInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositionInfo {
    /// The composition's URL.
    pub composition_url: String,
    /// One entry per forwarded peer.
    pub forwardings: Vec<TrackForwardingInfo>,
}

/// One peer's tracks forwarded to a composition (`TrackForwardingInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackForwardingInfo {
    /// The composition input.
    pub input_id: InputId,
    /// The forwarded peer.
    pub peer_id: PeerId,
    /// Its forwarded audio track.
    #[serde(default)]
    pub audio_track_id: Option<TrackId>,
    /// Its forwarded video track.
    #[serde(default)]
    pub video_track_id: Option<TrackId>,
}

/// What `POST /room` answers (`RoomCreateDetailsResponse.data`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedRoom {
    /// The new room.
    pub room: Room,
    /// The address of the server instance that holds the room (`host:port`): Jellyfish's
    /// `jellyfish_address`, Fishjam's `fishjam_address`; Fishjam Cloud sends neither.
    #[serde(
        rename = "jellyfish_address",
        alias = "fishjam_address",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_address: Option<String>,
}

/// What `POST /room/{room_id}/peer` answers (`PeerDetailsResponse.data`). Its `Debug` output hides
/// the peer token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerDetails {
    /// The new peer.
    pub peer: Peer,
    /// The token the peer's client authenticates with.
    pub token: String,
    /// Where the peer's client connects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_websocket_url: Option<String>,
}

impl std::fmt::Debug for PeerDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerDetails")
            .field("peer", &self.peer)
            .field("token", &"<redacted>")
            .field("peer_websocket_url", &self.peer_websocket_url)
            .finish()
    }
}

/// The body of `POST /room/{room_id}/peer`: the peer's type and its options.
///
/// ```
/// use jellyfish_notifier::rooms::{PeerOptions, SubscribeMode, WebRtcOptions};
///
/// let options = PeerOptions::Webrtc(WebRtcOptions {
///     subscribe_mode: Some(SubscribeMode::Manual),
///     ..WebRtcOptions::default()
/// });
/// assert_eq!(
///     serde_json::to_value(&options).unwrap(),
///     serde_json::json!({"type": "webrtc", "options": {"subscribeMode": "manual"}})
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "options", rename_all = "lowercase")]
#[non_exhaustive]
pub enum PeerOptions {
    /// A WebRTC peer (every server).
    Webrtc(WebRtcOptions),
    /// An agent peer (Fishjam Cloud).
    Agent(AgentOptions),
    /// A VAPI peer (Fishjam Cloud).
    Vapi(VapiOptions),
}

impl Default for PeerOptions {
    fn default() -> Self {
        Self::Webrtc(WebRtcOptions::default())
    }
}

/// A WebRTC peer's options (`PeerOptionsWebRTC`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebRtcOptions {
    /// Metadata the server attaches to the peer. Fishjam Cloud.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "metadata_json::optional"
    )]
    pub metadata: Option<Metadata>,
    /// How it receives others' tracks. Fishjam Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_mode: Option<SubscribeMode>,
    /// Jellyfish's `enableSimulcast`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_simulcast: Option<bool>,
}

/// An agent peer's options (`PeerOptionsAgent`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentOptions {
    /// The audio the agent receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<AgentOutput>,
    /// How it receives others' tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_mode: Option<SubscribeMode>,
}

/// The audio an agent receives (`AgentOutput`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentOutput {
    /// `"pcm16"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_format: Option<String>,
    /// 16000 or 24000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_sample_rate: Option<u32>,
}

/// A VAPI peer's options (`PeerOptionsVapi`). Its `Debug` output hides the API key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VapiOptions {
    /// The VAPI API key (a secret).
    pub api_key: String,
    /// The VAPI call.
    pub call_id: String,
    /// Whether the peer leaves when the call ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_close: Option<bool>,
    /// How it receives others' tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_mode: Option<SubscribeMode>,
}

impl std::fmt::Debug for VapiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapiOptions")
            .field("api_key", &"<redacted>")
            .field("call_id", &self.call_id)
            .field("auto_close", &self.auto_close)
            .field("subscribe_mode", &self.subscribe_mode)
            .finish()
    }
}

/// The REST API's `{"data": …}` envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataResponse<T> {
    /// The payload.
    pub data: T,
}

/// The REST API's error body, `{"errors": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What the server said.
    pub errors: String,
}
