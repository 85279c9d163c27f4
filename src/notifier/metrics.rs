//! The [`WsNotifier`](crate::WsNotifier)'s Prometheus metrics (feature `metrics`), counted where its
//! state changes; the `metrics` module's table lists them all.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::families::*;
use crate::notifier::{ConnectionEvent, DisconnectReason};

/// A [`WsNotifier`](crate::WsNotifier)'s metrics: [`NotifierMetrics::register`], then
/// [`WsNotifierBuilder::metrics`](crate::WsNotifierBuilder::metrics).
#[derive(Clone, Debug)]
pub struct NotifierMetrics {
    notifications: ByKind,
    connected: Gauge,
    connections: Counter,
    disconnects: Family<ReasonLabel, Counter>,
    gap: Histogram,
    dropped: Counter,
}

impl NotifierMetrics {
    /// Registers the `jellyfish_notifier_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            notifications: ByKind::new(),
            connected: Gauge::default(),
            connections: Counter::default(),
            disconnects: Family::default(),
            gap: seconds_buckets(),
            dropped: Counter::default(),
        };
        registry.register(
            "jellyfish_notifier_notifications",
            "Notifications received and delivered to subscribers, by kind",
            metrics.notifications.family.clone(),
        );
        registry.register(
            "jellyfish_notifier_connected",
            "1 while connected and subscribed, else 0",
            metrics.connected.clone(),
        );
        registry.register(
            "jellyfish_notifier_connections",
            "Connections that became ready",
            metrics.connections.clone(),
        );
        registry.register(
            "jellyfish_notifier_disconnects",
            "Connections lost or attempts failed, by reason",
            metrics.disconnects.clone(),
        );
        registry.register_with_unit(
            "jellyfish_notifier_gap",
            "Time without a connection, one observation per gap",
            Unit::Seconds,
            metrics.gap.clone(),
        );
        registry.register(
            "jellyfish_notifier_dropped",
            "Notifications a slow subscriber lost",
            metrics.dropped.clone(),
        );
        metrics
    }

    /// Whether the notifier is connected and subscribed now.
    pub fn is_connected(&self) -> bool {
        self.connected.get() == 1
    }

    /// How many notifications of `kind` were received so far.
    pub fn notifications(&self, kind: &'static str) -> u64 {
        self.notifications.get(kind)
    }

    pub(crate) fn notification(&self, kind: &'static str) {
        self.notifications.inc(kind);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.inc();
    }

    pub(crate) fn event(&self, event: &ConnectionEvent) {
        match event {
            ConnectionEvent::Ready { gap } => {
                self.connected.set(1);
                self.connections.inc();
                if let Some(gap) = gap {
                    self.gap.observe(gap.as_secs_f64());
                }
            }
            ConnectionEvent::Disconnected { reason, .. } => {
                self.connected.set(0);
                let reason = reason_label(reason);
                self.disconnects
                    .get_or_create(&ReasonLabel { reason })
                    .inc();
            }
            ConnectionEvent::Failed { .. } => {
                self.connected.set(0);
            }
            _ => {}
        }
    }

    pub(crate) fn stopped(&self) {
        self.connected.set(0);
    }
}

fn reason_label(reason: &DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::Refused => "refused",
        DisconnectReason::ConnectFailed(_) => "connect_failed",
        DisconnectReason::ConnectTimeout(_) => "connect_timeout",
        DisconnectReason::UpgradeRefused { .. } => "upgrade_refused",
        DisconnectReason::AuthTimeout(_) => "auth_timeout",
        DisconnectReason::SubscribeTimeout(_) => "subscribe_timeout",
        DisconnectReason::Closed { .. } => "closed",
        DisconnectReason::Dropped => "dropped",
        DisconnectReason::IdleTimeout { .. } => "idle_timeout",
        DisconnectReason::Protocol(_) => "protocol",
    }
}
