//! `jellyfish-notify`: the command-line face of jellyfish-notifier. Thin: it parses flags and calls
//! the library.
//!
//! Exit codes: 0 success or a normal stop (Ctrl-C, SIGTERM, a closed stdout), 1 any other
//! failure, 2 usage error, 3 authentication failed.

/// `eprintln!` that cannot panic: a closed stderr (`2>&1 | head`) must not crash a command. With
/// `--log-format json`, one JSON object a line.
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::output::say(&format!($($arg)*), false);
    }};
}

mod bridge;
mod dashboard;
mod demo;
mod emulate;
mod forward;
mod output;
mod rooms;
mod tail;
mod watch;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jellyfish_notifier::Server;

/// Receive Jellyfish / Fishjam media-server notifications: over the server WebSocket, by webhook,
/// or from the built-in emulator.
#[derive(Parser, Debug)]
#[command(name = "jellyfish-notify", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How stderr is written: text (for people) or json (one JSON object per line, for a log
    /// collector; the library's events and the command's own lines alike).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

const EXIT_CODES: &str = "\
Exit codes: 0 success, or a normal stop (Ctrl-C, SIGTERM, or stdout closed as by `| head`);
1 failure (stdout full or failing included), 2 usage error, 3 authentication failed.
Secrets: --token-file, --secret-file and the environment keep them out of the process list.
Environment: JF_SERVER_ADDRESS (or FISHJAM_URL, FISHJAM_ID) and JF_SERVER_API_TOKEN (or
FISHJAM_MANAGEMENT_TOKEN) stand in for --server and --token.
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the whole thing in one go: an emulator, a WebSocket notifier, a webhook receiver and a
    /// room lifecycle, with every notification printed and a tally at the end.
    Demo(demo::Args),
    /// Print every notification (and, with --metrics, every metrics report) from a server.
    Tail(tail::Args),
    /// Print the live state of every room, peer and track, and every change; healed after gaps.
    Rooms(rooms::Args),
    /// Serve a live page of every room, peer and track, the notifications and the connection;
    /// with the emulator, controls to drive it.
    Dashboard(dashboard::Args),
    /// Subscribe over the WebSocket and publish every notification to a NATS JetStream stream.
    Bridge(bridge::Args),
    /// Subscribe over the WebSocket and POST every notification to a webhook endpoint.
    Forward(forward::Args),
    /// Receive webhooks on any path and print each notification.
    Webhook(webhook::Args),
    /// Run a Jellyfish-compatible server emulator until Ctrl-C.
    Emulate(emulate::Args),
}

/// How a command ended.
pub(crate) enum Outcome {
    Ok,
    Failed(String),
    AuthFailed(String),
    Usage(String),
}

impl Outcome {
    fn exit(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Failed(message) => {
                output::say(&format!("error: {message}"), true);
                ExitCode::from(1)
            }
            Outcome::AuthFailed(message) => {
                output::say(&format!("error: {message}"), true);
                ExitCode::from(3)
            }
            Outcome::Usage(message) => {
                output::say(&format!("error: {message}"), true);
                ExitCode::from(2)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The commands say every connection event and failure themselves, once; the library's own
    // log lines stay for RUST_LOG (e.g. RUST_LOG=jellyfish_notifier=debug).
    let default_level = match &cli.command {
        Command::Emulate(_) => "info",
        _ => "warn,jellyfish_notifier=off",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(output::color_stderr())
            .init(),
        LogFormat::Json => {
            output::set_json_logs();
            // The command's own lines are events of target jellyfish_notify: always shown.
            let filter = match "jellyfish_notify=info".parse() {
                Ok(directive) => filter.add_directive(directive),
                Err(_) => filter,
            };
            tracing_subscriber::fmt()
                .json()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .init();
        }
    }

    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::Rooms(args) => rooms::run(args).await,
            Command::Dashboard(args) => dashboard::run(args).await,
            Command::Bridge(args) => bridge::run(args).await,
            Command::Forward(args) => forward::run(args).await,
            Command::Webhook(args) => webhook::run(args).await,
            Command::Emulate(args) => emulate::run(args).await,
        }
    });
    outcome.exit()
}

