//! Why an HTTP request got no answer: shared by the Room API client and the webhook forwarder.

use serde::Serialize;

/// Why an HTTP request got no usable answer. Every variant is worth retrying (the other side may
/// come back), except [`TransportError::NoTls`], which needs another build, and
/// [`TransportError::NotTls`], which needs another address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "failure", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportError {
    /// No answer within the client's timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// The other side could not be reached: refused, unknown host, connection timed out.
    #[error("cannot connect: {detail}")]
    Connect {
        /// The HTTP client's words.
        detail: String,
    },
    /// `https://` without TLS support in this build (enable the `rustls` feature). Retrying
    /// cannot help.
    #[error("the address is https:// and this build has no TLS (enable the `rustls` feature)")]
    NoTls,
    /// The address is `https://` but the server answered the TLS handshake in plain text: it does
    /// not speak TLS at that port. Retrying cannot help: use `http://` (or a port with TLS).
    #[error(
        "the server answered the TLS handshake in plain text: it does not speak TLS there; use http:// for it"
    )]
    NotTls,
    /// The address is `https://`; the server took the TCP connection but never answered the TLS
    /// handshake (a plain HTTP server waits for a request line that never comes). Retried, since a
    /// slow TLS server looks the same, but most often it does not speak TLS there.
    #[error(
        "the server took the connection but did not answer the TLS handshake: it may not speak TLS there (use http:// if it serves plain HTTP)"
    )]
    TlsHandshakeUnanswered,
    /// The exchange broke off after connecting: reset, closed, a malformed or cut answer, a TLS
    /// error.
    #[error("the exchange broke off: {detail}")]
    Broken {
        /// The HTTP client's words.
        detail: String,
    },
}

impl From<awc::error::SendRequestError> for TransportError {
    fn from(err: awc::error::SendRequestError) -> Self {
        use awc::error::{ConnectError, SendRequestError};
        match err {
            SendRequestError::Timeout => Self::Timeout,
            SendRequestError::Connect(ConnectError::SslIsNotSupported) => Self::NoTls,
            #[cfg(feature = "rustls")]
            err if crate::tls::request_met_plain_text(&err) => Self::NotTls,
            SendRequestError::Connect(err) => Self::Connect {
                detail: err.to_string(),
            },
            other => Self::Broken {
                detail: other.to_string(),
            },
        }
    }
}

impl TransportError {
    /// What a failed request to `url` says, with one question more for an `https://` request
    /// whose connection timed out: whether the TCP connection itself is made at once. If it is,
    /// the time went by in the TLS handshake, and that is what is said.
    pub(crate) async fn of_request(err: awc::error::SendRequestError, url: &str) -> Self {
        use awc::error::{ConnectError, SendRequestError};
        if matches!(err, SendRequestError::Connect(ConnectError::Timeout))
            && tcp_connects(url).await
        {
            return Self::TlsHandshakeUnanswered;
        }
        Self::from(err)
    }
}

/// How long connecting, and then the TLS handshake, may each take in a request of `timeout`: half
/// of it, at most awc's 5 s. A handshake that goes unanswered then fails as such before the
/// request as a whole times out.
#[cfg(feature = "rustls")]
pub(crate) fn connect_part(timeout: std::time::Duration) -> std::time::Duration {
    (timeout / 2).min(std::time::Duration::from_secs(5))
}

/// Whether a TCP connection to an `https://` URL's host and port is made within a second.
async fn tcp_connects(url: &str) -> bool {
    let Ok(uri) = url.parse::<awc::http::Uri>() else {
        return false;
    };
    let (Some("https" | "wss"), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return false;
    };
    let port = uri.port_u16().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let connect = actix_web::rt::net::TcpStream::connect((host, port));
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), connect).await,
        Ok(Ok(_))
    )
}

impl From<awc::error::PayloadError> for TransportError {
    fn from(err: awc::error::PayloadError) -> Self {
        Self::Broken {
            detail: err.to_string(),
        }
    }
}
