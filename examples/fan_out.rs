//! Many subscriber actors on one notifier: every one gets every notification, in order.
//!
//! ```sh
//! cargo run --release --example fan_out                     # 1000 subscribers, built-in emulator
//! cargo run --release --example fan_out -- 5000 localhost:5002 development
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use jellyfish_notifier::{Notification, SubscribeServerNotifications, WaitReady, WsNotifier};

/// Counts what it receives.
struct Counter(Arc<AtomicU64>);

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<Notification> for Counter {
    type Result = ();

    fn handle(&mut self, _: Notification, _: &mut Context<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let subscribers: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1000);
    let (server_address, token, emulator) = match (args.next(), args.next()) {
        (Some(address), Some(token)) => (address, token, None),
        _ => {
            let emulator = jellyfish_emulator::Emulator::builder()
                .record(false)
                .start()
                .await?;
            (
                emulator.server_address(),
                "development".to_owned(),
                Some(emulator),
            )
        }
    };

    let notifier = WsNotifier::start(server_address, token);
    let delivered = Arc::new(AtomicU64::new(0));
    for _ in 0..subscribers {
        let counter = Counter(Arc::clone(&delivered)).start();
        let _subscription = notifier
            .send(SubscribeServerNotifications(counter.recipient()))
            .await?;
    }
    notifier.send(WaitReady).await??;
    println!("{subscribers} subscribers ready");

    let Some(emulator) = emulator else {
        tokio::signal::ctrl_c().await?;
        println!("{} deliveries", delivered.load(Ordering::Relaxed));
        return Ok(());
    };
    let notifications = 1_000;
    let started = Instant::now();
    let config = jellyfish_emulator::FirehoseConfig {
        total: Some(notifications),
        high_water: 256,
    };
    emulator.run_firehose(&config).await;
    let expected = notifications * subscribers;
    while delivered.load(Ordering::Relaxed) < expected
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = delivered.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{got} of {expected} deliveries in {seconds:.2}s ({:.0} deliveries/s)",
        got as f64 / seconds
    );
    Ok(())
}
