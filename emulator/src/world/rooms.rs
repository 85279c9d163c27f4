//! The notification rules of rooms, peers, components and tracks: which notifications each action
//! produces, in the real server's order (as Jellyfish's room process sends them).

use std::sync::Arc;

use serde_json::Value;

use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::PeerStatus;
use jellyfish_notifier::rooms::*;

use super::config::parse_room_config;
use super::state::{ComponentState, PeerState, RoomState, TrackState, WebhookTarget, peer_to_rest};
use super::{Emissions, HlsEvent, TrackOwner, World, random_token, random_uuid};
use crate::error::ActionError;

impl World {
    /// `POST /room`, with the body's JSON already parsed (validated here as the server does).
    pub(crate) fn create_room(&mut self, body: &Value) -> Result<(Room, Emissions), ActionError> {
        let config = parse_room_config(body)?;
        let id = match &config.room_id {
            Some(id) => {
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(ActionError::bad_request(format!(
                        "Cannot add room with id \"{id}\" - roomId may contain only alphanumeric characters, hyphens and underscores"
                    )));
                }
                if self.rooms.contains_key(id.as_str()) {
                    return Err(ActionError::bad_request(format!(
                        "Cannot add room with id \"{id}\" - room already exists"
                    )));
                }
                id.to_string()
            }
            None => random_uuid(),
        };
        let room = RoomState {
            id: id.clone(),
            webhook: config.webhook_url.as_deref().map(|url| WebhookTarget {
                url: Arc::from(url),
                batch: self.version.is_cloud() && config.batch_webhook_notifications == Some(true),
            }),
            config,
            peers: Vec::new(),
            components: Vec::new(),
            composition: None,
        };
        let rest = room.to_rest(self.version);
        let webhook = room.webhook.clone();
        self.rooms.insert(id.clone(), room);
        let emissions = self.emitted(
            &webhook,
            vec![Notification::from(RoomCreated::new(id.as_str()))],
        );
        Ok((rest, emissions))
    }

    /// `DELETE /room/{id}`: every peer is deleted (no `peer_disconnected`), then the room.
    pub(crate) fn delete_room(&mut self, room_id: &str) -> Result<Emissions, ActionError> {
        let room = self
            .rooms
            .remove(room_id)
            .ok_or_else(|| ActionError::not_found(format!("Room {room_id} does not exist")))?;
        let mut notifications = Vec::new();
        for peer in &room.peers {
            notifications.push(Notification::from(PeerDeleted::new(
                room_id,
                peer.id.as_str(),
            )));
        }
        notifications.push(Notification::from(RoomDeleted::new(room_id)));
        let emissions = self.emitted(&room.webhook, notifications);
        self.forget_peers(&room);
        Ok(emissions)
    }

    /// The room's process crashes: `room_crashed`, and the room is gone.
    pub(crate) fn crash_room(&mut self, room_id: &str) -> Result<Emissions, ActionError> {
        let room = self
            .rooms
            .remove(room_id)
            .ok_or_else(|| ActionError::not_found(format!("Room {room_id} does not exist")))?;
        let emissions = self.emitted(
            &room.webhook,
            vec![Notification::from(RoomCrashed::new(room_id))],
        );
        self.forget_peers(&room);
        Ok(emissions)
    }

    /// `POST /room/{id}/peer`: a WebRTC peer (every version), or on Fishjam Cloud also an agent
    /// or a VAPI peer, with its options.
    pub(crate) fn add_peer(
        &mut self,
        room_id: &str,
        body: &Value,
        server_address: &str,
    ) -> Result<(PeerDetails, Emissions), ActionError> {
        let peer_type = body
            .get("type")
            .ok_or_else(|| ActionError::bad_request("Invalid request body structure"))?;
        let cloud = self.version.is_cloud();
        let options: PeerOptions = match peer_type.as_str() {
            Some("webrtc") if !cloud => PeerOptions::default(),
            Some("webrtc" | "agent" | "vapi") if cloud => {
                let mut body = body.clone();
                // `options` may be left out (as `{}`), as the JS SDK's defaults show.
                if let Some(object) = body.as_object_mut() {
                    object
                        .entry("options")
                        .or_insert_with(|| Value::Object(Default::default()));
                }
                serde_json::from_value(body).map_err(|err| {
                    ActionError::bad_request(format!("Invalid peer options: {err}"))
                })?
            }
            _ => return Err(ActionError::bad_request("Invalid peer type")),
        };
        let version = self.version;
        let tls = self.tls;
        let room = self.room_mut(room_id)?;
        if let Some(max) = room.config.max_peers
            && room.peers.len() >= max as usize
        {
            return Err(ActionError {
                status: 503,
                message: format!("Reached peer limit in room {room_id}"),
            });
        }
        let (peer_type, subscribe_mode, metadata) = match &options {
            PeerOptions::Webrtc(webrtc) => (
                PeerType::Webrtc,
                webrtc.subscribe_mode.clone(),
                webrtc
                    .metadata
                    .as_ref()
                    .and_then(|m| m.to_value().ok())
                    .unwrap_or(Value::Null),
            ),
            PeerOptions::Agent(agent) => {
                (PeerType::Agent, agent.subscribe_mode.clone(), Value::Null)
            }
            PeerOptions::Vapi(vapi) => (PeerType::Vapi, vapi.subscribe_mode.clone(), Value::Null),
            _ => return Err(ActionError::bad_request("Invalid peer type")),
        };
        let peer = PeerState {
            id: random_uuid(),
            token: random_token(),
            status: PeerStatus::Disconnected,
            metadata,
            tracks: Vec::new(),
            peer_type,
            subscribe_mode: subscribe_mode.unwrap_or(SubscribeMode::Auto),
            subscriptions: Subscriptions::default(),
        };
        let details = PeerDetails {
            peer: peer_to_rest(&peer, version),
            token: peer.token.clone(),
            // Cloud's own URL has no scheme; a local one gets `ws://`, which the Python agent
            // needs to connect without TLS.
            peer_websocket_url: Some(if version.is_cloud() {
                let scheme = if tls { "wss" } else { "ws" };
                format!("{scheme}://{server_address}/socket/peer/websocket")
            } else {
                format!("{server_address}/socket/peer/websocket")
            }),
        };
        let notification = Notification::from(PeerAdded::new(room_id, peer.id.as_str()));
        let peer_id = peer.id.clone();
        room.peers.push(peer);
        let webhook = room.webhook.clone();
        self.peer_types.insert(peer_id, peer_type);
        Ok((details, self.emitted(&webhook, vec![notification])))
    }

    /// `DELETE /room/{id}/peer/{peer_id}`: one `track_removed` per track, then `peer_deleted`.
    pub(crate) fn delete_peer(
        &mut self,
        room_id: &str,
        peer_id: &str,
    ) -> Result<Emissions, ActionError> {
        self.remove_peer(room_id, peer_id, |room_id, peer_id| {
            Notification::from(PeerDeleted::new(room_id, peer_id))
        })
    }

    /// The peer's process crashes: one `track_removed` per track, then `peer_crashed`; the peer is
    /// gone.
    pub(crate) fn crash_peer(
        &mut self,
        room_id: &str,
        peer_id: &str,
        reason: &str,
    ) -> Result<Emissions, ActionError> {
        self.remove_peer(room_id, peer_id, |room_id, peer_id| {
            Notification::from(PeerCrashed::new(room_id, peer_id, reason))
        })
    }

    fn remove_peer(
        &mut self,
        room_id: &str,
        peer_id: &str,
        last: impl FnOnce(&str, &str) -> Notification,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let index = room
            .peers
            .iter()
            .position(|p| p.id == peer_id)
            .ok_or_else(|| ActionError::not_found(format!("Peer {peer_id} does not exist")))?;
        let peer = room.peers.remove(index);
        let mut notifications = removed_tracks(
            room_id,
            &TrackOwner::Peer(PeerId::from(peer.id)),
            &peer.tracks,
        );
        notifications.extend(room.forwarding_removed(room_id, peer_id));
        notifications.push(last(room_id, peer_id));
        let webhook = room.webhook.clone();
        let emissions = self.emitted(&webhook, notifications);
        self.peer_types.remove(peer_id);
        Ok(emissions)
    }

    /// The peer's client connects and authenticates: `peer_connected`.
    pub(crate) fn connect_peer(
        &mut self,
        room_id: &str,
        peer_id: &str,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let peer = room.peer_mut(peer_id)?;
        if peer.status == PeerStatus::Connected {
            return Err(ActionError::bad_request(format!(
                "Peer {peer_id} is already connected"
            )));
        }
        peer.status = PeerStatus::Connected;
        Ok(self.emitted_in(
            room_id,
            vec![Notification::from(PeerConnected::new(room_id, peer_id))],
        ))
    }

    /// The peer's client leaves: `peer_disconnected`, then one `track_removed` per track.
    pub(crate) fn disconnect_peer(
        &mut self,
        room_id: &str,
        peer_id: &str,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let peer = room.peer_mut(peer_id)?;
        if peer.status != PeerStatus::Connected {
            return Err(ActionError::bad_request(format!(
                "Peer {peer_id} is not connected"
            )));
        }
        peer.status = PeerStatus::Disconnected;
        let tracks = std::mem::take(&mut peer.tracks);
        let mut notifications = vec![Notification::from(PeerDisconnected::new(room_id, peer_id))];
        notifications.extend(removed_tracks(
            room_id,
            &TrackOwner::Peer(PeerId::from(peer_id)),
            &tracks,
        ));
        notifications.extend(room.forwarding_removed(room_id, peer_id));
        Ok(self.emitted_in(room_id, notifications))
    }

    /// The peer sets its metadata: `peer_metadata_updated` with the JSON text.
    pub(crate) fn update_peer_metadata(
        &mut self,
        room_id: &str,
        peer_id: &str,
        metadata: Value,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let peer = room.peer_mut(peer_id)?;
        require_connected(peer)?;
        let text = Metadata::from_value(&metadata).unwrap_or_else(|_| Metadata::null());
        peer.metadata = metadata;
        Ok(self.emitted_in(
            room_id,
            vec![Notification::from(PeerMetadataUpdated::new(
                room_id, peer_id, text,
            ))],
        ))
    }

    /// A peer (connected) or a component publishes a track: `track_added`. Returns the track id.
    pub(crate) fn add_track(
        &mut self,
        room_id: &str,
        owner: &TrackOwner,
        track_type: TrackType,
        metadata: Value,
    ) -> Result<(String, Emissions), ActionError> {
        let room = self.room_mut(room_id)?;
        let track = TrackState {
            id: format!("{}:{}", owner_id(owner), random_uuid()),
            track_type,
            metadata,
        };
        let notification =
            Notification::from(TrackAdded::new(room_id, endpoint(owner), track.to_track()));
        let id = track.id.clone();
        owner_tracks(room, owner)?.push(track);
        Ok((id, self.emitted_in(room_id, vec![notification])))
    }

    /// The owner unpublishes a track: `track_removed`.
    pub(crate) fn remove_track(
        &mut self,
        room_id: &str,
        owner: &TrackOwner,
        track_id: &str,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let tracks = owner_tracks(room, owner)?;
        let track = tracks.remove(track_index(tracks, track_id)?);
        let notification = Notification::from(TrackRemoved::new(
            room_id,
            endpoint(owner),
            track.to_track(),
        ));
        Ok(self.emitted_in(room_id, vec![notification]))
    }

    /// The owner changes a track's metadata: `track_metadata_updated`.
    pub(crate) fn update_track_metadata(
        &mut self,
        room_id: &str,
        owner: &TrackOwner,
        track_id: &str,
        metadata: Value,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let tracks = owner_tracks(room, owner)?;
        let index = track_index(tracks, track_id)?;
        let track = &mut tracks[index];
        track.metadata = metadata;
        let notification = Notification::from(TrackMetadataUpdated::new(
            room_id,
            endpoint(owner),
            track.to_track(),
        ));
        Ok(self.emitted_in(room_id, vec![notification]))
    }

    /// Adds a component (no notification: the server sends none). Returns its id.
    pub(crate) fn add_component(
        &mut self,
        room_id: &str,
        component_type: &str,
    ) -> Result<String, ActionError> {
        const TYPES: [&str; 5] = ["hls", "rtsp", "file", "sip", "recording"];
        if !TYPES.contains(&component_type) {
            return Err(ActionError::bad_request("Invalid component type"));
        }
        let room = self.room_mut(room_id)?;
        let id = random_uuid();
        room.components.push(ComponentState {
            id: id.clone(),
            component_type: component_type.to_owned(),
            tracks: Vec::new(),
        });
        Ok(id)
    }

    /// The component's process crashes: `component_crashed`, and the component is gone.
    pub(crate) fn crash_component(
        &mut self,
        room_id: &str,
        component_id: &str,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        room.component_mut(component_id)?;
        room.components.retain(|c| c.id != component_id);
        Ok(self.emitted_in(
            room_id,
            vec![Notification::from(ComponentCrashed::new(
                room_id,
                component_id,
            ))],
        ))
    }

    /// An HLS event of a room: `hls_playable` (needs the HLS component), `hls_uploaded`, or
    /// `hls_upload_crashed`.
    pub(crate) fn hls_event(
        &mut self,
        room_id: &str,
        event: &HlsEvent,
    ) -> Result<Emissions, ActionError> {
        let room = self.room_mut(room_id)?;
        let notification = match event {
            HlsEvent::Playable { component_id } => {
                let component = room.component_mut(component_id)?;
                if component.component_type != "hls" {
                    return Err(ActionError::bad_request(format!(
                        "Component {component_id} is not an HLS component"
                    )));
                }
                Notification::from(HlsPlayable::new(room_id, component_id.as_str()))
            }
            HlsEvent::Uploaded => Notification::from(HlsUploaded::new(room_id)),
            HlsEvent::UploadCrashed => Notification::from(HlsUploadCrashed::new(room_id)),
        };
        Ok(self.emitted_in(room_id, vec![notification]))
    }
}

