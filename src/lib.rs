#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod address;
pub mod codec;
pub mod control;
pub mod forward;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "nats")]
pub mod nats;
pub mod notification;
pub mod notifier;
pub mod retry;
pub mod room_api;
pub mod rooms;
pub mod rooms_view;
mod serde_util;
mod server;
mod signature;
mod task;
#[cfg(feature = "rustls")]
mod tls;
mod transport;
pub mod webhook;

pub mod testing;

/// The raw prost types generated from `proto/server_notifications.proto`, the superset schema of
/// every server version. Most users want the typed [`Notification`] instead; these are here for
/// tools that must see the wire messages as they are.
#[allow(missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/jellyfish.rs"));
}

// The entry points a user starts from; everything else is one module down, in the module named
// for its concept.
pub use codec::{DecodeError, receive_binary, receive_json};
pub use control::ApiToken;
pub use forward::WebhookForwarder;
pub use notification::{MetricsReport, Notification, PeerId, RoomId, TrackId};
pub use notifier::{
    ConnectionEvent, ConnectionState, DisconnectReason, GetStats, Lagged, MetricsStream,
    NotificationStream, NotifierError, NotifierStats, Shutdown, StreamMetrics, StreamNotifications,
    SubscribeConnectionEvents, SubscribeMetrics, SubscribeServerNotifications, Subscription,
    Unsubscribe, WaitReady, WsNotifier, WsNotifierBuilder,
};
pub use room_api::{RoomApi, RoomApiError};
pub use rooms::Room;
pub use rooms_view::{GetRoom, GetRooms, RoomChange, RoomsModel, RoomsView, WaitSynced};
pub use server::Server;
pub use webhook::{Webhook, WebhookConfig, WebhookError};
