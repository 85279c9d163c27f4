//! `jellyfish-notify tail`: print what a server sends.

use actix::prelude::*;
use jellyfish_notifier::{MetricsReport, Notification};

use crate::output::{self, line};
use crate::watch::{Watch, WatchArgs};
use crate::{Outcome, ServerArgs};

/// Print every notification from a server until Ctrl-C or SIGTERM (or until stdout closes).
/// Reconnects by itself.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify tail                                  # localhost:5002, token development
  jellyfish-notify tail --server jellyfish.example.com:443 --secure --token $TOKEN
  JF_SERVER_API_TOKEN=$TOKEN jellyfish-notify tail --json --metrics | jq .type")]
pub(crate) struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Also print the metrics reports (every second).
    #[arg(long)]
    metrics: bool,
    /// One JSON object per line on stdout (the crate's JSON shape); status stays on stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    watch: WatchArgs,
}

struct Printer {
    json: bool,
}

impl Actor for Printer {
    type Context = Context<Self>;
}

impl Handler<Notification> for Printer {
    type Result = ();
    fn handle(&mut self, notification: Notification, _: &mut Context<Self>) {
        line(&output::notification_line(&notification, self.json, None));
    }
}

impl Handler<MetricsReport> for Printer {
    type Result = ();
    fn handle(&mut self, report: MetricsReport, _: &mut Context<Self>) {
        line(&output::metrics_line(&report, self.json));
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    let (url, builder) = match args.server.notifier() {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let mut watch = Watch::new(&args.watch);
    let builder = builder.metrics(watch.notifier(&url));
    if let Err(outcome) = watch.serve() {
        return outcome;
    }
    let (reporter, failed_rx) = output::ConnectionReporter::start(&url);
    let printer = Printer { json: args.json }.start();
    // Subscribed before the start, so that not even the first attempt goes unreported.
    let mut builder = builder
        .subscribe_connection_events(reporter.recipient())
        .subscribe_notifications(printer.clone().recipient());
    if args.metrics {
        builder = builder.subscribe_metrics(printer.recipient());
    }
    let notifier = match builder.try_start() {
        Ok(notifier) => notifier,
        Err(err) => return output::notifier_failure(err, &url),
    };
    output::until_stopped(&notifier, &url, failed_rx).await
}
