//! One server WebSocket, as the real server runs it: auth first, then subscriptions, pings every
//! interval after auth, a receive timeout, and the real close codes and reasons.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_ws::{CloseCode, CloseReason, Item, Message, MessageStream, Session};
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at, sleep, sleep_until};

use crate::record::{ConnectionRecord, SentFrame};
use crate::shared::{Outgoing, Shared, SocketEntry, lock};
use jellyfish_notifier::codec::{DecodedMessage, decode_server_message};
use jellyfish_notifier::control::{ControlMessage, EventType, ServerClose};

/// Client frames are tiny; anything larger is not a client of this protocol.
const MAX_CLIENT_FRAME: usize = 64 * 1024;

/// How a connection ends.
enum End {
    /// Close with this frame (a handshake refusal, or as a fault injection asked).
    Close(ServerClose),
    /// Drop without a close frame (the real server's socket process crashing, a receive timeout, or
    /// a fault injection).
    Drop,
    /// The client closed or went away.
    ClientGone(Option<CloseReason>),
}

/// What the socket has reached in the handshake.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingAuth,
    Authenticated,
}

pub(super) async fn run(shared: Arc<Shared>, mut session: Session, stream: MessageStream) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let id = {
        let mut sockets = lock(&shared.sockets);
        sockets.next_id += 1;
        let id = sockets.next_id;
        sockets.open.insert(
            id,
            SocketEntry {
                tx,
                queued: Arc::clone(&queued),
                authenticated: false,
                notifications: false,
                metrics: false,
            },
        );
        id
    };
    // Removes the socket even if its task is dropped mid-flight (a server restart stops the worker
    // runtime without running the code after the loop).
    let _registered = Registered {
        shared: Arc::clone(&shared),
        id,
    };
    if shared.config.record {
        lock(&shared.records).insert(
            id,
            ConnectionRecord {
                id,
                ..ConnectionRecord::default()
            },
        );
    }
    shared.changed.notify_waiters();
    tracing::info!(
        connection = id,
        "New incoming server WebSocket connection, accepting"
    );

    let mut stream = stream.max_frame_size(MAX_CLIENT_FRAME);
    let timeout = shared.config.receive_timeout;
    let mut deadline = Instant::now() + timeout;
    let mut phase = Phase::AwaitingAuth;
    let mut pings: Option<Interval> = None;

    let end = loop {
        tokio::select! {
            outgoing = rx.recv() => match outgoing {
                Some(Outgoing::Frame { bytes, record }) => {
                    queued.fetch_sub(1, Ordering::Relaxed);
                    let delay = shared.frame_delay();
                    if !delay.is_zero() {
                        sleep(delay).await;
                    }
                    if write(&mut session, bytes, shared.config.fragment_size).await.is_err() {
                        break End::ClientGone(None);
                    }
                    shared.record(id, record);
                }
                Some(Outgoing::Close(close)) => break End::Close(close),
                Some(Outgoing::Drop) | None => break End::Drop,
            },
            message = stream.next() => {
                deadline = Instant::now() + timeout;
                let message = match message {
                    None => break End::ClientGone(None),
                    Some(Err(err)) => {
                        tracing::debug!(connection = id, %err, "WebSocket protocol error");
                        break End::Drop;
                    }
                    Some(Ok(message)) => message,
                };
                match message {
                    Message::Ping(payload) => {
                        if session.pong(&payload).await.is_err() {
                            break End::ClientGone(None);
                        }
                    }
                    Message::Pong(_) | Message::Nop => {}
                    Message::Close(reason) => break End::ClientGone(reason),
                    other => {
                        if let Some(end) = handle(&shared, id, &mut session, &mut phase, other).await {
                            break end;
                        }
                        if phase == Phase::Authenticated && pings.is_none() {
                            let period = shared.config.ping_interval;
                            let mut interval = interval_at(Instant::now() + period, period);
                            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                            pings = Some(interval);
                        }
                    }
                }
            },
            _ = tick(&mut pings) => {
                if session.ping(b"").await.is_err() {
                    break End::ClientGone(None);
                }
                shared.record(id, SentFrame::Ping);
            },
            () = sleep_until(deadline) => {
                tracing::info!(connection = id, timeout_ms = timeout.as_millis() as u64, "server WebSocket received nothing in time, dropping it");
                break End::Drop;
            },
        }
    };

    lock(&shared.sockets).open.remove(&id);
    shared.changed.notify_waiters();
    match end {
        End::Close(frame) => close(&shared, id, session, &frame).await,
        End::Drop => {
            // Dropping the session and the stream ends the response: the TCP connection closes
            // without a WebSocket close frame.
            shared.record(id, SentFrame::Dropped);
        }
        End::ClientGone(Some(reason)) => {
            // The client closed: echo its close frame, as the protocol (and the real server) does.
            let code = u16::from(reason.code);
            let description = reason.description.clone().unwrap_or_default();
            shared.record_client_close(id, code);
            let echoed = session.close(Some(reason)).await.is_ok();
            shared.record(
                id,
                if echoed {
                    SentFrame::Close {
                        code,
                        reason: description,
                    }
                } else {
                    SentFrame::Dropped
                },
            );
        }
        End::ClientGone(None) => {
            let _ = session.close(None).await;
            shared.record(id, SentFrame::Dropped);
        }
    }
}

