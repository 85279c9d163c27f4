//! Printing: one line per notification, JSON lines for machines, colour only on a terminal.

use std::io::{IsTerminal as _, Write as _};

use jellyfish_notifier::{MetricsReport, Notification};

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
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

/// Writes one line to stdout and flushes it, so a pipe sees every line as it happens.
pub(crate) fn line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error worth reporting line by line.
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
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
                "metrics_report            {} bytes, {rooms} rooms",
                report.raw().len()
            )
        }
        Err(_) => format!(
            "metrics_report            {} bytes (not JSON)",
            report.raw().len()
        ),
    }
}

/// Reports a connection event on stderr; hands a fatal error to whoever waits for it.
pub(crate) fn report_event(
    event: &jellyfish_notifier::ConnectionEvent,
    failed: &mut Option<tokio::sync::oneshot::Sender<jellyfish_notifier::NotifierError>>,
) {
    use jellyfish_notifier::ConnectionEvent;
    match event {
        ConnectionEvent::Connecting { attempt } if *attempt > 1 => {
            eprintln!("connecting (attempt {attempt})…");
        }
        ConnectionEvent::Connecting { .. } => eprintln!("connecting…"),
        ConnectionEvent::Ready { gap: None } => eprintln!("connected and subscribed"),
        ConnectionEvent::Ready { gap: Some(gap) } => eprintln!(
            "reconnected after {:.1}s; notifications sent meanwhile are lost (the server replays nothing)",
            gap.as_secs_f64()
        ),
        ConnectionEvent::Disconnected {
            reason, retry_in, ..
        } => {
            eprintln!(
                "disconnected: {reason}; retrying in {:.1}s",
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
            eprintln!("subscriber {subscription:?} is too slow: {total} dropped");
        }
        ConnectionEvent::MetricsUnsupported => eprintln!(
            "this server has no metrics (Fishjam Cloud removed them): --metrics shows nothing"
        ),
        other => eprintln!("{other:?}"),
    }
}

/// The outcome for a notifier that stopped for good.
pub(crate) fn notifier_failure(err: jellyfish_notifier::NotifierError) -> crate::Outcome {
    use jellyfish_notifier::NotifierError;
    match err {
        NotifierError::InvalidToken => crate::Outcome::AuthFailed(
            "authentication failed: the server rejected the API token (--token / JF_SERVER_API_TOKEN)".to_owned(),
        ),
        NotifierError::InvalidAddress { .. } => crate::Outcome::Usage(err.to_string()),
        other => crate::Outcome::Failed(other.to_string()),
    }
}

/// Runs until Ctrl-C (then shuts the notifier down: exit 0) or until the notifier fails for good.
pub(crate) async fn until_stopped(
    notifier: &actix::Addr<jellyfish_notifier::WsNotifier>,
    failed: tokio::sync::oneshot::Receiver<jellyfish_notifier::NotifierError>,
) -> crate::Outcome {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            let _ = notifier.send(jellyfish_notifier::Shutdown).await;
            crate::Outcome::Ok
        }
        failed = failed => match failed {
            Ok(err) => notifier_failure(err),
            Err(_) => crate::Outcome::Failed("the notifier stopped unexpectedly".to_owned()),
        },
    }
}