fn require_connected(peer: &PeerState) -> Result<(), ActionError> {
    if peer.status == PeerStatus::Connected {
        Ok(())
    } else {
        Err(ActionError::bad_request(format!(
            "Peer {} is not connected",
            peer.id
        )))
    }
}

fn owner_id(owner: &TrackOwner) -> &str {
    match owner {
        TrackOwner::Peer(id) => id.as_str(),
        TrackOwner::Component(id) => id.as_str(),
    }
}

fn endpoint(owner: &TrackOwner) -> Endpoint {
    match owner {
        TrackOwner::Peer(id) => Endpoint::Peer(id.clone()),
        TrackOwner::Component(id) => Endpoint::Component(id.clone()),
    }
}

fn owner_tracks<'a>(
    room: &'a mut RoomState,
    owner: &TrackOwner,
) -> Result<&'a mut Vec<TrackState>, ActionError> {
    match owner {
        TrackOwner::Peer(id) => {
            let peer = room.peer_mut(id)?;
            require_connected(peer)?;
            Ok(&mut peer.tracks)
        }
        TrackOwner::Component(id) => Ok(&mut room.component_mut(id)?.tracks),
    }
}

fn track_index(tracks: &[TrackState], track_id: &str) -> Result<usize, ActionError> {
    tracks
        .iter()
        .position(|t| t.id == track_id)
        .ok_or_else(|| ActionError::not_found(format!("Track {track_id} does not exist")))
}

