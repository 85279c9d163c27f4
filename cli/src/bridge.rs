//! `jellyfish-notify bridge`: every notification from a server into a NATS JetStream stream.

use std::time::Duration;

use actix::prelude::*;
use jellyfish_notifier::Shutdown;
use jellyfish_notifier::nats::{
    BridgeEvent, DEFAULT_PREFIX, DEFAULT_STREAM, GetBridgeStats, JetStreamBridge, NatsError,
    StreamSettings,
};
use tokio::sync::oneshot;

use crate::output::{self, plural};
use crate::watch::{Watch, WatchArgs};
use crate::{Outcome, ServerArgs};

/// Subscribe over the WebSocket (reconnecting, as `tail` does) and publish every notification to a
/// NATS JetStream stream, each counted only once JetStream acknowledged it.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Subjects: <prefix>.<room>.<kind> (the room id with bytes outside A-Z a-z 0-9 - _
written %XX), <prefix>.~.<kind> without a room, <prefix>.~.gap after every reconnect,
<prefix>.metrics with --metrics. Body: the notification's protobuf ServerMessage (what the server
sends; any official SDK's receive_binary decodes it). Headers: Jellyfish-Kind, Jellyfish-Room,
Nats-Msg-Id (two bridges on one server agree on it, so the stream stores each notification once).

Examples:
  nats-server -js -sd /var/lib/nats &
  jellyfish-notify bridge                                # localhost:5002 → nats://127.0.0.1:4222
  jellyfish-notify bridge --nats nats://nats.internal:4222 --prefix fishjam --max-age-hours 24
  FISHJAM_ID=$ID FISHJAM_MANAGEMENT_TOKEN=$TOKEN jellyfish-notify bridge"
)]
pub(crate) struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// The NATS server (or $NATS_URL); for a cluster, several URLs separated by commas
    /// (nats://a:4222,nats://b:4222), failed over between.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    #[command(flatten)]
    stream: StreamArgs,
    /// Also publish the metrics reports (Jellyfish only).
    #[arg(long)]
    metrics: bool,
    #[command(flatten)]
    watch: WatchArgs,
    /// On Ctrl-C or SIGTERM, how long to keep publishing what is queued.
    #[arg(long, default_value_t = 10)]
    drain_timeout: u64,
}

/// Where and how notifications are published, shared by `bridge` and `webhook --nats`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct StreamArgs {
    /// The subject prefix.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    prefix: String,
    /// The stream, created (on PREFIX.>) if missing.
    #[arg(long, default_value = DEFAULT_STREAM)]
    stream: String,
    /// How long the stream keeps a message, when it is created here.
    #[arg(long, default_value_t = 7 * 24)]
    max_age_hours: u64,
    /// How long JetStream remembers message ids (de-duplication), when the stream is created here.
    #[arg(long, default_value_t = 120)]
    duplicate_window_secs: u64,
    /// How many servers of a NATS cluster keep a copy of the stream, when it is created here (3
    /// on a three-server cluster; more than the cluster has is refused).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=5))]
    replicas: u16,
    /// The most notifications kept while NATS is unreachable; beyond, they are dropped and counted.
    #[arg(long, default_value_t = 100_000)]
    queue_limit: usize,
    /// If the stream is gone (deleted by an operator, or nats-server restarted without its
    /// store), stop at once instead of creating it again.
    #[arg(long)]
    no_recreate_stream: bool,
    /// How many publishes may wait for JetStream's acknowledgement at once (in order on one
    /// connection, at most one per room: a room's next waits until the one before it is stored;
    /// 1 is one at a time).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    publish_window: u16,
    /// `webhook --nats`: the longest a request waits for JetStream to store it before it is
    /// answered 503, in seconds.
    #[arg(long, default_value_t = 5.0)]
    publish_timeout: f64,
}

impl StreamArgs {
    /// A bridge to `url` with these settings, reporting on stderr; the receiver gets the
    /// reason if the bridge stops for good (the stream gone, and not to be recreated).
    pub(crate) fn bridge(
        &self,
        url: &str,
        metrics: jellyfish_notifier::metrics::BridgeMetrics,
    ) -> Result<(Addr<JetStreamBridge>, oneshot::Receiver<String>), Outcome> {
        let publish_timeout = match Duration::try_from_secs_f64(self.publish_timeout) {
            Ok(timeout) if !timeout.is_zero() => timeout,
            _ => {
                return Err(Outcome::Usage(format!(
                    "--publish-timeout must be more than 0 seconds, got {}",
                    self.publish_timeout
                )));
            }
        };
        let (gone, stopped) = oneshot::channel();
        let reporter = Reporter {
            url: jellyfish_notifier::nats::redacted(url),
            gone: Some(gone),
        };
        let bridge = JetStreamBridge::builder(url)
            .prefix(self.prefix.as_str())
            .stream(StreamSettings {
                name: self.stream.clone(),
                max_age: Duration::from_secs(self.max_age_hours * 3600),
                duplicate_window: Duration::from_secs(self.duplicate_window_secs),
                replicas: usize::from(self.replicas),
            })
            .queue_limit(self.queue_limit)
            .publish_timeout(publish_timeout)
            .recreate_stream(!self.no_recreate_stream)
            .window(usize::from(self.publish_window))
            .metrics(metrics)
            .events(reporter.start().recipient())
            .start();
        Ok((bridge, stopped))
    }
}

