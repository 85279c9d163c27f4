//! [`Publish`]: what a webhook receiver asks of the bridge. Answered in bounded time, and a
//! sender's retry of what was refused gets the same message ids, so the stream keeps one copy.

use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;

use super::Publish;
use super::actor::JetStreamBridge;
use super::outgoing::{MessageId, Outgoing, encoded};
use crate::nats::dedup::DedupId;
use crate::nats::error::NatsError;
use crate::nats::subject::notification_subject;
use crate::notification::Notification;

impl JetStreamBridge {
    /// Remembers the ids of refused notifications, with when each first arrived, for the
    /// duplicate window (a retry within it reuses them; JetStream remembers them as long).
    fn refused(&mut self, ids: Vec<(DedupId, Instant)>) {
        let now = Instant::now();
        let window = self.config.stream.duplicate_window;
        self.refused
            .retain(|_, (_, arrived)| now.duration_since(*arrived) < window);
        for (id, arrived) in ids {
            self.refused.insert(id.key(), (id, arrived));
        }
    }

    /// The message of a notification encoded as `body`, under the id `id`.
    fn message_with(&self, notification: &Notification, body: Bytes, id: DedupId) -> Outgoing {
        Outgoing::new(
            notification_subject(&self.config.prefix, notification),
            notification.kind(),
            notification.room_id().cloned(),
            body,
            MessageId::Counted(id),
        )
    }
}

impl Handler<Publish> for JetStreamBridge {
    type Result = ResponseActFuture<Self, Result<(), NatsError>>;

    /// Answered once JetStream stored every notification, `Err` at once when it cannot store
    /// now; a sender's retry of what was refused gets the same message ids, so the stream keeps
    /// one copy.
    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(error) = self.unavailable() {
            return Box::pin(fut::ready(Err(error)));
        }
        let mut bodies = Vec::with_capacity(msg.0.len());
        for notification in &msg.0 {
            match encoded(notification) {
                Ok(body) => bodies.push(body),
                Err(error) => return Box::pin(fut::ready(Err(NatsError::Encode(error)))),
            }
        }
        let now = Instant::now();
        let mut waiting = Vec::with_capacity(bodies.len());
        let mut ids = Vec::with_capacity(bodies.len());
        for (notification, (room, body)) in msg.0.iter().zip(bodies) {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            waiting.push(receiver);
            let retried = self.refused.remove(&self.dedup.key_of(&room, &body));
            if let Some((id, arrived)) = &retried
                && let Some(queued) = self
                    .window
                    .iter_mut()
                    .find(|m| m.id.as_ref().is_some_and(|queued| queued.id == id.id))
            {
                // The refused copy is still queued: the retry waits for it.
                queued.waiter = Some(sender);
                ids.push((id.clone(), *arrived));
                continue;
            }
            // A new notification, or a refused one already stored or about to be: under the
            // same id JetStream answers "duplicate" rather than store it twice. A retry keeps its
            // first arrival: its stored copy cannot be older than that, so the answer is never
            // taken for an earlier repetition (which would store it again).
            let (id, arrived) = retried.unwrap_or_else(|| (self.dedup.next(&room, &body), now));
            ids.push((id.clone(), arrived));
            let mut message = self
                .message_with(notification, body, id)
                .arrived_at(arrived);
            message.waiter = Some(sender);
            self.enqueue(message, ctx);
        }
        let timeout = self.config.publish_timeout;
        let stored = async move {
            let all = async {
                for receiver in waiting {
                    receiver.await.map_err(|_| NatsError::Stopped)??;
                }
                Ok(())
            };
            tokio::time::timeout(timeout, all)
                .await
                .unwrap_or(Err(NatsError::NotStoredInTime { after: timeout }))
        };
        Box::pin(stored.into_actor(self).map(move |result, bridge, _| {
            if result.is_err() {
                bridge.refused(ids);
            }
            result
        }))
    }
}
