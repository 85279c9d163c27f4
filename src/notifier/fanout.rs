//! Subscribers and delivery: every subscriber gets every message in server order, without one slow
//! or dead subscriber holding up the socket or the others. [`FanOut`] is the notifier's own delivery
//! path, public so that applications (and the benchmarks) can use exactly the same code.

use actix::prelude::*;

use super::DeliveryPolicy;
use super::stream::{Sent, StreamSender};

/// Identifies one subscription of one notifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct SubscriptionId(pub(crate) u64);

/// One subscriber of one message type.
struct Subscriber<M: Message<Result = ()> + Send> {
    id: SubscriptionId,
    sink: Sink<M>,
    dropped: u64,
}

/// Where a subscriber's messages go.
enum Sink<M: Message<Result = ()> + Send> {
    Actor(Recipient<M>),
    /// A bounded stream: always `try_send`, whatever the policy.
    Stream(StreamSender<M>),
}

/// What one delivery observed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers whose actor had stopped; they were removed.
    pub pruned: Vec<SubscriptionId>,
    /// Subscribers that missed this message (a full actor mailbox under the drop policy, or a full
    /// stream under any policy), with their total dropped so far.
    pub dropped: Vec<(SubscriptionId, u64)>,
}

/// The subscribers of one message type, and the delivery to them: one clone per subscriber, in
/// subscription order, handled by the [`DeliveryPolicy`] (see [`FanOut::deliver`]).
///
/// ```
/// use actix::prelude::*;
/// use jellyfish_notifier::Notification;
/// use jellyfish_notifier::notification::RoomCreated;
/// use jellyfish_notifier::notifier::{DeliveryPolicy, FanOut, SubscriptionId};
///
/// struct Count(usize);
/// impl Actor for Count { type Context = Context<Self>; }
/// impl Handler<Notification> for Count {
///     type Result = ();
///     fn handle(&mut self, _: Notification, _: &mut Context<Self>) { self.0 += 1; }
/// }
///
/// # actix::System::new().block_on(async {
/// let mut fan_out = FanOut::default();
/// for id in 0..3 {
///     fan_out.add(SubscriptionId::new(id), Count(0).start().recipient());
/// }
/// let delivery = fan_out.deliver(Notification::from(RoomCreated::new("r")), DeliveryPolicy::Unbounded);
/// assert!(delivery.pruned.is_empty() && delivery.dropped.is_empty());
/// # });
/// ```
pub struct FanOut<M: Message<Result = ()> + Send> {
    list: Vec<Subscriber<M>>,
}

impl<M: Message<Result = ()> + Send> Default for FanOut<M> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<M: Message<Result = ()> + Send> std::fmt::Debug for FanOut<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOut")
            .field("subscribers", &self.list.len())
            .finish()
    }
}

impl SubscriptionId {
    /// An id for a [`FanOut`] of your own (the notifier numbers its subscriptions itself).
    pub fn new(id: u64) -> Self {
        Self(id)
    }
}

impl<M> FanOut<M>
where
    M: Message<Result = ()> + Send + Clone + 'static,
{
    /// Adds a subscriber.
    pub fn add(&mut self, id: SubscriptionId, recipient: Recipient<M>) {
        self.list.push(Subscriber {
            id,
            sink: Sink::Actor(recipient),
            dropped: 0,
        });
    }

    /// Adds a stream subscriber.
    pub(crate) fn add_stream(&mut self, id: SubscriptionId, sender: StreamSender<M>) {
        self.list.push(Subscriber {
            id,
            sink: Sink::Stream(sender),
            dropped: 0,
        });
    }

    /// Removes a subscriber; answers whether it was there.
    pub fn remove(&mut self, id: SubscriptionId) -> bool {
        let before = self.list.len();
        self.list.retain(|s| s.id != id);
        self.list.len() != before
    }

    /// How many subscribers there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Ends every stream subscription (their streams then end), when the notifier stops for good.
    pub(crate) fn close_streams(&mut self) {
        self.list.retain(|s| matches!(s.sink, Sink::Actor(_)));
    }

    /// Removes subscribers whose actor has stopped; answers which.
    pub fn prune(&mut self) -> Vec<SubscriptionId> {
        let mut pruned = Vec::new();
        self.list.retain(|s| {
            let alive = match &s.sink {
                Sink::Actor(recipient) => recipient.connected(),
                Sink::Stream(sender) => !sender.is_closed(),
            };
            if !alive {
                pruned.push(s.id);
            }
            alive
        });
        pruned
    }

    /// Sends `message` to every subscriber, in subscription order (one clone each).
    ///
    /// Under [`DeliveryPolicy::Unbounded`] this is `do_send` for each subscriber actor, the same
    /// work as a bare actix loop: a stopped subscriber just misses the message and leaves at the
    /// next [`FanOut::prune`] (the notifier prunes at least once a second). Under
    /// [`DeliveryPolicy::DropWhenFull`] it is `try_send`, and stopped subscribers are removed at
    /// once. Stream subscribers are bounded whatever the policy: a full stream drops and counts.
    pub fn deliver(&mut self, message: M, policy: DeliveryPolicy) -> Delivery {
        let mut outcome = Delivery::default();
        self.list.retain_mut(|subscriber| {
            let sent = match &mut subscriber.sink {
                Sink::Actor(recipient) if policy == DeliveryPolicy::Unbounded => {
                    recipient.do_send(message.clone());
                    return true;
                }
                Sink::Actor(recipient) => match recipient.try_send(message.clone()) {
                    Ok(()) => Sent::Queued,
                    Err(SendError::Full(_)) => Sent::Dropped,
                    Err(SendError::Closed(_)) => Sent::Closed,
                },
                Sink::Stream(sender) => sender.send(message.clone()),
            };
            match sent {
                Sent::Queued => true,
                Sent::Dropped => {
                    subscriber.dropped += 1;
                    outcome.dropped.push((subscriber.id, subscriber.dropped));
                    true
                }
                Sent::Closed => {
                    outcome.pruned.push(subscriber.id);
                    false
                }
            }
        });
        outcome
    }
}
