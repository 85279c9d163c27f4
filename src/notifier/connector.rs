//! Opening one server WebSocket: the TCP connection and upgrade under a timeout, and splitting it
//! into a writer task and a read stream. The reconnect loop lives in the actor; this only opens.

use actix_codec::Framed as CodecFramed;
use awc::BoxedSocket;
use awc::error::{ConnectError, SendRequestError, WsClientError};
use awc::ws;
use futures_util::{SinkExt as _, Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::close::{Disposition, classify_upgrade_status};
use super::config::NotifierConfig;
use super::{DisconnectReason, NotifierError};

/// An open WebSocket.
pub(crate) type Framed = CodecFramed<BoxedSocket, ws::Codec>;

/// Why opening failed.
pub(crate) enum OpenError {
    /// Worth another attempt.
    Retry(DisconnectReason),
    /// Retrying cannot help.
    Fatal(NotifierError),
}

/// Connects and upgrades within the connect timeout.
pub(crate) async fn open(config: NotifierConfig) -> Result<Framed, OpenError> {
    if config.url.starts_with("wss://") && !cfg!(feature = "rustls") {
        return Err(OpenError::Fatal(NotifierError::TlsUnavailable));
    }
    let client = client(&config);
    let request = client
        .ws(config.url.as_str())
        .max_frame_size(config.max_frame_size);
    let timed_out = || OpenError::Retry(DisconnectReason::ConnectTimeout(config.connect_timeout));
    match tokio::time::timeout(config.connect_timeout, request.connect()).await {
        Err(_) => Err(timed_out()),
        Ok(Ok((_response, framed))) => Ok(framed),
        Ok(Err(WsClientError::InvalidResponseStatus(status))) => {
            match classify_upgrade_status(status.as_u16()) {
                Disposition::Fatal(err) => Err(OpenError::Fatal(err)),
                Disposition::Retry => Err(OpenError::Retry(DisconnectReason::UpgradeRefused {
                    status: status.as_u16(),
                })),
            }
        }
        Ok(Err(WsClientError::SendRequest(SendRequestError::Timeout))) => Err(timed_out()),
        Ok(Err(WsClientError::SendRequest(SendRequestError::Connect(ConnectError::Io(err)))))
            if err.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            Err(OpenError::Retry(DisconnectReason::Refused))
        }
        #[cfg(feature = "rustls")]
        Ok(Err(WsClientError::SendRequest(err))) if crate::tls::request_met_plain_text(&err) => {
            Err(OpenError::Fatal(NotifierError::NotTls {
                host: host_of(&config.url),
            }))
        }
        #[cfg(feature = "rustls")]
        Ok(Err(WsClientError::SendRequest(err)))
            if crate::tls::request_certificate_error(&err).is_some() =>
        {
            Err(OpenError::Fatal(NotifierError::Tls {
                host: host_of(&config.url),
                reason: crate::tls::request_certificate_error(&err).unwrap_or_default(),
            }))
        }
        Ok(Err(err)) => Err(OpenError::Retry(DisconnectReason::ConnectFailed(
            err.to_string(),
        ))),
    }
}

/// Splits an open socket into a writer (a channel drained by a task that owns the sink, so a close
/// frame is still flushed after the actor has moved on) and a read stream that ends with `None`.
pub(crate) fn split(
    framed: Framed,
) -> (
    mpsc::UnboundedSender<ws::Message>,
    impl Stream<Item = Option<Result<ws::Frame, actix_http::ws::ProtocolError>>> + 'static,
) {
    let (mut sink, stream) = framed.split();
    let (writer, mut outgoing) = mpsc::unbounded_channel::<ws::Message>();
    actix_web::rt::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let closing = matches!(message, ws::Message::Close(_));
            if let Err(err) = sink.send(message).await {
                tracing::debug!(%err, "WebSocket write failed");
                break;
            }
            if closing {
                break;
            }
        }
        // No `sink.close()`: shutting the socket down here can reset the connection before the
        // server has read the close frame. After a close frame the server answers and closes the
        // TCP connection itself (RFC 6455 §7.1.1); the socket goes with the read half.
    });
    let reader = stream
        .map(Some)
        .chain(futures_util::stream::once(async { None }));
    (writer, reader)
}

/// The host of a URL, for messages.
#[cfg(feature = "rustls")]
fn host_of(url: &str) -> String {
    url.parse::<awc::http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// An HTTP client for one connection attempt, with the TLS configuration when there is one.
fn client(config: &NotifierConfig) -> awc::Client {
    #[cfg(feature = "rustls")]
    if let Some(tls) = &config.tls {
        return awc::Client::builder()
            .timeout(config.connect_timeout)
            .connector(awc::Connector::new().rustls_0_23(std::sync::Arc::clone(tls)))
            .finish();
    }
    awc::Client::builder()
        .timeout(config.connect_timeout)
        .finish()
}
