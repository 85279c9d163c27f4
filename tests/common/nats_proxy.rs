//! A TCP proxy between a NATS client and `nats-server` that loses one publish on its way: the
//! first `PUB`/`HPUB` whose bytes hold a marker is not forwarded, and everything else is, in
//! order, both ways. A publish lost while the ones after it arrive, as a node's death or a stream
//! leader's change loses one.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

pub struct LosingProxy {
    pub addr: SocketAddr,
    lost: Arc<AtomicBool>,
}

impl LosingProxy {
    /// Listens on `127.0.0.1:0`, forwards every connection to `upstream`, and loses the first
    /// publish holding `marker`.
    pub async fn start(upstream: SocketAddr, marker: &'static [u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lost = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&lost);
        actix_web::rt::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, mut client_write) = client.into_split();
                let (mut server_read, server_write) = server.into_split();
                let flag = Arc::clone(&flag);
                actix_web::rt::spawn(publishes(client_read, server_write, marker, flag));
                actix_web::rt::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
            }
        });
        Self { addr, lost }
    }

    /// `nats://` this proxy.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Whether the publish was lost yet.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

/// Client to server, protocol line by protocol line: a publish is forwarded whole, or lost whole.
async fn publishes(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    marker: &'static [u8],
    lost: Arc<AtomicBool>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        let mut forward = Vec::with_capacity(pending.len());
        while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line = &pending[..end];
            let whole = if line.starts_with(b"PUB ") || line.starts_with(b"HPUB ") {
                let size: usize = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.split(' ').next_back()?.parse().ok())
                    .expect("a publish line ends with its size");
                let whole = end + 2 + size + 2;
                if pending.len() < whole {
                    break; // the rest of it is still on its way
                }
                whole
            } else {
                end + 2
            };
            let frame: Vec<u8> = pending.drain(..whole).collect();
            let publish = frame.starts_with(b"PUB ") || frame.starts_with(b"HPUB ");
            if publish
                && frame.windows(marker.len()).any(|w| w == marker)
                && !lost.swap(true, Ordering::SeqCst)
            {
                continue; // lost on its way
            }
            forward.extend_from_slice(&frame);
        }
        if to.write_all(&forward).await.is_err() {
            return;
        }
    }
}
