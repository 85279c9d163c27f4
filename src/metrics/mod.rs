//! Prometheus metrics for every component (feature `metrics`), on the registry of your choice.
//!
//! One call per component registers its metrics in a [`Registry`](prometheus_client::registry::Registry) and answers a handle; give the
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
//! | `jellyfish_notifier_disconnects_total` | counter | `reason` | connections lost or attempts failed, by [`DisconnectReason`](crate::DisconnectReason) (`refused`, `dropped`, `closed`, `idle_timeout`, …) |
//! | `jellyfish_notifier_gap_seconds` | histogram | | time without a connection, one observation per gap |
//! | `jellyfish_notifier_dropped_total` | counter | | notifications a slow subscriber lost |
//! | `jellyfish_forward_delivered_total` | counter | | notifications the target answered 2xx |
//! | `jellyfish_forward_retries_total` | counter | | POSTs that failed and were retried |
//! | `jellyfish_forward_rejected_total` | counter | | notifications the target refused for good (a final 4xx) |
//! | `jellyfish_forward_lost_total` | counter | `reason` | notifications dropped (`queue_full`, `spool_full`, `spool_write`, `spool_corrupt`, `spool_gone`, `encode`, `gave_up`) |
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

pub(crate) mod families;

pub use prometheus_client;

// Each component's metrics live beside the component (`notifier::metrics`, …); here they are
// all found in one place, under the names they always had.
pub use crate::forward::metrics::ForwardMetrics;
#[cfg(feature = "nats")]
pub use crate::nats::bridge::metrics::BridgeMetrics;
pub use crate::notifier::metrics::NotifierMetrics;
pub use crate::rooms_view::metrics::RoomsViewMetrics;
pub use crate::webhook::metrics::WebhookMetrics;
