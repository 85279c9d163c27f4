//! `jellyfish-notify forward`: WebSocket in, webhook POSTs out, through the library's
//! [`WebhookForwarder`]: in order, at least once, with retries, an idempotency key, bounded memory
//! and an optional disk spool.

use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;
use jellyfish_notifier::forward::DropCause;
use jellyfish_notifier::forward::{
    BodyFormat, Drain, ForwardEvent, ForwardTarget, GetForwarderStats,
};
use jellyfish_notifier::{ConnectionEvent, Notification, NotifierError, WebhookForwarder};
use tokio::sync::oneshot;

use crate::output;
use crate::watch::{Watch, WatchArgs};
use crate::{Outcome, ServerArgs};

/// Subscribe over the WebSocket and POST every notification to a webhook endpoint: one at a time,
/// in server order, at least once. Failures (refused, reset, timeout, 5xx, 408, 429) are retried
/// with growing, jittered delays (honouring Retry-After); another 4xx is final and counted. Each
/// POST carries a `webhook-id` header, the same on every retry and after a restart, so the target
/// can drop duplicates. The queue is bounded (--memory-max-mib); with --spool it is kept on disk and
/// what a killed forward left is delivered first on the next start. What no bound can hold is
/// dropped, counted and reported. On SIGINT/SIGTERM it delivers for --drain-timeout, then says
/// what is left (exit 1 if anything was lost).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify forward --to http://localhost:5003/webhook
  jellyfish-notify forward --to http://localhost:4000/webhook --format json --spool ./spool
  FISHJAM_WEBHOOK_SECRET=s3cret jellyfish-notify forward --server jf.example.com:443 --secure --to http://localhost:5003/hook")]
pub(crate) struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Where to POST each notification (http:// or https://): a URL with a host and a valid port,
    /// checked before anything starts.
    #[arg(long)]
    to: ForwardTarget,
    /// The body format: protobuf (what v0.4+ servers send) or json (this crate's JSON shape).
    #[arg(long, value_enum, default_value_t = Format::Protobuf)]
    format: Format,
    /// Sign each body as Fishjam Cloud does (x-fishjam-signature-256) with this secret. Better:
    /// set FISHJAM_WEBHOOK_SECRET, or use --secret-file, so that it is not in the process list.
    #[arg(long)]
    secret: Option<crate::Secret>,
    /// Read the signing secret from this file (its first line).
    #[arg(long, value_name = "PATH", conflicts_with = "secret")]
    secret_file: Option<PathBuf>,
    /// How long one POST may take before it is retried, in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// The first retry delay, in milliseconds (then doubling, with full jitter).
    #[arg(long, default_value_t = 500)]
    retry_base_ms: u64,
    /// The longest retry delay, in seconds.
    #[arg(long, default_value_t = 30.0)]
    retry_cap: f64,
    /// The most memory the queue may take, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_max_mib: usize,
    /// Keep the queue in this folder, so that a restart delivers what was left first.
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
    /// The most the spool may hold, in MiB.
    #[arg(long, default_value_t = 1024)]
    spool_max_mib: u64,
    /// On SIGINT/SIGTERM, how long to keep delivering what is queued, in seconds.
    #[arg(long, default_value_t = 10.0)]
    drain_timeout: f64,
    #[command(flatten)]
    watch: WatchArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Protobuf,
    Json,
}

/// Reports the forwarder's and the notifier's events on stderr.
struct Reporter {
    url: String,
    failed: Option<oneshot::Sender<NotifierError>>,
    /// `--spool` was given: a full queue is not fixed by using one.
    spooled: bool,
    /// The last connection event said the connection was up.
    connected: bool,
}

impl Actor for Reporter {
    type Context = Context<Self>;
}

