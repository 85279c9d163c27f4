//! The bridge's connection and stream: connecting (without blocking its mailbox, so what arrives
//! meanwhile is queued and counted), finding or creating the stream, creating it again when an
//! operator's hand removed it, and saying when its limits can discard what was acknowledged.

use std::time::Duration;

use actix::prelude::*;
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, Stream};
use async_nats::jetstream::{self, ErrorCode};

use super::{BridgeEvent, JetStreamBridge, StreamSettings};
use crate::nats::error::NatsError;

/// What a setup found.
pub(super) struct Setup {
    jetstream: jetstream::Context,
    stream: Stream,
    last: u64,
    /// The stream was not there: created now.
    created: bool,
}

impl JetStreamBridge {
    /// Connects and finds (or creates) the stream, in the background: the mailbox stays open.
    pub(super) fn connect(&mut self, ctx: &mut Context<Self>) {
        if self.connecting {
            return;
        }
        self.connecting = true;
        let url = self.config.url.clone();
        let settings = self.config.stream.clone();
        let subjects = vec![format!("{}.>", self.config.prefix)];
        let ack_timeout = self.config.ack_timeout;
        let bridge = ctx.address();
        let setup = async move {
            let client = async_nats::ConnectOptions::new()
                // The client reconnects by itself; the bridge follows the link's state.
                .event_callback(move |event| {
                    let linked = match event {
                        async_nats::Event::Connected => Some(true),
                        async_nats::Event::Disconnected | async_nats::Event::Closed => Some(false),
                        _ => None,
                    };
                    if let Some(linked) = linked {
                        bridge.do_send(Link(linked));
                    }
                    std::future::ready(())
                })
                .connection_timeout(ack_timeout.max(Duration::from_secs(1)))
                .connect(crate::nats::servers(&url))
                .await
                .map_err(|err| NatsError::Connect {
                    url: url.clone(),
                    detail: err.to_string(),
                })?;
            // A stream asking for more replicas than the cluster has servers is never placed.
            let servers = client.server_info().connect_urls.len().max(1);
            if settings.replicas > servers {
                return Err(NatsError::Stream {
                    stream: settings.name.clone(),
                    detail: format!(
                        "{} replicas asked for, and the cluster has {servers} server{} (lower --replicas, or add servers)",
                        settings.replicas,
                        if servers == 1 { "" } else { "s" }
                    ),
                });
            }
            let mut jetstream = jetstream::new(client);
            jetstream.set_timeout(ack_timeout);
            find_or_create(jetstream, &settings, subjects).await
        };
        ctx.spawn(setup.into_actor(self).map(|result, bridge, ctx| {
            bridge.connecting = false;
            match result {
                Ok(setup) => bridge.ready(setup, ctx),
                Err(error) => bridge.failed(error, ctx),
            }
        }));
    }

    fn ready(&mut self, setup: Setup, ctx: &mut Context<Self>) {
        let name = self.config.stream.name.clone();
        if setup.created && self.had_stream {
            tracing::warn!(stream = %name, "NATS bridge: the stream was gone (deleted, or nats-server lost its store); created it again with the bridge's settings. What it held before is gone with it");
            self.dedup.stream_recreated(setup.last);
            self.stats.recreated += 1;
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &self.config.metrics {
                metrics.on_recreated();
            }
            self.event(BridgeEvent::StreamRecreated { stream: name });
        } else {
            self.dedup.start_at(setup.last);
        }
        if let Some(limits) =
            discarding_limits(&setup.stream.cached_info().config, &self.config.stream)
        {
            tracing::warn!(stream = %self.config.stream.name, %limits, "NATS bridge: the stream's limits can discard notifications it acknowledged");
            self.event(BridgeEvent::StreamLimits {
                stream: self.config.stream.name.clone(),
                limits,
            });
        }
        self.had_stream = true;
        self.linked = true;
        self.jetstream = Some(setup.jetstream);
        self.stream = Some(setup.stream);
        self.last_error = None;
        self.retry.succeeded();
        self.levels();
        self.event(BridgeEvent::Ready);
        self.pump(ctx);
    }

