//! The notifier's configuration: the server URL, timeouts, reconnect policy and delivery policy.

use std::time::Duration;

use actix::Recipient;

use super::stream::{self, StreamSender};
use super::{ConnectionEvent, NotificationStream, NotifierError, SubscriptionId, WsNotifier};
use crate::address::{AddressError, FishjamIdAddress, ServerAddress};
use crate::control::ApiToken;
use crate::notification::{MetricsReport, Notification};
use crate::retry::RetryPolicy;

/// What the notifier does when a subscriber's mailbox is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryPolicy {
    /// Queue beyond the mailbox capacity: nothing is ever dropped, and a slow subscriber's queue
    /// grows while it catches up. The default.
    #[default]
    Unbounded,
    /// Drop the notification for that subscriber only, count it, and report it with
    /// [`ConnectionEvent::NotificationsDropped`](crate::ConnectionEvent::NotificationsDropped).
    /// "Full" is the subscriber actor's own mailbox capacity (actix's default is 16), so a burst larger
    /// than that fills it even for a quick subscriber on the notifier's thread: set it with
    /// `ctx.set_mailbox_capacity(n)` to the burst you are willing to queue.
    DropWhenFull,
}

/// Everything [`WsNotifier`] needs to run, built with [`WsNotifierBuilder`].
#[derive(Clone, Debug)]
pub(crate) struct NotifierConfig {
    pub(crate) url: String,
    /// Set when the address was a bare word taken as a Fishjam ID: final errors say so.
    pub(crate) fishjam_id: Option<FishjamIdAddress>,
    pub(crate) token: ApiToken,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) auth_timeout: Duration,
    pub(crate) subscribe_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) delivery: DeliveryPolicy,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<super::metrics::NotifierMetrics>,
    /// The TLS client configuration (webpki roots plus the added ones), made at start.
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Subscribers given to the builder: in place before the actor starts, so they see its very first
/// [`ConnectionEvent::Connecting`] and everything after.
#[derive(Default)]
pub(crate) struct InitialSubscribers {
    pub(crate) notifications: Vec<(SubscriptionId, Recipient<Notification>)>,
    pub(crate) notification_streams: Vec<(SubscriptionId, StreamSender<Notification>)>,
    pub(crate) metrics: Vec<(SubscriptionId, Recipient<MetricsReport>)>,
    pub(crate) events: Vec<(SubscriptionId, Recipient<ConnectionEvent>)>,
    /// The last id given out; the notifier numbers on from it.
    pub(crate) last_id: u64,
}

impl InitialSubscribers {
    fn next_id(&mut self) -> SubscriptionId {
        self.last_id += 1;
        SubscriptionId(self.last_id)
    }
}

/// Configures and starts a [`WsNotifier`].
///
/// ```no_run
/// use std::time::Duration;
/// use actix::prelude::*;
/// use jellyfish_notifier::{ConnectionEvent, WsNotifier};
/// use jellyfish_notifier::retry::RetryPolicy;
///
/// struct Log;
/// impl Actor for Log {
///     type Context = Context<Self>;
/// }
/// impl Handler<ConnectionEvent> for Log {
///     type Result = ();
///     fn handle(&mut self, event: ConnectionEvent, _: &mut Context<Self>) {
///         println!("{event:?}");
///     }
/// }
///
/// # #[actix::main] async fn main() {
/// let (builder, notifications) = WsNotifier::builder("localhost:5002", "development")
///     .retry(RetryPolicy::default().cap(Duration::from_secs(10)))
///     .idle_timeout(Duration::from_secs(20))
///     // Subscribed before the start: sees the very first `Connecting`.
///     .subscribe_connection_events(Log.start().recipient())
///     .notification_stream(1024);
/// let notifier = builder.start();
/// # }
/// ```
pub struct WsNotifierBuilder {
    address: String,
    secure: bool,
    config: NotifierConfig,
    initial: InitialSubscribers,
    #[cfg(feature = "rustls")]
    roots: crate::tls::ExtraRoots,
}

