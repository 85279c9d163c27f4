//! `--metrics-listen` on every daemon command: each scraped, its counters checked against what the
//! command did, `/readyz` 503 while the server is away and 200 once it is back, `/healthz` 200;
//! and `--log-format json`.

mod support;
#[allow(dead_code)]
#[path = "../../tests/common/target.rs"]
mod target;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jellyfish_emulator::Emulator;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;
use serde_json::json;
use support::{Running, cli, free_port, get, sample, until_status};

/// The lines a child writes to stdout, collected by a thread of its own.
fn stdout_lines(child: &mut Running) -> Arc<Mutex<Vec<String>>> {
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    lines
}

/// Starts `args` with `--metrics-listen` on a free port; answers the child and the port, once
/// `/healthz` answers.
async fn daemon(args: &[&str], stdout: Stdio) -> (Running, u16) {
    let port = free_port();
    let child = Running(
        cli()
            .args(args)
            .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    until_status(port, "/healthz", 200, Duration::from_secs(10)).await;
    (child, port)
}

/// The server goes away for 3 s: `/readyz` turns 503 with `reason` in its body, then 200 again.
async fn ready_follows_the_server(emulator: &Emulator, port: u16, reason: &str) {
    until_status(port, "/readyz", 200, Duration::from_secs(10)).await;
    let restart = emulator.restart(Duration::from_secs(3));
    let watch = async {
        let body = until_status(port, "/readyz", 503, Duration::from_secs(3)).await;
        assert!(body.contains(reason), "{body}");
    };
    let (restarted, ()) = tokio::join!(restart, watch);
    restarted.unwrap();
    until_status(port, "/readyz", 200, Duration::from_secs(15)).await;
    assert_eq!(get(port, "/healthz").await.map(|(s, _)| s), Some(200));
}

fn create_room(emulator: &Emulator, room: &str) {
    emulator.create_room(&json!({ "roomId": room })).unwrap();
}

#[actix_web::test]
async fn tail_counts_by_kind_what_it_printed_and_is_ready_only_while_connected() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (mut tail, port) = daemon(
        &["tail", "--json", "--server", &emulator.server_address()],
        Stdio::piped(),
    )
    .await;
    let printed = stdout_lines(&mut tail);
    until_status(port, "/readyz", 200, Duration::from_secs(10)).await;
    for room in ["a", "b", "c"] {
        create_room(&emulator, room);
    }
    let peer = emulator.add_peer("a").unwrap().peer.id;
    emulator.connect_peer("a", &peer).unwrap();
    emulator.delete_room("b").unwrap();
    let wait = std::time::Instant::now();
    while printed.lock().unwrap().len() < 6 && wait.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = printed.lock().unwrap().clone();
    let mut by_kind = std::collections::BTreeMap::<String, f64>::new();
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        *by_kind
            .entry(value["type"].as_str().unwrap().to_owned())
            .or_default() += 1.0;
    }
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let (_, scrape) = get(port, "/metrics").await.unwrap();
    for (kind, count) in &by_kind {
        let name = format!("jellyfish_notifier_notifications_total{{kind=\"{kind}\"}}");
        assert_eq!(sample(&scrape, &name), Some(*count), "{name} in\n{scrape}");
    }
    assert_eq!(
        sample(
            &scrape,
            "jellyfish_notifier_notifications_total{kind=\"track_added\"}"
        ),
        Some(0.0),
        "every known kind is there from the start"
    );
    assert_eq!(sample(&scrape, "jellyfish_notifier_connected"), Some(1.0));
    assert_eq!(
        sample(&scrape, "jellyfish_notifier_connections_total"),
        Some(1.0)
    );

    ready_follows_the_server(&emulator, port, "not connected to ws://").await;
    let (_, scrape) = get(port, "/metrics").await.unwrap();
    assert_eq!(
        sample(&scrape, "jellyfish_notifier_connections_total"),
        Some(2.0)
    );
    assert_eq!(
        sample(&scrape, "jellyfish_notifier_gap_seconds_count"),
        Some(1.0)
    );
    assert!(
        scrape
            .lines()
            .any(|l| l.starts_with("jellyfish_notifier_disconnects_total{reason=")),
        "{scrape}"
    );
}

#[actix_web::test]
async fn forward_counts_what_the_target_received_and_is_ready_only_while_connected() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut target = target::Target::new();
    target.up();
    let (_forward, port) = daemon(
        &[
            "forward",
            "--server",
            &emulator.server_address(),
            "--to",
            &target.url(),
        ],
        Stdio::null(),
    )
    .await;
    until_status(port, "/readyz", 200, Duration::from_secs(10)).await;
    for i in 0..5 {
        create_room(&emulator, &format!("f{i}"));
    }
    let wait = std::time::Instant::now();
    while target.posts().len() < 5 && wait.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = target.posts().len() as f64;
    assert_eq!(received, 5.0);
    let (_, scrape) = get(port, "/metrics").await.unwrap();
    assert_eq!(
        sample(&scrape, "jellyfish_forward_delivered_total"),
        Some(received)
    );
    assert_eq!(
        sample(&scrape, "jellyfish_forward_delivery_seconds_count"),
        Some(received)
    );
    assert_eq!(sample(&scrape, "jellyfish_forward_queue_depth"), Some(0.0));
    assert_eq!(
        sample(&scrape, "jellyfish_forward_retries_total"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "jellyfish_notifier_notifications_total{kind=\"room_created\"}"
        ),
        Some(5.0)
    );
    ready_follows_the_server(&emulator, port, "not connected to ws://").await;
}

