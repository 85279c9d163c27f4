//! What comes in on the connection: frames reassembled into messages, decoded, and fanned out to
//! the subscribers.

use actix::prelude::*;
use awc::ws;

use super::*;

/// One item from the current connection's read half; `None` marks its end.
pub(super) struct Incoming(pub(super) Option<Result<ws::Frame, actix_http::ws::ProtocolError>>);

impl WsNotifier {
    pub(super) fn on_frame(&mut self, frame: ws::Frame, ctx: &mut Context<Self>) {
        let Some(connection) = self.connection() else {
            return;
        };
        match connection.reassembly.push(frame) {
            Outcome::Message(bytes) => self.on_message(&bytes),
            Outcome::Pending | Outcome::Pong => {}
            Outcome::Ping(payload) => {
                let _ = connection.writer.send(ws::Message::Pong(payload));
            }
            Outcome::Skipped(skip) => {
                self.counters.malformed += 1;
                match skip {
                    Skip::Text { len } => tracing::warn!(
                        len,
                        "skipping a text frame: the server sends binary protobuf frames"
                    ),
                    Skip::TooLarge { limit } => tracing::warn!(
                        limit,
                        "skipping a fragmented message larger than the size cap"
                    ),
                }
            }
            Outcome::Close(reason) => {
                let (code, description) = match reason {
                    Some(reason) => (
                        u16::from(reason.code),
                        reason.description.unwrap_or_default(),
                    ),
                    None => (1005, String::new()),
                };
                match classify_close(code, &description) {
                    Disposition::Fatal(err) => self.fail(err, ctx),
                    Disposition::Retry => self.lose(
                        DisconnectReason::Closed {
                            code,
                            reason: description,
                        },
                        ctx,
                    ),
                }
            }
        }
    }

    pub(super) fn on_message(&mut self, bytes: &[u8]) {
        let needed = self.needed();
        let now = Instant::now();
        match decode_server_message(bytes) {
            Ok(DecodedMessage::Notification(notification)) => self.fan_out(notification),
            Ok(DecodedMessage::Batch(notifications)) => {
                for notification in notifications {
                    self.fan_out(notification);
                }
            }
            Ok(DecodedMessage::Metrics(report)) => {
                self.counters.metrics += 1;
                let delivery = self.metrics.deliver(report, self.config.delivery);
                self.account(delivery);
            }
            Ok(DecodedMessage::Control(ControlMessage::Authenticated)) => {
                tracing::info!("authenticated with the Jellyfish server");
                if let Some(connection) = self.connection() {
                    let step = connection.handshake.on_authenticated(now, needed);
                    self.apply(step);
                }
            }
            Ok(DecodedMessage::Control(ControlMessage::SubscribeResponse(event))) => {
                tracing::debug!(%event, "subscription confirmed");
                if event == EventType::Metrics {
                    self.metrics_drops = 0;
                }
                if let Some(connection) = self.connection() {
                    let step = connection.handshake.on_confirmed(event, now, needed);
                    self.apply(step);
                }
            }
            Ok(DecodedMessage::Control(other)) => {
                tracing::warn!(
                    kind = other.kind(),
                    "skipping a control message the server should not send"
                );
            }
            Err(err) => {
                self.counters.malformed += 1;
                tracing::warn!(%err, len = bytes.len(), "skipping a frame that is not a valid ServerMessage");
            }
        }
    }

    pub(super) fn fan_out(&mut self, notification: Notification) {
        if let Notification::Unknown(unknown) = &notification {
            // Delivered like any other (as the webhook path does), and counted.
            self.counters.unknown += 1;
            tracing::debug!(
                field = unknown.field,
                "a content member this version does not know"
            );
        }
        self.counters.notifications += 1;
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.notification(notification.kind());
        }
        let delivery = self
            .notifications
            .deliver(notification, self.config.delivery);
        self.account(delivery);
    }

    pub(super) fn account(&mut self, delivery: Delivery) {
        for id in delivery.pruned {
            tracing::debug!(subscription = id.0, "subscriber stopped; removed");
        }
        for (subscription, total) in delivery.dropped {
            self.counters.dropped += 1;
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &self.config.metrics {
                metrics.dropped();
            }
            if total.is_power_of_two() {
                tracing::warn!(
                    subscription = subscription.0,
                    total,
                    "subscriber queue full; messages dropped"
                );
                self.emit(ConnectionEvent::NotificationsDropped {
                    subscription,
                    total,
                });
            }
        }
    }
}

impl StreamHandler<Incoming> for WsNotifier {
    fn handle(&mut self, Incoming(item): Incoming, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        let Some(connection) = self.connection() else {
            return;
        };
        let now = Instant::now();
        connection.last_byte = now;
        connection.last_received = now;
        match item {
            Some(Ok(frame)) => self.on_frame(frame, ctx),
            Some(Err(err)) => self.lose(DisconnectReason::Protocol(err.into()), ctx),
            None => self.lose(DisconnectReason::Dropped, ctx),
        }
    }

    /// The end of a stream is reported as an `Incoming` item; the actor keeps running.
    fn finished(&mut self, _: &mut Context<Self>) {}
}
