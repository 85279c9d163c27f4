//! The NATS bridge under an operator's hand, against a real `nats-server` (Debian's package): the
//! stream deleted, nats-server restarted without its store, a stream whose limits discard what
//! was acknowledged, an outage (the waiting count), and webhook publishes while nats-server hangs
//! (answered in bounded time; a sender's retry stores no second copy).
//!
//! Ignored by a plain `cargo test`; `.ci/run` installs nats-server and runs them:
//! `cargo test -p jellyfish-notifier --features nats --test nats_operator -- --ignored`.

#[path = "common/kept.rs"]
mod kept;
#[path = "common/nats_server.rs"]
mod nats_server;

use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_notifier::nats::*;
use jellyfish_notifier::notification::{RoomCrashed, RoomCreated, RoomDeleted};
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;
use kept::Kept;
use nats_server::NatsServer;

type Events = Kept<BridgeEvent>;

fn builder(nats: &NatsServer, events: &Events) -> JetStreamBridgeBuilder {
    JetStreamBridge::builder(nats.url())
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(50))
                .cap(Duration::from_millis(500)),
        )
        .ack_timeout(Duration::from_millis(500))
        .events(events.clone().start().recipient())
}

fn room(name: &str) -> Notification {
    Notification::from(RoomCreated::new(name))
}

async fn until(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stats(bridge: &Addr<JetStreamBridge>) -> BridgeStats {
    bridge.send(GetBridgeStats).await.unwrap()
}

/// What the stream's messages hold, in order, each said by `say`.
async fn stored_as(nats: &NatsServer, say: impl Fn(&Notification) -> String) -> Vec<String> {
    nats.messages()
        .await
        .iter()
        .map(|m| say(&receive_binary(&m.payload).unwrap()[0]))
        .collect()
}

/// The rooms of the stream's messages, in order.
async fn stored_rooms(nats: &NatsServer) -> Vec<String> {
    stored_as(nats, |n| n.room_id().unwrap().to_string()).await
}

/// The kind and room of each of the stream's messages, in order ("room_created lobby").
async fn stored_kinds(nats: &NatsServer) -> Vec<String> {
    stored_as(nats, |n| format!("{} {}", n.kind(), n.room_id().unwrap())).await
}

async fn delete_stream(nats: &NatsServer) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    async_nats::jetstream::new(client)
        .delete_stream(DEFAULT_STREAM)
        .await
        .unwrap();
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_stream_deleted_or_lost_with_the_store_is_created_again_and_said_and_nothing_later_is_lost()
 {
    let mut nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events).start();
    for i in 0..5 {
        bridge.do_send(room(&format!("before-{i}")));
    }
    until("stored", Duration::from_secs(10), async || {
        stats(&bridge).await.stored == 5
    })
    .await;

    // An operator deletes the stream.
    delete_stream(&nats).await;
    for i in 0..20 {
        bridge.do_send(room(&format!("after-delete-{i}")));
    }
    until(
        "recreated and stored",
        Duration::from_secs(20),
        async || {
            let stats = stats(&bridge).await;
            stats.stored == 25 && stats.queued == 0
        },
    )
    .await;
    assert!(
        events.any(
            |e| matches!(e, BridgeEvent::StreamRecreated { stream } if stream == DEFAULT_STREAM)
        )
    );
    let expected: Vec<String> = (0..20).map(|i| format!("after-delete-{i}")).collect();
    assert_eq!(
        stored_rooms(&nats).await,
        expected,
        "everything after the deletion, once, in order"
    );

    // nats-server restarted without its store.
    nats.restart_without_store();
    for i in 0..20 {
        bridge.do_send(room(&format!("after-restart-{i}")));
    }
    until(
        "recreated and stored again",
        Duration::from_secs(30),
        async || {
            let stats = stats(&bridge).await;
            stats.stored == 45 && stats.queued == 0
        },
    )
    .await;
    let expected: Vec<String> = (0..20).map(|i| format!("after-restart-{i}")).collect();
    assert_eq!(stored_rooms(&nats).await, expected);
    let stats = stats(&bridge).await;
    assert_eq!((stats.recreated, stats.dropped), (2, 0), "{stats:?}");
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_bridge_told_not_to_recreate_the_stream_stops_at_once_and_says_so() {
    let nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events).recreate_stream(false).start();
    bridge.do_send(room("first"));
    until("stored", Duration::from_secs(10), async || {
        stats(&bridge).await.stored == 1
    })
    .await;
    delete_stream(&nats).await;
    bridge.do_send(room("second"));
    until("said", Duration::from_secs(10), async || {
        events.any(|e| {
            matches!(e, BridgeEvent::StreamGone { stream, unpublished: 1 } if stream == DEFAULT_STREAM)
        })
    })
    .await;
    until("stopped", Duration::from_secs(5), async || {
        !bridge.connected()
    })
    .await;
}

