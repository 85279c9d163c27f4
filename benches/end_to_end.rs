//! End to end over loopback: the emulator's firehose → `WsNotifier` → 1 and 100 subscribers,
//! against a bare WebSocket client on the same emulator that reads and discards frames, in the same
//! run. Reports notifications per second (criterion) and, on stderr, the p50 / p99 latency from the
//! server building a notification to the first subscriber handling it.
//!
//! The emulator runs on threads of its own (as a real server would be another process), so the
//! measured thread runs only the client side: the notifier and its subscribers, or the bare reader.
//!
//! `cargo bench --bench end_to_end`

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "common/remote.rs"]
mod remote;

use actix::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt as _, StreamExt as _};
use jellyfish_emulator::{FirehoseConfig, unix_nanos};
use jellyfish_notifier::*;
use remote::RemoteEmulator;

/// Notifications per measured run.
const RUN: u64 = 20_000;

/// Counts notifications; the first subscriber also samples latency (one in 64) from the stamp in the
/// room id.
struct Sink {
    handled: Rc<Cell<u64>>,
    latencies: Option<Rc<RefCell<Vec<u64>>>>,
}

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Notification> for Sink {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        let handled = self.handled.get() + 1;
        self.handled.set(handled);
        // Sampling one in 64 keeps the clock reads out of the throughput being measured.
        if !handled.is_multiple_of(64) {
            return;
        }
        if let (Some(latencies), Some(room)) = (&self.latencies, notification.room_id())
            && let Some(stamp) = room.split('@').nth(1).and_then(|s| s.parse::<u128>().ok())
        {
            latencies
                .borrow_mut()
                .push((unix_nanos().saturating_sub(stamp)) as u64);
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    Duration::from_nanos(sorted[index])
}

/// Asks the emulator for a firehose of `total` notifications (it runs while the bench reads).
fn firehose(emulator: &RemoteEmulator, total: u64) {
    emulator.spawn(move |emulator| async move {
        emulator
            .run_firehose(&FirehoseConfig {
                total: Some(total),
                high_water: 1024,
            })
            .await;
    });
}

fn end_to_end(c: &mut Criterion) {
    let system = System::new();
    let emulator = RemoteEmulator::start();
    let mut group = c.benchmark_group("end_to_end");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(RUN));

    // Baseline: a bare WebSocket client that reads and discards frames.
    let mut bare = system.block_on(remote::bare_reader(&emulator.address));
    group.bench_function(
        BenchmarkId::new("bare WebSocket reader (baseline)", 1),
        |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        firehose(&emulator, RUN);
                        let mut frames = 0;
                        while frames < RUN {
                            if let Some(Ok(awc::ws::Frame::Binary(bytes))) = bare.next().await {
                                std::hint::black_box(bytes);
                                frames += 1;
                            }
                        }
                        total += start.elapsed();
                    }
                    total
                })
            })
        },
    );
    system.block_on(async { drop(bare.close().await) });

    // With the `metrics` feature, each case again with Prometheus metrics counted (the cost of
    // counting, measured beside the same case without).
    let mut cases = vec![(1usize, false), (100, false)];
    if cfg!(feature = "metrics") {
        cases.extend([(1, true), (100, true)]);
    }
    for (subscribers, metered) in cases {
        let handled = Rc::new(Cell::new(0u64));
        let latencies = Rc::new(RefCell::new(Vec::new()));
        let notifier = system.block_on(async {
            let builder = WsNotifier::builder(emulator.address.as_str(), "development");
            #[cfg(feature = "metrics")]
            let builder = if metered {
                let mut registry = prometheus_client::registry::Registry::default();
                builder.metrics(metrics::NotifierMetrics::register(&mut registry))
            } else {
                builder
            };
            let notifier = builder.start();
            for i in 0..subscribers {
                let sink = Sink {
                    handled: Rc::clone(&handled),
                    latencies: (i == 0).then(|| Rc::clone(&latencies)),
                };
                let _subscription = notifier
                    .send(SubscribeServerNotifications(sink.start().recipient()))
                    .await
                    .unwrap();
            }
            notifier.send(WaitReady).await.unwrap().expect("ready");
            notifier
        });
        let name = if metered {
            "WsNotifier+metrics"
        } else {
            "WsNotifier"
        };
        group.bench_function(BenchmarkId::new(name, subscribers), |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let target = handled.get() + RUN * subscribers as u64;
                        let start = Instant::now();
                        firehose(&emulator, RUN);
                        while handled.get() < target {
                            tokio::time::sleep(Duration::from_micros(100)).await;
                        }
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
        let mut sorted = latencies.borrow().clone();
        sorted.sort_unstable();
        eprintln!(
            "end_to_end/{name}/{subscribers}: latency over {} notifications: p50 {:?}, p99 {:?}",
            sorted.len(),
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.99),
        );
        system.block_on(async { notifier.send(Shutdown).await.unwrap() });
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
