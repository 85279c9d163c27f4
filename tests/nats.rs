//! The NATS JetStream bridge and consumer against a real `nats-server` (Debian's package) on a free
//! loopback port with a store of its own, and the emulator.
//!
//! Ignored by a plain `cargo test` (a fresh machine has no nats-server); `.ci/run` installs it and
//! runs them: `cargo test -p jellyfish-notifier --features nats --test nats -- --ignored`.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_emulator::{Emulator, LifecycleConfig};
use jellyfish_notifier::nats::*;
use jellyfish_notifier::*;

/// A `nats-server -js` on a free port, with its store in a temporary folder; killed on drop.
struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store =
            std::env::temp_dir().join(format!("jellyfish-nats-{}-{port}", std::process::id()));
        let mut server = Self {
            port,
            store,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (apt-get install nats-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no goodbye, as a crash.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Every message of the stream, in order.
    async fn messages(&self) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let client = async_nats::connect(self.url()).await.expect("connect");
        let jetstream = async_nats::jetstream::new(client);
        let mut stream = jetstream
            .get_stream(DEFAULT_STREAM)
            .await
            .expect("the stream");
        let last = stream.info().await.expect("info").state.last_sequence;
        let mut all = Vec::new();
        for sequence in 1..=last {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                all.push(message);
            }
        }
        all
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

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
            Backoff::default()
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

/// Two bridges on the same server and stream: each notification stored once; then one is killed
/// mid-stream and the other still stores everything.
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn two_bridges_store_each_notification_once_and_either_may_die() {
    let nats = NatsServer::start();
    let emulator = emulator().await;
    let (first_notifier, first) = bridged(&emulator, &nats).await;
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

    // Kill the first bridge's link mid-stream (its notifier goes away), and play another round.
    let round = async {
        lifecycle(&emulator).await;
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        first_notifier.do_send(Shutdown);
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
#[actix::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn the_consumer_resumes_after_a_crash_with_nothing_lost() {
    let nats = NatsServer::start();
    let emulator = emulator().await;
    let (_notifier, bridge) = bridged(&emulator, &nats).await;
    lifecycle(&emulator).await;
    let sent: Vec<Notification> = sent_per_connection(&emulator).concat();
    until("stored", Duration::from_secs(10), async || {
        bridge.send(GetBridgeStats).await.unwrap().stored == sent.len() as u64
    })
    .await;

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
