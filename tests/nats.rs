//! The NATS JetStream bridge and consumer against a real `nats-server` (Debian's package) on a free
//! loopback port with a store of its own, and the emulator.
//!
//! Ignored by a plain `cargo test` (a fresh machine has no nats-server); `.ci/run` installs it and
//! runs them: `cargo test -p jellyfish-notifier --features nats --test nats -- --ignored`.

mod common;
#[path = "common/nats_proxy.rs"]
mod nats_proxy;
#[path = "common/nats_server.rs"]
mod nats_server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_emulator::{Emulator, LifecycleConfig};
use jellyfish_notifier::nats::*;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;
use nats_server::NatsServer;

async fn emulator() -> Emulator {
    Emulator::builder().start().await.expect("emulator")
}

/// A bridge fed by a notifier of its own on the emulator.
async fn bridged(
    emulator: &Emulator,
    nats: &NatsServer,
) -> (Addr<WsNotifier>, Addr<JetStreamBridge>) {
    let bridge = JetStreamBridge::builder(nats.url())
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(50))
                .cap(Duration::from_millis(500)),
        )
        .ack_timeout(Duration::from_millis(300))
        .start();
    let notifier = WsNotifier::builder(emulator.server_address(), emulator.token().expose())
        .subscribe_notifications(bridge.clone().recipient())
        .subscribe_connection_events(bridge.clone().recipient())
        .start();
    notifier.send(WaitReady).await.unwrap().expect("ready");
    (notifier, bridge)
}

/// What the emulator wrote to its sockets, by connection, in order.
fn sent_per_connection(emulator: &Emulator) -> Vec<Vec<Notification>> {
    emulator
        .connection_records()
        .iter()
        .map(|r| r.notifications().cloned().collect())
        .collect()
}

