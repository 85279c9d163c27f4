//! Keeping the link honest: the handshake's deadlines, pings, a dead link noticed even when
//! nothing arrives (and never a pause of this process counted as silence).

use std::time::{Duration, Instant};

use actix::prelude::*;
use awc::ws;
use bytes::Bytes;

use super::*;

impl WsNotifier {
    /// Periodic: the handshake's deadlines, pings, a dead link noticed even when nothing arrives,
    /// and stopped subscribers leave.
    pub(super) fn housekeeping(&mut self, ctx: &mut Context<Self>) {
        self.notifications.prune();
        self.metrics.prune();
        self.events.prune();
        let now = Instant::now();
        let since_tick = now.saturating_duration_since(self.last_tick);
        self.last_tick = now;
        let (limit, ping_interval) = (self.config.idle_timeout, self.config.ping_interval);
        // A tick that comes late means this process (or its actor thread) did not run: paused,
        // stopped, blocked. That time is not the link's silence.
        let period = self.tick_period();
        let paused_for = since_tick.saturating_sub(period);
        let late = paused_for > period;
        self.late_ticks = if late { self.late_ticks + 1 } else { 0 };
        let paused = late && self.late_ticks <= 2;
        let Some(connection) = self.connection() else {
            return;
        };
        // A real pause makes one late tick (the interval then starts afresh); a thread that is
        // late on every tick is overloaded, and the link is judged as usual.
        if paused {
            tracing::debug!(
                paused_ms = paused_for.as_millis() as u64,
                "housekeeping ran late: the process was paused; not counting that as silence"
            );
            connection.last_received = (connection.last_received + paused_for).min(now);
            // Judge on the next tick, once the frames waiting in the socket have been read.
            return;
        }
        if now.saturating_duration_since(connection.last_ping) >= ping_interval {
            connection.last_ping = now;
            let _ = connection.writer.send(ws::Message::Ping(Bytes::new()));
        }
        let silent = now.saturating_duration_since(connection.last_received);
        if let Some(expired) = connection.handshake.expired(now) {
            self.lose(expired, ctx);
        } else if silent > limit {
            self.lose(DisconnectReason::IdleTimeout { silent, limit }, ctx);
        }
    }

    /// How often housekeeping runs: often enough that a deadline fires close to its time, never
    /// busier than 100 Hz.
    pub(super) fn tick_period(&self) -> Duration {
        let shortest = self
            .config
            .idle_timeout
            .min(self.config.auth_timeout)
            .min(self.config.subscribe_timeout)
            .min(self.config.ping_interval);
        (shortest / 8).clamp(Duration::from_millis(10), Duration::from_millis(250))
    }
}
