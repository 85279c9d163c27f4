//! What the world holds: rooms with their peers, components and tracks, and Fishjam Cloud
//! recordings, and how each looks in a REST answer.

use std::sync::Arc;

use serde_json::{Value, json};

use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::rooms::{PeerStatus, RoomConfig};

use crate::error::ActionError;
use crate::version::ServerVersion;

/// A room's webhook: where, and whether it asked for batches (Fishjam Cloud
/// `batchWebhookNotifications`).
#[derive(Clone, Debug)]
pub(crate) struct WebhookTarget {
    pub(crate) url: Arc<str>,
    pub(crate) batch: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct TrackState {
    pub(crate) id: String,
    pub(crate) track_type: TrackType,
    pub(crate) metadata: Value,
}

impl TrackState {
    pub(crate) fn to_track(&self) -> Track {
        Track::new(
            self.id.as_str(),
            self.track_type,
            Metadata::from_value(&self.metadata).unwrap_or_else(|_| Metadata::null()),
        )
    }

    pub(crate) fn info(&self) -> TrackInfo {
        TrackInfo::from(self.to_track())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PeerState {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) status: PeerStatus,
    pub(crate) metadata: Value,
    pub(crate) tracks: Vec<TrackState>,
    pub(crate) peer_type: PeerType,
    pub(crate) subscribe_mode: SubscribeMode,
    pub(crate) subscriptions: Subscriptions,
}

#[derive(Clone, Debug)]
pub(crate) struct ComponentState {
    pub(crate) id: String,
    pub(crate) component_type: String,
    pub(crate) tracks: Vec<TrackState>,
}

#[derive(Clone, Debug)]
pub(crate) struct RoomState {
    pub(crate) id: String,
    pub(crate) config: RoomConfig,
    pub(crate) webhook: Option<WebhookTarget>,
    pub(crate) peers: Vec<PeerState>,
    pub(crate) components: Vec<ComponentState>,
    /// Fishjam Cloud: where its tracks are forwarded.
    pub(crate) composition: Option<CompositionInfo>,
}

impl RoomState {
    /// `track_forwarding_removed` for a peer leaving a room whose tracks are forwarded.
    pub(crate) fn forwarding_removed(
        &mut self,
        room_id: &str,
        peer_id: &str,
    ) -> Option<Notification> {
        let info = self.composition.as_mut()?;
        let index = info.forwardings.iter().position(|f| f.peer_id == peer_id)?;
        let forwarding = info.forwardings.remove(index);
        Some(Notification::from(TrackForwardingRemoved::new(
            room_id,
            peer_id,
            info.composition_url.as_str(),
            forwarding.input_id,
        )))
    }

    pub(crate) fn peer_mut(&mut self, peer_id: &str) -> Result<&mut PeerState, ActionError> {
        self.peers
            .iter_mut()
            .find(|p| p.id == peer_id)
            .ok_or_else(|| ActionError::not_found(format!("Peer {peer_id} does not exist")))
    }

    pub(crate) fn component_mut(
        &mut self,
        component_id: &str,
    ) -> Result<&mut ComponentState, ActionError> {
        self.components
            .iter_mut()
            .find(|c| c.id == component_id)
            .ok_or_else(|| {
                ActionError::not_found(format!("Component {component_id} does not exist"))
            })
    }

    pub(crate) fn to_rest(&self, version: ServerVersion) -> Room {
        let cloud = version.is_cloud();
        let mut config = self.config.clone();
        if cloud {
            config.room_id = None;
            config.peerless_purge_timeout = None;
            config.peer_disconnected_timeout = None;
            config.room_type.get_or_insert(RoomType::Conference);
            config.public.get_or_insert(false);
            config.batch_webhook_notifications.get_or_insert(false);
        } else {
            config.room_type = None;
            config.public = None;
            config.batch_webhook_notifications = None;
        }
        Room {
            id: self.id.as_str().into(),
            config,
            components: self
                .components
                .iter()
                .map(|c| Component {
                    id: c.id.as_str().into(),
                    component_type: c.component_type.clone(),
                    properties: Value::Object(Default::default()),
                    tracks: c.tracks.iter().map(TrackState::info).collect(),
                })
                .collect(),
            peers: self
                .peers
                .iter()
                .map(|peer| peer_to_rest(peer, version))
                .collect(),
            composition_info: self.composition.clone(),
        }
    }
}

pub(crate) fn peer_to_rest(peer: &PeerState, version: ServerVersion) -> Peer {
    let cloud = version.is_cloud();
    Peer {
        id: peer.id.as_str().into(),
        peer_type: peer.peer_type,
        status: peer.status,
        tracks: peer.tracks.iter().map(TrackState::info).collect(),
        metadata: Metadata::from_value(&peer.metadata).unwrap_or_else(|_| Metadata::null()),
        subscribe_mode: cloud.then(|| peer.subscribe_mode.clone()),
        subscriptions: cloud.then(|| peer.subscriptions.clone()),
    }
}

/// A Fishjam Cloud recording.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    pub(crate) id: String,
    pub(crate) status: RecordingStatus,
    pub(crate) source: Value,
    pub(crate) metadata: Value,
}

impl Recording {
    /// The REST shape (`Recording`).
    pub(crate) fn to_json(&self) -> Value {
        let files: Vec<Value> = if self.status == RecordingStatus::Available {
            vec![json!({"url": format!("https://recordings.fishjam.invalid/{}.mp4", self.id)})]
        } else {
            Vec::new()
        };
        json!({
            "id": self.id,
            "status": self.status.name().unwrap_or("active"),
            "source": self.source,
            "metadata": self.metadata,
            "files": files,
        })
    }

    pub(crate) fn notification(&self) -> Notification {
        Notification::from(RecordingStatusChanged {
            recording_id: self.id.as_str().into(),
            status: self.status,
            metadata: Metadata::from_value(&self.metadata).unwrap_or_else(|_| Metadata::null()),
        })
    }
}