fn removed_tracks(room_id: &str, owner: &TrackOwner, tracks: &[TrackState]) -> Vec<Notification> {
    tracks
        .iter()
        .map(|t| Notification::from(TrackRemoved::new(room_id, endpoint(owner), t.to_track())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::ServerVersion;
    use serde_json::json;

    fn kinds(emissions: &Emissions) -> Vec<&'static str> {
        emissions.iter().map(|e| e.notification.kind()).collect()
    }

    #[test]
    fn a_room_lifecycle_emits_in_the_real_servers_order() {
        let mut world = World::new(ServerVersion::V0_5);
        let (room, e) = world.create_room(&json!({"roomId": "r"})).unwrap();
        assert_eq!(kinds(&e), ["room_created"]);
        let (peer, e) = world
            .add_peer(&room.id, &json!({"type": "webrtc"}), "h:1")
            .unwrap();
        assert_eq!(kinds(&e), ["peer_added"]);
        let p = peer.peer.id;
        assert_eq!(
            kinds(&world.connect_peer("r", &p).unwrap()),
            ["peer_connected"]
        );
        let owner = TrackOwner::Peer(p.clone());
        world
            .add_track("r", &owner, TrackType::Video, json!({"a": 1}))
            .unwrap();
        world
            .add_track("r", &owner, TrackType::Audio, Value::Null)
            .unwrap();
        let e = world.disconnect_peer("r", &p).unwrap();
        assert_eq!(
            kinds(&e),
            ["peer_disconnected", "track_removed", "track_removed"]
        );
        world.connect_peer("r", &p).unwrap();
        let e = world.delete_room("r").unwrap();
        assert_eq!(
            kinds(&e),
            ["peer_deleted", "room_deleted"],
            "no peer_disconnected"
        );
    }

    #[test]
    fn older_versions_do_not_emit_what_they_did_not_have() {
        let mut world = World::new(ServerVersion::V0_3);
        world.create_room(&json!({"roomId": "r"})).unwrap();
        let (peer, e) = world
            .add_peer("r", &json!({"type": "webrtc"}), "h")
            .unwrap();
        assert!(e.is_empty(), "v0.3 has no peer_added");
        let p = peer.peer.id;
        world.connect_peer("r", &p).unwrap();
        let (_, e) = world
            .add_track(
                "r",
                &TrackOwner::Peer(p.clone()),
                TrackType::Video,
                Value::Null,
            )
            .unwrap();
        assert!(e.is_empty(), "v0.3 has no track_added");
        let e = world.crash_peer("r", &p, "boom").unwrap();
        let Notification::PeerCrashed(crashed) = &e[0].notification else {
            panic!("{e:?}")
        };
        assert_eq!(&*crashed.reason, "", "v0.3 has no reason");
    }

    #[test]
    fn the_peer_limit_is_enforced_with_503() {
        let mut world = World::new(ServerVersion::V0_5);
        world
            .create_room(&json!({"roomId": "r", "maxPeers": 1}))
            .unwrap();
        world
            .add_peer("r", &json!({"type": "webrtc"}), "h")
            .unwrap();
        let err = world
            .add_peer("r", &json!({"type": "webrtc"}), "h")
            .unwrap_err();
        assert_eq!(err.status, 503);
        assert_eq!(err.message, "Reached peer limit in room r");
    }
}
