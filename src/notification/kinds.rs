//! **The one table of notification kinds.** Every kind is written here once (its protobuf field
//! number, its member name, the server release that introduced it, its payload fields) and
//! everything else derives from this table: the payload structs, [`Notification`], its `From` impls,
//! `kind()`, `field_number()`, `room_id()`, the borrowed [`NotificationRef`] view, the codec's arms in
//! both directions (`crate::codec`), and the samples of [`crate::testing`].
//!
//! Adding a kind means adding a row here (and the member to `proto/`), nothing else.
//!
//! A row reads:
//!
//! ```text
//! /// docs
//! FIELD "member_name" Variant since Release [endpoint proto_module]
//!     { positional fields (the constructor's arguments) }
//!     [ other fields (their defaults in the constructor) ];
//! ```
//!
//! `endpoint proto_module` marks the kinds whose proto message has the `endpoint_info` oneof (a peer
//! or a component): their payload gets an `endpoint: Option<Endpoint>` after the first field.

/// Calls `$callback! { rows }` with the table. Each consumer defines a `macro_rules!` matching the
/// row grammar above and takes what it needs.
macro_rules! with_kinds {
    ($callback:ident) => {
        $callback! {
            /// A room crashed.
            1 "room_crashed" RoomCrashed since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
            } [];
            /// A peer's socket authenticated.
            2 "peer_connected" PeerConnected since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
            } [
                /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
                peer_type: PeerType,
            ];
            /// A peer disconnected.
            3 "peer_disconnected" PeerDisconnected since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
            } [
                /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
                peer_type: PeerType,
            ];
            /// A peer crashed.
            4 "peer_crashed" PeerCrashed since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
                /// Free text from the server (v0.5+; empty before).
                reason: Arc<str>,
            } [
                /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
                peer_type: PeerType,
            ];
            /// A component crashed.
            5 "component_crashed" ComponentCrashed since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
                /// The component.
                component_id: ComponentId,
            } [];
            /// A room was created.
            10 "room_created" RoomCreated since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
            } [];
            /// A room was deleted.
            11 "room_deleted" RoomDeleted since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
            } [];
            /// An HLS stream became playable.
            13 "hls_playable" HlsPlayable since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
                /// The HLS component.
                component_id: ComponentId,
            } [];
            /// An HLS recording was uploaded to S3.
            14 "hls_uploaded" HlsUploaded since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
            } [];
            /// Uploading an HLS recording to S3 failed.
            15 "hls_upload_crashed" HlsUploadCrashed since Jellyfish0_3 {
                /// The room.
                room_id: RoomId,
            } [];
            /// A peer updated its metadata.
            16 "peer_metadata_updated" PeerMetadataUpdated since Jellyfish0_4 {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
                /// The new metadata JSON text.
                metadata: Metadata,
            } [
                /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
                peer_type: PeerType,
            ];
            /// A peer or component added a track.
            17 "track_added" TrackAdded since Jellyfish0_4 endpoint track_added {
                /// The room.
                room_id: RoomId,
                /// The track.
                track: Track,
            } [];
            /// A track was removed.
            18 "track_removed" TrackRemoved since Jellyfish0_4 endpoint track_removed {
                /// The room.
                room_id: RoomId,
                /// The track.
                track: Track,
            } [];
            /// A track's metadata was updated.
            19 "track_metadata_updated" TrackMetadataUpdated since Jellyfish0_4 endpoint track_metadata_updated {
                /// The room.
                room_id: RoomId,
                /// The track, with its new metadata.
                track: Track,
            } [];
            /// A peer was added through the REST API.
            20 "peer_added" PeerAdded since Jellyfish0_5 {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
            } [
                /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
                peer_type: PeerType,
            ];
            /// A peer was removed.
            21 "peer_deleted" PeerDeleted since Jellyfish0_5 {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
            } [
                /// Fishjam Cloud's peer kind; `Unspecified` from Jellyfish servers.
                peer_type: PeerType,
            ];
            /// A streamer connected to a livestream (deprecated in Cloud).
            22 "stream_connected" StreamConnected since FishjamCloud {
                /// The stream.
                stream_id: StreamId,
            } [];
            /// A streamer disconnected (deprecated in Cloud).
            23 "stream_disconnected" StreamDisconnected since FishjamCloud {
                /// The stream.
                stream_id: StreamId,
            } [];
            /// A viewer connected to a livestream.
            24 "viewer_connected" ViewerConnected since FishjamCloud {
                /// The stream.
                stream_id: StreamId,
                /// The viewer.
                viewer_id: ViewerId,
            } [];
            /// A viewer disconnected.
            25 "viewer_disconnected" ViewerDisconnected since FishjamCloud {
                /// The stream.
                stream_id: StreamId,
                /// The viewer.
                viewer_id: ViewerId,
            } [];
            /// A streamer connected.
            26 "streamer_connected" StreamerConnected since FishjamCloud {
                /// The stream.
                stream_id: StreamId,
                /// The streamer.
                streamer_id: StreamerId,
            } [];
            /// A streamer disconnected.
            27 "streamer_disconnected" StreamerDisconnected since FishjamCloud {
                /// The stream.
                stream_id: StreamId,
                /// The streamer.
                streamer_id: StreamerId,
            } [];
            /// A peer created a data channel.
            28 "channel_added" ChannelAdded since FishjamCloud endpoint channel_added {
                /// The room.
                room_id: RoomId,
                /// The channel.
                channel_id: ChannelId,
            } [];
            /// A peer deleted a data channel.
            29 "channel_removed" ChannelRemoved since FishjamCloud endpoint channel_removed {
                /// The room.
                room_id: RoomId,
                /// The channel.
                channel_id: ChannelId,
            } [];
            /// A peer's tracks are forwarded to a composition.
            30 "track_forwarding" TrackForwarding since FishjamCloud {
                /// The room.
                room_id: RoomId,
                /// The peer whose tracks are forwarded.
                peer_id: PeerId,
                /// The composition's URL.
                composition_url: Arc<str>,
                /// The composition input.
                input_id: InputId,
            } [
                /// The forwarded audio track, if any.
                audio_track: Option<Track>,
                /// The forwarded video track, if any.
                video_track: Option<Track>,
            ];
            /// A track forwarding to a composition was removed.
            31 "track_forwarding_removed" TrackForwardingRemoved since FishjamCloud {
                /// The room.
                room_id: RoomId,
                /// The peer whose tracks were forwarded.
                peer_id: PeerId,
                /// The composition's URL.
                composition_url: Arc<str>,
                /// The composition input.
                input_id: InputId,
            } [];
            /// Voice activity changed on a track.
            32 "vad_notification" VadNotification since FishjamCloud {
                /// The room.
                room_id: RoomId,
                /// The peer.
                peer_id: PeerId,
                /// The audio track.
                track_id: TrackId,
            } [
                /// Speech or silence.
                status: VadStatus,
            ];
            /// A recording changed state.
            34 "recording_status_changed" RecordingStatusChanged since FishjamCloud {
                /// The recording.
                recording_id: RecordingId,
            } [
                /// Its new state.
                status: RecordingStatus,
                /// Metadata JSON text.
                metadata: Metadata,
            ];
        }
    };
}
pub(crate) use with_kinds;
