//! The emulated rooms, peers, components and tracks, and the rules for which notifications each
//! action produces, in the real server's order (as Jellyfish's room process sends them). Pure state: no I/O, no clocks.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::Value;

use jellyfish_notifier::*;
use jellyfish_notifier::{PeerStatus, RoomConfig};

/// Which server release the emulator behaves as. It decides which notifications exist and the
/// webhook body format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ServerVersion {
    /// Jellyfish v0.3.0: members 1–15, JSON webhooks (`{"notification": "<protobuf bytes>"}`).
    V0_3,
    /// Jellyfish v0.4: adds track and peer-metadata notifications; protobuf webhooks.
    V0_4,
    /// Jellyfish v0.5.0: adds `peer_added`, `peer_deleted` and `peer_crashed.reason`.
    #[default]
    V0_5,
    /// Fishjam Cloud: every member up to 34 with `peer_type`, agent and VAPI peers, livestreams,
    /// channels, voice activity, track forwarding and recordings; the Cloud REST shapes and routes
    /// (also under `/api/v1/connect/{fishjam_id}`); batched webhooks for rooms that ask; no metrics
    /// (a `subscribe_request` for them drops the connection, as Cloud's socket process crashes on
    /// an event type it does not know).
    Cloud,
}

impl ServerVersion {
    /// The version string the health endpoint reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_3 => "0.3.0",
            Self::V0_4 => "0.4.2",
            Self::V0_5 => "0.5.0",
            Self::Cloud => "cloud",
        }
    }

    /// Whether this is Fishjam Cloud.
    pub fn is_cloud(self) -> bool {
        self == Self::Cloud
    }

    /// Whether this release has the notification at all.
    pub fn emits(self, notification: &Notification) -> bool {
        notification
            .since()
            .is_some_and(|since| since <= self.release())
    }

    /// The release whose notifications this version sends.
    pub fn release(self) -> ServerRelease {
        match self {
            Self::V0_3 => ServerRelease::Jellyfish0_3,
            Self::V0_4 => ServerRelease::Jellyfish0_4,
            Self::V0_5 => ServerRelease::Jellyfish0_5,
            Self::Cloud => ServerRelease::FishjamCloud,
        }
    }

    /// Whether webhook bodies are the v0.3.0 JSON envelope (else raw protobuf).
    pub fn json_webhooks(self) -> bool {
        self == Self::V0_3
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServerVersion {
    type Err = String;

    /// Accepts `0.3`, `0.4`, `0.5`, with or without a patch number or a leading `v`, and `cloud`.
    fn from_str(text: &str) -> Result<Self, String> {
        if ["cloud", "fishjam-cloud", "fishjam"].contains(&text.to_ascii_lowercase().as_str()) {
            return Ok(Self::Cloud);
        }
        let text = text.strip_prefix('v').unwrap_or(text);
        let mut parts = text.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("3")) => Ok(Self::V0_3),
            (Some("0"), Some("4")) => Ok(Self::V0_4),
            (Some("0"), Some("5")) => Ok(Self::V0_5),
            _ => Err(format!(
                "unsupported server version {text:?}: expected 0.3, 0.4, 0.5 or cloud"
            )),
        }
    }
}

/// A failed REST or control action: the HTTP status and the server's `errors` text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ActionError {
    /// The HTTP status the real server answers with.
    pub status: u16,
    /// The server's message.
    pub message: String,
}

impl ActionError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
        }
    }
}

/// A notification and the webhook URL it goes to (its room's, if the room has one).
#[derive(Clone, Debug)]
pub(crate) struct Emitted {
    pub(crate) notification: Notification,
    pub(crate) webhook: Option<WebhookTarget>,
}

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
    metadata: Value,
}

impl TrackState {
    pub(crate) fn to_track(&self) -> Track {
        Track::new(
            self.id.as_str(),
            self.track_type,
            Metadata::from_value(&self.metadata).unwrap_or_else(|_| Metadata::null()),
        )
    }

