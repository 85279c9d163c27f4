//! `jellyfish-notify emulate`: a Jellyfish-compatible server until Ctrl-C.

use crate::watch::{Watch, WatchArgs};
use jellyfish_notifier::metrics::prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge,
};
use std::net::ToSocketAddrs as _;

use jellyfish_emulator::{
    Emulator, FirehoseConfig, LifecycleConfig, ParseVersionError, ServerVersion,
};

use crate::Outcome;

/// Run a Jellyfish-compatible server emulator: the notification WebSocket, the REST rooms and peers,
/// webhooks, and the /emulator/… controls of the simulated media side.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  jellyfish-notify emulate                                   # 127.0.0.1:5002, token development
  jellyfish-notify emulate --scenario lifecycle --rooms 3 --loop
  jellyfish-notify emulate --server-version 0.3 --port 0     # v0.3 JSON webhooks, a free port
  jellyfish-notify emulate --scenario firehose               # as fast as clients read
  jellyfish-notify emulate --server-version cloud --scenario lifecycle   # every Fishjam Cloud kind")]
pub(crate) struct Args {
    /// The address or host name to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port (0 picks a free one).
    #[arg(long, default_value_t = 5002)]
    port: u16,
    /// The server API token.
    #[arg(
        long,
        env = "JF_SERVER_API_TOKEN",
        default_value = "development",
        hide_env_values = true
    )]
    token: crate::Secret,
    /// The server release to behave as: 0.3 (JSON webhooks), 0.4, 0.5, or cloud (Fishjam Cloud: its
    /// REST shapes and routes, members 22–34, batched webhooks, no metrics).
    #[arg(long, default_value = "0.5", value_parser = parse_version)]
    server_version: ServerVersion,
    /// Built-in traffic to play.
    #[arg(long, value_enum, default_value_t = Scenario::None)]
    scenario: Scenario,
    /// Rooms per lifecycle round.
    #[arg(long, default_value_t = 2)]
    rooms: usize,
    /// Peers per room in the lifecycle.
    #[arg(long, default_value_t = 2)]
    peers: usize,
    /// Lifecycle actions per second.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// The lifecycle creates its rooms with this webhookUrl, so their notifications are also
    /// POSTed there (e.g. to `jellyfish-notify webhook` or your app).
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Repeat the lifecycle until Ctrl-C (the firehose always runs until Ctrl-C).
    #[arg(long = "loop")]
    looping: bool,
    /// Sign webhooks as Fishjam Cloud does (x-fishjam-signature-256) with this secret (or set
    /// FISHJAM_WEBHOOK_SECRET, or use --webhook-secret-file).
    #[arg(long)]
    webhook_secret: Option<crate::Secret>,
    /// Read the webhook signing secret from this file (its first line).
    #[arg(long, value_name = "PATH", conflicts_with = "webhook_secret")]
    webhook_secret_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    watch: WatchArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    None,
    Lifecycle,
    Firehose,
}

fn parse_version(text: &str) -> Result<ServerVersion, ParseVersionError> {
    text.parse()
}

pub(crate) async fn run(args: Args) -> Outcome {
    let bind = match (args.host.as_str(), args.port).to_socket_addrs() {
        // IPv4 first: `localhost` then means 127.0.0.1, where clients look first.
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            match addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) {
                Some(addr) => *addr,
                None => return Outcome::Usage(format!("--host {}: no address", args.host)),
            }
        }
        Err(err) => return Outcome::Usage(format!("--host {}: {err}", args.host)),
    };
    let mut builder = Emulator::builder()
        .bind(bind)
        .token(args.token.expose())
        .server_version(args.server_version)
        .record(false);
    let secret = match crate::secret_from(
        args.webhook_secret.clone(),
        args.webhook_secret_file.as_deref(),
        "--webhook-secret-file",
    ) {
        Ok(secret) => secret,
        Err(outcome) => return outcome,
    };
    if let Some(secret) = &secret {
        builder = builder.webhook_secret(secret.expose());
    }
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(err) => {
            return Outcome::Failed(format!(
                "cannot listen on {}:{}: {err}",
                args.host, args.port
            ));
        }
    };
    let emulator = std::sync::Arc::new(emulator);
    let mut watch = Watch::new(&args.watch);
    {
        let sent = Family::<Vec<(String, String)>, Counter>::default();
        watch.registry().register(
            "jellyfish_emulator_notifications_sent",
            "Notifications the emulator emitted (each to every socket subscribed then), by kind",
            sent.clone(),
        );
        let clients = Gauge::<i64>::default();
        watch.registry().register(
            "jellyfish_emulator_clients",
            "WebSocket clients connected now",
            clients.clone(),
        );
        let emulator = std::sync::Arc::clone(&emulator);
        watch.before_scrape(move || {
            for (kind, total) in emulator.notifications_sent() {
                let labels = vec![("kind".to_owned(), kind.to_owned())];
                crate::watch::follow(&sent.get_or_create(&labels), total);
            }
            clients.set(i64::try_from(emulator.socket_counts().open).unwrap_or(i64::MAX));
        });
    }
    if let Err(outcome) = watch.serve() {
        return outcome;
    }
    let url = emulator.http_url();
    crate::output::line(&format!(
        "Jellyfish emulator (server {}) listening on {url}",
        args.server_version,
    ));
    // What a newcomer needs next; the token is the one given (never printed).
    for text in [
        format!(
            "  notifications  ws://{}/socket/server/websocket",
            emulator.addr()
        ),
        format!("  REST API       {url}/room (Authorization: Bearer <the token>)"),
        format!("  a peer joins   POST {url}/emulator/room/ROOM/peer/PEER/connect"),
        format!(
            "  a track        POST {url}/emulator/room/ROOM/peer/PEER/track {{\"type\": \"video\"}}"
        ),
        format!(
            "  faults         POST {url}/emulator/faults/drop (or close, malformed, unknown, delay)"
        ),
        "  every control route: README.md, section \"The emulator\"".to_owned(),
    ] {
        crate::output::line(&text);
    }
    let traffic = async {
        match args.scenario {
            Scenario::None => std::future::pending::<Result<(), String>>().await,
            Scenario::Lifecycle => {
                let config = LifecycleConfig {
                    rooms: args.rooms,
                    peers_per_room: args.peers,
                    rate: args.rate,
                    looping: args.looping,
                    webhook_url: args.webhook_url.clone(),
                };
                emulator
                    .run_lifecycle(&config)
                    .await
                    .map_err(|err| err.to_string())?;
                tracing::info!("lifecycle scenario finished; still serving");
                std::future::pending().await
            }
            Scenario::Firehose => {
                emulator
                    .run_firehose(&FirehoseConfig {
                        total: None,
                        high_water: 1024,
                    })
                    .await;
                Ok(())
            }
        }
    };
    let outcome = tokio::select! {
        () = crate::output::stop_signal() => Outcome::Ok,
        result = traffic => match result {
            Ok(()) => Outcome::Ok,
            Err(err) => Outcome::Failed(err),
        },
    };
    // As a restarting server does: every client gets close 1001 "going away" (and may reconnect
    // elsewhere), then the emulator stops.
    let closed = emulator.close_connections(1001, "going away");
    if closed > 0 {
        emulator
            .wait_until(std::time::Duration::from_secs(2), |e| {
                e.socket_counts().open == 0
            })
            .await;
    }
    outcome
}
