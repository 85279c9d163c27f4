//! Publishing with a window: up to [`JetStreamBridgeBuilder::window`] publishes in flight on the
//! one connection, sent in queue order, their acknowledgements taken in queue order too. A
//! message is sent only once every earlier message of its room is stored (a gap, once everything
//! before it is; nothing after a gap before it is): a publish lost on its way (a node's death, a
//! connection cut, a leader change) while later ones are stored can then never put a room out of
//! order. Rooms' messages go out side by side, so a window fills when many rooms are busy; a
//! burst in one room is published one at a time. When a publish fails, every unacknowledged
//! message is sent again from the first, with the same `Nats-Msg-Id`, so what was stored
//! meanwhile is acked as a duplicate, not stored twice; answers from before the failure are
//! ignored (an epoch tells them apart). The queue's bound bounds the window's memory.
//!
//! [`JetStreamBridgeBuilder::window`]: super::JetStreamBridgeBuilder::window

use std::time::{Duration, Instant};

use actix::prelude::*;
use async_nats::jetstream::context::PublishErrorKind;
use futures_util::StreamExt as _;

use super::outgoing::Order;
use super::{BridgeEvent, JetStreamBridge};
use crate::nats::dedup::Verdict;
use crate::nats::error::NatsError;
use crate::retry::Retry;

/// Where a queued message stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Sent {
    /// Not sent, or to be sent again.
    #[default]
    Waiting,
    /// Not sent, and never will be: it could not be encoded (said when found). It leaves the
    /// queue when it reaches the front, counted nowhere.
    Skipped,
    /// Sent in this epoch, at this time; no answer yet.
    InFlight { epoch: u64, at: Instant },
    /// Acknowledged: stored at `sequence` (or a duplicate of it), after `took`.
    Acked {
        sequence: u64,
        duplicate: bool,
        took: Duration,
    },
}

/// How much earlier than its receipt a stored copy must be to be another notification: more than
/// the delay between two bridges receiving the same frame, plus clock skew between the bridge
/// and the NATS server.
const SAME_NOTIFICATION_WITHIN: Duration = Duration::from_secs(1);

