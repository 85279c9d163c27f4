//! The dashboard's hub: the rooms view's changes, the connection's events and the metrics reports,
//! turned into what each browser needs. A browser that joins gets a snapshot; after that, deltas
//! (the rooms that changed, whole; the rooms gone; log entries; the badge; per-peer metrics),
//! gathered for 100 ms and sent as one event, so that a burst of a thousand changes is a handful
//! of messages and one repaint.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytes::Bytes;
use jellyfish_notifier::rooms_view::{RoomChange, RoomsModel};
use jellyfish_notifier::{ConnectionEvent, MetricsReport, Notification};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Log entries kept for a browser that joins (and the most a page shows).
const LOG_KEEP: usize = 300;
/// How often deltas go out.
const BATCH: Duration = Duration::from_millis(100);
/// A browser this many messages behind is dropped; its EventSource reconnects and gets a snapshot.
pub(crate) const CLIENT_BACKLOG: usize = 256;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One server-sent event carrying `value`.
fn event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

pub(crate) struct Hub {
    model: RoomsModel,
    connection: Value,
    log: VecDeque<Value>,
    /// The latest numbers per (room, peer).
    metrics: BTreeMap<(String, String), Value>,
    emulator: bool,
    clients: Vec<mpsc::Sender<Bytes>>,
    /// Since the last batch.
    dirty: BTreeSet<String>,
    entries: Vec<Value>,
    connection_changed: bool,
    synced_changed: bool,
    fresh_metrics: Vec<Value>,
    /// A resync replaced every room: the next batch is a snapshot.
    resnapshot: bool,
}

impl Hub {
    pub(crate) fn new(emulator: bool) -> Self {
        Self {
            model: RoomsModel::default(),
            connection: json!({ "state": "connecting" }),
            log: VecDeque::new(),
            metrics: BTreeMap::new(),
            emulator,
            clients: Vec::new(),
            dirty: BTreeSet::new(),
            entries: Vec::new(),
            connection_changed: false,
            synced_changed: false,
            fresh_metrics: Vec::new(),
            resnapshot: false,
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "t": "snapshot",
            "rooms": self.model.rooms().collect::<Vec<_>>(),
            "synced": self.model.is_synced(),
            "connection": self.connection,
            "log": self.log,
            "metrics": self.metrics.values().collect::<Vec<_>>(),
            "emulator": self.emulator,
        })
    }

    fn log_entry(&mut self, entry: Value) {
        if self.log.len() == LOG_KEEP {
            self.log.pop_front();
        }
        self.log.push_back(entry.clone());
        self.entries.push(entry);
    }

    fn notification(&mut self, notification: &Notification, synthesized: bool) {
        if let Some(room) = notification.room_id() {
            self.dirty.insert(room.to_string());
        }
        let body = serde_json::to_value(notification).unwrap_or(Value::Null);
        self.log_entry(json!({
            "kind": notification.kind(),
            "room": notification.room_id().map(ToString::to_string),
            "at": now_ms(),
            "synthesized": synthesized,
            "body": body,
        }));
    }

    /// Sends `bytes` to every browser; drops those gone or too far behind.
    fn broadcast(&mut self, bytes: &Bytes) {
        self.clients
            .retain(|client| client.try_send(bytes.clone()).is_ok());
    }

    fn flush(&mut self) {
        if self.clients.is_empty() {
            self.dirty.clear();
            self.entries.clear();
            self.fresh_metrics.clear();
            self.connection_changed = false;
            self.synced_changed = false;
            self.resnapshot = false;
            return;
        }
        if self.resnapshot {
            self.resnapshot = false;
            self.dirty.clear();
            self.entries.clear();
            self.fresh_metrics.clear();
            self.connection_changed = false;
            self.synced_changed = false;
            let snapshot = event(&self.snapshot());
            self.broadcast(&snapshot);
            return;
        }
        let mut batch = Vec::new();
        if !self.dirty.is_empty() {
            let mut upsert = Vec::new();
            let mut gone = Vec::new();
            for room in std::mem::take(&mut self.dirty) {
                match self.model.room(&room) {
                    Some(found) => upsert.push(serde_json::to_value(found).unwrap_or(Value::Null)),
                    None => gone.push(room),
                }
            }
            batch.push(json!({ "t": "rooms", "upsert": upsert, "gone": gone }));
        }
        if std::mem::take(&mut self.synced_changed) {
            batch.push(json!({ "t": "synced", "synced": self.model.is_synced() }));
        }
        if std::mem::take(&mut self.connection_changed) {
            batch.push(json!({ "t": "connection", "connection": self.connection }));
        }
        if !self.entries.is_empty() {
            batch.push(json!({ "t": "log", "entries": std::mem::take(&mut self.entries) }));
        }
        if !self.fresh_metrics.is_empty() {
            batch.push(json!({ "t": "metrics", "peers": std::mem::take(&mut self.fresh_metrics) }));
        }
        if !batch.is_empty() {
            let bytes = event(&json!({ "t": "batch", "events": batch }));
            self.broadcast(&bytes);
        }
    }
}

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(BATCH, |hub, _| hub.flush());
        // A comment line now and then: a browser that went away is noticed and dropped.
        ctx.run_interval(Duration::from_secs(15), |hub, _| {
            hub.broadcast(&Bytes::from_static(b": keep-alive\n\n"));
        });
    }
}