async fn until(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn lifecycle(emulator: &Emulator) {
    emulator
        .run_lifecycle(&LifecycleConfig {
            rooms: 2,
            peers_per_room: 2,
            rate: 400.0,
            ..LifecycleConfig::default()
        })
        .await
        .expect("the lifecycle plays");
}

/// Decodes a stored message as the official SDKs would, with `receive_binary`.
fn decoded(message: &async_nats::jetstream::message::StreamMessage) -> Notification {
    let mut notifications =
        receive_binary(&message.payload).expect("receive_binary decodes the body");
    assert_eq!(notifications.len(), 1);
    notifications.remove(0)
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn every_notification_of_a_lifecycle_lands_in_the_stream_once_in_order() {
    let nats = NatsServer::start();
    let emulator = emulator().await;
    let (_notifier, bridge) = bridged(&emulator, &nats).await;
    lifecycle(&emulator).await;
    let sent: Vec<Notification> = sent_per_connection(&emulator).concat();
    assert!(sent.len() >= 20, "a whole lifecycle: {}", sent.len());
    until("stored", Duration::from_secs(10), async || {
        bridge.send(GetBridgeStats).await.unwrap().stored == sent.len() as u64
    })
    .await;

    let stored = nats.messages().await;
    assert_eq!(stored.len(), sent.len(), "once each");
    let got: Vec<Notification> = stored.iter().map(decoded).collect();
    assert_eq!(got, sent, "in the server's order");
    for (message, notification) in stored.iter().zip(&sent) {
        assert_eq!(
            message.subject.as_str(),
            notification_subject(DEFAULT_PREFIX, notification)
        );
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(header(KIND_HEADER).as_deref(), Some(notification.kind()));
        assert_eq!(
            header(ROOM_HEADER).as_deref(),
            notification.room_id().map(|r| r.as_str())
        );
        assert!(header("Nats-Msg-Id").is_some());
    }
    let stats = bridge.send(GetBridgeStats).await.unwrap();
    assert_eq!((stats.duplicates, stats.dropped, stats.queued), (0, 0, 0));
}

/// A notification that cannot be encoded (an unknown type that arrived as JSON has no protobuf
/// field number) is said and skipped when its turn comes; what was queued around it is stored,
/// in order, and nothing stays queued.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_notification_that_cannot_be_encoded_is_skipped_and_the_rest_stored_in_order() {
    let nats = NatsServer::start();
    let bridge = JetStreamBridge::builder(nats.url()).start();
    let unknown: Notification =
        serde_json::from_str(r#"{"type":"brand_new_kind","room_id":"r1"}"#).unwrap();
    assert!(
        unknown.encode().is_err(),
        "{unknown:?} has no protobuf form"
    );
    let sent = [
        Notification::from(notification::RoomCreated::new("r1")),
        Notification::from(notification::PeerConnected::new("r1", "p1")),
    ];
    bridge.do_send(sent[0].clone());
    bridge.do_send(unknown);
    bridge.do_send(sent[1].clone());
    until("stored", Duration::from_secs(10), async || {
        bridge.send(GetBridgeStats).await.unwrap().stored == 2
    })
    .await;
    let got: Vec<Notification> = nats.messages().await.iter().map(decoded).collect();
    assert_eq!(got, sent, "the two around it, in order");
    let stats = bridge.send(GetBridgeStats).await.unwrap();
    assert_eq!((stats.stored, stats.queued, stats.dropped), (2, 0, 0));
}

/// A publish lost on its way while the ones after it arrive (as a node's death or a stream
/// leader's change loses one): it is sent again, and its room is stored in order, each
/// notification once, although the window had the room's later ones ready to go.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_publish_lost_on_its_way_is_sent_again_before_the_rest_of_its_room() {
    let nats = NatsServer::start();
    let proxy = nats_proxy::LosingProxy::start(nats.addr(), b"peer-00042").await;
    let bridge = JetStreamBridge::builder(proxy.url())
        .ack_timeout(Duration::from_millis(500))
        .retry(RetryPolicy::default().base(Duration::from_millis(50)))
        .start();
    let sent: Vec<Notification> = (0..200)
        .map(|i| {
            Notification::from(notification::PeerConnected::new(
                format!("room-{}", i % 5),
                format!("peer-{i:05}"),
            ))
        })
        .collect();
    for notification in &sent {
        bridge.do_send(notification.clone());
    }
    // What was in flight beside the lost one may be stored twice over: acked as duplicates.
    until("all acked", Duration::from_secs(20), async || {
        let stats = bridge.send(GetBridgeStats).await.unwrap();
        stats.queued == 0 && stats.stored + stats.duplicates == 200
    })
    .await;
    assert!(
        proxy.lost(),
        "the publish of peer-00042 was lost on its way"
    );
    let stats = bridge.send(GetBridgeStats).await.unwrap();
    assert!(
        stats.retries >= 1,
        "the lost publish was retried: {stats:?}"
    );
    let got: Vec<Notification> = nats.messages().await.iter().map(decoded).collect();
    let in_room = |all: &[Notification], room: &str| -> Vec<Notification> {
        all.iter()
            .filter(|n| n.room_id().is_some_and(|r| r.as_str() == room))
            .cloned()
            .collect()
    };
    assert_eq!(got.len(), 200, "each notification stored once");
    for room in (0..5).map(|r| format!("room-{r}")) {
        assert_eq!(
            in_room(&got, &room),
            in_room(&sent, &room),
            "{room} in order"
        );
    }
    println!(
        "one publish lost on its way: 200 stored once, each room in order; {} retries, {} duplicates acked",
        stats.retries, stats.duplicates
    );
}

/// Two bridges on the same server and stream: each notification stored once; then one is killed
/// mid-stream and the other still stores everything.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn two_bridges_store_each_notification_once_and_either_may_die() {
    let nats = NatsServer::start();
    let emulator = emulator().await;
    let first_thread = Arbiter::new();
    let (first_notifier, first) = {
        let (address, url) = (emulator.server_address(), nats.url());
        let (sender, receiver) = tokio::sync::oneshot::channel();
        first_thread.spawn(async move {
            let bridge = JetStreamBridge::builder(url).start();
            let notifier = WsNotifier::builder(address, "development")
                .subscribe_notifications(bridge.clone().recipient())
                .start();
            let _ = sender.send((notifier, bridge));
        });
        receiver.await.unwrap()
    };
    first_notifier
        .send(WaitReady)
        .await
        .unwrap()
        .expect("ready");
    let (_second_notifier, second) = bridged(&emulator, &nats).await;
    lifecycle(&emulator).await;
    let per_connection = sent_per_connection(&emulator);
    assert_eq!(per_connection.len(), 2);
    assert_eq!(
        per_connection[0], per_connection[1],
        "both bridges were sent the same"
    );
    let sent = per_connection[0].len() as u64;
    let settled = async || {
        let (a, b) = (
            first.send(GetBridgeStats).await.unwrap(),
            second.send(GetBridgeStats).await.unwrap(),
        );
        a.stored + a.duplicates == sent && b.stored + b.duplicates == sent
    };
    until("both bridges acked", Duration::from_secs(10), settled).await;
    let stored = nats.messages().await;
    assert_eq!(stored.len() as u64, sent, "stored once, not twice");
    let (a, b) = (
        first.send(GetBridgeStats).await.unwrap(),
        second.send(GetBridgeStats).await.unwrap(),
    );
    assert_eq!(a.stored + b.stored, sent);
    assert_eq!(
        a.duplicates + b.duplicates,
        sent,
        "every second copy was recognised"
    );

    // Kill the first bridge mid-stream (its thread stops: the bridge, its queue and its socket go
    // at once), and play another round.
    drop((first_notifier, first));
    let round = async {
        lifecycle(&emulator).await;
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        first_thread.stop();
    };
    tokio::join!(round, kill);
    let all_sent: Vec<Notification> = sent_per_connection(&emulator)[1].clone();
    until(
        "the survivor stored the rest",
        Duration::from_secs(10),
        async || nats.messages().await.len() == all_sent.len(),
    )
    .await;
    let got: Vec<Notification> = nats.messages().await.iter().map(decoded).collect();
    assert_eq!(got, all_sent, "nothing lost, nothing twice, in order");
}

