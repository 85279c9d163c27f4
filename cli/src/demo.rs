//! `jellyfish-notify demo`: everything in one process, on loopback: the emulator, a `WsNotifier`, a
//! webhook receiver using the extractor, a room created through the Room API, a short lifecycle,
//! and a tally of what was sent and what arrived on each path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use jellyfish_emulator::{Emulator, ServerVersion, TrackOwner};
use jellyfish_notifier::notification::TrackType;
use jellyfish_notifier::rooms::RoomConfig;
use jellyfish_notifier::{
    MetricsReport, Notification, RoomApi, Shutdown, SubscribeMetrics, SubscribeServerNotifications,
    WaitReady, Webhook, WsNotifier,
};
use serde_json::json;

use crate::Outcome;
use crate::output::{self, Source, line};

/// Run the emulator, a WebSocket notifier and a webhook receiver together, play a room lifecycle,
/// print every notification as it arrives on each path, and end with a tally. Exits 0 when nothing
/// went missing.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  cargo run --release -- demo
  jellyfish-notify demo --server-version 0.3    # JSON webhooks, as Jellyfish v0.3.0 sends them")]
pub(crate) struct Args {
    /// The server release the emulator behaves as: 0.3, 0.4 or 0.5.
    #[arg(long, default_value = "0.5", value_parser = |s: &str| s.parse::<ServerVersion>())]
    server_version: ServerVersion,
    /// Pause between lifecycle steps, in milliseconds.
    #[arg(long, default_value_t = 120)]
    step_ms: u64,
    /// Print each notification whole (the crate's JSON shape), not cut to 80 columns.
    #[arg(long)]
    json: bool,
}

/// Prints what one path delivers and keeps it for the tally. The WebSocket and the webhook each get
/// one; they are the same actor type, handling the same `Notification` message.
struct Printer {
    source: Source,
    json: bool,
    received: Arc<Mutex<Vec<Notification>>>,
    metrics: Arc<AtomicUsize>,
}

impl Actor for Printer {
    type Context = Context<Self>;
}

impl Handler<Notification> for Printer {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        if self.json {
            line(&output::notification_line(
                &notification,
                false,
                Some(self.source),
            ));
        } else {
            line(&output::short_line(&notification, Some(self.source), 80));
        }
        lock(&self.received).push(notification);
    }
}

