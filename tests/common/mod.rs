//! Shared test data: one notification of every kind, built from given texts.

#![allow(dead_code)]

use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;

/// One notification of every known kind (from the library's table of kinds) and an unknown
/// member, whose ids and texts are taken from `texts` and whose enum fields carry the wire value
/// `number`.
pub fn every_variant(texts: [&str; 4], number: i32) -> Vec<Notification> {
    let mut all = testing::every_kind(texts, number);
    all.push(Notification::from(UnknownNotification::field(
        35 + number.unsigned_abs() % 1000,
    )));
    all
}

/// Parses a hex string, ignoring spaces.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// A peer connects, sets `metadata`, adds a camera track and turns it into a screen share: one
/// notification of each of those kinds from the emulator. Answers the track's id.
pub fn peer_shares_its_screen(
    emulator: &jellyfish_emulator::Emulator,
    room: &str,
    peer: &str,
    metadata: serde_json::Value,
) -> String {
    emulator.connect_peer(room, peer).unwrap();
    emulator.update_peer_metadata(room, peer, metadata).unwrap();
    let owner = jellyfish_emulator::TrackOwner::Peer(peer.into());
    let track = emulator
        .add_track(
            room,
            &owner,
            TrackType::Video,
            serde_json::json!({"source": "camera"}),
        )
        .unwrap();
    emulator
        .update_track_metadata(
            room,
            &owner,
            &track,
            serde_json::json!({"source": "screen"}),
        )
        .unwrap();
    track
}

pub mod forwarding;
pub mod kept;
pub mod proxy;
pub mod raw_ws;
pub mod recorder;
pub mod target;
pub mod webhook_sink;
