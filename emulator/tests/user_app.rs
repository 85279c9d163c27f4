//! What a user's own test looks like with `jellyfish-emulator` as a dev-dependency: an actix app
//! with a room-tracking actor fed by a `WsNotifier` (given to the builder, so nothing is missed),
//! checked against the emulator's REST view after a scripted lifecycle.

use std::collections::BTreeMap;

use actix::prelude::*;
use jellyfish_emulator::{Emulator, TrackOwner};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::*;
use serde_json::json;
use tokio::sync::oneshot;

/// The application's actor: who is connected in which room.
#[derive(Default)]
struct RoomTracker {
    connected: BTreeMap<RoomId, Vec<PeerId>>,
    tracks: usize,
}

impl Actor for RoomTracker {
    type Context = Context<Self>;
}

impl Handler<Notification> for RoomTracker {
    type Result = ();

    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        match notification.view() {
            NotificationRef::RoomCreated(RoomCreated { room_id, .. }) => {
                self.connected.entry(room_id.clone()).or_default();
            }
            NotificationRef::PeerConnected(PeerConnected {
                room_id, peer_id, ..
            }) => self
                .connected
                .entry(room_id.clone())
                .or_default()
                .push(peer_id.clone()),
            NotificationRef::PeerDisconnected(PeerDisconnected {
                room_id, peer_id, ..
            }) => {
                if let Some(peers) = self.connected.get_mut(room_id) {
                    peers.retain(|p| p != peer_id);
                }
            }
            NotificationRef::TrackAdded(TrackAdded {
                endpoint: Some(Endpoint::Peer(_)),
                ..
            }) => self.tracks += 1,
            _ => {}
        }
    }
}

/// Answers the tracker's state.
#[derive(Message)]
#[rtype(result = "(BTreeMap<RoomId, Vec<PeerId>>, usize)")]
struct State;

impl Handler<State> for RoomTracker {
    type Result = MessageResult<State>;

    fn handle(&mut self, _: State, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.connected.clone(), self.tracks))
    }
}

/// Tells the test when the room is gone.
struct Watch(Option<oneshot::Sender<()>>);

impl Actor for Watch {
    type Context = Context<Self>;
}

impl Handler<Notification> for Watch {
    type Result = ();

    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        if notification.kind() == "room_deleted"
            && let Some(done) = self.0.take()
        {
            let _ = done.send(());
        }
    }
}

#[actix_web::test]
async fn the_apps_room_tracker_follows_a_scripted_lifecycle() {
    let emulator = Emulator::builder().token("test").start().await.unwrap();
    let tracker = RoomTracker::default().start();
    let (done, room_deleted) = oneshot::channel();
    let notifier = WsNotifier::builder(emulator.server_address(), "test")
        .subscribe_notifications(tracker.clone().recipient())
        .subscribe_notifications(Watch(Some(done)).start().recipient())
        .start();
    notifier.send(WaitReady).await.unwrap().unwrap();

    let api = RoomApi::new(emulator.server_address(), "test").unwrap();
    let room = api.create_room(&RoomConfig::default()).await.unwrap().room;
    let alice = api.add_peer(&room.id).await.unwrap().peer;
    let bob = api.add_peer(&room.id).await.unwrap().peer;
    emulator.connect_peer(&room.id, &alice.id).unwrap();
    emulator.connect_peer(&room.id, &bob.id).unwrap();
    emulator
        .add_track(
            &room.id,
            &TrackOwner::Peer(alice.id.clone()),
            TrackType::Video,
            json!({"source": "camera"}),
        )
        .unwrap();
    emulator.disconnect_peer(&room.id, &bob.id).unwrap();
    let second = api.create_room(&RoomConfig::default()).await.unwrap().room;
    api.delete_room(&second.id).await.unwrap();

    tokio::time::timeout(std::time::Duration::from_secs(10), room_deleted)
        .await
        .expect("room_deleted in time")
        .unwrap();
    let (connected, tracks) = tracker.send(State).await.unwrap();
    assert_eq!(connected[&room.id], vec![alice.id.clone()]);
    assert_eq!(tracks, 1);
    // The emulator's REST view agrees with what the notifications built.
    let rest = api.get_room(&room.id).await.unwrap();
    let rest_connected: Vec<&PeerId> = rest
        .peers
        .iter()
        .filter(|p| p.status == PeerStatus::Connected)
        .map(|p| &p.id)
        .collect();
    assert_eq!(rest_connected, vec![&alice.id]);
}
