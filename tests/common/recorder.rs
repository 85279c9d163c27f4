//! A subscriber actor that forwards what it receives to a channel the test reads.

use std::time::Duration;

use actix::prelude::*;
use jellyfish_notifier::{ConnectionEvent, MetricsReport, Notification};
use tokio::sync::mpsc;

pub struct Recorder {
    notifications: mpsc::UnboundedSender<Notification>,
    metrics: mpsc::UnboundedSender<MetricsReport>,
    events: mpsc::UnboundedSender<ConnectionEvent>,
}

pub struct Received {
    pub notifications: mpsc::UnboundedReceiver<Notification>,
    pub metrics: mpsc::UnboundedReceiver<MetricsReport>,
    pub events: mpsc::UnboundedReceiver<ConnectionEvent>,
}

impl Recorder {
    pub fn start() -> (Addr<Recorder>, Received) {
        let (n_tx, n_rx) = mpsc::unbounded_channel();
        let (m_tx, m_rx) = mpsc::unbounded_channel();
        let (e_tx, e_rx) = mpsc::unbounded_channel();
        // A mailbox large enough for any burst a test sends, so only a subscriber built to be slow
        // ever fills up under the drop policy.
        let addr = Recorder::create(|ctx| {
            ctx.set_mailbox_capacity(100_000);
            Recorder {
                notifications: n_tx,
                metrics: m_tx,
                events: e_tx,
            }
        });
        (
            addr,
            Received {
                notifications: n_rx,
                metrics: m_rx,
                events: e_rx,
            },
        )
    }
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<Notification> for Recorder {
    type Result = ();
    fn handle(&mut self, n: Notification, _: &mut Context<Self>) {
        let _ = self.notifications.send(n);
    }
}

impl Handler<MetricsReport> for Recorder {
    type Result = ();
    fn handle(&mut self, m: MetricsReport, _: &mut Context<Self>) {
        let _ = self.metrics.send(m);
    }
}

impl Handler<ConnectionEvent> for Recorder {
    type Result = ();
    fn handle(&mut self, e: ConnectionEvent, _: &mut Context<Self>) {
        let _ = self.events.send(e);
    }
}

/// Answered once every message queued before it has been handled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

impl Handler<Flush> for Recorder {
    type Result = ();
    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {}
}

/// Stops the recorder.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Recorder {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

const PATIENCE: Duration = Duration::from_secs(10);

/// The next item, or a panic naming what was awaited.
pub async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(PATIENCE, rx.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {PATIENCE:?}"),
    }
}

/// The next event matching `want`, skipping others.
pub async fn event_where(
    rx: &mut mpsc::UnboundedReceiver<ConnectionEvent>,
    what: &str,
    want: impl Fn(&ConnectionEvent) -> bool,
) -> ConnectionEvent {
    loop {
        let event = recv(rx, what).await;
        if want(&event) {
            return event;
        }
    }
}
