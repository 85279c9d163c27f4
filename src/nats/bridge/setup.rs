//! The bridge's connection and stream: connecting (without blocking its mailbox, so what arrives
//! meanwhile is queued and counted), finding or creating the stream, creating it again when an
//! operator's hand removed it, and saying when its limits can discard what was acknowledged, when
//! the connection is lost and made again, and when the stream's leader changes or its quorum is
//! lost (JetStream's advisories).

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
    /// The stream's advisories: `$JS.EVENT.ADVISORY.STREAM.<what>.<stream>`.
    advisories: async_nats::Subscriber,
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
        self.clients += 1;
        let client = self.clients;
        let url = self.config.url.clone();
        let settings = self.config.stream.clone();
        let subjects = vec![format!("{}.>", self.config.prefix)];
        let ack_timeout = self.config.ack_timeout;
        let bridge = ctx.address();
        let setup = async move {
            let client = async_nats::ConnectOptions::new()
                // The client reconnects by itself; the bridge follows the link's state.
                .event_callback(move |event| {
                    let up = match event {
                        async_nats::Event::Connected => Some(true),
                        async_nats::Event::Disconnected | async_nats::Event::Closed => Some(false),
                        _ => None,
                    };
                    if let Some(up) = up {
                        bridge.do_send(Link { client, up });
                    }
                    std::future::ready(())
                })
                .connection_timeout(ack_timeout.max(Duration::from_secs(1)))
                .connect(crate::nats::servers(&url)?)
                .await
                .map_err(|err| NatsError::Connect {
                    url: crate::nats::redacted(&url),
                    detail: err.to_string(),
                })?;
            // How many servers the cluster has up, as far as this one says: one outside a
            // cluster; unknown in a cluster that does not advertise its servers (no_advertise).
            let info = client.server_info();
            let servers = match (&info.cluster, info.connect_urls.len()) {
                (None, _) => Some(1),
                (Some(_), 0) => None,
                (Some(_), advertised) => Some(advertised),
            };
            let advisories = client
                .subscribe(format!("{ADVISORIES}.*.{}", settings.name))
                .await
                .map_err(|err| NatsError::Connect {
                    url: crate::nats::redacted(&url),
                    detail: err.to_string(),
                })?;
            let mut jetstream = jetstream::new(client);
            jetstream.set_timeout(ack_timeout);
            find_or_create(jetstream, advisories, &settings, subjects, servers).await
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
        // The previous client's subscription goes with it (and the client with its last handle).
        if let Some(previous) = self.advisories.take() {
            ctx.cancel_future(previous);
        }
        self.advisories = Some(ctx.add_stream(setup.advisories));
        self.had_stream = true;
        // As the client is now: a link lost during the setup (said before the bridge had a
        // connection to name) is not taken back by it.
        self.linked =
            setup.jetstream.client().connection_state() == async_nats::connection::State::Connected;
        self.jetstream = Some(setup.jetstream);
        self.stream = Some(setup.stream);
        self.last_error = None;
        self.retry.succeeded();
        self.levels();
        self.event(BridgeEvent::Ready);
        // A suspect duplicate at the front whose check could not start while there was no
        // stream is checked now: the line would wait for it for ever.
        self.settle(ctx);
        self.pump(ctx);
    }

    /// The connection to the media server is up for the first time: whatever other bridges
    /// stored before now, this one never heard, so its counts may lag behind any of it. The
    /// de-duplication floor moves to the stream's end (as a gap marker moves it after a
    /// reconnect), and nothing is sent until it has. Before the stream is set up, its setup
    /// reads the end then.
    pub(super) fn floor_at_stream_end(&mut self, ctx: &mut Context<Self>) {
        let Some(stream) = self.stream.clone() else {
            return;
        };
        self.flooring = true;
        let client = self.clients;
        let end = async move { stream.get_info().await.map(|info| info.state.last_sequence) };
        ctx.spawn(end.into_actor(self).map(move |end, bridge, ctx| {
            bridge.flooring = false;
            match end {
                Ok(end) if client == bridge.clients => bridge.dedup.gap_at(end),
                Ok(_) => {} // set up again meanwhile: the setup read the end
                Err(error) => {
                    tracing::warn!(%error, "NATS bridge: could not read where the stream ends as the server connection came up; a repetition another bridge stored before it is told apart by the stored sequences alone");
                }
            }
            bridge.pump(ctx);
        }));
    }

    /// A publish had no one to answer it (`error`): the stream is gone, or only without a leader
    /// for a moment (a cluster electing one). JetStream's API says which; nothing is sent
    /// meanwhile. Gone: [`JetStreamBridge::stream_gone`]. There (or no answer): a retry, on the
    /// same connection.
    pub(super) fn check_stream(&mut self, error: String, ctx: &mut Context<Self>) {
        let Some(jetstream) = self.jetstream.clone() else {
            return;
        };
        self.probing = true;
        let name = self.config.stream.name.clone();
        let client = self.clients;
        let found = async move { jetstream.get_stream(&name).await.map(|_| ()) };
        ctx.spawn(found.into_actor(self).map(move |found, bridge, ctx| {
            bridge.probing = false;
            if client != bridge.clients || bridge.jetstream.is_none() {
                return; // set up again meanwhile
            }
            let detail = match found {
                Err(err) if not_found(&err) => {
                    bridge.stream_gone(ctx);
                    return;
                }
                Ok(()) => format!(
                    "{error}: the stream is there, without a leader at the moment (a cluster electing one)"
                ),
                Err(err) => format!("{error}; asking JetStream about the stream failed too: {err}"),
            };
            bridge.stats.retries += 1;
            bridge.failed(NatsError::Publish { detail }, ctx);
        }));
    }

    /// A publish found no stream: an operator deleted it, or nats-server came back without its
    /// store. Created again (and said), or, if the bridge must not, it stops at once, loudly.
    pub(super) fn stream_gone(&mut self, ctx: &mut Context<Self>) {
        let stream = self.config.stream.name.clone();
        if let Some(advisories) = self.advisories.take() {
            ctx.cancel_future(advisories);
        }
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

/// The connection of the bridge's `client`-th NATS client came up or went down.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Link {
    client: u64,
    up: bool,
}

