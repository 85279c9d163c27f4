//! The seed's two paths side by side: a room created through the Room API with a `webhook_url`
//! pointing at a real actix-web server using the extractor, a scripted lifecycle, and the
//! notifications received by webhook equal, in order, to those a `WsNotifier` delivered.

mod common;

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use common::recorder::{Recorder, recv};
use jellyfish_emulator::{Emulator, ServerVersion};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::*;
use serde_json::json;

async fn webhook(
    notifications: Webhook,
    subscriber: web::Data<Recipient<Notification>>,
) -> HttpResponse {
    for notification in notifications {
        subscriber.do_send(notification);
    }
    HttpResponse::Ok().finish()
}

async fn both_paths_agree(version: ServerVersion) {
    let emulator = Emulator::builder()
        .server_version(version)
        .start()
        .await
        .unwrap();

    // The webhook path: the extractor hands the same Notification type to a Recorder actor.
    let (webhook_recorder, mut via_webhook) = Recorder::start();
    let recipient = web::Data::new(webhook_recorder.recipient::<Notification>());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(recipient.clone())
            .route("/webhook", web::post().to(webhook))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let webhook_url = format!("http://{}/webhook", server.addrs()[0]);
    actix_web::rt::spawn(server.run());

    // The WebSocket path.
    let notifier = WsNotifier::start(emulator.server_address(), "development");
    let (ws_recorder, mut via_ws) = Recorder::start();
    let _sub = notifier
        .send(SubscribeServerNotifications(ws_recorder.recipient()))
        .await
        .unwrap();
    notifier.send(WaitReady).await.unwrap().unwrap();

    let api = RoomApi::new(emulator.server_address(), "development").unwrap();
    let room = api
        .create_room(&RoomConfig {
            webhook_url: Some(webhook_url),
            ..RoomConfig::default()
        })
        .await
        .unwrap()
        .room
        .id;
    let peer = api.add_peer(&room).await.unwrap().peer.id;
    common::peer_shares_its_screen(&emulator, &room, &peer, json!({"name": "Zoë"}));
    emulator.crash_peer(&room, &peer, "ICE failed").unwrap();
    let second = api.add_peer(&room).await.unwrap().peer.id;
    emulator.connect_peer(&room, &second).unwrap();
    api.delete_room(&room).await.unwrap();

    let mut ws = Vec::new();
    loop {
        let n = recv(&mut via_ws.notifications, "websocket").await;
        let done = n.kind() == "room_deleted";
        ws.push(n);
        if done {
            break;
        }
    }
    let mut hooks = Vec::new();
    while hooks.len() < ws.len() {
        hooks.push(recv(&mut via_webhook.notifications, "webhook").await);
    }
    assert_eq!(
        hooks, ws,
        "server {version}: the same notifications in the same order"
    );
    let expected: &[&str] = if version == ServerVersion::V0_5 {
        &[
            "room_created",
            "peer_added",
            "peer_connected",
            "peer_metadata_updated",
            "track_added",
            "track_metadata_updated",
            "track_removed",
            "peer_crashed",
            "peer_added",
            "peer_connected",
            "peer_deleted",
            "room_deleted",
        ]
    } else {
        &[
            "room_created",
            "peer_connected",
            "peer_crashed",
            "peer_connected",
            "room_deleted",
        ]
    };
    assert_eq!(
        ws.iter().map(Notification::kind).collect::<Vec<_>>(),
        expected
    );
}

#[actix_web::test]
async fn webhook_and_websocket_deliver_the_same_notifications_on_v05_and_v03() {
    for version in [ServerVersion::V0_5, ServerVersion::V0_3] {
        both_paths_agree(version).await;
    }
}
