//! Fan-out: one notification delivered to N subscriber actors through the notifier's own delivery
//! path ([`FanOut`]), against a bare loop of actix `do_send` of an `Arc` payload to the same
//! recipients, in the same run. Each measured batch also waits until every subscriber has handled
//! every message, so both sides pay for the whole delivery.
//!
//! `cargo bench --bench fan_out`

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::notifier::*;

/// The bare payload: an `Arc` of the notification, as cheap to clone as anything can be.
#[derive(Clone, Message)]
#[rtype(result = "()")]
struct Shared(#[allow(dead_code)] Arc<Notification>);

/// A subscriber that counts what it handles (single-threaded: every actor runs on the bench's
/// System thread, as subscribers of one notifier usually do).
struct Counter(Rc<Cell<u64>>);

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<Notification> for Counter {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        std::hint::black_box(&notification);
        self.0.set(self.0.get() + 1);
    }
}

impl Handler<Shared> for Counter {
    type Result = ();
    fn handle(&mut self, shared: Shared, _: &mut Context<Self>) {
        std::hint::black_box(&shared);
        self.0.set(self.0.get() + 1);
    }
}

fn notification() -> Notification {
    Notification::from(TrackAdded::new(
        "9f6e1c2a-5b1d-4c8e-9a7f-2d3b4c5d6e7f",
        Endpoint::Peer("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
        Track::new("0a1b2c3d:video", TrackType::Video, r#"{"source":"camera"}"#),
    ))
}

/// Messages per batch: enough to amortise the wait, few enough to bound the queued memory.
const BATCH: u64 = 32;

async fn drain(handled: &Cell<u64>, target: u64) {
    while handled.get() < target {
        tokio::task::yield_now().await;
    }
}

fn fan_out(c: &mut Criterion) {
    let system = System::new();
    let mut group = c.benchmark_group("fan_out");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for subscribers in [1u64, 10, 100, 1_000, 10_000] {
        let handled = Rc::new(Cell::new(0u64));
        let (fan_out, bare) = system.block_on(async {
            let mut fan_out = FanOut::<Notification>::default();
            let mut bare = Vec::new();
            for id in 0..subscribers {
                let actor = Counter(Rc::clone(&handled)).start();
                fan_out.add(SubscriptionId::new(id), actor.clone().recipient());
                bare.push(actor.recipient::<Shared>());
            }
            (fan_out, bare)
        });
        let fan_out = std::cell::RefCell::new(fan_out);
        group.throughput(Throughput::Elements(subscribers));
        group.bench_with_input(
            BenchmarkId::new("bare do_send of Arc (baseline)", subscribers),
            &subscribers,
            |b, _| {
                let payload = Shared(Arc::new(notification()));
                b.iter_custom(|iters| {
                    system.block_on(async {
                        let start = Instant::now();
                        let mut sent = 0;
                        while sent < iters {
                            let batch = BATCH.min(iters - sent);
                            for _ in 0..batch {
                                for recipient in &bare {
                                    recipient.do_send(payload.clone());
                                }
                            }
                            sent += batch;
                            let target = handled.get() + batch * subscribers;
                            drain(&handled, target).await;
                        }
                        start.elapsed()
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("WsNotifier FanOut::deliver", subscribers),
            &subscribers,
            |b, _| {
                let message = notification();
                b.iter_custom(|iters| {
                    system.block_on(async {
                        let start = Instant::now();
                        let mut sent = 0;
                        while sent < iters {
                            let batch = BATCH.min(iters - sent);
                            for _ in 0..batch {
                                fan_out
                                    .borrow_mut()
                                    .deliver(message.clone(), DeliveryPolicy::Unbounded);
                            }
                            sent += batch;
                            let target = handled.get() + batch * subscribers;
                            drain(&handled, target).await;
                        }
                        start.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fan_out);
criterion_main!(benches);
