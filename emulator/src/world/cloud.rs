//! What only Fishjam Cloud has: peer tokens and subscriptions, livestream streamers and viewers,
//! data channels, voice activity, track forwarding to a composition, and recordings, with the
//! notifications each one sends (members 22–34).

use serde_json::Value;

use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;

use super::state::Recording;
use super::{Emissions, World, random_token, random_uuid};
use crate::error::ActionError;

impl World {
    /// `POST /room/{room}/peer/{peer}/refresh_token`: a new token for the peer.
    pub(crate) fn refresh_peer_token(
        &mut self,
        room_id: &str,
        peer_id: &str,
    ) -> Result<String, ActionError> {
        let peer = self.room_mut(room_id)?.peer_mut(peer_id)?;
        peer.token = random_token();
        Ok(peer.token.clone())
    }

    /// `POST /room/{room}/peer/{peer}/subscribe_peer?peer_id=…`: a manual subscription to every
    /// track of another peer.
    pub(crate) fn subscribe_peer(
        &mut self,
        room_id: &str,
        peer_id: &str,
        target: &str,
    ) -> Result<(), ActionError> {
        let room = self.room_mut(room_id)?;
        if !room.peers.iter().any(|p| p.id == target) {
            return Err(ActionError::not_found(format!(
                "Peer {target} does not exist"
            )));
        }
        let peer = room.peer_mut(peer_id)?;
        let target = PeerId::new(target);
        if !peer.subscriptions.peers.contains(&target) {
            peer.subscriptions.peers.push(target);
        }
        Ok(())
    }

    /// `POST /room/{room}/peer/{peer}/subscribe_tracks` `{"track_ids": […]}`.
    pub(crate) fn subscribe_tracks(
        &mut self,
        room_id: &str,
        peer_id: &str,
        tracks: &[String],
    ) -> Result<(), ActionError> {
        let peer = self.room_mut(room_id)?.peer_mut(peer_id)?;
        for track in tracks {
            let track = TrackId::new(track.as_str());
            if !peer.subscriptions.tracks.contains(&track) {
                peer.subscriptions.tracks.push(track);
            }
        }
        Ok(())
    }

    /// `POST /room/{room}/viewer` or `/streamer`: a livestream token (the room must exist).
    pub(crate) fn livestream_token(&mut self, room_id: &str) -> Result<String, ActionError> {
        self.room_mut(room_id)?;
        Ok(random_token())
    }

    /// A streamer connects to or leaves a room's livestream (the stream id is the room id):
    /// `streamer_connected` / `streamer_disconnected` (Cloud no longer sends the deprecated
    /// `stream_connected` / `stream_disconnected`).
    pub(crate) fn streamer(
        &mut self,
        room_id: &str,
        streamer_id: &str,
        connected: bool,
    ) -> Result<Emissions, ActionError> {
        let webhook = self.room_mut(room_id)?.webhook.clone();
        let notification = if connected {
            Notification::from(StreamerConnected::new(room_id, streamer_id))
        } else {
            Notification::from(StreamerDisconnected::new(room_id, streamer_id))
        };
        Ok(self.emitted(&webhook, vec![notification]))
    }

    /// A viewer joins or leaves a room's livestream: `viewer_connected` / `viewer_disconnected`.
    pub(crate) fn viewer(
        &mut self,
        room_id: &str,
        viewer_id: &str,
        connected: bool,
    ) -> Result<Emissions, ActionError> {
        let webhook = self.room_mut(room_id)?.webhook.clone();
        let notification = if connected {
            Notification::from(ViewerConnected::new(room_id, viewer_id))
        } else {
            Notification::from(ViewerDisconnected::new(room_id, viewer_id))
        };
        Ok(self.emitted(&webhook, vec![notification]))
    }

    /// A connected peer opens or closes a data channel: `channel_added` / `channel_removed`.
    pub(crate) fn channel(
        &mut self,
        room_id: &str,
        peer_id: &str,
        channel_id: &str,
        added: bool,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let peer = room.peer_mut(peer_id)?;
        if peer.status != PeerStatus::Connected {
            return Err(ActionError::bad_request(format!(
                "Peer {peer_id} is not connected"
            )));
        }
        let endpoint = Endpoint::Peer(PeerId::new(peer_id));
        let notification = if added {
            Notification::from(ChannelAdded::new(room_id, endpoint, channel_id))
        } else {
            Notification::from(ChannelRemoved::new(room_id, endpoint, channel_id))
        };
        Ok(self.emitted_in(room_id, vec![notification]))
    }

