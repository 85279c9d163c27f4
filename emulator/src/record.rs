//! The record of what the emulator sent: every frame per connection, and the socket counts.

use bytes::Bytes;

use jellyfish_notifier::{EventType, MetricsReport, Notification};

use crate::emulator::Emulator;
use crate::shared::{Shared, lock};
use crate::webhooks::WebhookDelivery;

/// What the emulator wrote to one server WebSocket, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum SentFrame {
    /// `authenticated`.
    Authenticated,
    /// A `subscribe_response`.
    SubscribeResponse(EventType),
    /// A notification.
    Notification(Notification),
    /// A metrics report.
    Metrics(MetricsReport),
    /// Bytes that are not a valid `ServerMessage` (a fault).
    Malformed(Bytes),
    /// A WebSocket ping.
    Ping,
    /// A close frame.
    Close {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The connection was dropped without a close frame.
    Dropped,
}

/// The record of one server WebSocket connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionRecord {
    /// The connection's number, in accept order from 1.
    pub id: u64,
    /// Everything written to it, in order.
    pub sent: Vec<SentFrame>,
    /// Whether the connection has ended.
    pub ended: bool,
    /// The close code the client sent, if it closed the connection itself (the emulator then
    /// answers with the same code, recorded in `sent`).
    pub client_close: Option<u16>,
}

impl ConnectionRecord {
    /// The notifications written to this connection, in order.
    pub fn notifications(&self) -> impl Iterator<Item = &Notification> {
        self.sent.iter().filter_map(|frame| match frame {
            SentFrame::Notification(n) => Some(n),
            _ => None,
        })
    }
}

impl Emulator {
    /// What was written to every server WebSocket so far, by connection, in accept order.
    pub fn connection_records(&self) -> Vec<ConnectionRecord> {
        lock(&self.shared.records).values().cloned().collect()
    }

    /// Every webhook POST so far, in the order they were sent.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.shared.webhook_records).clone()
    }

    /// Forgets the records (for long runs).
    pub fn clear_records(&self) {
        lock(&self.shared.records).retain(|_, r| !r.ended);
        for record in lock(&self.shared.records).values_mut() {
            record.sent.clear();
        }
        lock(&self.shared.webhook_records).clear();
    }

    /// How many sockets are open, and how many of them are authenticated and subscribed to
    /// notifications and to metrics.
    pub fn socket_counts(&self) -> SocketCounts {
        let sockets = lock(&self.shared.sockets);
        let open = sockets.open.values();
        SocketCounts {
            open: sockets.open.len(),
            authenticated: open.clone().filter(|s| s.authenticated).count(),
            notifications: open.clone().filter(|s| s.notifications).count(),
            metrics: open.filter(|s| s.metrics).count(),
            notification_subscriptions: sockets.notification_subscriptions,
        }
    }
}

impl Shared {
    pub(crate) fn record(&self, id: u64, frame: SentFrame) {
        if !self.config.record {
            if matches!(frame, SentFrame::Close { .. } | SentFrame::Dropped) {
                self.changed.notify_waiters();
            }
            return;
        }
        let mut records = lock(&self.records);
        let record = records.entry(id).or_insert_with(|| ConnectionRecord {
            id,
            ..ConnectionRecord::default()
        });
        if matches!(frame, SentFrame::Close { .. } | SentFrame::Dropped) {
            record.ended = true;
        }
        record.sent.push(frame);
        drop(records);
        self.changed.notify_waiters();
    }

    /// The client closed with `code`; the echo reply is recorded after this.
    pub(crate) fn record_client_close(&self, id: u64, code: u16) {
        if let Some(record) = lock(&self.records).get_mut(&id) {
            record.client_close = Some(code);
        }
    }
}

/// A snapshot of the server WebSockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketCounts {
    /// Open sockets.
    pub open: usize,
    /// Authenticated sockets.
    pub authenticated: usize,
    /// Sockets subscribed to notifications.
    pub notifications: usize,
    /// Sockets subscribed to metrics.
    pub metrics: usize,
    /// Subscriptions to notifications made since the emulator started, closed sockets included.
    /// It only grows, so a test that reads it before starting a client can wait for that client's
    /// own subscription: `notifications` alone may still count a killed client's socket that the
    /// emulator has not yet seen close.
    pub notification_subscriptions: u64,
}
