//! The Jellyfish documentation's webhook example (a Phoenix or Flask route) in Rust: an actix-web
//! route that extracts webhook notifications and hands them to the same actor type that receives
//! them from the WebSocket notifier, with `do_send`. Without arguments it runs a whole room
//! lifecycle against a built-in emulator and ends once the handler has seen the room deleted.
//!
//! ```sh
//! cargo run --example webhook_server                       # with a built-in emulator
//! cargo run --example webhook_server -- localhost:5002 development 127.0.0.1:5003
//! ```

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use jellyfish_notifier::rooms::RoomConfig;
use jellyfish_notifier::{Notification, RoomApi, Webhook};

/// Handles notifications, whichever path they came by; says when it has seen a room deleted.
struct Handlers {
    room_deleted: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Actor for Handlers {
    type Context = Context<Self>;
}

impl Handler<Notification> for Handlers {
    type Result = ();

    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        println!("Received a notification: {notification:?}");
        if let Notification::RoomDeleted(_) = notification
            && let Some(done) = self.room_deleted.take()
        {
            let _ = done.send(());
        }
    }
}

async fn receive_webhook_notification(
    notifications: Webhook,
    handlers: web::Data<Addr<Handlers>>,
) -> HttpResponse {
    for notification in notifications {
        handlers.do_send(notification);
    }
    HttpResponse::Ok().content_type("text/plain").body("OK")
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (server_address, token, listen, emulator) = match (args.next(), args.next(), args.next()) {
        (Some(address), Some(token), Some(listen)) => (address, token, listen, None),
        _ => {
            let emulator = jellyfish_emulator::Emulator::builder().start().await?;
            println!(
                "no server given: using an emulator on {}",
                emulator.server_address()
            );
            (
                emulator.server_address(),
                "development".to_owned(),
                "127.0.0.1:0".to_owned(),
                Some(emulator),
            )
        }
    };

    let (room_deleted, deleted) = tokio::sync::oneshot::channel();
    let handlers = web::Data::new(
        Handlers {
            room_deleted: Some(room_deleted),
        }
        .start(),
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(handlers.clone())
            .route("/webhook", web::post().to(receive_webhook_notification))
    })
    .bind(listen.as_str())?;
    let webhook_url = format!("http://{}/webhook", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let room_api = RoomApi::new(server_address, token.as_str())?;
    let created = room_api
        .create_room(&RoomConfig {
            max_peers: Some(10),
            webhook_url: Some(webhook_url.clone()),
            ..RoomConfig::default()
        })
        .await?;
    println!(
        "room {} created on {}; webhooks go to {webhook_url}",
        created.room.id,
        created.server_address.as_deref().unwrap_or("this server")
    );

    match emulator {
        Some(emulator) => {
            let peer = room_api.add_peer(&created.room.id).await?;
            emulator.connect_peer(&created.room.id, &peer.peer.id)?;
            emulator.disconnect_peer(&created.room.id, &peer.peer.id)?;
            room_api.delete_room(&created.room.id).await?;
            // Done when the handler has the last notification, not when the server sent it.
            tokio::time::timeout(std::time::Duration::from_secs(10), deleted)
                .await
                .map_err(|_| "the handler did not get room_deleted within 10 s")??;
        }
        None => {
            tokio::signal::ctrl_c().await?;
        }
    }
    handle.stop(true).await;
    Ok(())
}