    /// Voice activity on one of a peer's tracks: `vad_notification`.
    pub(crate) fn voice_activity(
        &mut self,
        room_id: &str,
        peer_id: &str,
        track_id: &str,
        status: VadStatus,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let peer = room.peer_mut(peer_id)?;
        if !peer.tracks.iter().any(|t| t.id == track_id) {
            return Err(ActionError::not_found(format!(
                "Track {track_id} does not exist"
            )));
        }
        let notification = Notification::from(VadNotification {
            status,
            ..VadNotification::new(room_id, peer_id, track_id)
        });
        Ok(self.emitted_in(room_id, vec![notification]))
    }

    /// `POST /room/{room}/track_forwardings`: every connected peer's tracks go to the
    /// composition, one `track_forwarding` per peer.
    pub(crate) fn forward_tracks(
        &mut self,
        room_id: &str,
        composition_url: &str,
    ) -> Result<Emissions, ActionError> {
        if composition_url.is_empty() {
            return Err(ActionError::bad_request("compositionURL is required"));
        }
        let room = self.room_mut(room_id)?;
        if room.composition.is_some() {
            return Err(ActionError::conflict(format!(
                "Tracks of room {room_id} are already forwarded"
            )));
        }
        let mut forwardings = Vec::new();
        let mut notifications = Vec::new();
        for peer in room
            .peers
            .iter()
            .filter(|p| p.status == PeerStatus::Connected)
        {
            let first = |kind: TrackType| peer.tracks.iter().find(|t| t.track_type == kind);
            let (audio, video) = (first(TrackType::Audio), first(TrackType::Video));
            let input_id = format!("input-{}", random_uuid());
            forwardings.push(TrackForwardingInfo {
                input_id: input_id.as_str().into(),
                peer_id: peer.id.as_str().into(),
                audio_track_id: audio.map(|t| t.id.as_str().into()),
                video_track_id: video.map(|t| t.id.as_str().into()),
            });
            notifications.push(Notification::from(TrackForwarding {
                room_id: room_id.into(),
                peer_id: peer.id.as_str().into(),
                composition_url: composition_url.into(),
                input_id: input_id.as_str().into(),
                audio_track: audio.map(|t| t.to_track()),
                video_track: video.map(|t| t.to_track()),
            }));
        }
        room.composition = Some(CompositionInfo {
            composition_url: composition_url.to_owned(),
            forwardings,
        });
        Ok(self.emitted_in(room_id, notifications))
    }

    /// `POST /recordings`: a recording starts (`recording_status_changed` active).
    pub(crate) fn create_recording(
        &mut self,
        body: &Value,
    ) -> Result<(Value, Emissions), ActionError> {
        let source = body
            .get("source")
            .filter(|s| s.get("compositionURL").and_then(Value::as_str).is_some())
            .cloned()
            .ok_or_else(|| ActionError::bad_request("source.compositionURL is required"))?;
        let recording = Recording {
            id: random_uuid(),
            status: RecordingStatus::Active,
            source,
            metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
        };
        let emissions = self.emitted(&None, vec![recording.notification()]);
        let json = recording.to_json();
        self.recordings.insert(recording.id.clone(), recording);
        Ok((json, emissions))
    }

    /// `POST /recordings/{id}/stop`: `finished`, then `available` once the file is stored.
    pub(crate) fn stop_recording(&mut self, id: &str) -> Result<(Value, Emissions), ActionError> {
        let recording = self
            .recordings
            .get_mut(id)
            .ok_or_else(|| ActionError::not_found(format!("Recording {id} does not exist")))?;
        if recording.status != RecordingStatus::Active {
            return Err(ActionError::conflict(format!(
                "Recording {id} is not active"
            )));
        }
        recording.status = RecordingStatus::Finished;
        let finished = recording.notification();
        recording.status = RecordingStatus::Available;
        let available = recording.notification();
        let json = recording.to_json();
        Ok((json, self.emitted(&None, vec![finished, available])))
    }

    /// `GET /recordings/{id}`.
    pub(crate) fn recording(&self, id: &str) -> Result<Value, ActionError> {
        self.recordings
            .get(id)
            .map(Recording::to_json)
            .ok_or_else(|| ActionError::not_found(format!("Recording {id} does not exist")))
    }

    /// `GET /recordings`.
    pub(crate) fn recordings(&self) -> Value {
        Value::Array(self.recordings.values().map(Recording::to_json).collect())
    }

    /// `DELETE /recordings/{id}` (an active one must be stopped first).
    pub(crate) fn delete_recording(&mut self, id: &str) -> Result<(), ActionError> {
        match self.recordings.get(id) {
            None => Err(ActionError::not_found(format!(
                "Recording {id} does not exist"
            ))),
            Some(r) if r.status == RecordingStatus::Active => Err(ActionError::conflict(format!(
                "Recording {id} is still active"
            ))),
            Some(_) => {
                self.recordings.remove(id);
                Ok(())
            }
        }
    }
}
