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

mod actions;
mod builder;
mod emulator;
mod error;
mod faults;
mod http;
mod metrics;
mod record;
mod scenario;
mod shared;
mod socket;
mod tls;
mod version;
mod webhooks;
mod world;

pub use builder::EmulatorBuilder;
pub use emulator::Emulator;
pub use error::ActionError;
pub use record::{ConnectionRecord, SentFrame, SocketCounts};
pub use scenario::{
    FirehoseConfig, LifecycleConfig, firehose_notification, firehose_notification_in, unix_nanos,
};
pub use version::{ParseVersionError, ServerVersion};
pub use webhooks::{WebhookDelivery, WebhookOutcome};
pub use world::{HlsEvent, TrackOwner};
