//! The emulator's webhook sender: one POST per notification (or per Fishjam Cloud batch), in order,
//! one at a time for the whole server, on its own thread so it never blocks WebSocket delivery.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use tokio::sync::mpsc;

use crate::shared::{Shared, lock};
use jellyfish_notifier::Notification;
use jellyfish_notifier::codec::{JsonWebhook, encode_batch};
use jellyfish_notifier::forward::{WebhookAnswer, WebhookRequest};

/// A notification for one room's webhook URL.
pub(crate) struct Job {
    pub(crate) url: Arc<str>,
    /// The room asked for batches: the body is always a `notification_batch`.
    pub(crate) batch: bool,
    pub(crate) notification: Notification,
}

/// How many queued notifications of a batching room go in one POST at most.
const ROOM_BATCH: usize = 100;

/// One webhook POST the emulator made.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDelivery {
    /// The room's `webhookUrl`.
    pub url: String,
    /// What the body carried, in order (more than one only when batching).
    pub notifications: Vec<Notification>,
    /// How the receiver answered.
    pub outcome: WebhookOutcome,
}

/// How a webhook POST ended. The real server neither retries nor queues: a failure is final.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No answer: connection refused, timeout, or a body this server version cannot build.
    Failed(String),
}

pub(super) fn spawn_sender(shared: &Arc<Shared>, jobs: mpsc::UnboundedReceiver<Job>) {
    let shared = Arc::downgrade(shared);
    let spawned = std::thread::Builder::new()
        .name("jellyfish-emulator-webhooks".into())
        .spawn(move || actix_web::rt::System::new().block_on(send_all(shared, jobs)));
    if let Err(err) = spawned {
        tracing::error!(%err, "could not start the webhook sender thread; webhooks are disabled");
    }
}

/// Runs until the emulator is gone (the job channel closes with it).
async fn send_all(shared: Weak<Shared>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let Some(config) = shared.upgrade().map(|s| s.config.clone()) else {
        return;
    };
    let client = awc::Client::builder()
        .timeout(config.webhook_timeout)
        .disable_redirects()
        .finish();
    let batch_size = if config.version.json_webhooks() {
        1 // the v0.3 JSON envelope has no batches
    } else {
        config.webhook_batch
    };
    let mut queue: VecDeque<Job> = VecDeque::new();
    loop {
        let first = match queue.pop_front() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        while let Ok(job) = jobs.try_recv() {
            queue.push_back(job);
        }
        let limit = if first.batch { ROOM_BATCH } else { batch_size };
        let mut notifications = vec![first.notification];
        while notifications.len() < limit
            && queue
                .front()
                .is_some_and(|job| job.url == first.url && job.batch == first.batch)
        {
            if let Some(job) = queue.pop_front() {
                notifications.push(job.notification);
            }
        }
        let outcome = post(&client, &config, &first.url, &notifications, first.batch).await;
        if let WebhookOutcome::Failed(reason) = &outcome {
            tracing::warn!(url = %first.url, %reason, "webhook delivery failed");
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        lock(&shared.webhook_records).push(WebhookDelivery {
            url: first.url.to_string(),
            notifications,
            outcome,
        });
        shared.changed.notify_waiters();
    }
}

async fn post(
    client: &awc::Client,
    config: &crate::EmulatorBuilder,
    url: &str,
    notifications: &[Notification],
    batch: bool,
) -> WebhookOutcome {
    let (content_type, body) = match body(config, notifications, batch) {
        Ok(body) => body,
        Err(reason) => return WebhookOutcome::Failed(reason),
    };
    // The library's webhook sender, as `jellyfish-notify forward` uses it; the real server sends
    // once and never retries, so neither does the emulator.
    let request = WebhookRequest {
        url: url.to_owned(),
        content_type,
        body: body.into(),
        secret: config.webhook_secret.clone(),
        idempotency_key: None,
    };
    match request.send(client).await {
        WebhookAnswer::Status { status, .. } => WebhookOutcome::Status(status),
        WebhookAnswer::Failed(failure) => WebhookOutcome::Failed(failure.to_string()),
        other => WebhookOutcome::Failed(format!("{other:?}")),
    }
}

fn body(
    config: &crate::EmulatorBuilder,
    notifications: &[Notification],
    batch: bool,
) -> Result<(&'static str, Vec<u8>), String> {
    if config.version.json_webhooks() {
        let envelope =
            JsonWebhook::from_notification(&notifications[0]).map_err(|err| err.to_string())?;
        let body = serde_json::to_vec(&envelope).map_err(|err| err.to_string())?;
        return Ok(("application/json", body));
    }
    let body = match notifications {
        [one] if !batch => one.encode(),
        many => encode_batch(many),
    }
    .map_err(|err| err.to_string())?;
    Ok(("application/x-protobuf", body))
}
