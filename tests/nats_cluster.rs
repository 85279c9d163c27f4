//! The JetStream bridge on a real three-node `nats-server` cluster (Debian's package) with an R3
//! stream: the stream's leader killed mid-stream and started again on its store, then a rolling
//! restart of the other two, one at a time. Every notification is stored once, each room's in
//! order, the bridge's counts are right, and it says what happened: the new leader, the
//! connection lost and made again, the retries.
//!
//! Ignored by a plain `cargo test`; `.ci/run` runs it:
//! `cargo test -p jellyfish-notifier --features nats --test nats_cluster -- --ignored`.

#[path = "common/kept.rs"]
mod kept;
#[path = "common/nats_cluster.rs"]
mod nats_cluster;
#[path = "common/nats_server.rs"]
mod nats_server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_notifier::nats::*;
use jellyfish_notifier::notification::PeerConnected;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;
use kept::Kept;
use nats_cluster::NatsCluster;

fn notification(i: usize) -> Notification {
    Notification::from(PeerConnected::new(
        format!("room-{}", i % 10),
        format!("peer-{i:05}"),
    ))
}

async fn until(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stats(bridge: &Addr<JetStreamBridge>) -> BridgeStats {
    bridge.send(GetBridgeStats).await.unwrap()
}

/// Sends notifications `from..to`, a few at a time, as a server would.
async fn send(bridge: &Addr<JetStreamBridge>, from: usize, to: usize) {
    for i in from..to {
        bridge.do_send(notification(i));
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Waits until the stream has a leader and every replica is current again.
async fn settled(cluster: &NatsCluster) -> String {
    let mut leader = String::new();
    until(
        "the stream settled",
        Duration::from_secs(60),
        async || match cluster.leader(DEFAULT_STREAM).await {
            Some((name, true)) => {
                leader = name;
                true
            }
            _ => false,
        },
    )
    .await;
    leader
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn an_r3_stream_loses_nothing_to_a_leader_crash_and_a_rolling_restart() {
    let mut cluster = NatsCluster::start(3);
    let events = Kept::<BridgeEvent>::default();
    let bridge = JetStreamBridge::builder(cluster.urls())
        .stream(StreamSettings {
            replicas: 3,
            ..StreamSettings::default()
        })
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(50))
                .cap(Duration::from_millis(500)),
        )
        .ack_timeout(Duration::from_secs(1))
        .queue_limit(1_000_000)
        .events(events.clone().start().recipient())
        .start();
    send(&bridge, 0, 100).await;
    until(
        "the first hundred stored",
        Duration::from_secs(60),
        async || stats(&bridge).await.stored >= 100,
    )
    .await;
    let leader = settled(&cluster).await;

    // The stream's leader crashes mid-stream, and comes back on its store.
    let crashed = cluster.index_of(&leader).unwrap();
    let sending = send(&bridge, 100, 300);
    let mut new_leader = String::new();
    let crash = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cluster.kill(crashed);
        // Down until another node leads the stream, then back on its store.
        until(
            "a new leader",
            Duration::from_secs(60),
            async || match cluster.leader(DEFAULT_STREAM).await {
                Some((name, _)) if name != leader => {
                    new_leader = name;
                    true
                }
                _ => false,
            },
        )
        .await;
        cluster.spawn(crashed);
    };
    tokio::join!(sending, crash);
    settled(&cluster).await;
    let elected = BridgeEvent::LeaderElected {
        stream: DEFAULT_STREAM.to_owned(),
        leader: new_leader.clone(),
    };
    until("the new leader said", Duration::from_secs(10), async || {
        events.all().contains(&elected)
    })
    .await;

    // A rolling restart of the other two, one at a time, under traffic.
    let mut next = 300;
    for node in (0..3).filter(|i| *i != crashed) {
        cluster.kill(node);
        send(&bridge, next, next + 100).await;
        next += 100;
        cluster.spawn(node);
        settled(&cluster).await;
    }
    send(&bridge, next, next + 100).await;
    let total = next + 100;

    until("everything stored", Duration::from_secs(90), async || {
        let stats = stats(&bridge).await;
        stats.queued == 0 && stats.stored + stats.duplicates == total as u64
    })
    .await;
    let stored = cluster.messages(DEFAULT_STREAM).await;
    let got: Vec<Notification> = stored
        .iter()
        .map(|m| receive_binary(&m.payload).unwrap().remove(0))
        .collect();
    let mut by_room = BTreeMap::<String, Vec<Notification>>::new();
    for n in &got {
        by_room
            .entry(n.room_id().unwrap().to_string())
            .or_default()
            .push(n.clone());
    }
    let mut expected = BTreeMap::<String, Vec<Notification>>::new();
    for i in 0..total {
        let n = notification(i);
        expected
            .entry(n.room_id().unwrap().to_string())
            .or_default()
            .push(n);
    }
    assert_eq!(got.len(), total, "each once");
    // Every notification once, and each room's in the order sent: a room's next publish waits
    // until the one before it is stored, so one lost with a node is sent again first.
    assert_eq!(
        by_room, expected,
        "every notification once, each room in order"
    );
    let stats = stats(&bridge).await;
    // What was stored but whose ack was lost with a node is acked as a duplicate when sent again.
    assert_eq!(stats.stored + stats.duplicates, total as u64, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    let said = events.all();
    let count = |what: fn(&BridgeEvent) -> bool| said.iter().filter(|e| what(e)).count();
    let retried = count(|e| matches!(e, BridgeEvent::Retrying { .. }));
    let leaders = count(|e| matches!(e, BridgeEvent::LeaderElected { .. }));
    let lost = count(|e| matches!(e, BridgeEvent::Disconnected { .. }));
    let reconnected = count(|e| matches!(e, BridgeEvent::Reconnected { .. }));
    // Every node was killed once, the bridge's own among them: it lost it and connected again.
    assert!(lost >= 1 && reconnected >= 1, "{said:?}");
    println!(
        "R3 on three nodes, leader n{crashed} killed and two rolling restarts: {total} notifications stored once, each room in order; said: retries {retried}, leaders elected {leaders}, connections lost {lost} and made again {reconnected}; {} duplicates acked",
        stats.duplicates
    );
}