impl JetStreamBridge {
    /// Sends queued messages, in order, until the window is full or the next one must wait for an
    /// earlier one of its room to be stored. One sending task at a time puts them on the
    /// connection in queue order; each acknowledgement is then awaited on its own.
    pub(super) fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.checking || self.probing || self.flooring || self.sending || self.retry.waiting() {
            return;
        }
        let Some(jetstream) = self.jetstream.clone() else {
            return;
        };
        let room = self.config.window.saturating_sub(self.in_flight);
        if room == 0 {
            return;
        }
        let epoch = self.epoch;
        let now = Instant::now();
        let (dedup, prefix) = (&mut self.dedup, self.config.prefix.as_str());
        let held = &mut self.held;
        held.clear();
        // A gap sent and not yet stored: nothing after it may go.
        let mut all_held = false;
        let mut skipped = false;
        let mut batch = Vec::with_capacity(room.min(self.queue.len()));
        for message in self.queue.iter_mut() {
            if batch.len() == room {
                break;
            }
            let unsettled = match message.sent {
                Sent::Skipped
                | Sent::Acked {
                    duplicate: false, ..
                } => false,
                // A duplicate is settled at the front: it may be an earlier repetition, and
                // then this one is sent again, still before the rest of its room.
                Sent::InFlight { .. }
                | Sent::Acked {
                    duplicate: true, ..
                } => true,
                Sent::Waiting => {
                    let free = !all_held
                        && match message.order {
                            Order::Room(key) => !held.contains(&key),
                            Order::All => held.is_empty(),
                        };
                    if !free {
                        break; // in queue order: what comes later waits too
                    }
                    match message.prepared(dedup, prefix) {
                        Ok((subject, body)) => {
                            message.sent = Sent::InFlight { epoch, at: now };
                            batch.push((message.serial, subject, message.headers(), body));
                            true
                        }
                        Err(error) => {
                            tracing::warn!(%error, kind = message.kind, "NATS bridge: cannot encode; skipped");
                            message.sent = Sent::Skipped;
                            skipped = true;
                            false
                        }
                    }
                }
            };
            if unsettled {
                match message.order {
                    Order::Room(key) => {
                        held.insert(key);
                    }
                    Order::All => all_held = true,
                }
            }
        }
        if skipped {
            self.settle(ctx);
        }
        if batch.is_empty() {
            return;
        }
        self.in_flight += batch.len();
        self.sending = true;
        let send = async move {
            let mut sent = Vec::with_capacity(batch.len());
            for (serial, subject, headers, body) in batch {
                let result = jetstream.publish_with_headers(subject, headers, body).await;
                let failed = result.is_err();
                sent.push((serial, result));
                if failed {
                    break; // the failure sends everything unacknowledged again
                }
            }
            sent
        };
        ctx.spawn(send.into_actor(self).map(move |sent, bridge, ctx| {
            bridge.sending = false;
            if epoch == bridge.epoch {
                // The acknowledgements, awaited in order by one task: each answer as it comes.
                let mut acks = Vec::with_capacity(sent.len());
                let mut failed = None;
                for (serial, result) in sent {
                    match result {
                        Ok(ack) => acks.push((serial, ack)),
                        Err(error) => failed = Some((serial, error)),
                    }
                }
                let answers = futures_util::stream::iter(acks)
                    .then(|(serial, ack)| async move { (serial, ack.await) });
                ctx.spawn(
                    answers
                        .into_actor(bridge)
                        .map(move |(serial, answer), bridge, ctx| {
                            bridge.answered(epoch, serial, answer, ctx);
                        })
                        .finish(),
                );
                if let Some((serial, error)) = failed {
                    bridge.answered(epoch, serial, Err(error), ctx);
                }
            }
            bridge.pump(ctx);
        }));
    }

    /// The answer to the publish of message `serial` in `epoch`.
    fn answered(
        &mut self,
        epoch: u64,
        serial: u64,
        result: Result<
            async_nats::jetstream::publish::PublishAck,
            async_nats::jetstream::context::PublishError,
        >,
        ctx: &mut Context<Self>,
    ) {
        if epoch != self.epoch {
            return; // from before a failure: everything unacknowledged was sent again since
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        let Some(index) = self.position(serial) else {
            return;
        };
        match result {
            Ok(ack) => {
                let Sent::InFlight { at, .. } = self.queue[index].sent else {
                    return;
                };
                self.queue[index].sent = Sent::Acked {
                    sequence: ack.sequence,
                    duplicate: ack.duplicate,
                    took: at.elapsed(),
                };
                self.retry.succeeded();
                self.last_error = None;
                self.settle(ctx);
                // Refilled by halves: a send per answer would cost a task per message.
                if self.in_flight <= self.config.window / 2 {
                    self.pump(ctx);
                }
            }
            Err(error) => {
                if let Some(waiter) = self.queue[index].waiter.take() {
                    let _ = waiter.send(Err(NatsError::Publish {
                        detail: error.to_string(),
                    }));
                }
                self.resend_unacknowledged();
                // async-nats says "no stream" for no responders: a stream gone, or one without a
                // leader for a moment.
                if error.kind() == PublishErrorKind::StreamNotFound {
                    self.check_stream(error.to_string(), ctx);
                    return;
                }
                self.stats.retries += 1;
                let error = NatsError::Publish {
                    detail: error.to_string(),
                };
                self.failed(error, ctx);
            }
        }
    }

    /// Where message `serial` is in the queue: serials grow by one along it and messages leave it
    /// only from the front, so its place is its distance from the front's serial.
    fn position(&self, serial: u64) -> Option<usize> {
        let front = self.queue.front()?.serial;
        let index = usize::try_from(serial.checked_sub(front)?).ok()?;
        (self.queue.get(index)?.serial == serial).then_some(index)
    }

    /// Every message not acknowledged is to be sent again, from the first, in a new epoch.
    pub(super) fn resend_unacknowledged(&mut self) {
        self.epoch += 1;
        self.in_flight = 0;
        for message in &mut self.queue {
            if matches!(message.sent, Sent::InFlight { .. }) {
                message.sent = Sent::Waiting;
            }
        }
    }

    /// Takes the acknowledgements at the front of the queue, in order: each is stored (or was
    /// already) and leaves the queue; one that may name an earlier repetition stops the line
    /// until the stream says which it is.
    pub(super) fn settle(&mut self, ctx: &mut Context<Self>) {
        if self.checking {
            return; // the front is being checked: its check settles on when answered
        }
        while let Some(front) = self.queue.front() {
            if front.sent == Sent::Skipped {
                self.queue.pop_front();
                self.levels();
                continue;
            }
            let Sent::Acked {
                sequence,
                duplicate,
                took,
            } = front.sent
            else {
                break;
            };
            let suspect = front
                .id
                .as_ref()
                .is_some_and(|id| self.dedup.acked(id, sequence, duplicate) == Verdict::Suspect);
            if suspect {
                self.check_suspect(sequence, ctx);
                return;
            }
            if front.is_gap() {
                // Sent after everything before it settled, and before anything after it.
                self.dedup.gap_at(sequence);
            }
            if let Some(waiter) = self.queue.pop_front().and_then(|m| m.waiter) {
                let _ = waiter.send(Ok(()));
            }
            self.acked(duplicate, took);
        }
    }

    /// The front was answered "duplicate of `sequence`", older than this bridge's previous message
    /// in the room: if that message was stored well before this notification arrived, it is an
    /// earlier repetition (this bridge's count lagged): count one more and publish again.
    /// Otherwise another bridge stored this very notification. When the stream cannot say, it is
    /// published again: a duplicate, never a loss. Sending waits meanwhile.
    fn check_suspect(&mut self, sequence: u64, ctx: &mut Context<Self>) {
        let (Some(stream), Some(first)) = (self.stream.clone(), self.queue.front()) else {
            return;
        };
        let received = first.received();
        let serial = first.serial;
        self.checking = true;
        let stored = async move {
            stream
                .get_raw_message(sequence)
                .await
                .map(|message| std::time::SystemTime::from(message.time))
        };
        ctx.spawn(stored.into_actor(self).map(move |stored, bridge, ctx| {
            bridge.checking = false;
            let earlier = match stored {
                Ok(stored) => stored
                    .checked_add(SAME_NOTIFICATION_WITHIN)
                    .is_some_and(|limit| limit < received),
                Err(_) => true,
            };
            // Still the message checked, still answered as a duplicate (nothing else settles the
            // front while it is checked; a stream recreated meanwhile starts it over).
            let checked = bridge.queue.front_mut().filter(|first| {
                first.serial == serial
                    && matches!(
                        first.sent,
                        Sent::Acked {
                            duplicate: true,
                            ..
                        }
                    )
            });
            let Some((first, id)) = checked.and_then(|first| {
                let id = first.id.clone()?;
                Some((first, id))
            }) else {
                bridge.settle(ctx);
                bridge.pump(ctx);
                return;
            };
            if earlier {
                // Sent again under the next count: after other rooms' messages in flight, still
                // before the rest of its room (held while it was unsettled).
                first.id = Some(bridge.dedup.recount(&id));
                first.sent = Sent::Waiting;
                bridge.stats.recounted += 1;
            } else {
                bridge.dedup.settle(&id, sequence);
                let took = match first.sent {
                    Sent::Acked { took, .. } => took,
                    _ => Duration::ZERO,
                };
                if let Some(waiter) = bridge.queue.pop_front().and_then(|m| m.waiter) {
                    let _ = waiter.send(Ok(()));
                }
                bridge.acked(true, took);
            }
            bridge.settle(ctx);
            bridge.pump(ctx);
        }));
    }

    /// The message at the front is stored (or was already: a duplicate), and gone from the queue.
    fn acked(&mut self, duplicate: bool, took: Duration) {
        if duplicate {
            self.stats.duplicates += 1;
        } else {
            self.stats.stored += 1;
        }
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            metrics.on_ack(duplicate, took);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = took;
        self.levels();
    }

    /// How many wait and whether JetStream can store, for the metrics.
    pub(super) fn levels(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.config.metrics {
            let ready = self.linked && self.jetstream.is_some() && self.last_error.is_none();
            metrics.levels(self.queue.len(), ready);
        }
    }

    /// A setup or a publish failed: said (with how many wait), remembered for
    /// [`Publish`](super::Publish)'s answers, and tried again as the retry policy says.
    pub(super) fn failed(&mut self, error: NatsError, ctx: &mut Context<Self>) {
        let retry_in = self.retry.failed_again(&self.config.retry, None);
        tracing::warn!(%error, ?retry_in, queued = self.queue.len(), "NATS bridge: retrying");
        self.last_error = Some(error.clone());
        self.levels();
        self.event(BridgeEvent::Retrying {
            error,
            queued: self.queue.len(),
            retry_in,
        });
        Retry::wait(self, retry_in, ctx);
    }
}
