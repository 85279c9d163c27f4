//! `jellyfish-notify forward`: WebSocket in, webhook POSTs out.

use actix::prelude::*;
use jellyfish_notifier::{
    ConnectionEvent, Notification, NotifierError, SIGNATURE_HEADER, SubscribeConnectionEvents,
    SubscribeServerNotifications, sign_webhook,
};
use tokio::sync::oneshot;

use crate::output;
use crate::{Outcome, ServerArgs};

/// Subscribe over the WebSocket and POST every notification to a webhook endpoint, one at a time,
/// in order, reporting each answer — so a webhook handler can be exercised against a server that
/// cannot reach it. Reconnects like the notifier.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify forward --to http://localhost:5003/webhook
  jellyfish-notify forward --to http://localhost:4000/webhook --format json
  jellyfish-notify forward --server jf.example.com:443 --secure --to http://localhost:5003/hook --secret s3cret")]
pub(crate) struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Where to POST each notification.
    #[arg(long)]
    to: String,
    /// The body format: protobuf (what v0.4+ servers send) or json (this crate's JSON shape).
    #[arg(long, value_enum, default_value_t = Format::Protobuf)]
    format: Format,
    /// Sign each body as Fishjam Cloud does (x-fishjam-signature-256) with this secret (or set
    /// FISHJAM_WEBHOOK_SECRET, or use --secret-file, so that it is not in the process list).
    #[arg(long, env = "FISHJAM_WEBHOOK_SECRET", hide_env_values = true)]
    secret: Option<crate::Secret>,
    /// Read the signing secret from this file (its first line).
    #[arg(long, value_name = "PATH", conflicts_with = "secret")]
    secret_file: Option<std::path::PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Protobuf,
    Json,
}

/// The body and content type a notification is forwarded as.
pub(crate) fn body(
    notification: &Notification,
    format: Format,
) -> Result<(&'static str, Vec<u8>), String> {
    match format {
        Format::Protobuf => notification
            .encode()
            .map(|bytes| ("application/x-protobuf", bytes))
            .map_err(|err| err.to_string()),
        Format::Json => serde_json::to_vec(notification)
            .map(|bytes| ("application/json", bytes))
            .map_err(|err| err.to_string()),
    }
}

struct Forwarder {
    to: String,
    format: Format,
    secret: Option<crate::Secret>,
    client: awc::Client,
    failed: Option<oneshot::Sender<NotifierError>>,
}

impl Actor for Forwarder {
    type Context = Context<Self>;
}

impl Handler<Notification> for Forwarder {
    type Result = ();

    fn handle(&mut self, notification: Notification, ctx: &mut Context<Self>) {
        let kind = notification.kind();
        let (content_type, body) = match body(&notification, self.format) {
            Ok(body) => body,
            Err(err) => {
                eprintln!("cannot forward {kind}: {err}");
                return;
            }
        };
        let mut request = self
            .client
            .post(self.to.as_str())
            .insert_header(("content-type", content_type));
        if let Some(secret) = &self.secret {
            request = request.insert_header((
                SIGNATURE_HEADER,
                sign_webhook(secret.expose().as_bytes(), &body),
            ));
        }
        // `wait` holds the mailbox until this POST is answered: notifications go out one at a
        // time, in order, as the real server sends webhooks.
        ctx.wait(
            async move {
                match request.send_body(body).await {
                    Ok(response) => eprintln!("→ {} {kind}", response.status().as_u16()),
                    Err(err) => eprintln!("→ failed {kind}: {err}"),
                }
            }
            .into_actor(self),
        );
    }
}

impl Handler<ConnectionEvent> for Forwarder {
    type Result = ();
    fn handle(&mut self, event: ConnectionEvent, _: &mut Context<Self>) {
        output::report_event(&event, &mut self.failed);
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    if !(args.to.starts_with("http://") || args.to.starts_with("https://")) {
        return Outcome::Usage(format!(
            "--to must be an http:// or https:// URL, got {:?}",
            args.to
        ));
    }
    let secret = match crate::secret_from(args.secret, args.secret_file.as_deref(), "--secret-file")
    {
        Ok(secret) => secret,
        Err(outcome) => return outcome,
    };
    let builder = match args.server.notifier() {
        Ok(builder) => builder,
        Err(outcome) => return outcome,
    };
    let notifier = match builder.try_start() {
        Ok(notifier) => notifier,
        Err(err) => return output::notifier_failure(err),
    };
    let (failed_tx, failed_rx) = oneshot::channel();
    let forwarder = Forwarder {
        to: args.to,
        format: args.format,
        secret,
        client: awc::Client::default(),
        failed: Some(failed_tx),
    }
    .start();
    let _events = notifier
        .send(SubscribeConnectionEvents(forwarder.clone().recipient()))
        .await;
    let _notifications = notifier
        .send(SubscribeServerNotifications(forwarder.recipient()))
        .await;
    output::until_stopped(&notifier, failed_rx).await
}
