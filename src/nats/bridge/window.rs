//! The queue and its window of publishes in flight, with no I/O: which messages go next, what
//! an answer does to them, which leave the queue. Up to
//! [`JetStreamBridgeBuilder::window`] publishes are in flight on the one connection, sent in
//! queue order, their acknowledgements taken in queue order too. A message is sent only once
//! every earlier message of its room is stored (a gap, once everything before it is; nothing
//! after a gap before it is): a publish lost on its way (a node's death, a connection cut, a
//! leader change) while later ones are stored can then never put a room out of order. Rooms'
//! messages go out side by side, so a window fills when many rooms are busy; a burst in one room
//! is published one at a time. When a publish fails, every unacknowledged message is sent again
//! from the first ([`Window::resend_unacknowledged`]), with the same `Nats-Msg-Id`, so what was
//! stored meanwhile is acked as a duplicate, not stored twice. The queue's bound bounds the
//! window's memory.
//!
//! [`JetStreamBridgeBuilder::window`]: super::JetStreamBridgeBuilder::window

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::outgoing::{Order, Outgoing, Sent};
use crate::nats::dedup::{DedupIds, Verdict};

/// One publish to make: the message's serial, subject, headers and body.
pub(super) type Send = (u64, async_nats::Subject, async_nats::HeaderMap, Bytes);

/// The queue of messages to publish, in arrival order, and where each stands.
#[derive(Default)]
pub(super) struct Window {
    queue: VecDeque<Outgoing>,
    /// Publishes sent and not answered.
    in_flight: usize,
    /// The rooms with a message sent and not yet stored, as found by the last batch (kept to
    /// reuse its memory).
    held: hashbrown::HashSet<u64>,
    /// The last serial given to a queued message.
    serial: u64,
}

/// The front message was answered "duplicate of `sequence`" by a copy that may be an earlier
/// repetition: it stays first until the stream says when that copy was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Suspect {
    pub(super) serial: u64,
    pub(super) sequence: u64,
}

impl Window {
    /// Messages queued (sent or not, until stored).
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Publishes sent and not answered.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues `message` last, with its place in the order and whose order it keeps.
    pub(super) fn push(&mut self, mut message: Outgoing, dedup: &DedupIds) {
        self.serial += 1;
        message.serial = self.serial;
        message.order = message.order_in(dedup);
        self.queue.push_back(message);
    }

    /// The messages to send now, in order, at most `room` of them: up to the first that must
    /// wait for an earlier one of its room (or for everything, a gap) to be stored. Each is
    /// marked in flight since `now`; one that cannot be encoded is said and skipped (it leaves
    /// at the front: [`Window::settle`]).
    pub(super) fn batch(
        &mut self,
        room: usize,
        dedup: &mut DedupIds,
        prefix: &str,
        now: Instant,
    ) -> Vec<Send> {
        let held = &mut self.held;
        held.clear();
        // A gap sent and not yet stored: nothing after it may go.
        let mut all_held = false;
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
                            message.sent = Sent::InFlight { at: now };
                            batch.push((message.serial, subject, message.headers(), body));
                            true
                        }
                        Err(error) => {
                            tracing::warn!(%error, kind = message.kind, "NATS bridge: cannot encode; skipped");
                            message.sent = Sent::Skipped;
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
        self.in_flight += batch.len();
        batch
    }

    /// Message `serial` was stored at `sequence` (or is a duplicate of it). Answers when it was
    /// sent, or `None` for a message not in flight (an answer from before a resend).
    pub(super) fn acked(&mut self, serial: u64, sequence: u64, duplicate: bool) -> Option<Instant> {
        let message = self.in_flight_mut(serial)?;
        let Sent::InFlight { at } = message.sent else {
            return None;
        };
        message.sent = Sent::Acked {
            sequence,
            duplicate,
            took: at.elapsed(),
        };
        self.in_flight = self.in_flight.saturating_sub(1);
        Some(at)
    }

    /// The publish of message `serial` failed: its [`Publish`](super::Publish) waiter, if any
    /// (`None` for a message not in flight).
    pub(super) fn failed(&mut self, serial: u64) -> Option<Option<super::outgoing::Waiter>> {
        let message = self.in_flight_mut(serial)?;
        Some(message.waiter.take())
    }

    /// Message `serial`, if it is in flight.
    fn in_flight_mut(&mut self, serial: u64) -> Option<&mut Outgoing> {
        let index = self.position(serial)?;
        let message = &mut self.queue[index];
        matches!(message.sent, Sent::InFlight { .. }).then_some(message)
    }

    /// Where message `serial` is in the queue: serials grow by one along it and messages leave it
    /// only from the front, so its place is its distance from the front's serial.
    fn position(&self, serial: u64) -> Option<usize> {
        let front = self.queue.front()?.serial;
        let index = usize::try_from(serial.checked_sub(front)?).ok()?;
        (self.queue.get(index)?.serial == serial).then_some(index)
    }