/// A stream of more replicas than the servers up is not created: said as a stream error naming
/// both numbers, retried, and what arrived stays queued.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_stream_of_more_replicas_than_servers_is_refused_with_both_numbers() {
    let nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events)
        .stream(StreamSettings {
            replicas: 3,
            ..StreamSettings::default()
        })
        .start();
    bridge.do_send(room("waits"));
    until("refused", Duration::from_secs(10), async || {
        events.any(|e| matches!(e, BridgeEvent::Retrying { error, .. } if error.to_string().contains("3 replicas asked for, and the cluster has 1 server up")))
    })
    .await;
    let stats = stats(&bridge).await;
    assert_eq!((stats.stored, stats.queued), (0, 1), "{stats:?}");
    assert!(stored_rooms(&nats).await.is_empty());
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_stream_whose_limits_discard_acknowledged_notifications_is_warned_about_at_start() {
    let nats = NatsServer::start();
    let client = async_nats::connect(nats.url()).await.unwrap();
    async_nats::jetstream::new(client)
        .create_stream(async_nats::jetstream::stream::Config {
            name: DEFAULT_STREAM.to_owned(),
            subjects: vec![format!("{DEFAULT_PREFIX}.>")],
            max_messages: 100,
            discard: async_nats::jetstream::stream::DiscardPolicy::Old,
            ..Default::default()
        })
        .await
        .unwrap();
    let events = Events::default();
    let _bridge = builder(&nats, &events).start();
    until("warned", Duration::from_secs(10), async || {
        events.any(|e| matches!(e, BridgeEvent::StreamLimits { .. }))
    })
    .await;
    let limits = events
        .all()
        .into_iter()
        .find_map(|e| match e {
            BridgeEvent::StreamLimits { limits, .. } => Some(limits),
            _ => None,
        })
        .unwrap();
    assert!(
        limits.contains("max_msgs=100") && limits.contains("discard old"),
        "{limits}"
    );

    // The bridge's own stream has none of these: no warning.
    let plain = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&plain, &events).start();
    bridge.do_send(room("one"));
    until("stored", Duration::from_secs(10), async || {
        stats(&bridge).await.stored == 1
    })
    .await;
    assert!(
        !events.any(|e| matches!(e, BridgeEvent::StreamLimits { .. })),
        "{:?}",
        events.all()
    );
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn during_an_outage_the_waiting_count_is_what_arrived_at_start_and_after_connecting() {
    // Down at start: every attempt says how many are waiting, and they are kept, not stuck in a
    // blocked mailbox.
    let mut nats = NatsServer::start();
    nats.kill();
    let events = Events::default();
    let bridge = builder(&nats, &events).start();
    for i in 0..250 {
        bridge.do_send(room(&format!("early-{i}")));
    }
    until("counted while down", Duration::from_secs(10), async || {
        events.any(|e| {
            matches!(
                e,
                BridgeEvent::Retrying {
                    error: NatsError::Connect { .. },
                    queued: 250,
                    ..
                }
            )
        })
    })
    .await;
    assert_eq!(stats(&bridge).await.queued, 250);

    nats.spawn();
    until("stored", Duration::from_secs(20), async || {
        stats(&bridge).await.stored == 250
    })
    .await;

    // Down after connecting.
    nats.kill();
    for i in 0..250 {
        bridge.do_send(room(&format!("late-{i}")));
    }
    until(
        "counted while down again",
        Duration::from_secs(10),
        async || events.any(|e| matches!(e, BridgeEvent::Retrying { queued: 250, .. })),
    )
    .await;
    nats.spawn();
    until("stored again", Duration::from_secs(30), async || {
        let stats = stats(&bridge).await;
        stats.queued == 0 && stats.stored + stats.duplicates == 500
    })
    .await;
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn webhook_publishes_are_refused_within_their_timeout_and_a_retry_stores_no_second_copy() {
    let nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events)
        .ack_timeout(Duration::from_secs(3))
        .publish_timeout(Duration::from_secs(1))
        .start();
    until("stored", Duration::from_secs(10), async || {
        bridge
            .send(Publish(vec![room("warm-up")]))
            .await
            .unwrap()
            .is_ok()
    })
    .await;

    // nats-server hangs: six webhooks arrive, each answered 503 within its timeout.
    nats.pause();
    let started = Instant::now();
    let refused = futures_util::future::join_all(
        (0..6).map(|i| bridge.send(Publish(vec![room(&format!("hook-{i}"))]))),
    )
    .await;
    let waited = started.elapsed();
    for answer in &refused {
        assert!(answer.as_ref().unwrap().is_err(), "{refused:?}");
    }
    assert!(
        waited < Duration::from_secs(3),
        "answered within the 1 s publish timeout (plus slack), not held for the outage: {waited:?}"
    );
    // While it cannot store, another is refused at once.
    let started = Instant::now();
    assert!(
        bridge
            .send(Publish(vec![room("hook-0")]))
            .await
            .unwrap()
            .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // It comes back; each sender retries until it gets its 200.
    nats.resume();
    for i in 0..6 {
        until("a retry answered OK", Duration::from_secs(20), async || {
            bridge
                .send(Publish(vec![room(&format!("hook-{i}"))]))
                .await
                .unwrap()
                .is_ok()
        })
        .await;
    }
    until("nothing left", Duration::from_secs(10), async || {
        stats(&bridge).await.queued == 0
    })
    .await;
    let mut stored = stored_rooms(&nats).await;
    stored.sort();
    let mut expected: Vec<String> = (0..6).map(|i| format!("hook-{i}")).collect();
    expected.push("warm-up".to_owned());
    expected.sort();
    assert_eq!(stored, expected, "one copy of each, retries or not");
}

/// A webhook refused while nats-server hung is stored once it is back; then later notifications
/// of its room are stored, and the sender's retry comes well after: JetStream's answer
/// ("duplicate" of a message older than the room's last) must not be taken for an earlier
/// repetition of the notification (which would store it a second time).
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_refused_webhook_stored_since_is_not_stored_again_by_a_late_retry() {
    let nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events)
        .ack_timeout(Duration::from_secs(3))
        .publish_timeout(Duration::from_secs(1))
        .start();
    let publish = async |notification: Notification| {
        bridge
            .send(Publish(vec![notification]))
            .await
            .unwrap()
            .is_ok()
    };
    until("stored", Duration::from_secs(10), async || {
        publish(room("warm-up")).await
    })
    .await;

    nats.pause();
    assert!(
        !publish(room("hook")).await,
        "refused while nats-server hangs"
    );
    nats.resume();
    until(
        "the refused copy stored",
        Duration::from_secs(20),
        async || stats(&bridge).await.queued == 0,
    )
    .await;
    until(
        "a later one of its room",
        Duration::from_secs(10),
        async || publish(RoomDeleted::new("hook").into()).await,
    )
    .await;
    // More than the second within which two copies are taken for one notification.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(publish(room("hook")).await, "the retry is answered OK");

    let stored = stored_kinds(&nats).await;
    assert_eq!(
        stored,
        [
            "room_created warm-up",
            "room_created hook",
            "room_deleted hook"
        ],
        "one copy of each"
    );
    let stats = stats(&bridge).await;
    assert_eq!((stats.recounted, stats.duplicates), (0, 1), "{stats:?}");
}

