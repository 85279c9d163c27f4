//! The consumer's I/O, as plain async functions its phases run as tasks: opening the durable
//! consumer, then reading and delivering until the connection or the stream ends.

use std::rc::Rc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;

use super::{ConsumerShared, JetStreamConsumerBuilder};
use crate::nats::KIND_HEADER;
use crate::nats::error::NatsError;

/// The durable consumer, opened: its messages flow.
pub(super) struct Opened {
    consumer: PullConsumer,
    messages: async_nats::jetstream::consumer::pull::Stream,
}

/// Connects, finds the stream and the durable consumer (made if missing, refused if it exists
/// with other settings), and starts its messages: one attempt, failing with its cause.
pub(super) async fn open(config: JetStreamConsumerBuilder) -> Result<Opened, NatsError> {
    // One attempt over the servers, failing with its cause; the actor's retry policy does the
    // rest (the client's own retry of a first connection outlives a dropped client).
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(crate::nats::servers(&config.url)?)
        .await
        .map_err(|err| NatsError::Connect {
            url: crate::nats::redacted(&config.url),
            detail: err.to_string(),
        })?;
    let consumer_error = |detail: String| NatsError::Consumer {
        durable: config.durable.clone(),
        detail,
    };
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .get_stream(config.stream.as_str())
        .await
        .map_err(|err| NatsError::Stream {
            stream: config.stream.clone(),
            detail: err.to_string(),
        })?;
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            config.durable.as_str(),
            async_nats::jetstream::consumer::pull::Config {
                durable_name: Some(config.durable.clone()),
                filter_subject: config.filter.clone().unwrap_or_default(),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                ..Default::default()
            },
        )
        .await
        .map_err(|err| consumer_error(err.to_string()))?;
    // A durable that exists is returned as it is: one made with another filter or ack wait (an
    // instance given a name already taken, or a changed setting) is said, not read as if it were
    // this one.
    let existing = &consumer.cached_info().config;
    let filter = config.filter.clone().unwrap_or_default();
    if existing.filter_subject != filter || existing.ack_wait != config.ack_wait {
        let shown = |filter: &str| {
            if filter.is_empty() {
                "everything".to_owned()
            } else {
                format!("\"{filter}\"")
            }
        };
        return Err(consumer_error(format!(
            "it exists with filter {} and ack wait {:.1} s, and this instance asks for filter {} and ack wait {:.1} s: give this instance another name, or remove the consumer (nats consumer rm {} {}) to have it made anew",
            shown(&existing.filter_subject),
            existing.ack_wait.as_secs_f64(),
            shown(&filter),
            config.ack_wait.as_secs_f64(),
            config.stream,
            config.durable,
        )));
    }
    let messages = consumer
        .stream()
        .max_messages_per_batch(config.max_batch)
        // As the client's own default stream: a dead connection is noticed within 30 s.
        .heartbeat(Duration::from_secs(15))
        .messages()
        .await
        .map_err(|err| consumer_error(err.to_string()))?;
    Ok(Opened { consumer, messages })
}

