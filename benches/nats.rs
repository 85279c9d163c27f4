//! NATS JetStream, each beside its baseline in the same run, against a real `nats-server` (Debian's
//! package) on loopback:
//!
//! - bridge throughput: `JetStreamBridge` publishing N notifications one at a time (window 1) and
//!   with its default window of acknowledgements in flight, each against bare `async-nats`
//!   publishing the same bytes and headers the same way (one at a time; the same window, in order);
//!   the firehose's notifications each have a room of their own, so the bridge's window fills;
//! - the same bridge with the same notifications in 16 busy rooms, and in one: a room's next
//!   publish waits until the one before it is stored (one per room in flight), against the bare
//!   window and the bare one-at-a-time baseline;
//! - consumer to handler: `JetStreamConsumer` delivering N stored notifications to a
//!   `Handler<Notification>` (decode, deliver, wait for the handler, ack), against a bare
//!   `async-nats` pull consumer that acks each message;
//! - both on one server (streams of one replica), then on a three-node cluster on loopback
//!   (streams of three replicas, each run talking to its stream's leader);
//! - end to end at 1 000/s: server → `WsNotifier` → bridge → NATS → consumer → handler, p50/p99,
//!   beside the same notifications' direct path (server → `WsNotifier` → handler), in the same run.
//!
//! `cargo bench --bench nats --features nats` (a table; `-- --test` runs a quick pass). Without
//! `nats-server` on the PATH it says so and measures nothing.

#[path = "../tests/common/nats_cluster.rs"]
mod nats_cluster;
#[path = "../tests/common/nats_server.rs"]
mod nats_server;
#[path = "common/remote.rs"]
mod remote;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::StreamExt as _;
use jellyfish_emulator::{firehose_notification, firehose_notification_in, unix_nanos};
use jellyfish_notifier::nats::*;
use jellyfish_notifier::*;
use nats_cluster::NatsCluster;
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

