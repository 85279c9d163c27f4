//! The emulator's HTTP surface: the server WebSocket route, the REST API, and `/emulator/…` controls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::world::{ActionError, HlsEvent, TrackOwner};
use super::{Shared, lock, socket};
use jellyfish_notifier::{CreatedRoom, DataResponse, ErrorResponse};
use jellyfish_notifier::{Notification, TrackType};

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
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
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
            .service(web::scope("/emulator").configure(controls))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(0)
    // Close a dropped socket at once instead of lingering for the client (abrupt, like a crash).
    .client_disconnect_timeout(Duration::ZERO)
    .bind(bind)?;
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

async fn list_rooms(req: HttpRequest, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let rooms = lock(&shared.world).rooms();
    data(StatusCode::OK, rooms)
}

async fn create_room(req: HttpRequest, body: web::Bytes, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let body = json_body(&body)?;
    let room = shared.act(|w| w.create_room(&body))?;
    let jellyfish_address = shared.server_address();
    data(
        StatusCode::CREATED,
        CreatedRoom {
            room,
            jellyfish_address,
        },
    )
}

async fn get_room(req: HttpRequest, path: web::Path<String>, shared: Data) -> Reply {
    authorize(&req, &shared)?;
    let room = lock(&shared.world).get_room(&path)?;
    data(StatusCode::OK, room)
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
        "peer" => Ok(TrackOwner::Peer(id)),
        "component" => Ok(TrackOwner::Component(id)),
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
