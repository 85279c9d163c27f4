//! The forwarder's disk spool: how fast it takes notifications in, durably (written and synced),
//! beside a bare loop that appends each record and `fdatasync`s it, on the same disk in the same
//! run; and the delivery rate to one target with and without a spool (a fast target, and one that
//! takes 20 ms per request, about 45/s), which the spool must keep at 80 % or more.
//!
//! `cargo bench --bench spool` (a table; `-- --test` runs a quick pass)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use jellyfish_notifier::forward::{Drain, ForwarderStats, GetForwarderStats};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::*;

fn notification(i: usize) -> Notification {
    Notification::from(PeerConnected::new(
        format!("room-{}", i % 100),
        format!("peer-{i:08}"),
    ))
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jellyfish-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The baseline: one file, each record appended and synced before the next, as a spool that syncs
/// every notification on its own would do. Answers records per second.
fn bare_append_and_fsync(dir: &Path, n: usize, record: &[u8]) -> f64 {
    std::fs::create_dir_all(dir).expect("a folder");
    let mut file = std::fs::File::create(dir.join("bare")).expect("a file");
    let started = Instant::now();
    for _ in 0..n {
        file.write_all(record).expect("written");
        file.sync_data().expect("synced");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    rate
}

/// The ceiling of syncing in groups on this disk: records appended back to back, one `fdatasync`
/// per `group`. Answers records per second.
fn bare_append_grouped(dir: &Path, n: usize, record: &[u8], group: usize) -> f64 {
    std::fs::create_dir_all(dir).expect("a folder");
    let mut file = std::fs::File::create(dir.join("bare")).expect("a file");
    let started = Instant::now();
    for i in 0..n {
        file.write_all(record).expect("written");
        if i % group == group - 1 || i == n - 1 {
            file.sync_data().expect("synced");
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(dir);
    rate
}

/// How fast the forwarder's spool takes `n` notifications in, written and synced, while the
/// target is down. Answers notifications per second.
async fn spool_intake(dir: &Path, n: usize) -> f64 {
    let forwarder = WebhookForwarder::builder("http://127.0.0.1:9/nobody-listens")
        .retry(RetryPolicy::default().base(Duration::from_secs(60)))
        .spool(dir, 1 << 30)
        .start()
        .expect("the spool opens");
    let started = Instant::now();
    for i in 0..n {
        forwarder.do_send(notification(i));
    }
    until(&forwarder, |s| s.spooled == n).await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = forwarder
        .send(Drain {
            timeout: Duration::ZERO,
        })
        .await;
    let _ = std::fs::remove_dir_all(dir);
    rate
}

/// Polls the forwarder's counters every millisecond until `done`.
async fn until(forwarder: &Addr<WebhookForwarder>, done: impl Fn(&ForwarderStats) -> bool) {
    loop {
        let stats = forwarder.send(GetForwarderStats).await.expect("running");
        if done(&stats) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Delivers `n` notifications handed over at once (a burst) to `url`, with a spool in `dir` or
/// none. Answers deliveries per second, from the first notification to the last 2xx.
async fn delivery(url: &str, spool: Option<&Path>, n: usize) -> f64 {
    let mut builder = WebhookForwarder::builder(url);
    if let Some(dir) = spool {
        builder = builder.spool(dir, 1 << 30);
    }
    let forwarder = builder.start().expect("starts");
    let started = Instant::now();
    for i in 0..n {
        forwarder.do_send(notification(i));
    }
    until(&forwarder, |s| s.delivered == n as u64).await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = forwarder
        .send(Drain {
            timeout: Duration::ZERO,
        })
        .await;
    if let Some(dir) = spool {
        let _ = std::fs::remove_dir_all(dir);
    }
    rate
}

/// The target, on a thread of its own with one worker: `/fast` answers at once, `/slow` after
/// 20 ms.
fn serve() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new()
                    .route(
                        "/fast",
                        web::post().to(|| async { HttpResponse::Ok().finish() }),
                    )
                    .route(
                        "/slow",
                        web::post().to(|| async {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            HttpResponse::Ok().finish()
                        }),
                    )
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(server.addrs()[0]).expect("the bench waits");
            server.run().await
        })
    });
    rx.recv().expect("the target starts")
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let (intake_n, fast_n, slow_n) = if quick {
        (200, 200, 10)
    } else {
        (20_000, 20_000, 300)
    };
    let record = vec![0x5a; 24 + notification(0).encode().expect("encodes").len()];
    let addr = serve();
    System::new().block_on(async move {
        println!("spool: on {}", std::env::temp_dir().display());
        println!("{:<58} {:>14} {:>9}", "what", "per second", "ratio");
        let bare = bare_append_and_fsync(&fresh("bare"), intake_n / 10, &record);
        println!(
            "{:<58} {:>14.0} {:>8.2}×",
            format!(
                "bare append + fdatasync per record ({} B, baseline)",
                record.len()
            ),
            bare,
            1.0
        );
        let grouped = bare_append_grouped(&fresh("grouped"), intake_n, &record, 4096);
        println!(
            "{:<58} {:>14.0} {:>8.2}×",
            "bare append, one fdatasync per 4 096 records",
            grouped,
            grouped / bare
        );
        let intake = spool_intake(&fresh("intake"), intake_n).await;
        println!(
            "{:<58} {:>14.0} {:>8.2}×",
            "spool intake, written and synced (target down)",
            intake,
            intake / bare
        );
        for (target, n) in [("fast", fast_n), ("slow", slow_n)] {
            let url = format!("http://{addr}/{target}");
            // A warm-up: the connection, the caches.
            delivery(&url, None, n / 10 + 1).await;
            let without = delivery(&url, None, n).await;
            let with = delivery(&url, Some(&fresh(target)), n).await;
            let label = if target == "fast" {
                "a target that answers at once"
            } else {
                "a target that takes 20 ms"
            };
            println!(
                "{:<58} {:>14.0} {:>8.2}×",
                format!("delivery to {label}, no spool (baseline)"),
                without,
                1.0
            );
            println!(
                "{:<58} {:>14.0} {:>8.2}×",
                format!("delivery to {label}, with a spool"),
                with,
                with / without
            );
        }
    });
}
