//! WsNotifier against the emulator on loopback: handshake, fatal and retryable failures, reconnects,
//! skipped frames, large reports, subscriptions, shutdown, and exactly-once in-order delivery.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::recorder::{Flush, Recorder, Stop, event_where, recv};
use jellyfish_emulator::Emulator;
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::notifier::*;
use jellyfish_notifier::retry::RetryPolicy;
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(10);

fn fast_backoff() -> RetryPolicy {
    RetryPolicy::default()
        .base(Duration::from_millis(20))
        .cap(Duration::from_millis(200))
}

fn notifier(emulator: &Emulator) -> Addr<WsNotifier> {
    WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .start()
}

/// A notifier for `address` with the test's quick retries.
fn quick(address: impl Into<String>) -> Addr<WsNotifier> {
    WsNotifier::builder(address, "development")
        .retry(fast_backoff())
        .start()
}

/// How `WaitReady` ends: ready, or the error that stopped the notifier.
async fn outcome(notifier: &Addr<WsNotifier>) -> Result<(), NotifierError> {
    tokio::time::timeout(PATIENCE, notifier.send(WaitReady))
        .await
        .expect("an answer in time")
        .expect("mailbox")
}

async fn ready(notifier: &Addr<WsNotifier>) {
    outcome(notifier).await.expect("no fatal error");
}

async fn subscribe_all(
    notifier: &Addr<WsNotifier>,
) -> (
    Addr<Recorder>,
    common::recorder::Received,
    Vec<Subscription>,
) {
    let (recorder, received) = Recorder::start();
    let subscriptions = vec![
        notifier
            .send(SubscribeConnectionEvents(recorder.clone().recipient()))
            .await
            .unwrap(),
        notifier
            .send(SubscribeServerNotifications(recorder.clone().recipient()))
            .await
            .unwrap(),
    ];
    (recorder, received, subscriptions)
}

fn room_created(id: &str) -> Notification {
    Notification::from(RoomCreated::new(id))
}

async fn stats(notifier: &Addr<WsNotifier>) -> NotifierStats {
    notifier.send(GetStats).await.unwrap()
}

#[actix_web::test]
async fn handshake_subscribes_to_notifications_and_metrics() {
    let emulator = Emulator::builder()
        .metrics_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let notifier = notifier(&emulator);
    let (recorder, mut received, _subs) = subscribe_all(&notifier).await;
    let _metrics = notifier
        .send(SubscribeMetrics(recorder.recipient()))
        .await
        .unwrap();
    ready(&notifier).await;
    let counts = emulator.socket_counts();
    assert_eq!(
        (counts.open, counts.notifications, counts.metrics),
        (1, 1, 1)
    );

    emulator.create_room(&json!({"roomId": "hello"})).unwrap();
    assert_eq!(
        recv(&mut received.notifications, "room_created").await,
        room_created("hello")
    );
    let report = recv(&mut received.metrics, "a metrics report").await;
    assert!(report.json().unwrap()["room_id=hello"].is_object());
    assert_eq!(
        event_where(&mut received.events, "ready", |e| matches!(
            e,
            ConnectionEvent::Ready { .. }
        ))
        .await,
        ConnectionEvent::Ready { gap: None }
    );
    let record = &emulator.connection_records()[0];
    assert_eq!(record.sent[0], jellyfish_emulator::SentFrame::Authenticated);
}

#[actix_web::test]
async fn only_event_types_with_subscribers_are_requested() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    ready(&notifier).await;
    assert_eq!(emulator.socket_counts().authenticated, 1);
    assert_eq!(
        emulator.socket_counts().notifications,
        0,
        "nobody asked for notifications yet"
    );
    let (_recorder, mut received, _subs) = subscribe_all(&notifier).await;
    ready(&notifier).await;
    assert_eq!(emulator.socket_counts().notifications, 1);
    assert_eq!(emulator.socket_counts().metrics, 0);
    emulator.create_room(&json!({"roomId": "late"})).unwrap();
    assert_eq!(
        recv(&mut received.notifications, "room_created").await,
        room_created("late")
    );
}

#[actix_web::test]
async fn an_invalid_token_fails_after_exactly_one_connection_attempt() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = WsNotifier::builder(emulator.server_address(), "wrong-token")
        .retry(fast_backoff())
        .start();
    let (_recorder, mut received, _subs) = subscribe_all(&notifier).await;
    let result = outcome(&notifier).await;
    assert_eq!(result, Err(NotifierError::InvalidToken));
    assert_eq!(
        event_where(&mut received.events, "failed", |e| matches!(
            e,
            ConnectionEvent::Failed(_)
        ))
        .await,
        ConnectionEvent::Failed(NotifierError::InvalidToken)
    );
    // Ten backoff bases later there has still been no second attempt.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(emulator.connection_records().len(), 1);
    assert_eq!(stats(&notifier).await.connection_attempts, 1);
    assert_eq!(
        stats(&notifier).await.state,
        ConnectionState::Failed(NotifierError::InvalidToken)
    );
    let message = NotifierError::InvalidToken.to_string();
    assert!(
        message.contains("token") && message.contains("not retried"),
        "{message}"
    );
}