#[actix_web::test]
async fn rooms_shows_the_views_rooms_and_peers_and_is_ready_only_while_synced() {
    let emulator = Emulator::builder().start().await.unwrap();
    create_room(&emulator, "r1");
    create_room(&emulator, "r2");
    emulator.add_peer("r1").unwrap();
    emulator.add_peer("r1").unwrap();
    let (_rooms, port) = daemon(
        &["rooms", "--json", "--server", &emulator.server_address()],
        Stdio::null(),
    )
    .await;
    until_status(port, "/readyz", 200, Duration::from_secs(10)).await;
    create_room(&emulator, "r3");
    let wait = std::time::Instant::now();
    let mut scrape = String::new();
    while wait.elapsed() < Duration::from_secs(10) {
        scrape = get(port, "/metrics").await.unwrap().1;
        // A new room is fetched over REST: the view says it is not synced until the answer.
        if sample(&scrape, "jellyfish_rooms_view_rooms") == Some(3.0)
            && sample(&scrape, "jellyfish_rooms_view_synced") == Some(1.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        sample(&scrape, "jellyfish_rooms_view_rooms"),
        Some(3.0),
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "jellyfish_rooms_view_peers"), Some(2.0));
    assert_eq!(sample(&scrape, "jellyfish_rooms_view_synced"), Some(1.0));
    assert_eq!(
        sample(
            &scrape,
            "jellyfish_rooms_view_resyncs_total{reason=\"start\"}"
        ),
        Some(1.0)
    );
    ready_follows_the_server(&emulator, port, "not").await;
    let (_, scrape) = get(port, "/metrics").await.unwrap();
    assert_eq!(
        sample(
            &scrape,
            "jellyfish_rooms_view_resyncs_total{reason=\"gap\"}"
        ),
        Some(1.0),
        "{scrape}"
    );
}

#[actix_web::test]
async fn webhook_counts_requests_by_status_and_notifications_by_kind() {
    let listen = free_port();
    let (_webhook, port) = daemon(
        &["webhook", "--listen", &format!("127.0.0.1:{listen}")],
        Stdio::null(),
    )
    .await;
    assert_eq!(get(port, "/readyz").await.map(|(s, _)| s), Some(200));
    let client = awc::Client::default();
    let url = format!("http://127.0.0.1:{listen}/hook");
    for room in ["w1", "w2", "w3"] {
        let body = Notification::from(RoomCreated::new(room)).encode().unwrap();
        let status = client
            .post(&url)
            .content_type("application/x-protobuf")
            .send_body(body)
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let status = client
        .post(&url)
        .content_type("text/plain")
        .send_body("hello")
        .await
        .unwrap()
        .status();
    assert_eq!(status, 415);
    let (_, scrape) = get(port, "/metrics").await.unwrap();
    assert_eq!(
        sample(&scrape, "jellyfish_webhook_requests_total{status=\"200\"}"),
        Some(3.0)
    );
    assert_eq!(
        sample(&scrape, "jellyfish_webhook_requests_total{status=\"415\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "jellyfish_webhook_notifications_total{kind=\"room_created\"}"
        ),
        Some(3.0)
    );
}

#[actix_web::test]
async fn emulate_counts_the_notifications_it_sent_and_its_clients() {
    let server = free_port();
    let (_emulate, port) = daemon(&["emulate", "--port", &server.to_string()], Stdio::null()).await;
    let notifier = WsNotifier::builder(format!("127.0.0.1:{server}"), "development").start();
    notifier.send(WaitReady).await.unwrap().unwrap();
    let status = awc::Client::default()
        .post(format!("http://127.0.0.1:{server}/room"))
        .bearer_auth("development")
        .send_json(&json!({"roomId": "e1"}))
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    let (_, scrape) = get(port, "/metrics").await.unwrap();
    assert_eq!(
        sample(
            &scrape,
            "jellyfish_emulator_notifications_sent_total{kind=\"room_created\"}"
        ),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "jellyfish_emulator_clients"), Some(1.0));
}

#[actix_web::test]
async fn log_format_json_writes_one_object_per_line_with_the_same_message() {
    let port = free_port(); // nothing listens there
    let output = cli()
        .args([
            "tail",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .args(["--metrics-listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let mut child = Running(
        cli()
            .args([
                "tail",
                "--server",
                &format!("127.0.0.1:{port}"),
                "--log-format",
                "json",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let line = actix_web::rt::task::spawn_blocking(move || {
        BufReader::new(stderr).lines().next().unwrap().unwrap()
    })
    .await
    .unwrap();
    let object: serde_json::Value = serde_json::from_str(&line).expect("a JSON object");
    let message = object["fields"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "cannot reach ws://127.0.0.1:{port}/socket/server/websocket: connection refused"
        )),
        "the text line's words: {message}"
    );
    assert!(
        object["timestamp"].is_string() && object["level"].is_string(),
        "{object}"
    );
}
