//! The built-in scenarios, observed with a bare WebSocket client.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::raw_ws::{handshake, next_message};
use jellyfish_emulator::{Emulator, FirehoseConfig, LifecycleConfig};
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;

#[actix_web::test]
async fn the_lifecycle_scenario_plays_whole_room_lifecycles_in_order() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    let config = LifecycleConfig {
        rooms: 1,
        peers_per_room: 2,
        rate: 2000.0,
        ..LifecycleConfig::default()
    };
    let actions = emulator.run_lifecycle(&config).await.unwrap();
    assert_eq!(actions, 1 + 2 * 6 + 2 * 2 + 1);

    let per_peer = [
        "peer_added",
        "peer_connected",
        "track_added",
        "track_added",
        "peer_metadata_updated",
        "track_metadata_updated",
    ];
    let leave = [
        "peer_disconnected",
        "track_removed",
        "track_removed",
        "peer_deleted",
    ];
    let mut expected = vec!["room_created"];
    expected.extend(per_peer);
    expected.extend(per_peer);
    expected.extend(leave);
    expected.extend(leave);
    expected.push("room_deleted");
    let mut got = Vec::new();
    while got.len() < expected.len() {
        match next_message(&mut socket).await {
            Some(DecodedMessage::Notification(n)) => got.push(n.kind()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, expected);
    assert!(emulator.rooms().is_empty(), "every room was deleted");
}

#[actix_web::test]
async fn the_firehose_delivers_every_notification_in_sequence() {
    let emulator = Emulator::builder().record(false).start().await.unwrap();
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    let total = 5_000;
    let pushed = emulator
        .run_firehose(&FirehoseConfig {
            total: Some(total),
            high_water: 64,
        })
        .await;
    assert_eq!(pushed, total);
    for seq in 0..total {
        let Some(DecodedMessage::Notification(n)) = next_message(&mut socket).await else {
            panic!("ended at {seq}")
        };
        let room = n
            .room_id()
            .expect("firehose notifications name a room")
            .to_string();
        let got: u64 = room
            .trim_start_matches("fh")
            .split('@')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(got, seq);
        assert_eq!(
            n.kind(),
            jellyfish_emulator::firehose_notification(seq).kind(),
            "the generator's kind for {seq}"
        );
    }
    assert!(
        emulator.connection_records().is_empty(),
        "recording was off"
    );
}