/// Bridge X missed a repetition Y stored, then stored a later notification of that room itself:
/// X's next copy of the repeated notification is answered "duplicate" of Y's older one, and the
/// stream is asked when that was stored, while the acknowledgements of a hundred other rooms'
/// notifications sent after it come in. The repetition is stored once more, only once, and nothing else is
/// touched by the check.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_repetition_checked_while_other_rooms_are_acknowledged_is_stored_once() {
    let nats = NatsServer::start();
    let events = Events::default();
    let (x, y) = (
        builder(&nats, &events).start(),
        builder(&nats, &events).start(),
    );
    let publish = async |bridge: &Addr<JetStreamBridge>, notifications: Vec<Notification>| {
        let answer = bridge.send(Publish(notifications)).await.unwrap();
        answer.is_ok()
    };
    for bridge in [&x, &y] {
        until("ready", Duration::from_secs(10), async || {
            publish(bridge, vec![room("warm-up")]).await
        })
        .await;
    }
    assert!(publish(&y, vec![room("a")]).await);
    assert!(publish(&x, vec![room("a")]).await);
    let repeated = Notification::from(RoomCrashed::new("a"));
    assert!(
        publish(&y, vec![repeated.clone()]).await,
        "X misses this one"
    );
    assert!(publish(&x, vec![RoomDeleted::new("a").into()]).await);
    // More than the second within which two copies are taken for one notification.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Sent in one batch: acknowledgements of other rooms' notifications before and after.
    let mut burst: Vec<Notification> = (0..100).map(|i| room(&format!("b-{i}"))).collect();
    burst.push(repeated);
    burst.extend((100..200).map(|i| room(&format!("b-{i}"))));
    assert!(publish(&x, burst).await);

    let stored = stored_kinds(&nats).await;
    let mut expected: Vec<String> = [
        "room_created warm-up",
        "room_created a",
        "room_crashed a",
        "room_deleted a",
        "room_crashed a",
    ]
    .map(String::from)
    .to_vec();
    expected.extend((0..200).map(|i| format!("room_created b-{i}")));
    // The repetition goes again after what was in flight of other rooms.
    let mut sorted = stored.clone();
    sorted[4..].sort();
    expected[4..].sort();
    assert_eq!(sorted, expected, "each once, the repetition once more");
    let stats = stats(&x).await;
    assert_eq!(stats.recounted, 1, "{stats:?}");
}

