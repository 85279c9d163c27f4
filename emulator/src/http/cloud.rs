//! Fishjam Cloud's own REST routes: token checks and refreshes, subscriptions, livestream tokens,
//! track forwarding, MoQ access and recordings.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Data;
use super::auth::check_token;
use super::reply::{Reply, data, error, json_body, no_content};
use crate::error::ActionError;
use crate::shared::lock;
use crate::world::random_token;

pub(super) fn routes(config: &mut web::ServiceConfig) {
    // Not behind the middleware: Cloud answers a bad token here with 404.
    config.route("/validate", web::get().to(validate));
    authorized!(
        config,
        [
            (
                POST,
                "/room/{room}/peer/{peer}/refresh_token",
                refresh_token
            ),
            (
                POST,
                "/room/{room}/peer/{peer}/subscribe_peer",
                subscribe_peer
            ),
            (
                POST,
                "/room/{room}/peer/{peer}/subscribe_tracks",
                subscribe_tracks
            ),
            (POST, "/room/{room}/viewer", livestream_token),
            (POST, "/room/{room}/streamer", livestream_token),
            (POST, "/room/{room}/track_forwardings", track_forwardings),
            (POST, "/moq/access", moq_access),
            (POST, "/recordings", create_recording),
            (GET, "/recordings", list_recordings),
            (GET, "/recordings/{id}", get_recording),
            (DELETE, "/recordings/{id}", delete_recording),
            (POST, "/recordings/{id}/stop", stop_recording),
        ]
    );
}

type RoomPeer = web::Path<(String, String)>;

/// `GET /validate`: 200 for a good token; the SDKs read 404 as bad credentials.
async fn validate(req: HttpRequest, shared: Data) -> HttpResponse {
    match check_token(&req, &shared.token) {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => error(404, "Invalid Fishjam ID or management token"),
    }
}

async fn refresh_token(path: RoomPeer, shared: Data) -> Reply {
    let (room, peer) = path.into_inner();
    let token = lock(&shared.world).refresh_peer_token(&room, &peer)?;
    data(StatusCode::CREATED, json!({ "token": token }))
}

#[derive(Deserialize)]
struct SubscribePeerQuery {
    peer_id: String,
}

async fn subscribe_peer(
    path: RoomPeer,
    query: web::Query<SubscribePeerQuery>,
    shared: Data,
) -> Reply {
    let (room, peer) = path.into_inner();
    lock(&shared.world).subscribe_peer(&room, &peer, &query.peer_id)?;
    Ok(HttpResponse::Ok().finish())
}

async fn subscribe_tracks(path: RoomPeer, body: web::Bytes, shared: Data) -> Reply {
    let (room, peer) = path.into_inner();
    let tracks: Vec<String> = json_body(&body)?
        .get("track_ids")
        .cloned()
        .and_then(|ids| serde_json::from_value(ids).ok())
        .ok_or_else(|| ActionError::bad_request("track_ids must be a list of track ids"))?;
    lock(&shared.world).subscribe_tracks(&room, &peer, &tracks)?;
    Ok(HttpResponse::Ok().finish())
}

/// `POST /room/{room}/viewer` and `/streamer`: `{"token": …}`, not wrapped in `data`.
async fn livestream_token(path: web::Path<String>, shared: Data) -> Reply {
    let token = lock(&shared.world).livestream_token(&path)?;
    Ok(HttpResponse::Created().json(json!({ "token": token })))
}

async fn track_forwardings(path: web::Path<String>, body: web::Bytes, shared: Data) -> Reply {
    let body = json_body(&body)?;
    let url = body
        .get("compositionURL")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    shared.emit(|w| w.forward_tracks(&path, &url))?;
    Ok(HttpResponse::Created().finish())
}

async fn moq_access(shared: Data) -> Reply {
    Ok(HttpResponse::Ok().json(json!({
        "connection_url": format!(
            "{}://{}/moq",
            if lock(&shared.world).tls() { "https" } else { "http" },
            shared.server_address()
        ),
        "token": random_token(),
    })))
}

async fn create_recording(body: web::Bytes, shared: Data) -> Reply {
    let body = json_body(&body)?;
    let recording = shared.act(|w| w.create_recording(&body))?;
    data(StatusCode::CREATED, recording)
}

async fn list_recordings(shared: Data) -> Reply {
    let recordings = lock(&shared.world).recordings();
    data(StatusCode::OK, recordings)
}

async fn get_recording(path: web::Path<String>, shared: Data) -> Reply {
    let recording = lock(&shared.world).recording(&path)?;
    data(StatusCode::OK, recording)
}

async fn stop_recording(path: web::Path<String>, shared: Data) -> Reply {
    let recording = shared.act(|w| w.stop_recording(&path))?;
    data(StatusCode::OK, recording)
}

async fn delete_recording(path: web::Path<String>, shared: Data) -> Reply {
    no_content(lock(&shared.world).delete_recording(&path))
}
