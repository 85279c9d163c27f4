//! Prometheus metrics for every component (feature `metrics`), on the registry of your choice.
//!
//! One call per component registers its metrics in a [`Registry`] and answers a handle; give the
//! handle to the component's builder (or, for webhooks, count with it in your route). Encode the
//! registry on your own `/metrics` with [`prometheus_client::encoding::text::encode`]. The crate
//! is the Prometheus project's own Rust client (OpenMetrics text, typed labels, no global state:
//! nothing is registered behind your back). Counting is an atomic add; the counters of every
//! known notification kind are made at registration, so the per-notification path takes no
//! lock.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use jellyfish_notifier::WsNotifier;
//! use jellyfish_notifier::metrics::NotifierMetrics;
//! use jellyfish_notifier::metrics::prometheus_client::{encoding::text::encode, registry::Registry};
//!
//! # #[actix_web::main] async fn main() {
//! let mut registry = Registry::default();
//! let metrics = NotifierMetrics::register(&mut registry);
//! let _notifier = WsNotifier::builder("localhost:5002", "development")
//!     .metrics(metrics)
//!     .start();
//! let registry = web::Data::new(registry);
//! let _app = App::new().app_data(registry).route(
//!     "/metrics",
//!     web::get().to(|registry: web::Data<Registry>| async move {
//!         let mut body = String::new();
//!         encode(&mut body, &registry).expect("a String takes any text");
//!         HttpResponse::Ok()
//!             .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
//!             .body(body)
//!     }),
//! );
//! # }
//! ```
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `jellyfish_notifier_notifications_total` | counter | `kind` | notifications received and delivered to subscribers, by kind (`tail --json`'s `type`) |
//! | `jellyfish_notifier_connected` | gauge | | 1 while connected and subscribed, else 0 |
//! | `jellyfish_notifier_connections_total` | counter | | connections that became ready |
//! | `jellyfish_notifier_disconnects_total` | counter | `reason` | connections lost or attempts failed, by [`DisconnectReason`] (`refused`, `dropped`, `closed`, `idle_timeout`, …) |
//! | `jellyfish_notifier_gap_seconds` | histogram | | time without a connection, one observation per gap |
//! | `jellyfish_notifier_dropped_total` | counter | | notifications a slow subscriber lost |
//! | `jellyfish_forward_delivered_total` | counter | | notifications the target answered 2xx |
//! | `jellyfish_forward_retries_total` | counter | | POSTs that failed and were retried |
//! | `jellyfish_forward_rejected_total` | counter | | notifications the target refused for good (a final 4xx) |
//! | `jellyfish_forward_lost_total` | counter | `reason` | notifications dropped (`queue_full`, `spool_full`, `spool_write`, `spool_corrupt`, `spool_gone`, `encode`) |
//! | `jellyfish_forward_queue_depth` | gauge | | notifications waiting to be delivered |
//! | `jellyfish_forward_spool_bytes` | gauge | | what the spool takes on disk, as `du` counts it |
//! | `jellyfish_forward_delivery_seconds` | histogram | | from receipt to the target's 2xx |
//! | `jellyfish_bridge_published_total` | counter | | notifications JetStream stored |
//! | `jellyfish_bridge_duplicates_total` | counter | | publishes JetStream acked as duplicates (another bridge stored them) |
//! | `jellyfish_bridge_pending` | gauge | | notifications waiting to be published |
//! | `jellyfish_bridge_publish_seconds` | histogram | | one publish, until JetStream's ack |
//! | `jellyfish_bridge_ready` | gauge | | 1 while connected to NATS with the stream present |
//! | `jellyfish_bridge_dropped_total` | counter | | notifications dropped because the queue was full |
//! | `jellyfish_bridge_stream_recreated_total` | counter | | times the stream was gone and was created again |
//! | `jellyfish_webhook_requests_total` | counter | `status` | webhook requests answered, by HTTP status |
//! | `jellyfish_webhook_notifications_total` | counter | `kind` | notifications received by webhook, by kind |
//! | `jellyfish_rooms_view_synced` | gauge | | 1 while the rooms view is a state the server had, else 0 |
//! | `jellyfish_rooms_view_rooms` | gauge | | rooms in the view |
//! | `jellyfish_rooms_view_peers` | gauge | | peers in the view |
//! | `jellyfish_rooms_view_resyncs_total` | counter | `reason` | resyncs over REST (`start`, `gap`, `lagged`, `periodic`, `incomplete`, `buffer_full`, `requested`) |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use prometheus_client;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::notification::Notification;
use crate::notifier::{ConnectionEvent, DisconnectReason};

/// A `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// A `status` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

/// A counter per notification kind, those of every known kind made up front (and shown as 0).
#[derive(Clone, Debug)]
struct ByKind {
    family: Family<KindLabel, Counter>,
    known: Arc<HashMap<&'static str, Counter>>,
}

impl ByKind {
    fn new() -> Self {
        let family = Family::<KindLabel, Counter>::default();
        let known = Notification::KINDS
            .iter()
            .map(|kind| kind.name)
            .chain(["unknown"])
            .map(|kind| (kind, family.get_or_create_owned(&KindLabel { kind })))
            .collect();
        Self {
            family,
            known: Arc::new(known),
        }
    }

    fn inc(&self, kind: &'static str) {
        match self.known.get(kind) {
            Some(counter) => {
                counter.inc();
            }
            None => {
                self.family.get_or_create(&KindLabel { kind }).inc();
            }
        }
    }

    fn get(&self, kind: &'static str) -> u64 {
        self.family.get_or_create(&KindLabel { kind }).get()
    }
}

/// Buckets from 1 ms to about 30 min (×4 each).
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 11))
}

