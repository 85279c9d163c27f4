//! The difference between two states of a room, as the notifications that would have carried it:
//! what a resync tells subscribers happened while the view could not see.

use std::sync::Arc;

use crate::notification::{
    Endpoint, Metadata, Notification, PeerAdded, PeerConnected, PeerDeleted, PeerDisconnected,
    PeerMetadataUpdated, RoomCreated, RoomDeleted, RoomId, Track, TrackAdded, TrackMetadataUpdated,
    TrackRemoved,
};
use crate::rooms::{Component, Peer, PeerStatus, Room, TrackInfo};

/// Whether two metadata texts are the same JSON (the server's notification text and the REST
/// value written back as text may differ in key order and spacing).
pub(crate) fn same_metadata(a: &Metadata, b: &Metadata) -> bool {
    a.as_str() == b.as_str()
        || match (a.to_value(), b.to_value()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// The notifications that would have taken a room from `old` to `new`: what a resync tells
/// subscribers happened while it could not see. They follow the server's own order: a leaving
/// peer's tracks before the peer, a deleted room's peers before the room.
///
/// What no notification can say (a room's configuration, a component's arrival, a Cloud peer's
/// subscriptions) is carried by the [`RoomChange::Resynced`] that follows.
pub(crate) fn synthesize(
    room_id: &RoomId,
    old: Option<&Room>,
    new: Option<&Room>,
    out: &mut Vec<Notification>,
) {
    const NO_PEERS: &[Peer] = &[];
    const NO_COMPONENTS: &[Component] = &[];
    match (old, new) {
        (None, None) => return,
        (None, Some(_)) => out.push(RoomCreated::new(room_id.clone()).into()),
        _ => {}
    }
    let old_peers = old.map_or(NO_PEERS, |r| &r.peers);
    let new_peers = new.map_or(NO_PEERS, |r| &r.peers);
    for peer in old_peers {
        if !new_peers.iter().any(|p| p.id == peer.id) {
            let owner = Endpoint::Peer(peer.id.clone());
            tracks_diff(room_id, &owner, &peer.tracks, &[], out);
            out.push(PeerDeleted::new(room_id.clone(), peer.id.clone()).into_typed(peer));
        }
    }
    for peer in new_peers {
        let before = old_peers.iter().find(|p| p.id == peer.id);
        peer_diff(room_id, before, peer, out);
    }
    let old_components = old.map_or(NO_COMPONENTS, |r| &r.components);
    let new_components = new.map_or(NO_COMPONENTS, |r| &r.components);
    for component in old_components {
        if !new_components.iter().any(|c| c.id == component.id) {
            let owner = Endpoint::Component(component.id.clone());
            tracks_diff(room_id, &owner, &component.tracks, &[], out);
        }
    }
    for component in new_components {
        let before = old_components
            .iter()
            .find(|c| c.id == component.id)
            .map_or(&[][..], |c| &c.tracks);
        let owner = Endpoint::Component(component.id.clone());
        tracks_diff(room_id, &owner, before, &component.tracks, out);
    }
    if new.is_none() {
        out.push(RoomDeleted::new(room_id.clone()).into());
    }
}

fn peer_diff(room_id: &RoomId, old: Option<&Peer>, new: &Peer, out: &mut Vec<Notification>) {
    let owner = Endpoint::Peer(new.id.clone());
    let no_tracks: &[TrackInfo] = &[];
    let old_tracks = old.map_or(no_tracks, |p| &p.tracks);
    let was_connected = old.is_some_and(|p| p.status == PeerStatus::Connected);
    let is_connected = new.status == PeerStatus::Connected;
    if old.is_none() {
        out.push(PeerAdded::new(room_id.clone(), new.id.clone()).into_typed(new));
    }
    if is_connected && !was_connected {
        out.push(PeerConnected::new(room_id.clone(), new.id.clone()).into_typed(new));
    }
    if !same_metadata(
        &old.map_or_else(Metadata::null, |p| p.metadata.clone()),
        &new.metadata,
    ) {
        out.push(
            PeerMetadataUpdated::new(room_id.clone(), new.id.clone(), new.metadata.clone())
                .into_typed(new),
        );
    }
    tracks_diff(room_id, &owner, old_tracks, &new.tracks, out);
    if was_connected && !is_connected {
        out.push(PeerDisconnected::new(room_id.clone(), new.id.clone()).into_typed(new));
    }
}

fn tracks_diff(
    room_id: &RoomId,
    owner: &Endpoint,
    old: &[TrackInfo],
    new: &[TrackInfo],
    out: &mut Vec<Notification>,
) {
    for track in old {
        if !new.iter().any(|t| t.id == track.id) {
            let track = Track::from(track.clone());
            out.push(TrackRemoved::new(room_id.clone(), owner.clone(), track).into());
        }
    }
    for track in new {
        let wire = Track::from(track.clone());
        match old.iter().find(|t| t.id == track.id) {
            None => out.push(TrackAdded::new(room_id.clone(), owner.clone(), wire).into()),
            Some(before) if !same_metadata(&before.metadata, &track.metadata) => {
                out.push(TrackMetadataUpdated::new(room_id.clone(), owner.clone(), wire).into());
            }
            Some(_) => {}
        }
    }
}

/// A peer notification carrying the peer's type, as Fishjam Cloud sends them.
trait IntoTyped {
    fn into_typed(self, peer: &Peer) -> Notification;
}

impl<T: Into<Notification>> IntoTyped for T {
    fn into_typed(self, peer: &Peer) -> Notification {
        self.into().with_peer_type(peer.peer_type)
    }
}

/// A shared room, as [`RoomChange::Resynced`] carries it.
pub(crate) fn shared(room: &Room) -> Arc<Room> {
    Arc::new(room.clone())
}
