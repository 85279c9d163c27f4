//! `jellyfish-notify`: the command-line face of jellyfish-notifier. Thin: it parses flags and calls
//! the library.
//!
//! Exit codes: 0 success (or Ctrl-C), 1 any other failure, 2 usage error, 3 authentication failed.

mod demo;
mod emulate;
mod forward;
mod output;
mod tail;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Receive Jellyfish / Fishjam media-server notifications: over the server WebSocket, by webhook,
/// or from the built-in emulator.
#[derive(Parser, Debug)]
#[command(name = "jellyfish-notify", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "\
Exit codes: 0 success or Ctrl-C, 1 failure, 2 usage error, 3 authentication failed.
Environment: JF_SERVER_ADDRESS and JF_SERVER_API_TOKEN stand in for --server and --token.
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the whole thing in one go: an emulator, a WebSocket notifier, a webhook receiver and a
    /// room lifecycle, with every notification printed and a tally at the end.
    Demo(demo::Args),
    /// Print every notification (and, with --metrics, every metrics report) from a server.
    Tail(tail::Args),
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
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
            Outcome::AuthFailed(message) => {
                eprintln!("error: {message}");
                ExitCode::from(3)
            }
            Outcome::Usage(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match &cli.command {
        Command::Emulate(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::color_stderr())
        .init();

    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::Forward(args) => forward::run(args).await,
            Command::Webhook(args) => webhook::run(args).await,
            Command::Emulate(args) => emulate::run(args).await,
        }
    });
    outcome.exit()
}

/// Where the server is and how to authenticate, shared by the commands that connect to one.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ServerArgs {
    /// The server: `host:port` (as the official SDKs take it) or a ws://, wss://, http:// or
    /// https:// base URL.
    #[arg(long, env = "JF_SERVER_ADDRESS", default_value = "localhost:5002")]
    server: String,
    /// The server API token.
    #[arg(
        long,
        env = "JF_SERVER_API_TOKEN",
        default_value = "development",
        hide_env_values = true,
        hide_default_value = true
    )]
    token: String,
    /// Use wss:// for a host:port address.
    #[arg(long)]
    secure: bool,
}

impl ServerArgs {
    /// A notifier builder for this server.
    pub(crate) fn notifier(&self) -> jellyfish_notifier::WsNotifierBuilder {
        jellyfish_notifier::WsNotifier::builder(self.server.as_str(), self.token.as_str())
            .secure(self.secure)
    }
}