/// Unregisters a socket when its task ends, however it ends.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.shared.sockets).open.remove(&self.id);
        let ended = lock(&self.shared.records)
            .get(&self.id)
            .is_none_or(|record| record.ended);
        if !ended {
            self.shared.record(self.id, SentFrame::Dropped);
        }
        self.shared.changed.notify_waiters();
    }
}

async fn tick(pings: &mut Option<Interval>) {
    match pings {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn close(shared: &Shared, id: u64, session: Session, frame: &ServerClose) {
    let _ = session
        .close(Some(CloseReason {
            code: CloseCode::from(frame.code()),
            description: Some(frame.reason().to_owned()),
        }))
        .await;
    shared.record(
        id,
        SentFrame::Close {
            code: frame.code(),
            reason: frame.reason().to_owned(),
        },
    );
}

/// Writes one binary message, split into continuation frames when it is larger than `fragment`.
async fn write(
    session: &mut Session,
    bytes: Bytes,
    fragment: Option<usize>,
) -> Result<(), actix_ws::Closed> {
    let Some(size) = fragment.filter(|size| *size > 0 && bytes.len() > *size) else {
        return session.binary(bytes).await;
    };
    let mut chunks = bytes.chunks(size).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let chunk = bytes.slice_ref(chunk);
        let item = match (first, chunks.peek().is_none()) {
            (true, _) => Item::FirstBinary(chunk),
            (false, true) => Item::Last(chunk),
            (false, false) => Item::Continue(chunk),
        };
        first = false;
        session.continuation(item).await?;
    }
    Ok(())
}

/// Handles a data frame; returns how the connection ends, if it does.
async fn handle(
    shared: &Shared,
    id: u64,
    session: &mut Session,
    phase: &mut Phase,
    message: Message,
) -> Option<End> {
    let decoded = match &message {
        Message::Binary(bytes) => Some(decode_server_message(bytes)),
        _ => None,
    };
    match *phase {
        Phase::AwaitingAuth => match decoded {
            Some(Ok(DecodedMessage::Control(ControlMessage::AuthRequest { token }))) => {
                if !shared.token.matches(token.expose()) {
                    tracing::warn!(
                        connection = id,
                        "Authentication failed, reason: invalid token."
                    );
                    return Some(End::Close(ServerClose::InvalidToken));
                }
                let reply = ControlMessage::Authenticated.encode();
                if session.binary(reply).await.is_err() {
                    return Some(End::ClientGone(None));
                }
                shared.record(id, SentFrame::Authenticated);
                if let Some(entry) = lock(&shared.sockets).open.get_mut(&id) {
                    entry.authenticated = true;
                }
                shared.changed.notify_waiters();
                *phase = Phase::Authenticated;
                tracing::info!(connection = id, "Server WS authenticated.");
                None
            }
            _ => {
                tracing::warn!(
                    connection = id,
                    "Authentication failed, reason: invalid auth request."
                );
                Some(End::Close(ServerClose::InvalidAuthRequest))
            }
        },
        Phase::Authenticated => match decoded {
            Some(Ok(DecodedMessage::Control(ControlMessage::SubscribeRequest(event_type)))) => {
                subscribe(shared, id, session, event_type).await
            }
            // The real server's socket process crashes on bytes it cannot decode.
            Some(Err(err)) => {
                tracing::error!(connection = id, %err, "server WebSocket process crashed on an undecodable frame");
                Some(End::Drop)
            }
            _ => Some(End::Close(ServerClose::OperationNotAllowed)),
        },
    }
}

async fn subscribe(
    shared: &Shared,
    id: u64,
    session: &mut Session,
    event_type: EventType,
) -> Option<End> {
    let cloud = shared.config.version.is_cloud();
    let known = match event_type {
        EventType::ServerNotification => true,
        // Fishjam Cloud removed metrics: `EVENT_TYPE_METRICS` is an unknown value there.
        EventType::Metrics => !cloud,
        _ => false,
    };
    if !known {
        // The real server's socket process crashes on an event type it does not handle
        // (EVENT_TYPE_UNSPECIFIED, and METRICS on Fishjam Cloud): the link just drops.
        tracing::error!(connection = id, %event_type, "server WebSocket process crashed on an invalid subscription");
        return Some(End::Drop);
    }
    // The reply is written before the flag is set, so no notification can precede it.
    let reply = ControlMessage::SubscribeResponse(event_type).encode();
    if session.binary(reply).await.is_err() {
        return Some(End::ClientGone(None));
    }
    shared.record(id, SentFrame::SubscribeResponse(event_type));
    {
        let mut sockets = lock(&shared.sockets);
        if let Some(entry) = sockets.open.get_mut(&id) {
            match event_type {
                EventType::Metrics => entry.metrics = true,
                _ => entry.notifications = true,
            }
            if event_type != EventType::Metrics {
                sockets.notification_subscriptions += 1;
            }
        }
    }
    shared.changed.notify_waiters();
    None
}
