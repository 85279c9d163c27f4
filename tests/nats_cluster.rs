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

/// How a leader is stopped.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// SIGKILL, a crash.
    Kill,
    /// SIGTERM, a graceful stop.
    Terminate,
}

/// What [`leader_goes`] saw.
struct LeaderChange {
    /// The node stopped.
    node: usize,
    old_leader: String,
    new_leader: String,
    /// When the new leader's election advisory reached a node that stayed up (as heard there).
    elected: std::time::SystemTime,
    /// Notifications `..sent_to` were sent so far.
    sent_to: usize,
}

/// The stream's leader is stopped (`stop`) while notifications keep coming from `from`, one
/// every 5 ms, until a new leader has been elected and a second has passed; then it is started
/// again on its store and the stream settles.
async fn leader_goes(
    cluster: &mut NatsCluster,
    bridge: &Addr<JetStreamBridge>,
    from: usize,
    stop: Stop,
) -> LeaderChange {
    let old_leader = settled(cluster).await;
    let node = cluster.index_of(&old_leader).unwrap();
    // Elections as heard on the nodes that stay up.
    let (elected_tx, mut elected_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut listeners = Vec::new();
    for other in (0..3).filter(|i| *i != node) {
        let client = async_nats::connect(cluster.url(other)).await.unwrap();
        let mut advisories = client
            .subscribe(format!(
                "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.{DEFAULT_STREAM}"
            ))
            .await
            .unwrap();
        client.flush().await.unwrap();
        let elected_tx = elected_tx.clone();
        listeners.push(actix::spawn(async move {
            use futures_util::StreamExt as _;
            while let Some(message) = advisories.next().await {
                let at = std::time::SystemTime::now();
                let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
                let leader = body["leader"].as_str().unwrap_or_default().to_owned();
                let _ = elected_tx.send((leader, at));
            }
            drop(client);
        }));
    }
    let sending = std::cell::Cell::new(true);
    let mut next = from;
    let steady = async {
        while sending.get() {
            bridge.do_send(notification(next));
            next += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let change = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match stop {
            Stop::Kill => cluster.kill(node),
            Stop::Terminate => cluster.terminate(node),
        }
        let (new_leader, elected) = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let (leader, at) = elected_rx.recv().await.expect("listening");
                if leader != old_leader && !leader.is_empty() {
                    return (leader, at);
                }
            }
        })
        .await
        .expect("a new leader elected within 60 s");
        // Traffic for a second after the election: what the bridge stores then says when it
        // resumed.
        tokio::time::sleep(Duration::from_secs(1)).await;
        sending.set(false);
        (new_leader, elected)
    };
    let ((), (new_leader, elected)) = tokio::join!(steady, change);
    for listener in listeners {
        listener.abort();
    }
    cluster.spawn(node);
    settled(cluster).await;
    LeaderChange {
        node,
        old_leader,
        new_leader,
        elected,
        sent_to: next,
    }
}

/// How long after `elected` (when its advisory was heard, a little after the election itself)
/// the first message stored since was stored.
fn resumed_after(
    stored: &[async_nats::jetstream::message::StreamMessage],
    elected: std::time::SystemTime,
) -> Duration {
    let elected = elected
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let first = stored
        .iter()
        .map(|m| m.time.unix_timestamp_nanos())
        .filter(|&t| t >= elected)
        .min()
        .expect("something stored after the election");
    Duration::from_nanos((first - elected).max(0) as u64)
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
    settled(&cluster).await;

    // The stream's leader crashes mid-stream (SIGKILL) and comes back on its store; then the
    // next leader is stopped gracefully (SIGTERM) and comes back. Notifications keep coming
    // meanwhile, so the first stored after each election says when the bridge resumed.
    let killed = leader_goes(&mut cluster, &bridge, 100, Stop::Kill).await;
    let terminated = leader_goes(&mut cluster, &bridge, killed.sent_to, Stop::Terminate).await;
    let crashed = killed.node;
    for change in [&killed, &terminated] {
        let elected = BridgeEvent::LeaderElected {
            stream: DEFAULT_STREAM.to_owned(),
            leader: change.new_leader.clone(),
        };
        until("the new leader said", Duration::from_secs(10), async || {
            events.all().contains(&elected)
        })
        .await;
    }

    // A rolling restart of the other two, one at a time, under traffic.
    let mut next = terminated.sent_to;
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
    // From each new leader's election to the next notification stored: the bridge resumes
    // within a round trip of the election, not after a backoff or an ack timeout.
    for (what, change) in [("SIGKILL", &killed), ("SIGTERM", &terminated)] {
        let resumed = resumed_after(&stored, change.elected);
        println!(
            "{what} of the leader {}: {} elected; the next notification stored {:.3} s after the election",
            change.old_leader,
            change.new_leader,
            resumed.as_secs_f64()
        );
        assert!(
            resumed <= Duration::from_secs(1),
            "{what}: the bridge resumed {resumed:?} after the new leader's election"
        );
    }
    println!(
        "R3 on three nodes, leader n{crashed} killed and two rolling restarts: {total} notifications stored once, each room in order; said: retries {retried}, leaders elected {leaders}, connections lost {lost} and made again {reconnected}; {} duplicates acked",
        stats.duplicates
    );
}
