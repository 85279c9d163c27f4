//! What every component's metrics are made of: the label sets, a counter per notification kind,
//! the seconds buckets. Each component's metrics live beside it (`notifier::metrics`,
//! `forward::metrics`, …) and take these from here.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::notification::Notification;

/// A `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    pub(crate) kind: &'static str,
}

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    pub(crate) reason: &'static str,
}

/// A `status` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabel {
    pub(crate) status: u16,
}

/// A counter per notification kind, those of every known kind made up front (and shown as 0).
#[derive(Clone, Debug)]
pub(crate) struct ByKind {
    pub(crate) family: Family<KindLabel, Counter>,
    known: Arc<HashMap<&'static str, Counter>>,
}

impl ByKind {
    pub(crate) fn new() -> Self {
        let family = Family::<KindLabel, Counter>::default();
        let known = Notification::KINDS
            .iter()
            .map(|kind| kind.name)
            .chain(["unknown"])
            .map(|kind| (kind, family.get_or_create_owned(&KindLabel { kind })))
            .collect();
        Self {
            family,
            known: Arc::new(known),
        }
    }

    pub(crate) fn inc(&self, kind: &'static str) {
        match self.known.get(kind) {
            Some(counter) => {
                counter.inc();
            }
            None => {
                self.family.get_or_create(&KindLabel { kind }).inc();
            }
        }
    }

    pub(crate) fn get(&self, kind: &'static str) -> u64 {
        self.family.get_or_create(&KindLabel { kind }).get()
    }
}

/// Buckets from 1 ms to about 30 min (×4 each).
pub(crate) fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 11))
}
