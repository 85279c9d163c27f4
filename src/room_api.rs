//! The REST client for what a notification user needs: rooms (with their `webhookUrl`) and peers,
//! mirroring the official SDKs' `RoomApi`.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use awc::http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::address::{AddressError, FishjamIdAddress, ServerAddress};
use crate::control::ApiToken;
use crate::rooms::{
    CreatedRoom, DataResponse, ErrorResponse, PeerDetails, PeerOptions, Room, RoomConfig,
};
pub use crate::transport::TransportError;

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
    /// No answer: connection refused, timeout, the exchange broken off. Retrying may help once
    /// the server is back.
    #[error("the server could not be reached: {0}")]
    Transport(#[from] TransportError),
    /// The server's TLS certificate did not verify (unknown issuer, wrong host name, expired), or a
    /// root certificate given to the builder is unusable. Retrying cannot help.
    #[error("TLS with {host:?} failed: {reason} (add its root certificate, or check the address)")]
    Certificate {
        /// The host whose certificate failed (empty for an unusable root certificate).
        host: String,
        /// What rustls said.
        reason: String,
    },
    /// The address cannot be used.
    #[error(transparent)]
    InvalidAddress(#[from] AddressError),
    /// The answer was not the documented JSON.
    #[error("the server's answer is not the expected JSON: {0}")]
    InvalidResponse(String),
    /// Any of the other errors, for an address that was a bare word taken as a Fishjam ID: the
    /// error says so, with the URL it became and how to give a host of that name instead.
    #[error("{error} ({address})")]
    AtFishjamId {
        /// How the address was read.
        address: FishjamIdAddress,
        /// The error itself.
        error: Box<RoomApiError>,
    },
}

impl RoomApiError {
    /// The HTTP status, for errors the server answered with.
    pub fn status(&self) -> Option<u16> {
        match self.cause() {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error itself, without the note an [`RoomApiError::AtFishjamId`] adds.
    pub fn cause(&self) -> &RoomApiError {
        match self {
            Self::AtFishjamId { error, .. } => error.cause(),
            other => other,
        }
    }
}

/// A Room API client: rooms and peers over the server's REST API, with the bearer token.
///
/// It is `Clone + Send + Sync`: build one and share it (in `web::Data`, in every actor). Each actix
/// thread keeps its own pooled HTTP connection for it, made on first use; the futures its methods
/// return run on actix's single-threaded runtime, like every `awc` call.
///
/// ```no_run
/// use jellyfish_notifier::RoomApi;
/// use jellyfish_notifier::rooms::RoomConfig;
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let api = RoomApi::new("localhost:5002", "development")?;
/// let created = api
///     .create_room(&RoomConfig {
///         max_peers: Some(10),
///         webhook_url: Some("http://localhost:5003/webhook".into()),
///         ..RoomConfig::default()
///     })
///     .await?;
/// let peer = api.add_peer(&created.room.id).await?;
/// println!("room {}, peer {}", created.room.id, peer.peer.id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RoomApi {
    inner: Arc<Inner>,
}

struct Inner {
    address: ServerAddress,
    token: ApiToken,
    timeout: Duration,
    #[cfg(feature = "rustls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

thread_local! {
    /// One `awc::Client` (and its connection pool) per thread and `RoomApi` (clones share it).
    /// An entry goes at that thread's next call after its `RoomApi` and every clone are gone (so
    /// a dropped client's idle connections may linger on a thread that makes no more calls).
    static CLIENTS: RefCell<Vec<(Weak<Inner>, awc::Client)>> = const { RefCell::new(Vec::new()) };
}

impl std::fmt::Debug for RoomApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomApi")
            .field("base", &self.inner.address.http_url(""))
            .field("token", &self.inner.token)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

/// Configures a [`RoomApi`].
///
/// ```
/// use std::time::Duration;
/// use jellyfish_notifier::RoomApi;
///
/// let api = RoomApi::builder("fishjam.example:443", "token")
///     .secure(true)
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert!(format!("{api:?}").contains("https://fishjam.example:443"));
/// ```
#[derive(Clone, Debug)]
pub struct RoomApiBuilder {
    address: String,
    token: ApiToken,
    secure: bool,
    timeout: Duration,
    #[cfg(feature = "rustls")]
    roots: crate::tls::ExtraRoots,
}

impl RoomApiBuilder {
    /// Use `https` for a `host:port` address (a full URL's scheme wins). Default `false`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// How long one call may take, connection included. Default 15 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts this root certificate (DER) for `https://`, besides the webpki roots. Feature
    /// `rustls`.
    #[cfg(feature = "rustls")]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.add(der.into());
        self
    }

    /// The client, or why it cannot be made (the address; with TLS, an unusable root
    /// certificate).
    pub fn build(self) -> Result<RoomApi, RoomApiError> {
        let address = ServerAddress::parse(&self.address, self.secure)?;
        #[cfg(feature = "rustls")]
        let tls = Some(self.roots.client_config().map_err(|reason| {
            let error = RoomApiError::Certificate {
                host: String::new(),
                reason,
            };
            match address.as_fishjam_id() {
                Some(address) => RoomApiError::AtFishjamId {
                    address,
                    error: Box::new(error),
                },
                None => error,
            }
        })?);
        Ok(RoomApi {
            inner: Arc::new(Inner {
                address,
                token: self.token,
                timeout: self.timeout,
                #[cfg(feature = "rustls")]
                tls,
            }),
        })
    }
}

impl RoomApi {
    /// A client for `server_address` with every option at its default: `host:port` over plain
    /// `http`, an `http(s)://` / `ws(s)://` base URL whose path prefix is kept, or a Fishjam ID
    /// (one word of letters, digits, `-`, `_`; not `localhost`), which means
    /// `https://fishjam.io/api/v1/connect/{id}` as in the official SDKs: give a host a port or a
    /// scheme so it is not taken for one.
    pub fn new(
        server_address: impl Into<String>,
        server_api_token: impl Into<ApiToken>,
    ) -> Result<Self, RoomApiError> {
        Self::builder(server_address, server_api_token).build()
    }

    /// A builder for the other options: `https` for `host:port`, the call timeout.
    pub fn builder(
        server_address: impl Into<String>,
        server_api_token: impl Into<ApiToken>,
    ) -> RoomApiBuilder {
        RoomApiBuilder {
            address: server_address.into(),
            token: server_api_token.into(),
            secure: false,
            timeout: Duration::from_secs(15),
            #[cfg(feature = "rustls")]
            roots: crate::tls::ExtraRoots::default(),
        }
    }

    fn new_client(&self) -> awc::Client {
        #[cfg(feature = "rustls")]
        if let Some(tls) = &self.inner.tls {
            return awc::Client::builder()
                .timeout(self.inner.timeout)
                .connector(
                    awc::Connector::new()
                        .timeout(crate::transport::connect_part(self.inner.timeout))
                        .handshake_timeout(crate::transport::connect_part(self.inner.timeout))
                        .rustls_0_23(Arc::clone(tls)),
                )
                .finish();
        }
        awc::Client::builder().timeout(self.inner.timeout).finish()
    }

    /// This thread's client for this `RoomApi`.
    fn client(&self) -> awc::Client {
        CLIENTS.with(|clients| {
            let mut clients = clients.borrow_mut();
            clients.retain(|(owner, _)| owner.strong_count() > 0);
            if let Some((_, client)) = clients
                .iter()
                .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(&self.inner)))
            {
                return client.clone();
            }
            let client = self.new_client();
            clients.push((Arc::downgrade(&self.inner), client.clone()));
            client
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

    /// `POST /room/{room_id}/peer` for a WebRTC peer with default options: answers the peer and
    /// the token its client connects with. The server sends `peer_added` (v0.5+).
    pub async fn add_peer(&self, room_id: &str) -> Result<PeerDetails, RoomApiError> {
        self.add_peer_with(room_id, &PeerOptions::default()).await
    }

    /// `POST /room/{room_id}/peer` for a peer of any type (WebRTC; on Fishjam Cloud also agent and
    /// VAPI peers) with its options.
    pub async fn add_peer_with(
        &self,
        room_id: &str,
        options: &PeerOptions,
    ) -> Result<PeerDetails, RoomApiError> {
        self.call(
            Method::POST,
            &format!("/room/{}/peer", segment(room_id)),
            Some(options),
        )
        .await
    }

    /// `DELETE /room/{room_id}/peer/{peer_id}`.
    pub async fn delete_peer(&self, room_id: &str, peer_id: &str) -> Result<(), RoomApiError> {
        let path = format!("/room/{}/peer/{}", segment(room_id), segment(peer_id));
        self.call_empty(Method::DELETE, &path).await
    }

    /// Any other route of the server (`path` from the root, e.g. `/room/r1/peer`), with this
    /// client's token, timeout and TLS: the answer's status and body when it is a 2xx, else
    /// [`RoomApiError::Status`] with the server's words. For routes this client has no method for.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, bytes::Bytes), RoomApiError> {
        self.send(method, path, body)
            .await
            .map(|(status, bytes)| (status.as_u16(), bytes))
    }

    /// `error`, with the note that the address was taken as a Fishjam ID if it was.
    fn noted(&self, error: RoomApiError) -> RoomApiError {
        match self.inner.address.as_fishjam_id() {
            Some(address) => RoomApiError::AtFishjamId {
                address,
                error: Box::new(error),
            },
            None => error,
        }
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, bytes::Bytes), RoomApiError> {
        self.exchange(method, path, body)
            .await
            .map_err(|error| self.noted(error))
    }

    async fn exchange<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, bytes::Bytes), RoomApiError> {
        let request = self
            .client()
            .request(method, self.inner.address.http_url(path))
            .bearer_auth(self.inner.token.expose());
        let response = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        let mut response = match response {
            Ok(response) => response,
            Err(err) => {
                return Err(self
                    .transport_error(err, &self.inner.address.http_url(path))
                    .await);
            }
        };
        let bytes = response
            .body()
            .limit(16 << 20)
            .await
            .map_err(|err| RoomApiError::Transport(err.into()))?;
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

    async fn transport_error(&self, err: awc::error::SendRequestError, url: &str) -> RoomApiError {
        #[cfg(feature = "rustls")]
        if let Some(reason) = crate::tls::request_certificate_error(&err) {
            return RoomApiError::Certificate {
                host: self.inner.address.host().to_owned(),
                reason,
            };
        }
        RoomApiError::Transport(TransportError::of_request(err, url).await)
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
            .map_err(|err| self.noted(RoomApiError::InvalidResponse(err.to_string())))
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