/// Bridge X's connection to the media server comes up after Y stored a notification of a room;
/// Y dies, and the same notification comes again (a repetition), to X alone. X's count of it
/// lags (it never heard the first), so its id names Y's copy: X moved its de-duplication floor to
/// the stream's end when its connection came up, so that answer is checked and the repetition
/// stored, not taken for Y's copy and lost.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_repetition_stored_by_another_bridge_before_this_one_connected_is_not_lost() {
    let nats = NatsServer::start();
    let events = Events::default();
    let (x, y) = (
        builder(&nats, &events).start(),
        builder(&nats, &events).start(),
    );
    for bridge in [&x, &y] {
        until("ready", Duration::from_secs(10), async || {
            let answer = bridge.send(Publish(vec![room("warm-up")])).await.unwrap();
            answer.is_ok()
        })
        .await;
    }
    let repeated = Notification::from(RoomCrashed::new("a"));
    let answer = y.send(Publish(vec![repeated.clone()])).await.unwrap();
    assert!(answer.is_ok(), "{answer:?}");
    // X's server connection comes up only now (its first); Y dies (it is sent nothing more).
    x.send(ConnectionEvent::Ready { gap: None }).await.unwrap();
    // More than the second within which two copies are taken for one notification.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    x.send(repeated).await.unwrap();
    until("X's copy answered", Duration::from_secs(10), async || {
        let stats = stats(&x).await;
        stats.queued == 0 && stats.stored + stats.duplicates == 2
    })
    .await;
    assert_eq!(
        stored_rooms(&nats).await,
        ["warm-up", "a", "a"],
        "the repetition stored"
    );
    assert_eq!(stats(&x).await.recounted, 1);
}

/// Credentials in `--nats` (`user:password@`, `token@`) appear nowhere the bridge or the consumer
/// says anything: not in the retry's error, not in a builder's `Debug`.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn credentials_in_the_nats_urls_are_never_said() {
    let port = nats_server::free_port();
    let url = format!("nats://alice:s3cret@127.0.0.1:{port}, nats://t0ken@127.0.0.1:{port}");
    let events = Events::default();
    let _bridge = JetStreamBridge::builder(&url)
        .retry(RetryPolicy::default().base(Duration::from_millis(50)))
        .events(events.clone().start().recipient())
        .start();
    until("a retry said", Duration::from_secs(20), async || {
        events
            .all()
            .iter()
            .any(|e| matches!(e, BridgeEvent::Retrying { .. }))
    })
    .await;
    let said = format!(
        "{:?} {}",
        events.all(),
        serde_json::to_string(&events.all()).unwrap()
    );
    assert!(said.contains("nats://***@127.0.0.1"), "{said}");
    let consumer = format!("{:?}", JetStreamConsumer::work_queue(&url, "workers"));
    assert!(consumer.contains("***@"), "{consumer}");
    for secret in ["s3cret", "alice", "t0ken"] {
        assert!(!said.contains(secret), "{secret} said: {said}");
        assert!(!consumer.contains(secret), "{secret} said: {consumer}");
    }
}