/// A [`WsNotifier`](crate::WsNotifier)'s metrics: [`NotifierMetrics::register`], then
/// [`WsNotifierBuilder::metrics`](crate::WsNotifierBuilder::metrics).
#[derive(Clone, Debug)]
pub struct NotifierMetrics {
    notifications: ByKind,
    connected: Gauge,
    connections: Counter,
    disconnects: Family<ReasonLabel, Counter>,
    gap: Histogram,
    dropped: Counter,
}

impl NotifierMetrics {
    /// Registers the `jellyfish_notifier_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            notifications: ByKind::new(),
            connected: Gauge::default(),
            connections: Counter::default(),
            disconnects: Family::default(),
            gap: seconds_buckets(),
            dropped: Counter::default(),
        };
        registry.register(
            "jellyfish_notifier_notifications",
            "Notifications received and delivered to subscribers, by kind",
            metrics.notifications.family.clone(),
        );
        registry.register(
            "jellyfish_notifier_connected",
            "1 while connected and subscribed, else 0",
            metrics.connected.clone(),
        );
        registry.register(
            "jellyfish_notifier_connections",
            "Connections that became ready",
            metrics.connections.clone(),
        );
        registry.register(
            "jellyfish_notifier_disconnects",
            "Connections lost or attempts failed, by reason",
            metrics.disconnects.clone(),
        );
        registry.register_with_unit(
            "jellyfish_notifier_gap",
            "Time without a connection, one observation per gap",
            Unit::Seconds,
            metrics.gap.clone(),
        );
        registry.register(
            "jellyfish_notifier_dropped",
            "Notifications a slow subscriber lost",
            metrics.dropped.clone(),
        );
        metrics
    }

    /// Whether the notifier is connected and subscribed now.
    pub fn is_connected(&self) -> bool {
        self.connected.get() == 1
    }

    /// How many notifications of `kind` were received so far.
    pub fn notifications(&self, kind: &'static str) -> u64 {
        self.notifications.get(kind)
    }

    pub(crate) fn notification(&self, kind: &'static str) {
        self.notifications.inc(kind);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.inc();
    }

    pub(crate) fn event(&self, event: &ConnectionEvent) {
        match event {
            ConnectionEvent::Ready { gap } => {
                self.connected.set(1);
                self.connections.inc();
                if let Some(gap) = gap {
                    self.gap.observe(gap.as_secs_f64());
                }
            }
            ConnectionEvent::Disconnected { reason, .. } => {
                self.connected.set(0);
                let reason = reason_label(reason);
                self.disconnects
                    .get_or_create(&ReasonLabel { reason })
                    .inc();
            }
            ConnectionEvent::Failed { .. } => {
                self.connected.set(0);
            }
            _ => {}
        }
    }

    pub(crate) fn stopped(&self) {
        self.connected.set(0);
    }
}

