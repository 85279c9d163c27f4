//! An instance that sees every notification in the stream, and resumes where it stopped: run it
//! with a name; run another with another name and it sees everything too.
//!
//! `cargo run --example every_notification --features nats [-- NAME NATS_URL]` (with
//! `jellyfish-notify bridge` filling the stream).

use actix::prelude::*;
use jellyfish_notifier::nats::JetStreamConsumer;
use jellyfish_notifier::{Notification, SubscribeServerNotifications};

/// Keeps its own copy of what happened (a cache, an audit log, a search index, …).
struct Mirror {
    name: String,
}

impl Actor for Mirror {
    type Context = Context<Self>;
}

impl Handler<Notification> for Mirror {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        println!("[{}] {}", self.name, notification.kind());
    }
}

#[actix::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "audit".to_owned());
    let url = args
        .next()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let consumer = JetStreamConsumer::every_notification(url, name.as_str()).start();
    let _subscription = consumer
        .send(SubscribeServerNotifications(
            Mirror { name }.start().recipient(),
        ))
        .await
        .expect("the consumer runs");
    // Until Ctrl-C.
    std::future::pending::<()>().await;
}
