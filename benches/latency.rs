//! Latency at the rates servers really send: 100, 1 000 and 10 000 notifications per second, from
//! the server building a notification to the subscriber's handler running, for `WsNotifier` with 1
//! and 100 subscribers, beside a bare awc WebSocket reader (to its read of the frame) in the same run.
//!
//! The emulator runs on a thread of its own and writes each notification as it is built (its room
//! id carries the build time), paced by a 1 ms tick: at 10 000/s, ten per tick. The measured thread
//! runs only the client side.
//!
//! `cargo bench --bench latency` (a table; `-- --test` runs a quick pass)

#[path = "common/remote.rs"]
mod remote;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt as _;
use jellyfish_emulator::{firehose_notification, unix_nanos};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;
use prost::Message as _;
use remote::RemoteEmulator;

/// The build time carried in a firehose room id (`fh{seq}@{nanos}`).
fn stamp(room: &str) -> Option<u128> {
    room.split('@').nth(1)?.parse().ok()
}

/// The room id of a firehose message, read from the bare prost types.
fn bare_room(message: &proto::ServerMessage) -> Option<&str> {
    use proto::server_message::Content;
    Some(match message.content.as_ref()? {
        Content::RoomCreated(m) => &m.room_id,
        Content::PeerConnected(m) => &m.room_id,
        Content::TrackAdded(m) => &m.room_id,
        Content::PeerMetadataUpdated(m) => &m.room_id,
        Content::PeerDisconnected(m) => &m.room_id,
        Content::RoomDeleted(m) => &m.room_id,
        _ => return None,
    })
}

/// Records the latency of every notification it handles.
struct Sink(Rc<RefCell<Vec<u64>>>);

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Notification> for Sink {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        if let Some(sent) = notification.room_id().and_then(|room| stamp(room)) {
            self.0
                .borrow_mut()
                .push(unix_nanos().saturating_sub(sent) as u64);
        }
    }
}

/// Has the emulator send `total` notifications at `rate` per second, paced by a 1 ms tick.
fn paced(emulator: &RemoteEmulator, rate: u64, total: u64) {
    emulator.spawn(move |emulator| async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut sent = 0u64;
        let mut elapsed_ms = 0u64;
        while sent < total {
            tick.tick().await;
            elapsed_ms += 1;
            // As many as the rate allows by now: 0 or 1 per tick at 100/s, 10 at 10 000/s.
            let due = (rate * elapsed_ms / 1000).min(total);
            while sent < due {
                emulator.push_notification(&firehose_notification(sent));
                sent += 1;
            }
        }
    });
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    Duration::from_nanos(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

struct Row {
    client: String,
    rate: u64,
    samples: Vec<u64>,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let rates: &[u64] = if quick {
        &[1_000]
    } else {
        &[100, 1_000, 10_000]
    };
    let system = System::new();
    let emulator = RemoteEmulator::start();
    let address = emulator.address.clone();
    let mut rows = Vec::new();
    for &rate in rates {
        // At least 2 s and 2 000 notifications, so that p99.9 rests on a few samples.
        let total = if quick { 100 } else { (rate * 2).max(2_000) };

        // Baseline: a bare reader that decodes each frame with prost and reads the stamp.
        let samples = system.block_on(async {
            let mut bare = remote::bare_reader(&address).await;
            let mut samples = Vec::with_capacity(total as usize);
            paced(&emulator, rate, total);
            while (samples.len() as u64) < total {
                if let Some(Ok(awc::ws::Frame::Binary(bytes))) = bare.next().await {
                    let received = unix_nanos();
                    let message = proto::ServerMessage::decode(bytes).expect("a ServerMessage");
                    if let Some(sent) = bare_room(&message).and_then(stamp) {
                        samples.push(received.saturating_sub(sent) as u64);
                    }
                }
            }
            drop(bare);
            samples
        });
        rows.push(Row {
            client: "bare awc reader (baseline)".to_owned(),
            rate,
            samples,
        });

        for subscribers in [1usize, 100] {
            let samples = system.block_on(async {
                let latencies = Rc::new(RefCell::new(Vec::new()));
                let notifier = WsNotifier::start(address.as_str(), "development");
                for _ in 0..subscribers {
                    let sink = Sink(Rc::clone(&latencies)).start();
                    let _subscription = notifier
                        .send(SubscribeServerNotifications(sink.recipient()))
                        .await
                        .unwrap();
                }
                notifier.send(WaitReady).await.unwrap().expect("ready");
                paced(&emulator, rate, total);
                let expected = total as usize * subscribers;
                while latencies.borrow().len() < expected {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                notifier.send(Shutdown).await.unwrap();
                latencies.take()
            });
            rows.push(Row {
                client: format!(
                    "WsNotifier, {subscribers} subscriber{}",
                    if subscribers == 1 { "" } else { "s" }
                ),
                rate,
                samples,
            });
        }
    }

    println!(
        "latency: server builds the notification → handler runs (bare reader: → its read), µs"
    );
    println!(
        "{:<30} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "client", "rate/s", "samples", "p50", "p99", "p99.9", "p99 ×"
    );
    let mut baseline_p99 = Duration::ZERO;
    for row in &mut rows {
        row.samples.sort_unstable();
        let p99 = percentile(&row.samples, 0.99);
        if row.client.starts_with("bare") {
            baseline_p99 = p99;
        }
        println!(
            "{:<30} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9.2}×",
            row.client,
            row.rate,
            row.samples.len(),
            us(percentile(&row.samples, 0.5)),
            us(p99),
            us(percentile(&row.samples, 0.999)),
            p99.as_secs_f64() / baseline_p99.as_secs_f64().max(1e-9),
        );
    }
}
