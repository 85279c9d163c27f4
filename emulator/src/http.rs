//! The emulator's HTTP surface: the server WebSocket route, the REST API, and `/emulator/…` controls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ActionError;
use super::world::{HlsEvent, TrackOwner};
use crate::shared::{Shared, lock};
use crate::socket;
use jellyfish_notifier::{DataResponse, ErrorResponse};
use jellyfish_notifier::{Notification, TrackType, VadStatus};

/// A listening server.
pub(super) struct Running {
    pub(super) addr: SocketAddr,
    handle: ServerHandle,
}

impl Running {
    /// Stops listening and drops every connection; returns once it has.
    pub(super) async fn stop(self) {
        self.handle.stop(false).await;
    }

    /// Asks the server to stop, without waiting (for `Drop`).
    pub(super) fn stop_now(self) {
        drop(self.handle.stop(false));
    }
}

pub(super) fn serve(shared: Arc<Shared>, bind: SocketAddr) -> std::io::Result<Running> {
    let workers = shared.config.workers;
    let tls = shared
        .config
        .tls
        .as_ref()
        .map(crate::builder::TlsIdentity::server_config)
        .transpose()?;
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        let cloud = data.config.version.is_cloud();
        actix_web::App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route("/socket/server/websocket", web::get().to(websocket))
            .route("/health", web::get().to(health))
            .route("/room", web::get().to(list_rooms))
            .route("/room", web::post().to(create_room))
            .route("/room/{room_id}", web::get().to(get_room))
            .route("/room/{room_id}", web::delete().to(delete_room))
            .route("/room/{room_id}/peer", web::post().to(add_peer))
            .route(
                "/room/{room_id}/peer/{peer_id}",
                web::delete().to(delete_peer),
            )
            .configure(|config| {
                if cloud {
                    cloud_routes(config);
                }
            })
            .service(web::scope("/emulator").configure(controls))
            .default_service(web::to(unknown_route))
            // Inner first: the Cloud prefix is stripped after the slashes are merged.
            .wrap_fn(move |req, service| {
                use actix_web::dev::Service as _;
                let req = if cloud { strip_cloud_prefix(req) } else { req };
                service.call(req)
            })
            // Phoenix merges repeated slashes (the JS SDK sends `//room`).
            .wrap(actix_web::middleware::NormalizePath::new(
                actix_web::middleware::TrailingSlash::MergeOnly,
            ))
    })
    .workers(workers)
    // Frames go out as they are written, as the real server's (Cowboy's, Bandit's) sockets do;
    // Nagle's algorithm would hold a small frame for the client's delayed ACK (up to 40 ms).
    .tcp_nodelay(true)
    .disable_signals()
    .shutdown_timeout(0)
    // Close a dropped socket at once instead of lingering for the client (abrupt, like a crash).
    .client_disconnect_timeout(Duration::ZERO);
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(bind, config)?,
        None => server.bind(bind)?,
    };
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("the server bound no address"))?;
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(Running { addr, handle })
}

type Data = web::Data<Shared>;

/// Fishjam Cloud serves every route under `/api/v1/connect/{fishjam_id}` too.
fn strip_cloud_prefix(mut req: actix_web::dev::ServiceRequest) -> actix_web::dev::ServiceRequest {
    const PREFIX: &str = "/api/v1/connect/";
    let path = req.path();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return req;
    };
    let stripped = match rest.find('/') {
        Some(slash) => rest[slash..].to_owned(),
        None => "/".to_owned(),
    };
    let query = req.query_string();
    let path_and_query = if query.is_empty() {
        stripped
    } else {
        format!("{stripped}?{query}")
    };
    let mut parts = req.head().uri.clone().into_parts();
    let Ok(path_and_query) = path_and_query.parse() else {
        return req;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = actix_web::http::Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
    req
}

/// Every route the server does not have: 404 with a JSON `{"errors": …}` body, which the official
/// SDKs decode (an empty body crashes them).
async fn unknown_route(req: HttpRequest) -> HttpResponse {
    error(404, format!("Not found: {} {}", req.method(), req.path()))
}

fn error(status: u16, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)).json(
        ErrorResponse {
            errors: message.into(),
        },
    )
}

/// Answers as the real server does: the status and `{"errors": "…"}`.
impl actix_web::ResponseError for ActionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        error(self.status, self.message.clone())
    }
}

