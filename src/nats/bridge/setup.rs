//! The bridge's connection and stream, as plain async functions the actor runs as its setup
//! task: connecting, finding or creating the stream (refusing more replicas than the cluster has
//! servers), reading what the stream's limits can discard, and reading JetStream's advisories
//! (a leader elected, the quorum lost).

use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, Stream};
use async_nats::jetstream::{self, ErrorCode};

use super::StreamSettings;
use crate::nats::error::NatsError;

/// What a setup found: the connection, the stream, and what the client will say.
pub(super) struct Setup {
    pub(super) jetstream: jetstream::Context,
    pub(super) stream: Stream,
    /// The stream's advisories: `$JS.EVENT.ADVISORY.STREAM.<what>.<stream>`.
    pub(super) advisories: async_nats::Subscriber,
    /// The client's connection coming up (`true`) or going down, as it says it.
    pub(super) links: tokio::sync::mpsc::UnboundedReceiver<bool>,
    /// The stream's last sequence.
    pub(super) last: u64,
    /// The stream was not there: created now.
    pub(super) created: bool,
}

/// Connects to `url` and finds (or creates) the stream: one attempt, failing with its cause.
pub(super) async fn set_up(
    url: String,
    settings: StreamSettings,
    subjects: Vec<String>,
    ack_timeout: Duration,
) -> Result<Setup, NatsError> {
    let (link, links) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        // The client reconnects by itself; the bridge follows the link's state.
        .event_callback(move |event| {
            let up = match event {
                async_nats::Event::Connected => Some(true),
                async_nats::Event::Disconnected | async_nats::Event::Closed => Some(false),
                _ => None,
            };
            if let Some(up) = up {
                // Nobody listens once the bridge dropped this client's link.
                let _ = link.send(up);
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
    // How many servers the cluster has up, as far as this one says: one outside a cluster;
    // unknown in a cluster that does not advertise its servers (no_advertise).
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
    let (stream, last, created) = find_or_create(&jetstream, &settings, subjects, servers).await?;
    Ok(Setup {
        jetstream,
        stream,
        advisories,
        links,
        last,
        created,
    })
}

/// Where JetStream publishes a stream's advisories: `<this>.<what>.<stream>`.
const ADVISORIES: &str = "$JS.EVENT.ADVISORY.STREAM";

/// What a stream advisory says, of what the bridge reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Advisory {
    /// The stream's replicas elected `leader`.
    LeaderElected { stream: String, leader: String },
    /// The stream lost its quorum.
    QuorumLost { stream: String },
}

/// The part of a stream advisory the bridge reads.
#[derive(serde::Deserialize)]
struct AdvisoryBody {
    stream: String,
    #[serde(default)]
    leader: Option<String>,
}

impl Advisory {
    /// A leader elected or the quorum lost; `None` for other advisories (created, updated, …:
    /// the bridge's own doing, or seen as publish errors) and for what cannot be read.
    pub(super) fn read(message: &async_nats::Message) -> Option<Self> {
        let what = message.subject.split('.').nth(4).unwrap_or_default();
        let Ok(body) = serde_json::from_slice::<AdvisoryBody>(&message.payload) else {
            tracing::debug!(subject = %message.subject, "NATS bridge: an advisory it cannot read");
            return None;
        };
        let stream = body.stream;
        match (what, body.leader) {
            ("LEADER_ELECTED", Some(leader)) => Some(Self::LeaderElected { stream, leader }),
            ("QUORUM_LOST", _) => Some(Self::QuorumLost { stream }),
            _ => None,
        }
    }
}

/// JetStream answered that there is no such stream.
pub(super) fn not_found(err: &jetstream::context::GetStreamError) -> bool {
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
    jetstream: &jetstream::Context,
    settings: &StreamSettings,
    subjects: Vec<String>,
    servers: Option<usize>,
) -> Result<(Stream, u64, bool), NatsError> {
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
    Ok((stream, last, created))
}

/// The limits under which the stream deletes messages it acknowledged, in words, if it has any
/// beyond the bridge's own age limit.
pub(super) fn discarding_limits(config: &Config, settings: &StreamSettings) -> Option<String> {
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
