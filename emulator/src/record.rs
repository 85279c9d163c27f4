//! The record of what the emulator sent: every frame per connection, and the socket counts.
//! Plain data: the shared state writes it, the [`Emulator`](crate::Emulator) hands out copies.

use bytes::Bytes;

use jellyfish_notifier::control::EventType;
use jellyfish_notifier::{MetricsReport, Notification};

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
