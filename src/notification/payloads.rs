//! The pieces payloads share: [`Track`] and [`Endpoint`].

use serde::{Deserialize, Serialize};

use super::{ComponentId, Metadata, PeerId, TrackId, TrackType};

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
