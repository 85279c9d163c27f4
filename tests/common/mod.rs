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
        Notification::from(RoomCrashed::new(a)),
        Notification::from(PeerConnected {
            peer_type,
            ..PeerConnected::new(a, b)
        }),
        Notification::from(PeerDisconnected {
            peer_type,
            ..PeerDisconnected::new(a, b)
        }),
        Notification::from(PeerCrashed {
            peer_type,
            ..PeerCrashed::new(a, b, d)
        }),
        Notification::from(ComponentCrashed::new(a, b)),
        Notification::from(RoomCreated::new(a)),
        Notification::from(RoomDeleted::new(a)),
        Notification::from(HlsPlayable::new(a, b)),
        Notification::from(HlsUploaded::new(a)),
        Notification::from(HlsUploadCrashed::new(a)),
        Notification::from(PeerMetadataUpdated {
            peer_type,
            ..PeerMetadataUpdated::new(a, b, d)
        }),
        Notification::from(TrackAdded::new(a, peer.clone(), track.clone())),
        Notification::from(TrackRemoved::new(a, component.clone(), track.clone())),
        Notification::from(TrackMetadataUpdated {
            endpoint: None,
            ..TrackMetadataUpdated::new(a, peer.clone(), track.clone())
        }),
        Notification::from(PeerAdded {
            peer_type,
            ..PeerAdded::new(a, b)
        }),
        Notification::from(PeerDeleted {
            peer_type,
            ..PeerDeleted::new(a, b)
        }),
        Notification::from(StreamConnected::new(a)),
        Notification::from(StreamDisconnected::new(a)),
        Notification::from(ViewerConnected::new(a, b)),
        Notification::from(ViewerDisconnected::new(a, b)),
        Notification::from(StreamerConnected::new(a, b)),
        Notification::from(StreamerDisconnected::new(a, b)),
        Notification::from(ChannelAdded::new(a, peer, c)),
        Notification::from(ChannelRemoved::new(a, component, c)),
        Notification::from(TrackForwarding {
            room_id: a.into(),
            peer_id: b.into(),
            composition_url: c.into(),
            input_id: d.into(),
            audio_track: Some(track.clone()),
            video_track: None,
        }),
        Notification::from(TrackForwardingRemoved::new(a, b, c, d)),
        Notification::from(VadNotification {
            status: VadStatus::from_i32(number),
            ..VadNotification::new(a, b, c)
        }),
        Notification::from(RecordingStatusChanged {
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
