//! The retry supervisor as each component that takes a [`RetryPolicy`] drives it: the attempt
//! limit honoured (the NATS bridge and consumer stop and say so), and the reset rule (a request
//! that succeeded, a connection that lasted, starts the count over).
//!
//! The attempt-limit tests need no server (nothing listens on their port). The reset-rule tests
//! run a real `nats-server` (Debian's package) and are ignored by a plain `cargo test`; `.ci/run`
//! runs them: `cargo test -p jellyfish-notifier --features nats --test supervisor -- --ignored`.

#[path = "common/kept.rs"]
mod kept;
#[path = "common/nats_server.rs"]
mod nats_server;

use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_notifier::nats::*;
use jellyfish_notifier::notification::RoomCreated;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;
use kept::Kept;
use nats_server::{NatsServer, free_port};

fn quick(limit: u32) -> RetryPolicy {
    RetryPolicy::default()
        .base(Duration::from_millis(20))
        .cap(Duration::from_millis(50))
        .max_attempts(Some(limit))
}

async fn until(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn room(name: &str) -> Notification {
    Notification::from(RoomCreated::new(name))
}

#[actix::test]
async fn a_bridge_gives_up_at_its_attempt_limit_and_says_what_it_leaves() {
    let events = Kept::<BridgeEvent>::default();
    let bridge = JetStreamBridge::builder(format!("nats://127.0.0.1:{}", free_port()))
        .retry(quick(3))
        .ack_timeout(Duration::from_millis(200))
        .events(events.clone().start().recipient())
        .start();
    bridge.do_send(room("kept"));
    until("the bridge stopped", Duration::from_secs(30), async || {
        !bridge.connected()
    })
    .await;
    let said = events.all();
    let retries = said
        .iter()
        .filter(|e| matches!(e, BridgeEvent::Retrying { .. }))
        .count();
    assert_eq!(retries, 2, "two waits before the third failure: {said:?}");
    match said.last() {
        Some(BridgeEvent::GaveUp {
            attempts: 3,
            error: NatsError::Connect { .. },
            unpublished: 1,
        }) => {}
        other => panic!("the last event says it gave up: {other:?} in {said:?}"),
    }
}

#[actix::test]
async fn a_consumer_gives_up_at_its_attempt_limit() {
    let consumer =
        JetStreamConsumer::every_notification(format!("nats://127.0.0.1:{}", free_port()), "x")
            .retry(quick(2))
            .start();
    until(
        "the consumer stopped",
        Duration::from_secs(30),
        async || !consumer.connected(),
    )
    .await;
}

/// Two outages, each failing one publish; a stored message between them starts the count over,
/// so a limit of two is never reached. (Without the reset the second failure would be the
/// second in a row: the bridge would give up.)
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_stored_message_starts_the_bridges_count_over() {
    let nats = NatsServer::start();
    let events = Kept::<BridgeEvent>::default();
    let bridge = JetStreamBridge::builder(nats.url())
        .retry(quick(2))
        .ack_timeout(Duration::from_millis(300))
        .events(events.clone().start().recipient())
        .start();
    let stored = async || bridge.send(GetBridgeStats).await.unwrap();
    bridge.do_send(room("first"));
    until("the first stored", Duration::from_secs(10), async || {
        stored().await.stored == 1
    })
    .await;
    for outage in 1..=2 {
        nats.pause();
        bridge.do_send(room(&format!("during outage {outage}")));
        until("the failure said", Duration::from_secs(10), async || {
            events
                .all()
                .iter()
                .filter(|e| matches!(e, BridgeEvent::Retrying { .. }))
                .count()
                == outage
        })
        .await;
        nats.resume();
        until(
            "stored after the outage",
            Duration::from_secs(10),
            async || {
                let stats = stored().await;
                stats.stored + stats.duplicates > outage as u64 && stats.queued == 0
            },
        )
        .await;
    }
    assert!(bridge.connected(), "the bridge did not give up");
    let said = events.all();
    assert!(
        !said.iter().any(|e| matches!(e, BridgeEvent::GaveUp { .. })),
        "{said:?}"
    );
}

/// The durable consumer deleted under a reading consumer fails one read, and it opens it again
/// at once. Deleted again only after it read for `reset_after`, the count started over: a limit
/// of two is never reached. Deleted twice within `reset_after`, the second failure is the second
/// in a row: it gives up.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_consumer_that_read_for_reset_after_starts_its_count_over() {
    let nats = NatsServer::start();
    // The stream, made by a bridge.
    let bridge = JetStreamBridge::builder(nats.url()).start();
    bridge.do_send(room("made"));
    until("the stream made", Duration::from_secs(10), async || {
        bridge.send(GetBridgeStats).await.unwrap().stored == 1
    })
    .await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let reset_after = Duration::from_millis(300);
    let policy = quick(2).reset_after(reset_after);
    let start = |name: &'static str| {
        JetStreamConsumer::every_notification(nats.url(), name)
            .retry(policy)
            .start()
    };
    // Each deletion is seen (the durable made again by the consumer) before the next.
    let deleted_and_made_again = async |name: &str| {
        let stream = jetstream.get_stream(DEFAULT_STREAM).await.unwrap();
        until("the durable made", Duration::from_secs(10), async || {
            stream.consumer_info(name).await.is_ok()
        })
        .await;
        let created = stream.consumer_info(name).await.unwrap().created;
        stream.delete_consumer(name).await.unwrap();
        until(
            "the durable made again",
            Duration::from_secs(10),
            async || matches!(stream.consumer_info(name).await, Ok(info) if info.created != created),
        )
        .await;
    };

    let lasting = start("lasting");
    for _ in 0..3 {
        deleted_and_made_again("lasting").await;
        // Reading for reset_after is the condition the rule tells apart: no event stands for
        // "this long has passed".
        tokio::time::sleep(reset_after * 2).await;
    }
    assert!(lasting.connected(), "a consumer whose reads lasted gave up");

    let hasty = start("hasty");
    deleted_and_made_again("hasty").await;
    let stream = jetstream.get_stream(DEFAULT_STREAM).await.unwrap();
    until("the durable made", Duration::from_secs(10), async || {
        stream.consumer_info("hasty").await.is_ok()
    })
    .await;
    stream.delete_consumer("hasty").await.unwrap();
    until(
        "the consumer gave up on the second failure in a row",
        Duration::from_secs(10),
        async || !hasty.connected(),
    )
    .await;
}