    fn info(&self) -> TrackInfo {
        TrackInfo::from(self.to_track())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PeerState {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) status: PeerStatus,
    metadata: Value,
    pub(crate) tracks: Vec<TrackState>,
    peer_type: PeerType,
    subscribe_mode: SubscribeMode,
    pub(crate) subscriptions: Subscriptions,
}

#[derive(Clone, Debug)]
struct ComponentState {
    id: String,
    component_type: String,
    tracks: Vec<TrackState>,
}

#[derive(Clone, Debug)]
pub(crate) struct RoomState {
    pub(crate) id: String,
    pub(crate) config: RoomConfig,
    pub(crate) webhook: Option<WebhookTarget>,
    pub(crate) peers: Vec<PeerState>,
    components: Vec<ComponentState>,
    /// Fishjam Cloud: where its tracks are forwarded.
    pub(crate) composition: Option<CompositionInfo>,
}

impl RoomState {
    pub(crate) fn peer_mut(&mut self, peer_id: &str) -> Result<&mut PeerState, ActionError> {
        self.peers
            .iter_mut()
            .find(|p| p.id == peer_id)
            .ok_or_else(|| ActionError::not_found(format!("Peer {peer_id} does not exist")))
    }

    fn component_mut(&mut self, component_id: &str) -> Result<&mut ComponentState, ActionError> {
        self.components
            .iter_mut()
            .find(|c| c.id == component_id)
            .ok_or_else(|| {
                ActionError::not_found(format!("Component {component_id} does not exist"))
            })
    }

    fn to_rest(&self, version: ServerVersion) -> Room {
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

fn peer_to_rest(peer: &PeerState, version: ServerVersion) -> Peer {
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

/// The peer a notification is about, if it is about one.
fn peer_of(notification: &Notification) -> Option<&str> {
    match notification.view() {
        NotificationRef::PeerConnected(n) => Some(&n.peer_id),
        NotificationRef::PeerDisconnected(n) => Some(&n.peer_id),
        NotificationRef::PeerCrashed(n) => Some(&n.peer_id),
        NotificationRef::PeerMetadataUpdated(n) => Some(&n.peer_id),
        NotificationRef::PeerAdded(n) => Some(&n.peer_id),
        NotificationRef::PeerDeleted(n) => Some(&n.peer_id),
        _ => None,
    }
}

/// Whose track: a peer's or a component's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackOwner {
    /// A peer, by id.
    Peer(String),
    /// A component, by id.
    Component(String),
}

/// Every room of the emulated server, and the notification rules.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) version: ServerVersion,
    tls: bool,
    pub(crate) rooms: BTreeMap<String, RoomState>,
    /// Every peer's kind by id (kept after the peer leaves, so its last notifications carry it).
    peer_types: BTreeMap<String, PeerType>,
    /// Fishjam Cloud recordings.
    pub(crate) recordings: BTreeMap<String, crate::cloud::Recording>,
}

/// Notifications an action produced, filtered to what this server version has.
pub(crate) type Emissions = Vec<Emitted>;

impl World {
    pub(crate) fn new(version: ServerVersion) -> Self {
        Self {
            version,
            tls: false,
            rooms: BTreeMap::new(),
            peer_types: BTreeMap::new(),
            recordings: BTreeMap::new(),
        }
    }

    /// Serving `https`/`wss`: the URLs it hands out say so.
    pub(crate) fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Whether it serves TLS.
    pub(crate) fn tls(&self) -> bool {
        self.tls
    }

    /// Forgets the kinds of a gone room's peers once their last notifications are built.
    fn forget_peers(&mut self, room: &RoomState) {
        for peer in &room.peers {
            self.peer_types.remove(&peer.id);
        }
    }

    pub(crate) fn version(&self) -> ServerVersion {
        self.version
    }

    fn room(&self, room_id: &str) -> Result<&RoomState, ActionError> {
        self.rooms
            .get(room_id)
            .ok_or_else(|| ActionError::not_found(format!("Room {room_id} does not exist")))
    }

    pub(crate) fn room_mut(&mut self, room_id: &str) -> Result<&mut RoomState, ActionError> {
        self.rooms
            .get_mut(room_id)
            .ok_or_else(|| ActionError::not_found(format!("Room {room_id} does not exist")))
    }

