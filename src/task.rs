//! [`Task`]: work an actor spawned on its own context (a connection attempt, a backoff timer, a
//! question to a server, a stream of answers), cancelled by dropping its handle.
//!
//! A component's phase owns the tasks valid in it; leaving the phase drops them, and what they
//! would have answered never reaches the actor. This replaces generation counters that guard
//! stale callbacks (async-nats' `connector.rs` owns an attempt in one task the same way).
//!
//! actix's own `cancel_future` is not enough for that: a future cancelled from a handler can
//! still be polled, and its continuation run, once more before the context reaps it. An aborted
//! [`Abortable`](futures_util::future::Abortable) is never polled again, so its continuation
//! never runs.

use std::future::Future;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::{AbortHandle, abortable};
use futures_util::stream::Stream;

/// A future or stream spawned on an actor's context; dropping the handle cancels it for good
/// (its continuation never runs after that).
#[derive(Debug)]
#[must_use = "dropping a Task cancels it"]
pub(crate) struct Task(AbortHandle);

impl Task {
    /// Runs `future` on the actor's context, then `then` with its output, unless the handle was
    /// dropped first.
    pub(crate) fn spawn<A, F>(
        ctx: &mut Context<A>,
        future: F,
        then: impl FnOnce(F::Output, &mut A, &mut Context<A>) + 'static,
    ) -> Self
    where
        A: Actor<Context = Context<A>>,
        F: Future + 'static,
    {
        let (future, handle) = abortable(future);
        ctx.spawn(
            fut::wrap_future::<_, A>(future).map(move |done, actor, ctx| {
                if let Ok(output) = done {
                    then(output, actor, ctx);
                }
            }),
        );
        Self(handle)
    }

    /// Runs `then` after `delay`, unless the handle was dropped first.
    pub(crate) fn after<A>(
        ctx: &mut Context<A>,
        delay: Duration,
        then: impl FnOnce(&mut A, &mut Context<A>) + 'static,
    ) -> Self
    where
        A: Actor<Context = Context<A>>,
    {
        Self::spawn(ctx, tokio::time::sleep(delay), move |(), actor, ctx| {
            then(actor, ctx)
        })
    }

    /// Runs `each` for every item of `stream`, in order, until it ends or the handle is dropped.
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(crate) fn each<A, S>(
        ctx: &mut Context<A>,
        stream: S,
        mut each: impl FnMut(S::Item, &mut A, &mut Context<A>) + 'static,
    ) -> Self
    where
        A: Actor<Context = Context<A>>,
        S: Stream + 'static,
    {
        let (stream, handle) = futures_util::stream::abortable(stream);
        ctx.spawn(
            fut::wrap_stream::<_, A>(stream)
                .map(move |item, actor, ctx| each(item, actor, ctx))
                .finish(),
        );
        Self(handle)
    }

    /// A handle to no work: what a phase holds in a test of its transitions, where nothing runs.
    #[cfg(test)]
    pub(crate) fn idle() -> Self {
        Self(AbortHandle::new_pair().0)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter {
        ran: Vec<&'static str>,
        kept: Option<Task>,
    }

    impl Actor for Counter {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "Vec<&'static str>")]
    struct Ran;

    impl Handler<Ran> for Counter {
        type Result = MessageResult<Ran>;
        fn handle(&mut self, _: Ran, _: &mut Context<Self>) -> Self::Result {
            MessageResult(self.ran.clone())
        }
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Start;

    impl Handler<Start> for Counter {
        type Result = ();
        fn handle(&mut self, _: Start, ctx: &mut Context<Self>) {
            // Ready at once: actix would poll it in this very turn; dropped in the same handler,
            // its continuation must still never run.
            let dropped = Task::spawn(ctx, std::future::ready(()), |(), counter: &mut Self, _| {
                counter.ran.push("dropped")
            });
            drop(dropped);
            self.kept = Some(Task::spawn(
                ctx,
                std::future::ready(()),
                |(), counter: &mut Self, _| counter.ran.push("kept"),
            ));
            let replaced = Task::after(ctx, Duration::ZERO, |counter: &mut Self, _| {
                counter.ran.push("replaced")
            });
            self.kept = Some(replaced);
        }
    }

    #[actix::test]
    async fn a_dropped_task_never_runs_its_continuation() {
        let counter = Counter {
            ran: Vec::new(),
            kept: None,
        }
        .start();
        counter.send(Start).await.unwrap();
        // The ready futures had their turn before the timer's: once the timer ran, whatever of
        // the others was going to run has.
        let ran = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let ran = counter.send(Ran).await.unwrap();
                if !ran.is_empty() {
                    return ran;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the kept timer ran");
        assert_eq!(ran, ["replaced"], "only the task whose handle was kept ran");
    }
}
