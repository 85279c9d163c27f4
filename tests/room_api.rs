//! The Room API client against the emulator: every call, and the 401 / 404 / 400 / 503 errors with
//! the server's own messages.

use jellyfish_emulator::Emulator;
use jellyfish_notifier::*;

#[actix_web::test]
async fn every_call_works_against_the_emulator() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = RoomApi::new(&emulator.server_address(), "development", false).unwrap();
    let config = RoomConfig {
        room_id: Some("api".into()),
        max_peers: Some(3),
        video_codec: Some(VideoCodec::Vp8),
        webhook_url: Some("http://127.0.0.1:1/webhook".into()),
        peerless_purge_timeout: Some(60),
        peer_disconnected_timeout: Some(30),
    };
    let created = api.create_room(&config).await.unwrap();
    assert_eq!(created.jellyfish_address, emulator.server_address());
    assert_eq!(created.room.id, "api");
    assert_eq!(
        created.room.config, config,
        "the server echoes the configuration"
    );

    let peer = api.add_peer("api").await.unwrap();
    assert_eq!(peer.peer.status, PeerStatus::Disconnected);
    assert_eq!(peer.peer.peer_type, "webrtc");
    assert!(!peer.token.is_empty());

    let room = api.get_room("api").await.unwrap();
    assert_eq!(room.peers.len(), 1);
    assert_eq!(api.list_rooms().await.unwrap().len(), 1);
    api.delete_peer("api", &peer.peer.id).await.unwrap();
    assert!(api.get_room("api").await.unwrap().peers.is_empty());
    api.delete_room("api").await.unwrap();
    assert!(api.list_rooms().await.unwrap().is_empty());

    let generated = api.create_room(&RoomConfig::default()).await.unwrap();
    assert_eq!(
        generated.room.id.len(),
        36,
        "a UUID when no roomId is given"
    );
}

#[actix_web::test]
async fn errors_carry_the_status_and_the_servers_message() {
    let emulator = Emulator::builder().start().await.unwrap();
    let wrong = RoomApi::new(&emulator.server_address(), "wrong", false).unwrap();
    assert_eq!(
        wrong.list_rooms().await.unwrap_err(),
        RoomApiError::Status {
            status: 401,
            message: "Invalid token".into()
        }
    );

    let api = RoomApi::new(
        &format!("http://{}", emulator.server_address()),
        "development",
        false,
    )
    .unwrap();
    let err = api.get_room("nope").await.unwrap_err();
    assert_eq!(
        (err.status(), err.to_string()),
        (
            Some(404),
            "the server answered 404: Room nope does not exist".into()
        )
    );
    assert_eq!(
        api.delete_room("nope").await.unwrap_err().status(),
        Some(404)
    );
    assert_eq!(api.add_peer("nope").await.unwrap_err().status(), Some(404));

    let bad = RoomConfig {
        webhook_url: Some("no-scheme".into()),
        ..RoomConfig::default()
    };
    assert_eq!(
        api.create_room(&bad).await.unwrap_err(),
        RoomApiError::Status {
            status: 400,
            message: "Expected webhookUrl to be valid URL".into()
        }
    );

    api.create_room(&RoomConfig {
        room_id: Some("one".into()),
        max_peers: Some(1),
        ..RoomConfig::default()
    })
    .await
    .unwrap();
    api.add_peer("one").await.unwrap();
    assert_eq!(
        api.add_peer("one").await.unwrap_err(),
        RoomApiError::Status {
            status: 503,
            message: "Reached peer limit in room one".into()
        }
    );
    assert_eq!(
        api.delete_peer("one", "ghost").await.unwrap_err().status(),
        Some(404)
    );
}

#[actix_web::test]
async fn an_unreachable_server_is_a_transport_error() {
    let addr = {
        let emulator = Emulator::builder().start().await.unwrap();
        emulator.server_address()
    };
    let api = RoomApi::new(&addr, "development", false).unwrap();
    assert!(matches!(
        api.list_rooms().await,
        Err(RoomApiError::Transport(_))
    ));
}

#[test]
fn the_token_stays_out_of_debug_output() {
    let api = RoomApi::new("localhost:5002", "hunter2-token", false).unwrap();
    assert!(!format!("{api:?}").contains("hunter2"));
}
