//! The state shared by the HTTP workers, the socket tasks, the metrics loop and the webhook sender,
//! and the one way an action's notifications go out: under the world lock, to every subscribed
//! socket and to the room's webhook.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use jellyfish_notifier::control::ServerClose;
use jellyfish_notifier::{ApiToken, Notification};

use crate::builder::EmulatorBuilder;
use crate::error::ActionError;
use crate::record::{ConnectionRecord, SentFrame};
use crate::webhooks::{self, WebhookDelivery};
use crate::world::{Emissions, World};

/// A frame queued for one socket.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    Frame { bytes: Bytes, record: SentFrame },
    Close(ServerClose),
    Drop,
}

#[derive(Debug)]
pub(crate) struct SocketEntry {
    pub(crate) tx: mpsc::UnboundedSender<Outgoing>,
    /// Frames queued for this socket and not yet written (for the firehose's flow control).
    pub(crate) queued: Arc<AtomicUsize>,
    pub(crate) authenticated: bool,
    pub(crate) notifications: bool,
    pub(crate) metrics: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Sockets {
    pub(crate) next_id: u64,
    /// Subscriptions to notifications made since the start, on sockets open or closed.
    pub(crate) notification_subscriptions: u64,
    pub(crate) open: BTreeMap<u64, SocketEntry>,
}

/// State shared by the HTTP workers, the socket tasks, the metrics loop and the webhook sender.
pub(crate) struct Shared {
    pub(crate) token: ApiToken,
    pub(crate) world: Mutex<World>,
    pub(crate) sockets: Mutex<Sockets>,
    pub(crate) records: Mutex<BTreeMap<u64, ConnectionRecord>>,
    pub(crate) webhook_records: Mutex<Vec<WebhookDelivery>>,
    pub(crate) webhook_tx: mpsc::UnboundedSender<webhooks::Job>,
    pub(crate) frame_delay_us: AtomicU64,
    pub(crate) changed: Notify,
    pub(crate) config: EmulatorBuilder,
    pub(crate) address: Mutex<String>,
    pub(crate) started: Instant,
    /// Notifications emitted since start, by kind.
    pub(crate) sent_by_kind: Mutex<BTreeMap<&'static str, u64>>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the state stays usable:
/// every critical section leaves it consistent before anything can panic).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Runs an action on the world and sends what it emitted, all under the world lock so that every
    /// socket and webhook sees one global order.
    pub(crate) fn act<T>(
        &self,
        action: impl FnOnce(&mut World) -> Result<(T, Emissions), ActionError>,
    ) -> Result<T, ActionError> {
        let mut world = lock(&self.world);
        let (value, emissions) = action(&mut world)?;
        for emitted in emissions {
            self.broadcast_notification(&emitted.notification);
            if let Some(target) = emitted.webhook {
                // The receiver only ends with the emulator; a send error just means shutdown.
                let _ = self.webhook_tx.send(webhooks::Job {
                    url: target.url,
                    batch: target.batch,
                    notification: emitted.notification,
                });
            }
        }
        Ok(value)
    }

    /// [`Shared::act`] for an action whose only result is what it emits.
    pub(crate) fn emit(
        &self,
        action: impl FnOnce(&mut World) -> Result<Emissions, ActionError>,
    ) -> Result<(), ActionError> {
        self.act(|world| Ok(((), action(world)?)))
    }

    pub(crate) fn broadcast_notification(&self, notification: &Notification) {
        *lock(&self.sent_by_kind)
            .entry(notification.kind())
            .or_default() += 1;
        match notification.encode() {
            Ok(bytes) => self.broadcast(
                |s| s.notifications,
                Bytes::from(bytes),
                SentFrame::Notification(notification.clone()),
            ),
            Err(err) => tracing::error!(%err, "notification cannot be encoded; not sent"),
        }
    }

    pub(crate) fn broadcast(
        &self,
        to: impl Fn(&SocketEntry) -> bool,
        bytes: Bytes,
        record: SentFrame,
    ) {
        let sockets = lock(&self.sockets);
        for entry in sockets.open.values().filter(|s| s.authenticated && to(s)) {
            entry.queued.fetch_add(1, Ordering::Relaxed);
            let _ = entry.tx.send(Outgoing::Frame {
                bytes: bytes.clone(),
                record: record.clone(),
            });
        }
    }

    pub(crate) fn to_every_socket(&self, outgoing: impl Fn() -> Outgoing) -> usize {
        let sockets = lock(&self.sockets);
        for entry in sockets.open.values() {
            let _ = entry.tx.send(outgoing());
        }
        sockets.open.len()
    }

    pub(crate) fn push_notification(&self, notification: &Notification) {
        let _order = lock(&self.world);
        self.broadcast_notification(notification);
    }

    pub(crate) fn server_address(&self) -> String {
        lock(&self.address).clone()
    }

    /// The longest queue of unwritten frames among sockets subscribed to notifications.
    pub(crate) fn deepest_queue(&self) -> usize {
        lock(&self.sockets)
            .open
            .values()
            .filter(|s| s.notifications)
            .map(|s| s.queued.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

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
