//! The Room API client against the emulator: every call, and the 401 / 404 / 400 / 503 errors with
//! the server's own messages.

use jellyfish_emulator::Emulator;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::*;

#[actix_web::test]
async fn every_call_works_against_the_emulator() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = RoomApi::new(emulator.server_address(), "development").unwrap();
    let config = RoomConfig {
        room_id: Some("api".into()),
        max_peers: Some(3),
        video_codec: Some(VideoCodec::Vp8),
        webhook_url: Some("http://127.0.0.1:1/webhook".into()),
        peerless_purge_timeout: Some(60),
        peer_disconnected_timeout: Some(30),
        ..RoomConfig::default()
    };
    let created = api.create_room(&config).await.unwrap();
    assert_eq!(
        created.server_address.as_deref(),
        Some(emulator.server_address().as_str())
    );
    assert_eq!(created.room.id, "api");
    assert_eq!(
        created.room.config, config,
        "the server echoes the configuration"
    );

    let peer = api.add_peer("api").await.unwrap();
    assert_eq!(peer.peer.status, PeerStatus::Disconnected);
    assert_eq!(peer.peer.peer_type, PeerType::Webrtc);
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
    let wrong = RoomApi::new(emulator.server_address(), "wrong").unwrap();
    assert_eq!(
        wrong.list_rooms().await.unwrap_err(),
        RoomApiError::Status {
            status: 401,
            message: "Invalid token".into()
        }
    );

    let api = RoomApi::new(
        format!("http://{}", emulator.server_address()),
        "development",
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
    let api = RoomApi::new(addr, "development").unwrap();
    assert!(matches!(
        api.list_rooms().await,
        Err(RoomApiError::Transport(_))
    ));
}

#[test]
fn the_token_stays_out_of_debug_output() {
    let api = RoomApi::new("localhost:5002", "hunter2-token").unwrap();
    assert!(!format!("{api:?}").contains("hunter2"));
}

/// Compiles only if `T` can be shared by every actix-web worker and every actor.
fn shareable<T: Clone + Send + Sync + 'static>(value: &T) -> T {
    value.clone()
}

#[actix_web::test]
async fn one_room_api_is_shared_across_threads_and_workers() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = RoomApi::new(emulator.server_address(), "development").unwrap();
    api.create_room(&RoomConfig {
        room_id: Some("shared".into()),
        ..RoomConfig::default()
    })
    .await
    .unwrap();
    // A clone moved to another thread with an actix runtime of its own, as a worker has.
    let elsewhere = shareable(&api);
    let rooms = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move { elsewhere.list_rooms().await })
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(rooms[0].id, RoomId::new("shared"));
    // And in an actix-web app's `web::Data`, used by a handler on a worker thread.
    let data = actix_web::web::Data::new(shareable(&api));
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(data.clone()).route(
            "/count",
            actix_web::web::get().to(|api: actix_web::web::Data<RoomApi>| async move {
                let rooms = api.list_rooms().await.unwrap();
                rooms.len().to_string()
            }),
        )
    })
    .workers(2)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let handle = server.run();
    let stop = handle.handle();
    actix_web::rt::spawn(handle);
    let mut response = awc::Client::default()
        .get(format!("http://{addr}/count"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.body().await.unwrap(), "1");
    stop.stop(true).await;
}

#[actix_web::test]
async fn rest_types_share_the_notification_model() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = RoomApi::builder(emulator.server_address(), "development")
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let room = api.create_room(&RoomConfig::default()).await.unwrap().room;
    let peer = api.add_peer(&room.id).await.unwrap().peer;
    emulator.connect_peer(&room.id, &peer.id).unwrap();
    emulator
        .update_peer_metadata(&room.id, &peer.id, serde_json::json!({"name": "Zoë"}))
        .unwrap();
    emulator
        .add_track(
            &room.id,
            &jellyfish_emulator::TrackOwner::Peer(peer.id.clone()),
            TrackType::Audio,
            serde_json::json!(null),
        )
        .unwrap();
    let got = api.get_room(&room.id).await.unwrap();
    let rest_peer = &got.peers[0];
    assert_eq!(rest_peer.id, peer.id);
    assert_eq!(rest_peer.metadata, Metadata::new(r#"{"name":"Zoë"}"#));
    let track = &rest_peer.tracks[0];
    assert_eq!(track.track_type, TrackType::Audio);
    assert_eq!(track.metadata, Metadata::null());
    // The REST track converts to the notification model's `Track` without a second type.
    assert_eq!(
        Track::from(track.clone()),
        Track::new(track.id.clone(), TrackType::Audio, "null")
    );
    assert_eq!("audio".parse::<TrackType>(), Ok(TrackType::Audio));
    assert!("speaker".parse::<TrackType>().is_err());
}
