//! The webhook extractor's Prometheus metrics (feature `metrics`); the `metrics` module's table
//! lists them all.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::metrics::families::*;
use crate::notification::Notification;

/// Webhook metrics, for an actix-web route that receives webhooks: [`WebhookMetrics::register`],
/// then [`WebhookConfig::metrics`](crate::WebhookConfig::metrics) (the extractor counts the
/// notifications by kind and the requests it refuses), and [`WebhookMetrics::answered`] for the
/// answers your route gives.
#[derive(Clone, Debug)]
pub struct WebhookMetrics {
    requests: Family<StatusLabel, Counter>,
    notifications: ByKind,
}

impl WebhookMetrics {
    /// Registers the `jellyfish_webhook_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            notifications: ByKind::new(),
        };
        registry.register(
            "jellyfish_webhook_requests",
            "Webhook requests answered, by HTTP status",
            metrics.requests.clone(),
        );
        registry.register(
            "jellyfish_webhook_notifications",
            "Notifications received by webhook, by kind",
            metrics.notifications.family.clone(),
        );
        metrics
    }

    /// Counts a request answered with `status`.
    pub fn answered(&self, status: u16) {
        self.requests.get_or_create(&StatusLabel { status }).inc();
    }

    /// How many notifications of `kind` were received so far.
    pub fn notifications(&self, kind: &'static str) -> u64 {
        self.notifications.get(kind)
    }

    pub(crate) fn received(&self, notifications: &[Notification]) {
        for notification in notifications {
            self.notifications.inc(notification.kind());
        }
    }
}
