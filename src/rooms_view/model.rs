//! The rooms model: rooms → peers → tracks (and components), as `GET /room` reports them, and the
//! pure operation the view applies to it: a change. The other one, describing the difference
//! between two states as notifications, is [`super::diff`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::RoomChange;
use crate::notification::{
    ComponentId, Endpoint, Metadata, Notification, NotificationRef, PeerId, PeerType, RoomId, Track,
};
use crate::rooms::{Component, Peer, PeerStatus, Room, RoomConfig, TrackInfo};

/// Rooms, peers, tracks and components, kept by applying [`RoomChange`]s: the state a
/// [`RoomsView`](crate::RoomsView) keeps, and what a subscriber of its changes can keep too.
///
/// Applying every change a `RoomsView` sends, in order, to an empty model gives the view's state:
/// after each resync that is exactly what the server's `GET /room` reported, and between resyncs it
/// is that state with the live notifications applied.
///
/// It serializes as `{"synced": …, "synced_at_ms": …, "rooms": [...]}`: whether the rooms are a
/// state the server had ([`RoomsModel::is_synced`]), when they last were (Unix milliseconds, `null`
/// before the first sync), and the rooms in room id order, each shaped as an element of
/// `GET /room`'s `data` with the same values, written the way Fishjam Cloud writes them: a config
/// option that is not set is left out (Jellyfish writes it as `null`), and a room without
/// components has no `"components"` key (Jellyfish writes `[]`). Peers and tracks come in the
/// server's order as of the last resync, with later arrivals after them, so compare lists by id.
/// Comparing with a Jellyfish answer also means dropping its `null` config values and empty
/// `components` first.
///
/// ```
/// use jellyfish_notifier::{Notification, RoomChange, RoomsModel};
/// use jellyfish_notifier::notification::{PeerAdded, PeerConnected, RoomCreated};
///
/// let mut model = RoomsModel::default();
/// for notification in [
///     Notification::from(RoomCreated::new("room-1")),
///     Notification::from(PeerAdded::new("room-1", "peer-1")),
///     Notification::from(PeerConnected::new("room-1", "peer-1")),
/// ] {
///     model.apply(&RoomChange::Notification(notification));
/// }
/// let room = model.room("room-1").unwrap();
/// assert_eq!(room.peers[0].id, "peer-1");
/// assert_eq!(serde_json::to_value(&model).unwrap()["rooms"][0]["peers"][0]["status"], "connected");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomsModel {
    rooms: BTreeMap<RoomId, Room>,
    /// The rooms are a state the server had: `false` before the first sync and from a
    /// [`RoomChange::Unsynced`] until the resync that follows.
    synced: bool,
    /// When the rooms were last a state the server had.
    synced_at: Option<SystemTime>,
    /// Peers in all rooms, counted where a room changes (each change touches one room).
    peers: usize,
}

impl Serialize for RoomsModel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            synced: bool,
            synced_at_ms: Option<u128>,
            rooms: Vec<&'a Room>,
        }
        let ms = |at: SystemTime| {
            at.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        };
        Shape {
            synced: self.is_synced(),
            synced_at_ms: self.synced_at.map(ms),
            rooms: self.rooms.values().collect(),
        }
        .serialize(serializer)
    }
}

impl RoomsModel {
    /// A model holding these rooms, as a `GET /room` answer gives them (not marked synced: only
    /// a view's [`RoomChange::Synced`] says that).
    pub fn from_rooms(rooms: impl IntoIterator<Item = Room>) -> Self {
        let rooms: BTreeMap<RoomId, Room> = rooms
            .into_iter()
            .map(|room| (room.id.clone(), room))
            .collect();
        Self {
            peers: rooms.values().map(|room| room.peers.len()).sum(),
            rooms,
            ..Self::default()
        }
    }

    /// One room.
    pub fn room(&self, room_id: &str) -> Option<&Room> {
        self.rooms.get(room_id)
    }

    /// Every room, in room id order.
    pub fn rooms(&self) -> impl ExactSizeIterator<Item = &Room> {
        self.rooms.values()
    }

    /// The ids of every room, in order.
    pub fn room_ids(&self) -> impl ExactSizeIterator<Item = &RoomId> {
        self.rooms.keys()
    }

    /// How many rooms there are.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// How many peers there are, in all rooms (kept as rooms change: no walk over the rooms).
    pub fn peers(&self) -> usize {
        self.peers
    }

    /// Peers in `room_id`, for the count.
    fn peers_in(&self, room_id: &str) -> usize {
        self.rooms.get(room_id).map_or(0, |room| room.peers.len())
    }

