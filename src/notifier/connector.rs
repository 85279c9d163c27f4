//! Opening one server WebSocket: the TCP connection and upgrade under a timeout, and splitting it
//! into a writer task and a read stream. The reconnect loop lives in the actor; this only opens.

use actix_codec::Framed as CodecFramed;
use awc::BoxedSocket;
use awc::error::WsClientError;
use awc::ws;
use futures_util::{SinkExt as _, Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::NotifierError;
use super::close::{Disposition, classify_upgrade_status};
use super::config::NotifierConfig;

/// An open WebSocket.
pub(crate) type Framed = CodecFramed<BoxedSocket, ws::Codec>;

/// Why opening failed.
pub(crate) enum OpenError {
    /// Worth another attempt; the text says what happened.
    Retry(String),
    /// Retrying cannot help.
    Fatal(NotifierError),
}

/// Connects and upgrades within the connect timeout.
pub(crate) async fn open(config: NotifierConfig) -> Result<Framed, OpenError> {
    if config.url.starts_with("wss://") && !cfg!(feature = "rustls") {
        return Err(OpenError::Fatal(NotifierError::TlsUnavailable));
    }
    let client = awc::Client::builder()
        .timeout(config.connect_timeout)
        .finish();
    let request = client
        .ws(config.url.as_str())
        .max_frame_size(config.max_frame_size);
    match tokio::time::timeout(config.connect_timeout, request.connect()).await {
        Err(_) => Err(OpenError::Retry(format!(
            "connecting took longer than {:?}",
            config.connect_timeout
        ))),
        Ok(Ok((_response, framed))) => Ok(framed),
        Ok(Err(WsClientError::InvalidResponseStatus(status))) => {
            match classify_upgrade_status(status.as_u16()) {
                Disposition::Fatal(err) => Err(OpenError::Fatal(err)),
                Disposition::Retry => Err(OpenError::Retry(format!(
                    "the server answered the upgrade with HTTP {status}"
                ))),
            }
        }
        Ok(Err(WsClientError::SendRequest(awc::error::SendRequestError::Timeout))) => {
            Err(OpenError::Retry(format!(
                "connecting took longer than {:?}",
                config.connect_timeout
            )))
        }
        Ok(Err(err)) => Err(OpenError::Retry(format!("could not connect: {err}"))),
    }
}

/// Splits an open socket into a writer (a channel drained by a task that owns the sink, so a close
/// frame is still flushed after the actor has moved on) and a read stream that ends with `None`.
pub(crate) fn split(
    framed: Framed,
    generation: u64,
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
                tracing::debug!(generation, %err, "WebSocket write failed");
                break;
            }
            if closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let reader = stream
        .map(Some)
        .chain(futures_util::stream::once(async { None }));
    (writer, reader)
}