/// nats-server killed (SIGKILL) under load and started again: the bridge keeps what it could not
/// publish, retries, and the stream ends with every notification.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_nats_server_killed_under_load_loses_nothing_the_bridge_received() {
    let mut nats = NatsServer::start();
    let emulator = emulator().await;
    let (_notifier, bridge) = bridged(&emulator, &nats).await;
    let round = lifecycle(&emulator);
    let crash = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        nats.kill();
        // Down longer than the ack timeout: publishes fail and are retried.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        nats.spawn();
    };
    tokio::join!(round, crash);
    let sent: Vec<Notification> = sent_per_connection(&emulator).concat();
    until(
        "stored after the restart",
        Duration::from_secs(20),
        async || {
            let stats = bridge.send(GetBridgeStats).await.unwrap();
            stats.queued == 0 && stats.stored + stats.duplicates == sent.len() as u64
        },
    )
    .await;
    let stats = bridge.send(GetBridgeStats).await.unwrap();
    assert!(stats.retries > 0, "the crash was felt: {stats:?}");
    let stored = nats.messages().await;
    let got: Vec<Notification> = stored.iter().map(decoded).collect();
    assert_eq!(got, sent, "every notification once, in order");
    assert_eq!(stats.dropped, 0);
    println!(
        "nats-server killed under load: {} notifications, {} retries, {} duplicates acked",
        sent.len(),
        stats.retries,
        stats.duplicates
    );
}

/// Records what it handles, slowly enough that a crash lands mid-stream.
struct Recorder(Arc<Mutex<Vec<Notification>>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<Notification> for Recorder {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        std::thread::sleep(Duration::from_millis(2));
        self.0.lock().unwrap().push(notification);
    }
}