    /// Runs `change` on room `room_id` and counts its peers' difference.
    fn counting<T>(&mut self, room_id: &str, change: impl FnOnce(&mut Self) -> T) -> T {
        let before = self.peers_in(room_id);
        let answer = change(self);
        self.peers = (self.peers + self.peers_in(room_id)).saturating_sub(before);
        answer
    }

    /// Whether there are no rooms.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Whether the rooms are a state the server had (with the live notifications since applied):
    /// `false` before the first sync, and from a [`RoomChange::Unsynced`] until the resync that
    /// follows. While it is `false`, the rooms may mix what the server had before a gap with what
    /// came after it.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// When the rooms were last a state the server had (the end of the last resync that left the
    /// view in sync); `None` before the first.
    pub fn synced_at(&self) -> Option<SystemTime> {
        self.synced_at
    }

    /// Applies one change. [`RoomChange::Resynced`] replaces the room with the server's; a
    /// notification, live or synthesized, changes what it describes; anything else changes
    /// nothing.
    pub fn apply(&mut self, change: &RoomChange) {
        match change {
            RoomChange::Notification(notification) | RoomChange::Synthesized(notification) => {
                self.apply_notification(notification);
            }
            RoomChange::Resynced(room) => self.replace(Room::clone(room)),
            RoomChange::Synced(report) if report.in_sync => {
                self.synced = true;
                self.synced_at = Some(report.at);
            }
            RoomChange::Unsynced(_) => self.synced = false,
            RoomChange::Synced(_) | RoomChange::SyncFailed { .. } => {}
        }
    }

    /// Puts the server's state of a room in place of ours.
    pub(crate) fn replace(&mut self, room: Room) {
        let id = room.id.clone();
        self.counting(&id, |model| model.rooms.insert(room.id.clone(), room));
    }

    /// Forgets a room.
    pub(crate) fn remove(&mut self, room_id: &str) -> Option<Room> {
        self.counting(room_id, |model| model.rooms.remove(room_id))
    }

    /// Applies a notification the way the server changed its state when it sent it. Applying it a
    /// second time changes nothing, so replaying notifications that a snapshot already includes is
    /// harmless.
    ///
    /// Some notifications cannot say everything `GET /room` will show: a new room's configuration,
    /// a Fishjam Cloud peer's subscriptions, a component, an HLS stream's state, a composition, or
    /// a peer the model has not heard of (Jellyfish before 0.5 sends no `peer_added`). Then the
    /// model keeps what it can and answers the room to fetch.
    pub(crate) fn apply_notification(&mut self, notification: &Notification) -> Option<RoomId> {
        match notification.room_id() {
            Some(room) => self.counting(room, |model| model.apply_to_room(notification)),
            None => self.apply_to_room(notification),
        }
    }