impl Handler<MetricsReport> for Printer {
    type Result = ();
    fn handle(&mut self, report: MetricsReport, _: &mut Context<Self>) {
        self.metrics.fetch_add(1, Ordering::Relaxed);
        line(&format!(
            "[websocket] {}",
            output::metrics_line(&report, false)
        ));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A printer for one path: its address, what it received, how many metrics reports.
fn printer(
    source: Source,
    json: bool,
) -> (
    Addr<Printer>,
    Arc<Mutex<Vec<Notification>>>,
    Arc<AtomicUsize>,
) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let metrics = Arc::new(AtomicUsize::new(0));
    let addr = Printer {
        source,
        json,
        received: Arc::clone(&received),
        metrics: Arc::clone(&metrics),
    }
    .start();
    (addr, received, metrics)
}

async fn webhook(
    notifications: Webhook,
    printer: web::Data<Recipient<Notification>>,
) -> HttpResponse {
    for notification in notifications {
        // The very message type the WebSocket notifier delivers.
        printer.do_send(notification);
    }
    HttpResponse::Ok().body("OK")
}

/// How many of `sent` are not in `received` (as a multiset).
fn missing(sent: &[Notification], received: &[Notification]) -> usize {
    let mut left: Vec<&Notification> = received.iter().collect();
    sent.iter()
        .filter(|n| match left.iter().position(|r| r == n) {
            Some(i) => {
                left.swap_remove(i);
                false
            }
            None => true,
        })
        .count()
}

pub(crate) async fn run(args: Args) -> Outcome {
    match play(args).await {
        Ok(outcome) => outcome,
        Err(err) => Outcome::Failed(err),
    }
}

async fn play(args: Args) -> Result<Outcome, String> {
    let started = Instant::now();
    let emulator = Emulator::builder()
        .server_version(args.server_version)
        .start()
        .await
        .map_err(|err| format!("cannot start the emulator: {err}"))?;
    say!(
        "emulator (Jellyfish {}) on {}",
        args.server_version,
        emulator.http_url()
    );

    let (webhook_printer, via_webhook, _) = printer(Source::Webhook, args.json);
    let recipient = web::Data::new(webhook_printer.recipient::<Notification>());
    let receiver = HttpServer::new(move || {
        App::new()
            .app_data(recipient.clone())
            .app_data(crate::webhook::config(None))
            .route("/webhook", web::post().to(webhook))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .map_err(|err| format!("cannot start the webhook receiver: {err}"))?;
    let webhook_url = format!("http://{}/webhook", receiver.addrs()[0]);
    let receiver = receiver.run();
    let receiver_handle = receiver.handle();
    actix_web::rt::spawn(receiver);
    say!("webhook receiver on {webhook_url}");

    let (ws_printer, via_websocket, metrics) = printer(Source::WebSocket, args.json);
    let notifier = WsNotifier::builder(emulator.server_address(), emulator.token().clone())
        .try_start()
        .map_err(|err| err.to_string())?;
    let mailbox = |err: MailboxError| format!("the notifier stopped: {err}");
    let _notifications = notifier
        .send(SubscribeServerNotifications(ws_printer.clone().recipient()))
        .await
        .map_err(mailbox)?;
    let _metrics = notifier
        .send(SubscribeMetrics(ws_printer.recipient()))
        .await
        .map_err(mailbox)?;
    match tokio::time::timeout(Duration::from_secs(5), notifier.send(WaitReady)).await {
        Ok(Ok(Ok(()))) => say!("notifier connected and subscribed\n"),
        Ok(Ok(Err(err))) => {
            return Ok(output::notifier_failure(err, &emulator.server_address()));
        }
        Ok(Err(err)) => return Err(mailbox(err)),
        Err(_) => return Err("the notifier was not ready within 5 s".to_owned()),
    }

    let step = Duration::from_millis(args.step_ms);
    lifecycle(&emulator, &webhook_url, step).await?;

    // Wait (bounded) until the server has sent the room's last notification on both paths and both
    // receivers have caught up with what it sent.
    let sent = |emulator: &Emulator| {
        let ws: Vec<Notification> = emulator
            .connection_records()
            .iter()
            .flat_map(|r| r.notifications().cloned().collect::<Vec<_>>())
            .collect();
        let webhook: Vec<Notification> = emulator
            .webhook_deliveries()
            .into_iter()
            .flat_map(|d| d.notifications)
            .collect();
        (ws, webhook)
    };
    let finished = |list: &[Notification]| list.last().is_some_and(|n| n.kind() == "room_deleted");
    let deadline = Instant::now() + Duration::from_secs(5);
    let (sent_ws, sent_webhook) = loop {
        let (ws, webhook) = sent(&emulator);
        let caught_up = finished(&ws)
            && finished(&webhook)
            && lock(&via_websocket).len() >= ws.len()
            && lock(&via_webhook).len() >= webhook.len();
        if caught_up || Instant::now() >= deadline {
            break (ws, webhook);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = notifier.send(Shutdown).await;
    receiver_handle.stop(true).await;

    let got_ws = lock(&via_websocket).clone();
    let got_webhook = lock(&via_webhook).clone();
    let (missing_ws, missing_webhook) = (
        missing(&sent_ws, &got_ws),
        missing(&sent_webhook, &got_webhook),
    );
    line("");
    line("tally                 websocket  webhook");
    line(&format!(
        "sent by the server    {:>9}  {:>7}",
        sent_ws.len(),
        sent_webhook.len()
    ));
    line(&format!(
        "received              {:>9}  {:>7}",
        got_ws.len(),
        got_webhook.len()
    ));
    line(&format!(
        "missing               {:>9}  {:>7}",
        missing_ws, missing_webhook
    ));
    let reports = metrics.load(Ordering::Relaxed);
    line(&format!(
        "metrics reports       {reports:>9}        -   (WebSocket only: not compared)"
    ));
    line(&format!(
        "same order on both paths: {}",
        if got_ws == got_webhook { "yes" } else { "no" }
    ));
    say!("done in {:.1} s", started.elapsed().as_secs_f64());
    if missing_ws + missing_webhook == 0 && !sent_ws.is_empty() {
        Ok(Outcome::Ok)
    } else {
        Ok(Outcome::Failed(format!(
            "{missing_ws} {} missing over the WebSocket, {missing_webhook} by webhook",
            output::plural(missing_ws, "notification", "notifications")
        )))
    }
}

/// A short room lifecycle: the room and peers through the Room API, the media side through the
/// emulator's controls.
async fn lifecycle(emulator: &Emulator, webhook_url: &str, step: Duration) -> Result<(), String> {
    let api = RoomApi::new(emulator.server_address(), emulator.token().clone())
        .map_err(|err| err.to_string())?;
    let fail = |err: &dyn std::fmt::Display| err.to_string();
    let pause = || tokio::time::sleep(step);
    let created = api
        .create_room(&RoomConfig {
            room_id: Some("demo-room".into()),
            max_peers: Some(4),
            webhook_url: Some(webhook_url.to_owned()),
            ..RoomConfig::default()
        })
        .await
        .map_err(|e| fail(&e))?;
    let room = created.room.id;
    pause().await;
    let mut peers = Vec::new();
    for name in ["Alice", "Zoë"] {
        let peer = api.add_peer(&room).await.map_err(|e| fail(&e))?.peer.id;
        pause().await;
        emulator.connect_peer(&room, &peer).map_err(|e| fail(&e))?;
        pause().await;
        emulator
            .update_peer_metadata(&room, &peer, json!({"name": name}))
            .map_err(|e| fail(&e))?;
        pause().await;
        let owner = TrackOwner::Peer(peer.clone());
        for (kind, metadata) in [
            (TrackType::Video, json!({"source": "camera"})),
            (TrackType::Audio, json!({"source": "microphone"})),
        ] {
            emulator
                .add_track(&room, &owner, kind, metadata)
                .map_err(|e| fail(&e))?;
            pause().await;
        }
        peers.push(peer);
    }
    // Long enough for a metrics report or two to show the room.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    emulator
        .disconnect_peer(&room, &peers[0])
        .map_err(|e| fail(&e))?;
    pause().await;
    api.delete_peer(&room, &peers[0])
        .await
        .map_err(|e| fail(&e))?;
    pause().await;
    api.delete_room(&room).await.map_err(|e| fail(&e))?;
    pause().await;
    Ok(())
}
