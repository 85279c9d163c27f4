//! NATS JetStream, each beside its baseline in the same run, against a real `nats-server` (Debian's
//! package) on loopback:
//!
//! - bridge throughput: `JetStreamBridge` publishing N notifications one at a time (window 1) and
//!   with its default window of acknowledgements in flight, each against bare `async-nats`
//!   publishing the same bytes and headers the same way (one at a time; the same window, in order);
//! - consumer to handler: `JetStreamConsumer` delivering N stored notifications to a
//!   `Handler<Notification>` (decode, deliver, wait for the handler, ack), against a bare
//!   `async-nats` pull consumer that acks each message;
//! - end to end at 1 000/s: server → `WsNotifier` → bridge → NATS → consumer → handler, p50/p99,
//!   beside the same notifications' direct path (server → `WsNotifier` → handler), in the same run.
//!
//! `cargo bench --bench nats --features nats` (a table; `-- --test` runs a quick pass). Without
//! `nats-server` on the PATH it says so and measures nothing.

#[path = "../tests/common/nats_server.rs"]
mod nats_server;
#[path = "common/remote.rs"]
mod remote;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::StreamExt as _;
use jellyfish_emulator::{firehose_notification, unix_nanos};
use jellyfish_notifier::nats::*;
use jellyfish_notifier::*;
use nats_server::NatsServer;
use remote::RemoteEmulator;

