//! Subscriptions as a [`Stream`], for code that is not an actor: bounded, and honest about lag.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;

use super::SubscriptionId;

/// A stream subscriber fell behind: its queue was full and `missed` messages were dropped for it
/// at this point of the stream (the messages after it follow on). The report travels with the next
/// message that fits, so it comes exactly where the gap is.
///
/// The notifier also counts them in [`NotifierStats::dropped`](crate::NotifierStats::dropped) and
/// reports [`ConnectionEvent::NotificationsDropped`](crate::ConnectionEvent::NotificationsDropped).
/// An application that keeps state from notifications should resync after a lag, as after a gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the stream fell behind and missed {missed} messages")]
pub struct Lagged {
    /// How many messages were dropped here.
    pub missed: u64,
}

/// A bounded stream of notifications (or metrics reports) from a [`WsNotifier`](crate::WsNotifier):
/// `Ok(message)` in server order, and `Err(Lagged)` where messages were dropped because the
/// consumer did not keep up with `capacity` queued messages. It never grows beyond its capacity.
///
/// Ends when the notifier stops. Dropping it ends the subscription.
///
/// ```no_run
/// use futures_util::StreamExt as _;
/// use jellyfish_notifier::{StreamNotifications, WsNotifier};
///
/// # #[actix::main] async fn main() {
/// let notifier = WsNotifier::start("localhost:5002", "development");
/// let mut notifications = notifier.send(StreamNotifications { capacity: 1024 }).await.unwrap();
/// while let Some(item) = notifications.next().await {
///     match item {
///         Ok(notification) => println!("{}", notification.kind()),
///         Err(lagged) => eprintln!("{lagged}: resync"),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct MessageStream<M> {
    id: SubscriptionId,
    queue: mpsc::Receiver<(u64, M)>,
    /// A message that arrived with a lag report: yielded right after the report.
    held: Option<M>,
}

/// The notifier's end of a [`MessageStream`].
#[derive(Debug)]
pub(crate) struct StreamSender<M> {
    queue: mpsc::Sender<(u64, M)>,
    /// Dropped since the last message that got through.
    missed: u64,
}

/// What one send to a stream did.
pub(crate) enum Sent {
    Queued,
    /// The queue was full: the message was dropped (and will be reported in the stream).
    Dropped,
    /// The stream was dropped.
    Closed,
}

/// A stream and its sender, with room for `capacity` messages (at least 1).
pub(crate) fn channel<M>(
    id: SubscriptionId,
    capacity: usize,
) -> (StreamSender<M>, MessageStream<M>) {
    let (queue, receiver) = mpsc::channel(capacity.max(1));
    (
        StreamSender { queue, missed: 0 },
        MessageStream {
            id,
            queue: receiver,
            held: None,
        },
    )
}

impl<M> MessageStream<M> {
    /// The subscription's id, as in
    /// [`ConnectionEvent::NotificationsDropped`](crate::ConnectionEvent::NotificationsDropped).
    pub fn subscription_id(&self) -> SubscriptionId {
        self.id
    }
}

impl<M> StreamSender<M> {
    pub(crate) fn send(&mut self, message: M) -> Sent {
        match self.queue.try_send((self.missed, message)) {
            Ok(()) => {
                self.missed = 0;
                Sent::Queued
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.missed += 1;
                Sent::Dropped
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Sent::Closed,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

impl<M> Stream for MessageStream<M> {
    type Item = Result<M, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(message) = self.held.take() {
            return Poll::Ready(Some(Ok(message)));
        }
        match self.queue.poll_recv(cx) {
            Poll::Ready(Some((0, message))) => Poll::Ready(Some(Ok(message))),
            Poll::Ready(Some((missed, message))) => {
                self.held = Some(message);
                Poll::Ready(Some(Err(Lagged { missed })))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<M> Unpin for MessageStream<M> {}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn a_full_stream_drops_and_reports_the_lag_where_it_happened() {
        let (mut sender, mut stream) = channel::<u32>(SubscriptionId(1), 2);
        assert!(matches!(sender.send(1), Sent::Queued));
        assert!(matches!(sender.send(2), Sent::Queued));
        assert!(matches!(sender.send(3), Sent::Dropped));
        assert!(matches!(sender.send(4), Sent::Dropped));
        assert_eq!(stream.next().await, Some(Ok(1)));
        assert!(matches!(sender.send(5), Sent::Queued));
        assert_eq!(stream.next().await, Some(Ok(2)));
        assert_eq!(stream.next().await, Some(Err(Lagged { missed: 2 })));
        assert_eq!(stream.next().await, Some(Ok(5)));
        drop(sender);
        assert_eq!(stream.next().await, None);
    }
}