async fn reconnects_after(fault: impl AsyncFnOnce(&Emulator)) {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    let (_recorder, mut received, _subs) = subscribe_all(&notifier).await;
    ready(&notifier).await;
    event_where(&mut received.events, "first ready", |e| {
        matches!(e, ConnectionEvent::Ready { .. })
    })
    .await;

    fault(&emulator).await;
    let disconnected = event_where(&mut received.events, "disconnected", |e| {
        matches!(e, ConnectionEvent::Disconnected { .. })
    })
    .await;
    let ConnectionEvent::Disconnected { retry_in, .. } = disconnected else {
        unreachable!()
    };
    assert!(
        retry_in <= Duration::from_millis(200),
        "within the backoff cap: {retry_in:?}"
    );
    let ready_again = event_where(&mut received.events, "ready again", |e| {
        matches!(e, ConnectionEvent::Ready { .. })
    })
    .await;
    assert!(
        matches!(ready_again, ConnectionEvent::Ready { gap: Some(_) }),
        "{ready_again:?}"
    );
    ready(&notifier).await;
    assert!(
        emulator
            .wait_until(PATIENCE, |e| e.socket_counts().notifications == 1)
            .await,
        "re-subscribed"
    );

    emulator.create_room(&json!({"roomId": "after"})).unwrap();
    assert_eq!(
        recv(&mut received.notifications, "room_created after reconnect").await,
        room_created("after")
    );
    let records = emulator.connection_records();
    let subscriptions: usize = records
        .iter()
        .map(|r| {
            r.sent
                .iter()
                .filter(|f| matches!(f, jellyfish_emulator::SentFrame::SubscribeResponse(_)))
                .count()
        })
        .sum();
    assert_eq!(
        subscriptions, 2,
        "subscribed once per connection: {records:?}"
    );
}

#[actix_web::test]
async fn reconnects_and_resubscribes_after_an_abrupt_drop() {
    reconnects_after(async |emulator| {
        assert_eq!(emulator.drop_connections(), 1);
    })
    .await;
}

#[actix_web::test]
async fn reconnects_and_resubscribes_after_a_retryable_close_code() {
    reconnects_after(async |emulator| {
        assert_eq!(emulator.close_connections(1012, "service restart"), 1);
    })
    .await;
}

#[actix_web::test]
async fn reconnects_and_resubscribes_after_a_server_restart_on_the_same_port() {
    reconnects_after(async |emulator| {
        emulator.restart(Duration::from_millis(300)).await.unwrap();
    })
    .await;
}

#[actix_web::test]
async fn a_malformed_frame_is_skipped_and_an_unknown_member_delivered_and_the_connection_kept() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    let (_recorder, mut received, _subs) = subscribe_all(&notifier).await;
    ready(&notifier).await;
    emulator.send_malformed();
    emulator.send_unknown_member(77);
    emulator
        .create_room(&json!({"roomId": "still-here"}))
        .unwrap();
    assert_eq!(
        recv(&mut received.notifications, "the unknown member").await,
        Notification::from(UnknownNotification::field(77)),
        "an unknown member reaches subscribers, as through a webhook"
    );
    assert_eq!(
        recv(&mut received.notifications, "room_created").await,
        room_created("still-here")
    );
    let stats = stats(&notifier).await;
    assert_eq!(
        (
            stats.malformed_frames,
            stats.unknown_members,
            stats.connection_attempts
        ),
        (1, 1, 1)
    );
    assert_eq!(emulator.connection_records().len(), 1, "never reconnected");
}

#[actix_web::test]
async fn a_multi_megabyte_metrics_report_arrives_whole_in_one_frame_or_in_fragments() {
    let body: String = (0..100_000)
        .map(|i| format!("\"room_id=r{i}\":{{\"x\":{i}}},"))
        .collect();
    let raw = format!("{{{}\"end\":true}}", body);
    assert!(raw.len() > 2 << 20, "{} bytes", raw.len());
    let report = MetricsReport::new(raw.clone());
    for fragment in [None, Some(256 * 1024)] {
        let mut builder = Emulator::builder().metrics_interval(Duration::from_secs(3600));
        if let Some(size) = fragment {
            builder = builder.fragment_frames(size);
        }
        let emulator = builder.start().await.unwrap();
        let notifier = notifier(&emulator);
        let (recorder, mut received) = Recorder::start();
        let _sub = notifier
            .send(SubscribeMetrics(recorder.recipient()))
            .await
            .unwrap();
        ready(&notifier).await;
        emulator.push_metrics(&report);
        let got = recv(&mut received.metrics, "the large report").await;
        assert_eq!(got.raw(), raw, "fragmented: {fragment:?}");
        assert_eq!(got.json().unwrap()["end"], true);
    }
}