    /// Every message not acknowledged is to be sent again, from the first.
    pub(super) fn resend_unacknowledged(&mut self) {
        self.in_flight = 0;
        for message in &mut self.queue {
            if matches!(message.sent, Sent::InFlight { .. }) {
                message.sent = Sent::Waiting;
            }
        }
    }

    /// Takes the acknowledgements at the front of the queue, in order: each is stored (or was
    /// already), its waiter told, and it leaves the queue, said to `stored` (whether a
    /// duplicate, how long it took). One that may name an earlier repetition stops the line:
    /// answered as [`Suspect`], to be checked with the stream.
    pub(super) fn settle(
        &mut self,
        dedup: &mut DedupIds,
        mut stored: impl FnMut(bool, Duration),
    ) -> Option<Suspect> {
        while let Some(front) = self.queue.front() {
            if front.sent == Sent::Skipped {
                self.queue.pop_front();
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
                .is_some_and(|id| dedup.acked(id, sequence, duplicate) == Verdict::Suspect);
            if suspect {
                return Some(Suspect {
                    serial: front.serial,
                    sequence,
                });
            }
            if front.is_gap() {
                // Sent after everything before it settled, and before anything after it.
                dedup.gap_at(sequence);
            }
            if let Some(waiter) = self.queue.pop_front().and_then(|m| m.waiter) {
                let _ = waiter.send(Ok(()));
            }
            stored(duplicate, took);
        }
        None
    }

    /// The suspect duplicate at the front, if it is still the one checked and still answered
    /// as a duplicate (a resend since, or a stream recreated, starts it over).
    pub(super) fn suspect_mut(&mut self, serial: u64) -> Option<&mut Outgoing> {
        self.queue.front_mut().filter(|first| {
            first.serial == serial
                && matches!(
                    first.sent,
                    Sent::Acked {
                        duplicate: true,
                        ..
                    }
                )
        })
    }

    /// The front message, stored as a duplicate after all: it leaves the queue, its waiter told.
    pub(super) fn pop_duplicate(&mut self) -> Option<Duration> {
        let front = self.queue.pop_front()?;
        if let Some(waiter) = front.waiter {
            let _ = waiter.send(Ok(()));
        }
        Some(match front.sent {
            Sent::Acked { took, .. } => took,
            _ => Duration::ZERO,
        })
    }

    /// Every queued message, in order.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Outgoing> {
        self.queue.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nats::dedup::DedupIds;
    use crate::notification::{Notification, PeerConnected};

    fn dedup() -> DedupIds {
        DedupIds::new(Duration::from_secs(120))
    }

    fn queued(window: &mut Window, dedup: &DedupIds, rooms: &[&str]) {
        for (i, room) in rooms.iter().enumerate() {
            let notification =
                Notification::from(PeerConnected::new(room.to_string(), format!("peer-{i}")));
            window.push(Outgoing::later(notification), dedup);
        }
    }

    fn serials(batch: &[Send]) -> Vec<u64> {
        batch.iter().map(|(serial, ..)| *serial).collect()
    }

    #[test]
    fn a_room_waits_for_its_previous_message_to_be_stored() {
        let (mut window, mut dedup) = (Window::default(), dedup());
        queued(&mut window, &dedup, &["a", "b", "a", "c"]);
        let now = Instant::now();
        // The second "a" waits for the first, and everything after it waits in queue order.
        assert_eq!(serials(&window.batch(10, &mut dedup, "j", now)), [1, 2]);
        assert_eq!(window.in_flight(), 2);
        assert!(window.acked(1, 1, false).is_some());
        let mut stored = 0;
        assert_eq!(window.settle(&mut dedup, |_, _| stored += 1), None);
        assert_eq!(stored, 1);
        assert_eq!(serials(&window.batch(10, &mut dedup, "j", now)), [3, 4]);
    }

    #[test]
    fn an_answer_from_before_a_resend_is_ignored_and_the_message_sent_again() {
        let (mut window, mut dedup) = (Window::default(), dedup());
        queued(&mut window, &dedup, &["a", "b"]);
        let now = Instant::now();
        assert_eq!(serials(&window.batch(10, &mut dedup, "j", now)), [1, 2]);
        assert!(window.failed(1).is_some());
        window.resend_unacknowledged();
        assert_eq!(window.in_flight(), 0);
        // The second message's answer, from before the resend (a publish acked after the
        // stream was recreated, say): not taken.
        assert_eq!(window.acked(2, 9, false), None);
        assert!(window.failed(2).is_none());
        // Both are sent again, in order, with the same ids.
        assert_eq!(serials(&window.batch(10, &mut dedup, "j", now)), [1, 2]);
        assert!(window.acked(1, 1, false).is_some());
        assert!(window.acked(2, 2, true).is_some());
        let mut said = Vec::new();
        assert_eq!(window.settle(&mut dedup, |dup, _| said.push(dup)), None);
        assert_eq!(said, [false, true]);
        assert_eq!(window.len(), 0);
    }
}
