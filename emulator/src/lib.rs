#![doc = include_str!("../README.md")]
//!
//! # The emulator in detail
//!
//! A Jellyfish-compatible server for tests and local development: the notification WebSocket, the
//! REST rooms and peers, webhooks, a simulated media side, scenarios, fault injection, and a record
//! of everything it sent.
//!
//! A client cannot tell it apart from a real server on the notification surface: same path, same
//! binary protobuf frames, same handshake, close codes, reasons, keepalive and log lines, and the
//! same notifications in the same order as the real server for each REST or media action.
//!
//! ```no_run
//! use jellyfish_emulator::Emulator;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = Emulator::builder().token("development").start().await?;
//! println!("Jellyfish emulator on {}", emulator.server_address());
//! let room = emulator.create_room(&serde_json::json!({"roomId": "demo"})).unwrap();
//! let peer = emulator.add_peer(&room.id).unwrap();
//! emulator.connect_peer(&room.id, &peer.peer.id).unwrap();
//! # Ok(()) }
//! ```
//!
//! # HTTP surface
//!
//! The real server's paths: `GET /socket/server/websocket`, `GET /health`, `GET|POST /room`,
//! `GET|DELETE /room/{room_id}`, `POST /room/{room_id}/peer`, `DELETE /room/{room_id}/peer/{id}`, all
//! behind `Authorization: Bearer <token>` except the WebSocket (which authenticates in-band).
//!
//! With [`ServerVersion::Cloud`] it also serves Fishjam Cloud's routes (under
//! `/api/v1/connect/{fishjam_id}` too, and with repeated slashes merged as Phoenix does):
//! `GET /validate`, `POST /room/{room}/peer/{peer}/refresh_token`, `…/subscribe_peer?peer_id=`,
//! `…/subscribe_tracks`, `POST /room/{room}/viewer` and `/streamer`,
//! `POST /room/{room}/track_forwardings` (`track_forwarding`), `POST /moq/access`, and
//! `POST|GET /recordings`, `GET|DELETE /recordings/{id}`, `POST /recordings/{id}/stop`
//! (`recording_status_changed`). Every unknown route answers 404 with a JSON `{"errors": …}`.
//!
//! The simulated media side lives under `/emulator/` (same bearer token; JSON bodies; each answers
//! 204, or `{"data": …}`, or the error the action gives):
//!
//! | request | action |
//! |---|---|
//! | `POST /emulator/room/{room}/peer/{peer}/connect` | the peer connects: `peer_connected` |
//! | `POST /emulator/room/{room}/peer/{peer}/disconnect` | `peer_disconnected`, then `track_removed` per track |
//! | `POST /emulator/room/{room}/peer/{peer}/crash` `{"reason": "…"}` | `track_removed` per track, `peer_crashed` |
//! | `POST /emulator/room/{room}/peer/{peer}/metadata` `<any JSON>` | `peer_metadata_updated` |
//! | `POST /emulator/room/{room}/peer/{peer}/track` `{"type": "video", "metadata": …}` | `track_added`; answers `{"data": {"id": …}}` |
//! | `DELETE /emulator/room/{room}/peer/{peer}/track/{track}` | `track_removed` |
//! | `POST /emulator/room/{room}/peer/{peer}/track/{track}/metadata` `<any JSON>` | `track_metadata_updated` |
//! | `POST /emulator/room/{room}/component` `{"type": "hls"}` | adds a component (no notification); answers its id |
//! | `POST /emulator/room/{room}/component/{component}/track` | `track_added` for a component |
//! | `POST /emulator/room/{room}/component/{component}/crash` | `component_crashed` |
//! | `POST /emulator/room/{room}/hls/playable` `{"componentId": …}`, `…/hls/uploaded`, `…/hls/upload_crashed` | the HLS events |
//! | `POST /emulator/room/{room}/crash` | `room_crashed` |
//! | `POST /emulator/room/{room}/streamer/{id}/connect`, `…/disconnect` | Cloud: `streamer_connected` / `streamer_disconnected` |
//! | `POST /emulator/room/{room}/viewer/{id}/connect`, `…/disconnect` | Cloud: `viewer_connected` / `viewer_disconnected` |
//! | `POST /emulator/room/{room}/peer/{peer}/channel/{channel}/add`, `…/remove` | Cloud: `channel_added` / `channel_removed` |
//! | `POST /emulator/room/{room}/peer/{peer}/track/{track}/vad` `{"status": "speech"}` | Cloud: `vad_notification` |
//! | `POST /emulator/faults/drop` | drop every server WebSocket without a close frame |
//! | `POST /emulator/faults/close` `{"code": 1011, "reason": "…"}` | close every server WebSocket |
//! | `POST /emulator/faults/malformed` | send a frame that is not a `ServerMessage` |
//! | `POST /emulator/faults/unknown` `{"field": 99}` | send an unknown content member |
//! | `POST /emulator/faults/delay` `{"ms": 50}` | delay every frame sent from now on |

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod http;
mod scenario;
mod socket;
mod version;
mod webhooks;
mod world;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use jellyfish_notifier::{ApiToken, EventType};
use jellyfish_notifier::{MetricsReport, Notification, TrackType};

