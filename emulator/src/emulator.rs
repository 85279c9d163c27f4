//! [`Emulator`]: a running emulated server, what it is, what it recorded, and how a test waits on
//! it. Its actions and faults are in `actions` and `faults`; it is built in `builder`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jellyfish_notifier::ApiToken;

use crate::http;
use crate::record::{ConnectionRecord, SocketCounts};
use crate::shared::{Shared, lock};
use crate::version::ServerVersion;
use crate::webhooks::WebhookDelivery;

/// A running emulated server. Dropping it stops the server.
///
/// Point your notifier (or your app) at [`Emulator::server_address`], act on it as a real server
/// and its peers would, and check what your code received against what it sent:
///
/// ```
/// use std::time::Duration;
/// use futures_util::StreamExt as _;
/// use jellyfish_emulator::{Emulator, TrackOwner};
/// use jellyfish_notifier::{StreamNotifications, WaitReady, WsNotifier};
/// use jellyfish_notifier::notification::TrackType;
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
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    pub(crate) server: Mutex<Option<http::Running>>,
    pub(crate) metrics: actix_web::rt::task::JoinHandle<()>,
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

impl Emulator {
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

impl Emulator {
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

    /// How many notifications of each kind the emulator has emitted since it started (each sent
    /// to every socket subscribed then).
    pub fn notifications_sent(&self) -> std::collections::BTreeMap<&'static str, u64> {
        lock(&self.shared.sent_by_kind).clone()
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
}