/// Delivers every message of `opened` to the subscribers, acknowledging each once all handled
/// it, until the connection or the stream ends.
pub(super) async fn read(
    config: JetStreamConsumerBuilder,
    shared: Rc<ConsumerShared>,
    Opened {
        mut consumer,
        mut messages,
    }: Opened,
) -> Result<(), NatsError> {
    use futures_util::StreamExt as _;
    let consumer_error = |detail: String| NatsError::Consumer {
        durable: config.durable.clone(),
        detail,
    };
    let mut checked = Instant::now();
    // Said once until notifications are delivered again: with no subscriber, each comes back
    // every second.
    let mut undelivered_said = false;
    // Every half ack wait, the message being handled is said to be in progress.
    let mut progress = tokio::time::interval((config.ack_wait / 2).max(Duration::from_millis(1)));
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    progress.reset();
    while let Some(message) = messages.next().await {
        let message = message.map_err(|err| consumer_error(err.to_string()))?;
        let redelivered = message.info().is_ok_and(|info| info.delivered > 1);
        let kind = message
            .headers
            .as_ref()
            .and_then(|h| h.get(KIND_HEADER))
            .map(|v| v.as_str().to_owned());
        let outcome = match kind.as_deref() {
            Some("gap") => Outcome::Gap,
            Some("metrics_report") => Outcome::Skipped,
            _ => match crate::codec::receive_binary(&message.payload) {
                Ok(notifications) => {
                    let mut delivered = true;
                    for notification in notifications {
                        let mut sends: Vec<_> = {
                            let mut subscribers = shared.subscribers.borrow_mut();
                            let before = subscribers.len();
                            subscribers.retain(|(_, s)| s.connected());
                            if subscribers.len() < before {
                                tracing::warn!(
                                    gone = before - subscribers.len(),
                                    left = subscribers.len(),
                                    "NATS consumer: subscribers stopped; no longer delivered to"
                                );
                            }
                            subscribers
                                .iter()
                                .map(|(_, s)| s.send(notification.clone()))
                                .collect()
                        };
                        // Handled by every subscriber before the acknowledgement.
                        delivered &= match (sends.pop(), sends.is_empty()) {
                            (None, _) => false,
                            // One subscriber (the usual case): nothing to gather.
                            (Some(send), true) => {
                                in_progress(&message, send, &mut progress).await.is_ok()
                            }
                            (Some(last), false) => {
                                sends.push(last);
                                let handled = futures_util::future::join_all(sends);
                                let answers = in_progress(&message, handled, &mut progress).await;
                                answers.iter().all(Result::is_ok)
                            }
                        };
                        if !delivered {
                            break;
                        }
                    }
                    if delivered {
                        Outcome::Delivered
                    } else {
                        Outcome::Undelivered
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, subject = %message.subject, "NATS consumer: not a notification; skipped");
                    Outcome::Skipped
                }
            },
        };
        if outcome == Outcome::Undelivered {
            if !undelivered_said {
                tracing::error!(subject = %message.subject, stream_sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default(), "NATS consumer: a notification reached no subscriber, or one stopped before handling it: not acknowledged, JetStream delivers it again (subscribe before messages flow; each such delivery is counted in `undelivered`)");
                undelivered_said = true;
            }
            message
                .ack_with(AckKind::Nak(Some(REDELIVER_UNDELIVERED_AFTER)))
                .await
                .map_err(|err| consumer_error(err.to_string()))?;
        } else {
            if undelivered_said && outcome == Outcome::Delivered {
                tracing::info!("NATS consumer: delivering to subscribers again");
                undelivered_said = false;
            }
            message
                .ack()
                .await
                .map_err(|err| consumer_error(err.to_string()))?;
        }
        {
            let mut stats = shared.stats.borrow_mut();
            match outcome {
                Outcome::Delivered => stats.delivered += 1,
                Outcome::Gap => stats.gaps += 1,
                Outcome::Skipped => stats.skipped += 1,
                Outcome::Undelivered => stats.undelivered += 1,
            }
            if redelivered {
                stats.redelivered += 1;
            }
        }
        if checked.elapsed() > Duration::from_secs(1) {
            checked = Instant::now();
            if let Ok(info) = consumer.info().await {
                shared.stats.borrow_mut().pending = info.num_pending;
            }
        }
    }
    Ok(())
}

/// Awaits `handled` (the subscribers' answers for `message`), telling JetStream at each tick of
/// `progress` that the message is still being handled: a slow handler's message is not delivered
/// again (to another instance of a work queue) while it is at work. One timer serves every message.
async fn in_progress<T>(
    message: &async_nats::jetstream::Message,
    handled: impl Future<Output = T>,
    progress: &mut tokio::time::Interval,
) -> T {
    let mut handled = std::pin::pin!(handled);
    loop {
        tokio::select! {
            biased;
            answers = &mut handled => return answers,
            _ = progress.tick() => {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(%error, subject = %message.subject, "NATS consumer: could not tell JetStream a slow handler is still at work; it may deliver the message again");
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    /// Not handed to every subscriber: given back to JetStream, not acknowledged.
    Undelivered,
    Gap,
    Skipped,
}

/// How long a connection attempt (to each server of the list) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// When JetStream delivers again a notification no subscriber took.
const REDELIVER_UNDELIVERED_AFTER: Duration = Duration::from_secs(1);