pub use error::ActionError;
pub use scenario::{FirehoseConfig, LifecycleConfig, firehose_notification, unix_nanos};
pub use version::ServerVersion;
pub use webhooks::{WebhookDelivery, WebhookOutcome};
pub use world::{HlsEvent, TrackOwner};

use world::{Emissions, World};

/// Builds and starts an [`Emulator`]: loopback, the real server's defaults, every knob a test needs.
///
/// ```
/// use std::time::Duration;
/// use jellyfish_emulator::{Emulator, ServerVersion};
///
/// actix_web::rt::System::new().block_on(async {
///     let emulator = Emulator::builder()
///         .server_version(ServerVersion::Cloud)
///         .token("my-management-token")
///         .webhook_secret("my-webhook-secret")
///         .ping_interval(Duration::from_secs(1))
///         .start()
///         .await
///         .unwrap();
///     assert!(emulator.http_url().starts_with("http://127.0.0.1:"));
/// });
/// ```
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    bind: SocketAddr,
    token: ApiToken,
    version: ServerVersion,
    ping_interval: Duration,
    receive_timeout: Duration,
    metrics_interval: Duration,
    webhook_secret: Option<ApiToken>,
    webhook_batch: usize,
    webhook_timeout: Duration,
    workers: usize,
    fragment_size: Option<usize>,
    record: bool,
    tls: Option<TlsIdentity>,
}

/// A certificate chain and its private key, for serving `https` and `wss`.
#[derive(Clone)]
pub(crate) struct TlsIdentity {
    chain: Vec<Vec<u8>>,
    key: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// A rustls server configuration (HTTP/1.1: the WebSocket upgrade needs it).
    pub(crate) fn server_config(&self) -> io::Result<rustls::ServerConfig> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let chain: Vec<CertificateDer<'static>> = self
            .chain
            .iter()
            .cloned()
            .map(CertificateDer::from)
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|err| io::Error::other(format!("the emulator's TLS certificate: {err}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: ApiToken::new("development"),
            version: ServerVersion::default(),
            ping_interval: Duration::from_secs(30),
            receive_timeout: Duration::from_secs(60),
            metrics_interval: Duration::from_millis(1000),
            webhook_secret: None,
            webhook_batch: 1,
            webhook_timeout: Duration::from_secs(5),
            workers: 1,
            fragment_size: None,
            record: true,
            tls: None,
        }
    }
}

impl EmulatorBuilder {
    /// Serve `https://` and `wss://` with this certificate chain (DER, the server's first) and
    /// its PKCS#8 private key (DER), as a real server behind TLS does. Tests generate a
    /// self-signed one (for example with `rcgen`) and give its certificate to the client's
    /// `add_root_certificate`.
    pub fn tls(mut self, certificate_chain: Vec<Vec<u8>>, private_key_pkcs8: Vec<u8>) -> Self {
        self.tls = Some(TlsIdentity {
            chain: certificate_chain,
            key: private_key_pkcs8,
        });
        self
    }

    /// Where to listen. Default `127.0.0.1:0` (loopback, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The server API token (WebSocket auth and REST bearer). Default `development`.
    pub fn token(mut self, token: impl Into<ApiToken>) -> Self {
        self.token = token.into();
        self
    }