type Reply = Result<HttpResponse, ActionError>;

/// The REST API's bearer-token check.
fn authorize(req: &HttpRequest, shared: &Shared) -> Result<(), ActionError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let unauthorized = |message: &str| ActionError {
        status: 401,
        message: message.to_owned(),
    };
    match header.and_then(|h| h.strip_prefix("Bearer ")) {
        None => Err(unauthorized("Missing token")),
        Some(token) if shared.token.matches(token.trim()) => Ok(()),
        Some(_) => Err(unauthorized("Invalid token")),
    }
}

/// Parses an optional JSON body; an empty body is `null`.
fn json_body(body: &[u8]) -> Result<Value, ActionError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| ActionError {
        status: 400,
        message: "Invalid request body structure".to_owned(),
    })
}

fn data<T: serde::Serialize>(status: StatusCode, data: T) -> Reply {
    Ok(HttpResponse::build(status).json(DataResponse { data }))
}

fn no_content(result: Result<(), ActionError>) -> Reply {
    result.map(|()| HttpResponse::NoContent().finish())
}

async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    shared: Data,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(socket::run(shared.into_inner(), session, stream));
    Ok(response)
}

async fn health(req: HttpRequest, shared: Data) -> Reply {
    authorize(&req, &shared)?;
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

async fn list_rooms(req: HttpRequest, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let rooms = lock(&shared.world).rooms();
    let rooms: Vec<Value> = rooms.iter().map(|room| room_json(room, &shared)).collect();
    data(StatusCode::OK, rooms)
}

async fn create_room(req: HttpRequest, body: web::Bytes, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let body = json_body(&body)?;
    let room = shared.act(|w| w.create_room(&body))?;
    // Fishjam Cloud answers the room alone; Jellyfish adds the instance's address.
    let mut created = json!({ "room": room_json(&room, &shared) });
    if !shared.config.version.is_cloud() {
        created["jellyfish_address"] = shared.server_address().into();
    }
    data(StatusCode::CREATED, created)
}

async fn get_room(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let room = lock(&shared.world).get_room(&path)?;
    data(StatusCode::OK, room_json(&room, &shared))
}

async fn delete_room(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    no_content(shared.emit(|w| w.delete_room(&path)))
}

async fn add_peer(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    authorize(&req, &shared)?;
    let body = json_body(&body)?;
    let address = shared.server_address();
    let peer = shared.act(|w| w.add_peer(&path, &body, &address))?;
    data(StatusCode::CREATED, peer)
}

async fn delete_peer(req: HttpRequest, path: web::Path<(String, String)>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let (room_id, peer_id) = path.into_inner();
    no_content(shared.emit(|w| w.delete_peer(&room_id, &peer_id)))
}

// --- Fishjam Cloud's routes ---

fn cloud_routes(config: &mut web::ServiceConfig) {
    config
        .route("/validate", web::get().to(validate))
        .route(
            "/room/{room}/peer/{peer}/refresh_token",
            web::post().to(refresh_token),
        )
        .route(
            "/room/{room}/peer/{peer}/subscribe_peer",
            web::post().to(subscribe_peer),
        )
        .route(
            "/room/{room}/peer/{peer}/subscribe_tracks",
            web::post().to(subscribe_tracks),
        )
        .route("/room/{room}/viewer", web::post().to(livestream_token))
        .route("/room/{room}/streamer", web::post().to(livestream_token))
        .route(
            "/room/{room}/track_forwardings",
            web::post().to(track_forwardings),
        )
        .route("/moq/access", web::post().to(moq_access))
        .route("/recordings", web::post().to(create_recording))
        .route("/recordings", web::get().to(list_recordings))
        .route("/recordings/{id}", web::get().to(get_recording))
        .route("/recordings/{id}", web::delete().to(delete_recording))
        .route("/recordings/{id}/stop", web::post().to(stop_recording));
}

/// `GET /validate`: 200 for a good token; the SDKs read 404 as bad credentials.
async fn validate(req: HttpRequest, shared: Data) -> HttpResponse {
    match authorize(&req, &shared) {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => error(404, "Invalid Fishjam ID or management token"),
    }
}

async fn refresh_token(req: HttpRequest, path: RoomPeer, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let (room, peer) = path.into_inner();
    let token = lock(&shared.world).refresh_peer_token(&room, &peer)?;
    data(StatusCode::CREATED, json!({ "token": token }))
}

#[derive(Deserialize)]
struct SubscribePeerQuery {
    peer_id: String,
}

async fn subscribe_peer(
    req: HttpRequest,
    path: RoomPeer,
    query: web::Query<SubscribePeerQuery>,
    shared: Data,
) -> Reply {
    authorize(&req, &shared)?;
    let (room, peer) = path.into_inner();
    lock(&shared.world).subscribe_peer(&room, &peer, &query.peer_id)?;
    Ok(HttpResponse::Ok().finish())
}

async fn subscribe_tracks(
    req: HttpRequest,
    path: RoomPeer,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    authorize(&req, &shared)?;
    let (room, peer) = path.into_inner();
    let tracks: Vec<String> = json_body(&body)?
        .get("track_ids")
        .cloned()
        .and_then(|ids| serde_json::from_value(ids).ok())
        .ok_or_else(|| ActionError {
            status: 400,
            message: "track_ids must be a list of track ids".to_owned(),
        })?;
    lock(&shared.world).subscribe_tracks(&room, &peer, &tracks)?;
    Ok(HttpResponse::Ok().finish())
}

/// `POST /room/{room}/viewer` and `/streamer`: `{"token": …}`, not wrapped in `data`.
async fn livestream_token(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let token = lock(&shared.world).livestream_token(&path)?;
    Ok(HttpResponse::Created().json(json!({ "token": token })))
}

async fn track_forwardings(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    authorize(&req, &shared)?;
    let body = json_body(&body)?;
    let url = body
        .get("compositionURL")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    shared.emit(|w| w.forward_tracks(&path, &url))?;
    Ok(HttpResponse::Created().finish())
}

async fn moq_access(req: HttpRequest, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    Ok(HttpResponse::Ok().json(json!({
        "connection_url": format!(
            "{}://{}/moq",
            if lock(&shared.world).tls() { "https" } else { "http" },
            shared.server_address()
        ),
        "token": super::world::random_token(),
    })))
}

async fn create_recording(req: HttpRequest, body: web::Bytes, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let body = json_body(&body)?;
    let recording = shared.act(|w| w.create_recording(&body))?;
    data(StatusCode::CREATED, recording)
}

async fn list_recordings(req: HttpRequest, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let recordings = lock(&shared.world).recordings();
    data(StatusCode::OK, recordings)
}

async fn get_recording(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let recording = lock(&shared.world).recording(&path)?;
    data(StatusCode::OK, recording)
}

async fn stop_recording(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let recording = shared.act(|w| w.stop_recording(&path))?;
    data(StatusCode::OK, recording)
}

async fn delete_recording(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    no_content(lock(&shared.world).delete_recording(&path))
}

// --- /emulator/… controls ---

fn controls(config: &mut web::ServiceConfig) {
    config
        .route(
            "/room/{room}/peer/{peer}/connect",
            web::post().to(connect_peer),
        )
        .route(
            "/room/{room}/peer/{peer}/disconnect",
            web::post().to(disconnect_peer),
        )
        .route("/room/{room}/peer/{peer}/crash", web::post().to(crash_peer))
        .route(
            "/room/{room}/peer/{peer}/metadata",
            web::post().to(peer_metadata),
        )
        .route(
            "/room/{room}/{kind}/{owner}/track",
            web::post().to(add_track),
        )
        .route(
            "/room/{room}/{kind}/{owner}/track/{track}",
            web::delete().to(remove_track),
        )
        .route(
            "/room/{room}/{kind}/{owner}/track/{track}/metadata",
            web::post().to(track_metadata),
        )
        .route("/room/{room}/component", web::post().to(add_component))
        .route(
            "/room/{room}/component/{component}/crash",
            web::post().to(crash_component),
        )
        .route("/room/{room}/hls/{event}", web::post().to(hls_event))
        .route("/room/{room}/crash", web::post().to(crash_room))
        .route(
            "/room/{room}/{who}/{id}/{action}",
            web::post().to(livestream_member),
        )
        .route(
            "/room/{room}/peer/{peer}/channel/{channel}/{action}",
            web::post().to(channel),
        )
        .route(
            "/room/{room}/peer/{peer}/track/{track}/vad",
            web::post().to(voice_activity),
        )
        .route("/faults/{fault}", web::post().to(fault));
}

/// Runs a control action after the token check, with the JSON body parsed.
fn control<T: serde::Serialize>(
    req: &HttpRequest,
    shared: &Shared,
    body: &[u8],
    action: impl FnOnce(&Shared, Value) -> Result<T, ActionError>,
) -> Reply {
    authorize(req, shared)?;
    let body = json_body(body)?;
    let result = serde_json::to_value(action(shared, body)?).unwrap_or(Value::Null);
    if result.is_null() {
        Ok(HttpResponse::NoContent().finish())
    } else {
        data(StatusCode::OK, result)
    }
}

type RoomPeer = web::Path<(String, String)>;

async fn connect_peer(req: HttpRequest, path: RoomPeer, body: web::Bytes, shared: Data) -> Reply {
    let (room, peer) = path.into_inner();
    control(&req, &shared, &body, |s, _| {
        s.emit(|w| w.connect_peer(&room, &peer))
    })
}

async fn disconnect_peer(
    req: HttpRequest,
    path: RoomPeer,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, peer) = path.into_inner();
    control(&req, &shared, &body, |s, _| {
        s.emit(|w| w.disconnect_peer(&room, &peer))
    })
}

