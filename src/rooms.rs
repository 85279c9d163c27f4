//! The REST API's JSON types (rooms, peers, components), with the field names of the server's
//! OpenAPI file (`jellyfish-v0.5.0-openapi.yaml`). Shared by the Room API client and the emulator, so
//! both speak exactly one shape.

use serde::{Deserialize, Serialize};

use crate::notification::{ComponentId, Metadata, PeerId, RoomId, TrackId, TrackType};

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
        let raw = Option::<Box<RawValue>>::deserialize(deserializer)?;
        Ok(raw.map_or_else(Metadata::null, |raw| Metadata::new(raw.get())))
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
/// Every field is optional; `None` is sent as `null`, which the server reads as "not set".
///
/// ```
/// use jellyfish_notifier::RoomConfig;
///
/// let config = RoomConfig {
///     max_peers: Some(10),
///     webhook_url: Some("http://localhost:5003/webhook".into()),
///     ..RoomConfig::default()
/// };
/// let json = serde_json::to_value(&config).unwrap();
/// assert_eq!(json["maxPeers"], 10);
/// assert_eq!(json["webhookUrl"], "http://localhost:5003/webhook");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomConfig {
    /// A custom room id (letters, digits, `-` and `_`); a random UUID when `None`.
    pub room_id: Option<RoomId>,
    /// The most peers the room admits.
    pub max_peers: Option<u32>,
    /// The codec every peer must use.
    pub video_codec: Option<VideoCodec>,
    /// Where the server POSTs this room's notifications (needs a scheme, a host and a path).
    pub webhook_url: Option<String>,
    /// Seconds without connected peers after which the room is removed.
    pub peerless_purge_timeout: Option<u32>,
    /// Seconds after which a disconnected peer is removed.
    pub peer_disconnected_timeout: Option<u32>,
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
/// as the track notifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// The track id.
    pub id: TrackId,
    /// Audio or video.
    #[serde(rename = "type")]
    pub track_type: TrackType,
    /// The metadata the peer set, as JSON text (`"null"` when none); a JSON value on the wire.
    #[serde(with = "metadata_json", default = "Metadata::null")]
    pub metadata: Metadata,
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
    /// The peer type (`"webrtc"`).
    #[serde(rename = "type")]
    pub peer_type: String,
    /// Connected or not.
    pub status: PeerStatus,
    /// The peer's tracks.
    pub tracks: Vec<TrackInfo>,
    /// The metadata the peer set, as JSON text (`"null"` when none); a JSON value on the wire.
    #[serde(with = "metadata_json", default = "Metadata::null")]
    pub metadata: Metadata,
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
    /// Its components.
    pub components: Vec<Component>,
    /// Its peers.
    pub peers: Vec<Peer>,
}

/// What `POST /room` answers (`RoomCreateDetailsResponse.data`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedRoom {
    /// The new room.
    pub room: Room,
    /// The address of the server instance that holds the room (`host:port`).
    pub jellyfish_address: String,
}

/// What `POST /room/{room_id}/peer` answers (`PeerDetailsResponse.data`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerDetails {
    /// The new peer.
    pub peer: Peer,
    /// The token the peer's client authenticates with.
    pub token: String,
    /// Where the peer's client connects.
    #[serde(default)]
    pub peer_websocket_url: Option<String>,
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
