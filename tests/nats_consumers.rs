//! `JetStreamConsumer`'s two patterns with three instances each, against a real three-node
//! `nats-server` cluster (Debian's package) with an R3 stream, one instance killed mid-stream (its arbiter stopped: its connection goes,
//! unacknowledged): a work queue, where the others get what it had not acknowledged; and instances
//! that each see everything, where the killed one, started again under its name, resumes.
//!
//! Ignored by a plain `cargo test`; `.ci/run` runs them:
//! `cargo test -p jellyfish-notifier --features nats --test nats_consumers -- --ignored`.

#[path = "common/nats_cluster.rs"]
mod nats_cluster;
#[path = "common/nats_server.rs"]
mod nats_server;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_notifier::nats::*;
use jellyfish_notifier::notification::PeerConnected;
use jellyfish_notifier::*;
use nats_cluster::NatsCluster;

const TOTAL: usize = 600;

fn notification(i: usize) -> Notification {
    Notification::from(PeerConnected::new(
        format!("room-{}", i % 10),
        format!("peer-{i:05}"),
    ))
}

/// What one instance handled, in order, slowly enough (1 ms each) that a kill lands mid-stream.
#[derive(Clone, Default)]
struct Handled(Arc<Mutex<Vec<Notification>>>);

impl Actor for Handled {
    type Context = Context<Self>;
}

impl Handler<Notification> for Handled {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        std::thread::sleep(Duration::from_millis(1));
        self.0.lock().unwrap().push(notification);
    }
}

impl Handled {
    fn all(&self) -> Vec<Notification> {
        self.0.lock().unwrap().clone()
    }
}

async fn until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A three-node cluster whose R3 stream holds `TOTAL` notifications, stored through the bridge.
async fn filled() -> NatsCluster {
    let nats = NatsCluster::start(3);
    let bridge = JetStreamBridge::builder(nats.urls())
        .stream(StreamSettings {
            replicas: 3,
            ..StreamSettings::default()
        })
        .start();
    for i in 0..TOTAL {
        bridge.do_send(notification(i));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while bridge.send(GetBridgeStats).await.unwrap().stored < TOTAL as u64 {
        assert!(Instant::now() < deadline, "the stream was not filled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nats
}

/// An instance: the consumer on an arbiter of its own (stopping it is the instance dying), and
/// what it handled.
struct Instance {
    arbiter: Arbiter,
    handled: Handled,
    consumer: Addr<JetStreamConsumer>,
}

async fn instance(builder: JetStreamConsumerBuilder) -> Instance {
    let arbiter = Arbiter::new();
    let handled = Handled::default();
    let consumer = builder
        .ack_wait(Duration::from_secs(2))
        .start_in(&arbiter.handle());
    let _subscription = consumer
        .send(SubscribeServerNotifications(
            handled.clone().start().recipient(),
        ))
        .await
        .unwrap();
    Instance {
        arbiter,
        handled,
        consumer,
    }
}

fn counts(handled: &[Vec<Notification>]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for n in handled.iter().flatten() {
        *counts.entry(format!("{n:?}")).or_default() += 1;
    }
    counts
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn a_work_queue_of_three_shares_the_notifications_and_a_killed_ones_go_to_the_others() {
    let nats = filled().await;
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(instance(JetStreamConsumer::work_queue(nats.urls(), "workers")).await);
    }
    // One that is at work dies once it has handled a few, with some unacknowledged.
    until("one at work", Duration::from_secs(30), || {
        instances.iter().any(|i| i.handled.all().len() >= 20)
    })
    .await;
    let killed = instances
        .iter()
        .position(|i| i.handled.all().len() >= 20)
        .unwrap();
    instances[killed].arbiter.stop();
    // The killed one first, then the survivors.
    instances.swap(0, killed);
    let handled_by = |instances: &[Instance]| -> Vec<Vec<Notification>> {
        instances.iter().map(|i| i.handled.all()).collect()
    };
    until(
        "every notification handled",
        Duration::from_secs(60),
        || counts(&handled_by(&instances)).len() == TOTAL,
    )
    .await;
    // Let redeliveries land, then look.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = handled_by(&instances);
    let counted = counts(&all);
    assert_eq!(counted.len(), TOTAL, "every notification handled");
    let by_killed = counts(&all[..1]);
    for (notification, times) in &counted {
        if *times > 1 {
            assert!(
                by_killed.contains_key(notification),
                "handled twice, and not because the killed one had it unacknowledged: {notification}"
            );
        }
    }
    let survivors: usize = all[1..].iter().map(Vec::len).sum();
    let mut redelivered = 0;
    for survivor in &instances[1..] {
        redelivered += survivor
            .consumer
            .send(GetConsumerStats)
            .await
            .unwrap()
            .redelivered;
    }
    assert!(
        redelivered > 0,
        "what the killed one had been sent and not acknowledged went to the others"
    );
    println!(
        "work queue of three, one killed after {} handled: survivors {} + {}, {redelivered} of them redelivered from the killed one, {} handled twice",
        all[0].len(),
        all[1].len(),
        all[2].len(),
        survivors + all[0].len() - TOTAL
    );
}

#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn instances_that_each_see_everything_get_all_of_it_and_a_killed_one_resumes() {
    let nats = filled().await;
    let expected: Vec<Notification> = (0..TOTAL).map(notification).collect();
    let mut instances = Vec::new();
    for name in ["a", "b", "c"] {
        instances.push(instance(JetStreamConsumer::every_notification(nats.urls(), name)).await);
    }
    until("a at work", Duration::from_secs(20), || {
        instances[0].handled.all().len() >= 50
    })
    .await;
    instances[0].arbiter.stop();
    let before = instances[0].handled.all();
    let again = instance(JetStreamConsumer::every_notification(nats.urls(), "a")).await;
    until("everyone has everything", Duration::from_secs(60), || {
        instances[1].handled.all().len() >= TOTAL
            && instances[2].handled.all().len() >= TOTAL
            && counts(&[before.clone(), again.handled.all()]).len() == TOTAL
    })
    .await;
    assert_eq!(
        instances[1].handled.all(),
        expected,
        "b: everything, once, in order"
    );
    assert_eq!(
        instances[2].handled.all(),
        expected,
        "c: everything, once, in order"
    );
    // a's two lives: together everything. The second gets the messages its first life never
    // saw, in order, at once; what the first had been sent but not acknowledged comes again after
    // `ack_wait`, after those (JetStream redelivers late: order holds within each part).
    let resumed = again.handled.all();
    assert_eq!(
        counts(&[before.clone(), resumed.clone()]).len(),
        TOTAL,
        "together, everything"
    );
    let index = |n: &Notification| expected.iter().position(|e| e == n).unwrap();
    let from = index(&resumed[0]);
    let (fresh, redelivered): (Vec<_>, Vec<_>) =
        resumed.iter().cloned().partition(|n| index(n) >= from);
    assert_eq!(
        fresh,
        expected[from..].to_vec(),
        "what it never saw: the rest, in order"
    );
    let again_indices: Vec<usize> = redelivered.iter().map(index).collect();
    assert!(
        again_indices.windows(2).all(|w| w[0] < w[1]),
        "the redelivered ones in order: {again_indices:?}"
    );
    assert!(
        again_indices
            .iter()
            .all(|i| *i >= before.len().saturating_sub(1) && *i < from),
        "only what the first life had not acknowledged comes again: {again_indices:?}, first life handled {}",
        before.len()
    );
    println!(
        "every notification, three instances: a killed after {}, resumed at {from}, {} redelivered after ack_wait",
        before.len(),
        redelivered.len()
    );
}
