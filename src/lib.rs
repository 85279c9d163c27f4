#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod address;
mod codec;
mod control;
pub mod forward;
#[cfg(feature = "nats")]
pub mod nats;
mod notification;
mod notifier;
pub mod retry;
mod room_api;
mod rooms;
mod rooms_view;
mod serde_util;
mod signature;
#[cfg(feature = "rustls")]
mod tls;
mod webhook;

pub mod testing;

/// The raw prost types generated from `proto/server_notifications.proto`, the superset schema of
/// every server version. Most users want the typed [`Notification`] instead; these are here for
/// tools that must see the wire messages as they are.
#[allow(missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/jellyfish.rs"));
}

pub use address::{AddressError, AddressProblem, SERVER_WEBSOCKET_PATH};
pub use codec::{
    DecodeError, DecodedMessage, EncodeError, JsonWebhook, decode_server_message, encode_batch,
    receive_binary, receive_json, receive_json_body,
};
pub use control::{ApiToken, ControlMessage, EventType};
pub use forward::{
    BodyFormat, Drain, DrainOutcome, ForwardEvent, ForwarderStats, GetForwarderStats,
    IDEMPOTENCY_HEADER, WebhookAnswer, WebhookForwarder, WebhookForwarderBuilder, WebhookRequest,
};
pub use notification::{
    ChannelAdded, ChannelId, ChannelRemoved, ComponentCrashed, ComponentId, Endpoint, HlsPlayable,
    HlsUploadCrashed, HlsUploaded, InputId, Kind, Metadata, MetricsReport, Notification,
    NotificationRef, ParseNameError, PeerAdded, PeerConnected, PeerCrashed, PeerDeleted,
    PeerDisconnected, PeerId, PeerMetadataUpdated, PeerType, RecordingId, RecordingStatus,
    RecordingStatusChanged, RoomCrashed, RoomCreated, RoomDeleted, RoomId, ServerRelease,
    StreamConnected, StreamDisconnected, StreamId, StreamerConnected, StreamerDisconnected,
    StreamerId, Track, TrackAdded, TrackForwarding, TrackForwardingRemoved, TrackId,
    TrackMetadataUpdated, TrackRemoved, TrackType, UnknownNotification, VadNotification, VadStatus,
    ViewerConnected, ViewerDisconnected, ViewerId,
};
pub use notifier::{
    ConnectionEvent, ConnectionState, Delivery, DeliveryPolicy, DisconnectReason, FanOut, GetStats,
    Lagged, MessageStream, MetricsStream, NotificationStream, NotifierError, NotifierStats,
    Shutdown, StreamMetrics, StreamNotifications, SubscribeConnectionEvents, SubscribeMetrics,
    SubscribeServerNotifications, Subscription, SubscriptionId, Unsubscribe, WaitReady, WsNotifier,
    WsNotifierBuilder, server_websocket_url,
};
pub use room_api::{RoomApi, RoomApiBuilder, RoomApiError};
pub use rooms::{
    AgentOptions, AgentOutput, Component, CompositionInfo, CreatedRoom, DataResponse,
    ErrorResponse, Peer, PeerDetails, PeerOptions, PeerStatus, Room, RoomConfig, RoomType,
    SubscribeMode, Subscriptions, TrackForwardingInfo, TrackInfo, VapiOptions, VideoCodec,
    WebRtcOptions,
};
pub use rooms_view::{
    GetRoom, GetRooms, GetViewStats, Resync, RoomChange, RoomsModel, RoomsView, RoomsViewBuilder,
    RoomsViewStats, SubscribeRoomChanges, SyncReason, SyncReport, SyncScope, WaitSynced,
};
pub use signature::{SIGNATURE_HEADER, sign_webhook, verify_webhook_signature};
pub use webhook::{Webhook, WebhookConfig, WebhookError};