impl Handler<ForwardEvent> for Reporter {
    type Result = ();
    fn handle(&mut self, event: ForwardEvent, _: &mut Context<Self>) {
        match event {
            ForwardEvent::Delivered {
                about,
                status,
                attempts,
            } if attempts > 1 => say!("→ {status} {about} (after {attempts} attempts)"),
            ForwardEvent::Delivered { about, status, .. } => say!("→ {status} {about}"),
            ForwardEvent::Retrying {
                about,
                reason,
                retry_in,
            } => say!(
                "→ retrying {about} in {:.1} s: {reason}",
                retry_in.as_secs_f64()
            ),
            ForwardEvent::Rejected { about, status } => {
                say!("→ {status} {about}: rejected by the target, not retried")
            }
            ForwardEvent::Dropped {
                about,
                cause,
                total,
            } => {
                let about = about.map_or_else(|| "a notification".to_owned(), |a| a.to_string());
                let advice = match cause {
                    DropCause::QueueFull { .. } if self.spooled => "; raise --memory-max-mib",
                    DropCause::QueueFull { .. } => "; raise --memory-max-mib or use --spool",
                    DropCause::SpoolFull { .. } => "; raise --spool-max-mib",
                    DropCause::SpoolWrite { .. } => {
                        "; free space on the spool's disk or make it writable"
                    }
                    _ => "",
                };
                say!("→ DROPPED {about}: {cause} ({total} dropped in all){advice}")
            }
            ForwardEvent::SpoolFailing {
                path,
                error,
                queued,
            } => say!(
                "→ SPOOL FAILING: cannot write {}: {error}; notifications stay queued in memory ({queued} now; lost if the process is killed, dropped once --memory-max-mib is full) until it can: free space on that disk or make it writable",
                path.display()
            ),
            ForwardEvent::SpoolRecovered { path } => {
                say!("→ the spool takes writes again ({})", path.display())
            }
            other => say!("{other:?}"),
        }
    }
}

impl Handler<ConnectionEvent> for Reporter {
    type Result = ();
    fn handle(&mut self, event: ConnectionEvent, _: &mut Context<Self>) {
        output::report_event(&event, &self.url, &mut self.failed, &mut self.connected);
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, Outcome> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| Outcome::Usage(format!("{flag} must be a number of seconds, got {value}")))
}

