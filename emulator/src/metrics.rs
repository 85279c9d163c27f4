//! The metrics reports the real server sends every interval to METRICS subscribers, built from the
//! rooms (Fishjam Cloud sends none).

use std::sync::Arc;

use bytes::Bytes;

use jellyfish_notifier::MetricsReport;

use crate::record::SentFrame;
use crate::shared::{Shared, lock};

pub(crate) async fn run(shared: Arc<Shared>) {
    let period = shared.config.metrics_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    // A late tick does not make up for lost time with a burst: reports stay one period apart.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = 0u64;
    if shared.config.version.is_cloud() {
        // Fishjam Cloud sends no metrics reports.
        return;
    }
    loop {
        ticker.tick().await;
        tick += 1;
        let report = {
            let world = lock(&shared.world);
            MetricsReport::new(world.metrics(tick).to_string())
        };
        shared.broadcast(
            |s| s.metrics,
            Bytes::from(report.encode()),
            SentFrame::Metrics(report),
        );
    }
}
