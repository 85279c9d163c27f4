//! Webhook abuse against a real actix-web server using the extractor: bodies at and over the limit,
//! a slow-loris upload, wrong and missing content types, forged signatures, a batch of ten thousand
//! items, deeply nested JSON. Each gets the right answer, and the server stays up for the next.
//!
//! `cargo test --test webhook_abuse -- --nocapture` prints the table quoted in RELIABILITY.md.

use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::stream;
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::webhook::*;

async fn count(notifications: Webhook) -> HttpResponse {
    HttpResponse::Ok().body(notifications.len().to_string())
}

const LIMIT: usize = 256 * 1024;
const SECRET: &str = "abuse-secret";

async fn server(signed: bool) -> String {
    let server = HttpServer::new(move || {
        let config = WebhookConfig::default().read_timeout(Duration::from_millis(500));
        let config = if signed {
            config.secret(SECRET)
        } else {
            config
        };
        App::new()
            .app_data(config)
            .default_service(web::post().to(count))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/webhook", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    url
}

fn batch(items: usize) -> Vec<u8> {
    let notifications: Vec<Notification> = (0..items)
        .map(|i| RoomCreated::new(format!("r{i}")).into())
        .collect();
    encode_batch(&notifications).unwrap()
}

/// A protobuf `room_created` body of exactly `size` bytes (the id is the size less a few bytes of
/// tags and length prefixes).
fn body_of_size(size: usize) -> Vec<u8> {
    (size.saturating_sub(12)..size)
        .map(|len| {
            Notification::from(RoomCreated::new("x".repeat(len)))
                .encode()
                .unwrap()
        })
        .find(|bytes| bytes.len() == size)
        .expect("a reachable size")
}

/// A slow-loris over raw TCP: headers promising 100 bytes, then one byte every 50 ms. Returns the
/// status line's code.
async fn slow_loris(url: &str) -> Result<u16, String> {
    use std::io::{Read as _, Write as _};
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(&authority).map_err(|e| e.to_string())?;
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: {authority}\r\ncontent-type: application/x-protobuf\r\ncontent-length: 100\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        for _ in 0..100 {
            // The server may answer (and close) before the body is complete.
            let mut buf = [0u8; 1024];
            match socket.read(&mut buf) {
                Ok(n) if n > 0 => {
                    answer.extend_from_slice(&buf[..n]);
                    break;
                }
                _ => {}
            }
            if socket.write_all(b"R").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        socket.set_nonblocking(false).map_err(|e| e.to_string())?;
        if answer.is_empty() {
            let _ = socket.read_to_end(&mut answer);
        }
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or(format!("no status in {text:?}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

struct Case {
    name: &'static str,
    expected: u16,
}

#[actix_web::test]
async fn abusive_webhooks_get_the_right_4xx_and_the_server_stays_up() {
    let plain = server(false).await;
    let signed = server(true).await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish();
    let healthy_body = Notification::from(RoomCreated::new("ok")).encode().unwrap();
    let mut table = Vec::new();

    macro_rules! case {
        ($name:expr, $expected:expr, $request:expr) => {{
            let case = Case {
                name: $name,
                expected: $expected,
            };
            let started = Instant::now();
            let response = $request.await;
            let elapsed = started.elapsed();
            let mut response = response;
            let status = response.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            let text = match response.as_mut() {
                Ok(r) => String::from_utf8_lossy(&r.body().await.unwrap_or_default()).into_owned(),
                Err(err) => err.to_string(),
            };
            eprintln!("{}: {status} in {elapsed:?}: {text}", case.name);
            assert_eq!(status, case.expected, "{}: {text}", case.name);
            // The server is still up and still right.
            let after = client
                .post(&plain)
                .content_type("application/x-protobuf")
                .send_body(healthy_body.clone())
                .await;
            assert_eq!(
                after.map(|r| r.status().as_u16()).ok(),
                Some(200),
                "{}: server still up",
                case.name
            );
            table.push((case.name, status, elapsed));
        }};
    }

    let post = |url: &str, content_type: &str| {
        client
            .post(url)
            .insert_header(("content-type", content_type.to_owned()))
    };
    let protobuf = "application/x-protobuf";

    case!(
        "body exactly at the 256 KiB limit",
        200,
        post(&plain, protobuf).send_body(body_of_size(LIMIT))
    );
    case!(
        "body one byte over the limit",
        413,
        post(&plain, protobuf).send_body(body_of_size(LIMIT + 1))
    );
    case!(
        "16 MiB body declared in Content-Length",
        413,
        post(&plain, protobuf).send_body(vec![0u8; 16 << 20])
    );
    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0x52u8; 64 * 1024])));
    case!(
        "4 MiB chunked body, no Content-Length",
        413,
        post(&plain, protobuf).send_stream(stream::iter(chunks))
    );
    let started = Instant::now();
    let status = slow_loris(&plain)
        .await
        .unwrap_or_else(|err| panic!("slow-loris: {err}"));
    assert_eq!(status, 408, "slow-loris");
    table.push((
        "slow-loris: 100 bytes promised, 1 byte every 50 ms",
        status,
        started.elapsed(),
    ));
    case!(
        "wrong content type (text/plain)",
        415,
        post(&plain, "text/plain").send_body(healthy_body.clone())
    );
    case!(
        "missing content type",
        415,
        client.post(&plain).send_body(healthy_body.clone())
    );
    case!(
        "garbage protobuf",
        400,
        post(&plain, protobuf).send_body(vec![0xff; 1000])
    );
    case!(
        "control message instead of a notification",
        400,
        post(&plain, protobuf).send_body(ControlMessage::Authenticated.encode())
    );
    case!(
        "missing signature",
        401,
        post(&signed, protobuf).send_body(healthy_body.clone())
    );
    let forged = sign_webhook("not-the-secret", &healthy_body);
    case!(
        "forged signature",
        401,
        post(&signed, protobuf)
            .insert_header((SIGNATURE_HEADER, forged))
            .send_body(healthy_body.clone())
    );
    let replayed = sign_webhook(SECRET, b"another body");
    case!(
        "signature of another body",
        401,
        post(&signed, protobuf)
            .insert_header((SIGNATURE_HEADER, replayed))
            .send_body(healthy_body.clone())
    );
    let good = sign_webhook(SECRET, &healthy_body);
    case!(
        "valid signature",
        200,
        post(&signed, protobuf)
            .insert_header((SIGNATURE_HEADER, good))
            .send_body(healthy_body.clone())
    );
    let big_batch = batch(10_000);
    assert!(big_batch.len() < LIMIT);
    case!(
        "batch of 10 000 notifications (within the limit)",
        200,
        post(&plain, protobuf).send_body(big_batch)
    );
    let nested = "[".repeat(200_000) + &"]".repeat(30_000);
    case!(
        "deeply nested JSON (200 000 levels)",
        400,
        post(&plain, "application/json").send_body(nested)
    );
    let wide: Vec<serde_json::Value> = (0..5_000)
        .map(|i| serde_json::json!({"type": "room_created", "room_id": format!("r{i}")}))
        .collect();
    case!(
        "JSON array of 5 000 notifications (within the limit)",
        200,
        post(&plain, "application/json").send_body(serde_json::to_vec(&wide).unwrap())
    );

    println!("| abuse | status | time |");
    println!("|---|---|---|");
    for (name, status, elapsed) in &table {
        println!(
            "| {name} | {status} | {:.1} ms |",
            elapsed.as_secs_f64() * 1000.0
        );
    }
}
