//! One webhook POST, how it ended, and what that means for the forwarder.

use std::time::Duration;

use bytes::Bytes;

use crate::control::ApiToken;
use crate::signature::{SIGNATURE_HEADER, sign};
use crate::transport::TransportError;

/// The header carrying each notification's idempotency key (as in the Standard Webhooks
/// specification): the same value on every retry and after a restart from the spool.
pub const IDEMPOTENCY_HEADER: &str = "webhook-id";

/// One webhook POST as Fishjam servers send it: the body with its content type, the
/// `x-fishjam-signature-256` signature when there is a secret, and an idempotency key when the
/// sender retries. The emulator's webhook sender and [`WebhookForwarder`](super::WebhookForwarder) both send through it.
#[derive(Clone)]
pub struct WebhookRequest {
    /// Where to POST.
    pub url: String,
    /// `application/x-protobuf` or `application/json`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
    /// Signs the body when set.
    pub secret: Option<ApiToken>,
    /// Sent as [`IDEMPOTENCY_HEADER`] when set.
    pub idempotency_key: Option<String>,
}

impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("secret", &self.secret)
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

/// How a [`WebhookRequest`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookAnswer {
    /// The target answered (any status), with its `Retry-After` in seconds if it sent one.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After`, when it is a number of seconds.
        retry_after: Option<Duration>,
    },
    /// No answer: refused, reset, timed out, TLS failure.
    Failed(TransportError),
}

impl WebhookRequest {
    /// Sends it with `client` (whose timeout bounds the whole exchange) and reads the answer, so
    /// that the connection can be reused.
    pub async fn send(self, client: &awc::Client) -> WebhookAnswer {
        let mut request = client
            .post(self.url.as_str())
            .insert_header(("content-type", self.content_type));
        if let Some(key) = &self.idempotency_key {
            request = request.insert_header((IDEMPOTENCY_HEADER, key.as_str()));
        }
        if let Some(secret) = &self.secret {
            request = request.insert_header((SIGNATURE_HEADER, sign(secret, &self.body)));
        }
        match request.send_body(self.body).await {
            Ok(mut response) => {
                let _ = response.body().limit(64 * 1024).await;
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                WebhookAnswer::Status {
                    status: response.status().as_u16(),
                    retry_after,
                }
            }
            Err(err) => WebhookAnswer::Failed(TransportError::of_request(err, &self.url).await),
        }
    }
}

/// An HTTP client with this crate's TLS roots (feature `rustls`).
pub(crate) fn http_client(timeout: Duration) -> std::io::Result<awc::Client> {
    #[cfg(feature = "rustls")]
    {
        let tls = crate::tls::ExtraRoots::default()
            .client_config()
            .map_err(std::io::Error::other)?;
        Ok(awc::Client::builder()
            .timeout(timeout)
            .disable_redirects()
            .connector(
                awc::Connector::new()
                    .timeout(crate::transport::connect_part(timeout))
                    .handshake_timeout(crate::transport::connect_part(timeout))
                    .rustls_0_23(tls),
            )
            .finish())
    }
    #[cfg(not(feature = "rustls"))]
    {
        Ok(awc::Client::builder()
            .timeout(timeout)
            .disable_redirects()
            .finish())
    }
}

/// What an answer means for the notification it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// No answer, 408, 429 or 5xx: try again (after `Retry-After` if the target sent one).
    Retry,
    /// Any other status (a 4xx, or a 1xx/3xx: redirects are not followed, since a redirected POST
    /// would lose its body): the target's final word.
    Rejected,
}

impl Verdict {
    pub(crate) fn of(answer: &WebhookAnswer) -> Self {
        match answer {
            WebhookAnswer::Status { status, .. } => match status {
                200..=299 => Self::Delivered,
                408 | 429 | 500..=599 => Self::Retry,
                _ => Self::Rejected,
            },
            WebhookAnswer::Failed(_) => Self::Retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_a_webhook_sender_should() {
        let status = |status| WebhookAnswer::Status {
            status,
            retry_after: None,
        };
        let table: &[(WebhookAnswer, Verdict)] = &[
            (status(200), Verdict::Delivered),
            (status(204), Verdict::Delivered),
            (status(299), Verdict::Delivered),
            (status(408), Verdict::Retry),
            (status(429), Verdict::Retry),
            (status(500), Verdict::Retry),
            (status(503), Verdict::Retry),
            (status(599), Verdict::Retry),
            (status(400), Verdict::Rejected),
            (status(401), Verdict::Rejected),
            (status(404), Verdict::Rejected),
            (status(413), Verdict::Rejected),
            (status(101), Verdict::Rejected),
            (status(301), Verdict::Rejected),
            (status(307), Verdict::Rejected),
            (
                WebhookAnswer::Failed(TransportError::Timeout),
                Verdict::Retry,
            ),
            (
                WebhookAnswer::Failed(TransportError::Connect {
                    detail: "refused".to_owned(),
                }),
                Verdict::Retry,
            ),
        ];
        for (answer, verdict) in table {
            assert_eq!(Verdict::of(answer), *verdict, "{answer:?}");
        }
    }
}