/// Where the server is and how to authenticate, shared by the commands that connect to one.
///
/// Jellyfish: the server's address and its `JF_SERVER_API_TOKEN` (one token for the WebSocket and the
/// REST API). Fishjam Cloud: the Fishjam ID (or the full URL the dashboard shows) and the
/// management token.
#[derive(clap::Args, Clone)]
pub(crate) struct ServerArgs {
    /// The server: a Fishjam ID, `host:port` (as the official SDKs take it), or a ws://, wss://,
    /// http:// or https:// base URL. Default: $JF_SERVER_ADDRESS, else $FISHJAM_URL, else
    /// $FISHJAM_ID, else localhost:5002.
    #[arg(long)]
    server: Option<String>,
    /// The token: Jellyfish's server API token or Fishjam's management token. Default:
    /// $JF_SERVER_API_TOKEN, else $FISHJAM_MANAGEMENT_TOKEN, else development (never give a real
    /// one on the command line: other users see it in the process list).
    #[arg(long, hide_default_value = true)]
    token: Option<String>,
    /// Read the token from this file (its first line) instead.
    #[arg(long, value_name = "PATH", conflicts_with = "token")]
    token_file: Option<std::path::PathBuf>,
    /// Use wss:// for a host:port address.
    #[arg(long)]
    secure: bool,
}

impl std::fmt::Debug for ServerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerArgs")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("secure", &self.secure)
            .finish()
    }
}

/// A secret given on the command line or in the environment (a token, a signing secret): its
/// `Debug` output is redacted, so no log line or error can print it.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the webhook secret comes from when neither its flag nor its file is given.
pub(crate) const WEBHOOK_SECRET_ENV: &str = "FISHJAM_WEBHOOK_SECRET";

/// A secret from a file (its first line), else its flag, else the environment
/// ([`WEBHOOK_SECRET_ENV`]).
pub(crate) fn secret_from(
    given: Option<Secret>,
    file: Option<&std::path::Path>,
    flag: &str,
) -> Result<Option<Secret>, Outcome> {
    match file {
        None => Ok(given.or_else(|| first_env(&[WEBHOOK_SECRET_ENV]).map(Secret))),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Secret(
                text.lines().next().unwrap_or_default().trim().to_owned(),
            ))),
            Err(err) => Err(Outcome::Usage(format!(
                "cannot read {flag} {}: {err}",
                path.display()
            ))),
        },
    }
}

/// The first of these environment variables that is set and not empty.
fn first_env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    })
}

impl ServerArgs {
    /// The server: the flags, else the environment (the library's [`Server::from_env`] chain).
    fn resolve(&self) -> Result<Server, Outcome> {
        let mut server = Server::from_env().secure(self.secure);
        if let Some(address) = &self.server {
            server = server.with_address(address.as_str());
        }
        if let Some(path) = &self.token_file {
            let token = secret_from(None, Some(path), "--token-file")?
                .map(|secret| secret.0)
                .unwrap_or_default();
            server = server.with_token(token);
        } else if let Some(token) = &self.token {
            server = server.with_token(token.as_str());
        }
        Ok(server)
    }

    /// The WebSocket URL this resolves to (for messages); says once if `--server` has no port.
    fn websocket_url(&self, server: &Server) -> Result<String, Outcome> {
        let address = server.address();
        let url = server
            .websocket_url()
            .map_err(|err| Outcome::Usage(err.to_string()))?;
        let bare_host = !address.contains("://") && !address.contains(':');
        // $FISHJAM_ID is one on purpose; a word given as --server or $JF_SERVER_ADDRESS may be a
        // host name (a compose service) that the rule turned into one.
        let from_fishjam_id =
            self.server.is_none() && first_env(&Server::ADDRESS_VARIABLES[..2]).is_none();
        if bare_host && url.contains("fishjam.io/api/v1/connect/") && !from_fishjam_id {
            say!(
                "note: --server {address} has no port or scheme, so it is taken as a Fishjam ID: {url}; for a host of that name give {address}:5002 or ws://{address}"
            );
        } else if bare_host && !url.contains("fishjam.io/api/v1/connect/") {
            let port = if self.secure { 443 } else { 80 };
            say!(
                "warning: --server {address} has no port, so {url} (port {port}) it is; a local Jellyfish listens on {address}:5002"
            );
        }
        Ok(url)
    }

    /// A Room API client for this server.
    pub(crate) fn room_api(&self) -> Result<jellyfish_notifier::RoomApi, Outcome> {
        self.resolve()?
            .room_api()
            .map_err(|err| Outcome::Usage(err.to_string()))
    }

    /// A notifier builder for this server, and the WebSocket URL it connects to (for messages).
    pub(crate) fn notifier(
        &self,
    ) -> Result<(String, jellyfish_notifier::WsNotifierBuilder), Outcome> {
        let server = self.resolve()?;
        let url = self.websocket_url(&server)?;
        Ok((url, server.notifier()))
    }
}
