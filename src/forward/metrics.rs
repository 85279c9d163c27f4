//! The [`WebhookForwarder`](crate::WebhookForwarder)'s Prometheus metrics (feature `metrics`), counted
//! where its state changes; the `metrics` module's table lists them all.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::families::*;

/// A [`WebhookForwarder`](crate::WebhookForwarder)'s metrics: [`ForwardMetrics::register`], then
/// [`WebhookForwarderBuilder::metrics`](crate::forward::WebhookForwarderBuilder::metrics).
#[derive(Clone, Debug)]
pub struct ForwardMetrics {
    delivered: Counter,
    retries: Counter,
    rejected: Counter,
    lost: Family<ReasonLabel, Counter>,
    queue_depth: Gauge,
    spool_bytes: Gauge,
    delivery: Histogram,
}

impl ForwardMetrics {
    /// Registers the `jellyfish_forward_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            delivered: Counter::default(),
            retries: Counter::default(),
            rejected: Counter::default(),
            lost: Family::default(),
            queue_depth: Gauge::default(),
            spool_bytes: Gauge::default(),
            delivery: seconds_buckets(),
        };
        registry.register(
            "jellyfish_forward_delivered",
            "Notifications the target answered 2xx",
            metrics.delivered.clone(),
        );
        registry.register(
            "jellyfish_forward_retries",
            "POSTs that failed and were retried",
            metrics.retries.clone(),
        );
        registry.register(
            "jellyfish_forward_rejected",
            "Notifications the target refused for good (a final 4xx)",
            metrics.rejected.clone(),
        );
        registry.register(
            "jellyfish_forward_lost",
            "Notifications dropped, by reason",
            metrics.lost.clone(),
        );
        registry.register(
            "jellyfish_forward_queue_depth",
            "Notifications waiting to be delivered",
            metrics.queue_depth.clone(),
        );
        registry.register_with_unit(
            "jellyfish_forward_spool",
            "What the spool takes on disk, as du counts it",
            Unit::Bytes,
            metrics.spool_bytes.clone(),
        );
        registry.register_with_unit(
            "jellyfish_forward_delivery",
            "From receipt to the target's 2xx",
            Unit::Seconds,
            metrics.delivery.clone(),
        );
        metrics
    }

    /// Notifications delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    pub(crate) fn on_delivered(&self, took: Duration) {
        self.delivered.inc();
        self.delivery.observe(took.as_secs_f64());
    }

    pub(crate) fn on_retry(&self) {
        self.retries.inc();
    }

    pub(crate) fn on_rejected(&self) {
        self.rejected.inc();
    }

    pub(crate) fn on_lost(&self, reason: &'static str) {
        self.lost.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub(crate) fn levels(&self, queued: usize, spool_bytes: u64) {
        self.queue_depth
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.spool_bytes
            .set(i64::try_from(spool_bytes).unwrap_or(i64::MAX));
    }
}