    /// [`RoomsModel::apply_notification`], on the one room the notification is about.
    fn apply_to_room(&mut self, notification: &Notification) -> Option<RoomId> {
        use NotificationRef as N;
        match notification.view() {
            N::RoomCreated(n) => {
                if self.rooms.contains_key(&n.room_id) {
                    return None;
                }
                self.room_entry(&n.room_id);
                Some(n.room_id.clone())
            }
            N::RoomDeleted(n) => self.remove(&n.room_id).and(None),
            N::RoomCrashed(n) => self.remove(&n.room_id).and(None),
            N::PeerAdded(n) => {
                let (room, fetch) = self.room_entry(&n.room_id);
                if room.peers.iter().any(|p| p.id == n.peer_id) {
                    return fetch;
                }
                room.peers.push(new_peer(&n.peer_id, n.peer_type));
                // A Jellyfish peer is all there: a WebRTC peer, disconnected, without metadata.
                // A Fishjam Cloud peer also has subscription settings the notification lacks.
                fetch.or_else(|| (n.peer_type != PeerType::Unspecified).then(|| n.room_id.clone()))
            }
            N::PeerDeleted(n) => self.remove_peer(&n.room_id, &n.peer_id),
            N::PeerCrashed(n) => self.remove_peer(&n.room_id, &n.peer_id),
            N::PeerConnected(n) => self.with_peer(&n.room_id, &n.peer_id, n.peer_type, |peer| {
                peer.status = PeerStatus::Connected;
            }),
            N::PeerDisconnected(n) => {
                self.with_peer(&n.room_id, &n.peer_id, n.peer_type, |peer| {
                    // The server removes a leaving peer's tracks (and says so, track by track).
                    peer.status = PeerStatus::Disconnected;
                    peer.tracks.clear();
                })
            }
            N::PeerMetadataUpdated(n) => {
                self.with_peer(&n.room_id, &n.peer_id, n.peer_type, |peer| {
                    peer.metadata = n.metadata.clone();
                })
            }
            N::TrackAdded(n) => self.with_tracks(&n.room_id, n.endpoint.as_ref(), |tracks| {
                upsert(tracks, &n.track);
                false
            }),
            N::TrackRemoved(n) => self.with_tracks(&n.room_id, n.endpoint.as_ref(), |tracks| {
                tracks.retain(|t| t.id != n.track.id);
                false
            }),
            N::TrackMetadataUpdated(n) => {
                self.with_tracks(&n.room_id, n.endpoint.as_ref(), |tracks| {
                    match tracks.iter_mut().find(|t| t.id == n.track.id) {
                        Some(track) => {
                            track.metadata = n.track.metadata.clone();
                            false
                        }
                        // A track we never heard of: keep it, and ask for its type.
                        None => {
                            upsert(tracks, &n.track);
                            true
                        }
                    }
                })
            }
            N::ComponentCrashed(n) => {
                if let Some(room) = self.rooms.get_mut(&n.room_id) {
                    room.components.retain(|c| c.id != n.component_id);
                }
                None
            }
            // What these change (an HLS component's properties, a composition) is only in REST.
            N::HlsPlayable(n) => Some(self.room_entry(&n.room_id).0.id.clone()),
            N::TrackForwarding(n) => Some(self.room_entry(&n.room_id).0.id.clone()),
            N::TrackForwardingRemoved(n) => Some(self.room_entry(&n.room_id).0.id.clone()),
            // The rest (HLS uploads, livestreams, channels, voice activity, recordings, members this
            // crate does not know) are not part of a room's state in `GET /room`. Listed one by
            // one, so that a new kind in the table does not compile until it is decided here.
            N::HlsUploaded(_)
            | N::HlsUploadCrashed(_)
            | N::StreamConnected(_)
            | N::StreamDisconnected(_)
            | N::ViewerConnected(_)
            | N::ViewerDisconnected(_)
            | N::StreamerConnected(_)
            | N::StreamerDisconnected(_)
            | N::ChannelAdded(_)
            | N::ChannelRemoved(_)
            | N::VadNotification(_)
            | N::RecordingStatusChanged(_)
            | N::Unknown(_) => None,
        }
    }

    /// The room, created empty if it is not known (then it is to be fetched).
    fn room_entry(&mut self, room_id: &RoomId) -> (&mut Room, Option<RoomId>) {
        let fetch = (!self.rooms.contains_key(room_id)).then(|| room_id.clone());
        let room = self.rooms.entry(room_id.clone()).or_insert_with(|| Room {
            id: room_id.clone(),
            config: RoomConfig::default(),
            components: Vec::new(),
            peers: Vec::new(),
            composition_info: None,
        });
        (room, fetch)
    }

    fn remove_peer(&mut self, room_id: &str, peer_id: &str) -> Option<RoomId> {
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.peers.retain(|p| p.id != peer_id);
        }
        None
    }

    /// Changes a peer; a peer (or room) not known is created first, and its room is to be fetched.
    fn with_peer(
        &mut self,
        room_id: &RoomId,
        peer_id: &PeerId,
        peer_type: PeerType,
        change: impl FnOnce(&mut Peer),
    ) -> Option<RoomId> {
        let (room, mut fetch) = self.room_entry(room_id);
        let index = match room.peers.iter().position(|p| p.id == *peer_id) {
            Some(index) => index,
            None => {
                fetch = Some(room_id.clone());
                room.peers.push(new_peer(peer_id, peer_type));
                room.peers.len() - 1
            }
        };
        change(&mut room.peers[index]);
        fetch
    }

    /// Changes a peer's or component's tracks (`change` answers whether it needs a fetch). An owner
    /// that is not known is created first, and its room is to be fetched.
    fn with_tracks(
        &mut self,
        room_id: &RoomId,
        owner: Option<&Endpoint>,
        change: impl FnOnce(&mut Vec<TrackInfo>) -> bool,
    ) -> Option<RoomId> {
        let (room, mut fetch) = self.room_entry(room_id);
        let tracks = match owner {
            Some(Endpoint::Peer(peer_id)) => {
                let index = match room.peers.iter().position(|p| p.id == *peer_id) {
                    Some(index) => index,
                    None => {
                        fetch = Some(room_id.clone());
                        room.peers.push(new_peer(peer_id, PeerType::Unspecified));
                        room.peers.len() - 1
                    }
                };
                &mut room.peers[index].tracks
            }
            Some(Endpoint::Component(component_id)) => {
                let index = match room.components.iter().position(|c| c.id == *component_id) {
                    Some(index) => index,
                    None => {
                        fetch = Some(room_id.clone());
                        room.components.push(new_component(component_id));
                        room.components.len() - 1
                    }
                };
                &mut room.components[index].tracks
            }
            // No owner (a server that left `endpoint_info` out): only REST can say whose it is.
            None => return Some(room_id.clone()),
        };
        if change(tracks) {
            fetch = Some(room_id.clone());
        }
        fetch
    }
}