async fn crash_peer(req: HttpRequest, path: RoomPeer, body: web::Bytes, shared: Data) -> Reply {
    let (room, peer) = path.into_inner();
    control(&req, &shared, &body, |s, body| {
        let reason = body
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        s.emit(|w| w.crash_peer(&room, &peer, &reason))
    })
}

async fn peer_metadata(req: HttpRequest, path: RoomPeer, body: web::Bytes, shared: Data) -> Reply {
    let (room, peer) = path.into_inner();
    control(&req, &shared, &body, |s, body| {
        s.emit(|w| w.update_peer_metadata(&room, &peer, body))
    })
}

fn owner(kind: &str, id: String) -> Result<TrackOwner, ActionError> {
    match kind {
        "peer" => Ok(TrackOwner::Peer(id.into())),
        "component" => Ok(TrackOwner::Component(id.into())),
        other => Err(ActionError {
            status: 404,
            message: format!("no such endpoint kind {other:?}: use peer or component"),
        }),
    }
}

#[derive(Deserialize)]
struct NewTrack {
    #[serde(rename = "type", default)]
    track_type: Option<String>,
    #[serde(default)]
    metadata: Value,
}

async fn add_track(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, kind, id) = path.into_inner();
    control(&req, &shared, &body, |s, body| {
        let owner = owner(&kind, id)?;
        let track: NewTrack = if body.is_null() {
            NewTrack {
                track_type: None,
                metadata: Value::Null,
            }
        } else {
            serde_json::from_value(body).map_err(|err| ActionError {
                status: 400,
                message: format!("Invalid track: {err}"),
            })?
        };
        let track_type = match track.track_type.as_deref() {
            None | Some("video") => TrackType::Video,
            Some("audio") => TrackType::Audio,
            Some(other) => {
                return Err(ActionError {
                    status: 400,
                    message: format!("Invalid track type {other:?}: use audio or video"),
                });
            }
        };
        let id = s.act(|w| w.add_track(&room, &owner, track_type, track.metadata))?;
        Ok(json!({ "id": id }))
    })
}