    /// Which server release to behave as. Default [`ServerVersion::V0_5`].
    pub fn server_version(mut self, version: ServerVersion) -> Self {
        self.version = version;
        self
    }

    /// How often an authenticated socket is pinged (the first ping one interval after auth).
    /// Default 30 s, as the real server.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How long a socket may stay silent (pongs count) before the server drops it. Default 60 s.
    pub fn receive_timeout(mut self, timeout: Duration) -> Self {
        self.receive_timeout = timeout;
        self
    }

    /// How often `metrics_report` goes to METRICS subscribers. Default 1000 ms.
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval;
        self
    }

    /// Sign webhooks as Fishjam Cloud does (`x-fishjam-signature-256: sha256=<hex HMAC-SHA256>`).
    /// The open-source server signs nothing (the default).
    pub fn webhook_secret(mut self, secret: impl Into<ApiToken>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Send up to `max` queued notifications of one URL as one Fishjam Cloud `notification_batch`
    /// (protobuf webhooks only). Default 1: one POST per notification, as the open-source server.
    pub fn webhook_batch(mut self, max: usize) -> Self {
        self.webhook_batch = max.max(1);
        self
    }

    /// How long one webhook POST may take before it counts as failed. Default 5 s.
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// HTTP worker threads. Default 1.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Splits every WebSocket message larger than `size` bytes into continuation frames of that
    /// size (the real server sends one frame per message; this exercises a client's reassembly).
    pub fn fragment_frames(mut self, size: usize) -> Self {
        self.fragment_size = Some(size);
        self
    }

    /// Whether to keep the record of every frame sent (default `true`). Turn it off for long
    /// firehose runs, where the record would grow without bound.
    pub fn record(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Binds and starts serving. Must run inside an actix (or actix-web) runtime.
    pub async fn start(self) -> io::Result<Emulator> {
        let (webhook_tx, webhook_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            token: self.token.clone(),
            world: Mutex::new(World::new(self.version).with_tls(self.tls.is_some())),
            sockets: Mutex::new(Sockets::default()),
            records: Mutex::new(BTreeMap::new()),
            webhook_records: Mutex::new(Vec::new()),
            webhook_tx,
            frame_delay_us: AtomicU64::new(0),
            changed: Notify::new(),
            config: self.clone(),
            address: Mutex::new(String::new()),
            started: Instant::now(),
        });
        webhooks::spawn_sender(&shared, webhook_rx);
        let server = http::serve(Arc::clone(&shared), self.bind)?;
        let addr = server.addr;
        *lock(&shared.address) = addr.to_string();
        let metrics = actix_web::rt::spawn(metrics_loop(Arc::clone(&shared)));
        Ok(Emulator {
            shared,
            addr,
            server: Mutex::new(Some(server)),
            metrics,
        })
    }
}

/// A running emulated server. Dropping it stops the server.
///
/// Point your notifier (or your app) at [`Emulator::server_address`], act on it as a real server
/// and its peers would, and check what your code received against what it sent:
///
/// ```
/// use std::time::Duration;
/// use futures_util::StreamExt as _;
/// use jellyfish_emulator::{Emulator, TrackOwner};
/// use jellyfish_notifier::{StreamNotifications, TrackType, WaitReady, WsNotifier};
///
/// actix_web::rt::System::new().block_on(async {
///     let emulator = Emulator::builder().start().await.unwrap();
///     let notifier = WsNotifier::start(emulator.server_address(), emulator.token().expose());
///     let mut received = notifier.send(StreamNotifications { capacity: 16 }).await.unwrap();
///     notifier.send(WaitReady).await.unwrap().unwrap();
///
///     let room = emulator.create_room(&serde_json::json!({"maxPeers": 2})).unwrap();
///     let peer = emulator.add_peer(&room.id).unwrap().peer;
///     emulator.connect_peer(&room.id, &peer.id).unwrap();
///     let owner = TrackOwner::Peer(peer.id.clone());
///     emulator.add_track(&room.id, &owner, TrackType::Video, serde_json::Value::Null).unwrap();
///
///     let mut kinds = Vec::new();
///     while kinds.len() < 4 {
///         let next = tokio::time::timeout(Duration::from_secs(5), received.next()).await;
///         kinds.push(next.unwrap().unwrap().unwrap().kind());
///     }
///     assert_eq!(kinds, ["room_created", "peer_added", "peer_connected", "track_added"]);
///     // What the emulator sent, for tests that prove nothing was lost.
///     assert_eq!(emulator.connection_records()[0].notifications().count(), 4);
/// });
/// ```
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<http::Running>>,
    metrics: actix_web::rt::task::JoinHandle<()>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("version", &self.shared.config.version)
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.metrics.abort();
        if let Some(server) = lock(&self.server).take() {
            server.stop_now();
        }
    }
}

