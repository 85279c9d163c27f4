//! The actix-web extractor for the server's webhook POSTs: [`Webhook`], configured with
//! [`WebhookConfig`], failing with [`WebhookError`].
//!
//! It decodes into the same [`Notification`] values the WebSocket notifier delivers, so a handler can
//! `do_send` them to the very actors that subscribe to the notifier.
//!
//! **This is the route for what a real server sends**: protobuf bodies (Jellyfish 0.4+, Fishjam),
//! Fishjam Cloud batches, the Jellyfish 0.3 JSON envelope, and this crate's own JSON shape, told
//! apart by content type. The plain alternatives each take one shape only:
//! `web::Json<`[`JsonWebhook`](crate::codec::JsonWebhook)`>` the 0.3 envelope, and
//! `web::Json<`[`Notification`]`>` this crate's JSON shape (what `jellyfish-notify forward --format
//! json` sends), which no server sends.
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, post, web};
//! use jellyfish_notifier::{Webhook, WebhookConfig};
//!
//! #[post("/webhook")]
//! async fn webhook(notifications: Webhook) -> HttpResponse {
//!     for notification in notifications.iter() {
//!         println!("Received a notification: {notification:?}");
//!     }
//!     HttpResponse::Ok().finish()
//! }
//!
//! # #[actix_web::main] async fn main() -> std::io::Result<()> {
//! HttpServer::new(|| {
//!     App::new()
//!         .app_data(WebhookConfig::default().limit(64 * 1024))
//!         .service(webhook)
//! })
//! .bind(("127.0.0.1", 5003))?
//! .run()
//! .await
//! # }
//! ```

#[cfg(feature = "metrics")]
pub(crate) mod metrics;

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;

use crate::codec::{DecodeError, receive_binary, receive_json_body};
use crate::control::ApiToken;
use crate::notification::Notification;
pub use crate::signature::{SIGNATURE_HEADER, sign_webhook, verify_webhook_signature};

/// The notifications of one webhook POST, in order (a Fishjam Cloud batch gives several).
///
/// Derefs to `Vec<Notification>`; [`Webhook::into_inner`] takes them. As an extractor it answers a
/// bad body itself (400, 413, 415, or 401 for a bad signature) with a message saying what was
/// wrong; configure it with [`WebhookConfig`] in the app data.
///
/// ```
/// use actix::prelude::*;
/// use actix_web::{HttpResponse, web};
/// use jellyfish_notifier::{Notification, Webhook};
///
/// /// Hands each notification to the same actor that a `WsNotifier` feeds.
/// async fn webhook(notifications: Webhook, app: web::Data<Recipient<Notification>>) -> HttpResponse {
///     for notification in notifications {
///         app.do_send(notification);
///     }
///     HttpResponse::Ok().finish()
/// }
///
/// let route = web::post().to(webhook);
/// # let _ = route;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook(pub Vec<Notification>);

impl Webhook {
    /// The notifications.
    pub fn into_inner(self) -> Vec<Notification> {
        self.0
    }
}

impl Deref for Webhook {
    type Target = Vec<Notification>;
    fn deref(&self) -> &Vec<Notification> {
        &self.0
    }
}

impl IntoIterator for Webhook {
    type Item = Notification;
    type IntoIter = std::vec::IntoIter<Notification>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

type ErrorHandler = Arc<dyn Fn(WebhookError, &HttpRequest) -> actix_web::Error + Send + Sync>;

/// How [`Webhook`] reads a request, found in `app_data` as `WebhookConfig` or
/// `web::Data<WebhookConfig>` (the route's own first, then the app's), or the defaults.
///
/// ```
/// use actix_web::{HttpResponse, ResponseError as _, error};
/// use jellyfish_notifier::WebhookConfig;
///
/// let config = WebhookConfig::default()
///     .limit(1 << 20)
///     .accept_json(false)
///     .secret("my-fishjam-webhook-secret")
///     .error_handler(|err, _req| {
///         let status = err.status_code();
///         error::InternalError::from_response(err, HttpResponse::build(status).body("nope")).into()
///     });
/// ```
#[derive(Clone)]
pub struct WebhookConfig {
    limit: usize,
    protobuf: bool,
    json: bool,
    secret: Option<ApiToken>,
    read_timeout: Duration,
    error_handler: Option<ErrorHandler>,
    #[cfg(feature = "metrics")]
    metrics: Option<metrics::WebhookMetrics>,
}

/// 256 KiB, both formats, no signature, 30 s to read the body.
const DEFAULT_CONFIG: WebhookConfig = WebhookConfig {
    limit: 256 * 1024,
    protobuf: true,
    json: true,
    secret: None,
    read_timeout: Duration::from_secs(30),
    error_handler: None,
    #[cfg(feature = "metrics")]
    metrics: None,
};

impl Default for WebhookConfig {
    fn default() -> Self {
        DEFAULT_CONFIG
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("limit", &self.limit)
            .field("protobuf", &self.protobuf)
            .field("json", &self.json)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("read_timeout", &self.read_timeout)
            .field("error_handler", &self.error_handler.is_some())
            .finish()
    }
}

impl WebhookConfig {
    /// The largest body accepted, in bytes (default 256 KiB). Larger ones get 413, whether or not
    /// they declare a `Content-Length`.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Accept `application/x-protobuf` / `application/protobuf` bodies (v0.4+). Default on.
    pub fn accept_protobuf(mut self, accept: bool) -> Self {
        self.protobuf = accept;
        self
    }

