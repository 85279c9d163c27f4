//! The WebSocket example of the Jellyfish docs (an Elixir `WSNotifier` client) in Rust: an actor
//! that implements `Handler<Notification>` and `Handler<MetricsReport>`, subscribed to both,
//! printing what arrives.
//!
//! ```sh
//! cargo run --example notifier                              # against a built-in emulator
//! cargo run --example notifier -- localhost:5002 development   # against a real server
//! ```

use actix::prelude::*;
use jellyfish_notifier::{
    MetricsReport, Notification, SubscribeMetrics, SubscribeServerNotifications, WaitReady,
    WsNotifier,
};

struct Printer;

impl Actor for Printer {
    type Context = Context<Self>;
}

impl Handler<Notification> for Printer {
    type Result = ();

    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        match &notification {
            Notification::PeerConnected(connected) => {
                println!(
                    "peer {} connected to room {}",
                    connected.peer_id, connected.room_id
                );
            }
            Notification::TrackAdded(added) => {
                println!(
                    "track {} ({}) added: {}",
                    added.track.id, added.track.track_type, added.track.metadata
                );
            }
            other => println!("Received a notification: {other:?}"),
        }
    }
}

impl Handler<MetricsReport> for Printer {
    type Result = ();

    fn handle(&mut self, report: MetricsReport, _: &mut Context<Self>) {
        println!("Received WebRTC metrics: {} bytes", report.raw().len());
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    // With no server given, run the emulator and play a room lifecycle on it.
    let (server_address, token, emulator) = match (args.next(), args.next()) {
        (Some(address), Some(token)) => (address, token, None),
        _ => {
            let emulator = jellyfish_emulator::Emulator::builder().start().await?;
            println!(
                "no server given: using an emulator on {}",
                emulator.server_address()
            );
            (
                emulator.server_address(),
                "development".to_owned(),
                Some(emulator),
            )
        }
    };

    let notifier = WsNotifier::start(server_address, token);
    let printer = Printer.start();
    let _notifications = notifier
        .send(SubscribeServerNotifications(printer.clone().recipient()))
        .await?;
    let _metrics = notifier.send(SubscribeMetrics(printer.recipient())).await?;
    notifier.send(WaitReady).await??;
    println!("connected and subscribed");

    match emulator {
        Some(emulator) => {
            let lifecycle = jellyfish_emulator::LifecycleConfig {
                rate: 10.0,
                ..Default::default()
            };
            emulator.run_lifecycle(&lifecycle).await?;
            // Let the last notifications and a metrics report arrive.
            tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        }
        None => {
            tokio::signal::ctrl_c().await?;
        }
    }
    Ok(())
}
