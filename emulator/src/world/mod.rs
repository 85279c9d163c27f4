//! The emulated server's state and the rules for which notifications each action produces, in the
//! real server's order. Pure state: no I/O, no clocks.
//!
//! The dependencies go one way: [`state`] and [`config`] know nothing of [`World`]; this module owns
//! the rooms and the filter every emission goes through; [`rooms`], [`cloud`] and [`metrics`] add
//! the actions on top.

mod cloud;
mod config;
mod metrics;
mod rooms;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;

use crate::error::ActionError;
use crate::version::ServerVersion;
use state::{Recording, RoomState, WebhookTarget};

/// A notification and the webhook URL it goes to (its room's, if the room has one).
#[derive(Clone, Debug)]
pub(crate) struct Emitted {
    pub(crate) notification: Notification,
    pub(crate) webhook: Option<WebhookTarget>,
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
    Peer(PeerId),
    /// A component, by id.
    Component(ComponentId),
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
    pub(crate) recordings: BTreeMap<String, Recording>,
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

    /// [`World::emitted`] for a room that exists, with its webhook.
    pub(crate) fn emitted_in(&self, room_id: &str, notifications: Vec<Notification>) -> Emissions {
        let webhook = self
            .rooms
            .get(room_id)
            .and_then(|room| room.webhook.clone());
        self.emitted(&webhook, notifications)
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

    #[test]
    fn uuids_look_like_v4_uuids() {
        let id = random_uuid();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(id.split('-').map(str::len).eq([8, 4, 4, 4, 12]), "{id}");
    }
}