fn reason_label(reason: &DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::Refused => "refused",
        DisconnectReason::ConnectFailed(_) => "connect_failed",
        DisconnectReason::ConnectTimeout(_) => "connect_timeout",
        DisconnectReason::UpgradeRefused { .. } => "upgrade_refused",
        DisconnectReason::AuthTimeout(_) => "auth_timeout",
        DisconnectReason::SubscribeTimeout(_) => "subscribe_timeout",
        DisconnectReason::Closed { .. } => "closed",
        DisconnectReason::Dropped => "dropped",
        DisconnectReason::IdleTimeout { .. } => "idle_timeout",
        DisconnectReason::Protocol(_) => "protocol",
    }
}

/// A [`WebhookForwarder`](crate::WebhookForwarder)'s metrics: [`ForwardMetrics::register`], then
/// [`WebhookForwarderBuilder::metrics`](crate::forward::WebhookForwarderBuilder::metrics).
#[derive(Clone, Debug)]
pub struct ForwardMetrics {
    delivered: Counter,
    retries: Counter,
    rejected: Counter,
    lost: Family<ReasonLabel, Counter>,
    queue_depth: Gauge,
    spool_bytes: Gauge,
    delivery: Histogram,
}

impl ForwardMetrics {
    /// Registers the `jellyfish_forward_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            delivered: Counter::default(),
            retries: Counter::default(),
            rejected: Counter::default(),
            lost: Family::default(),
            queue_depth: Gauge::default(),
            spool_bytes: Gauge::default(),
            delivery: seconds_buckets(),
        };
        registry.register(
            "jellyfish_forward_delivered",
            "Notifications the target answered 2xx",
            metrics.delivered.clone(),
        );
        registry.register(
            "jellyfish_forward_retries",
            "POSTs that failed and were retried",
            metrics.retries.clone(),
        );
        registry.register(
            "jellyfish_forward_rejected",
            "Notifications the target refused for good (a final 4xx)",
            metrics.rejected.clone(),
        );
        registry.register(
            "jellyfish_forward_lost",
            "Notifications dropped, by reason",
            metrics.lost.clone(),
        );
        registry.register(
            "jellyfish_forward_queue_depth",
            "Notifications waiting to be delivered",
            metrics.queue_depth.clone(),
        );
        registry.register_with_unit(
            "jellyfish_forward_spool",
            "What the spool takes on disk, as du counts it",
            Unit::Bytes,
            metrics.spool_bytes.clone(),
        );
        registry.register_with_unit(
            "jellyfish_forward_delivery",
            "From receipt to the target's 2xx",
            Unit::Seconds,
            metrics.delivery.clone(),
        );
        metrics
    }

    /// Notifications delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    pub(crate) fn on_delivered(&self, took: Duration) {
        self.delivered.inc();
        self.delivery.observe(took.as_secs_f64());
    }

    pub(crate) fn on_retry(&self) {
        self.retries.inc();
    }

    pub(crate) fn on_rejected(&self) {
        self.rejected.inc();
    }

    pub(crate) fn on_lost(&self, reason: &'static str) {
        self.lost.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub(crate) fn levels(&self, queued: usize, spool_bytes: u64) {
        self.queue_depth
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.spool_bytes
            .set(i64::try_from(spool_bytes).unwrap_or(i64::MAX));
    }
}

/// A [`JetStreamBridge`](crate::nats::JetStreamBridge)'s metrics: [`BridgeMetrics::register`], then
/// `JetStreamBridgeBuilder::metrics`.
#[derive(Clone, Debug)]
pub struct BridgeMetrics {
    published: Counter,
    duplicates: Counter,
    pending: Gauge,
    publish: Histogram,
    ready: Gauge,
    dropped: Counter,
    recreated: Counter,
}

