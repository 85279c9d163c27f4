//! One round of publishes in flight since the last failure: the task putting a batch on the
//! connection and the one taking their acknowledgements in the order sent. A failure (or a new
//! stream leader) drops the round, and neither says anything more.

use actix::prelude::*;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use futures_util::StreamExt as _;

use super::window::Send;
use crate::task::Task;

/// Publishes in flight since the last failure: the task putting a batch on the connection, and
/// the one taking their acknowledgements in the order sent. Dropped, neither says anything more.
pub(super) struct Round {
    pub(super) acks: Sent,
    /// The batch being put on the connection (one at a time keeps them in order).
    pub(super) sending: Option<Task>,
    _answers: Task,
}

/// JetStream's answer to one publish.
pub(super) type Answer = Result<async_nats::jetstream::publish::PublishAck, PublishError>;

/// Where a round's sending task hands each publish (its serial and what the client answered).
pub(super) type Sent =
    tokio::sync::mpsc::UnboundedSender<(u64, Result<PublishAckFuture, PublishError>)>;

impl Round {
    /// A round whose answers go to `answered`, in the order sent.
    pub(super) fn new<A>(
        ctx: &mut Context<A>,
        mut answered: impl FnMut(u64, Answer, &mut A, &mut Context<A>) + 'static,
    ) -> Self
    where
        A: Actor<Context = Context<A>>,
    {
        let (acks, sent) = tokio::sync::mpsc::unbounded_channel();
        let answers = futures_util::stream::unfold(sent, |mut sent| async move {
            sent.recv().await.map(|item| (item, sent))
        })
        .then(
            |(serial, sent): (u64, Result<PublishAckFuture, PublishError>)| async move {
                match sent {
                    Ok(ack) => (serial, ack.await),
                    Err(error) => (serial, Err(error)),
                }
            },
        );
        let answers = Task::each(ctx, answers, move |(serial, answer), actor, ctx| {
            answered(serial, answer, actor, ctx);
        });
        Self {
            acks,
            sending: None,
            _answers: answers,
        }
    }
}

/// Puts `batch` on the connection in order, each publish handed to the round's answers; a send
/// that fails ends the batch (the failure sends everything unacknowledged again).
pub(super) async fn send(jetstream: async_nats::jetstream::Context, batch: Vec<Send>, acks: Sent) {
    for (serial, subject, headers, body) in batch {
        let sent = jetstream.publish_with_headers(subject, headers, body).await;
        let failed = sent.is_err();
        if acks.send((serial, sent)).is_err() || failed {
            break;
        }
    }
}