    /// Accept `application/json` bodies (the v0.3.0 envelope and this crate's JSON shape). Default
    /// on.
    pub fn accept_json(mut self, accept: bool) -> Self {
        self.json = accept;
        self
    }

    /// Require a valid Fishjam Cloud `x-fishjam-signature-256` made with this secret; a missing or
    /// wrong one gets 401. Default: no check (the open-source server signs nothing).
    pub fn secret(mut self, secret: impl Into<ApiToken>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// How long reading the body may take before the request gets 408 (a slow-loris upload).
    /// Default 30 s.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Turns every extraction error into the response of your choice.
    pub fn error_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(WebhookError, &HttpRequest) -> actix_web::Error + Send + Sync + 'static,
    {
        self.error_handler = Some(Arc::new(handler));
        self
    }

    /// Counts the notifications received, by kind, into these Prometheus metrics (feature
    /// `metrics`). Count your route's answers with
    /// [`WebhookMetrics::answered`](crate::metrics::WebhookMetrics::answered), in a middleware
    /// (every status, refusals included) or in the route.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, metrics: metrics::WebhookMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn from_request(req: &HttpRequest) -> &Self {
        req.app_data::<Self>()
            .or_else(|| req.app_data::<web::Data<Self>>().map(|data| data.as_ref()))
            .unwrap_or(&DEFAULT_CONFIG)
    }
}

/// Why a webhook request was refused. Each maps to the status a sender can act on; none is a 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The body is larger than the configured limit (413).
    #[error("the webhook body is larger than the {limit}-byte limit")]
    Overflow {
        /// The configured limit.
        limit: usize,
    },
    /// The `Content-Type` is missing or not an accepted format (415).
    #[error("unsupported content type {0:?}: expected application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    /// Reading the body failed (400).
    #[error("could not read the webhook body: {0}")]
    Payload(#[from] actix_web::error::PayloadError),
    /// The body did not arrive within the read timeout (408).
    #[error("the webhook body did not arrive within {0:?}")]
    Timeout(Duration),
    /// A secret is configured and the request has no `x-fishjam-signature-256` (401).
    #[error("the x-fishjam-signature-256 header is missing")]
    MissingSignature,
    /// The signature does not match the body (401).
    #[error("the x-fishjam-signature-256 signature does not match the body")]
    InvalidSignature,
    /// The body is not notifications (400), including a control message or a metrics report.
    #[error("{0}")]
    Decode(#[from] DecodeError),
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Overflow { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::MissingSignature | Self::InvalidSignature => StatusCode::UNAUTHORIZED,
            Self::Payload(_) | Self::Decode(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl FromRequest for Webhook {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = WebhookConfig::from_request(req).clone();
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            match extract(&req, payload, &config).await {
                Ok(notifications) => {
                    #[cfg(feature = "metrics")]
                    if let Some(metrics) = &config.metrics {
                        metrics.received(&notifications);
                    }
                    Ok(Webhook(notifications))
                }
                Err(err) => {
                    tracing::debug!(%err, path = req.path(), "webhook refused");
                    Err(match &config.error_handler {
                        Some(handler) => handler(err, &req),
                        None => err.into(),
                    })
                }
            }
        })
    }
}

fn format_of(req: &HttpRequest, config: &WebhookConfig) -> Result<Format, WebhookError> {
    let header = req.headers().get(CONTENT_TYPE);
    // Compared in place (no allocation on the accepted path); the header is copied only to say
    // what was refused.
    let essence = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    if config.protobuf && (is("application/x-protobuf") || is("application/protobuf")) {
        Ok(Format::Protobuf)
    } else if config.json && is("application/json") {
        Ok(Format::Json)
    } else {
        Err(WebhookError::UnsupportedContentType(
            header
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default(),
        ))
    }
}

async fn extract(
    req: &HttpRequest,
    mut payload: Payload,
    config: &WebhookConfig,
) -> Result<Vec<Notification>, WebhookError> {
    let format = format_of(req, config)?;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > config.limit) {
        return Err(WebhookError::Overflow {
            limit: config.limit,
        });
    }
    let read = async {
        // A body that arrives in one chunk (the usual case) is kept as it is, without a copy.
        let mut first: Option<Bytes> = None;
        let mut more: Option<BytesMut> = None;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            let so_far =
                more.as_ref().map_or(0, BytesMut::len) + first.as_ref().map_or(0, Bytes::len);
            if so_far + chunk.len() > config.limit {
                return Err(WebhookError::Overflow {
                    limit: config.limit,
                });
            }
            match (&mut first, &mut more) {
                (None, None) => first = Some(chunk),
                (_, Some(body)) => body.extend_from_slice(&chunk),
                (Some(_), None) => {
                    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(config.limit));
                    body.extend_from_slice(&first.take().unwrap_or_default());
                    body.extend_from_slice(&chunk);
                    more = Some(body);
                }
            }
        }
        Ok(more.map_or_else(|| first.unwrap_or_default(), BytesMut::freeze))
    };
    let body = tokio::time::timeout(config.read_timeout, read)
        .await
        .map_err(|_| WebhookError::Timeout(config.read_timeout))??;
    if let Some(secret) = &config.secret {
        let signature = req
            .headers()
            .get(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature)?;
        let signature = signature
            .to_str()
            .map_err(|_| WebhookError::InvalidSignature)?;
        if !crate::signature::verify(secret, &body, signature) {
            return Err(WebhookError::InvalidSignature);
        }
    }
    Ok(match format {
        Format::Protobuf => receive_binary(&body)?,
        Format::Json => receive_json_body(&body)?,
    })
}
