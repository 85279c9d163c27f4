//! The rooms view: time from reconnect to converged, beside the bare REST round trip of the same
//! `GET /room`, in the same run.
//!
//! The emulator runs on a thread of its own (as a real server would be another process) and holds
//! R rooms of P connected peers with two tracks each. Each sample: the emulator drops every
//! connection and, while the notifier waits to reconnect, changes one peer's metadata. Measured:
//! from the notifier's `Ready { gap }` to the view's `Synced` for that gap (the view then equals the
//! server: checked at the end). Baseline: `RoomApi::list_rooms` alone, timed on the same thread.
//!
//! `cargo bench --bench rooms_view` (prints a table; `-- --test` runs a quick pass)

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "common/remote.rs"]
mod remote;

use actix::prelude::*;
use jellyfish_emulator::TrackOwner;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::rooms_view::*;
use jellyfish_notifier::*;
use remote::RemoteEmulator;
use tokio::sync::mpsc;

/// Timestamps the notifier's `Ready { gap }` and the view's `Synced` for a gap.
struct Clock {
    ready: Rc<Cell<Option<Instant>>>,
    converged: mpsc::UnboundedSender<Duration>,
}

impl Actor for Clock {
    type Context = Context<Self>;
}

impl Handler<ConnectionEvent> for Clock {
    type Result = ();
    fn handle(&mut self, event: ConnectionEvent, _: &mut Context<Self>) {
        if let ConnectionEvent::Ready { gap: Some(_) } = event {
            self.ready.set(Some(Instant::now()));
        }
    }
}

impl Handler<RoomChange> for Clock {
    type Result = ();
    fn handle(&mut self, change: RoomChange, _: &mut Context<Self>) {
        if let RoomChange::Synced(report) = change
            && matches!(report.reason, SyncReason::Gap(_))
            && let Some(ready) = self.ready.take()
        {
            let _ = self.converged.send(ready.elapsed());
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let samples = if quick { 5 } else { 200 };
    let sizes: &[(usize, usize)] = if quick {
        &[(3, 2)]
    } else {
        &[(10, 5), (100, 10)]
    };
    let system = System::new();
    println!(
        "rooms view: reconnect → converged vs the bare GET /room round trip ({samples} samples each)"
    );
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "state", "REST p50", "REST p99", "view p50", "view p99", "p50 ×"
    );
    for &(rooms, peers) in sizes {
        let emulator = RemoteEmulator::start();
        emulator.run(move |e| async move {
            for r in 0..rooms {
                let room = e
                    .create_room(&serde_json::json!({}))
                    .unwrap()
                    .id
                    .to_string();
                for _ in 0..peers {
                    let peer = e.add_peer(&room).unwrap().peer.id.to_string();
                    e.connect_peer(&room, &peer).unwrap();
                    e.update_peer_metadata(&room, &peer, serde_json::json!({"room": r}))
                        .unwrap();
                    let owner = TrackOwner::Peer(peer.into());
                    e.add_track(&room, &owner, TrackType::Audio, serde_json::Value::Null)
                        .unwrap();
                    e.add_track(
                        &room,
                        &owner,
                        TrackType::Video,
                        serde_json::json!({"source": "camera"}),
                    )
                    .unwrap();
                }
            }
        });
        let address = emulator.address.clone();
        let (rest, view) = system.block_on(async move {
            let api = RoomApi::new(address.as_str(), "development").unwrap();
            let mut rest = Vec::new();
            for _ in 0..samples {
                let start = Instant::now();
                let answer = api.list_rooms().await.expect("GET /room");
                rest.push(start.elapsed());
                assert_eq!(answer.len(), rooms);
            }

            let (converged_tx, mut converged) = mpsc::unbounded_channel();
            let clock = Clock {
                ready: Rc::default(),
                converged: converged_tx,
            }
            .start();
            // The notifier waits 20 ms before reconnecting, so the change falls inside the gap.
            let notifier = WsNotifier::builder(&address, "development")
                .retry(
                    RetryPolicy::default()
                        .base(Duration::from_millis(20))
                        .cap(Duration::from_millis(20)),
                )
                .subscribe_connection_events(clock.clone().recipient())
                .start();
            let view = RoomsView::builder(api.clone())
                .notifier(notifier)
                .subscribe(clock.recipient())
                .start();
            view.send(WaitSynced).await.unwrap();
            let mut times = Vec::new();
            for i in 0..samples {
                let change = move |e: Rc<jellyfish_emulator::Emulator>| async move {
                    e.drop_connections();
                    let room = e.rooms()[0].clone();
                    let peer = room.peers[0].id.to_string();
                    e.update_peer_metadata(&room.id, &peer, serde_json::json!({"sample": i}))
                        .unwrap();
                };
                emulator.run(change);
                let took = tokio::time::timeout(Duration::from_secs(10), converged.recv())
                    .await
                    .expect("converged within 10 s")
                    .expect("the clock runs");
                times.push(took);
            }
            // Converged means equal to the server.
            let ours = view.send(GetRooms).await.unwrap();
            let server = RoomsModel::from_rooms(api.list_rooms().await.unwrap());
            assert!(ours.is_synced(), "the view says it is in sync");
            assert_eq!(
                serde_json::to_value(&ours).unwrap()["rooms"],
                serde_json::to_value(&server).unwrap()["rooms"],
                "the view equals GET /room"
            );
            (rest, times)
        });
        let (mut rest, mut view) = (rest, view);
        rest.sort();
        view.sort();
        let label = format!("{rooms} rooms × {peers} peers");
        println!(
            "{label:<28} {:>12} {:>12} {:>12} {:>12} {:>7.2}×",
            ms(percentile(&rest, 0.5)),
            ms(percentile(&rest, 0.99)),
            ms(percentile(&view, 0.5)),
            ms(percentile(&view, 0.99)),
            percentile(&view, 0.5).as_secs_f64() / percentile(&rest, 0.5).as_secs_f64()
        );
    }
}
