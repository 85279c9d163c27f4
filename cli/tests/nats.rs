//! `bridge` and `webhook --nats` against a real `nats-server` (Debian's package). Ignored by a plain
//! `cargo test`; `.ci/run` installs nats-server and runs them with `--ignored`.

#[path = "../../tests/common/nats_server.rs"]
mod nats_server;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jellyfish_emulator::{Emulator, LifecycleConfig};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;
use nats_server::NatsServer;
use support::{Running, cli};

async fn until(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn decoded(messages: &[async_nats::jetstream::message::StreamMessage]) -> Vec<Notification> {
    messages
        .iter()
        .flat_map(|m| receive_binary(&m.payload).expect("a notification"))
        .collect()
}

fn terminate(child: &Running) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
}

async fn exit_code(child: &mut Running) -> Option<i32> {
    for _ in 0..300 {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[actix_web::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn bridge_publishes_a_lifecycle_into_the_stream_and_stops_cleanly() {
    let nats = NatsServer::start();
    let emulator = Emulator::builder().start().await.unwrap();
    let mut child = Running(
        cli()
            .args([
                "bridge",
                "--server",
                &emulator.server_address(),
                "--nats",
                &nats.url(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(
        emulator
            .wait_until(Duration::from_secs(10), |e| e.socket_counts().notifications
                == 1)
            .await,
        "the bridge subscribed"
    );
    emulator
        .run_lifecycle(&LifecycleConfig {
            rate: 400.0,
            ..LifecycleConfig::default()
        })
        .await
        .unwrap();
    let sent: Vec<Notification> = emulator.connection_records()[0]
        .notifications()
        .cloned()
        .collect();
    until(
        "the stream holds the lifecycle",
        Duration::from_secs(10),
        async || nats.messages().await.len() == sent.len(),
    )
    .await;
    assert_eq!(decoded(&nats.messages().await), sent, "once each, in order");
    terminate(&child);
    assert_eq!(
        exit_code(&mut child).await,
        Some(0),
        "SIGTERM is a normal stop"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains(&format!("published {} (0 already stored", sent.len())),
        "{stderr}"
    );
}

async fn delete_stream(nats: &NatsServer) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    async_nats::jetstream::new(client)
        .delete_stream(nats::DEFAULT_STREAM)
        .await
        .unwrap();
}

fn stderr_of(child: &mut Running) -> String {
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    stderr
}

/// An operator deletes the stream: `bridge` creates it again and says so, and what arrives after
/// is stored; with `--no-recreate-stream` it stops at once, saying why, with exit 1.
#[actix_web::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn bridge_says_a_deleted_stream_is_created_again_or_stops_when_told_not_to() {
    let nats = NatsServer::start();
    let emulator = Emulator::builder().start().await.unwrap();
    let bridge = |extra: &[&str]| {
        Running(
            cli()
                .args(["bridge", "--server", &emulator.server_address()])
                .args(["--nats", &nats.url()])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let mut child = bridge(&[]);
    assert!(
        emulator
            .wait_until(Duration::from_secs(10), |e| e.socket_counts().notifications
                == 1)
            .await
    );
    let create = |room: &str| {
        emulator
            .create_room(&serde_json::json!({"roomId": room}))
            .unwrap();
    };
    create("before");
    until("stored", Duration::from_secs(10), async || {
        nats.messages().await.len() == 1
    })
    .await;
    delete_stream(&nats).await;
    for room in ["after-1", "after-2"] {
        create(room);
    }
    until(
        "stored in the new stream",
        Duration::from_secs(15),
        async || nats.messages().await.len() == 2,
    )
    .await;
    terminate(&child);
    assert_eq!(exit_code(&mut child).await, Some(0));
    let stderr = stderr_of(&mut child);
    assert!(
        stderr.contains("NATS: the stream JELLYFISH was gone (deleted, or nats-server restarted without its store): created it again with this bridge's settings")
            && stderr.contains("published 3 (0 already stored by another bridge), 0 retries, 0 dropped, 0 left unpublished"),
        "{stderr}"
    );

    let since = emulator.socket_counts().notification_subscriptions;
    let mut child = bridge(&["--no-recreate-stream"]);
    assert!(
        emulator
            .wait_until(Duration::from_secs(10), |e| {
                let counts = e.socket_counts();
                counts.notification_subscriptions > since && counts.notifications == 1
            })
            .await
    );
    delete_stream(&nats).await;
    create("lost");
    assert_eq!(exit_code(&mut child).await, Some(1), "stopped by itself");
    let stderr = stderr_of(&mut child);
    assert!(
        stderr.contains("the NATS stream JELLYFISH is gone (deleted, or nats-server restarted without its store) and --no-recreate-stream is set: stopped with 1 notification unpublished"),
        "{stderr}"
    );
}

/// `bridge --metrics-listen`: what it published is what the stream holds, its metrics pass
/// `promtool check metrics`, and `/readyz` is 503 while NATS is down, 200 once it is back.
#[actix_web::test]
#[ignore = "needs Debian's nats-server and prometheus: .ci/run installs them and runs these with --ignored"]
async fn bridge_metrics_count_what_the_stream_holds_and_ready_follows_nats() {
    let mut nats = NatsServer::start();
    let emulator = Emulator::builder().start().await.unwrap();
    let port = support::free_port();
    let _bridge = Running(
        cli()
            .args(["bridge", "--server", &emulator.server_address()])
            .args(["--nats", &nats.url()])
            .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::until_status(port, "/readyz", 200, Duration::from_secs(15)).await;
    emulator
        .run_lifecycle(&LifecycleConfig {
            rate: 400.0,
            ..LifecycleConfig::default()
        })
        .await
        .unwrap();
    let sent = emulator.connection_records()[0].notifications().count();
    until("stored", Duration::from_secs(10), async || {
        nats.messages().await.len() == sent
    })
    .await;
    let (_, scrape) = support::get(port, "/metrics").await.unwrap();
    assert_eq!(
        support::sample(&scrape, "jellyfish_bridge_published_total"),
        Some(sent as f64),
        "{scrape}"
    );
    assert_eq!(
        support::sample(&scrape, "jellyfish_bridge_pending"),
        Some(0.0)
    );
    assert_eq!(
        support::sample(&scrape, "jellyfish_bridge_ready"),
        Some(1.0)
    );
    support::promtool_accepts(&scrape);

    nats.kill();
    let body = support::until_status(port, "/readyz", 503, Duration::from_secs(15)).await;
    assert!(body.contains("NATS JetStream"), "{body}");
    nats.spawn();
    support::until_status(port, "/readyz", 200, Duration::from_secs(30)).await;
}

async fn post(url: &str, body: Vec<u8>) -> u16 {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
        .post(url)
        .content_type("application/x-protobuf")
        .send_body(body)
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// `webhook --nats`: 200 only once JetStream stored the notification; 503 while NATS is down; 200
/// again after it is back; and nothing answered 200 is missing from the stream.
#[actix_web::test]
#[ignore = "needs Debian's nats-server: .ci/run installs it and runs these with --ignored"]
async fn webhook_nats_answers_503_while_nats_is_down_and_200_once_stored() {
    let mut nats = NatsServer::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = support::free_port();
    let _child = Running(
        cli()
            .args([
                "webhook",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--nats",
                &nats.url(),
                "--metrics-listen",
                &format!("127.0.0.1:{metrics}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/webhook");
    let body = |room: &str| Notification::from(RoomCreated::new(room)).encode().unwrap();
    let mut acknowledged = Vec::new();
    // Up (the receiver may still be starting or connecting: retry until it answers 200).
    until(
        "the first webhook stored",
        Duration::from_secs(15),
        async || post(&url, body("before")).await == 200,
    )
    .await;
    acknowledged.push("before");
    support::until_status(metrics, "/readyz", 200, Duration::from_secs(10)).await;
    nats.kill();
    assert_eq!(post(&url, body("during")).await, 503, "NATS is down");
    let reason = support::until_status(metrics, "/readyz", 503, Duration::from_secs(10)).await;
    assert!(reason.contains("NATS JetStream"), "{reason}");
    nats.spawn();
    until(
        "stored again once NATS is back",
        Duration::from_secs(30),
        async || post(&url, body("after")).await == 200,
    )
    .await;
    acknowledged.push("after");
    support::until_status(metrics, "/readyz", 200, Duration::from_secs(10)).await;
    let stored: Vec<String> = decoded(&nats.messages().await)
        .iter()
        .filter_map(|n| n.room_id().map(ToString::to_string))
        .collect();
    for room in acknowledged {
        assert!(
            stored.iter().any(|r| r == room),
            "{room} was answered 200 but is not stored: {stored:?}"
        );
    }
}