/// What the emulator wrote to one server WebSocket, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum SentFrame {
    /// `authenticated`.
    Authenticated,
    /// A `subscribe_response`.
    SubscribeResponse(EventType),
    /// A notification.
    Notification(Notification),
    /// A metrics report.
    Metrics(MetricsReport),
    /// Bytes that are not a valid `ServerMessage` (a fault).
    Malformed(Bytes),
    /// A WebSocket ping.
    Ping,
    /// A close frame.
    Close {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The connection was dropped without a close frame.
    Dropped,
}

/// The record of one server WebSocket connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionRecord {
    /// The connection's number, in accept order from 1.
    pub id: u64,
    /// Everything written to it, in order.
    pub sent: Vec<SentFrame>,
    /// Whether the connection has ended.
    pub ended: bool,
    /// The close code the client sent, if it closed the connection itself (the emulator then
    /// answers with the same code, recorded in `sent`).
    pub client_close: Option<u16>,
}

impl ConnectionRecord {
    /// The notifications written to this connection, in order.
    pub fn notifications(&self) -> impl Iterator<Item = &Notification> {
        self.sent.iter().filter_map(|frame| match frame {
            SentFrame::Notification(n) => Some(n),
            _ => None,
        })
    }
}

/// What the malformed-frame fault sends: a field key with wire type 7, which no protobuf has.
const MALFORMED: &[u8] = &[0xff, 0xff, 0xff, 0x07];

/// A frame queued for one socket.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    Frame { bytes: Bytes, record: SentFrame },
    Close { code: u16, reason: String },
    Drop,
}

