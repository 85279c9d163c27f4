//! The REST API every server version has: health, rooms and peers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::Data;
use super::reply::{Reply, data, json_body, no_content};
use crate::shared::{Shared, lock};

pub(super) fn routes(config: &mut web::ServiceConfig) {
    authorized!(
        config,
        [
            (GET, "/health", health),
            (GET, "/room", list_rooms),
            (POST, "/room", create_room),
            (GET, "/room/{room_id}", get_room),
            (DELETE, "/room/{room_id}", delete_room),
            (POST, "/room/{room_id}/peer", add_peer),
            (DELETE, "/room/{room_id}/peer/{peer_id}", delete_peer),
        ]
    );
}

async fn health(shared: Data) -> Reply {
    let version = lock(&shared.world).version();
    Ok(HttpResponse::Ok().json(json!({"data": {
        "status": "UP",
        "uptime": shared.started.elapsed().as_secs(),
        "distribution": {"enabled": false, "nodeStatus": "DOWN", "nodesInCluster": 1},
        "version": version.as_str(),
        "gitCommit": "jellyfish-notifier-emulator",
    }})))
}

/// A room as this server version writes it: Jellyfish always writes every config key (`null` when
/// unset) and `components`; Fishjam Cloud leaves out what it does not have.
fn room_json(room: &jellyfish_notifier::Room, shared: &Shared) -> Value {
    let mut json = serde_json::to_value(room).unwrap_or(Value::Null);
    if !shared.config.version.is_cloud()
        && let Some(object) = json.as_object_mut()
    {
        object.entry("components").or_insert_with(|| json!([]));
        if let Some(config) = object.get_mut("config").and_then(Value::as_object_mut) {
            for key in [
                "roomId",
                "maxPeers",
                "videoCodec",
                "webhookUrl",
                "peerlessPurgeTimeout",
                "peerDisconnectedTimeout",
            ] {
                config.entry(key).or_insert(Value::Null);
            }
        }
    }
    json
}

async fn list_rooms(shared: Data) -> Reply {
    let rooms = lock(&shared.world).rooms();
    let rooms: Vec<Value> = rooms.iter().map(|room| room_json(room, &shared)).collect();
    data(StatusCode::OK, rooms)
}

async fn create_room(body: web::Bytes, shared: Data) -> Reply {
    let body = json_body(&body)?;
    let room = shared.act(|w| w.create_room(&body))?;
    // Fishjam Cloud answers the room alone; Jellyfish adds the instance's address.
    let mut created = json!({ "room": room_json(&room, &shared) });
    if !shared.config.version.is_cloud() {
        created["jellyfish_address"] = shared.server_address().into();
    }
    data(StatusCode::CREATED, created)
}

async fn get_room(path: web::Path<String>, shared: Data) -> Reply {
    let room = lock(&shared.world).get_room(&path)?;
    data(StatusCode::OK, room_json(&room, &shared))
}

async fn delete_room(path: web::Path<String>, shared: Data) -> Reply {
    no_content(shared.emit(|w| w.delete_room(&path)))
}

async fn add_peer(path: web::Path<String>, body: web::Bytes, shared: Data) -> Reply {
    let body = json_body(&body)?;
    let address = shared.server_address();
    let peer = shared.act(|w| w.add_peer(&path, &body, &address))?;
    data(StatusCode::CREATED, peer)
}

async fn delete_peer(path: web::Path<(String, String)>, shared: Data) -> Reply {
    let (room_id, peer_id) = path.into_inner();
    no_content(shared.emit(|w| w.delete_peer(&room_id, &peer_id)))
}
