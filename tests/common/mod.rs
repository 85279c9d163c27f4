//! Shared test data: one notification of every kind, built from given texts.

#![allow(dead_code)]

use jellyfish_notifier::*;

/// One notification of every known kind (and an unknown member), whose ids and texts are taken from
/// `texts` and whose enum fields carry the wire value `number`.
pub fn every_variant(texts: [&str; 4], number: i32) -> Vec<Notification> {
    let [a, b, c, d] = texts;
    let track = Track::new(c, TrackType::from_i32(number), d);
    let peer = Endpoint::Peer(PeerId::new(b));
    let component = Endpoint::Component(ComponentId::new(b));
    let peer_type = PeerType::from_i32(number);
    vec![
        Notification::RoomCrashed(RoomCrashed::new(a)),
        Notification::PeerConnected(PeerConnected {
            peer_type,
            ..PeerConnected::new(a, b)
        }),
        Notification::PeerDisconnected(PeerDisconnected {
            peer_type,
            ..PeerDisconnected::new(a, b)
        }),
        Notification::PeerCrashed(PeerCrashed {
            peer_type,
            ..PeerCrashed::new(a, b, d)
        }),
        Notification::ComponentCrashed(ComponentCrashed::new(a, b)),
        Notification::RoomCreated(RoomCreated::new(a)),
        Notification::RoomDeleted(RoomDeleted::new(a)),
        Notification::HlsPlayable(HlsPlayable::new(a, b)),
        Notification::HlsUploaded(HlsUploaded::new(a)),
        Notification::HlsUploadCrashed(HlsUploadCrashed::new(a)),
        Notification::PeerMetadataUpdated(PeerMetadataUpdated {
            peer_type,
            ..PeerMetadataUpdated::new(a, b, d)
        }),
        Notification::TrackAdded(TrackAdded::new(a, peer.clone(), track.clone())),
        Notification::TrackRemoved(TrackRemoved::new(a, component.clone(), track.clone())),
        Notification::TrackMetadataUpdated(TrackMetadataUpdated {
            endpoint: None,
            ..TrackMetadataUpdated::new(a, peer.clone(), track.clone())
        }),
        Notification::PeerAdded(PeerAdded {
            peer_type,
            ..PeerAdded::new(a, b)
        }),
        Notification::PeerDeleted(PeerDeleted {
            peer_type,
            ..PeerDeleted::new(a, b)
        }),
        Notification::StreamConnected(StreamConnected::new(a)),
        Notification::StreamDisconnected(StreamDisconnected::new(a)),
        Notification::ViewerConnected(ViewerConnected::new(a, b)),
        Notification::ViewerDisconnected(ViewerDisconnected::new(a, b)),
        Notification::StreamerConnected(StreamerConnected::new(a, b)),
        Notification::StreamerDisconnected(StreamerDisconnected::new(a, b)),
        Notification::ChannelAdded(ChannelAdded::new(a, peer, c)),
        Notification::ChannelRemoved(ChannelRemoved::new(a, component, c)),
        Notification::TrackForwarding(TrackForwarding {
            room_id: a.into(),
            peer_id: b.into(),
            composition_url: c.into(),
            input_id: d.into(),
            audio_track: Some(track.clone()),
            video_track: None,
        }),
        Notification::TrackForwardingRemoved(TrackForwardingRemoved::new(a, b, c, d)),
        Notification::VadNotification(VadNotification {
            status: VadStatus::from_i32(number),
            ..VadNotification::new(a, b, c)
        }),
        Notification::RecordingStatusChanged(RecordingStatusChanged {
            status: RecordingStatus::from_i32(number),
            metadata: d.into(),
            ..RecordingStatusChanged::new(a)
        }),
        Notification::Unknown {
            field: 35 + number.unsigned_abs() % 1000,
        },
    ]
}

/// Parses a hex string, ignoring spaces.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

pub mod raw_ws;
pub mod recorder;
pub mod webhook_sink;