/// A second instance given a durable name already taken with another filter is not read as if it
/// were its own (it would get what the other filters, or share its work): it says why, with both
/// settings and what to do, and keeps retrying.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_durable_name_taken_with_other_settings_is_said_not_shared() {
    let nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events).start();
    until("stored", Duration::from_secs(10), async || {
        let answer = bridge.send(Publish(vec![room("lobby")])).await.unwrap();
        answer.is_ok()
    })
    .await;
    let first = JetStreamConsumer::every_notification(nats.url(), "app")
        .filter("jellyfish.*.room_created")
        .start();
    // It reads (no subscriber: the message is given back, counted).
    until("the first reads", Duration::from_secs(10), async || {
        first.send(GetConsumerStats).await.unwrap().undelivered > 0
    })
    .await;
    let second = JetStreamConsumer::every_notification(nats.url(), "app")
        .retry(RetryPolicy::default().base(Duration::from_millis(50)))
        .start();
    until(
        "the second says why not",
        Duration::from_secs(10),
        async || second.send(GetConsumerStats).await.unwrap().error.is_some(),
    )
    .await;
    let error = second.send(GetConsumerStats).await.unwrap().error.unwrap();
    assert!(
        error.contains(
            "exists with filter \"jellyfish.*.room_created\" and ack wait 30.0 s, and this instance asks for filter everything"
        ) && error.contains("nats consumer rm JELLYFISH app"),
        "{error}"
    );
    let second = second.send(GetConsumerStats).await.unwrap();
    assert_eq!((second.delivered, second.undelivered), (0, 0), "{second:?}");
    assert!(first.send(GetConsumerStats).await.unwrap().error.is_none());
}

/// Records each notification as its handling starts, then takes `busy` to handle it (on an
/// arbiter of its own).
struct Slow {
    started: std::sync::Arc<std::sync::Mutex<Vec<Notification>>>,
    busy: Duration,
}

impl Actor for Slow {
    type Context = Context<Self>;
}

impl Handler<Notification> for Slow {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        self.started.lock().unwrap().push(notification);
        std::thread::sleep(self.busy);
    }
}

/// A handler that takes longer than the ack wait keeps its message: the work-queue instance
/// handling it tells JetStream it is still at work, so the other instance is not given it too.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_handler_slower_than_the_ack_wait_keeps_its_message() {
    let nats = NatsServer::start();
    let events = Events::default();
    let bridge = builder(&nats, &events).start();
    until("stored", Duration::from_secs(10), async || {
        let answer = bridge.send(Publish(vec![room("slow")])).await.unwrap();
        answer.is_ok()
    })
    .await;
    let started = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut arbiters = Vec::new();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let arbiter = Arbiter::new();
        let started = std::sync::Arc::clone(&started);
        let slow = Slow::start_in_arbiter(&arbiter.handle(), move |_| Slow {
            started,
            busy: Duration::from_millis(2500),
        });
        let instance = JetStreamConsumer::work_queue(nats.url(), "workers")
            .ack_wait(Duration::from_secs(1))
            .start();
        let _subscription = instance
            .send(SubscribeServerNotifications(slow.recipient()))
            .await
            .unwrap();
        arbiters.push(arbiter);
        instances.push(instance);
    }
    // Handled once, 2.5 s after it was first delivered: a redelivery after the 1 s ack wait would
    // have started on the other instance long before.
    until(
        "handled and acknowledged",
        Duration::from_secs(20),
        async || {
            let mut delivered = 0;
            for instance in &instances {
                delivered += instance.send(GetConsumerStats).await.unwrap().delivered;
            }
            delivered == 1
        },
    )
    .await;
    assert_eq!(
        started.lock().unwrap().len(),
        1,
        "handled by one instance, once"
    );
    for instance in &instances {
        assert_eq!(
            instance.send(GetConsumerStats).await.unwrap().redelivered,
            0
        );
    }
}