/// A real WebSocket server scripted to answer the first subscribe_request, push a notification,
/// and only then answer the second: the interleaving the Python SDK crashes on, made certain.
async fn interleaving_server() -> std::net::SocketAddr {
    use actix_web::{App, HttpRequest, HttpServer, web};
    use futures_util::StreamExt as _;

    async fn socket(
        req: HttpRequest,
        body: web::Payload,
    ) -> actix_web::Result<actix_web::HttpResponse> {
        let (response, mut session, mut stream) = actix_ws::handle(&req, body)?;
        actix_web::rt::spawn(async move {
            let mut subscribes = 0;
            while let Some(Ok(actix_ws::Message::Binary(bytes))) = stream.next().await {
                match decode_server_message(&bytes) {
                    Ok(DecodedMessage::Control(ControlMessage::AuthRequest { .. })) => {
                        let _ = session.binary(ControlMessage::Authenticated.encode()).await;
                    }
                    Ok(DecodedMessage::Control(ControlMessage::SubscribeRequest(event))) => {
                        subscribes += 1;
                        let _ = session
                            .binary(ControlMessage::SubscribeResponse(event).encode())
                            .await;
                        if subscribes == 1 {
                            let between = Notification::from(RoomCreated::new("between"));
                            let _ = session.binary(between.encode().unwrap()).await;
                        }
                    }
                    _ => break,
                }
            }
        });
        Ok(response)
    }

    let server =
        HttpServer::new(|| App::new().route("/socket/server/websocket", web::get().to(socket)))
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    addr
}

#[actix_web::test]
async fn a_notification_between_two_subscribe_responses_is_delivered() {
    let addr = interleaving_server().await;
    let notifier = quick(addr.to_string());
    let (recorder, mut received, _subs) = subscribe_all(&notifier).await;
    let _metrics = notifier
        .send(SubscribeMetrics(recorder.recipient()))
        .await
        .unwrap();
    ready(&notifier).await;
    assert_eq!(
        recv(&mut received.notifications, "the interleaved notification").await,
        room_created("between")
    );
    let stats = stats(&notifier).await;
    assert_eq!((stats.connection_attempts, stats.malformed_frames), (1, 0));
}

#[actix_web::test]
async fn unsubscribe_stops_delivery_to_that_subscriber_only() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    let (a, mut a_received) = Recorder::start();
    let (b, mut b_received) = Recorder::start();
    let sub_a = notifier
        .send(SubscribeServerNotifications(a.clone().recipient()))
        .await
        .unwrap();
    let _sub_b = notifier
        .send(SubscribeServerNotifications(b.recipient()))
        .await
        .unwrap();
    ready(&notifier).await;
    emulator.create_room(&json!({"roomId": "one"})).unwrap();
    assert_eq!(
        recv(&mut a_received.notifications, "a gets one").await,
        room_created("one")
    );
    assert_eq!(
        recv(&mut b_received.notifications, "b gets one").await,
        room_created("one")
    );

    assert!(notifier.send(Unsubscribe(sub_a.id())).await.unwrap());
    emulator.create_room(&json!({"roomId": "two"})).unwrap();
    assert_eq!(
        recv(&mut b_received.notifications, "b gets two").await,
        room_created("two")
    );
    a.send(Flush).await.unwrap();
    assert!(
        a_received.notifications.try_recv().is_err(),
        "a got nothing after unsubscribing"
    );
    assert!(
        !notifier.send(Unsubscribe(sub_a.id())).await.unwrap(),
        "already gone"
    );
    sub_a.unsubscribe(); // the handle's own way; a second unsubscribe is harmless
}

#[actix_web::test]
async fn a_stopped_subscriber_is_pruned() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    let (recorder, _received) = Recorder::start();
    let _sub = notifier
        .send(SubscribeServerNotifications(recorder.clone().recipient()))
        .await
        .unwrap();
    assert_eq!(stats(&notifier).await.notification_subscribers, 1);
    recorder.send(Stop).await.unwrap();
    emulator.create_room(&json!({"roomId": "x"})).unwrap();
    // The stopped subscriber is pruned.
    stats_until(&notifier, |stats| stats.notification_subscribers == 0).await;
}

