//! NATS JetStream (feature `nats`): [`JetStreamBridge`] publishes every notification into a durable
//! stream, [`JetStreamConsumer`] reads it back and delivers it to the same `Handler<Notification>`
//! subscribers a [`WsNotifier`](crate::WsNotifier) feeds.
//!
//! **Subjects.** A notification about a room goes to `<prefix>.<room>.<kind>` (`jellyfish.lobby.
//! peer_connected`); one without a room (livestreams, recordings) to `<prefix>.~.<kind>`; the
//! notifier's gaps to `<prefix>.~.gap`; metrics reports to `<prefix>.metrics`. The room token is the
//! room id with every byte outside `A-Z a-z 0-9 - _` written as `%XX` (so `.`, `*`, `>`, `~`, `%` and
//! whitespace cannot break the hierarchy): [`subject_token`]. Filter one room with
//! `<prefix>.<token>.*`, one kind with `<prefix>.*.<kind>`.
//!
//! **Messages.** The body is the notification's protobuf `ServerMessage`, the bytes the server
//! sends, so any official SDK's `receive_binary` decodes it. Headers: [`KIND_HEADER`],
//! [`ROOM_HEADER`] (the room id as sent), and `Nats-Msg-Id` ([`DedupIds`]).
//!
//! **De-duplication.** The server gives notifications no ids, so two bridges on one server agree on
//! an id from what they both see: the room, the notification's bytes, and how many times the same
//! bytes came before in that room (within the stream's duplicate window), corrected by JetStream's
//! own answers. JetStream stores a message id once per duplicate window. What this guarantees, and
//! where it stops, is on [`DedupIds`].

pub(crate) mod bridge;
mod consumer;
mod dedup;
mod error;
mod subject;

pub use bridge::{
    BridgeEvent, BridgeStats, GetBridgeStats, JetStreamBridge, JetStreamBridgeBuilder, Publish,
    StreamSettings,
};
pub use consumer::{ConsumerStats, GetConsumerStats, JetStreamConsumer, JetStreamConsumerBuilder};
pub use dedup::{DedupId, DedupIds, Verdict};
pub use error::NatsError;
pub use subject::{gap_subject, metrics_subject, notification_subject, subject_token};

/// The servers of a NATS URL list: `nats://a:4222,nats://b:4222` (as the NATS tools take it) or
/// one URL. The client connects to one of them and fails over to the others. An empty list is an
/// error that says what to give (the client would otherwise wait for ever on no server).
pub(crate) fn servers(urls: &str) -> Result<Vec<&str>, NatsError> {
    let servers: Vec<&str> = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect();
    if servers.is_empty() {
        return Err(NatsError::Connect {
            url: redacted(urls),
            detail:
                "no NATS server given: pass nats://host:4222, or several URLs separated by commas"
                    .to_owned(),
        });
    }
    Ok(servers)
}

/// A NATS URL list as it may be said (errors, logs, `Debug`, a readiness reason): each URL's
/// credentials (`user:password@`, `token@`) replaced by `***@`. Everything this module says
/// about a URL goes through it.
///
/// ```
/// use jellyfish_notifier::nats::redacted;
/// assert_eq!(redacted("nats://app:s3cret@a:4222,b:4222"), "nats://***@a:4222,b:4222");
/// ```
pub fn redacted(urls: &str) -> String {
    urls.split(',')
        .map(|url| {
            let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let separator = if scheme.is_empty() { "" } else { "://" };
                    format!("{scheme}{separator}***{}", &rest[at..])
                }
                None => url.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The subject prefix when none is given.
pub const DEFAULT_PREFIX: &str = "jellyfish";
/// The stream name when none is given.
pub const DEFAULT_STREAM: &str = "JELLYFISH";
/// The header carrying the notification's kind (`peer_connected`; `gap` for a gap message).
pub const KIND_HEADER: &str = "Jellyfish-Kind";
/// The header carrying the room id as the server sent it (absent without a room).
pub const ROOM_HEADER: &str = "Jellyfish-Room";
/// The room token of messages that belong to no room.
pub const NO_ROOM: &str = "~";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_list_are_never_said() {
        assert_eq!(
            redacted("nats://alice:s3cret@a:4222, tls://tok3n@b:4222/x,c:4222,user:pw@d:4222"),
            "nats://***@a:4222, tls://***@b:4222/x,c:4222,***@d:4222"
        );
        assert_eq!(redacted("nats://a:4222"), "nats://a:4222");
    }

    #[test]
    fn an_empty_url_list_is_an_error_that_says_what_to_give() {
        for urls in ["", ",", " , "] {
            let error = servers(urls).unwrap_err().to_string();
            assert!(error.contains("no NATS server given"), "{urls:?}: {error}");
        }
        assert_eq!(
            servers(" nats://a:4222 ,,b:4222").unwrap(),
            ["nats://a:4222", "b:4222"]
        );
    }
}