impl BridgeMetrics {
    /// Registers the `jellyfish_bridge_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            published: Counter::default(),
            duplicates: Counter::default(),
            pending: Gauge::default(),
            publish: seconds_buckets(),
            ready: Gauge::default(),
            dropped: Counter::default(),
            recreated: Counter::default(),
        };
        registry.register(
            "jellyfish_bridge_published",
            "Notifications JetStream stored",
            metrics.published.clone(),
        );
        registry.register(
            "jellyfish_bridge_duplicates",
            "Publishes JetStream acked as duplicates (stored by another bridge or an earlier try)",
            metrics.duplicates.clone(),
        );
        registry.register(
            "jellyfish_bridge_pending",
            "Notifications waiting to be published",
            metrics.pending.clone(),
        );
        registry.register_with_unit(
            "jellyfish_bridge_publish",
            "One publish, until JetStream's ack",
            Unit::Seconds,
            metrics.publish.clone(),
        );
        registry.register(
            "jellyfish_bridge_ready",
            "1 while connected to NATS with the stream present, else 0",
            metrics.ready.clone(),
        );
        registry.register(
            "jellyfish_bridge_dropped",
            "Notifications dropped because the queue was full",
            metrics.dropped.clone(),
        );
        registry.register(
            "jellyfish_bridge_stream_recreated",
            "Times the stream was gone and was created again",
            metrics.recreated.clone(),
        );
        metrics
    }

    /// Whether the bridge is connected to NATS with its stream present.
    pub fn is_ready(&self) -> bool {
        self.ready.get() == 1
    }

    /// Notifications stored so far.
    pub fn published(&self) -> u64 {
        self.published.get()
    }

    pub(crate) fn on_ack(&self, duplicate: bool, took: Duration) {
        if duplicate {
            self.duplicates.inc();
        } else {
            self.published.inc();
        }
        self.publish.observe(took.as_secs_f64());
    }

    pub(crate) fn on_dropped(&self) {
        self.dropped.inc();
    }

    pub(crate) fn on_recreated(&self) {
        self.recreated.inc();
    }

    pub(crate) fn levels(&self, pending: usize, ready: bool) {
        self.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.ready.set(i64::from(ready));
    }
}

/// Webhook metrics, for an actix-web route that receives webhooks: [`WebhookMetrics::register`],
/// then [`WebhookConfig::metrics`](crate::WebhookConfig::metrics) (the extractor counts the
/// notifications by kind and the requests it refuses), and [`WebhookMetrics::answered`] for the
/// answers your route gives.
#[derive(Clone, Debug)]
pub struct WebhookMetrics {
    requests: Family<StatusLabel, Counter>,
    notifications: ByKind,
}

impl WebhookMetrics {
    /// Registers the `jellyfish_webhook_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            notifications: ByKind::new(),
        };
        registry.register(
            "jellyfish_webhook_requests",
            "Webhook requests answered, by HTTP status",
            metrics.requests.clone(),
        );
        registry.register(
            "jellyfish_webhook_notifications",
            "Notifications received by webhook, by kind",
            metrics.notifications.family.clone(),
        );
        metrics
    }

    /// Counts a request answered with `status`.
    pub fn answered(&self, status: u16) {
        self.requests.get_or_create(&StatusLabel { status }).inc();
    }

    /// How many notifications of `kind` were received so far.
    pub fn notifications(&self, kind: &'static str) -> u64 {
        self.notifications.get(kind)
    }

    pub(crate) fn received(&self, notifications: &[Notification]) {
        for notification in notifications {
            self.notifications.inc(notification.kind());
        }
    }
}

/// A [`RoomsView`](crate::RoomsView)'s metrics: [`RoomsViewMetrics::register`], then
/// [`RoomsViewBuilder::metrics`](crate::rooms_view::RoomsViewBuilder::metrics).
#[derive(Clone, Debug)]
pub struct RoomsViewMetrics {
    synced: Gauge,
    rooms: Gauge,
    peers: Gauge,
    resyncs: Family<ReasonLabel, Counter>,
}

impl RoomsViewMetrics {
    /// Registers the `jellyfish_rooms_view_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            synced: Gauge::default(),
            rooms: Gauge::default(),
            peers: Gauge::default(),
            resyncs: Family::default(),
        };
        registry.register(
            "jellyfish_rooms_view_synced",
            "1 while the rooms view is a state the server had, else 0",
            metrics.synced.clone(),
        );
        registry.register(
            "jellyfish_rooms_view_rooms",
            "Rooms in the view",
            metrics.rooms.clone(),
        );
        registry.register(
            "jellyfish_rooms_view_peers",
            "Peers in the view",
            metrics.peers.clone(),
        );
        registry.register(
            "jellyfish_rooms_view_resyncs",
            "Resyncs over REST, by reason",
            metrics.resyncs.clone(),
        );
        metrics
    }

    /// Whether the view is in sync now.
    pub fn is_synced(&self) -> bool {
        self.synced.get() == 1
    }

    pub(crate) fn on_resync(&self, reason: &'static str) {
        self.resyncs.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub(crate) fn levels(&self, synced: bool, rooms: usize, peers: usize) {
        self.synced.set(i64::from(synced));
        self.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
        self.peers.set(i64::try_from(peers).unwrap_or(i64::MAX));
    }
}