/// A browser joins: the sender of its event stream.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Join(pub(crate) mpsc::Sender<Bytes>);

impl Handler<Join> for Hub {
    type Result = ();
    fn handle(&mut self, Join(client): Join, _: &mut Context<Self>) {
        if client.try_send(event(&self.snapshot())).is_ok() {
            self.clients.push(client);
        }
    }
}

impl Handler<RoomChange> for Hub {
    type Result = ();
    fn handle(&mut self, change: RoomChange, _: &mut Context<Self>) {
        let was_synced = self.model.is_synced();
        self.model.apply(&change);
        match &change {
            RoomChange::Notification(notification) => self.notification(notification, false),
            RoomChange::Synthesized(notification) => self.notification(notification, true),
            RoomChange::Resynced(room) => {
                self.dirty.insert(room.id.to_string());
            }
            RoomChange::Synced(report) => {
                if report.scope == jellyfish_notifier::rooms_view::SyncScope::All {
                    self.resnapshot = true;
                }
                let text = match report.reason {
                    jellyfish_notifier::rooms_view::SyncReason::Start => format!(
                        "the rooms as GET /room reported them at start: {} rooms ({:.2} s)",
                        report.rooms,
                        report.took.as_secs_f64()
                    ),
                    _ => format!(
                        "resynced over REST ({:?}): {} rooms, {} changes made up for what was missed, in {:.2} s",
                        report.reason,
                        report.rooms,
                        report.synthesized,
                        report.took.as_secs_f64()
                    ),
                };
                self.log_entry(json!({ "kind": "resync", "at": now_ms(), "text": text }));
            }
            RoomChange::Unsynced(reason) => {
                let text = format!("not synced with the server: {reason:?}");
                self.log_entry(json!({ "kind": "unsynced", "at": now_ms(), "text": text }));
            }
            RoomChange::SyncFailed {
                error, retry_in, ..
            } => {
                let text = format!(
                    "a resync failed: {error}; again in {:.1} s",
                    retry_in.as_secs_f64()
                );
                self.log_entry(json!({ "kind": "sync_failed", "at": now_ms(), "text": text }));
            }
            _ => {}
        }
        if was_synced != self.model.is_synced() {
            self.synced_changed = true;
        }
    }
}

