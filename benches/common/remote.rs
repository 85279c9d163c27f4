//! An emulator on a thread of its own (as a real server would be another process), so that the
//! measured thread runs only the client side; the benchmark sends it jobs.

#![allow(dead_code)] // each bench uses what it needs

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix::System;
use futures_util::{SinkExt as _, StreamExt as _};
use jellyfish_emulator::Emulator;
use jellyfish_notifier::ApiToken;
use jellyfish_notifier::control::{ControlMessage, EventType};
use tokio::sync::mpsc;

type Job = Box<dyn FnOnce(Rc<Emulator>) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

pub struct RemoteEmulator {
    /// Its `host:port`.
    pub address: String,
    jobs: mpsc::UnboundedSender<(Job, Option<std::sync::mpsc::Sender<()>>)>,
}

impl RemoteEmulator {
    /// Starts the emulator (records off) on a new thread; jobs run there one after another.
    pub fn start() -> Self {
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (jobs, mut queue) =
            mpsc::unbounded_channel::<(Job, Option<std::sync::mpsc::Sender<()>>)>();
        std::thread::spawn(move || {
            System::new().block_on(async move {
                let emulator = Rc::new(
                    Emulator::builder()
                        .record(false)
                        .start()
                        .await
                        .expect("emulator"),
                );
                address_tx
                    .send(emulator.server_address())
                    .expect("the bench waits");
                while let Some((job, done)) = queue.recv().await {
                    job(Rc::clone(&emulator)).await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            })
        });
        Self {
            address: address_rx.recv().expect("the emulator starts"),
            jobs,
        }
    }

    /// Queues a job and returns at once.
    pub fn spawn<F>(&self, job: impl FnOnce(Rc<Emulator>) -> F + Send + 'static)
    where
        F: Future<Output = ()> + 'static,
    {
        self.send(job, None);
    }

    /// Runs a job and waits until it is done.
    pub fn run<F>(&self, job: impl FnOnce(Rc<Emulator>) -> F + Send + 'static)
    where
        F: Future<Output = ()> + 'static,
    {
        let (done, wait) = std::sync::mpsc::channel();
        self.send(job, Some(done));
        wait.recv().expect("the job ran");
    }

    fn send<F>(
        &self,
        job: impl FnOnce(Rc<Emulator>) -> F + Send + 'static,
        done: Option<std::sync::mpsc::Sender<()>>,
    ) where
        F: Future<Output = ()> + 'static,
    {
        let job: Job = Box::new(move |emulator| Box::pin(job(emulator)));
        self.jobs
            .send((job, done))
            .expect("the emulator thread runs");
    }
}

/// The baseline client: a bare awc WebSocket, authenticated and subscribed to notifications by
/// hand, that the benchmark reads frames from.
pub async fn bare_reader(address: &str) -> actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec> {
    let (_, mut socket) = awc::Client::new()
        .ws(format!("ws://{address}/socket/server/websocket"))
        .connect()
        .await
        .expect("connect");
    for message in [
        ControlMessage::AuthRequest {
            token: ApiToken::new("development"),
        },
        ControlMessage::SubscribeRequest(EventType::ServerNotification),
    ] {
        socket
            .send(awc::ws::Message::Binary(message.encode().into()))
            .await
            .expect("send");
        socket.next().await.expect("an answer").expect("a frame");
    }
    socket
}