/// The consumer delivers the stream to a `Handler<Notification>` subscriber; killed mid-stream (its
/// thread stopped) and started again with the same durable name, it resumes: nothing lost.
/// A lifecycle on an emulator, bridged and all stored: the emulator (kept running) and what it
/// sent.
async fn lifecycle_stored(nats: &NatsServer) -> (Emulator, Vec<Notification>) {
    let emulator = emulator().await;
    let (_notifier, bridge) = bridged(&emulator, nats).await;
    lifecycle(&emulator).await;
    let sent: Vec<Notification> = sent_per_connection(&emulator).concat();
    until("stored", Duration::from_secs(10), async || {
        bridge.send(GetBridgeStats).await.unwrap().stored == sent.len() as u64
    })
    .await;
    (emulator, sent)
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn the_consumer_resumes_after_a_crash_with_nothing_lost() {
    let nats = NatsServer::start();
    let (_emulator, sent) = lifecycle_stored(&nats).await;

    let got = Arc::new(Mutex::new(Vec::new()));
    let arbiter = Arbiter::new();
    let consumer = JetStreamConsumer::builder(nats.url(), "app")
        .ack_wait(Duration::from_secs(1))
        .start_in(&arbiter.handle());
    let recorder = Recorder(Arc::clone(&got)).start();
    let _subscription = consumer
        .send(SubscribeServerNotifications(recorder.clone().recipient()))
        .await
        .unwrap();
    until("some delivered", Duration::from_secs(10), async || {
        got.lock().unwrap().len() >= 5
    })
    .await;
    arbiter.stop();
    let before = got.lock().unwrap().len();
    assert!(
        before < sent.len(),
        "killed mid-stream ({before} of {})",
        sent.len()
    );

    let again = JetStreamConsumer::builder(nats.url(), "app")
        .ack_wait(Duration::from_secs(1))
        .start();
    let _subscription = again
        .send(SubscribeServerNotifications(recorder.recipient()))
        .await
        .unwrap();
    until("the rest delivered", Duration::from_secs(15), async || {
        let got = got.lock().unwrap();
        sent.iter().all(|n| got.contains(n))
    })
    .await;
    let got = got.lock().unwrap().clone();
    // At least once: every notification, in order, with at most the in-flight ones twice.
    let twice = got.len() - sent.len();
    assert!(twice <= 2, "{twice} delivered twice");
    let stats = again.send(GetConsumerStats).await.unwrap();
    println!(
        "consumer: {} before the crash, {} after, {} delivered twice; {stats:?}",
        before,
        got.len() - before,
        twice
    );
}

/// A consumer that starts reading before anyone subscribed acknowledges nothing it could not
/// hand over: it gives each message back to JetStream (counted, said), and once a subscriber
/// comes, every notification reaches it.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_consumer_with_no_subscriber_yet_loses_nothing() {
    let nats = NatsServer::start();
    let (_emulator, sent) = lifecycle_stored(&nats).await;

    let consumer = JetStreamConsumer::every_notification(nats.url(), "late").start();
    until("given back", Duration::from_secs(10), async || {
        consumer.send(GetConsumerStats).await.unwrap().undelivered >= sent.len() as u64
    })
    .await;
    let got = Arc::new(Mutex::new(Vec::new()));
    let _subscription = consumer
        .send(SubscribeServerNotifications(
            Recorder(Arc::clone(&got)).start().recipient(),
        ))
        .await
        .unwrap();
    until("all delivered", Duration::from_secs(15), async || {
        let got = got.lock().unwrap();
        sent.iter().all(|n| got.contains(n))
    })
    .await;
    let stats = consumer.send(GetConsumerStats).await.unwrap();
    assert_eq!(stats.delivered, sent.len() as u64, "{stats:?}");
}

