//! A bare WebSocket client (awc) for driving the emulator without this crate's notifier.

use std::time::Duration;

use awc::ws::{Codec, Frame, Message};
use futures_util::{SinkExt as _, StreamExt as _};
use jellyfish_notifier::codec::{DecodedMessage, decode_server_message};
use jellyfish_notifier::control::{ControlMessage, EventType};

pub type Socket = actix_codec::Framed<awc::BoxedSocket, Codec>;

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Opens `ws://addr/socket/server/websocket`.
pub async fn connect(addr: &str) -> Socket {
    let (_response, socket) = awc::Client::new()
        .ws(format!("ws://{addr}/socket/server/websocket"))
        .max_frame_size(64 << 20)
        .connect()
        .await
        .expect("the WebSocket upgrade succeeds");
    socket
}

pub async fn send(socket: &mut Socket, message: &ControlMessage) {
    socket
        .send(Message::Binary(message.encode().into()))
        .await
        .expect("send");
}

/// The next frame, or `None` when the connection ended; panics if nothing comes in time.
pub async fn next(socket: &mut Socket) -> Option<Frame> {
    match tokio::time::timeout(PATIENCE, socket.next()).await {
        Ok(Some(Ok(frame))) => Some(frame),
        Ok(Some(Err(_))) | Ok(None) => None,
        Err(_) => panic!("no frame within {PATIENCE:?}"),
    }
}

/// The next binary frame decoded, skipping pings; `None` when the connection ended.
pub async fn next_message(socket: &mut Socket) -> Option<DecodedMessage> {
    loop {
        match next(socket).await? {
            Frame::Binary(bytes) => {
                return Some(
                    decode_server_message(&bytes).expect("the emulator sends valid frames"),
                );
            }
            Frame::Ping(_) | Frame::Pong(_) => continue,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

/// Authenticates and subscribes to the given event types, checking every reply.
pub async fn handshake(addr: &str, token: &str, subscriptions: &[EventType]) -> Socket {
    let mut socket = connect(addr).await;
    send(
        &mut socket,
        &ControlMessage::AuthRequest {
            token: token.into(),
        },
    )
    .await;
    assert_eq!(
        next_message(&mut socket).await,
        Some(DecodedMessage::Control(ControlMessage::Authenticated))
    );
    for event_type in subscriptions {
        send(&mut socket, &ControlMessage::SubscribeRequest(*event_type)).await;
        assert_eq!(
            next_message(&mut socket).await,
            Some(DecodedMessage::Control(ControlMessage::SubscribeResponse(
                *event_type
            )))
        );
    }
    socket
}

/// Whether nothing arrives within `wait` (pings aside).
pub async fn silent_for(socket: &mut Socket, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return true,
            Ok(Some(Ok(Frame::Ping(_) | Frame::Pong(_)))) => continue,
            Ok(_) => return false,
        }
    }
}
