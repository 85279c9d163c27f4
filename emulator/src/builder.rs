//! [`EmulatorBuilder`]: the emulator's configuration, with the real server's defaults, and how it
//! starts.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use jellyfish_notifier::ApiToken;

use crate::emulator::Emulator;
use crate::shared::{Shared, Sockets, lock};
use crate::tls::TlsIdentity;
use crate::version::ServerVersion;
use crate::world::World;
use crate::{http, metrics, webhooks};

/// Builds and starts an [`Emulator`]: loopback, the real server's defaults, every knob a test needs.
///
/// ```
/// use std::time::Duration;
/// use jellyfish_emulator::{Emulator, ServerVersion};
///
/// actix_web::rt::System::new().block_on(async {
///     let emulator = Emulator::builder()
///         .server_version(ServerVersion::Cloud)
///         .token("my-management-token")
///         .webhook_secret("my-webhook-secret")
///         .ping_interval(Duration::from_secs(1))
///         .start()
///         .await
///         .unwrap();
///     assert!(emulator.http_url().starts_with("http://127.0.0.1:"));
/// });
/// ```
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    pub(crate) bind: SocketAddr,
    pub(crate) token: ApiToken,
    pub(crate) version: ServerVersion,
    pub(crate) ping_interval: Duration,
    pub(crate) receive_timeout: Duration,
    pub(crate) metrics_interval: Duration,
    pub(crate) webhook_secret: Option<ApiToken>,
    pub(crate) webhook_batch: usize,
    pub(crate) webhook_timeout: Duration,
    pub(crate) workers: usize,
    pub(crate) fragment_size: Option<usize>,
    pub(crate) record: bool,
    pub(crate) tls: Option<TlsIdentity>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: ApiToken::new("development"),
            version: ServerVersion::default(),
            ping_interval: Duration::from_secs(30),
            receive_timeout: Duration::from_secs(60),
            metrics_interval: Duration::from_millis(1000),
            webhook_secret: None,
            webhook_batch: 1,
            webhook_timeout: Duration::from_secs(5),
            workers: 1,
            fragment_size: None,
            record: true,
            tls: None,
        }
    }
}

impl Emulator {
    /// A builder with the real server's defaults on a free loopback port.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// Serve `https://` and `wss://` with this certificate chain (DER, the server's first) and
    /// its PKCS#8 private key (DER), as a real server behind TLS does. Tests generate a
    /// self-signed one (for example with `rcgen`) and give its certificate to the client's
    /// `add_root_certificate`.
    pub fn tls(mut self, certificate_chain: Vec<Vec<u8>>, private_key_pkcs8: Vec<u8>) -> Self {
        self.tls = Some(TlsIdentity {
            chain: certificate_chain,
            key: private_key_pkcs8,
        });
        self
    }

    /// Where to listen. Default `127.0.0.1:0` (loopback, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The server API token (WebSocket auth and REST bearer). Default `development`.
    pub fn token(mut self, token: impl Into<ApiToken>) -> Self {
        self.token = token.into();
        self
    }

    /// Which server release to behave as. Default [`ServerVersion::V0_5`].
    pub fn server_version(mut self, version: ServerVersion) -> Self {
        self.version = version;
        self
    }

    /// How often an authenticated socket is pinged (the first ping one interval after auth).
    /// Default 30 s, as the real server.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How long a socket may stay silent (pongs count) before the server drops it. Default 60 s.
    pub fn receive_timeout(mut self, timeout: Duration) -> Self {
        self.receive_timeout = timeout;
        self
    }

    /// How often `metrics_report` goes to METRICS subscribers. Default 1000 ms.
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval;
        self
    }

    /// Sign webhooks as Fishjam Cloud does (`x-fishjam-signature-256: sha256=<hex HMAC-SHA256>`).
    /// The open-source server signs nothing (the default).
    pub fn webhook_secret(mut self, secret: impl Into<ApiToken>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Send up to `max` queued notifications of one URL as one Fishjam Cloud `notification_batch`
    /// (protobuf webhooks only). Default 1: one POST per notification, as the open-source server.
    pub fn webhook_batch(mut self, max: usize) -> Self {
        self.webhook_batch = max.max(1);
        self
    }

    /// How long one webhook POST may take before it counts as failed. Default 5 s.
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// HTTP worker threads. Default 1.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Splits every WebSocket message larger than `size` bytes into continuation frames of that
    /// size (the real server sends one frame per message; this exercises a client's reassembly).
    pub fn fragment_frames(mut self, size: usize) -> Self {
        self.fragment_size = Some(size);
        self
    }

    /// Whether to keep the record of every frame sent (default `true`). Turn it off for long
    /// firehose runs, where the record would grow without bound.
    pub fn record(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Binds and starts serving. Must run inside an actix (or actix-web) runtime.
    pub async fn start(self) -> io::Result<Emulator> {
        let (webhook_tx, webhook_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            token: self.token.clone(),
            world: Mutex::new(World::new(self.version).with_tls(self.tls.is_some())),
            sockets: Mutex::new(Sockets::default()),
            records: Mutex::new(BTreeMap::new()),
            webhook_records: Mutex::new(Vec::new()),
            webhook_tx,
            frame_delay_us: AtomicU64::new(0),
            changed: Notify::new(),
            config: self.clone(),
            address: Mutex::new(String::new()),
            started: Instant::now(),
            sent_by_kind: Mutex::default(),
        });
        webhooks::spawn_sender(&shared, webhook_rx);
        let server = http::serve(Arc::clone(&shared), self.bind)?;
        let addr = server.addr;
        *lock(&shared.address) = addr.to_string();
        let metrics = actix_web::rt::spawn(metrics::run(Arc::clone(&shared)));
        Ok(Emulator {
            shared,
            addr,
            server: Mutex::new(Some(server)),
            metrics,
        })
    }
}