fn new_peer(peer_id: &PeerId, peer_type: PeerType) -> Peer {
    Peer {
        id: peer_id.clone(),
        // Jellyfish leaves the type out of notifications; its only peer type is WebRTC.
        peer_type: match peer_type {
            PeerType::Unspecified => PeerType::Webrtc,
            known => known,
        },
        status: PeerStatus::Disconnected,
        tracks: Vec::new(),
        metadata: Metadata::null(),
        subscribe_mode: None,
        subscriptions: None,
    }
}

fn new_component(component_id: &ComponentId) -> Component {
    Component {
        id: component_id.clone(),
        component_type: String::new(),
        properties: serde_json::Value::Object(serde_json::Map::new()),
        tracks: Vec::new(),
    }
}

fn upsert(tracks: &mut Vec<TrackInfo>, track: &Track) {
    let info = TrackInfo::from(track.clone());
    match tracks.iter_mut().find(|t| t.id == track.id) {
        Some(existing) => *existing = info,
        None => tracks.push(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{
        PeerAdded, PeerConnected, PeerDeleted, PeerDisconnected, PeerMetadataUpdated, RoomCreated,
        RoomDeleted, TrackAdded, TrackMetadataUpdated, TrackRemoved,
    };
    use crate::rooms::PeerStatus;
    use crate::rooms_view::diff::{shared, synthesize};

    fn room(json: serde_json::Value) -> Room {
        serde_json::from_value(json).expect("a room")
    }

    /// Applying the synthesized notifications (then the room itself) to the old state gives the
    /// new one, for every kind of difference.
    #[test]
    fn synthesized_notifications_take_the_old_state_to_the_new_one() {
        let old = room(serde_json::json!({
            "id": "r", "config": {}, "peers": [
                {"id": "stays", "type": "webrtc", "status": "connected", "metadata": {"a": 1, "b": 2},
                 "tracks": [{"id": "t1", "type": "audio", "metadata": null},
                            {"id": "t2", "type": "video", "metadata": {"x": 1}}]},
                {"id": "leaves", "type": "webrtc", "status": "connected", "metadata": null,
                 "tracks": [{"id": "t3", "type": "audio", "metadata": null}]},
                {"id": "drops", "type": "webrtc", "status": "connected", "metadata": null,
                 "tracks": [{"id": "t4", "type": "audio", "metadata": null}]}
            ],
            "components": [{"id": "c1", "type": "hls", "properties": {}, "tracks": [
                {"id": "ct", "type": "video", "metadata": null}]}]
        }));
        let new = room(serde_json::json!({
            "id": "r", "config": {}, "peers": [
                {"id": "stays", "type": "webrtc", "status": "connected", "metadata": {"b": 2, "a": 1},
                 "tracks": [{"id": "t2", "type": "video", "metadata": {"x": 2}},
                            {"id": "t5", "type": "audio", "metadata": null}]},
                {"id": "drops", "type": "webrtc", "status": "disconnected", "metadata": null, "tracks": []},
                {"id": "arrives", "type": "webrtc", "status": "connected", "metadata": {"n": 1},
                 "tracks": [{"id": "t6", "type": "video", "metadata": null}]}
            ],
            "components": []
        }));
        let mut out = Vec::new();
        synthesize(&"r".into(), Some(&old), Some(&new), &mut out);
        let kinds: Vec<String> = out
            .iter()
            .map(|n| {
                let who = match n.view() {
                    NotificationRef::TrackAdded(t) => t.track.id.to_string(),
                    NotificationRef::TrackRemoved(t) => t.track.id.to_string(),
                    NotificationRef::TrackMetadataUpdated(t) => t.track.id.to_string(),
                    NotificationRef::PeerAdded(p) => p.peer_id.to_string(),
                    NotificationRef::PeerDeleted(p) => p.peer_id.to_string(),
                    NotificationRef::PeerConnected(p) => p.peer_id.to_string(),
                    NotificationRef::PeerDisconnected(p) => p.peer_id.to_string(),
                    NotificationRef::PeerMetadataUpdated(p) => p.peer_id.to_string(),
                    _ => String::new(),
                };
                format!("{} {who}", n.kind())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "track_removed t3",
                "peer_deleted leaves",
                // Same JSON in another key order is no change.
                "track_removed t1",
                "track_metadata_updated t2",
                "track_added t5",
                "track_removed t4",
                "peer_disconnected drops",
                "peer_added arrives",
                "peer_connected arrives",
                "peer_metadata_updated arrives",
                "track_added t6",
                "track_removed ct",
            ]
        );
        let mut model = RoomsModel::from_rooms([old]);
        for notification in &out {
            model.apply(&RoomChange::Synthesized(notification.clone()));
        }
        let got = model.room("r").expect("the room");
        assert!(
            got.components[0].tracks.is_empty(),
            "the component keeps no track"
        );
        let ids = |room: &Room| {
            room.peers
                .iter()
                .map(|p| {
                    let tracks: Vec<String> = p.tracks.iter().map(|t| t.id.to_string()).collect();
                    (p.id.to_string(), p.status, tracks)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(got), ids(&new));
        // Then the room itself, which also carries what notifications cannot (the component).
        model.apply(&RoomChange::Resynced(shared(&new)));
        assert_eq!(model.room("r"), Some(&new));
    }

    #[test]
    fn a_deleted_room_is_described_peer_by_peer_then_the_room() {
        let old = room(serde_json::json!({"id": "r", "config": {}, "peers": [
            {"id": "p", "type": "webrtc", "status": "connected", "metadata": null,
             "tracks": [{"id": "t", "type": "audio", "metadata": null}]}]}));
        let mut out = Vec::new();
        synthesize(&"r".into(), Some(&old), None, &mut out);
        let kinds: Vec<&str> = out.iter().map(Notification::kind).collect();
        assert_eq!(kinds, ["track_removed", "peer_deleted", "room_deleted"]);
        let mut model = RoomsModel::from_rooms([old]);
        for n in &out {
            model.apply(&RoomChange::Synthesized(n.clone()));
        }
        assert!(model.is_empty());
    }

    /// Every notification applied twice leaves what it left once; and what the notification
    /// cannot describe asks for the room.
    #[test]
    fn applying_a_notification_twice_changes_nothing() {
        let notifications: Vec<Notification> = vec![
            RoomCreated::new("r").into(),
            PeerAdded::new("r", "p").into(),
            PeerConnected::new("r", "p").into(),
            PeerMetadataUpdated::new("r", "p", Metadata::new(r#"{"n":1}"#)).into(),
            TrackAdded::new(
                "r",
                Endpoint::Peer("p".into()),
                Track::new("t", crate::notification::TrackType::Audio, "null"),
            )
            .into(),
            TrackMetadataUpdated::new(
                "r",
                Endpoint::Peer("p".into()),
                Track::new("t", crate::notification::TrackType::Audio, "{}"),
            )
            .into(),
            TrackRemoved::new(
                "r",
                Endpoint::Peer("p".into()),
                Track::new("t", crate::notification::TrackType::Audio, "{}"),
            )
            .into(),
            PeerDisconnected::new("r", "p").into(),
            PeerDeleted::new("r", "p").into(),
            RoomDeleted::new("r").into(),
        ];
        let mut once = RoomsModel::default();
        for (i, n) in notifications.iter().enumerate() {
            once.apply_notification(n);
            let mut twice = once.clone();
            twice.apply_notification(n);
            assert_eq!(once, twice, "notification {i} ({}) applied twice", n.kind());
        }
        let mut model = RoomsModel::default();
        assert_eq!(
            model.apply_notification(&notifications[0]).as_deref(),
            Some("r"),
            "a new room's config is only in REST"
        );
        assert_eq!(
            model.apply_notification(&notifications[1]),
            None,
            "a Jellyfish peer is all in the notification"
        );
        let cloud = Notification::from(PeerAdded::new("r", "q")).with_peer_type(PeerType::Agent);
        assert_eq!(
            model.apply_notification(&cloud).as_deref(),
            Some("r"),
            "a Cloud peer has subscriptions"
        );
        let unknown = Notification::from(PeerConnected::new("r", "nobody"));
        assert_eq!(model.apply_notification(&unknown).as_deref(), Some("r"));
        let peer = &model.room("r").expect("room").peers[2];
        assert_eq!(
            (peer.id.as_str(), peer.status),
            ("nobody", PeerStatus::Connected)
        );
    }
}