async fn remove_track(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, kind, id, track) = path.into_inner();
    control(&req, &shared, &body, |s, _| {
        let owner = owner(&kind, id)?;
        s.emit(|w| w.remove_track(&room, &owner, &track))
    })
}

async fn track_metadata(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, kind, id, track) = path.into_inner();
    control(&req, &shared, &body, |s, body| {
        let owner = owner(&kind, id)?;
        s.emit(|w| w.update_track_metadata(&room, &owner, &track, body))
    })
}

async fn add_component(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    control(&req, &shared, &body, |s, body| {
        let kind = body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let id = s.act(|w| Ok((w.add_component(&path, &kind)?, Vec::new())))?;
        Ok(json!({ "id": id }))
    })
}

async fn crash_component(
    req: HttpRequest,
    path: RoomPeer,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, component) = path.into_inner();
    control(&req, &shared, &body, |s, _| {
        s.emit(|w| w.crash_component(&room, &component))
    })
}

async fn hls_event(req: HttpRequest, path: RoomPeer, body: web::Bytes, shared: Data) -> Reply {
    let (room, event) = path.into_inner();
    control(&req, &shared, &body, |s, body| {
        let event = match event.as_str() {
            "playable" => HlsEvent::Playable {
                component_id: body
                    .get("componentId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            },
            "uploaded" => HlsEvent::Uploaded,
            "upload_crashed" => HlsEvent::UploadCrashed,
            other => {
                return Err(ActionError {
                    status: 404,
                    message: format!(
                        "no HLS event {other:?}: use playable, uploaded or upload_crashed"
                    ),
                });
            }
        };
        s.emit(|w| w.hls_event(&room, &event))
    })
}

async fn crash_room(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    control(&req, &shared, &body, |s, _| s.emit(|w| w.crash_room(&path)))
}

async fn fault(req: HttpRequest, path: web::Path<String>, body: web::Bytes, shared: Data) -> Reply {
    control(&req, &shared, &body, |s, body| {
        let number = |key: &str| body.get(key).and_then(Value::as_u64);
        let sockets = match path.as_str() {
            "drop" => s.drop_connections(),
            "close" => {
                let code = number("code")
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(1011);
                let reason = body.get("reason").and_then(Value::as_str).unwrap_or("");
                s.close_connections(code, reason)
            }
            "malformed" => {
                s.send_malformed();
                lock(&s.sockets).open.len()
            }
            "unknown" => {
                let field = number("field")
                    .and_then(|f| u32::try_from(f).ok())
                    .unwrap_or(99);
                s.push_notification(&Notification::from(
                    jellyfish_notifier::UnknownNotification::field(field),
                ));
                lock(&s.sockets).open.len()
            }
            "delay" => {
                s.set_frame_delay(Duration::from_millis(number("ms").unwrap_or(0)));
                lock(&s.sockets).open.len()
            }
            other => {
                return Err(ActionError {
                    status: 404,
                    message: format!(
                        "no fault {other:?}: use drop, close, malformed, unknown or delay"
                    ),
                });
            }
        };
        Ok(json!({ "sockets": sockets }))
    })
}

/// `POST /emulator/room/{room}/streamer|viewer/{id}/connect|disconnect` (Fishjam Cloud).
async fn livestream_member(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, who, id, action) = path.into_inner();
    control(&req, &shared, &body, |s, _| {
        let connected = match action.as_str() {
            "connect" => true,
            "disconnect" => false,
            other => {
                return Err(ActionError {
                    status: 404,
                    message: format!("no action {other:?}: use connect or disconnect"),
                });
            }
        };
        match who.as_str() {
            "streamer" => s.emit(|w| w.streamer(&room, &id, connected)),
            "viewer" => s.emit(|w| w.viewer(&room, &id, connected)),
            other => Err(ActionError {
                status: 404,
                message: format!("no livestream member {other:?}: use streamer or viewer"),
            }),
        }
    })
}

/// `POST /emulator/room/{room}/peer/{peer}/channel/{channel}/add|remove` (Fishjam Cloud).
async fn channel(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, peer, channel, action) = path.into_inner();
    control(&req, &shared, &body, |s, _| {
        let added = match action.as_str() {
            "add" => true,
            "remove" => false,
            other => {
                return Err(ActionError {
                    status: 404,
                    message: format!("no channel action {other:?}: use add or remove"),
                });
            }
        };
        s.emit(|w| w.channel(&room, &peer, &channel, added))
    })
}

/// `POST /emulator/room/{room}/peer/{peer}/track/{track}/vad` `{"status": "speech"|"silence"}`.
async fn voice_activity(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
    shared: Data,
) -> Reply {
    let (room, peer, track) = path.into_inner();
    control(&req, &shared, &body, |s, body| {
        let status = match body.get("status").and_then(Value::as_str) {
            Some("speech") => VadStatus::Speech,
            Some("silence") => VadStatus::Silence,
            _ => {
                return Err(ActionError {
                    status: 400,
                    message: "status must be \"speech\" or \"silence\"".to_owned(),
                });
            }
        };
        s.emit(|w| w.voice_activity(&room, &peer, &track, status))
    })
}
