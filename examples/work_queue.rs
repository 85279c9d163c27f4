//! Instances sharing the work: run this two or three times, and each notification in the stream is
//! handled by one of them. Kill one: what it had not acknowledged goes to the others.
//!
//! `cargo run --example work_queue --features nats [-- NATS_URL]` (with `jellyfish-notify bridge`
//! filling the stream).

use actix::prelude::*;
use jellyfish_notifier::nats::JetStreamConsumer;
use jellyfish_notifier::{Notification, SubscribeServerNotifications};

/// One worker: whatever it does with a notification, it is the only instance doing it.
struct Worker;

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Notification> for Worker {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        println!("{} in {:?}", notification.kind(), notification.room_id());
    }
}

#[actix::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let consumer = JetStreamConsumer::work_queue(url, "workers").start();
    let _subscription = consumer
        .send(SubscribeServerNotifications(Worker.start().recipient()))
        .await
        .expect("the consumer runs");
    // Until Ctrl-C.
    std::future::pending::<()>().await;
}
