//! Subscribers and delivery: every subscriber gets every message in server order, without one slow
//! or dead subscriber holding up the socket or the others.

use actix::prelude::*;

use super::DeliveryPolicy;

/// Identifies one subscription of one notifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub(crate) u64);

/// One subscriber of one message type.
pub(crate) struct Subscriber<M: Message<Result = ()> + Send> {
    pub(crate) id: SubscriptionId,
    recipient: Recipient<M>,
    dropped: u64,
}

/// What one delivery round observed, for the notifier's stats and events.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// Subscribers that stopped and were removed.
    pub(crate) pruned: Vec<SubscriptionId>,
    /// Subscribers that missed this message, with their total dropped so far.
    pub(crate) dropped: Vec<(SubscriptionId, u64)>,
}

/// The subscribers of one message type.
pub(crate) struct Subscribers<M: Message<Result = ()> + Send> {
    list: Vec<Subscriber<M>>,
}

impl<M: Message<Result = ()> + Send> Default for Subscribers<M> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<M> Subscribers<M>
where
    M: Message<Result = ()> + Send + Clone + 'static,
{
    pub(crate) fn add(&mut self, id: SubscriptionId, recipient: Recipient<M>) {
        self.list.push(Subscriber {
            id,
            recipient,
            dropped: 0,
        });
    }

    pub(crate) fn remove(&mut self, id: SubscriptionId) -> bool {
        let before = self.list.len();
        self.list.retain(|s| s.id != id);
        self.list.len() != before
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Removes subscribers whose actor has stopped.
    pub(crate) fn prune(&mut self) -> Vec<SubscriptionId> {
        let mut pruned = Vec::new();
        self.list.retain(|s| {
            let alive = s.recipient.connected();
            if !alive {
                pruned.push(s.id);
            }
            alive
        });
        pruned
    }

    /// Sends `message` to every subscriber, cloning it for all but the last.
    pub(crate) fn deliver(&mut self, message: M, policy: DeliveryPolicy) -> Delivery {
        let mut outcome = Delivery::default();
        let last = self.list.len().saturating_sub(1);
        let mut message = Some(message);
        let mut index = 0;
        self.list.retain_mut(|subscriber| {
            let this = if index == last {
                message.take()
            } else {
                message.clone()
            };
            index += 1;
            let Some(this) = this else { return true };
            match subscriber.recipient.try_send(this) {
                Ok(()) => true,
                Err(SendError::Full(this)) => match policy {
                    DeliveryPolicy::Unbounded => {
                        // do_send queues past the mailbox capacity: nothing is lost.
                        subscriber.recipient.do_send(this);
                        true
                    }
                    DeliveryPolicy::DropWhenFull => {
                        subscriber.dropped += 1;
                        outcome.dropped.push((subscriber.id, subscriber.dropped));
                        true
                    }
                },
                Err(SendError::Closed(_)) => {
                    outcome.pruned.push(subscriber.id);
                    false
                }
            }
        });
        outcome
    }
}
