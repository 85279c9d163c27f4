//! Fault injection: dropped and closed sockets, malformed frames, unknown members, slow frames, and a
//! server restart on the same port.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use jellyfish_notifier::Notification;
use jellyfish_notifier::control::ServerClose;

use crate::emulator::Emulator;
use crate::http;
use crate::record::SentFrame;
use crate::shared::{Outgoing, Shared, lock};

/// What the malformed-frame fault sends: a field key with wire type 7, which no protobuf has.
const MALFORMED: &[u8] = &[0xff, 0xff, 0xff, 0x07];

impl Emulator {
    /// Drops every server WebSocket abruptly: no close frame. Returns how many there were.
    pub fn drop_connections(&self) -> usize {
        self.shared.drop_connections()
    }

    /// Closes every server WebSocket with a code and reason. Returns how many there were.
    pub fn close_connections(&self, code: u16, reason: &str) -> usize {
        self.shared.close_connections(code, reason)
    }

    /// Sends bytes that are not a `ServerMessage` to every authenticated socket.
    pub fn send_malformed(&self) {
        self.shared.send_malformed();
    }

    /// Sends a content member this protocol does not have (`field` > 34) to every socket subscribed
    /// to notifications.
    pub fn send_unknown_member(&self, field: u32) {
        self.shared.push_notification(&Notification::from(
            jellyfish_notifier::notification::UnknownNotification::field(field),
        ));
    }

    /// Delays every frame written from now on by `delay` (zero turns it off).
    pub fn set_frame_delay(&self, delay: Duration) {
        self.shared.set_frame_delay(delay);
    }

    /// Stops listening (dropping every connection), waits `down_for`, and listens again on the same
    /// port with the same rooms. Returns once it is listening again.
    pub async fn restart(&self, down_for: Duration) -> io::Result<()> {
        let running = lock(&self.server).take();
        if let Some(running) = running {
            running.stop().await;
        }
        tokio::time::sleep(down_for).await;
        let mut last_error = None;
        // The old listener's port is normally free at once; retry briefly in case it is not.
        for _ in 0..50 {
            match http::serve(Arc::clone(&self.shared), self.addr) {
                Ok(server) => {
                    *lock(&self.server) = Some(server);
                    return Ok(());
                }
                Err(err) => {
                    last_error = Some(err);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("could not listen again")))
    }
}

impl Shared {
    pub(crate) fn drop_connections(&self) -> usize {
        self.to_every_socket(|| Outgoing::Drop)
    }

    pub(crate) fn close_connections(&self, code: u16, reason: &str) -> usize {
        let close = ServerClose::from_frame(code, reason);
        self.to_every_socket(|| Outgoing::Close(close.clone()))
    }

    pub(crate) fn send_malformed(&self) {
        let bytes = Bytes::from_static(MALFORMED);
        self.broadcast(|_| true, bytes.clone(), SentFrame::Malformed(bytes));
    }

    pub(crate) fn set_frame_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.frame_delay_us.store(micros, Ordering::Relaxed);
    }

    pub(crate) fn frame_delay(&self) -> Duration {
        Duration::from_micros(self.frame_delay_us.load(Ordering::Relaxed))
    }
}
