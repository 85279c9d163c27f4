//! Keeping room state with `RoomsView`: the live view of every room, peer and track, healed after a
//! gap. Without arguments it runs against a built-in emulator: it makes a room, restarts the server
//! while a peer leaves and another joins, and shows the view telling what it missed; then it ends.
//!
//! ```sh
//! cargo run --example rooms                                  # with a built-in emulator
//! cargo run --example rooms -- localhost:5002 development    # follow a real server until Ctrl-C
//! ```

use std::time::Duration;

use actix::prelude::*;
use jellyfish_emulator::Emulator;
use jellyfish_notifier::rooms_view::SubscribeRoomChanges;
use jellyfish_notifier::{
    GetRooms, RoomApi, RoomChange, RoomsModel, RoomsView, WaitSynced, WsNotifier,
};

/// Prints every change and keeps its own model of the rooms from nothing but the changes.
#[derive(Default)]
struct Presence {
    model: RoomsModel,
    /// The first resync (the state at start) is done.
    started: bool,
}

impl Presence {
    fn summary(&self) -> String {
        let peers: usize = self.model.rooms().map(|room| room.peers.len()).sum();
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        let rooms = self.model.len();
        format!(
            "{rooms} {}, {peers} {}",
            plural(rooms, "room", "rooms"),
            plural(peers, "peer", "peers")
        )
    }
}

impl Actor for Presence {
    type Context = Context<Self>;
}

impl Handler<RoomChange> for Presence {
    type Result = ();

    fn handle(&mut self, change: RoomChange, _: &mut Context<Self>) {
        self.model.apply(&change);
        let room = |n: &jellyfish_notifier::Notification| {
            n.room_id().map(ToString::to_string).unwrap_or_default()
        };
        match &change {
            RoomChange::Notification(n) => println!(
                "live     {:<16} {:<8} now {}",
                n.kind(),
                room(n),
                self.summary()
            ),
            // The first resync describes the state at start; later ones, what a gap hid.
            RoomChange::Synthesized(n) if self.started => {
                println!("missed   {:<16} {}", n.kind(), room(n))
            }
            RoomChange::Synced(report) => {
                self.started = true;
                println!(
                    "resynced after {:?} in {:?}: now {}",
                    report.reason,
                    report.took,
                    self.summary()
                );
            }
            RoomChange::SyncFailed {
                error, retry_in, ..
            } => {
                println!("cannot read the rooms: {error}; retrying in {retry_in:?}")
            }
            _ => {}
        }
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if let (Some(address), Some(token)) = (args.next(), args.next()) {
        let view = RoomsView::start(
            RoomApi::new(address.as_str(), token.as_str())?,
            WsNotifier::start(address, token),
        );
        view.send(SubscribeRoomChanges(
            Presence::default().start().recipient(),
        ))
        .await?;
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    let emulator = Emulator::builder().start().await?;
    println!(
        "no server given: using an emulator on {}",
        emulator.server_address()
    );
    let room = emulator.create_room(&serde_json::json!({"roomId": "lobby"}))?;
    let alice = emulator.add_peer(&room.id)?.peer.id;
    emulator.connect_peer(&room.id, &alice)?;

    let address = emulator.server_address();
    let notifier = WsNotifier::start(address.as_str(), "development");
    let view = RoomsView::start(RoomApi::new(address, "development")?, notifier);
    view.send(SubscribeRoomChanges(
        Presence::default().start().recipient(),
    ))
    .await?;
    tokio::time::timeout(Duration::from_secs(10), view.send(WaitSynced)).await??;

    println!("-- a peer joins, live");
    let bob = emulator.add_peer(&room.id)?.peer.id;
    emulator.connect_peer(&room.id, &bob)?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    println!("-- the server restarts; meanwhile alice leaves and carol joins, unseen");
    let changes = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        emulator.delete_peer(&room.id, &alice)?;
        let carol = emulator.add_peer(&room.id)?.peer.id;
        emulator.connect_peer(&room.id, &carol)?;
        Ok::<_, jellyfish_emulator::ActionError>(())
    };
    let (restarted, changed) = tokio::join!(emulator.restart(Duration::from_millis(500)), changes);
    restarted?;
    changed?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let rooms = view.send(GetRooms).await?;
    let lobby = rooms.room("lobby").ok_or("the lobby is gone")?;
    assert_eq!(lobby.peers.len(), 2, "bob and carol");
    assert!(lobby.peers.iter().all(|p| p.id != alice), "alice left");
    println!(
        "-- the view equals the server again: {} peers in the lobby",
        lobby.peers.len()
    );
    Ok(())
}
