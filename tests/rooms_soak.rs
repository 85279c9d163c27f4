//! The rooms view's soak: in every cycle, live changes, then a fault, and state changes made while
//! no connection is up (rooms created and deleted, peers added, connected, disconnected, crashed and
//! removed, tracks added and removed, metadata updated, components). After each reconnect the view
//! equals the server's `GET /room`, and so does the model a subscriber built from nothing but the
//! changes it received.
//!
//! Quick (CI): `cargo test --test rooms_soak` (40 cycles).
//! Long:       `ROOMS_SOAK_CYCLES=500 cargo test --release --test rooms_soak -- --nocapture`.
//! Replay:     `ROOMS_SOAK_SEED=<seed printed by a run> …`.

#[path = "common/rooms.rs"]
mod rooms;

use std::collections::BTreeMap;
use std::time::Duration;

use jellyfish_emulator::{Emulator, ServerVersion};
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::rooms_view::*;
use jellyfish_notifier::*;
use rooms::{Follower, Mutator, converged, server_rooms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// The server restarts; the changes are made while it is down.
    Restart,
    /// The server drops every connection without a close frame; the changes follow at once, while
    /// the notifier waits out its backoff.
    Drop,
    /// The server closes with 1012 (service restart); the changes follow at once.
    Close,
}

#[actix::test]
async fn the_view_equals_the_server_after_every_gap() {
    let cycles: u64 = std::env::var("ROOMS_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let seed = std::env::var("ROOMS_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("rooms soak: {cycles} cycles, seed {seed}");
    let emulator = Emulator::builder()
        .server_version(ServerVersion::V0_5)
        .record(false)
        .start()
        .await
        .expect("emulator");
    let mut mutator = Mutator::new(seed);
    mutator.mutate(&emulator, 6);
    // The notifier waits at least 30 ms before reconnecting, so that changes made right after a
    // drop fall inside the gap.
    let notifier = WsNotifier::builder(emulator.server_address(), emulator.token().expose())
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(60))
                .cap(Duration::from_millis(200)),
        )
        .start();
    let api = RoomApi::new(emulator.server_address(), emulator.token().expose()).unwrap();
    let (follower, mut followed) = Follower::start();
    let view = RoomsView::builder(api)
        .notifier(notifier)
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(20))
                .cap(Duration::from_millis(200)),
        )
        .subscribe(follower.recipient())
        .start();
    converged(&view, &emulator, Duration::from_secs(10)).await;

    let mut faults: BTreeMap<Fault, u64> = BTreeMap::new();
    let mut changes: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut in_gap, mut live, mut gap_changes_seen_live) = (0u64, 0u64, 0u64);
    let mut times = Vec::new();
    for cycle in 0..cycles {
        // Live changes, seen as they happen.
        let n = mutator.rng.usize(0..4);
        for change in mutator.mutate(&emulator, n) {
            *changes.entry(change).or_default() += 1;
            live += 1;
        }
        converged(&view, &emulator, Duration::from_secs(10)).await;
        assert_eq!(
            followed.json(),
            server_rooms(&emulator).await,
            "cycle {cycle}: live"
        );

        let fault = [Fault::Restart, Fault::Drop, Fault::Close][mutator.rng.usize(..3)];
        *faults.entry(fault).or_default() += 1;
        let n = mutator.rng.usize(1..9);
        let gap_changes = match fault {
            Fault::Restart => {
                let changes = async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    assert_eq!(emulator.socket_counts().open, 0, "the server is down");
                    mutator.mutate(&emulator, n)
                };
                let (restarted, made) =
                    tokio::join!(emulator.restart(Duration::from_millis(80)), changes);
                restarted.expect("restart");
                made
            }
            Fault::Drop | Fault::Close => {
                if fault == Fault::Drop {
                    emulator.drop_connections();
                } else {
                    emulator.close_connections(1012, "service restart");
                }
                // The dropped socket is gone from the server's books before the changes start.
                let gone = emulator
                    .wait_until(Duration::from_secs(1), |e| {
                        e.socket_counts().notifications == 0
                    })
                    .await;
                let made = mutator.mutate(&emulator, n);
                // Unless the notifier subscribed again meanwhile, it could not see them.
                if !gone || emulator.socket_counts().notifications > 0 {
                    gap_changes_seen_live += 1;
                }
                made
            }
        };
        for change in gap_changes {
            *changes.entry(change).or_default() += 1;
            in_gap += 1;
        }
        // The resync of this gap (every fault is one: the notifier reconnects), then equality.
        let waiting = std::time::Instant::now();
        followed
            .next_where("the gap's resync", |change| match change {
                RoomChange::Synced(report) if matches!(report.reason, SyncReason::Gap(_)) => {
                    Some(())
                }
                _ => None,
            })
            .await;
        converged(&view, &emulator, Duration::from_secs(10)).await;
        times.push(waiting.elapsed());
        let server = server_rooms(&emulator).await;
        assert_eq!(
            followed.json(),
            server,
            "cycle {cycle} ({fault:?}): the subscriber's model"
        );
    }

    let stats = view.send(GetViewStats).await.unwrap();
    times.sort();
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!("faults: {faults:?}");
    println!("changes: {changes:?}");
    println!(
        "{cycles} cycles: {live} changes made live, {in_gap} made during gaps (in {gap_changes_seen_live} drop or close cycles the notifier had subscribed again before the changes were done)"
    );
    println!(
        "view: {} gaps, {} resyncs, {} notifications live, {} synthesized, {} failed fetches, {} rooms at the end",
        stats.gaps, stats.resyncs, stats.live, stats.synthesized, stats.failed_fetches, stats.rooms
    );
    println!(
        "converged, from the end of the gap's changes (the notifier's backoff included): p50 {:?}, p99 {:?}, max {:?}",
        p(0.5),
        p(0.99),
        times[times.len() - 1]
    );
    println!("every cycle: the view and the subscriber's model equal GET /room");
    assert_eq!(stats.gaps, cycles, "every fault was one gap: {stats:?}");
    assert!(stats.synthesized > 0);
}