#[actix_web::test]
async fn shutdown_closes_the_socket_and_stops_the_actor() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    let (_recorder, _received, _subs) = subscribe_all(&notifier).await;
    ready(&notifier).await;
    notifier.send(Shutdown).await.unwrap();
    assert!(
        emulator
            .wait_until(PATIENCE, |e| e.socket_counts().open == 0)
            .await,
        "the server saw the close"
    );
    assert!(
        emulator
            .wait_until(PATIENCE, |_| !notifier.connected())
            .await,
        "the actor stopped"
    );
    assert!(notifier.send(WaitReady).await.is_err());
    let records = emulator.connection_records();
    assert_eq!(records.len(), 1, "no reconnect after shutdown");
    assert_eq!(records[0].client_close, Some(1000), "a clean close 1000");
    assert_eq!(
        records[0].sent.last(),
        Some(&jellyfish_emulator::SentFrame::Close {
            code: 1000,
            reason: String::new()
        }),
        "the server's close reply was written before the notifier let go"
    );
}

#[actix_web::test]
async fn every_notification_sent_while_connected_is_delivered_once_in_order_to_every_subscriber() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = notifier(&emulator);
    let (_a, mut a_received, _a_subs) = subscribe_all(&notifier).await;
    let (b, mut b_received) = Recorder::start();
    let _b_sub = notifier
        .send(SubscribeServerNotifications(b.recipient()))
        .await
        .unwrap();
    ready(&notifier).await;

    for round in 0..5 {
        for i in 0..20 {
            emulator
                .create_room(&json!({"roomId": format!("r{round}-{i}")}))
                .unwrap();
            emulator.delete_room(&format!("r{round}-{i}")).unwrap();
        }
        emulator.drop_connections();
        event_where(&mut a_received.events, "ready again", |e| {
            matches!(e, ConnectionEvent::Ready { gap: Some(_) })
        })
        .await;
    }
    emulator.create_room(&json!({"roomId": "last"})).unwrap();
    let last_written = |e: &Emulator| {
        e.connection_records()
            .iter()
            .any(|r| r.notifications().any(|n| *n == room_created("last")))
    };
    assert!(emulator.wait_until(PATIENCE, last_written).await);

    let sent: Vec<Notification> = emulator
        .connection_records()
        .iter()
        .flat_map(|r| r.notifications().cloned().collect::<Vec<_>>())
        .collect();
    assert!(
        sent.len() > 1,
        "some notifications went out while connected"
    );
    assert_eq!(sent.last(), Some(&room_created("last")));
    for (name, received) in [
        ("a", &mut a_received.notifications),
        ("b", &mut b_received.notifications),
    ] {
        let mut got = Vec::new();
        while got.len() < sent.len() {
            got.push(recv(received, name).await);
        }
        assert_eq!(got, sent, "subscriber {name}: exactly once, in order");
    }
}

#[test]
fn starting_outside_an_actix_system_fails_with_a_clear_message() {
    let err = WsNotifier::builder("localhost:5002", "development")
        .try_start()
        .unwrap_err();
    assert_eq!(err, NotifierError::NoSystem);
    assert!(err.to_string().contains("actix System"), "{err}");
    let err = WsNotifier::builder("ftp://nope", "t")
        .try_start()
        .unwrap_err();
    assert!(matches!(err, NotifierError::InvalidAddress { .. }), "{err}");
}

#[actix_web::test]
async fn the_token_never_appears_in_debug_output() {
    let builder = WsNotifier::builder("localhost:5002", "super-secret-token");
    assert!(
        !format!("{builder:?}").contains("super-secret"),
        "{builder:?}"
    );
}

