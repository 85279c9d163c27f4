//! How fast the notifier is back once the server is, under its default retry policy, and how it
//! paces a crash-looping server. Each test prints its figures (RELIABILITY.md quotes a run) and
//! holds the bounds the policy promises: ready within the policy's 4 s cap of the server's return
//! (plus a second for a loaded machine), and at most 20 connections in any 10 s of a crash loop.

mod common;

use std::time::{Duration, Instant};

use common::recorder::{Recorder, event_where, recv};
use jellyfish_emulator::Emulator;
use jellyfish_notifier::{ConnectionEvent, WsNotifier};
use serde_json::json;

fn is_ready(event: &ConnectionEvent) -> bool {
    matches!(event, ConnectionEvent::Ready { .. })
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

/// 20 outages of 0.5–2 s with 3–4 s of connection between them, as a flaky load balancer makes
/// them: the wait from the server listening again to the notifier being ready never grows with
/// the blips before it. `RECOVERY_CYCLES` and `RECOVERY_SEED` change the run.
#[actix_web::test]
async fn after_each_short_outage_the_notifier_is_back_within_seconds_of_the_server() {
    let cycles: usize = std::env::var("RECOVERY_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("RECOVERY_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_261_202);
    let mut rng = fastrand::Rng::with_seed(seed);
    let emulator = Emulator::builder().start().await.unwrap();
    let (recorder, mut received) = Recorder::start();
    let _notifier = WsNotifier::builder(emulator.server_address(), "development")
        .subscribe_connection_events(recorder.recipient())
        .start();
    event_where(&mut received.events, "the first ready", is_ready).await;

    let mut waits = Vec::with_capacity(cycles);
    for cycle in 0..cycles {
        // The connection's time between blips is the scenario, not a wait for an event.
        tokio::time::sleep(Duration::from_millis(rng.u64(3_000..4_000))).await;
        let down = Duration::from_millis(rng.u64(500..2_000));
        emulator.restart(down).await.unwrap();
        let back = Instant::now();
        event_where(&mut received.events, "ready after the outage", is_ready).await;
        let wait = back.elapsed();
        println!("cycle {cycle}: down {down:?}, ready {wait:?} after the server was back");
        waits.push(wait);
    }
    waits.sort();
    let worst = waits[waits.len() - 1];
    println!(
        "{cycles} outages: ready after the server's return: median {:?}, worst {worst:?}",
        median(&waits)
    );
    assert!(
        worst <= Duration::from_secs(5),
        "ready {worst:?} after the server was back: the policy's cap is 4 s"
    );
}

/// A server that accepts, gets ready, sends one notification and drops, again and again: the
/// attempts spread out instead of storming it.
#[actix_web::test]
async fn a_crash_looping_server_gets_at_most_20_connections_in_any_10_seconds() {
    let run = Duration::from_secs(20);
    let emulator = Emulator::builder().start().await.unwrap();
    let (recorder, mut received) = Recorder::start();
    let _notifier = WsNotifier::builder(emulator.server_address(), "development")
        .subscribe_connection_events(recorder.clone().recipient())
        .subscribe_notifications(recorder.recipient())
        .start();
    let start = Instant::now();
    let mut connections = Vec::new();
    let mut cycle = 0;
    while start.elapsed() < run {
        event_where(&mut received.events, "ready", is_ready).await;
        connections.push(start.elapsed());
        emulator
            .create_room(&json!({"roomId": format!("loop-{cycle}")}))
            .unwrap();
        recv(&mut received.notifications, "the one notification").await;
        emulator.drop_connections();
        cycle += 1;
    }
    let in_window = |from: Duration| {
        connections
            .iter()
            .filter(|&&at| at >= from && at < from + Duration::from_secs(10))
            .count()
    };
    let busiest = connections
        .iter()
        .map(|&at| in_window(at))
        .max()
        .unwrap_or(0);
    let last = in_window(run.saturating_sub(Duration::from_secs(10)));
    println!(
        "crash loop: {} connections in {run:?}; at most {busiest} in any 10 s; {last} in the last 10 s",
        connections.len()
    );
    assert!(
        busiest <= 20,
        "{busiest} connections in 10 s: {connections:?}"
    );
    assert!(
        last <= 10,
        "{last} connections in the last 10 s: the pace did not settle: {connections:?}"
    );
}
