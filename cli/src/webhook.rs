//! `jellyfish-notify webhook`: receive webhooks on any path and print each notification.

use std::net::SocketAddr;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jellyfish_notifier::{Webhook, WebhookConfig};

use crate::Outcome;
use crate::output::{self, line};

/// Receive webhooks POSTed to any path (the seed uses /webhook), print each notification, and answer
/// as the extractor does: 200 for notifications, 4xx with a reason for anything else.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify webhook                                   # http://127.0.0.1:5003/…
  jellyfish-notify webhook --listen 0.0.0.0:5003 --json | jq .room_id
  jellyfish-notify webhook --secret $FISHJAM_WEBHOOK_SECRET  # require x-fishjam-signature-256")]
pub(crate) struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:5003")]
    listen: SocketAddr,
    /// One JSON object per line on stdout (the crate's JSON shape).
    #[arg(long)]
    json: bool,
    /// Require a valid x-fishjam-signature-256 made with this secret.
    #[arg(long, hide_env_values = true)]
    secret: Option<crate::Secret>,
}

async fn receive(notifications: Webhook, json: web::Data<bool>) -> HttpResponse {
    for notification in notifications.iter() {
        line(&output::notification_line(notification, **json, None));
    }
    HttpResponse::Ok().body("OK")
}

/// The extractor's config for this command: refused requests are reported on stderr.
pub(crate) fn config(secret: Option<&str>) -> WebhookConfig {
    let config = WebhookConfig::default().error_handler(|err, req: &HttpRequest| {
        eprintln!("refused a webhook to {}: {err}", req.path());
        err.into()
    });
    match secret {
        Some(secret) => config.secret(secret),
        None => config,
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    let json = args.json;
    let secret = args.secret.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config(secret.as_ref().map(crate::Secret::expose)))
            .app_data(web::Data::new(json))
            .default_service(web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(args.listen);
    let server = match server {
        Ok(server) => server,
        Err(err) => return Outcome::Failed(format!("cannot listen on {}: {err}", args.listen)),
    };
    let addrs = server.addrs();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    for addr in addrs {
        eprintln!("receiving webhooks on http://{addr}/ (any path)");
    }
    let _ = tokio::signal::ctrl_c().await;
    handle.stop(true).await;
    Outcome::Ok
}