/// Records what a notifier delivered.
struct Seen(Arc<Mutex<Vec<Notification>>>);

impl Actor for Seen {
    type Context = Context<Self>;
}

impl Handler<Notification> for Seen {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(notification);
    }
}

/// Two bridges while the emulator drops every connection again and again during a looping
/// lifecycle (the two reconnect at different moments, so each misses notifications the other
/// received): everything either bridge received is in the stream; copies stored twice are counted
/// (the target is none; see `DedupIds` for the race that makes one).
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn two_bridges_through_dropped_connections_lose_nothing_either_received() {
    let nats = NatsServer::start();
    let emulator = emulator().await;
    let mut bridges = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let bridge = JetStreamBridge::builder(nats.url()).start();
        let got = Arc::new(Mutex::new(Vec::new()));
        let notifier = WsNotifier::builder(emulator.server_address(), emulator.token().expose())
            .retry(
                RetryPolicy::default()
                    .base(Duration::from_millis(10))
                    .cap(Duration::from_millis(100)),
            )
            .subscribe_notifications(bridge.clone().recipient())
            .subscribe_notifications(Seen(Arc::clone(&got)).start().recipient())
            .subscribe_connection_events(bridge.clone().recipient())
            .start();
        notifier.send(WaitReady).await.unwrap().expect("ready");
        bridges.push((notifier, bridge));
        seen.push(got);
    }
    let config = LifecycleConfig {
        rooms: 3,
        peers_per_room: 2,
        rate: 300.0,
        looping: true,
        ..LifecycleConfig::default()
    };
    let play = emulator.run_lifecycle(&config);
    let faults = async {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(120)).await;
            emulator.drop_connections();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::select! {
        _ = play => unreachable!("a looping lifecycle never ends"),
        () = faults => {}
    }
    let received: Vec<Vec<Notification>> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
    let total = |i: usize| received[i].len() as u64;
    until(
        "both bridges acked all they received",
        Duration::from_secs(20),
        async || {
            let a = bridges[0].1.send(GetBridgeStats).await.unwrap();
            let b = bridges[1].1.send(GetBridgeStats).await.unwrap();
            a.stored + a.duplicates >= total(0) && b.stored + b.duplicates >= total(1)
        },
    )
    .await;
    let stored: Vec<Notification> = nats
        .messages()
        .await
        .iter()
        .filter(|m| m.headers.get(KIND_HEADER).map(|v| v.as_str()) != Some("gap"))
        .map(decoded)
        .collect();
    let mut missing = 0;
    for notification in received.iter().flatten() {
        if !stored.contains(notification) {
            missing += 1;
        }
    }
    let mut copies: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for n in &stored {
        *copies.entry(format!("{n:?}")).or_default() += 1;
    }
    let duplicated: usize = copies.values().map(|c| c - 1).sum();
    for (what, count) in &copies {
        if *count > 1 {
            println!("stored {count} times: {what}");
        }
    }
    let gaps = nats
        .messages()
        .await
        .iter()
        .filter(|m| m.headers.get(KIND_HEADER).map(|v| v.as_str()) == Some("gap"))
        .count();
    println!(
        "two bridges, 10 drops: received {} and {}, stored {} ({} distinct), lost 0 of what either received, duplicated {duplicated}, gap messages {gaps}",
        total(0),
        total(1),
        stored.len(),
        copies.len()
    );
    assert_eq!(missing, 0, "lost what a live bridge received");
    // Every notification of the lifecycle is unique, so the bridges agree on its id across gaps;
    // the one way a copy is stored twice (DedupIds: a bridge that stored a notification the other
    // missed, acked after the other stored the next one) needs a gap on one bridge and a race.
    assert!(
        duplicated * 20 <= copies.len(),
        "{duplicated} of {} stored twice: more than a rare race",
        copies.len()
    );
    assert!(
        gaps >= 10,
        "each bridge's reconnects were published as gaps: {gaps}"
    );
}
