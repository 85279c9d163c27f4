//! The emulator's server WebSocket, driven by a bare WebSocket client: handshake, close codes and
//! reasons, pings, the receive timeout, subscriptions, metrics, fault injection and the record.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use awc::ws::{Frame, Message};
use common::raw_ws::*;
use futures_util::SinkExt as _;
use jellyfish_emulator::{Emulator, SentFrame, TrackOwner};
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;
use serde_json::json;

async fn emulator() -> Emulator {
    Emulator::builder()
        .start()
        .await
        .expect("the emulator starts")
}

/// The close frame that ends the connection, or `None` if it just dropped.
async fn close_of(socket: &mut Socket) -> Option<ServerClose> {
    loop {
        match next(socket).await? {
            Frame::Close(Some(reason)) => {
                return Some(ServerClose::from_frame(
                    u16::from(reason.code),
                    &reason.description.unwrap_or_default(),
                ));
            }
            Frame::Close(None) => return Some(ServerClose::from_frame(1005, "")),
            Frame::Ping(_) | Frame::Pong(_) | Frame::Binary(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Sends `message` and answers the close frame that follows.
async fn closed_after(socket: &mut Socket, message: &ControlMessage) -> Option<ServerClose> {
    send(socket, message).await;
    close_of(socket).await
}

fn room_created(id: &str) -> Option<DecodedMessage> {
    Some(DecodedMessage::Notification(Notification::from(
        RoomCreated::new(id),
    )))
}

#[actix_web::test]
async fn handshake_authenticates_and_confirms_each_subscription() {
    let emulator = emulator().await;
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification, EventType::Metrics],
    )
    .await;
    emulator.create_room(&json!({"roomId": "r1"})).unwrap();
    loop {
        match next_message(&mut socket).await {
            Some(DecodedMessage::Metrics(_)) => continue,
            other => {
                assert_eq!(other, room_created("r1"));
                break;
            }
        }
    }
}

#[actix_web::test]
async fn a_wrong_token_is_closed_with_1000_invalid_token() {
    let emulator = emulator().await;
    let mut socket = connect(&emulator.server_address()).await;
    assert_eq!(
        closed_after(
            &mut socket,
            &ControlMessage::AuthRequest {
                token: "wrong".into(),
            }
        )
        .await,
        Some(ServerClose::InvalidToken)
    );
}

#[actix_web::test]
async fn a_first_frame_that_is_not_auth_is_closed_with_1000_invalid_auth_request() {
    let emulator = emulator().await;
    let mut socket = connect(&emulator.server_address()).await;
    assert_eq!(
        closed_after(
            &mut socket,
            &ControlMessage::SubscribeRequest(EventType::ServerNotification)
        )
        .await,
        Some(ServerClose::InvalidAuthRequest)
    );

    let mut socket = connect(&emulator.server_address()).await;
    socket.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(
        close_of(&mut socket).await,
        Some(ServerClose::InvalidAuthRequest)
    );
}

#[actix_web::test]
async fn anything_but_a_subscription_after_auth_is_closed_with_1003() {
    let emulator = emulator().await;
    let addr = emulator.server_address();

    let mut socket = handshake(&addr, "development", &[]).await;
    socket.send(Message::Text("{}".into())).await.unwrap();
    assert_eq!(
        close_of(&mut socket).await,
        Some(ServerClose::OperationNotAllowed)
    );

    let mut socket = handshake(&addr, "development", &[]).await;
    assert_eq!(
        closed_after(
            &mut socket,
            &ControlMessage::AuthRequest {
                token: "development".into(),
            }
        )
        .await,
        Some(ServerClose::OperationNotAllowed)
    );
}

#[actix_web::test]
async fn an_unspecified_subscription_or_garbage_drops_the_connection_without_a_close_frame() {
    let emulator = emulator().await;
    let addr = emulator.server_address();

    let mut socket = handshake(&addr, "development", &[]).await;
    send(
        &mut socket,
        &ControlMessage::SubscribeRequest(EventType::Unspecified),
    )
    .await;
    assert_eq!(close_of(&mut socket).await, None);

    let mut socket = handshake(&addr, "development", &[]).await;
    socket
        .send(Message::Binary(vec![0xff, 0xff].into()))
        .await
        .unwrap();
    assert_eq!(close_of(&mut socket).await, None);
    assert!(
        emulator
            .wait_until(PATIENCE, |e| e.socket_counts().open == 0)
            .await
    );
}

#[actix_web::test]
async fn subscribing_twice_is_idempotent() {
    let emulator = emulator().await;
    let notifications = EventType::ServerNotification;
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[notifications, notifications],
    )
    .await;
    emulator.create_room(&json!({"roomId": "a"})).unwrap();
    emulator.create_room(&json!({"roomId": "b"})).unwrap();
    assert_eq!(next_message(&mut socket).await, room_created("a"));
    assert_eq!(
        next_message(&mut socket).await,
        room_created("b"),
        "each notification once"
    );
}

#[actix_web::test]
async fn nothing_is_pushed_before_the_first_subscription_and_nothing_is_replayed() {
    let emulator = emulator().await;
    let mut socket = handshake(&emulator.server_address(), "development", &[]).await;
    emulator.create_room(&json!({"roomId": "before"})).unwrap();
    send(
        &mut socket,
        &ControlMessage::SubscribeRequest(EventType::ServerNotification),
    )
    .await;
    assert_eq!(
        next_message(&mut socket).await,
        Some(DecodedMessage::Control(ControlMessage::SubscribeResponse(
            EventType::ServerNotification
        )))
    );
    emulator.create_room(&json!({"roomId": "after"})).unwrap();
    assert_eq!(next_message(&mut socket).await, room_created("after"));
}

#[actix_web::test]
async fn pings_start_after_authentication() {
    let emulator = Emulator::builder()
        .ping_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let mut socket = connect(&emulator.server_address()).await;
    // Unauthenticated: the connection gets no pings, so the first frame is the auth reply.
    send(
        &mut socket,
        &ControlMessage::AuthRequest {
            token: "development".into(),
        },
    )
    .await;
    assert!(matches!(next(&mut socket).await, Some(Frame::Binary(_))));
    for _ in 0..3 {
        match next(&mut socket).await {
            Some(Frame::Ping(payload)) => {
                assert!(payload.is_empty(), "the real server pings with no payload")
            }
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    let record = &emulator.connection_records()[0];
    assert_eq!(record.sent[0], SentFrame::Authenticated);
    assert!(record.sent[1..].iter().all(|f| *f == SentFrame::Ping));
}

#[actix_web::test]
async fn a_silent_client_is_dropped_after_the_receive_timeout_and_pongs_keep_it_alive() {
    let emulator = Emulator::builder()
        .receive_timeout(Duration::from_millis(300))
        .ping_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let addr = emulator.server_address();

    // A client that answers pings stays connected well past the timeout.
    let mut alive = handshake(&addr, "development", &[EventType::ServerNotification]).await;
    let mut pings = 0;
    while pings < 20 {
        match next(&mut alive).await {
            Some(Frame::Ping(payload)) => {
                alive.send(Message::Pong(payload)).await.unwrap();
                pings += 1;
            }
            other => panic!("the answering client was dropped: {other:?}"),
        }
    }

    // A client that never answers is dropped without a close frame.
    let mut silent = handshake(&addr, "development", &[]).await;
    assert_eq!(close_of(&mut silent).await, None);
    let records = emulator.connection_records();
    assert_eq!(records[1].sent.last(), Some(&SentFrame::Dropped));
}

#[actix_web::test]
async fn metrics_reports_go_to_metrics_subscribers_with_the_nested_shape() {
    let emulator = Emulator::builder()
        .metrics_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let room = emulator.create_room(&json!({"roomId": "m"})).unwrap();
    let peer = emulator.add_peer(&room.id).unwrap().peer.id;
    emulator.connect_peer("m", &peer).unwrap();
    let track = emulator
        .add_track(
            "m",
            &TrackOwner::Peer(peer.clone()),
            TrackType::Audio,
            json!(null),
        )
        .unwrap();

    let addr = emulator.server_address();
    let mut metrics = handshake(&addr, "development", &[EventType::Metrics]).await;
    let mut notifications_only =
        handshake(&addr, "development", &[EventType::ServerNotification]).await;
    let mut arrivals = Vec::new();
    for _ in 0..3 {
        let Some(DecodedMessage::Metrics(report)) = next_message(&mut metrics).await else {
            panic!("expected a metrics report")
        };
        arrivals.push(std::time::Instant::now());
        let json = report.json().expect("the report is JSON");
        let track_stats =
            &json["room_id=m"][format!("endpoint_id={peer}")][format!("track_id={track}")];
        assert!(
            track_stats["inbound-rtp.bytes_received-per-second"].is_f64(),
            "{json}"
        );
        assert_eq!(json["rooms"], 1);
    }
    // The cadence: reports come one interval apart, never in a burst (a lower bound, which no
    // scheduling delay can break).
    assert!(
        arrivals[2] - arrivals[0] >= Duration::from_millis(90),
        "{arrivals:?}"
    );
    emulator.create_room(&json!({"roomId": "n"})).unwrap();
    assert_eq!(
        next_message(&mut notifications_only).await,
        room_created("n"),
        "no metrics there"
    );
}

#[actix_web::test]
async fn fault_drop_ends_every_socket_without_a_close_frame() {
    let emulator = emulator().await;
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    assert_eq!(emulator.drop_connections(), 1);
    assert_eq!(close_of(&mut socket).await, None);
}

#[actix_web::test]
async fn fault_close_sends_the_given_code_and_reason() {
    let emulator = emulator().await;
    let mut socket = handshake(&emulator.server_address(), "development", &[]).await;
    emulator.close_connections(1011, "going for a swim");
    assert_eq!(
        close_of(&mut socket).await,
        Some(ServerClose::from_frame(1011, "going for a swim"))
    );
    assert_eq!(
        emulator.connection_records()[0].sent.last(),
        Some(&SentFrame::Close {
            code: 1011,
            reason: "going for a swim".into()
        })
    );
}

#[actix_web::test]
async fn fault_malformed_and_unknown_frames_reach_subscribers() {
    let emulator = emulator().await;
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    emulator.send_malformed();
    emulator.send_unknown_member(99);
    match next(&mut socket).await {
        Some(Frame::Binary(bytes)) => assert!(decode_server_message(&bytes).is_err()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        next_message(&mut socket).await,
        Some(DecodedMessage::Notification(Notification::from(
            UnknownNotification::field(99)
        )))
    );
}

#[actix_web::test]
async fn fault_delay_holds_frames_back_but_keeps_their_order() {
    let emulator = emulator().await;
    let mut socket = handshake(
        &emulator.server_address(),
        "development",
        &[EventType::ServerNotification],
    )
    .await;
    emulator.set_frame_delay(Duration::from_millis(30));
    let started = std::time::Instant::now();
    for id in ["1", "2", "3"] {
        emulator.create_room(&json!({"roomId": id})).unwrap();
    }
    for id in ["1", "2", "3"] {
        assert_eq!(next_message(&mut socket).await, room_created(id));
    }
    // Three frames each held back 30 ms cannot arrive sooner than 90 ms after the first was queued.
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "{:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn fault_restart_drops_sockets_and_listens_again_on_the_same_port_with_the_same_rooms() {
    let emulator = emulator().await;
    let addr = emulator.server_address();
    emulator.create_room(&json!({"roomId": "kept"})).unwrap();
    let mut socket = handshake(&addr, "development", &[EventType::ServerNotification]).await;
    emulator.restart(Duration::from_millis(100)).await.unwrap();
    assert_eq!(
        close_of(&mut socket).await,
        None,
        "the old socket was dropped"
    );
    assert_eq!(emulator.server_address(), addr);
    let mut socket = handshake(&addr, "development", &[EventType::ServerNotification]).await;
    emulator.delete_room("kept").unwrap();
    assert_eq!(
        next_message(&mut socket).await,
        Some(DecodedMessage::Notification(Notification::from(
            RoomDeleted::new("kept")
        )))
    );
}

#[actix_web::test]
async fn the_record_lists_exactly_what_each_connection_received() {
    let emulator = emulator().await;
    let addr = emulator.server_address();
    let mut a = handshake(&addr, "development", &[EventType::ServerNotification]).await;
    let mut b = handshake(&addr, "development", &[]).await;
    for id in ["x", "y"] {
        emulator.create_room(&json!({"roomId": id})).unwrap();
    }
    assert_eq!(next_message(&mut a).await, room_created("x"));
    assert_eq!(next_message(&mut a).await, room_created("y"));
    drop(b.close().await);
    assert!(
        emulator
            .wait_until(PATIENCE, |e| e
                .connection_records()
                .iter()
                .filter(|r| r.ended)
                .count()
                == 1)
            .await
    );
    let records = emulator.connection_records();
    assert_eq!(records.len(), 2);
    let kinds: Vec<_> = records[0].notifications().map(Notification::kind).collect();
    assert_eq!(kinds, ["room_created", "room_created"]);
    assert_eq!(
        records[0].sent[..2],
        [
            SentFrame::Authenticated,
            SentFrame::SubscribeResponse(EventType::ServerNotification)
        ]
    );
    assert_eq!(records[1].notifications().count(), 0, "b never subscribed");
    assert!(records[1].ended);
}
