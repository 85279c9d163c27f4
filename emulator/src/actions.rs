//! The [`Emulator`]'s actions: the REST API's (the same code the HTTP routes run) and the simulated
//! media side's, each sending the notifications the real server sends.

use bytes::Bytes;

use jellyfish_notifier::notification::TrackType;
use jellyfish_notifier::{MetricsReport, Notification};

use crate::emulator::Emulator;
use crate::error::ActionError;
use crate::record::SentFrame;
use crate::shared::lock;
use crate::world::{HlsEvent, TrackOwner};

impl Emulator {
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
    pub fn add_peer(
        &self,
        room_id: &str,
    ) -> Result<jellyfish_notifier::rooms::PeerDetails, ActionError> {
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
        options: &jellyfish_notifier::rooms::PeerOptions,
    ) -> Result<jellyfish_notifier::rooms::PeerDetails, ActionError> {
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
        status: jellyfish_notifier::notification::VadStatus,
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
}