impl Handler<ConnectionEvent> for Hub {
    type Result = ();
    fn handle(&mut self, event: ConnectionEvent, _: &mut Context<Self>) {
        let last_gap = self.connection.get("last_gap_ms").cloned();
        let (connection, entry) = match event {
            ConnectionEvent::Connecting { attempt } => (
                json!({ "state": if attempt > 1 { "reconnecting" } else { "connecting" }, "attempt": attempt }),
                None,
            ),
            ConnectionEvent::Ready { gap } => {
                let gap_ms = gap.map(|gap| gap.as_millis() as u64);
                let text = match gap {
                    Some(gap) => format!(
                        "connected and subscribed again after a gap of {:.1} s (what the server sent meanwhile is lost; the rooms are resynced)",
                        gap.as_secs_f64()
                    ),
                    None => "connected and subscribed".to_owned(),
                };
                (
                    json!({ "state": "connected", "last_gap_ms": gap_ms.map(Value::from).or(last_gap) }),
                    Some(json!({ "kind": "connected", "at": now_ms(), "text": text })),
                )
            }
            ConnectionEvent::Disconnected {
                reason,
                retry_in,
                attempt,
            } => {
                let next = now_ms() + retry_in.as_millis() as u64;
                let text = format!(
                    "connection lost: {reason}; next attempt in {:.1} s",
                    retry_in.as_secs_f64()
                );
                (
                    json!({ "state": "reconnecting", "reason": reason.to_string(), "next_attempt_ms": next, "attempt": attempt, "last_gap_ms": last_gap }),
                    Some(json!({ "kind": "gap", "at": now_ms(), "text": text })),
                )
            }
            ConnectionEvent::Failed(error) => (
                json!({ "state": "failed", "reason": error.to_string() }),
                Some(json!({ "kind": "failed", "at": now_ms(), "text": error.to_string() })),
            ),
            _ => return,
        };
        self.connection = connection;
        self.connection_changed = true;
        if let Some(entry) = entry {
            self.log_entry(entry);
        }
    }
}

impl Handler<MetricsReport> for Hub {
    type Result = ();
    fn handle(&mut self, report: MetricsReport, _: &mut Context<Self>) {
        let Ok(Value::Object(rooms)) = serde_json::from_str::<Value>(report.raw()) else {
            return;
        };
        let at = now_ms();
        let mut reported = BTreeSet::new();
        for (room_key, peers) in &rooms {
            let (Some(room), Value::Object(peers)) = (room_key.strip_prefix("room_id="), peers)
            else {
                continue;
            };
            for (peer_key, stats) in peers {
                let Some(peer) = peer_key.strip_prefix("endpoint_id=") else {
                    continue;
                };
                let mut numbers = PeerNumbers::default();
                numbers.add(stats);
                let value = json!({
                    "room": room,
                    "peer": peer,
                    "at": at,
                    "bitrate": numbers.bytes_per_second * 8.0,
                    "packets_lost": numbers.packets_lost,
                });
                let key = (room.to_owned(), peer.to_owned());
                reported.insert(key.clone());
                self.metrics.insert(key, value.clone());
                self.fresh_metrics.push(value);
            }
        }
        // Peers gone from the report (left, or their room deleted) leave the chart.
        self.metrics.retain(|key, _| reported.contains(key));
    }
}

/// The numbers people look at, summed over a peer's tracks: bytes per second in and out, and
/// packets lost.
#[derive(Default)]
struct PeerNumbers {
    bytes_per_second: f64,
    packets_lost: f64,
}

impl PeerNumbers {
    fn add(&mut self, stats: &Value) {
        let Value::Object(stats) = stats else {
            return;
        };
        for (key, value) in stats {
            match value {
                Value::Object(_) => self.add(value),
                Value::Number(number) => {
                    let number = number.as_f64().unwrap_or(0.0);
                    if key.ends_with("bytes_received-per-second")
                        || key.ends_with("bytes_sent-per-second")
                    {
                        self.bytes_per_second += number;
                    } else if key.ends_with("packets_lost") {
                        self.packets_lost += number;
                    }
                }
                _ => {}
            }
        }
    }
}