    /// What the notifications of an action become on this server: only the kinds it has, with
    /// its fields (`peer_crashed.reason` from 0.5, `peer_type` on Cloud), to the room's webhook.
    pub(crate) fn emitted(
        &self,
        webhook: &Option<WebhookTarget>,
        notifications: Vec<Notification>,
    ) -> Emissions {
        notifications
            .into_iter()
            .filter(|n| self.version.emits(n))
            .map(|mut notification| {
                if let Notification::PeerCrashed(crashed) = &mut notification
                    && self.version < ServerVersion::V0_5
                {
                    Arc::make_mut(crashed).reason = Arc::from("");
                }
                if self.version.is_cloud() {
                    let peer_type = peer_of(&notification)
                        .and_then(|peer| self.peer_types.get(peer))
                        .copied();
                    if let Some(peer_type) = peer_type {
                        notification = notification.with_peer_type(peer_type);
                    }
                }
                Emitted {
                    notification,
                    webhook: webhook.clone(),
                }
            })
            .collect()
    }

    pub(crate) fn rooms(&self) -> Vec<Room> {
        self.rooms
            .values()
            .map(|room| room.to_rest(self.version))
            .collect()
    }

    pub(crate) fn get_room(&self, room_id: &str) -> Result<Room, ActionError> {
        self.room(room_id).map(|room| room.to_rest(self.version))
    }

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
        let mut notifications = removed_tracks(room_id, &TrackOwner::Peer(peer.id), &peer.tracks);
        notifications.extend(crate::cloud::forwarding_removed(
            &mut room.composition,
            room_id,
            peer_id,
        ));
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
        let webhook = room.webhook.clone();
        Ok(self.emitted(
            &webhook,
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
            &TrackOwner::Peer(peer_id.to_owned()),
            &tracks,
        ));
        notifications.extend(crate::cloud::forwarding_removed(
            &mut room.composition,
            room_id,
            peer_id,
        ));
        let webhook = room.webhook.clone();
        Ok(self.emitted(&webhook, notifications))
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
        let webhook = room.webhook.clone();
        Ok(self.emitted(
            &webhook,
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
        let webhook = room.webhook.clone();
        Ok((id, self.emitted(&webhook, vec![notification])))
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
        let webhook = room.webhook.clone();
        Ok(self.emitted(&webhook, vec![notification]))
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
        let webhook = room.webhook.clone();
        Ok(self.emitted(&webhook, vec![notification]))
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
        let webhook = room.webhook.clone();
        Ok(self.emitted(
            &webhook,
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
        let webhook = room.webhook.clone();
        Ok(self.emitted(&webhook, vec![notification]))
    }

    /// The metrics report the server would send now: global counters plus one nested object per
    /// room (`room_id=…`) → endpoint (`endpoint_id=…`) → track (`track_id=…`).
    pub(crate) fn metrics(&self, tick: u64) -> Value {
        let mut report = serde_json::Map::new();
        let mut total_tracks = 0u64;
        for room in self.rooms.values() {
            let mut room_json = serde_json::Map::new();
            for peer in room
                .peers
                .iter()
                .filter(|p| p.status == PeerStatus::Connected)
            {
                let mut endpoint = serde_json::Map::new();
                endpoint.insert("ice.binding_requests_received".into(), (tick * 2).into());
                endpoint.insert("ice.bytes_sent".into(), (tick * 1_200).into());
                for (index, track) in peer.tracks.iter().enumerate() {
                    total_tracks += 1;
                    let rate = 50_000.0 + 1_000.0 * index as f64 + (tick % 10) as f64 * 0.5;
                    let mut track_json = serde_json::Map::new();
                    track_json.insert("inbound-rtp.bytes_received-per-second".into(), rate.into());
                    track_json.insert("inbound-rtp.packets".into(), (tick * 90).into());
                    track_json.insert(
                        "track.kind".into(),
                        track.track_type.name().unwrap_or("video").into(),
                    );
                    endpoint.insert(format!("track_id={}", track.id), track_json.into());
                }
                room_json.insert(format!("endpoint_id={}", peer.id), endpoint.into());
            }
            report.insert(format!("room_id={}", room.id), room_json.into());
        }
        report.insert("rooms".into(), self.rooms.len().into());
        report.insert("tracks".into(), total_tracks.into());
        Value::Object(report)
    }
}

/// An HLS event of a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HlsEvent {
    /// The stream of an HLS component became playable.
    Playable {
        /// The HLS component.
        component_id: String,
    },
    /// The recording was uploaded to S3.
    Uploaded,
    /// The upload failed.
    UploadCrashed,
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
        TrackOwner::Peer(id) | TrackOwner::Component(id) => id,
    }
}

fn endpoint(owner: &TrackOwner) -> Endpoint {
    match owner {
        TrackOwner::Peer(id) => Endpoint::Peer(id.as_str().into()),
        TrackOwner::Component(id) => Endpoint::Component(id.as_str().into()),
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

/// Validates `POST /room`'s body as the server does.
fn parse_room_config(body: &Value) -> Result<RoomConfig, ActionError> {
    let object = match body {
        Value::Null => return Ok(RoomConfig::default()),
        Value::Object(object) => object,
        _ => return Err(ActionError::bad_request("Invalid request body structure")),
    };
    let field = |name: &str| object.get(name).filter(|v| !v.is_null());
    let positive = |name: &str, message: String| -> Result<Option<u32>, ActionError> {
        match field(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| ActionError::bad_request(message)),
        }
    };
    let max_peers = positive("maxPeers", "maxPeers must be a number".to_owned())?;
    let peerless_purge_timeout = positive(
        "peerlessPurgeTimeout",
        "Expected peerlessPurgeTimeout to be a positive integer, got: ".to_owned()
            + &field("peerlessPurgeTimeout")
                .map(Value::to_string)
                .unwrap_or_default(),
    )?;
    let peer_disconnected_timeout = positive(
        "peerDisconnectedTimeout",
        "Expected peerDisconnectedTimeout to be a positive integer, got: ".to_owned()
            + &field("peerDisconnectedTimeout")
                .map(Value::to_string)
                .unwrap_or_default(),
    )?;
    let video_codec = match field("videoCodec") {
        None => None,
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| ActionError::bad_request("videoCodec must be 'h264' or 'vp8'"))?,
        ),
    };
    let webhook_url = match field("webhookUrl") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .filter(|url| valid_webhook_url(url))
                .map(str::to_owned)
                .ok_or_else(|| ActionError::bad_request("Expected webhookUrl to be valid URL"))?,
        ),
    };
    let room_id = match field("roomId") {
        None => None,
        Some(Value::String(id)) => Some(id.as_str().into()),
        Some(_) => return Err(ActionError::bad_request("roomId must be a string")),
    };
    let room_type = match field("roomType") {
        None => None,
        Some(v) => match serde_json::from_value::<RoomType>(v.clone()) {
            Ok(RoomType::Other(other)) => {
                return Err(ActionError::bad_request(format!(
                    "Invalid room type: {other}"
                )));
            }
            Ok(known) => Some(known),
            Err(_) => return Err(ActionError::bad_request("roomType must be a string")),
        },
    };
    let flag = |name: &str| -> Result<Option<bool>, ActionError> {
        match field(name) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| ActionError::bad_request(format!("{name} must be a boolean"))),
        }
    };
    Ok(RoomConfig {
        room_id,
        max_peers,
        video_codec,
        webhook_url,
        peerless_purge_timeout,
        peer_disconnected_timeout,
        room_type,
        public: flag("public")?,
        batch_webhook_notifications: flag("batchWebhookNotifications")?,
    })
}