#[derive(Debug)]
pub(crate) struct SocketEntry {
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Frames queued for this socket and not yet written (for the firehose's flow control).
    queued: Arc<AtomicUsize>,
    authenticated: bool,
    notifications: bool,
    metrics: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Sockets {
    next_id: u64,
    /// Subscriptions to notifications made since the start, on sockets open or closed.
    notification_subscriptions: u64,
    open: BTreeMap<u64, SocketEntry>,
}

/// State shared by the HTTP workers, the socket tasks, the metrics loop and the webhook sender.
pub(crate) struct Shared {
    token: ApiToken,
    world: Mutex<World>,
    sockets: Mutex<Sockets>,
    records: Mutex<BTreeMap<u64, ConnectionRecord>>,
    webhook_records: Mutex<Vec<WebhookDelivery>>,
    webhook_tx: mpsc::UnboundedSender<webhooks::Job>,
    frame_delay_us: AtomicU64,
    changed: Notify,
    config: EmulatorBuilder,
    address: Mutex<String>,
    started: Instant,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the state stays usable:
/// every critical section leaves it consistent before anything can panic).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Runs an action on the world and sends what it emitted, all under the world lock so that every
    /// socket and webhook sees one global order.
    fn act<T>(
        &self,
        action: impl FnOnce(&mut World) -> Result<(T, Emissions), ActionError>,
    ) -> Result<T, ActionError> {
        let mut world = lock(&self.world);
        let (value, emissions) = action(&mut world)?;
        for emitted in emissions {
            self.broadcast_notification(&emitted.notification);
            if let Some(target) = emitted.webhook {
                // The receiver only ends with the emulator; a send error just means shutdown.
                let _ = self.webhook_tx.send(webhooks::Job {
                    url: target.url,
                    batch: target.batch,
                    notification: emitted.notification,
                });
            }
        }
        Ok(value)
    }

    /// [`Shared::act`] for an action whose only result is what it emits.
    fn emit(
        &self,
        action: impl FnOnce(&mut World) -> Result<Emissions, ActionError>,
    ) -> Result<(), ActionError> {
        self.act(|world| Ok(((), action(world)?)))
    }

    fn broadcast_notification(&self, notification: &Notification) {
        match notification.encode() {
            Ok(bytes) => self.broadcast(
                |s| s.notifications,
                Bytes::from(bytes),
                SentFrame::Notification(notification.clone()),
            ),
            Err(err) => tracing::error!(%err, "notification cannot be encoded; not sent"),
        }
    }

    fn broadcast(&self, to: impl Fn(&SocketEntry) -> bool, bytes: Bytes, record: SentFrame) {
        let sockets = lock(&self.sockets);
        for entry in sockets.open.values().filter(|s| s.authenticated && to(s)) {
            entry.queued.fetch_add(1, Ordering::Relaxed);
            let _ = entry.tx.send(Outgoing::Frame {
                bytes: bytes.clone(),
                record: record.clone(),
            });
        }
    }

    fn to_every_socket(&self, outgoing: impl Fn() -> Outgoing) -> usize {
        let sockets = lock(&self.sockets);
        for entry in sockets.open.values() {
            let _ = entry.tx.send(outgoing());
        }
        sockets.open.len()
    }

    fn push_notification(&self, notification: &Notification) {
        let _order = lock(&self.world);
        self.broadcast_notification(notification);
    }

    fn drop_connections(&self) -> usize {
        self.to_every_socket(|| Outgoing::Drop)
    }

    fn close_connections(&self, code: u16, reason: &str) -> usize {
        self.to_every_socket(|| Outgoing::Close {
            code,
            reason: reason.to_owned(),
        })
    }

    fn send_malformed(&self) {
        let bytes = Bytes::from_static(MALFORMED);
        self.broadcast(|_| true, bytes.clone(), SentFrame::Malformed(bytes));
    }

    fn set_frame_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.frame_delay_us.store(micros, Ordering::Relaxed);
    }

    fn server_address(&self) -> String {
        lock(&self.address).clone()
    }

    fn record(&self, id: u64, frame: SentFrame) {
        if !self.config.record {
            if matches!(frame, SentFrame::Close { .. } | SentFrame::Dropped) {
                self.changed.notify_waiters();
            }
            return;
        }
        let mut records = lock(&self.records);
        let record = records.entry(id).or_insert_with(|| ConnectionRecord {
            id,
            ..ConnectionRecord::default()
        });
        if matches!(frame, SentFrame::Close { .. } | SentFrame::Dropped) {
            record.ended = true;
        }
        record.sent.push(frame);
        drop(records);
        self.changed.notify_waiters();
    }

    /// The client closed with `code`; the echo reply is recorded after this.
    fn record_client_close(&self, id: u64, code: u16) {
        if let Some(record) = lock(&self.records).get_mut(&id) {
            record.client_close = Some(code);
        }
    }

    fn frame_delay(&self) -> Duration {
        Duration::from_micros(self.frame_delay_us.load(Ordering::Relaxed))
    }
}

async fn metrics_loop(shared: Arc<Shared>) {
    let period = shared.config.metrics_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    // A late tick does not make up for lost time with a burst: reports stay one period apart.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = 0u64;
    if shared.config.version.is_cloud() {
        // Fishjam Cloud sends no metrics reports.
        return;
    }
    loop {
        ticker.tick().await;
        tick += 1;
        let report = {
            let world = lock(&shared.world);
            MetricsReport::new(world.metrics(tick).to_string())
        };
        shared.broadcast(
            |s| s.metrics,
            Bytes::from(report.encode()),
            SentFrame::Metrics(report),
        );
    }
}

impl Emulator {
    /// A builder with the real server's defaults on a free loopback port.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port`, as the official SDKs' `server_address` takes it.
    pub fn server_address(&self) -> String {
        self.addr.to_string()
    }

