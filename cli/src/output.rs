//! Printing: one line per notification, JSON lines for machines, colour only on a terminal.

use std::io::{IsTerminal as _, Write as _};

use jellyfish_notifier::{MetricsReport, Notification};

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--log-format json`: what the commands say goes out as tracing events, one JSON object a line.
pub(crate) fn set_json_logs() {
    JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Says a status line on stderr: as it is, or (`--log-format json`) as a JSON object with the
/// line as its `message`. A closed stderr is not a reason to panic.
pub(crate) fn say(text: &str, error: bool) {
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        if error {
            tracing::error!(target: "jellyfish_notify", "{text}");
        } else {
            tracing::info!(target: "jellyfish_notify", "{text}");
        }
    } else {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

/// Whether stderr gets ANSI colour.
pub(crate) fn color_stderr() -> bool {
    color_allowed() && std::io::stderr().is_terminal()
}

/// Whether stdout gets ANSI colour.
pub(crate) fn color_stdout() -> bool {
    color_allowed() && std::io::stdout().is_terminal()
}

/// Where a notification came from, for the demo's marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    WebSocket,
    Webhook,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::WebSocket => "websocket",
            Source::Webhook => "webhook  ",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Source::WebSocket => "\x1b[36m",
            Source::Webhook => "\x1b[35m",
        }
    }
}

/// The first failure to write to stdout, for whoever waits for it ([`stdout_failed`]).
static STDOUT_FAILURE: std::sync::OnceLock<(
    std::sync::Mutex<Option<std::io::Error>>,
    tokio::sync::Notify,
)> = std::sync::OnceLock::new();

fn stdout_failure() -> &'static (
    std::sync::Mutex<Option<std::io::Error>>,
    tokio::sync::Notify,
) {
    STDOUT_FAILURE.get_or_init(Default::default)
}

/// Writes one line to stdout and flushes it, so a pipe sees every line as it happens. Answers
/// whether it was written; a failure (a closed pipe, a full disk) is kept for [`stdout_failed`],
/// which ends the command.
pub(crate) fn line(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    match written {
        Ok(()) => true,
        Err(err) => {
            let (failure, notify) = stdout_failure();
            let mut failure = failure.lock().unwrap_or_else(|p| p.into_inner());
            if failure.is_none() {
                *failure = Some(err);
                notify.notify_waiters();
                notify.notify_one();
            }
            false
        }
    }
}

/// Resolves once writing to stdout has failed: a closed pipe (`| head`) ends the command quietly
/// with exit 0, as `head` users expect; any other failure ends it with a message and exit 1.
pub(crate) async fn stdout_failed() -> crate::Outcome {
    let (failure, notify) = stdout_failure();
    loop {
        let notified = notify.notified();
        if let Some(err) = failure.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return if err.kind() == std::io::ErrorKind::BrokenPipe {
                crate::Outcome::Ok
            } else {
                crate::Outcome::Failed(format!(
                    "cannot write to standard output: {err}; stopping (check the disk or the pipe)"
                ))
            };
        }
        notified.await;
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what systemd, Docker and Kubernetes send): a normal
/// stop.
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A notification as one line: the crate's JSON shape with `json`, else `kind {json}`.
pub(crate) fn notification_line(
    notification: &Notification,
    json: bool,
    source: Option<Source>,
) -> String {
    let body = serde_json::to_string(notification).unwrap_or_else(|err| format!("<{err}>"));
    if json {
        return body;
    }
    let color = color_stdout();
    let (bold, reset) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    match source {
        Some(source) => {
            let mark = if color { source.color() } else { "" };
            format!(
                "{mark}[{}]{reset} {bold}{:<24}{reset} {body}",
                source.label(),
                notification.kind()
            )
        }
        None => format!("{bold}{:<24}{reset} {body}", notification.kind()),
    }
}

/// `one` or `many`, as `n` says.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A notification in one line of at most `width` columns: the kind, then its fields as `key=value`
/// (UUIDs cut to their first 6 characters), the line cut with `…` if still too long.
pub(crate) fn short_line(
    notification: &Notification,
    source: Option<Source>,
    width: usize,
) -> String {
    fn shorten(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            // UUIDs, and track ids made of two (`peer:track`).
            // UUIDs become their first 6 characters, as short commit hashes do; a track id made
            // of two (`peer:track`) keeps the track's part.
            Value::String(text) if text.len() >= 32 && text.contains('-') => {
                let last = text.rsplit(':').next().unwrap_or(&text);
                Value::String(last.get(..6).unwrap_or(last).to_owned())
            }
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, shorten(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(shorten).collect()),
            other => other,
        }
    }
    // Where it happened first, then what.
    const FIRST: [&str; 4] = ["room_id", "peer_id", "component_id", "stream_id"];
    let mut fields = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(notification) {
        for (key, value) in map {
            if key == "type" || (key == "peer_type" && value == "unspecified") {
                continue;
            }
            let value = match shorten(value) {
                serde_json::Value::String(text) => text,
                // A track: its id and kind.
                serde_json::Value::Object(track) if track.contains_key("id") => {
                    [&track["id"], &track["type"]]
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                other => other.to_string(),
            };
            let rank = FIRST.iter().position(|k| *k == key).unwrap_or(FIRST.len());
            let key = key.strip_suffix("_id").unwrap_or(&key).to_owned();
            fields.push((rank, format!("{key}={value}")));
        }
    }
    fields.sort_by_key(|(rank, _)| *rank);
    let fields: Vec<String> = fields.into_iter().map(|(_, field)| field).collect();
    let label = source
        .map(|s| format!("[{}] ", s.label()))
        .unwrap_or_default();
    let mut text = format!("{label}{:<22} {}", notification.kind(), fields.join(" "));
    if text.chars().count() > width {
        text = text
            .chars()
            .take(width.saturating_sub(1))
            .collect::<String>()
            + "…";
    }
    let color = color_stdout();
    match source {
        Some(source) if color => {
            let label_len = label.len();
            format!(
                "{}{}\x1b[0m{}",
                source.color(),
                &text[..label_len],
                &text[label_len..]
            )
        }
        _ => text,
    }
}

/// A metrics report as one line: the crate's JSON shape with `json`, else a compact summary.
pub(crate) fn metrics_line(report: &MetricsReport, json: bool) -> String {
    if json {
        return serde_json::to_string(report).unwrap_or_else(|err| format!("<{err}>"));
    }
    match report.json() {
        Ok(value) => {
            let rooms = value.as_object().map_or(0, |o| {
                o.keys().filter(|k| k.starts_with("room_id=")).count()
            });
            format!(
                "metrics_report            {} bytes, {rooms} {}",
                report.raw().len(),
                plural(rooms, "room", "rooms")
            )
        }
        Err(_) => format!(
            "metrics_report            {} bytes (not JSON)",
            report.raw().len()
        ),
    }
}

/// Reports a connection event on stderr, one line each, naming the server's URL; hands a fatal
/// error to whoever waits for it (which says it, once).
pub(crate) fn report_event(
    event: &jellyfish_notifier::ConnectionEvent,
    url: &str,
    failed: &mut Option<tokio::sync::oneshot::Sender<jellyfish_notifier::NotifierError>>,
    connected: &mut bool,
) {
    use jellyfish_notifier::ConnectionEvent;
    match event {
        // A failed attempt is said by its `Disconnected`; success by `Ready`.
        ConnectionEvent::Connecting { .. } => {}
        ConnectionEvent::Ready { gap: None } => {
            *connected = true;
            say!("connected to {url} and subscribed");
        }
        ConnectionEvent::Ready { gap: Some(gap) } => {
            *connected = true;
            say!(
                "reconnected to {url} after {:.1} s; notifications sent meanwhile are lost (the server replays nothing)",
                gap.as_secs_f64()
            );
        }
        // A live connection that went is news of its own; an attempt that failed is about reaching
        // the server.
        ConnectionEvent::Disconnected {
            reason, retry_in, ..
        } if std::mem::take(connected) => say!(
            "lost the connection to {url}: {reason}; reconnecting in {:.1} s",
            retry_in.as_secs_f64()
        ),
        ConnectionEvent::Disconnected {
            reason,
            retry_in,
            attempt,
        } => {
            say!(
                "cannot reach {url}: {reason}; retrying in {:.1} s (attempt {attempt}); check --server and that the server is running",
                retry_in.as_secs_f64()
            );
        }
        ConnectionEvent::Failed(err) => {
            if let Some(tx) = failed.take() {
                let _ = tx.send(err.clone());
            }
        }
        ConnectionEvent::NotificationsDropped {
            subscription,
            total,
        } => {
            say!("subscriber {subscription:?} is too slow: {total} dropped");
        }
        ConnectionEvent::MetricsUnsupported => {
            say!("this server has no metrics (Fishjam Cloud removed them): --metrics shows nothing")
        }
        other => say!("{other:?}"),
    }
}

/// Says every connection event on stderr ([`report_event`]); hands the final error to whoever
/// waits on the receiver [`ConnectionReporter::start`] gives.
pub(crate) struct ConnectionReporter {
    url: String,
    failed: Option<tokio::sync::oneshot::Sender<jellyfish_notifier::NotifierError>>,
    /// The last event said the connection was up.
    connected: bool,
}

impl ConnectionReporter {
    /// A reporter for the notifier of `url`, and where its final error arrives.
    pub(crate) fn start(
        url: &str,
    ) -> (
        actix::Addr<Self>,
        tokio::sync::oneshot::Receiver<jellyfish_notifier::NotifierError>,
    ) {
        use actix::Actor as _;
        let (failed, receiver) = tokio::sync::oneshot::channel();
        let reporter = Self {
            url: url.to_owned(),
            failed: Some(failed),
            connected: false,
        };
        (reporter.start(), receiver)
    }
}

impl actix::Actor for ConnectionReporter {
    type Context = actix::Context<Self>;
}

impl actix::Handler<jellyfish_notifier::ConnectionEvent> for ConnectionReporter {
    type Result = ();
    fn handle(&mut self, event: jellyfish_notifier::ConnectionEvent, _: &mut actix::Context<Self>) {
        report_event(&event, &self.url, &mut self.failed, &mut self.connected);
    }
}

/// The outcome for a notifier that stopped for good, naming the server's URL.
pub(crate) fn notifier_failure(
    err: jellyfish_notifier::NotifierError,
    url: &str,
) -> crate::Outcome {
    use jellyfish_notifier::NotifierError;
    match err {
        NotifierError::InvalidToken => crate::Outcome::AuthFailed(format!(
            "authentication failed: {url} rejected the token; give the right one with --token, JF_SERVER_API_TOKEN or FISHJAM_MANAGEMENT_TOKEN"
        )),
        NotifierError::InvalidAddress { .. } => crate::Outcome::Usage(err.to_string()),
        other => crate::Outcome::Failed(format!("{url}: {other}")),
    }
}

/// Runs until SIGINT or SIGTERM, or until stdout fails (each then closes the WebSocket with 1000
/// and waits, bounded, for the server's reply), or until the notifier fails for good.
pub(crate) async fn until_stopped(
    notifier: &actix::Addr<jellyfish_notifier::WsNotifier>,
    url: &str,
    failed: tokio::sync::oneshot::Receiver<jellyfish_notifier::NotifierError>,
) -> crate::Outcome {
    match stop_cause(url, failed).await {
        Ok(outcome) => {
            let _ = notifier.send(jellyfish_notifier::Shutdown).await;
            outcome
        }
        Err(outcome) => outcome,
    }
}

/// Waits for SIGINT or SIGTERM, or for stdout to fail (`Ok`: the WebSocket is to be closed), or
/// for the notifier to fail for good (`Err`: it is already closed).
pub(crate) async fn stop_cause(
    url: &str,
    failed: tokio::sync::oneshot::Receiver<jellyfish_notifier::NotifierError>,
) -> Result<crate::Outcome, crate::Outcome> {
    tokio::select! {
        () = stop_signal() => Ok(crate::Outcome::Ok),
        outcome = stdout_failed() => Ok(outcome),
        failed = failed => Err(match failed {
            Ok(err) => notifier_failure(err, url),
            Err(_) => crate::Outcome::Failed("the notifier stopped unexpectedly".to_owned()),
        }),
    }
}