impl Handler<Link> for JetStreamBridge {
    type Result = ();

    /// Said when the link changes once the bridge is set up (the first connection is
    /// [`BridgeEvent::Ready`]): the server lost, and the one connected to again.
    fn handle(&mut self, Link { client, up: linked }: Link, _: &mut Context<Self>) {
        if client != self.clients {
            return; // a client replaced since (the stream was recreated), closing
        }
        let changed = linked != self.linked;
        self.linked = linked;
        self.levels();
        let Some(jetstream) = self.jetstream.as_ref().filter(|_| changed) else {
            return;
        };
        let info = jetstream.client().server_info();
        let server = format!("{} ({}:{})", info.server_name, info.host, info.port);
        if linked {
            tracing::info!(%server, "NATS bridge: connected again");
            self.event(BridgeEvent::Reconnected { server });
        } else {
            tracing::warn!(%server, queued = self.queue.len(), "NATS bridge: lost the connection; the client reconnects, failing over between the URLs");
            self.event(BridgeEvent::Disconnected { server });
        }
    }
}

/// Where JetStream publishes a stream's advisories: `<this>.<what>.<stream>`.
const ADVISORIES: &str = "$JS.EVENT.ADVISORY.STREAM";

/// The part of a stream advisory the bridge reads.
#[derive(serde::Deserialize)]
struct Advisory {
    stream: String,
    #[serde(default)]
    leader: Option<String>,
}

impl StreamHandler<async_nats::Message> for JetStreamBridge {
    /// A leader elected or the quorum lost: said as it comes. Other advisories (created,
    /// updated, …) are the bridge's own doing or show up as publish errors.
    fn handle(&mut self, message: async_nats::Message, _: &mut Context<Self>) {
        let what = message.subject.split('.').nth(4).unwrap_or_default();
        let Ok(advisory) = serde_json::from_slice::<Advisory>(&message.payload) else {
            tracing::debug!(subject = %message.subject, "NATS bridge: an advisory it cannot read");
            return;
        };
        let stream = advisory.stream;
        match (what, advisory.leader) {
            ("LEADER_ELECTED", Some(leader)) => {
                tracing::info!(%stream, %leader, "NATS bridge: the stream has a new leader");
                self.event(BridgeEvent::LeaderElected { stream, leader });
            }
            ("QUORUM_LOST", _) => {
                tracing::warn!(%stream, "NATS bridge: the stream lost its quorum; nothing is stored until enough of its servers are back");
                self.event(BridgeEvent::QuorumLost { stream });
            }
            _ => {}
        }
    }

    /// The subscription ends with its client (a new setup made another): the bridge goes on.
    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// Finds the stream, or creates it with the bridge's settings.
/// JetStream answered that there is no such stream.
fn not_found(err: &jetstream::context::GetStreamError) -> bool {
    matches!(
        err.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(ref js)
            if js.error_code() == ErrorCode::STREAM_NOT_FOUND
    )
}

/// A stream is created only if the cluster has `servers` (up, as the server connected to knows
/// them) for its replicas: one asking for more is never placed. Unknown (a cluster that does not
/// advertise its servers): JetStream's own answer to the creation says. One that exists is used
/// whatever is down (an R3 stream stores while two of its three servers are up).
async fn find_or_create(
    jetstream: jetstream::Context,
    advisories: async_nats::Subscriber,
    settings: &StreamSettings,
    subjects: Vec<String>,
    servers: Option<usize>,
) -> Result<Setup, NatsError> {
    let stream_error = |detail: String| NatsError::Stream {
        stream: settings.name.clone(),
        detail,
    };
    let found = jetstream.get_stream(&settings.name).await;
    let (mut stream, created) = match found {
        Ok(stream) => (stream, false),
        Err(err) if not_found(&err) => {
            if let Some(servers) = servers.filter(|servers| settings.replicas > *servers) {
                return Err(stream_error(format!(
                    "{} replicas asked for, and the cluster has {servers} server{} up (lower --replicas, or add servers)",
                    settings.replicas,
                    if servers == 1 { "" } else { "s" }
                )));
            }
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
        advisories,
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