/// A `JetStreamConsumer` of `durable` on `stream` delivering to a [`Sink`] into `handled`; both
/// are kept while the answer lives.
async fn consumer_into(
    url: &str,
    durable: &str,
    stream: &str,
    handled: &Rc<RefCell<Vec<u64>>>,
) -> (Addr<JetStreamConsumer>, Subscription) {
    let consumer = JetStreamConsumer::builder(url, durable)
        .stream(stream)
        .start();
    let sink = Sink {
        handled: Rc::clone(handled),
    };
    let subscription = consumer
        .send(SubscribeServerNotifications(sink.start().recipient()))
        .await
        .unwrap();
    (consumer, subscription)
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

/// Where throughput runs publish and read.
#[derive(Clone, Copy)]
enum Place {
    /// One server: streams of one replica.
    One,
    /// A three-node cluster: streams of three replicas (what a cluster user runs).
    Cluster,
}

/// A fresh server, or cluster, for one run: no run pays for what another stored.
enum Servers {
    One(NatsServer),
    Cluster(NatsCluster),
}

impl Servers {
    fn start(place: Place) -> Self {
        match place {
            Place::One => Servers::One(NatsServer::start()),
            Place::Cluster => Servers::Cluster(NatsCluster::start(3)),
        }
    }

    fn replicas(&self) -> usize {
        match self {
            Servers::One(_) => 1,
            Servers::Cluster(_) => 3,
        }
    }

    /// Creates `name` (subjects `<prefix>.>`) with the bridge's own stream settings and answers
    /// the URL to publish and read it through: the server, or the node leading it on the
    /// cluster (so that every run talks to its stream's leader, not through a route).
    async fn stream(&self, name: &str, prefix: &str) -> String {
        let any = match self {
            Servers::One(server) => server.url(),
            Servers::Cluster(cluster) => cluster.urls(),
        };
        let client = async_nats::connect(any.split(',').collect::<Vec<_>>())
            .await
            .unwrap();
        let jetstream = async_nats::jetstream::new(client);
        let settings = StreamSettings::default();
        let config = async_nats::jetstream::stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{prefix}.>")],
            max_age: settings.max_age,
            duplicate_window: settings.duplicate_window,
            num_replicas: self.replicas(),
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        };
        // A fresh cluster elects its JetStream leader first: retried until it takes streams.
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Err(error) = jetstream.create_stream(config.clone()).await {
            assert!(Instant::now() < deadline, "stream {name}: {error}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.leader_url(name).await
    }

    /// Creates the durable pull consumer `durable` on `stream` as `JetStreamConsumer` makes it
    /// (explicit acks, its default 30 s `ack_wait`) and answers the URL of the node leading it
    /// (of the server, on one): a consumer's reads and acks go to its own leader, which the
    /// cluster places apart from the stream's, so each reader talks to its consumer's leader.
    async fn consumer(&self, stream: &str, durable: &str) -> String {
        let url = self.leader_url(stream).await;
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = jetstream
            .get_stream(stream)
            .await
            .unwrap()
            .get_or_create_consumer(
                durable,
                async_nats::jetstream::consumer::pull::Config {
                    durable_name: Some(durable.to_owned()),
                    ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let Servers::Cluster(cluster) = self else {
            return url;
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let info = consumer.info().await.unwrap();
            let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
            if let Some(node) = leader.and_then(|leader| cluster.index_of(&leader)) {
                return cluster.url(node);
            }
            assert!(Instant::now() < deadline, "consumer {durable}: no leader");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The URL of the node leading `stream` (of the server, on one).
    async fn leader_url(&self, stream: &str) -> String {
        let cluster = match self {
            Servers::One(server) => return server.url(),
            Servers::Cluster(cluster) => cluster,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((leader, true)) = cluster.leader(stream).await {
                return cluster.url(cluster.index_of(&leader).unwrap());
            }
            assert!(Instant::now() < deadline, "stream {stream}: no leader");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One place's throughput runs, each beside its baseline.
struct Figures {
    bare_one: Duration,
    bridge_one: Duration,
    bare_windowed: Duration,
    bridge_windowed: Duration,
    bridge_rooms: Duration,
    bridge_one_room: Duration,
    bare_consume: Duration,
    consume: Duration,
}

impl Figures {
    fn print(&self, n: usize, place: &str) {
        let row = |what: String, took: Duration, baseline: Duration, count: usize| {
            println!(
                "{what:<58} {:>12.0} {:>7.2}×",
                per_second(count, took),
                per_second(count, took) / per_second(count, baseline)
            );
        };
        println!("{place}:");
        let base = |what: &str| format!("  bare async-nats: {what} (baseline)");
        row(
            base("publish + ack, one at a time"),
            self.bare_one,
            self.bare_one,
            n,
        );
        row(
            "  JetStreamBridge: window 1 (one at a time)".into(),
            self.bridge_one,
            self.bare_one,
            n,
        );
        row(
            base(&format!("{WINDOW} acks in flight, in order")),
            self.bare_windowed,
            self.bare_windowed,
            n,
        );
        row(
            format!("  JetStreamBridge: window {WINDOW} (the default), a room each"),
            self.bridge_windowed,
            self.bare_windowed,
            n,
        );
        row(
            format!("  JetStreamBridge: window {WINDOW}, {ROOMS} busy rooms"),
            self.bridge_rooms,
            self.bare_windowed,
            n,
        );
        row(
            "  JetStreamBridge: one busy room (vs one at a time)".into(),
            self.bridge_one_room,
            self.bare_one,
            n,
        );
        row(
            base("pull consumer, read + ack"),
            self.bare_consume,
            self.bare_consume,
            n - 1,
        );
        row(
            "  JetStreamConsumer: read, decode, handler, ack".into(),
            self.consume,
            self.bare_consume,
            n - 1,
        );
    }
}

/// The same bytes, subject and headers the bridge publishes for each notification, made before
/// the clock starts (ids `<prefix>-<i>`).
fn prepared(
    notifications: &[Notification],
    prefix: &str,
) -> Vec<(String, async_nats::HeaderMap, bytes::Bytes)> {
    notifications
        .iter()
        .enumerate()
        .map(|(i, notification)| {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(KIND_HEADER, notification.kind());
            if let Some(room) = notification.room_id() {
                headers.insert(ROOM_HEADER, room.as_str());
            }
            headers.insert("Nats-Msg-Id", format!("{prefix}-{i}").as_str());
            (
                notification_subject(prefix, notification),
                headers,
                bytes::Bytes::from(notification.encode().unwrap()),
            )
        })
        .collect()
}

/// The throughput runs of one place; each runs in a process of its own (this benchmark run again
/// with `--run <place> <run>`) on a fresh server or cluster, so that none inherits another's
/// heap or stored messages. A consumer reads what its run stored.
const RUNS: [&str; 5] = [
    "bare",
    "bare-windowed",
    "bridge-one",
    "bridge-windowed",
    "bridge-rooms",
];

/// The busy rooms of the rooms run: the bridge keeps one publish per room in flight.
const ROOMS: u64 = 16;

/// How many times every run is made (the figures are medians): one run of 20 000 notifications
/// takes a fifth of a second, short enough for the machine's noise to move it by a tenth.
const ROUNDS: usize = 5;

/// Runs `run` at `place` in a process of its own and answers its timings, by name.
fn in_own_process(place: &str, run: &str, quick: bool) -> Vec<(String, Duration)> {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args(["--run", place, run]);
    if quick {
        command.arg("--test");
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "run {place} {run}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("timing ")?.split(' ');
            let name = words.next()?.to_owned();
            let nanos = words.next()?.parse().ok()?;
            Some((name, Duration::from_nanos(nanos)))
        })
        .collect()
}

/// One throughput run at `place` (see [`RUNS`]), its timings printed as `timing <name> <ns>`.
/// Every publisher is handed its input before the clock starts: bare async-nats its bytes,
/// subjects and headers, the bridge its notifications (owned, as a notifier hands them over);
/// the bridge encodes, hashes the de-duplication id and builds the headers inside the clock.
async fn run(place: Place, run: &str, notifications: &[Notification]) {
    let n = notifications.len();
    let servers = Servers::start(place);
    let timing = |name: &str, took: Duration| println!("timing {name} {}", took.as_nanos());
    let jetstream_at = async |url: String| {
        async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap())
    };
    match run {
        "bare" => {
            // Baseline: bare async-nats, one acked publish at a time.
            let jetstream = jetstream_at(servers.stream("BARE", "bare").await).await;
            let messages = prepared(notifications, "bare");
            let start = Instant::now();
            for (subject, headers, body) in messages {
                jetstream
                    .publish_with_headers(subject, headers, body)
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
            timing("bare_one", start.elapsed());

            // Baseline: a bare pull consumer reading what that stored, acking each message.
            let reader = jetstream_at(servers.consumer("BARE", "bare").await).await;
            let stream = reader.get_stream("BARE").await.unwrap();
            let consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer("bare").await.unwrap();
            let mut read = consumer.messages().await.unwrap();
            // Timed from the first message on, as the consumer below: connecting is not reading.
            let first = read.next().await.unwrap().unwrap();
            first.ack().await.unwrap();
            let start = Instant::now();
            for _ in 1..n {
                let message = read.next().await.unwrap().unwrap();
                message.ack().await.unwrap();
            }
            timing("bare_consume", start.elapsed());
        }
        "bare-windowed" => {
            // Baseline: bare async-nats with a window of WINDOW acknowledgements outstanding, in
            // order on one connection: what the bridge does.
            let windowed = jetstream_at(servers.stream("BAREW", "barew").await).await;
            let messages = prepared(notifications, "barew");
            let start = Instant::now();
            let mut pending = std::collections::VecDeque::new();
            for (subject, headers, body) in messages {
                pending.push_back(
                    windowed
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
            timing("bare_windowed", start.elapsed());
        }
        "bridge-one" | "bridge-windowed" => {
            let (window, prefix, stream) = match run {
                "bridge-one" => (1, "one", "ONE"),
                _ => (WINDOW, "win", "WIN"),
            };
            let took = bridge_timed(&servers, window, prefix, stream, notifications.to_vec()).await;
            timing(
                if window == 1 {
                    "bridge_one"
                } else {
                    "bridge_windowed"
                },
                took,
            );
            if window == 1 {
                return;
            }

            // The consumer, to a handler, on the stream the windowed bridge filled.
            let handled = Rc::new(RefCell::new(Vec::new()));
            let url = servers.consumer(stream, "bench").await;
            let _consumer = consumer_into(&url, "bench", stream, &handled).await;
            wait_for("the first delivery", || !handled.borrow().is_empty()).await;
            let start = Instant::now();
            wait_for("the consumer delivered", || handled.borrow().len() >= n).await;
            timing("consume", start.elapsed());
        }
        "bridge-rooms" => {
            // The same notifications in a few busy rooms: one publish per room in flight.
            for (rooms, name, prefix, stream) in [
                (ROOMS, "bridge_rooms", "rooms", "ROOMS"),
                (1, "bridge_one_room", "oneroom", "ONEROOM"),
            ] {
                let in_rooms = (0..n as u64)
                    .map(|i| firehose_notification_in(i, format!("busy-{}", i % rooms)))
                    .collect();
                timing(
                    name,
                    bridge_timed(&servers, WINDOW, prefix, stream, in_rooms).await,
                );
            }
        }
        other => panic!("no run {other}"),
    }
}

/// How long a bridge with `window` takes to store `notifications` (handed over owned, as a
/// notifier hands them) in a new stream `stream` on `<prefix>.>`.
async fn bridge_timed(
    servers: &Servers,
    window: usize,
    prefix: &str,
    stream: &str,
    notifications: Vec<Notification>,
) -> Duration {
    let n = notifications.len();
    let url = servers.stream(stream, prefix).await;
    let bridge = JetStreamBridge::builder(url)
        .prefix(prefix)
        .stream(StreamSettings {
            name: stream.to_owned(),
            replicas: servers.replicas(),
            ..StreamSettings::default()
        })
        .window(window)
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await; // connected, stream found
    let start = Instant::now();
    for notification in notifications {
        bridge.do_send(notification);
    }
    loop {
        let stats = bridge.send(GetBridgeStats).await.unwrap();
        if stats.stored as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    start.elapsed()
}

/// Every run of `place`, each in a process of its own, all of them `ROUNDS` times in turn (once
/// in a quick pass); each figure is the median of its rounds, and the windowed publishers' every
/// round is printed too.
fn throughput(place: &str, quick: bool) -> Figures {
    let rounds = if quick { 1 } else { ROUNDS };
    let mut timings: std::collections::HashMap<String, Vec<Duration>> = Default::default();
    for _ in 0..rounds {
        for run in RUNS {
            for (name, took) in in_own_process(place, run, quick) {
                timings.entry(name).or_default().push(took);
            }
        }
    }
    let n = if quick { 200 } else { 20_000 };
    for name in ["bare_windowed", "bridge_windowed"] {
        let each: Vec<String> = timings[name]
            .iter()
            .map(|took| format!("{:.0}", per_second(n, *took)))
            .collect();
        println!("{place}: {name}, each round: {}/s", each.join(", "));
    }
    let took = |name: &str| {
        let mut all = timings[name].clone();
        all.sort_unstable();
        all[all.len() / 2]
    };
    Figures {
        bare_one: took("bare_one"),
        bridge_one: took("bridge_one"),
        bare_windowed: took("bare_windowed"),
        bridge_windowed: took("bridge_windowed"),
        bridge_rooms: took("bridge_rooms"),
        bridge_one_room: took("bridge_one_room"),
        bare_consume: took("bare_consume"),
        consume: took("consume"),
    }
}

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
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--run") {
        let place = match args[at + 1].as_str() {
            "one" => Place::One,
            _ => Place::Cluster,
        };
        let notifications: Vec<Notification> = (0..n as u64).map(firehose_notification).collect();
        system.block_on(run(place, &args[at + 2], &notifications));
        return;
    }
    let one = throughput("one", quick);
    let on_cluster = throughput("cluster", quick);

    // End to end at a fixed rate, beside the direct path.
    let nats = NatsServer::start();
    let url = nats.url();
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
        let _consumer = consumer_into(&url, "e2e", "E2E", &through).await;
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
    one.print(n, "one server");
    on_cluster.print(n, "three-node cluster, R3 streams");
    println!(
        "end to end at {rate}/s: direct (server → WsNotifier → handler) p50 {:?} p99 {:?}; through NATS (→ bridge → JetStream → consumer → handler) p50 {:?} p99 {:?}",
        percentile(&direct, 0.5),
        percentile(&direct, 0.99),
        percentile(&through, 0.5),
        percentile(&through, 0.99)
    );
    drop(nats);
}
