//! The REST types against Fishjam Cloud's bodies: every fixture (built from the official SDKs'
//! generated models, `fishjam-server-sdk` 0.31.1) parses, and writes back the same JSON. The only
//! difference allowed: a `null` `maxPeers` / `webhookUrl` is written as an absent key, which every
//! server and SDK reads the same way.

use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/fishjam-cloud/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap()
}

/// Drops the keys this crate writes as absent when `None`.
fn without_null_options(mut value: Value) -> Value {
    match &mut value {
        Value::Object(object) => {
            object.retain(|key, v| {
                !(v.is_null() && ["maxPeers", "webhookUrl"].contains(&key.as_str()))
            });
            for v in object.values_mut() {
                *v = without_null_options(v.take());
            }
        }
        Value::Array(items) => {
            for v in items {
                *v = without_null_options(v.take());
            }
        }
        _ => {}
    }
    value
}

/// Parses the fixture as `T`, writes it back, and checks both the JSON and a second parse.
fn round_trips<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let json = fixture(name);
    let parsed: T =
        serde_json::from_value(json.clone()).unwrap_or_else(|err| panic!("{name}: {err}"));
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(written, without_null_options(json), "{name} written back");
    let again: T = serde_json::from_value(written).unwrap();
    assert_eq!(again, parsed, "{name} parsed again");
    parsed
}

#[test]
fn every_cloud_room_body_parses_and_round_trips() {
    let room = round_trips::<DataResponse<Room>>("room_details_response.json").data;
    assert_eq!(room.config.room_type, Some(RoomType::Conference));
    assert_eq!(room.config.video_codec, Some(VideoCodec::H264));
    assert_eq!(room.config.batch_webhook_notifications, Some(false));
    assert!(room.components.is_empty(), "Cloud rooms have no components");
    let [webrtc, agent] = &room.peers[..] else {
        panic!("two peers")
    };
    assert_eq!(webrtc.peer_type, PeerType::Webrtc);
    assert_eq!(webrtc.metadata, Metadata::new(r#"{"name":"FishjamUser"}"#));
    assert_eq!(webrtc.tracks[1].metadata, Metadata::null());
    assert_eq!(webrtc.tracks[0].track_type, TrackType::Video);
    assert_eq!(agent.peer_type, PeerType::Agent);
    assert_eq!(agent.subscribe_mode, Some(SubscribeMode::Manual));
    assert_eq!(
        agent.subscriptions.as_ref().unwrap().peers,
        vec![webrtc.id.clone()]
    );

    let room =
        round_trips::<DataResponse<Room>>("room_details_response_with_composition.json").data;
    assert_eq!(room.config.room_type, Some(RoomType::Livestream));
    let composition = room.composition_info.unwrap();
    assert_eq!(composition.forwardings[0].video_track_id, None);

    let rooms = round_trips::<DataResponse<Vec<Room>>>("rooms_listing_response.json").data;
    assert!(!rooms.is_empty());
    assert!(
        round_trips::<DataResponse<Vec<Room>>>("rooms_listing_response_empty.json")
            .data
            .is_empty()
    );

    let created = round_trips::<DataResponse<CreatedRoom>>("room_create_response.json").data;
    assert_eq!(
        created.server_address, None,
        "Cloud sends no instance address"
    );
}

#[test]
fn every_cloud_peer_body_parses_and_round_trips() {
    for (name, peer_type) in [
        ("peer_details_response.json", PeerType::Webrtc),
        ("peer_details_response_agent.json", PeerType::Agent),
        ("peer_details_response_vapi.json", PeerType::Vapi),
    ] {
        let details = round_trips::<DataResponse<PeerDetails>>(name).data;
        assert_eq!(details.peer.peer_type, peer_type, "{name}");
        assert!(details.peer_websocket_url.is_some(), "{name}");
    }
    let error = round_trips::<ErrorResponse>("error.json");
    assert!(!error.errors.is_empty());
}

#[test]
fn the_sdks_request_bodies_parse_and_round_trip() {
    for name in [
        "requests/create_room_default_js.json",
        "requests/create_room_default_python.json",
        "requests/create_room_full.json",
    ] {
        round_trips::<RoomConfig>(name);
    }
    let full = round_trips::<RoomConfig>("requests/create_room_full.json");
    assert_eq!(full.public, Some(true));
    assert_eq!(full.room_type, Some(RoomType::Livestream));
    for (name, kind) in [
        ("requests/add_peer_webrtc_js_default.json", "webrtc"),
        ("requests/add_peer_webrtc_python_default.json", "webrtc"),
        ("requests/add_peer_webrtc_with_metadata.json", "webrtc"),
        ("requests/add_peer_agent.json", "agent"),
        ("requests/add_peer_vapi.json", "vapi"),
    ] {
        let options = round_trips::<PeerOptions>(name);
        let matches = matches!(
            (&options, kind),
            (PeerOptions::Webrtc(_), "webrtc")
                | (PeerOptions::Agent(_), "agent")
                | (PeerOptions::Vapi(_), "vapi")
        );
        assert!(matches, "{name}: {options:?}");
    }
    let vapi = VapiOptions {
        api_key: "sk-live-secret-4242".into(),
        call_id: "call-1".into(),
        auto_close: None,
        subscribe_mode: None,
    };
    let debug = format!("{:?}", PeerOptions::Vapi(vapi));
    assert!(!debug.contains("sk-live-secret-4242"), "{debug}");
    assert!(debug.contains("call-1"), "{debug}");
}

#[test]
fn an_unknown_room_type_or_subscribe_mode_is_kept_not_refused() {
    let config: RoomConfig =
        serde_json::from_value(serde_json::json!({"roomType": "hologram"})).unwrap();
    assert_eq!(config.room_type, Some(RoomType::Other("hologram".into())));
    assert_eq!(
        serde_json::to_value(&config).unwrap()["roomType"],
        "hologram"
    );
}
