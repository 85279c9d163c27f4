//! Rooms view test helpers: a subscriber that keeps its own model, the server's `GET /room` as
//! JSON, and random state changes on the emulator.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_emulator::{Emulator, TrackOwner};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::rooms_view::*;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A subscriber that applies every change it gets to an empty [`RoomsModel`] of its own, and passes
/// each change on.
pub struct Follower {
    model: Arc<Mutex<RoomsModel>>,
    changes: mpsc::UnboundedSender<RoomChange>,
}

/// The test's end of a [`Follower`].
pub struct Followed {
    pub model: Arc<Mutex<RoomsModel>>,
    pub changes: mpsc::UnboundedReceiver<RoomChange>,
}

impl Follower {
    pub fn start() -> (Addr<Follower>, Followed) {
        let model = Arc::new(Mutex::new(RoomsModel::default()));
        let (changes, rx) = mpsc::unbounded_channel();
        let addr = Follower {
            model: Arc::clone(&model),
            changes,
        }
        .start();
        (addr, Followed { model, changes: rx })
    }
}

impl Actor for Follower {
    type Context = Context<Self>;
}

impl Handler<RoomChange> for Follower {
    type Result = ();
    fn handle(&mut self, change: RoomChange, _: &mut Context<Self>) {
        self.model.lock().unwrap().apply(&change);
        let _ = self.changes.send(change);
    }
}

impl Followed {
    /// The next change that `pick` accepts (others are skipped), within 10 s.
    pub async fn next_where<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(RoomChange) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let change = tokio::time::timeout_at(deadline, self.changes.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within 10 s"))
                .expect("the view is running");
            if let Some(found) = pick(change) {
                return found;
            }
        }
    }

    /// The model's rooms as normalized JSON.
    pub fn json(&self) -> Value {
        model_json(&self.model.lock().unwrap())
    }
}

/// Sorts rooms, peers, components and tracks by id, so that two answers compare whatever order
/// each was written in; drops what means "not set" either way.
pub fn normalize(mut rooms: Value) -> Value {
    fn by_id(list: &mut Value) {
        if let Some(items) = list.as_array_mut() {
            items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            for item in items {
                if let Some(tracks) = item.get_mut("tracks") {
                    by_id(tracks);
                }
            }
        }
    }
    by_id(&mut rooms);
    if let Some(items) = rooms.as_array_mut() {
        for room in items {
            // Options not set may be written as `null` (Jellyfish) or left out (Fishjam Cloud, and
            // this crate); no components may be `[]` or left out.
            if let Some(config) = room.get_mut("config").and_then(Value::as_object_mut) {
                config.retain(|_, value| !value.is_null());
            }
            if let Some(room) = room.as_object_mut()
                && room
                    .get("components")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
            {
                room.remove("components");
            }
            for key in ["peers", "components"] {
                if let Some(list) = room.get_mut(key) {
                    by_id(list);
                }
            }
        }
    }
    rooms
}

/// A model's rooms, normalized.
pub fn model_json(model: &RoomsModel) -> Value {
    normalize(serde_json::to_value(model).unwrap()["rooms"].take())
}

/// The server's `GET /room` `data`, as it sent it, normalized.
pub async fn server_rooms(emulator: &Emulator) -> Value {
    let mut response = awc::Client::default()
        .get(format!("{}/room", emulator.http_url()))
        .bearer_auth(emulator.token().expose())
        .send()
        .await
        .expect("GET /room");
    assert_eq!(response.status(), 200);
    let mut body: Value = response.json().limit(64 << 20).await.expect("JSON");
    normalize(body["data"].take())
}

