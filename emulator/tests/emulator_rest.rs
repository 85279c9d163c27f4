//! The emulator's REST API and `/emulator/…` controls over real HTTP, and the notifications each
//! action produces over the WebSocket and by webhook, for server versions 0.3 and 0.5.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::raw_ws::{PATIENCE, handshake, next_message};
use common::webhook_sink::WebhookSink;
use jellyfish_emulator::{Emulator, ServerVersion, WebhookOutcome};
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::webhook::*;
use serde_json::{Value, json};

struct Http {
    base: String,
    client: awc::Client,
}

impl Http {
    fn new(emulator: &Emulator) -> Self {
        Self {
            base: emulator.http_url(),
            client: awc::Client::new(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let mut response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        }
        .expect("the emulator answers");
        let bytes = response.body().await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (response.status().as_u16(), json)
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, json) = self.call(method, path, Some("development"), body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json}"
        );
        json
    }
}

#[actix_web::test]
async fn the_rest_api_requires_the_bearer_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    let http = Http::new(&emulator);
    for (method, path) in [
        ("GET", "/health"),
        ("GET", "/room"),
        ("POST", "/room"),
        ("GET", "/room/x"),
        ("DELETE", "/room/x"),
    ] {
        assert_eq!(
            http.call(method, path, None, None).await,
            (401, json!({"errors": "Missing token"})),
            "{method} {path}"
        );
        assert_eq!(
            http.call(method, path, Some("nope"), None).await,
            (401, json!({"errors": "Invalid token"}))
        );
    }
    let (status, _) = http
        .call("POST", "/emulator/faults/drop", Some("nope"), None)
        .await;
    assert_eq!(status, 401, "the controls need the token too");
}

#[actix_web::test]
async fn health_reports_up_with_the_emulated_version() {
    let emulator = Emulator::builder()
        .server_version(ServerVersion::V0_3)
        .start()
        .await
        .unwrap();
    let health = Http::new(&emulator).ok("GET", "/health", None).await;
    assert_eq!(health["data"]["status"], "UP");
    assert_eq!(health["data"]["version"], "0.3.0");
    assert_eq!(health["data"]["distribution"]["nodesInCluster"], 1);
}