impl std::fmt::Debug for WsNotifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsNotifierBuilder")
            .field("address", &self.address)
            .field("secure", &self.secure)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WsNotifierBuilder {
    pub(crate) fn new(server_address: impl Into<String>, token: impl Into<ApiToken>) -> Self {
        Self {
            address: server_address.into(),
            secure: false,
            config: NotifierConfig {
                url: String::new(),
                fishjam_id: None,
                token: token.into(),
                retry: RetryPolicy::default(),
                connect_timeout: Duration::from_secs(10),
                auth_timeout: Duration::from_secs(5),
                subscribe_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(25),
                ping_interval: Duration::from_secs(10),
                close_timeout: Duration::from_secs(2),
                max_frame_size: 16 << 20,
                max_message_size: 64 << 20,
                delivery: DeliveryPolicy::Unbounded,
                #[cfg(feature = "metrics")]
                metrics: None,
                #[cfg(feature = "rustls")]
                tls: None,
            },
            #[cfg(feature = "rustls")]
            roots: crate::tls::ExtraRoots::default(),
            initial: InitialSubscribers::default(),
        }
    }

    /// Subscribes an actor to every server notification from the start (as
    /// [`SubscribeServerNotifications`](crate::SubscribeServerNotifications) does later). The
    /// subscription lasts as long as the actor.
    pub fn subscribe_notifications(mut self, recipient: Recipient<Notification>) -> Self {
        let id = self.initial.next_id();
        self.initial.notifications.push((id, recipient));
        self
    }

    /// Subscribes an actor to the metrics reports from the start.
    pub fn subscribe_metrics(mut self, recipient: Recipient<MetricsReport>) -> Self {
        let id = self.initial.next_id();
        self.initial.metrics.push((id, recipient));
        self
    }

    /// Subscribes an actor to [`ConnectionEvent`]s from the start, so it sees the first
    /// `Connecting` and `Ready`.
    pub fn subscribe_connection_events(mut self, recipient: Recipient<ConnectionEvent>) -> Self {
        let id = self.initial.next_id();
        self.initial.events.push((id, recipient));
        self
    }

    /// A bounded [`NotificationStream`] of every server notification from the start, for code that
    /// is not an actor (see [`MessageStream`](crate::notifier::MessageStream)). Answers the builder
    /// with the stream, so the chain goes on by value.
    pub fn notification_stream(mut self, capacity: usize) -> (Self, NotificationStream) {
        let id = self.initial.next_id();
        let (sender, stream) = stream::channel(id, capacity);
        self.initial.notification_streams.push((id, sender));
        (self, stream)
    }

    /// Use `wss://` for a `host:port` address (a full URL's scheme wins). Default `false`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Trusts this root certificate (DER) for `wss://`, besides the webpki roots: a private CA, or
    /// a test server's self-signed certificate. Feature `rustls`.
    #[cfg(feature = "rustls")]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.add(der.into());
        self
    }

    /// How the notifier reconnects. Default: [`RetryPolicy::default`], which retries for ever and
    /// starts the count over once a connection stayed up 2 s
    /// ([`RetryPolicy::reset_after`]): a server that accepts connections and drops them sooner
    /// (crash-looping) gets the same growing, jittered delays as one that is down.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// How long the TCP connection and WebSocket upgrade may take. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long the server may take to answer `auth_request`. Default 5 s.
    pub fn auth_timeout(mut self, timeout: Duration) -> Self {
        self.config.auth_timeout = timeout;
        self
    }

    /// How long the server may take to confirm the subscriptions. Default 5 s.
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.config.subscribe_timeout = timeout;
        self
    }

    /// Silence longer than this means the link is dead, and the notifier reconnects. The notifier
    /// pings the server itself every [`ping_interval`](Self::ping_interval) (and the server
    /// answers every ping), so with the defaults, 25 s and 10 s, a half-open link is noticed
    /// within about 25 s while two lost pongs in a row are tolerated.
    ///
    /// Silence is counted from the last byte received, and never across a pause of the process
    /// itself (a stopped process, a blocked actor thread, a laptop lid): after a pause the frames
    /// waiting in the socket are read and delivered before the link is judged.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How often the notifier pings the server to prove the link alive. Default 10 s; keep it
    /// well under the idle timeout.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval;
        self
    }

    /// How long [`Shutdown`](crate::Shutdown) waits for the server to answer the close frame.
    /// Default 2 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// The largest single WebSocket frame accepted, and the largest message reassembled from
    /// continuation frames (metrics reports of big servers are large). Default 16 MiB and 64 MiB.
    pub fn max_frame_size(mut self, frame: usize, message: usize) -> Self {
        self.config.max_frame_size = frame;
        self.config.max_message_size = message.max(frame);
        self
    }

    /// What to do when a subscriber's mailbox is full. Default [`DeliveryPolicy::Unbounded`].
    pub fn delivery(mut self, policy: DeliveryPolicy) -> Self {
        self.config.delivery = policy;
        self
    }

    /// Counts into these Prometheus metrics (feature `metrics`): notifications by kind, the
    /// connection's state, disconnects by reason, gaps, drops.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: super::metrics::NotifierMetrics) -> Self {
        self.config.metrics = Some(metrics);
        self
    }

    /// Starts the notifier in the current actix `System`.
    ///
    /// # Panics
    ///
    /// Outside an actix `System` (use `#[actix::main]`, `#[actix_web::main]` or `System::new()`),
    /// or if the address cannot be parsed; [`WsNotifierBuilder::try_start`] returns those as errors.
    pub fn start(self) -> actix::Addr<WsNotifier> {
        match self.try_start() {
            Ok(addr) => addr,
            Err(err) => panic!("WsNotifier::start: {err}"),
        }
    }

    /// Starts the notifier, or says why it cannot.
    pub fn try_start(self) -> Result<actix::Addr<WsNotifier>, NotifierError> {
        let mut config = self.config;
        let address = ServerAddress::parse(&self.address, self.secure)?;
        config.url = address.websocket_url();
        config.fishjam_id = address.as_fishjam_id();
        #[cfg(feature = "rustls")]
        if config.url.starts_with("wss://") {
            let tls = self.roots.client_config().map_err(|reason| {
                config.noted(NotifierError::Tls {
                    host: String::new(),
                    reason,
                })
            })?;
            config.tls = Some(tls);
        }
        if actix::System::try_current().is_none() {
            return Err(NotifierError::NoSystem);
        }
        Ok(actix::Actor::start(WsNotifier::new(config, self.initial)))
    }
}

