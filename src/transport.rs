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

impl From<awc::error::PayloadError> for TransportError {
    fn from(err: awc::error::PayloadError) -> Self {
        Self::Broken {
            detail: err.to_string(),
        }
    }
}