#[actix_web::test]
async fn rooms_and_peers_have_the_real_response_shapes() {
    let emulator = Emulator::builder().start().await.unwrap();
    let http = Http::new(&emulator);
    let created = http
        .ok(
            "POST",
            "/room",
            Some(
                json!({"roomId": "shape", "maxPeers": 2, "videoCodec": "h264", "webhookUrl": null}),
            ),
        )
        .await;
    assert_eq!(
        created["data"]["jellyfish_address"],
        emulator.server_address()
    );
    assert_eq!(
        created["data"]["room"],
        json!({"id": "shape", "components": [], "peers": [], "config": {
            "roomId": "shape", "maxPeers": 2, "videoCodec": "h264", "webhookUrl": null,
            "peerlessPurgeTimeout": null, "peerDisconnectedTimeout": null}})
    );
    // The client types read the same JSON.
    let _: DataResponse<CreatedRoom> = serde_json::from_value(created).unwrap();

    let (status, peer) = http
        .call(
            "POST",
            "/room/shape/peer",
            Some("development"),
            Some(json!({"type": "webrtc", "options": {}})),
        )
        .await;
    assert_eq!(status, 201);
    let details: DataResponse<PeerDetails> = serde_json::from_value(peer.clone()).unwrap();
    assert_eq!(details.data.peer.status, PeerStatus::Disconnected);
    assert_eq!(details.data.peer.metadata, Metadata::null());
    assert!(!details.data.token.is_empty());
    assert_eq!(peer["data"]["peer"]["type"], "webrtc");

    let rooms = http.ok("GET", "/room", None).await;
    assert_eq!(rooms["data"].as_array().unwrap().len(), 1);
    let room = http.ok("GET", "/room/shape", None).await;
    assert_eq!(
        room["data"]["peers"][0]["id"],
        details.data.peer.id.as_str()
    );

    let (status, _) = http
        .call(
            "DELETE",
            &format!("/room/shape/peer/{}", details.data.peer.id),
            Some("development"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = http
        .call("DELETE", "/room/shape", Some("development"), None)
        .await;
    assert_eq!(status, 204);
}

#[actix_web::test]
async fn invalid_requests_get_the_servers_errors() {
    let emulator = Emulator::builder().start().await.unwrap();
    let http = Http::new(&emulator);
    let t = Some("development");
    let cases = [
        (
            "POST",
            "/room",
            Some(json!({"webhookUrl": "localhost:5003"})),
            400,
            "Expected webhookUrl to be valid URL",
        ),
        (
            "POST",
            "/room",
            Some(json!({"webhookUrl": "http://localhost:5003"})),
            400,
            "Expected webhookUrl to be valid URL",
        ),
        (
            "POST",
            "/room",
            Some(json!({"maxPeers": "ten"})),
            400,
            "maxPeers must be a number",
        ),
        (
            "POST",
            "/room",
            Some(json!({"videoCodec": "av1"})),
            400,
            "videoCodec must be 'h264' or 'vp8'",
        ),
        (
            "POST",
            "/room",
            Some(json!({"roomId": "bad id!"})),
            400,
            "Cannot add room with id \"bad id!\" - roomId may contain only alphanumeric characters, hyphens and underscores",
        ),
        (
            "GET",
            "/room/missing",
            None,
            404,
            "Room missing does not exist",
        ),
        (
            "DELETE",
            "/room/missing",
            None,
            404,
            "Room missing does not exist",
        ),
        (
            "POST",
            "/room/missing/peer",
            Some(json!({"type": "webrtc"})),
            404,
            "Room missing does not exist",
        ),
    ];
    for (method, path, body, status, message) in cases {
        assert_eq!(
            http.call(method, path, t, body).await,
            (status, json!({"errors": message})),
            "{method} {path}"
        );
    }
    http.ok(
        "POST",
        "/room",
        Some(json!({"roomId": "full", "maxPeers": 1})),
    )
    .await;
    assert_eq!(
        http.call("POST", "/room", t, Some(json!({"roomId": "full"})))
            .await,
        (
            400,
            json!({"errors": "Cannot add room with id \"full\" - room already exists"})
        )
    );
    assert_eq!(
        http.call("POST", "/room/full/peer", t, Some(json!({})))
            .await,
        (400, json!({"errors": "Invalid request body structure"}))
    );
    assert_eq!(
        http.call("POST", "/room/full/peer", t, Some(json!({"type": "sip"})))
            .await,
        (400, json!({"errors": "Invalid peer type"}))
    );
    http.ok("POST", "/room/full/peer", Some(json!({"type": "webrtc"})))
        .await;
    assert_eq!(
        http.call(
            "POST",
            "/room/full/peer",
            t,
            Some(json!({"type": "webrtc"}))
        )
        .await,
        (503, json!({"errors": "Reached peer limit in room full"}))
    );
    assert_eq!(
        http.call("DELETE", "/room/full/peer/nobody", t, None).await,
        (404, json!({"errors": "Peer nobody does not exist"}))
    );
}

/// Drives a full room lifecycle through REST and the control endpoints and returns the kinds
/// expected, in order.
async fn scripted_lifecycle(http: &Http, webhook_url: &str) -> Vec<&'static str> {
    let room = http
        .ok(
            "POST",
            "/room",
            Some(json!({"roomId": "life", "webhookUrl": webhook_url})),
        )
        .await;
    assert_eq!(room["data"]["room"]["config"]["webhookUrl"], webhook_url);
    let peer = http
        .ok("POST", "/room/life/peer", Some(json!({"type": "webrtc"})))
        .await;
    let peer = peer["data"]["peer"]["id"].as_str().unwrap().to_owned();
    let p = format!("/emulator/room/life/peer/{peer}");
    http.ok("POST", &format!("{p}/connect"), None).await;
    http.ok(
        "POST",
        &format!("{p}/metadata"),
        Some(json!({"name": "Zoë"})),
    )
    .await;
    let track = http
        .ok(
            "POST",
            &format!("{p}/track"),
            Some(json!({"type": "audio", "metadata": {"mic": true}})),
        )
        .await;
    let track = track["data"]["id"].as_str().unwrap().to_owned();
    http.ok(
        "POST",
        &format!("{p}/track/{track}/metadata"),
        Some(json!({"mic": false})),
    )
    .await;
    http.ok(
        "POST",
        &format!("{p}/track"),
        Some(json!({"type": "video"})),
    )
    .await;
    let hls = http
        .ok(
            "POST",
            "/emulator/room/life/component",
            Some(json!({"type": "hls"})),
        )
        .await;
    let hls = hls["data"]["id"].as_str().unwrap().to_owned();
    http.ok(
        "POST",
        "/emulator/room/life/hls/playable",
        Some(json!({"componentId": hls})),
    )
    .await;
    http.ok("POST", "/emulator/room/life/hls/uploaded", None)
        .await;
    http.ok(
        "POST",
        &format!("/emulator/room/life/component/{hls}/crash"),
        None,
    )
    .await;
    http.ok("POST", &format!("{p}/disconnect"), None).await;
    http.ok("POST", &format!("{p}/connect"), None).await;
    http.ok(
        "POST",
        &format!("{p}/crash"),
        Some(json!({"reason": "out of memory"})),
    )
    .await;
    let second = http
        .ok("POST", "/room/life/peer", Some(json!({"type": "webrtc"})))
        .await;
    let second = second["data"]["peer"]["id"].as_str().unwrap().to_owned();
    http.ok(
        "POST",
        &format!("/emulator/room/life/peer/{second}/connect"),
        None,
    )
    .await;
    http.ok("DELETE", "/room/life", None).await;
    vec![
        "room_created",
        "peer_added",
        "peer_connected",
        "peer_metadata_updated",
        "track_added",
        "track_metadata_updated",
        "track_added",
        "hls_playable",
        "hls_uploaded",
        "component_crashed",
        "peer_disconnected",
        "track_removed",
        "track_removed",
        "peer_connected",
        "peer_crashed",
        "peer_added",
        "peer_connected",
        "peer_deleted",
        "room_deleted",
    ]
}

async fn lifecycle_over_both_paths(version: ServerVersion) {
    let emulator = Emulator::builder()
        .server_version(version)
        .start()
        .await
        .unwrap();
    let sink = WebhookSink::start().await;
    let http = Http::new(&emulator);
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    let mut expected = scripted_lifecycle(&http, &sink.url).await;
    if version == ServerVersion::V0_3 {
        let v04 = [
            "peer_added",
            "peer_deleted",
            "peer_metadata_updated",
            "track_added",
            "track_removed",
            "track_metadata_updated",
        ];
        expected.retain(|kind| !v04.contains(kind));
    }

    let mut over_ws = Vec::new();
    while over_ws.len() < expected.len() {
        match next_message(&mut socket).await {
            Some(DecodedMessage::Notification(n)) => over_ws.push(n),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        over_ws.iter().map(Notification::kind).collect::<Vec<_>>(),
        expected
    );

    assert!(
        emulator
            .wait_until(PATIENCE, |_| sink.count() == expected.len())
            .await,
        "{} webhooks",
        sink.count()
    );
    let mut over_webhook = Vec::new();
    for post in sink.all() {
        assert_eq!(post.path, "/webhook");
        assert!(
            post.signature.is_none(),
            "the open-source server signs nothing"
        );
        if version == ServerVersion::V0_3 {
            assert_eq!(post.content_type, "application/json");
            over_webhook
                .extend(receive_json(&serde_json::from_slice(&post.body).unwrap()).unwrap());
        } else {
            assert_eq!(post.content_type, "application/x-protobuf");
            over_webhook.extend(receive_binary(&post.body).unwrap());
        }
    }
    assert_eq!(
        over_webhook, over_ws,
        "webhook and WebSocket carry the same notifications in the same order"
    );
    if version == ServerVersion::V0_5 {
        let crashed = over_ws.iter().find_map(|n| match n {
            Notification::PeerCrashed(c) => Some(c.reason.to_string()),
            _ => None,
        });
        assert_eq!(crashed.as_deref(), Some("out of memory"));
    }
    let deliveries = emulator.webhook_deliveries();
    assert!(
        deliveries
            .iter()
            .all(|d| d.outcome == WebhookOutcome::Status(200))
    );
}

#[actix_web::test]
async fn a_lifecycle_notifies_in_order_over_websocket_and_webhook_on_v05_and_v03() {
    for version in [ServerVersion::V0_5, ServerVersion::V0_3] {
        lifecycle_over_both_paths(version).await;
    }
}

#[actix_web::test]
async fn a_deleted_rooms_webhook_url_is_forgotten() {
    let emulator = Emulator::builder().start().await.unwrap();
    let sink = WebhookSink::start().await;
    emulator
        .create_room(&json!({"roomId": "a", "webhookUrl": sink.url}))
        .unwrap();
    emulator.delete_room("a").unwrap();
    emulator.create_room(&json!({"roomId": "a"})).unwrap(); // same id, no webhook
    emulator.delete_room("a").unwrap();
    emulator
        .create_room(&json!({"roomId": "b", "webhookUrl": sink.url}))
        .unwrap();
    emulator.crash_room("b").unwrap();
    assert!(emulator.wait_until(PATIENCE, |_| sink.count() == 4).await);
    let kinds: Vec<_> = sink
        .all()
        .iter()
        .flat_map(|p| receive_binary(&p.body).unwrap())
        .map(|n| n.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "room_created",
            "room_deleted",
            "room_created",
            "room_crashed"
        ]
    );
}

#[actix_web::test]
async fn signed_and_batched_webhooks_as_fishjam_cloud_sends_them() {
    let emulator = Emulator::builder()
        .webhook_secret("s3cret")
        .webhook_batch(10)
        .start()
        .await
        .unwrap();
    let sink = WebhookSink::start().await;
    emulator
        .create_room(&json!({"roomId": "c", "webhookUrl": sink.url}))
        .unwrap();
    for _ in 0..5 {
        emulator.add_peer("c").unwrap();
    }
    assert!(
        emulator
            .wait_until(PATIENCE, |e| e
                .webhook_deliveries()
                .iter()
                .map(|d| d.notifications.len())
                .sum::<usize>()
                == 6)
            .await
    );
    let mut all = Vec::new();
    for post in sink.all() {
        let signature = post.signature.as_deref().expect("signed");
        assert!(verify_webhook_signature("s3cret", &post.body, signature));
        all.extend(receive_binary(&post.body).unwrap());
    }
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].kind(), "room_created");
    assert!(all[1..].iter().all(|n| n.kind() == "peer_added"));
}

#[actix_web::test]
async fn a_failing_webhook_receiver_does_not_block_the_websocket() {
    // Nothing listens at this URL's port once the sink is gone.
    let url = {
        let sink = WebhookSink::start().await;
        sink.url.clone()
    };
    let emulator = Emulator::builder()
        .webhook_timeout(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    emulator
        .create_room(&json!({"roomId": "w", "webhookUrl": url}))
        .unwrap();
    emulator.delete_room("w").unwrap();
    assert!(matches!(
        next_message(&mut socket).await,
        Some(DecodedMessage::Notification(Notification::RoomCreated(_)))
    ));
    assert!(matches!(
        next_message(&mut socket).await,
        Some(DecodedMessage::Notification(Notification::RoomDeleted(_)))
    ));
    assert!(
        emulator
            .wait_until(PATIENCE, |e| e.webhook_deliveries().len() == 2)
            .await
    );
    assert!(
        emulator
            .webhook_deliveries()
            .iter()
            .all(|d| matches!(d.outcome, WebhookOutcome::Failed(_)))
    );
}