/// A duration that must not be zero (a zero timeout fails every POST; a zero retry cap spins).
fn positive_seconds(value: f64, flag: &str) -> Result<Duration, Outcome> {
    match seconds(value, flag)? {
        duration if duration.is_zero() => Err(Outcome::Usage(format!(
            "{flag} must be more than 0 seconds"
        ))),
        duration => Ok(duration),
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    let secret = match crate::secret_from(args.secret, args.secret_file.as_deref(), "--secret-file")
    {
        Ok(secret) => secret,
        Err(outcome) => return outcome,
    };
    let (timeout, retry_cap, drain_timeout) = match (
        positive_seconds(args.timeout, "--timeout"),
        positive_seconds(args.retry_cap, "--retry-cap"),
        seconds(args.drain_timeout, "--drain-timeout"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(outcome), _, _) | (_, Err(outcome), _) | (_, _, Err(outcome)) => return outcome,
    };
    if Duration::from_millis(args.retry_base_ms) > retry_cap {
        return Outcome::Usage(format!(
            "--retry-base-ms ({} ms) must not exceed --retry-cap ({} s)",
            args.retry_base_ms, args.retry_cap
        ));
    }
    let (url, builder) = match args.server.notifier() {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let mut watch = Watch::new(&args.watch);
    let builder = builder.metrics(watch.notifier(&url));
    let forward_metrics = watch.forward();
    if let Err(outcome) = watch.serve() {
        return outcome;
    }
    let (failed_tx, failed_rx) = oneshot::channel();
    let reporter = Reporter {
        url: url.clone(),
        failed: Some(failed_tx),
        spooled: args.spool.is_some(),
        connected: false,
    }
    .start();
    let mut forwarder = WebhookForwarder::builder(args.to)
        .format(match args.format {
            Format::Protobuf => BodyFormat::Protobuf,
            Format::Json => BodyFormat::Json,
        })
        .timeout(timeout)
        .retry(
            jellyfish_notifier::retry::RetryPolicy::default()
                .base(Duration::from_millis(args.retry_base_ms.max(1)))
                .cap(retry_cap),
        )
        .memory_limit(args.memory_max_mib.saturating_mul(1 << 20))
        .metrics(forward_metrics)
        .events(reporter.clone().recipient());
    if let Some(secret) = &secret {
        forwarder = forwarder.secret(secret.expose());
    }
    if let Some(dir) = &args.spool {
        forwarder = forwarder.spool(dir, args.spool_max_mib.saturating_mul(1 << 20));
    }
    let forwarder = match forwarder.start() {
        Ok(forwarder) => forwarder,
        Err(err) => return Outcome::Failed(format!("cannot use the spool: {err}")),
    };
    let backlog = forwarder
        .send(GetForwarderStats)
        .await
        .map(|s| s.queued)
        .unwrap_or(0);
    if backlog > 0 {
        say!(
            "delivering {backlog} {} left in the spool first",
            output::plural(backlog, "notification", "notifications")
        );
    }
    let notifier = match builder
        .subscribe_connection_events(reporter.recipient())
        .subscribe_notifications(forwarder.clone().recipient::<Notification>())
        .try_start()
    {
        Ok(notifier) => notifier,
        Err(err) => return output::notifier_failure(err, &url),
    };
    let status = {
        let forwarder = forwarder.clone();
        actix_web::rt::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(5));
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Ok(stats) = forwarder.send(GetForwarderStats).await else {
                    return;
                };
                say!(
                    "forward: queued {} (spooled {}), delivered {}, retries {}, rejected {}, dropped {}",
                    stats.queued,
                    stats.spooled,
                    stats.delivered,
                    stats.retries,
                    stats.rejected,
                    stats.dropped
                );
            }
        })
    };
    let (outcome, connected) = match output::stop_cause(&url, failed_rx).await {
        Ok(outcome) => (outcome, true),
        Err(outcome) => (outcome, false),
    };
    status.abort();
    if let Ok(stats) = forwarder.send(GetForwarderStats).await
        && stats.queued > 0
    {
        let memory = stats.queued - stats.spooled;
        let keeps = match (args.spool.is_some(), memory) {
            (true, 0) => "the spool keeps them for the next start".to_owned(),
            (true, memory) => format!(
                "the spool keeps {}; {memory} in memory only would be lost",
                stats.spooled
            ),
            (false, _) => "they would be lost (no --spool)".to_owned(),
        };
        say!(
            "stopping: {} queued; delivering them for up to {:.1} s (--drain-timeout). Ctrl-C again stops now: {keeps}",
            stats.queued,
            drain_timeout.as_secs_f64()
        );
    }
    let drain = async {
        if connected {
            let _ = notifier.send(jellyfish_notifier::Shutdown).await;
        }
        forwarder
            .send(Drain {
                timeout: drain_timeout,
            })
            .await
    };
    let left = tokio::select! {
        left = drain => left,
        () = output::stop_signal() => {
            say!("stopping now");
            forwarder.send(Drain { timeout: Duration::ZERO }).await
        }
    };
    let Ok(left) = left else {
        return Outcome::Failed("the forwarder stopped unexpectedly".to_owned());
    };
    say!(
        "forward stopped: delivered {}, rejected {}, dropped {}; {} left in the spool (delivered first next time), {} lost",
        left.stats.delivered,
        left.stats.rejected,
        left.stats.dropped,
        left.spooled,
        left.lost
    );
    if left.lost > 0 || left.stats.dropped > 0 {
        let lost = left.lost as u64 + left.stats.dropped;
        return Outcome::Failed(format!(
            "{lost} {} lost: {} dropped because the queue was full, {} still queued at the stop (use --spool and raise its bounds to keep them)",
            if lost == 1 {
                "notification was"
            } else {
                "notifications were"
            },
            left.stats.dropped,
            left.lost
        ));
    }
    outcome
}