#[actix_web::test]
async fn silence_longer_than_the_idle_timeout_is_a_dead_link() {
    // No pings for an hour and nothing subscribed: the link goes silent after the handshake.
    let emulator = Emulator::builder()
        .ping_interval(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .idle_timeout(Duration::from_millis(300))
        .start();
    let (recorder, mut received) = Recorder::start();
    let _events = notifier
        .send(SubscribeConnectionEvents(recorder.recipient()))
        .await
        .unwrap();
    let event = event_where(&mut received.events, "idle disconnect", |e| {
        matches!(e, ConnectionEvent::Disconnected { .. })
    })
    .await;
    let ConnectionEvent::Disconnected { reason, .. } = event else {
        unreachable!()
    };
    assert!(
        matches!(reason, DisconnectReason::IdleTimeout { limit, .. } if limit == Duration::from_millis(300)),
        "{reason:?}"
    );
    event_where(&mut received.events, "ready again", |e| {
        matches!(e, ConnectionEvent::Ready { gap: Some(_) })
    })
    .await;
}

#[actix_web::test]
async fn a_server_that_never_answers_the_upgrade_hits_the_connect_timeout_and_is_retried() {
    // The kernel accepts the TCP connection into the backlog; nothing ever answers the upgrade.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let notifier = WsNotifier::builder(silent.local_addr().unwrap().to_string(), "development")
        .retry(fast_backoff())
        .connect_timeout(Duration::from_millis(200))
        .start();
    let (recorder, mut received) = Recorder::start();
    let _events = notifier
        .send(SubscribeConnectionEvents(recorder.recipient()))
        .await
        .unwrap();
    for attempt in 1..=2 {
        let event = event_where(&mut received.events, "timeout", |e| {
            matches!(e, ConnectionEvent::Disconnected { .. })
        })
        .await;
        let ConnectionEvent::Disconnected {
            reason,
            attempt: failed,
            ..
        } = event
        else {
            unreachable!()
        };
        assert_eq!(
            reason,
            DisconnectReason::ConnectTimeout(Duration::from_millis(200))
        );
        assert_eq!(reason.to_string(), "connecting took longer than 0.2 s");
        assert_eq!(failed, attempt);
    }
}

/// A plain HTTP server that answers the WebSocket path with `status`.
async fn refusing_server(status: u16) -> String {
    use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};
    let server = HttpServer::new(move || {
        App::new().default_service(web::to(move || async move {
            HttpResponse::build(StatusCode::from_u16(status).unwrap()).finish()
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0].to_string();
    actix_web::rt::spawn(server.run());
    addr
}

#[actix_web::test]
async fn a_5xx_upgrade_is_retried_and_a_404_is_final() {
    let unavailable = refusing_server(503).await;
    let notifier = quick(unavailable);
    let (recorder, mut received) = Recorder::start();
    let _events = notifier
        .send(SubscribeConnectionEvents(recorder.recipient()))
        .await
        .unwrap();
    for _ in 0..2 {
        let event = event_where(&mut received.events, "retry", |e| {
            matches!(e, ConnectionEvent::Disconnected { .. })
        })
        .await;
        let ConnectionEvent::Disconnected { reason, .. } = event else {
            unreachable!()
        };
        assert_eq!(reason, DisconnectReason::UpgradeRefused { status: 503 });
    }

    let missing = refusing_server(404).await;
    let notifier = quick(missing);
    let result = outcome(&notifier).await;
    assert_eq!(result, Err(NotifierError::UpgradeRejected { status: 404 }));
    assert_eq!(stats(&notifier).await.connection_attempts, 1);
}

#[actix_web::test]
async fn the_attempt_limit_ends_in_retries_exhausted() {
    let unavailable = refusing_server(502).await;
    let notifier = WsNotifier::builder(unavailable, "development")
        .retry(fast_backoff().max_attempts(Some(3)))
        .start();
    let result = outcome(&notifier).await;
    let Err(NotifierError::RetriesExhausted {
        attempts,
        last_error,
    }) = result
    else {
        panic!("{result:?}")
    };
    assert_eq!(attempts, 3);
    assert_eq!(last_error, DisconnectReason::UpgradeRefused { status: 502 });
    assert_eq!(stats(&notifier).await.connection_attempts, 3);
}

#[actix_web::test]
async fn the_drop_policy_drops_for_a_full_subscriber_only_and_reports_it() {
    let emulator = Emulator::builder().start().await.unwrap();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .delivery(DeliveryPolicy::DropWhenFull)
        .start();
    // A subscriber on a busy thread of its own with a mailbox of 1 cannot keep up with a burst.
    let slow = Arbiter::new();
    let (slow_tx, mut slow_rx) = tokio::sync::mpsc::unbounded_channel();
    let slow_addr = Slow::start_in_arbiter(&slow.handle(), move |ctx| {
        ctx.set_mailbox_capacity(1);
        Slow(slow_tx)
    });
    let (fast, mut fast_received, _subs) = subscribe_all(&notifier).await;
    let _ = fast;
    let _slow_sub = notifier
        .send(SubscribeServerNotifications(slow_addr.recipient()))
        .await
        .unwrap();
    ready(&notifier).await;
    for i in 0..200 {
        emulator
            .create_room(&json!({"roomId": format!("burst-{i}")}))
            .unwrap();
    }
    for i in 0..200 {
        let n = recv(
            &mut fast_received.notifications,
            "the fast subscriber gets everything",
        )
        .await;
        assert_eq!(n, room_created(&format!("burst-{i}")));
    }
    let dropped = event_where(&mut fast_received.events, "drop report", |e| {
        matches!(e, ConnectionEvent::NotificationsDropped { .. })
    })
    .await;
    assert!(
        matches!(
            dropped,
            ConnectionEvent::NotificationsDropped { total: 1, .. }
        ),
        "{dropped:?}"
    );
    let stats = stats(&notifier).await;
    assert!(stats.dropped > 0);
    // What the slow one did get is in order.
    let mut last = None;
    while let Ok(n) = slow_rx.try_recv() {
        let seq: usize = n
            .room_id()
            .unwrap()
            .trim_start_matches("burst-")
            .parse()
            .unwrap();
        assert!(last.is_none_or(|l| seq > l), "in order");
        last = Some(seq);
    }
    slow.stop();
}

struct Slow(tokio::sync::mpsc::UnboundedSender<Notification>);

impl Actor for Slow {
    type Context = Context<Self>;
}

impl Handler<Notification> for Slow {
    type Result = ();
    fn handle(&mut self, n: Notification, _: &mut Context<Self>) {
        std::thread::sleep(Duration::from_millis(5));
        let _ = self.0.send(n);
    }
}

#[actix_web::test]
async fn builder_given_subscribers_see_the_very_first_connecting_and_ready() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (recorder, mut received) = Recorder::start();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .subscribe_connection_events(recorder.clone().recipient())
        .subscribe_notifications(recorder.recipient())
        .start();
    assert_eq!(
        recv(&mut received.events, "the first event").await,
        ConnectionEvent::Connecting { attempt: 1 }
    );
    assert_eq!(
        recv(&mut received.events, "the second event").await,
        ConnectionEvent::Ready { gap: None }
    );
    // Subscribed before the start, so the first handshake already asked for notifications.
    assert_eq!(emulator.socket_counts().notifications, 1);
    emulator.create_room(&json!({"roomId": "first"})).unwrap();
    assert_eq!(
        recv(&mut received.notifications, "room_created").await,
        room_created("first")
    );
    assert_eq!(stats(&notifier).await.connection_attempts, 1);
}

/// Polls the notifier's stats until `done` holds (no sleeping for a fixed time).
async fn stats_until(notifier: &Addr<WsNotifier>, done: impl Fn(&NotifierStats) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if done(&stats(notifier).await) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stats never got there"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[actix_web::test]
async fn a_notification_stream_is_bounded_and_reports_lag_where_it_happened() {
    use futures_util::StreamExt as _;

    let emulator = Emulator::builder().start().await.unwrap();
    let (builder, mut from_start) = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .notification_stream(100);
    let notifier = builder.start();
    let mut small = notifier
        .send(StreamNotifications { capacity: 4 })
        .await
        .unwrap();
    let (recorder, mut received) = Recorder::start();
    let _events = notifier
        .send(SubscribeConnectionEvents(recorder.recipient()))
        .await
        .unwrap();
    ready(&notifier).await;

    for i in 0..10 {
        emulator
            .create_room(&json!({"roomId": format!("s{i}")}))
            .unwrap();
    }
    stats_until(&notifier, |s| s.notifications_received == 10).await;
    assert_eq!(stats(&notifier).await.dropped, 6, "6 did not fit in 4");
    assert_eq!(
        event_where(&mut received.events, "the drop report", |e| matches!(
            e,
            ConnectionEvent::NotificationsDropped { .. }
        ))
        .await,
        ConnectionEvent::NotificationsDropped {
            subscription: small.subscription_id(),
            total: 1
        }
    );
    emulator.create_room(&json!({"roomId": "after"})).unwrap();

    let next = async |stream: &mut NotificationStream| {
        tokio::time::timeout(PATIENCE, stream.next())
            .await
            .expect("an item in time")
            .expect("the stream goes on")
    };
    for i in 0..4 {
        assert_eq!(next(&mut small).await, Ok(room_created(&format!("s{i}"))));
    }
    assert_eq!(next(&mut small).await, Err(Lagged { missed: 6 }));
    assert_eq!(next(&mut small).await, Ok(room_created("after")));
    // The roomy stream given to the builder got everything, in order, with no lag.
    for i in 0..10 {
        assert_eq!(
            next(&mut from_start).await,
            Ok(room_created(&format!("s{i}")))
        );
    }
    assert_eq!(next(&mut from_start).await, Ok(room_created("after")));

    // Dropping a stream ends its subscription; the notifier stops counting drops for it.
    drop(small);
    for i in 0..10 {
        emulator
            .create_room(&json!({"roomId": format!("t{i}")}))
            .unwrap();
    }
    stats_until(&notifier, |s| s.notifications_received == 21).await;
    assert_eq!(stats(&notifier).await.dropped, 6);
}

#[actix_web::test]
async fn disconnect_reasons_tell_a_refused_connection_from_a_server_close_and_a_drop() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (recorder, mut received) = Recorder::start();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .subscribe_connection_events(recorder.recipient())
        .start();
    ready(&notifier).await;
    let disconnected = async |received: &mut common::recorder::Received| {
        let event = event_where(&mut received.events, "a disconnect", |e| {
            matches!(e, ConnectionEvent::Disconnected { .. })
        })
        .await;
        let ConnectionEvent::Disconnected { reason, .. } = event else {
            unreachable!()
        };
        reason
    };

    assert_eq!(emulator.close_connections(1012, "service restart"), 1);
    assert_eq!(
        disconnected(&mut received).await,
        DisconnectReason::Closed {
            code: 1012,
            reason: "service restart".into()
        }
    );
    ready(&notifier).await;

    assert_eq!(emulator.drop_connections(), 1);
    assert_eq!(disconnected(&mut received).await, DisconnectReason::Dropped);
    ready(&notifier).await;

    // Nothing listening: the port of a listener that was closed again.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (recorder, mut received) = Recorder::start();
    let _refused = WsNotifier::builder(port.to_string(), "development")
        .retry(fast_backoff())
        .subscribe_connection_events(recorder.recipient())
        .start();
    let reason = disconnected(&mut received).await;
    assert_eq!(reason, DisconnectReason::Refused);
    assert_eq!(
        reason.to_string(),
        "connection refused: nothing is listening there"
    );
}

#[actix_web::test]
async fn a_server_without_metrics_stops_the_metrics_subscription_not_the_notifications() {
    // Fishjam Cloud drops a connection that asks for metrics; the notifier must not flap for ever.
    let emulator = Emulator::builder()
        .server_version(jellyfish_emulator::ServerVersion::Cloud)
        .start()
        .await
        .unwrap();
    let (recorder, mut received) = Recorder::start();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .subscribe_connection_events(recorder.clone().recipient())
        .subscribe_notifications(recorder.clone().recipient())
        .subscribe_metrics(recorder.recipient())
        .start();
    event_where(&mut received.events, "metrics unsupported", |e| {
        matches!(e, ConnectionEvent::MetricsUnsupported)
    })
    .await;
    ready(&notifier).await;
    emulator
        .create_room(&json!({"roomId": "still-notified"}))
        .unwrap();
    assert_eq!(
        recv(&mut received.notifications, "room_created").await,
        room_created("still-notified")
    );
    let stats = stats(&notifier).await;
    assert_eq!(
        stats.connection_attempts, 3,
        "two drops, then a connection without metrics"
    );
    assert_eq!(
        stats.metrics_subscribers, 1,
        "the subscriber stays registered"
    );
}

#[actix_web::test]
async fn a_notification_stream_ends_when_the_notifier_fails_for_good() {
    use futures_util::StreamExt as _;

    let emulator = Emulator::builder().token("right").start().await.unwrap();
    let (builder, mut stream) =
        WsNotifier::builder(emulator.server_address(), "wrong").notification_stream(8);
    let notifier = builder.start();
    let end = tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("the stream ends in time");
    assert!(end.is_none(), "{end:?}");
    assert_eq!(
        notifier.send(WaitReady).await.unwrap(),
        Err(NotifierError::InvalidToken)
    );
}

/// A subscriber that blocks its thread (the notifier's too) for a while on a marked notification.
struct Blocker {
    block_on: &'static str,
    block_for: Duration,
    forward: tokio::sync::mpsc::UnboundedSender<Notification>,
}

impl Actor for Blocker {
    type Context = Context<Self>;
}

impl Handler<Notification> for Blocker {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        if notification
            .room_id()
            .is_some_and(|room| room == self.block_on)
        {
            // The whole actor system stalls, as a paused process or a blocking handler does.
            std::thread::sleep(self.block_for);
        }
        let _ = self.forward.send(notification);
    }
}

#[actix_web::test]
async fn a_stall_longer_than_the_idle_timeout_loses_nothing_the_server_sent() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let blocker = Blocker {
        block_on: "stall",
        block_for: Duration::from_millis(1500),
        forward: tx,
    }
    .start();
    let (recorder, mut received) = Recorder::start();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(fast_backoff())
        .idle_timeout(Duration::from_millis(400))
        .ping_interval(Duration::from_millis(100))
        .subscribe_notifications(blocker.recipient())
        .subscribe_connection_events(recorder.recipient())
        .start();
    ready(&notifier).await;
    // Frames keep leaving the server (20 ms apart) all through the 1.5 s stall.
    emulator.set_frame_delay(Duration::from_millis(20));
    emulator.create_room(&json!({"roomId": "stall"})).unwrap();
    for i in 0..60 {
        emulator
            .create_room(&json!({"roomId": format!("during-{i}")}))
            .unwrap();
    }
    assert_eq!(
        recv(&mut rx, "the stall marker").await,
        room_created("stall")
    );
    for i in 0..60 {
        assert_eq!(
            recv(&mut rx, "a frame sent during the stall").await,
            room_created(&format!("during-{i}"))
        );
    }
    let stats = stats(&notifier).await;
    assert_eq!(
        stats.connection_attempts, 1,
        "the stall was not taken for a dead link"
    );
    while let Ok(event) = received.events.try_recv() {
        assert!(
            !matches!(event, ConnectionEvent::Disconnected { .. }),
            "{event:?}"
        );
    }
}

#[actix_web::test]
async fn a_black_holed_link_is_noticed_within_the_idle_timeout_and_the_gap_covers_the_silence() {
    let emulator = Emulator::builder().start().await.unwrap();
    let proxy = common::proxy::Proxy::start(emulator.addr()).await;
    let (recorder, mut received) = Recorder::start();
    let limit = Duration::from_millis(600);
    let notifier = WsNotifier::builder(proxy.addr.to_string(), "development")
        .retry(fast_backoff())
        .idle_timeout(limit)
        .ping_interval(Duration::from_millis(150))
        .subscribe_connection_events(recorder.clone().recipient())
        .subscribe_notifications(recorder.recipient())
        .start();
    ready(&notifier).await;
    // Pings and pongs flow: no false positive over several idle timeouts of quiet.
    tokio::time::sleep(limit * 3).await;
    assert_eq!(
        stats(&notifier).await.connection_attempts,
        1,
        "a quiet but live link stays"
    );

    proxy.blackhole(true);
    let blackholed_at = std::time::Instant::now();
    let event = event_where(&mut received.events, "the dead link noticed", |e| {
        matches!(e, ConnectionEvent::Disconnected { .. })
    })
    .await;
    let ConnectionEvent::Disconnected {
        reason: DisconnectReason::IdleTimeout { silent, limit: got },
        ..
    } = event
    else {
        panic!("{event:?}")
    };
    assert_eq!(got, limit);
    assert!(
        silent > limit && silent < limit + Duration::from_millis(500),
        "noticed within the bound: {silent:?}"
    );
    proxy.blackhole(false);
    let event = event_where(&mut received.events, "ready again", |e| {
        matches!(e, ConnectionEvent::Ready { gap: Some(_) })
    })
    .await;
    let ready_seen = blackholed_at.elapsed();
    let ConnectionEvent::Ready { gap: Some(gap) } = event else {
        unreachable!()
    };
    // Nothing passed from the black hole on, so the real silence is at least from then to the
    // new readiness; allow for a frame already past the proxy and for the event's delivery.
    assert!(
        gap + Duration::from_millis(100) >= ready_seen.saturating_sub(Duration::from_millis(100)),
        "the gap ({gap:?}) covers the real silence ({ready_seen:?} from the black hole to ready)"
    );
    assert!(gap >= silent, "{gap:?} < {silent:?}");
}

#[actix_web::test]
async fn a_crash_looping_server_gets_exponentially_spaced_attempts() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (recorder, mut received) = Recorder::start();
    let notifier = WsNotifier::builder(emulator.server_address(), "development")
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(20))
                .cap(Duration::from_secs(5)),
        )
        .subscribe_connection_events(recorder.clone().recipient())
        .subscribe_notifications(recorder.recipient())
        .start();
    // Each connection gets ready, carries one notification, and is dropped.
    let mut attempts = Vec::new();
    for cycle in 0..6 {
        event_where(&mut received.events, "ready", |e| {
            matches!(e, ConnectionEvent::Ready { .. })
        })
        .await;
        emulator
            .create_room(&json!({"roomId": format!("loop-{cycle}")}))
            .unwrap();
        recv(&mut received.notifications, "the one notification").await;
        emulator.drop_connections();
        let event = event_where(&mut received.events, "dropped", |e| {
            matches!(e, ConnectionEvent::Disconnected { .. })
        })
        .await;
        let ConnectionEvent::Disconnected {
            attempt, retry_in, ..
        } = event
        else {
            unreachable!()
        };
        let ceiling = Duration::from_millis(20) * 2u32.pow(attempt.saturating_sub(1));
        assert!(
            retry_in <= ceiling,
            "attempt {attempt}: {retry_in:?} > {ceiling:?}"
        );
        attempts.push(attempt);
    }
    assert_eq!(
        attempts,
        [1, 2, 3, 4, 5, 6],
        "ready-then-dropped connections do not reset the backoff"
    );
    let made = stats(&notifier).await.connection_attempts;
    assert!((6..=7).contains(&made), "{made} attempts");
}

#[actix_web::test]
async fn a_2xx_answer_to_the_upgrade_is_final_after_one_attempt() {
    let web_page = refusing_server(200).await;
    let notifier = quick(web_page);
    let result = outcome(&notifier).await;
    assert_eq!(result, Err(NotifierError::UpgradeRejected { status: 200 }));
    assert_eq!(stats(&notifier).await.connection_attempts, 1);
}
