//! Webhook ingest: requests per second and latency of an actix-web route using the `Webhook`
//! extractor, beside a bare route that only reads the body (`web::Bytes`), in the same run, on the
//! same server, under the same load.
//!
//! The server runs one worker on a thread of its own; the load generator runs on another thread with
//! a fixed number of concurrent keep-alive connections, each posting real protobuf webhook bodies
//! (one notification, or a Fishjam Cloud batch of ten) back to back for a fixed time.
//!
//! `cargo bench --bench webhook` (a table; `-- --test` runs a quick pass)

use std::hint::black_box;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use jellyfish_notifier::codec::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;

/// Concurrent connections of the load generator.
const CONCURRENCY: usize = 16;

async fn extractor(notifications: Webhook) -> HttpResponse {
    black_box(notifications.len());
    HttpResponse::Ok().finish()
}

async fn bare(body: web::Bytes) -> HttpResponse {
    black_box(body.len());
    HttpResponse::Ok().finish()
}

/// The server, on a thread of its own with one worker; answers its address.
fn serve() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new()
                    .route("/extractor", web::post().to(extractor))
                    .route("/bare", web::post().to(bare))
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(server.addrs()[0]).expect("the bench waits");
            server.run().await
        })
    });
    rx.recv().expect("the server starts")
}

/// Posts `body` to `url` from `CONCURRENCY` connections for `duration`, on a thread of its own;
/// answers every request's latency in nanoseconds.
fn load(url: String, body: Vec<u8>, duration: Duration) -> Vec<u64> {
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish();
            let body = web::Bytes::from(body);
            let deadline = Instant::now() + duration;
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|_| {
                    let (client, url, body) = (client.clone(), url.clone(), body.clone());
                    actix_web::rt::spawn(async move {
                        let mut latencies = Vec::new();
                        while Instant::now() < deadline {
                            let start = Instant::now();
                            let mut response = client
                                .post(url.as_str())
                                .content_type("application/x-protobuf")
                                .send_body(body.clone())
                                .await
                                .expect("the server answers");
                            assert!(response.status().is_success(), "{}", response.status());
                            let _ = response.body().await;
                            latencies.push(start.elapsed().as_nanos() as u64);
                        }
                        latencies
                    })
                })
                .collect();
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.expect("a load task"));
            }
            all
        })
    })
    .join()
    .expect("the load thread")
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    Duration::from_nanos(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let duration = if quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(5)
    };
    let addr = serve();
    let track = |i: usize| {
        Notification::from(TrackAdded::new(
            format!("9f6e1c2a-5b1d-4c8e-9a7f-2d3b4c5d6e{i:02}"),
            Endpoint::Peer("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
            Track::new(
                "0a1b2c3d:video",
                TrackType::Video,
                r#"{"source":"camera","label":"Zoë's camera"}"#,
            ),
        ))
    };
    let single = track(0).encode().expect("encodes");
    let batch = encode_batch(&(0..10).map(track).collect::<Vec<_>>()).expect("encodes");
    println!(
        "webhook ingest: {CONCURRENCY} keep-alive connections, {:?} per run, one server worker",
        duration
    );
    println!(
        "{:<36} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "route, body", "requests/s", "p50", "p99", "p99.9", "rate ×"
    );
    // Optionally another server on the same load (what a user would otherwise pick; see
    // benches/python/webhook_app.py): one notification per request, as the official SDK decodes one.
    if let Ok(url) = std::env::var("WEBHOOK_BENCH_EXTRA_URL") {
        load(url.clone(), single.clone(), duration / 5);
        let bare = load(format!("http://{addr}/bare"), single.clone(), duration).len();
        let mut latencies = load(url.clone(), single.clone(), duration);
        latencies.sort_unstable();
        let rate = latencies.len() as f64 / duration.as_secs_f64();
        println!(
            "{:<36} {:>10.0} {:>10.1?} {:>10.1?} {:>10.1?} {:>8.2}×",
            format!("{url}, one notification"),
            rate,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 0.999),
            rate / (bare as f64 / duration.as_secs_f64()),
        );
    }
    for (what, body) in [("one notification", &single), ("a batch of 10", &batch)] {
        // Warm up both routes (connections, caches) before measuring.
        for route in ["bare", "extractor"] {
            load(format!("http://{addr}/{route}"), body.clone(), duration / 5);
        }
        let mut bare_rate = 0.0;
        for (route, label) in [
            ("bare", "bare web::Bytes route (baseline)"),
            ("extractor", "Webhook extractor"),
        ] {
            let mut latencies = load(format!("http://{addr}/{route}"), body.clone(), duration);
            latencies.sort_unstable();
            let rate = latencies.len() as f64 / duration.as_secs_f64();
            if route == "bare" {
                bare_rate = rate;
            }
            println!(
                "{:<36} {:>10.0} {:>10.1?} {:>10.1?} {:>10.1?} {:>8.2}×",
                format!("{label}, {what} ({} B)", body.len()),
                rate,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                percentile(&latencies, 0.999),
                rate / bare_rate,
            );
        }
    }
}