/// Says the bridge's events on stderr, with what to do.
struct Reporter {
    /// `--nats` as it may be said: without credentials.
    url: String,
    gone: Option<oneshot::Sender<String>>,
}

impl Actor for Reporter {
    type Context = Context<Self>;
}

impl Handler<BridgeEvent> for Reporter {
    type Result = ();
    fn handle(&mut self, event: BridgeEvent, _: &mut Context<Self>) {
        match event {
            BridgeEvent::Ready => say!("NATS: connected, the stream is there"),
            BridgeEvent::Retrying {
                error,
                queued,
                retry_in,
            } => {
                let hint = match &error {
                    NatsError::Connect { .. } => {
                        format!(" (is nats-server running at {}? --nats)", self.url)
                    }
                    NatsError::Stream { .. } => {
                        " (does nats-server run with JetStream, -js? is the stream name taken?)"
                            .to_owned()
                    }
                    _ => String::new(),
                };
                say!(
                    "NATS: {error}; {queued} {} waiting, retrying in {:.1} s{hint}",
                    plural(queued, "notification", "notifications"),
                    retry_in.as_secs_f64()
                )
            }
            BridgeEvent::StreamRecreated { stream } => say!(
                "NATS: the stream {stream} was gone (deleted, or nats-server restarted without its store): created it again with this bridge's settings; what it held before is gone"
            ),
            BridgeEvent::StreamGone {
                stream,
                unpublished,
            } => {
                let reason = format!(
                    "the NATS stream {stream} is gone (deleted, or nats-server restarted without its store) and --no-recreate-stream is set: stopped with {unpublished} {} unpublished",
                    plural(unpublished, "notification", "notifications")
                );
                if let Some(gone) = self.gone.take() {
                    let _ = gone.send(reason);
                }
            }
            BridgeEvent::StreamLimits { stream, limits } => say!(
                "warning: the NATS stream {stream} can delete notifications it acknowledged: {limits}. What is published may not stay stored: use a stream without these limits (or with discard new)"
            ),
            BridgeEvent::Disconnected { server } => say!(
                "NATS: lost the connection to {server}; reconnecting, to it or another of --nats's URLs"
            ),
            BridgeEvent::Reconnected { server } => say!("NATS: connected again, to {server}"),
            BridgeEvent::LeaderElected { stream, leader } => {
                say!("NATS: the stream {stream} has a new leader: {leader}")
            }
            BridgeEvent::QuorumLost { stream } => say!(
                "NATS: the stream {stream} lost its quorum: nothing is stored until enough of its servers are back (publishes are retried)"
            ),
            BridgeEvent::Dropped { total } => say!(
                "NATS: DROPPED {total} {} so far: the queue (--queue-limit) is full",
                plural(total as usize, "notification", "notifications")
            ),
            other => say!("NATS: {other:?}"),
        }
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    let (url, builder) = match args.server.notifier() {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let mut watch = Watch::new(&args.watch);
    let builder = builder.metrics(watch.notifier(&url));
    let bridge_metrics = watch.bridge(&args.nats);
    let (bridge, bridge_stopped) = match args.stream.bridge(&args.nats, bridge_metrics) {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = watch.serve() {
        return outcome;
    }
    let (reporter, failed) = output::ConnectionReporter::start(&url);
    let mut builder = builder
        .subscribe_connection_events(reporter.recipient())
        .subscribe_connection_events(bridge.clone().recipient())
        .subscribe_notifications(bridge.clone().recipient());
    if args.metrics {
        builder = builder.subscribe_metrics(bridge.clone().recipient());
    }
    let notifier = match builder.try_start() {
        Ok(notifier) => notifier,
        Err(err) => return output::notifier_failure(err, &url),
    };
    let outcome = tokio::select! {
        () = output::stop_signal() => Outcome::Ok,
        failed = failed => match failed {
            Ok(err) => output::notifier_failure(err, &url),
            Err(_) => Outcome::Failed("the notifier stopped unexpectedly".to_owned()),
        },
        Ok(reason) = bridge_stopped => {
            let _ = notifier.send(Shutdown).await;
            return Outcome::Failed(reason);
        }
    };
    let _ = notifier.send(Shutdown).await;
    // What reached the bridge is published, for at most --drain-timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.drain_timeout);
    let mut stats = bridge.send(GetBridgeStats).await.unwrap_or_default();
    while stats.queued > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = bridge.send(GetBridgeStats).await.unwrap_or_default();
    }
    say!(
        "published {} ({} already stored by another bridge), {} retries, {} dropped, {} left unpublished",
        stats.stored,
        stats.duplicates,
        stats.retries,
        stats.dropped,
        stats.queued
    );
    if stats.dropped + stats.queued as u64 > 0 {
        return Outcome::Failed(format!(
            "{} {} not published to {}",
            stats.dropped + stats.queued as u64,
            if stats.dropped + stats.queued as u64 == 1 {
                "notification was"
            } else {
                "notifications were"
            },
            jellyfish_notifier::nats::redacted(&args.nats)
        ));
    }
    outcome
}