    /// `http://host:port`, or `https://host:port` when serving TLS.
    pub fn http_url(&self) -> String {
        let scheme = if self.shared.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The token it accepts.
    pub fn token(&self) -> &ApiToken {
        &self.shared.token
    }

    /// The server release it behaves as.
    pub fn server_version(&self) -> ServerVersion {
        self.shared.config.version
    }

    // --- REST actions (the same code the HTTP routes run) ---

    /// Creates a room from a `POST /room` body (validated as the server does).
    pub fn create_room(
        &self,
        body: &serde_json::Value,
    ) -> Result<jellyfish_notifier::Room, ActionError> {
        self.shared.act(|w| w.create_room(body))
    }

    /// Deletes a room: `peer_deleted` for each peer, then `room_deleted`.
    pub fn delete_room(&self, room_id: &str) -> Result<(), ActionError> {
        self.shared.emit(|w| w.delete_room(room_id))
    }

    /// Adds a WebRTC peer: `peer_added` (v0.5).
    pub fn add_peer(&self, room_id: &str) -> Result<jellyfish_notifier::PeerDetails, ActionError> {
        let address = self.shared.server_address();
        self.shared
            .act(|w| w.add_peer(room_id, &serde_json::json!({"type": "webrtc"}), &address))
    }

    /// Deletes a peer: `track_removed` per track, then `peer_deleted` (v0.5).
    pub fn delete_peer(&self, room_id: &str, peer_id: &str) -> Result<(), ActionError> {
        self.shared.emit(|w| w.delete_peer(room_id, peer_id))
    }

    /// Every room, as `GET /room` shows them.
    pub fn rooms(&self) -> Vec<jellyfish_notifier::Room> {
        lock(&self.shared.world).rooms()
    }

    /// `POST /room/{id}/peer` with a peer type and options (agent and VAPI peers on Fishjam
    /// Cloud): `peer_added`.
    pub fn add_peer_with(
        &self,
        room_id: &str,
        options: &jellyfish_notifier::PeerOptions,
    ) -> Result<jellyfish_notifier::PeerDetails, ActionError> {
        let body = serde_json::to_value(options).unwrap_or(serde_json::Value::Null);
        let address = self.shared.server_address();
        self.shared.act(|w| w.add_peer(room_id, &body, &address))
    }

    // --- the simulated media side ---

    /// Fishjam Cloud: a streamer connects to (or leaves) the room's livestream:
    /// `streamer_connected` (or `streamer_disconnected`).
    pub fn streamer(
        &self,
        room_id: &str,
        streamer_id: &str,
        connected: bool,
    ) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.streamer(room_id, streamer_id, connected))
    }