/// The server requires a scheme, a host and a path.
fn valid_webhook_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<awc::http::Uri>() else {
        return false;
    };
    let has_path = uri.path_and_query().is_some_and(|p| !p.path().is_empty())
        && url
            .split("://")
            .nth(1)
            .is_some_and(|rest| rest.contains('/'));
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && has_path
}

pub(crate) fn random_uuid() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

pub(crate) fn random_token() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(emissions: &Emissions) -> Vec<&'static str> {
        emissions.iter().map(|e| e.notification.kind()).collect()
    }

    #[test]
    fn webhook_urls_need_scheme_host_and_path() {
        let table = [
            ("http://localhost:5003/webhook", true),
            ("https://backend.example.com/jellyfish", true),
            ("http://localhost:5003/", true),
            ("http://localhost:5003", false),
            ("localhost:5003/webhook", false),
            ("ftp://host/path", false),
            ("not a url", false),
            ("", false),
        ];
        for (url, valid) in table {
            assert_eq!(valid_webhook_url(url), valid, "{url}");
        }
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
        let owner = TrackOwner::Peer(p.to_string());
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
                &TrackOwner::Peer(p.to_string()),
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

    #[test]
    fn uuids_look_like_v4_uuids() {
        let id = random_uuid();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(id.split('-').map(str::len).eq([8, 4, 4, 4, 12]), "{id}");
    }
}