    /// A publish found no stream: an operator deleted it, or nats-server came back without its
    /// store. Created again (and said), or, if the bridge must not, it stops at once, loudly.
    pub(super) fn stream_gone(&mut self, ctx: &mut Context<Self>) {
        let stream = self.config.stream.name.clone();
        self.resend_unacknowledged();
        self.jetstream = None;
        self.stream = None;
        self.levels();
        if self.config.recreate_stream {
            self.connect(ctx);
            return;
        }
        tracing::error!(%stream, queued = self.queue.len(), "NATS bridge: the stream is gone and recreating it is disabled; stopping");
        for waiter in self.queue.iter_mut().filter_map(|m| m.waiter.take()) {
            let _ = waiter.send(Err(NatsError::StreamGone {
                stream: stream.clone(),
            }));
        }
        self.event(BridgeEvent::StreamGone {
            stream,
            unpublished: self.queue.len(),
        });
        ctx.stop();
    }
}

/// The NATS client's connection came up (`true`) or went down.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Link(bool);

impl Handler<Link> for JetStreamBridge {
    type Result = ();

    fn handle(&mut self, Link(linked): Link, _: &mut Context<Self>) {
        self.linked = linked;
        self.levels();
    }
}

/// Finds the stream, or creates it with the bridge's settings.
async fn find_or_create(
    jetstream: jetstream::Context,
    settings: &StreamSettings,
    subjects: Vec<String>,
) -> Result<Setup, NatsError> {
    let stream_error = |detail: String| NatsError::Stream {
        stream: settings.name.clone(),
        detail,
    };
    let found = jetstream.get_stream(&settings.name).await;
    let (mut stream, created) = match found {
        Ok(stream) => (stream, false),
        Err(err)
            if matches!(
                err.kind(),
                jetstream::context::GetStreamErrorKind::JetStream(ref js)
                    if js.error_code() == ErrorCode::STREAM_NOT_FOUND
            ) =>
        {
            let created = jetstream
                .create_stream(Config {
                    name: settings.name.clone(),
                    subjects,
                    max_age: settings.max_age,
                    duplicate_window: settings.duplicate_window,
                    num_replicas: settings.replicas,
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|err| stream_error(err.to_string()))?;
            (created, true)
        }
        Err(err) => return Err(stream_error(err.to_string())),
    };
    let last = stream
        .info()
        .await
        .map_err(|err| stream_error(err.to_string()))?
        .state
        .last_sequence;
    Ok(Setup {
        jetstream,
        stream,
        last,
        created,
    })
}

/// The limits under which the stream deletes messages it acknowledged, in words, if it has any
/// beyond the bridge's own age limit.
fn discarding_limits(config: &Config, settings: &StreamSettings) -> Option<String> {
    let mut limits = Vec::new();
    match config.retention {
        RetentionPolicy::Limits => {}
        RetentionPolicy::Interest => {
            limits.push(
                "retention interest (a message no consumer is interested in is deleted at once)"
                    .to_owned(),
            );
        }
        RetentionPolicy::WorkQueue => {
            limits.push(
                "retention workqueue (a message is deleted once one consumer acked it)".to_owned(),
            );
        }
    }
    if config.discard == DiscardPolicy::Old {
        if config.max_messages > 0 {
            limits.push(format!("max_msgs={}", config.max_messages));
        }
        if config.max_bytes > 0 {
            limits.push(format!("max_bytes={}", config.max_bytes));
        }
        if config.max_messages_per_subject > 0 {
            limits.push(format!(
                "max_msgs_per_subject={}",
                config.max_messages_per_subject
            ));
        }
        if !config.max_age.is_zero() && config.max_age < settings.max_age {
            limits.push(format!("max_age={:.0} s", config.max_age.as_secs_f64()));
        }
        if limits.iter().any(|l| l.starts_with("max_")) {
            limits.push("discard old (the oldest messages are deleted to make room)".to_owned());
        }
    }
    (!limits.is_empty()).then(|| limits.join(", "))
}