    /// Fishjam Cloud: a viewer joins (or leaves) the room's livestream: `viewer_connected` (or
    /// `viewer_disconnected`).
    pub fn viewer(
        &self,
        room_id: &str,
        viewer_id: &str,
        connected: bool,
    ) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.viewer(room_id, viewer_id, connected))
    }

    /// Fishjam Cloud: a connected peer opens (or closes) a data channel: `channel_added` (or
    /// `channel_removed`).
    pub fn channel(
        &self,
        room_id: &str,
        peer_id: &str,
        channel_id: &str,
        added: bool,
    ) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.channel(room_id, peer_id, channel_id, added))
    }

    /// Fishjam Cloud: voice activity on a peer's track: `vad_notification`.
    pub fn voice_activity(
        &self,
        room_id: &str,
        peer_id: &str,
        track_id: &str,
        status: jellyfish_notifier::VadStatus,
    ) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.voice_activity(room_id, peer_id, track_id, status))
    }

    /// Fishjam Cloud `POST /room/{id}/track_forwardings`: one `track_forwarding` per connected
    /// peer; a peer leaving later sends `track_forwarding_removed`.
    pub fn forward_tracks(&self, room_id: &str, composition_url: &str) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.forward_tracks(room_id, composition_url))
    }

    /// Fishjam Cloud `POST /recordings`: `recording_status_changed` (active). Returns the
    /// recording's id.
    pub fn start_recording(&self, composition_url: &str) -> Result<String, ActionError> {
        let body = serde_json::json!({"source": {"compositionURL": composition_url, "outputId": "output"}});
        let recording = self.shared.act(|w| w.create_recording(&body))?;
        Ok(recording["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Fishjam Cloud `POST /recordings/{id}/stop`: `recording_status_changed` finished, then
    /// available.
    pub fn stop_recording(&self, recording_id: &str) -> Result<(), ActionError> {
        self.shared
            .act(|w| w.stop_recording(recording_id))
            .map(drop)
    }

    /// The peer's client connects: `peer_connected`.
    pub fn connect_peer(&self, room_id: &str, peer_id: &str) -> Result<(), ActionError> {
        self.shared.emit(|w| w.connect_peer(room_id, peer_id))
    }

    /// The peer's client leaves: `peer_disconnected`, then `track_removed` per track.
    pub fn disconnect_peer(&self, room_id: &str, peer_id: &str) -> Result<(), ActionError> {
        self.shared.emit(|w| w.disconnect_peer(room_id, peer_id))
    }

    /// The peer crashes: `track_removed` per track, then `peer_crashed` with the reason (v0.5).
    pub fn crash_peer(
        &self,
        room_id: &str,
        peer_id: &str,
        reason: &str,
    ) -> Result<(), ActionError> {
        self.shared.emit(|w| w.crash_peer(room_id, peer_id, reason))
    }

    /// The peer sets metadata: `peer_metadata_updated` (v0.4+).
    pub fn update_peer_metadata(
        &self,
        room_id: &str,
        peer_id: &str,
        metadata: serde_json::Value,
    ) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.update_peer_metadata(room_id, peer_id, metadata))
    }

    /// A connected peer or a component publishes a track: `track_added` (v0.4+). Returns its id.
    pub fn add_track(
        &self,
        room_id: &str,
        owner: &TrackOwner,
        track_type: TrackType,
        metadata: serde_json::Value,
    ) -> Result<String, ActionError> {
        self.shared
            .act(|w| w.add_track(room_id, owner, track_type, metadata))
    }

    /// The owner unpublishes a track: `track_removed` (v0.4+).
    pub fn remove_track(
        &self,
        room_id: &str,
        owner: &TrackOwner,
        track_id: &str,
    ) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.remove_track(room_id, owner, track_id))
    }

    /// The owner changes a track's metadata: `track_metadata_updated` (v0.4+).
    pub fn update_track_metadata(
        &self,
        room_id: &str,
        owner: &TrackOwner,
        track_id: &str,
        metadata: serde_json::Value,
    ) -> Result<(), ActionError> {
        self.shared.act(|w| {
            Ok((
                (),
                w.update_track_metadata(room_id, owner, track_id, metadata)?,
            ))
        })
    }

    /// Adds a component (`hls`, `rtsp`, `file`, `sip`, `recording`); the server notifies nothing.
    pub fn add_component(
        &self,
        room_id: &str,
        component_type: &str,
    ) -> Result<String, ActionError> {
        self.shared
            .act(|w| Ok((w.add_component(room_id, component_type)?, Vec::new())))
    }

    /// The component crashes: `component_crashed`.
    pub fn crash_component(&self, room_id: &str, component_id: &str) -> Result<(), ActionError> {
        self.shared
            .emit(|w| w.crash_component(room_id, component_id))
    }

    /// An HLS event: `hls_playable`, `hls_uploaded` or `hls_upload_crashed`.
    pub fn hls_event(&self, room_id: &str, event: HlsEvent) -> Result<(), ActionError> {
        self.shared.emit(|w| w.hls_event(room_id, &event))
    }

    /// The room crashes: `room_crashed`; the room and its webhook URL are gone.
    pub fn crash_room(&self, room_id: &str) -> Result<(), ActionError> {
        self.shared.emit(|w| w.crash_room(room_id))
    }

    /// Sends a notification as-is to every socket subscribed to notifications (no room state
    /// changes, no webhook). For scenarios and benchmarks.
    pub fn push_notification(&self, notification: &Notification) {
        self.shared.push_notification(notification);
    }

    /// Sends a metrics report as-is to every socket subscribed to metrics (instead of waiting for
    /// the next one built from the rooms). For tests of large reports.
    pub fn push_metrics(&self, report: &MetricsReport) {
        self.shared.broadcast(
            |s| s.metrics,
            Bytes::from(report.encode()),
            SentFrame::Metrics(report.clone()),
        );
    }

    // --- fault injection ---

    /// Drops every server WebSocket abruptly: no close frame. Returns how many there were.
    pub fn drop_connections(&self) -> usize {
        self.shared.drop_connections()
    }

    /// Closes every server WebSocket with a code and reason. Returns how many there were.
    pub fn close_connections(&self, code: u16, reason: &str) -> usize {
        self.shared.close_connections(code, reason)
    }

    /// Sends bytes that are not a `ServerMessage` to every authenticated socket.
    pub fn send_malformed(&self) {
        self.shared.send_malformed();
    }

    /// Sends a content member this protocol does not have (`field` > 34) to every socket subscribed
    /// to notifications.
    pub fn send_unknown_member(&self, field: u32) {
        self.shared.push_notification(&Notification::from(
            jellyfish_notifier::UnknownNotification::field(field),
        ));
    }

    /// Delays every frame written from now on by `delay` (zero turns it off).
    pub fn set_frame_delay(&self, delay: Duration) {
        self.shared.set_frame_delay(delay);
    }

    /// Stops listening (dropping every connection), waits `down_for`, and listens again on the same
    /// port with the same rooms. Returns once it is listening again.
    pub async fn restart(&self, down_for: Duration) -> io::Result<()> {
        let running = lock(&self.server).take();
        if let Some(running) = running {
            running.stop().await;
        }
        tokio::time::sleep(down_for).await;
        let mut last_error = None;
        // The old listener's port is normally free at once; retry briefly in case it is not.
        for _ in 0..50 {
            match http::serve(Arc::clone(&self.shared), self.addr) {
                Ok(server) => {
                    *lock(&self.server) = Some(server);
                    return Ok(());
                }
                Err(err) => {
                    last_error = Some(err);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("could not listen again")))
    }

    // --- the record ---

    /// What was written to every server WebSocket so far, by connection, in accept order.
    pub fn connection_records(&self) -> Vec<ConnectionRecord> {
        lock(&self.shared.records).values().cloned().collect()
    }

    /// Every webhook POST so far, in the order they were sent.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.shared.webhook_records).clone()
    }

    /// Forgets the records (for long runs).
    pub fn clear_records(&self) {
        lock(&self.shared.records).retain(|_, r| !r.ended);
        for record in lock(&self.shared.records).values_mut() {
            record.sent.clear();
        }
        lock(&self.shared.webhook_records).clear();
    }

    /// How many sockets are open, and how many of them are authenticated and subscribed to
    /// notifications and to metrics.
    pub fn socket_counts(&self) -> SocketCounts {
        let sockets = lock(&self.shared.sockets);
        let open = sockets.open.values();
        SocketCounts {
            open: sockets.open.len(),
            authenticated: open.clone().filter(|s| s.authenticated).count(),
            notifications: open.clone().filter(|s| s.notifications).count(),
            metrics: open.filter(|s| s.metrics).count(),
            notification_subscriptions: sockets.notification_subscriptions,
        }
    }

    /// Waits until `condition` holds for the socket counts or the records, or `timeout` passes.
    /// Returns whether it held. Tests use this instead of sleeping.
    pub async fn wait_until(&self, timeout: Duration, condition: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if condition(self) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Wake on any change, and re-check now and then for state that does not notify.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await;
        }
    }
}

impl Shared {
    /// The longest queue of unwritten frames among sockets subscribed to notifications.
    fn deepest_queue(&self) -> usize {
        lock(&self.sockets)
            .open
            .values()
            .filter(|s| s.notifications)
            .map(|s| s.queued.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
}

/// A snapshot of the server WebSockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketCounts {
    /// Open sockets.
    pub open: usize,
    /// Authenticated sockets.
    pub authenticated: usize,
    /// Sockets subscribed to notifications.
    pub notifications: usize,
    /// Sockets subscribed to metrics.
    pub metrics: usize,
    /// Subscriptions to notifications made since the emulator started, closed sockets included.
    /// It only grows, so a test that reads it before starting a client can wait for that client's
    /// own subscription: `notifications` alone may still count a killed client's socket that the
    /// emulator has not yet seen close.
    pub notification_subscriptions: u64,
}