/// Waits until the view has nothing to fetch and equals the server; answers how long that took,
/// or panics with both states after `limit`.
pub async fn converged(view: &Addr<RoomsView>, emulator: &Emulator, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let stats = view.send(GetViewStats).await.unwrap();
        let server = server_rooms(emulator).await;
        let model = view.send(GetRooms).await.unwrap();
        let ours = model_json(&model);
        // Equal to the server, and saying so: a state that matches by chance while the view
        // knows it missed something is not convergence.
        if stats.synced && !stats.fetching && model.is_synced() && ours == server {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            panic!(
                "the view did not converge within {limit:?}\nview:   {ours}\nserver: {server}\n{stats:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for the view to converge (as [`converged`]), then checks that the subscriber's model,
/// built from nothing but the changes it received, equals the server too.
pub async fn both_converged(view: &Addr<RoomsView>, emulator: &Emulator, followed: &Followed) {
    converged(view, emulator, Duration::from_secs(10)).await;
    assert_eq!(
        followed.json(),
        server_rooms(emulator).await,
        "the subscriber's model"
    );
}

/// One room of the view, which must have it.
pub async fn room_of(view: &Addr<RoomsView>, room_id: &str) -> Room {
    view.send(GetRoom(room_id.into()))
        .await
        .expect("the view runs")
        .unwrap_or_else(|| panic!("the view has no room {room_id}"))
}

/// Random state changes on the emulator: rooms created and deleted, peers added, connected,
/// disconnected, crashed and removed, tracks added and removed, metadata updated, components.
pub struct Mutator {
    pub rng: fastrand::Rng,
    counter: u64,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            counter: 0,
        }
    }

    /// Makes `n` random changes; answers what they were.
    pub fn mutate(&mut self, emulator: &Emulator, n: usize) -> Vec<&'static str> {
        (0..n)
            .map(|_| {
                // An action that does not apply to the state drawn is drawn again (a few times).
                let mut change = self.one(emulator);
                for _ in 0..8 {
                    if change != "nothing" {
                        break;
                    }
                    change = self.one(emulator);
                }
                change
            })
            .collect()
    }

    fn one(&mut self, emulator: &Emulator) -> &'static str {
        self.counter += 1;
        let rooms = emulator.rooms();
        let rng = &mut self.rng;
        let metadata = json!({"n": self.counter, "name": format!("Zoë {}", self.counter)});
        if rooms.len() < 3 || (rooms.len() < 6 && rng.u8(..10) == 0) {
            let config = match rng.u8(..3) {
                0 => json!({}),
                1 => json!({"maxPeers": 1 + rng.u32(..20)}),
                _ => json!({"roomId": format!("soak-{}", self.counter), "videoCodec": "vp8"}),
            };
            emulator.create_room(&config).expect("create a room");
            return "room created";
        }
        let room = &rooms[rng.usize(..rooms.len())];
        let id = room.id.as_str();
        let connected: Vec<&Peer> = room
            .peers
            .iter()
            .filter(|p| p.status == PeerStatus::Connected)
            .collect();
        let disconnected: Vec<&Peer> = room
            .peers
            .iter()
            .filter(|p| p.status == PeerStatus::Disconnected)
            .collect();
        let with_tracks: Vec<&Peer> = connected
            .iter()
            .copied()
            .filter(|p| !p.tracks.is_empty())
            .collect();
        match rng.u8(..20) {
            0 if rooms.len() > 3 => {
                emulator.delete_room(id).unwrap();
                "room deleted"
            }
            1 if rooms.len() > 3 && rng.bool() => {
                emulator.crash_room(id).unwrap();
                "room crashed"
            }
            2..=4 if room.peers.len() < 5 => add_peer(emulator, id),
            5 | 6 if !disconnected.is_empty() => {
                let peer = disconnected[rng.usize(..disconnected.len())];
                emulator.connect_peer(id, &peer.id).unwrap();
                "peer connected"
            }
            7 if !connected.is_empty() => {
                let peer = connected[rng.usize(..connected.len())];
                emulator.disconnect_peer(id, &peer.id).unwrap();
                "peer disconnected"
            }
            8 if !room.peers.is_empty() => {
                let peer = &room.peers[rng.usize(..room.peers.len())];
                emulator.delete_peer(id, &peer.id).unwrap();
                "peer deleted"
            }
            9 if !room.peers.is_empty() => {
                let peer = &room.peers[rng.usize(..room.peers.len())];
                emulator.crash_peer(id, &peer.id, "soak").unwrap();
                "peer crashed"
            }
            10 | 11 if !connected.is_empty() => {
                let peer = connected[rng.usize(..connected.len())];
                emulator
                    .update_peer_metadata(id, &peer.id, metadata)
                    .unwrap();
                "peer metadata updated"
            }
            12..=14 if !connected.is_empty() => {
                let peer = connected[rng.usize(..connected.len())];
                let kind = if rng.bool() {
                    TrackType::Audio
                } else {
                    TrackType::Video
                };
                let owner = TrackOwner::Peer(peer.id.clone());
                emulator.add_track(id, &owner, kind, metadata).unwrap();
                "track added"
            }
            15 if !with_tracks.is_empty() => {
                let peer = with_tracks[rng.usize(..with_tracks.len())];
                let track = &peer.tracks[rng.usize(..peer.tracks.len())];
                let owner = TrackOwner::Peer(peer.id.clone());
                emulator.remove_track(id, &owner, &track.id).unwrap();
                "track removed"
            }
            16 if !with_tracks.is_empty() => {
                let peer = with_tracks[rng.usize(..with_tracks.len())];
                let track = &peer.tracks[rng.usize(..peer.tracks.len())];
                let owner = TrackOwner::Peer(peer.id.clone());
                emulator
                    .update_track_metadata(id, &owner, &track.id, metadata)
                    .unwrap();
                "track metadata updated"
            }
            17 if room.components.len() < 2 => {
                let component = emulator.add_component(id, "file").unwrap();
                let owner = TrackOwner::Component(component.into());
                emulator
                    .add_track(id, &owner, TrackType::Audio, Value::Null)
                    .unwrap();
                "component added with a track"
            }
            18 if !room.components.is_empty() => {
                emulator
                    .crash_component(id, &room.components[0].id)
                    .unwrap();
                "component crashed"
            }
            _ if room.peers.len() < 5 => add_peer(emulator, id),
            _ => "nothing",
        }
    }
}

/// A peer, unless the room is full (`maxPeers`).
fn add_peer(emulator: &Emulator, room_id: &str) -> &'static str {
    match emulator.add_peer(room_id) {
        Ok(_) => "peer added",
        Err(_) => "peer refused: the room is full",
    }
}