/// Counts what it handles; with a clock, records the latency from the build time in the room id.
struct Sink {
    handled: Rc<RefCell<Vec<u64>>>,
}

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Notification> for Sink {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        let sent = notification
            .room_id()
            .and_then(|room| room.split('@').nth(1)?.parse::<u128>().ok())
            .unwrap_or(0);
        self.handled
            .borrow_mut()
            .push(unix_nanos().saturating_sub(sent) as u64);
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 120 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn per_second(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    Duration::from_nanos(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

/// The window of publishes in flight: the bridge's default, and the bare baseline's.
const WINDOW: usize = 256;

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    if std::process::Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("nats: skipped, no nats-server on the PATH (apt-get install nats-server)");
        return;
    }
    let n: usize = if quick { 200 } else { 20_000 };
    let system = System::new();
    let nats = NatsServer::start();
    let url = nats.url();
    let notifications: Vec<Notification> = (0..n as u64).map(firehose_notification).collect();

    let results = system.block_on(async {
        // Baseline: bare async-nats, the same bytes, subjects and headers, one acked publish at a time.
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: "BARE".to_owned(),
                subjects: vec!["bare.>".to_owned()],
                ..Default::default()
            })
            .await
            .unwrap();
        let messages: Vec<(String, async_nats::HeaderMap, bytes::Bytes)> = notifications
            .iter()
            .enumerate()
            .map(|(i, notification)| {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(KIND_HEADER, notification.kind());
                headers.insert("Nats-Msg-Id", format!("bare-{i}").as_str());
                (
                    notification_subject("bare", notification),
                    headers,
                    bytes::Bytes::from(notification.encode().unwrap()),
                )
            })
            .collect();
        let start = Instant::now();
        for (subject, headers, body) in messages {
            jetstream
                .publish_with_headers(subject, headers, body)
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let bare_publish = start.elapsed();

        // Baseline: bare async-nats with a window of WINDOW acknowledgements outstanding, in
        // order on one connection: what the bridge does.
        jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: "BAREW".to_owned(),
                subjects: vec!["barew.>".to_owned()],
                ..Default::default()
            })
            .await
            .unwrap();
        let windowed: Vec<_> = notifications
            .iter()
            .enumerate()
            .map(|(i, notification)| {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(KIND_HEADER, notification.kind());
                headers.insert("Nats-Msg-Id", format!("barew-{i}").as_str());
                (
                    notification_subject("barew", notification),
                    headers,
                    bytes::Bytes::from(notification.encode().unwrap()),
                )
            })
            .collect();
        let start = Instant::now();
        let mut pending = std::collections::VecDeque::new();
        for (subject, headers, body) in windowed {
            pending.push_back(
                jetstream
                    .publish_with_headers(subject, headers, body)
                    .await
                    .unwrap(),
            );
            if pending.len() >= WINDOW {
                pending.pop_front().unwrap().await.unwrap();
            }
        }
        for ack in pending {
            ack.await.unwrap();
        }
        let bare_windowed = start.elapsed();

        // The bridge: one at a time (window 1), then with its default window.
        let mut bridge_runs = Vec::new();
        for (window, prefix, stream) in [(1, "one", "ONE"), (WINDOW, "win", "WIN")] {
            let bridge = JetStreamBridge::builder(url.as_str())
                .prefix(prefix)
                .stream(StreamSettings {
                    name: stream.to_owned(),
                    ..StreamSettings::default()
                })
                .window(window)
                .start();
            tokio::time::sleep(Duration::from_millis(300)).await; // connected, stream created
            let start = Instant::now();
            for notification in &notifications {
                bridge.do_send(notification.clone());
            }
            loop {
                let stats = bridge.send(GetBridgeStats).await.unwrap();
                if stats.stored as usize >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            bridge_runs.push(start.elapsed());
        }
        let (bridge_publish, bridge_windowed) = (bridge_runs[0], bridge_runs[1]);

        // Baseline: a bare pull consumer reading the bare stream, acking each message.
        let stream = jetstream.get_stream("BARE").await.unwrap();
        let consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                "bare",
                async_nats::jetstream::consumer::pull::Config {
                    durable_name: Some("bare".to_owned()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut read = consumer.messages().await.unwrap();
        // Timed from the first message on, as the consumer below: connecting is not reading.
        let first = read.next().await.unwrap().unwrap();
        first.ack().await.unwrap();
        let start = Instant::now();
        for _ in 1..n {
            let message = read.next().await.unwrap().unwrap();
            message.ack().await.unwrap();
        }
        let bare_consume = start.elapsed();

        // The consumer, to a handler.
        let handled = Rc::new(RefCell::new(Vec::new()));
        let consumer = JetStreamConsumer::builder(url.as_str(), "bench")
            .stream("WIN")
            .start();
        let _subscription = consumer
            .send(SubscribeServerNotifications(
                Sink {
                    handled: Rc::clone(&handled),
                }
                .start()
                .recipient(),
            ))
            .await
            .unwrap();
        wait_for("the first delivery", || !handled.borrow().is_empty()).await;
        let start = Instant::now();
        wait_for("the consumer delivered", || handled.borrow().len() >= n).await;
        let consume = start.elapsed();
        (
            bare_publish,
            bridge_publish,
            bare_windowed,
            bridge_windowed,
            bare_consume,
            consume,
        )
    });
    let (bare_publish, bridge_publish, bare_windowed, bridge_windowed, bare_consume, consume) =
        results;

    // End to end at a fixed rate, beside the direct path.
    let emulator = RemoteEmulator::start();
    let total: u64 = if quick { 200 } else { 5_000 };
    let rate: u64 = 1_000;
    let (direct, through) = system.block_on(async {
        let direct = Rc::new(RefCell::new(Vec::new()));
        let through = Rc::new(RefCell::new(Vec::new()));
        let bridge = JetStreamBridge::builder(url.as_str())
            .prefix("e2e")
            .stream(StreamSettings {
                name: "E2E".to_owned(),
                ..StreamSettings::default()
            })
            .start();
        let notifier = WsNotifier::builder(emulator.address.as_str(), "development")
            .subscribe_notifications(bridge.recipient())
            .subscribe_notifications(
                Sink {
                    handled: Rc::clone(&direct),
                }
                .start()
                .recipient(),
            )
            .start();
        notifier.send(WaitReady).await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await; // the bridge made its stream
        let consumer = JetStreamConsumer::builder(url.as_str(), "e2e")
            .stream("E2E")
            .start();
        let _subscription = consumer
            .send(SubscribeServerNotifications(
                Sink {
                    handled: Rc::clone(&through),
                }
                .start()
                .recipient(),
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        emulator.spawn(move |emulator| async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let (mut sent, mut ms) = (0u64, 0u64);
            while sent < total {
                tick.tick().await;
                ms += 1;
                while sent < (rate * ms / 1000).min(total) {
                    emulator.push_notification(&firehose_notification(sent));
                    sent += 1;
                }
            }
        });
        wait_for("through NATS", || through.borrow().len() as u64 >= total).await;
        (direct.take(), through.take())
    });
    let (mut direct, mut through) = (direct, through);
    direct.sort_unstable();
    through.sort_unstable();

    println!("nats: {n} notifications per throughput run; end to end {total} at {rate}/s");
    println!("{:<58} {:>12} {:>8}", "", "per second", "ratio");
    println!(
        "{:<58} {:>12.0} {:>7.2}×",
        "bare async-nats: publish + ack, one at a time (baseline)",
        per_second(n, bare_publish),
        1.0
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}×",
        "JetStreamBridge: window 1 (one at a time)",
        per_second(n, bridge_publish),
        per_second(n, bridge_publish) / per_second(n, bare_publish)
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}×",
        format!("bare async-nats: {WINDOW} acks in flight, in order (baseline)"),
        per_second(n, bare_windowed),
        1.0
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}×",
        format!("JetStreamBridge: window {WINDOW} (the default)"),
        per_second(n, bridge_windowed),
        per_second(n, bridge_windowed) / per_second(n, bare_windowed)
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}×",
        "bare async-nats pull consumer: read + ack (baseline)",
        per_second(n - 1, bare_consume),
        1.0
    );
    println!(
        "{:<58} {:>12.0} {:>7.2}×",
        "JetStreamConsumer: read, decode, handler, ack",
        per_second(n - 1, consume),
        per_second(n - 1, consume) / per_second(n - 1, bare_consume)
    );
    println!(
        "end to end at {rate}/s: direct (server → WsNotifier → handler) p50 {:?} p99 {:?}; through NATS (→ bridge → JetStream → consumer → handler) p50 {:?} p99 {:?}",
        percentile(&direct, 0.5),
        percentile(&direct, 0.99),
        percentile(&through, 0.5),
        percentile(&through, 0.99)
    );
    drop(nats);
}