/// The server WebSocket URL for an address as the official SDKs take it (`host:port`, plus the
/// `secure` flag) or a full base URL (`ws://`, `wss://`, `http://`, `https://`), whose path prefix is
/// kept (Fishjam Cloud serves under `…/api/v1/connect/{id}`).
///
/// ```
/// use jellyfish_notifier::notifier::server_websocket_url;
///
/// assert_eq!(server_websocket_url("localhost:5002", false).unwrap(), "ws://localhost:5002/socket/server/websocket");
/// assert_eq!(
///     server_websocket_url("https://fishjam.io/api/v1/connect/abc/", false).unwrap(),
///     "wss://fishjam.io/api/v1/connect/abc/socket/server/websocket"
/// );
/// ```
pub fn server_websocket_url(
    address: impl Into<String>,
    secure: bool,
) -> Result<String, AddressError> {
    let address = ServerAddress::parse(&address.into(), secure)?;
    Ok(address.websocket_url())
}

impl NotifierConfig {
    /// `error`, with the note that the address was taken as a Fishjam ID if it was (errors that
    /// are not about the server need none).
    pub(crate) fn noted(&self, error: NotifierError) -> NotifierError {
        match (&self.fishjam_id, error) {
            (
                _,
                error @ (NotifierError::Shutdown
                | NotifierError::NoSystem
                | NotifierError::InvalidAddress(_)
                | NotifierError::AtFishjamId { .. }),
            ) => error,
            (Some(address), error) => NotifierError::AtFishjamId {
                address: address.clone(),
                error: Box::new(error),
            },
            (None, error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_server_websocket_urls() {
        let table: &[(&str, bool, &str)] = &[
            (
                "localhost:5002",
                false,
                "ws://localhost:5002/socket/server/websocket",
            ),
            (
                "localhost:5002",
                true,
                "wss://localhost:5002/socket/server/websocket",
            ),
            (
                "127.0.0.1:8080/",
                false,
                "ws://127.0.0.1:8080/socket/server/websocket",
            ),
            (
                "[::1]:5002",
                false,
                "ws://[::1]:5002/socket/server/websocket",
            ),
            ("ws://h:1", true, "ws://h:1/socket/server/websocket"),
            ("wss://h", false, "wss://h/socket/server/websocket"),
            (
                "http://h:5002",
                false,
                "ws://h:5002/socket/server/websocket",
            ),
            ("HTTPS://h", false, "wss://h/socket/server/websocket"),
            (
                "https://fishjam.io/api/v1/connect/abc",
                false,
                "wss://fishjam.io/api/v1/connect/abc/socket/server/websocket",
            ),
            (
                "ws://h:1/prefix/socket/server/websocket",
                false,
                "ws://h:1/prefix/socket/server/websocket",
            ),
        ];
        for (address, secure, url) in table {
            assert_eq!(
                server_websocket_url(*address, *secure).as_deref(),
                Ok(*url),
                "{address}"
            );
        }
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        for (address, needle) in [
            ("ftp://h", "scheme"),
            ("", "no host"),
            ("ws:///path", "no host"),
            ("user:pw@h:1", "credentials"),
            ("h:1/?x=1", "query"),
            ("h:notaport", "\"h:notaport\""),
        ] {
            let err = server_websocket_url(address, false)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{address}: {err}");
        }
    }
}
