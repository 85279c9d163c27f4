//! The REST client for what a notification user needs: rooms (with their `webhookUrl`) and peers,
//! mirroring the official SDKs' `RoomApi`.

use std::time::Duration;

use awc::http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::address::ServerAddress;
use crate::control::ApiToken;
use crate::rooms::{CreatedRoom, DataResponse, ErrorResponse, PeerDetails, Room, RoomConfig};

/// Why a Room API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomApiError {
    /// The server answered with an error status; `message` is its own `errors` text (or the body).
    #[error("the server answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What the server said.
        message: String,
    },
    /// No answer: connection refused, timeout, TLS failure.
    #[error("the server could not be reached: {0}")]
    Transport(String),
    /// The answer was not the documented JSON.
    #[error("the server's answer is not the expected JSON: {0}")]
    InvalidResponse(String),
}

impl RoomApiError {
    /// The HTTP status, for errors the server answered with.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A Room API client: rooms and peers over the server's REST API, with the bearer token.
///
/// It uses `awc`, so it lives on one actix thread (it is not `Send`); create one per thread.
///
/// ```no_run
/// use jellyfish_notifier::{RoomApi, RoomConfig};
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let api = RoomApi::new("localhost:5002", "development", false)?;
/// let created = api
///     .create_room(&RoomConfig {
///         max_peers: Some(10),
///         webhook_url: Some("http://localhost:5003/webhook".into()),
///         ..RoomConfig::default()
///     })
///     .await?;
/// let peer = api.add_peer(&created.room.id).await?;
/// println!("room {} on {}, peer token {}", created.room.id, created.jellyfish_address, peer.token);
/// # Ok(()) }
/// ```
pub struct RoomApi {
    address: ServerAddress,
    token: ApiToken,
    client: awc::Client,
}

impl std::fmt::Debug for RoomApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomApi")
            .field("base", &self.address.http_url(""))
            .field("token", &self.token)
            .finish()
    }
}

impl RoomApi {
    /// A client for `server_address` (`host:port`, or an `http(s)://` / `ws(s)://` base URL whose
    /// path prefix is kept), using `https` when `secure` (or the URL says so).
    pub fn new(
        server_address: &str,
        server_api_token: impl Into<ApiToken>,
        secure: bool,
    ) -> Result<Self, crate::NotifierError> {
        Ok(Self {
            address: ServerAddress::parse(server_address, secure)?,
            token: server_api_token.into(),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(15))
                .finish(),
        })
    }

    /// `POST /room`: creates a room; answers it with the address of the server instance that holds
    /// it. The server sends `room_created` (also to the room's `webhook_url`).
    pub async fn create_room(&self, config: &RoomConfig) -> Result<CreatedRoom, RoomApiError> {
        self.call(Method::POST, "/room", Some(config)).await
    }

    /// `GET /room/{room_id}`.
    pub async fn get_room(&self, room_id: &str) -> Result<Room, RoomApiError> {
        self.call::<(), _>(Method::GET, &format!("/room/{}", segment(room_id)), None)
            .await
    }

    /// `GET /room`.
    pub async fn list_rooms(&self) -> Result<Vec<Room>, RoomApiError> {
        self.call::<(), _>(Method::GET, "/room", None).await
    }

    /// `DELETE /room/{room_id}`.
    pub async fn delete_room(&self, room_id: &str) -> Result<(), RoomApiError> {
        self.call_empty(Method::DELETE, &format!("/room/{}", segment(room_id)))
            .await
    }

    /// `POST /room/{room_id}/peer` for a WebRTC peer: answers the peer and the token its client
    /// connects with.
    pub async fn add_peer(&self, room_id: &str) -> Result<PeerDetails, RoomApiError> {
        let body = serde_json::json!({"type": "webrtc", "options": {}});
        self.call(
            Method::POST,
            &format!("/room/{}/peer", segment(room_id)),
            Some(&body),
        )
        .await
    }

    /// `DELETE /room/{room_id}/peer/{peer_id}`.
    pub async fn delete_peer(&self, room_id: &str, peer_id: &str) -> Result<(), RoomApiError> {
        let path = format!("/room/{}/peer/{}", segment(room_id), segment(peer_id));
        self.call_empty(Method::DELETE, &path).await
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, bytes::Bytes), RoomApiError> {
        let request = self
            .client
            .request(method, self.address.http_url(path))
            .bearer_auth(self.token.expose());
        let response = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        let mut response = response.map_err(|err| RoomApiError::Transport(err.to_string()))?;
        let bytes = response
            .body()
            .limit(16 << 20)
            .await
            .map_err(|err| RoomApiError::Transport(err.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorResponse>(&bytes)
                .map(|e| e.errors)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(RoomApiError::Status {
                status: status.as_u16(),
                message,
            });
        }
        Ok((status, bytes))
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, RoomApiError> {
        let (_, bytes) = self.send(method, path, body).await?;
        serde_json::from_slice::<DataResponse<T>>(&bytes)
            .map(|response| response.data)
            .map_err(|err| RoomApiError::InvalidResponse(err.to_string()))
    }

    async fn call_empty(&self, method: Method, path: &str) -> Result<(), RoomApiError> {
        self.send::<()>(method, path, None).await.map(drop)
    }
}

/// Percent-encodes an id for one path segment.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
