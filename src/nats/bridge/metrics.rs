//! The [`JetStreamBridge`](crate::nats::JetStreamBridge)'s Prometheus metrics (features `metrics` and
//! `nats`), counted where its state changes; the `metrics` module's table lists them all.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::families::*;

/// A [`JetStreamBridge`](crate::nats::JetStreamBridge)'s metrics: [`BridgeMetrics::register`], then
/// `JetStreamBridgeBuilder::metrics`.
#[derive(Clone, Debug)]
pub struct BridgeMetrics {
    published: Counter,
    duplicates: Counter,
    pending: Gauge,
    publish: Histogram,
    ready: Gauge,
    dropped: Counter,
    recreated: Counter,
}

impl BridgeMetrics {
    /// Registers the `jellyfish_bridge_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            published: Counter::default(),
            duplicates: Counter::default(),
            pending: Gauge::default(),
            publish: seconds_buckets(),
            ready: Gauge::default(),
            dropped: Counter::default(),
            recreated: Counter::default(),
        };
        registry.register(
            "jellyfish_bridge_published",
            "Notifications JetStream stored",
            metrics.published.clone(),
        );
        registry.register(
            "jellyfish_bridge_duplicates",
            "Publishes JetStream acked as duplicates (stored by another bridge or an earlier try)",
            metrics.duplicates.clone(),
        );
        registry.register(
            "jellyfish_bridge_pending",
            "Notifications waiting to be published",
            metrics.pending.clone(),
        );
        registry.register_with_unit(
            "jellyfish_bridge_publish",
            "One publish, until JetStream's ack",
            Unit::Seconds,
            metrics.publish.clone(),
        );
        registry.register(
            "jellyfish_bridge_ready",
            "1 while connected to NATS with the stream present, else 0",
            metrics.ready.clone(),
        );
        registry.register(
            "jellyfish_bridge_dropped",
            "Notifications dropped because the queue was full",
            metrics.dropped.clone(),
        );
        registry.register(
            "jellyfish_bridge_stream_recreated",
            "Times the stream was gone and was created again",
            metrics.recreated.clone(),
        );
        metrics
    }

    /// Whether the bridge is connected to NATS with its stream present.
    pub fn is_ready(&self) -> bool {
        self.ready.get() == 1
    }

    /// Notifications stored so far.
    pub fn published(&self) -> u64 {
        self.published.get()
    }

    pub(crate) fn on_ack(&self, duplicate: bool, took: Duration) {
        if duplicate {
            self.duplicates.inc();
        } else {
            self.published.inc();
        }
        self.publish.observe(took.as_secs_f64());
    }

    pub(crate) fn on_dropped(&self) {
        self.dropped.inc();
    }

    pub(crate) fn on_recreated(&self) {
        self.recreated.inc();
    }

    pub(crate) fn levels(&self, pending: usize, ready: bool) {
        self.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.ready.set(i64::from(ready));
    }
}
