//! `jellyfish-notify webhook`: receive webhooks on any path and print each notification.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::Addr;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jellyfish_notifier::nats::{JetStreamBridge, NatsError, Publish};
use jellyfish_notifier::{Webhook, WebhookConfig};

use crate::Outcome;
use crate::output::{self, line};

/// Receive webhooks POSTed to any path (the seed uses /webhook), print each notification, and answer
/// as the extractor does: 200 for notifications, 4xx with a reason for anything else.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify webhook                                   # http://127.0.0.1:5003/…
  jellyfish-notify webhook --listen 0.0.0.0:5003 --json | jq .room_id
  jellyfish-notify webhook --secret $FISHJAM_WEBHOOK_SECRET  # require x-fishjam-signature-256
  jellyfish-notify webhook --nats nats://127.0.0.1:4222      # 200 only once stored in JetStream")]
pub(crate) struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:5003")]
    listen: SocketAddr,
    /// One JSON object per line on stdout (the crate's JSON shape).
    #[arg(long)]
    json: bool,
    /// Require a valid x-fishjam-signature-256 made with this secret. Better: set
    /// FISHJAM_WEBHOOK_SECRET, or use --secret-file, so that it is not in the process list.
    #[arg(long)]
    secret: Option<crate::Secret>,
    /// Read the webhook secret from this file (its first line).
    #[arg(long, value_name = "PATH", conflicts_with = "secret")]
    secret_file: Option<PathBuf>,
    /// Also publish every notification to this NATS server's JetStream (as `bridge` does), and
    /// answer 200 only once JetStream stored all of a request's notifications (503 otherwise, so
    /// that a load-balanced fleet of receivers funnels into one stream and loses nothing it
    /// acknowledged). For a cluster, several URLs separated by commas
    /// (nats://a:4222,nats://b:4222), failed over between.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    #[command(flatten)]
    stream: crate::bridge::StreamArgs,
    #[command(flatten)]
    watch: crate::watch::WatchArgs,
}

async fn receive(
    notifications: Webhook,
    json: web::Data<bool>,
    nats: web::Data<Option<Addr<JetStreamBridge>>>,
) -> HttpResponse {
    for notification in notifications.iter() {
        if !line(&output::notification_line(notification, **json, None)) {
            // Not printed, so not delivered: a retrying sender must retry.
            return HttpResponse::InternalServerError()
                .body("the notification could not be written to standard output");
        }
    }
    if let Some(bridge) = nats.get_ref() {
        let stored = bridge.send(Publish(notifications.into_inner())).await;
        if let Err(reason) = stored.unwrap_or(Err(NatsError::Stopped)) {
            say!("answered 503: not stored in NATS JetStream: {reason}");
            return HttpResponse::ServiceUnavailable()
                .body(format!("not stored in NATS JetStream: {reason}"));
        }
    }
    HttpResponse::Ok().body("OK")
}

/// The extractor's config for this command: refused requests are reported on stderr.
pub(crate) fn config(secret: Option<&str>) -> WebhookConfig {
    let config = WebhookConfig::default().error_handler(|err, req: &HttpRequest| {
        say!("refused a webhook to {}: {err}", req.path());
        err.into()
    });

    match secret {
        Some(secret) => config.secret(secret),
        None => config,
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    let json = args.json;
    let secret = match crate::secret_from(
        args.secret.clone(),
        args.secret_file.as_deref(),
        "--secret-file",
    ) {
        Ok(secret) => secret,
        Err(outcome) => return outcome,
    };
    let mut watch = crate::watch::Watch::new(&args.watch);
    let metrics = watch.webhook();
    let bridge_metrics = args.nats.as_deref().map(|url| watch.bridge(url));
    let (nats, bridge_stopped) = match args
        .nats
        .as_deref()
        .zip(bridge_metrics)
        .map(|(url, metrics)| args.stream.bridge(url, metrics))
    {
        Some(Ok((bridge, stopped))) => (Some(bridge), Some(stopped)),
        Some(Err(outcome)) => return outcome,
        None => (None, None),
    };
    let bridge_stopped = async move {
        match bridge_stopped {
            Some(stopped) => stopped.await.ok(),
            None => None,
        }
    };
    let draining = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&draining);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config(secret.as_ref().map(crate::Secret::expose)).metrics(metrics.clone()))
            .app_data(web::Data::new(json))
            .app_data(web::Data::new(nats.clone()))
            .default_service(web::post().to(receive))
            // Checked when a request's head arrives: one that started before the stop finishes
            // (its body is still read); one that starts after is told to come back.
            .wrap_fn({
                let draining = Arc::clone(&flag);
                move |req, service| {
                    use actix_web::dev::Service as _;
                    use futures_util::future::Either;
                    if draining.load(Ordering::SeqCst) {
                        let response = HttpResponse::ServiceUnavailable()
                            .body("shutting down; send it again later");
                        Either::Left(std::future::ready(Ok(req.into_response(response))))
                    } else {
                        Either::Right(service.call(req))
                    }
                }
            })
            // Outermost: every answer is counted by its status, refusals included.
            .wrap_fn({
                let metrics = metrics.clone();
                move |req, service| {
                    use actix_web::dev::Service as _;
                    use futures_util::FutureExt as _;
                    let metrics = metrics.clone();
                    service.call(req).map(move |answer| {
                        if let Ok(response) = &answer {
                            metrics.answered(response.status().as_u16());
                        }
                        answer
                    })
                }
            })
    })
    .workers(1)
    .disable_signals()
    .bind(args.listen);
    let server = match server {
        Ok(server) => server,
        Err(err) => return Outcome::Failed(format!("cannot listen on {}: {err}", args.listen)),
    };
    let addrs = server.addrs();
    if let Err(outcome) = watch.serve() {
        return outcome;
    }
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    for addr in addrs {
        say!("receiving webhooks on http://{addr}/ (any path)");
    }
    let outcome = tokio::select! {
        () = output::stop_signal() => Outcome::Ok,
        outcome = output::stdout_failed() => outcome,
        Some(reason) = bridge_stopped => Outcome::Failed(reason),
    };
    // Requests already being read finish; new ones get 503 until the server is down.
    draining.store(true, Ordering::SeqCst);
    say!("stopping: finishing the requests in flight");
    handle.stop(true).await;
    outcome
}
