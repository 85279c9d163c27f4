//! The [`RoomsView`](crate::RoomsView)'s Prometheus metrics (feature `metrics`), read from its model
//! after every change; the `metrics` module's table lists them all.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::families::*;

/// A [`RoomsView`](crate::RoomsView)'s metrics: [`RoomsViewMetrics::register`], then
/// [`RoomsViewBuilder::metrics`](crate::rooms_view::RoomsViewBuilder::metrics).
#[derive(Clone, Debug)]
pub struct RoomsViewMetrics {
    synced: Gauge,
    rooms: Gauge,
    peers: Gauge,
    resyncs: Family<ReasonLabel, Counter>,
}

impl RoomsViewMetrics {
    /// Registers the `jellyfish_rooms_view_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            synced: Gauge::default(),
            rooms: Gauge::default(),
            peers: Gauge::default(),
            resyncs: Family::default(),
        };
        registry.register(
            "jellyfish_rooms_view_synced",
            "1 while the rooms view is a state the server had, else 0",
            metrics.synced.clone(),
        );
        registry.register(
            "jellyfish_rooms_view_rooms",
            "Rooms in the view",
            metrics.rooms.clone(),
        );
        registry.register(
            "jellyfish_rooms_view_peers",
            "Peers in the view",
            metrics.peers.clone(),
        );
        registry.register(
            "jellyfish_rooms_view_resyncs",
            "Resyncs over REST, by reason",
            metrics.resyncs.clone(),
        );
        metrics
    }

    /// Whether the view is in sync now.
    pub fn is_synced(&self) -> bool {
        self.synced.get() == 1
    }

    pub(crate) fn on_resync(&self, reason: &'static str) {
        self.resyncs.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub(crate) fn levels(&self, synced: bool, rooms: usize, peers: usize) {
        self.synced.set(i64::from(synced));
        self.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
        self.peers.set(i64::try_from(peers).unwrap_or(i64::MAX));
    }
}
