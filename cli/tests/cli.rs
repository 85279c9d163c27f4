//! The `jellyfish-notify` binary: help, usage errors (exit 2), authentication failure (exit 3),
//! `tail --json`, `forward` in both formats with signing, `emulate`, and the demo's tally.

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/common/rooms.rs"]
mod rooms;
mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::webhook_sink::WebhookSink;
use jellyfish_emulator::Emulator;
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::webhook::*;
use jellyfish_notifier::*;
use serde_json::json;
use support::{Running, cli, free_port};

/// Runs the command to completion off the actix thread, so an in-process emulator keeps serving.
async fn run(mut command: Command) -> std::process::Output {
    actix_web::rt::task::spawn_blocking(move || command.output().expect("the command runs"))
        .await
        .unwrap()
}

#[test]
fn every_command_has_help_with_examples() {
    let output = cli().arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in [
        "demo",
        "tail",
        "rooms",
        "dashboard",
        "bridge",
        "forward",
        "webhook",
        "emulate",
    ] {
        assert!(text.contains(command), "{command} listed");
        let output = cli().args([command, "--help"]).output().unwrap();
        assert!(output.status.success(), "{command} --help");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            help.contains("Examples:"),
            "{command} --help has examples:\n{help}"
        );
    }
    let help = String::from_utf8_lossy(&cli().args(["tail", "--help"]).output().unwrap().stdout)
        .into_owned();
    assert!(
        help.contains("JF_SERVER_API_TOKEN") && help.contains("JF_SERVER_ADDRESS"),
        "{help}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["--no-such-flag"],
        vec!["tail", "--json", "extra"],
        vec!["forward"],
        vec!["forward", "--to", "ftp://nowhere"],
        vec!["forward", "--to", "http://"],
        vec!["forward", "--to", "http://127.0.0.1:99999/"],
        vec!["forward", "--to", "localhost:5003/webhook"],
        vec!["tail", "--server", "ftp://nowhere"],
        vec!["emulate", "--server-version", "9.9"],
    ] {
        let output = cli().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        // A bad target is named in the error, before anything starts.
        if let ["forward", "--to", url] = args.as_slice() {
            assert!(stderr.contains(&format!("{url:?}")), "{args:?}: {stderr}");
        }
    }
}

#[actix_web::test]
async fn tail_with_a_wrong_token_exits_3_at_once_naming_the_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut command = cli();
    command.args([
        "tail",
        "--server",
        &emulator.server_address(),
        "--token",
        "wrong-token",
    ]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let url = format!("ws://{}/socket/server/websocket", emulator.server_address());
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [format!(
            "error: authentication failed: {url} rejected the token; give the right one with --token, JF_SERVER_API_TOKEN or FISHJAM_MANAGEMENT_TOKEN"
        )],
        "said once, naming the URL"
    );
    assert!(
        !stderr.contains("wrong-token"),
        "the token itself is never printed: {stderr}"
    );
    assert_eq!(
        emulator.connection_records().len(),
        1,
        "one attempt, no retry storm"
    );
}

#[actix_web::test]
async fn tail_json_prints_one_notification_per_line_and_honours_the_environment() {
    let emulator = Emulator::builder()
        .token("env-token")
        .start()
        .await
        .unwrap();
    let mut command = cli();
    command
        .args(["tail", "--json"])
        .env("JF_SERVER_ADDRESS", emulator.server_address())
        .env("JF_SERVER_API_TOKEN", "env-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    until_subscribed(&emulator).await;
    emulator.create_room(&json!({"roomId": "tailed"})).unwrap();
    emulator.delete_room("tailed").unwrap();
    let lines = actix_web::rt::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(2)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let parsed: Vec<Notification> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        parsed,
        vec![
            Notification::from(RoomCreated::new("tailed")),
            Notification::from(RoomDeleted::new("tailed")),
        ]
    );
}

async fn forward_in(format: &str, secret: Option<&str>) {
    let emulator = Emulator::builder().start().await.unwrap();
    let sink = WebhookSink::start().await;
    let mut command = cli();
    command
        .args([
            "forward",
            "--server",
            &emulator.server_address(),
            "--to",
            &sink.url,
            "--format",
            format,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(secret) = secret {
        command.args(["--secret", secret]);
    }
    let _child = Running(command.spawn().unwrap());
    until_subscribed(&emulator).await;
    let ids: Vec<String> = (0..5).map(|i| format!("fwd-{i}")).collect();
    for id in &ids {
        emulator.create_room(&json!({"roomId": id})).unwrap();
    }
    assert!(
        emulator
            .wait_until(Duration::from_secs(20), |_| sink.count() == 5)
            .await,
        "{} posts",
        sink.count()
    );
    let mut got = Vec::new();
    for post in sink.all() {
        let expected_type = if format == "json" {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        assert_eq!(post.content_type, expected_type);
        match secret {
            Some(secret) => assert!(verify_webhook_signature(
                secret,
                &post.body,
                post.signature.as_deref().unwrap()
            )),
            None => assert!(post.signature.is_none()),
        }
        got.extend(if format == "json" {
            receive_json_body(&post.body).unwrap()
        } else {
            receive_binary(&post.body).unwrap()
        });
    }
    let expected: Vec<Notification> = ids
        .iter()
        .map(|id| Notification::from(RoomCreated::new(id.as_str())))
        .collect();
    assert_eq!(got, expected, "every notification, in order");
}

#[actix_web::test]
async fn forward_posts_protobuf_in_order() {
    forward_in("protobuf", None).await;
}

#[actix_web::test]
async fn forward_posts_json_signed() {
    forward_in("json", Some("s3cret")).await;
}

#[actix_web::test]
async fn forward_signs_protobuf_too() {
    forward_in("protobuf", Some("another secret")).await;
}

#[actix_web::test]
async fn emulate_prints_its_address_and_serves_the_protocol() {
    let mut command = cli();
    command
        .args(["emulate", "--port", "0", "--token", "t0k"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(command.spawn().unwrap());
    let first = first_stdout_line(&mut child.0).await;
    let url = first.rsplit(' ').next().unwrap().to_owned();
    assert!(
        first.starts_with("Jellyfish emulator (server 0.5.0) listening on http://127.0.0.1:"),
        "{first}"
    );
    let notifier = WsNotifier::start(url, "t0k");
    let ready = tokio::time::timeout(Duration::from_secs(20), notifier.send(WaitReady)).await;
    assert_eq!(ready.unwrap().unwrap(), Ok(()));
}

#[actix_web::test]
async fn the_demo_runs_to_completion_with_nothing_missing() {
    let output = run({
        let mut command = cli();
        command.arg("demo").args(["--step-ms", "10"]);
        command
    })
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tally: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("tally"))
        .collect();
    let row = |name: &str| -> Vec<usize> {
        let line = tally
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {stdout}"));
        line[name.len()..]
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let (sent, received, missing) = (row("sent by the server"), row("received"), row("missing"));
    assert_eq!(missing, [0, 0]);
    assert_eq!(sent, received);
    assert!(sent[0] >= 15, "a whole lifecycle: {sent:?}");
    assert!(
        stdout.contains("[websocket] metrics_report"),
        "a metrics line"
    );
    assert!(stdout.contains("same order on both paths: yes"));
}

/// Waits until one client has subscribed to the emulator's notifications.
async fn until_subscribed(emulator: &Emulator) {
    until_subscribed_since(emulator, 0).await;
}

/// How many notification subscriptions the emulator has seen so far: read it before starting a
/// client, then wait with [`until_subscribed_since`] for that client's own subscription.
fn subscriptions_so_far(emulator: &Emulator) -> u64 {
    emulator.socket_counts().notification_subscriptions
}

/// Waits until a subscription made after `since` is the only one open. A killed client's socket
/// can stay counted until the emulator reads its end, so "one subscriber" alone may be the dead
/// one.
async fn until_subscribed_since(emulator: &Emulator, since: u64) {
    assert!(
        emulator
            .wait_until(Duration::from_secs(20), |e| {
                let counts = e.socket_counts();
                counts.notification_subscriptions > since && counts.notifications == 1
            })
            .await,
        "a new client subscribed and no other is left"
    );
}

/// The first line a child writes to stdout (the emulator's "listening on …"), read off the actix
/// thread.
async fn first_stdout_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    actix_web::rt::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().next().unwrap().unwrap()
    })
    .await
    .unwrap()
}

/// POSTs a protobuf body to a `webhook` command that may still be starting: retries while the
/// connection is refused (at most 5 s), then answers the status.
async fn post_when_listening(url: &str, body: &[u8]) -> u16 {
    let client = awc::Client::default();
    for _ in 0..200 {
        match client
            .post(url)
            .content_type("application/x-protobuf")
            .send_body(body.to_vec())
            .await
        {
            Ok(response) => return response.status().as_u16(),
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await, // still starting
        }
    }
    panic!("{url} never listened")
}

#[actix_web::test]
async fn webhook_prints_what_it_receives_and_answers_like_the_extractor() {
    let port = free_port();
    let mut command = cli();
    command
        .args([
            "webhook",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let url = format!("http://127.0.0.1:{port}/any/path");
    let client = awc::Client::default();
    let body = Notification::from(PeerConnected::new("r", "p"))
        .encode()
        .unwrap();
    assert_eq!(post_when_listening(&url, &body).await, 200);
    let refused = client
        .post(&url)
        .content_type("text/plain")
        .send_body("hi")
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 415);
    let line = actix_web::rt::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().next().unwrap().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Notification>(&line).unwrap(),
        Notification::from(PeerConnected::new("r", "p"))
    );
}

#[actix_web::test]
async fn ctrl_c_shuts_tail_and_emulate_down_cleanly() {
    let emulator = Emulator::builder().start().await.unwrap();
    for args in [
        vec![
            "tail".to_owned(),
            "--server".to_owned(),
            emulator.server_address(),
        ],
        vec!["emulate".to_owned(), "--port".to_owned(), "0".to_owned()],
    ] {
        let mut command = cli();
        command
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().unwrap();
        let pid = child.id().to_string();
        if args[0] == "tail" {
            assert!(
                emulator
                    .wait_until(Duration::from_secs(20), |e| e.socket_counts().authenticated
                        == 1)
                    .await
            );
        } else {
            tokio::time::sleep(Duration::from_millis(500)).await; // let it install its handler
        }
        let status = actix_web::rt::task::spawn_blocking(move || {
            Command::new("kill").args(["-INT", &pid]).status().unwrap();
            let mut child = child;
            child.wait().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}");
    }
    assert!(
        emulator
            .wait_until(Duration::from_secs(20), |e| e.socket_counts().open == 0)
            .await,
        "tail closed its socket"
    );
}

#[actix_web::test]
async fn a_cloud_lifecycle_round_emits_every_cloud_kind_and_tail_shows_them() {
    let mut emulate = cli();
    emulate
        .args([
            "emulate",
            "--port",
            "0",
            "--token",
            "mgmt",
            "--server-version",
            "cloud",
            "--scenario",
            "lifecycle",
            "--rooms",
            "1",
            "--rate",
            "200",
            "--loop",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut emulator = Running(emulate.spawn().unwrap());
    let first = first_stdout_line(&mut emulator.0).await;
    assert!(first.contains("(server cloud)"), "{first}");
    let url = first.rsplit(' ').next().unwrap().to_owned();

    // Pointed at it as a Cloud user would: FISHJAM_URL and FISHJAM_MANAGEMENT_TOKEN.
    let mut tail = cli();
    tail.args(["tail", "--json"])
        .env("FISHJAM_URL", format!("{url}/api/v1/connect/my-fishjam-id"))
        .env("FISHJAM_MANAGEMENT_TOKEN", "mgmt")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut tail = Running(tail.spawn().unwrap());
    let stdout = tail.0.stdout.take().unwrap();
    const CLOUD_KINDS: [&str; 22] = [
        "room_created",
        "room_deleted",
        "room_crashed",
        "peer_added",
        "peer_connected",
        "peer_metadata_updated",
        "peer_disconnected",
        "peer_crashed",
        "peer_deleted",
        "track_added",
        "track_metadata_updated",
        "track_removed",
        "track_forwarding",
        "track_forwarding_removed",
        "channel_added",
        "channel_removed",
        "vad_notification",
        "streamer_connected",
        "streamer_disconnected",
        "viewer_connected",
        "viewer_disconnected",
        "recording_status_changed",
    ];
    let seen = actix_web::rt::task::spawn_blocking(move || {
        let mut seen = std::collections::BTreeMap::<String, serde_json::Value>::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let kind = value["type"].as_str().unwrap().to_owned();
            seen.entry(kind).or_insert(value);
            if CLOUD_KINDS.iter().all(|k| seen.contains_key(*k)) {
                break;
            }
        }
        seen
    });
    let seen = tokio::time::timeout(Duration::from_secs(60), seen)
        .await
        .expect("every Cloud kind within a minute")
        .unwrap();
    let missing: Vec<_> = CLOUD_KINDS
        .iter()
        .filter(|k| !seen.contains_key(**k))
        .collect();
    assert!(missing.is_empty(), "never shown: {missing:?}");
    assert_eq!(
        seen["peer_added"]["peer_type"], "webrtc",
        "Cloud sets peer_type"
    );
    assert_eq!(seen["peer_crashed"]["peer_type"], "agent");
    assert!(
        !seen.contains_key("metrics_report"),
        "Fishjam Cloud sends no metrics"
    );
    drop(tail);
    drop(emulator);
}

/// Sends a signal to a child process.
fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

/// Waits for a child to exit (off the actix thread), at most `PATIENCE`-ish.
async fn exit_status(child: Child) -> std::process::ExitStatus {
    let mut child = child;
    let status = actix_web::rt::task::spawn_blocking(move || {
        for _ in 0..400 {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        None
    })
    .await
    .unwrap();
    status.expect("the command exited within 20 s")
}

#[actix_web::test]
async fn sigterm_makes_tail_and_forward_close_with_1000_and_exit_0() {
    let emulator = Emulator::builder().start().await.unwrap();
    let sink = WebhookSink::start().await;
    for args in [
        vec!["tail".to_owned(), "--json".to_owned()],
        vec!["forward".to_owned(), "--to".to_owned(), sink.url.clone()],
    ] {
        let before = emulator.connection_records().len();
        let mut command = cli();
        command
            .args(&args)
            .args(["--server", &emulator.server_address()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().unwrap();
        until_subscribed(&emulator).await;
        signal(&child, "TERM");
        let status = exit_status(child).await;
        assert_eq!(status.code(), Some(0), "{args:?}");
        let records = emulator.connection_records();
        assert_eq!(records.len(), before + 1);
        assert_eq!(
            records.last().unwrap().client_close,
            Some(1000),
            "{args:?}: a clean close, not a dropped socket"
        );
        assert!(
            emulator
                .wait_until(Duration::from_secs(5), |e| e.socket_counts().open == 0)
                .await
        );
    }
}

#[actix_web::test]
async fn sigterm_to_webhook_still_answers_the_upload_in_flight() {
    let port = free_port();
    let mut command = cli();
    command
        .args(["webhook", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let body = Notification::from(RoomCreated::new("in-flight"))
        .encode()
        .unwrap();
    let pid = child.id();
    let response = actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let mut stderr = BufReader::new(stderr).lines();
        let started = stderr.next().unwrap().unwrap();
        assert!(started.contains("receiving webhooks"), "{started}");
        // A slow sender: the headers and half the body, then the stop, then the rest.
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        let half = body.len() / 2;
        stream.write_all(&body[..half]).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300)); // the request is being read
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let stopping = stderr.next().unwrap().unwrap();
        assert!(stopping.contains("stopping"), "{stopping}");
        stream.write_all(&body[half..]).unwrap();
        let mut response = String::new();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.read_to_string(&mut response);
        response
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(exit_status(child).await.code(), Some(0));
}

#[actix_web::test]
async fn sigterm_to_emulate_sends_going_away_to_its_clients() {
    let mut command = cli();
    command
        .args(["emulate", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let first = first_stdout_line(&mut child).await;
    let addr = first.rsplit("//").next().unwrap().to_owned();
    let mut socket =
        common::raw_ws::handshake(&addr, "development", &[EventType::ServerNotification]).await;
    signal(&child, "TERM");
    let frame = loop {
        match common::raw_ws::next(&mut socket).await {
            Some(awc::ws::Frame::Ping(_) | awc::ws::Frame::Pong(_)) => continue,
            other => break other,
        }
    };
    let Some(awc::ws::Frame::Close(Some(reason))) = frame else {
        panic!("{frame:?}")
    };
    assert_eq!(u16::from(reason.code), 1001);
    assert_eq!(exit_status(child).await.code(), Some(0));
}

#[actix_web::test]
async fn tail_ends_quietly_when_its_stdout_is_closed() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut command = cli();
    command
        .args(["tail", "--json", "--server", &emulator.server_address()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    until_subscribed(&emulator).await;
    for i in 0..3 {
        emulator
            .create_room(&json!({"roomId": format!("head-{i}")}))
            .unwrap();
    }
    // `| head -n 3`: read three lines, then close the pipe.
    actix_web::rt::task::spawn_blocking(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(3)
            .map(Result::unwrap)
            .collect();
        assert_eq!(lines.len(), 3);
    })
    .await
    .unwrap();
    for i in 3..6 {
        emulator
            .create_room(&json!({"roomId": format!("head-{i}")}))
            .unwrap();
    }
    assert_eq!(exit_status(child).await.code(), Some(0));
    assert_eq!(
        emulator.connection_records().last().unwrap().client_close,
        Some(1000)
    );
}

#[actix_web::test]
async fn webhook_answers_5xx_for_a_body_it_could_not_print() {
    let port = free_port();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut command = cli();
    command
        .args([
            "webhook",
            "--json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::from(full))
        .stderr(Stdio::null());
    let child = Running(command.spawn().unwrap());
    let body = Notification::from(RoomCreated::new("unprintable"))
        .encode()
        .unwrap();
    let status = post_when_listening(&format!("http://127.0.0.1:{port}/webhook"), &body).await;
    assert_eq!(
        status, 500,
        "not printed, so not delivered: the sender retries"
    );
    drop(child);
}

#[actix_web::test]
async fn secrets_come_from_the_environment_or_a_file_and_stay_off_the_command_line() {
    let secret = "s3cret-from-the-environment";
    let body = Notification::from(RoomCreated::new("signed"))
        .encode()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("jellyfish-cli-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    for how in ["environment", "file"] {
        let port = free_port();
        let mut command = cli();
        command
            .args(["webhook", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if how == "environment" {
            command.env("FISHJAM_WEBHOOK_SECRET", secret);
        } else {
            command.arg("--secret-file").arg(&secret_file);
        }
        let child = Running(command.spawn().unwrap());
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.0.id())).unwrap();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(secret),
            "{how}: the secret is not in the process list"
        );
        let client = awc::Client::default();
        let url = format!("http://127.0.0.1:{port}/webhook");
        let unsigned = post_when_listening(&url, &body).await;
        assert_eq!(unsigned, 401, "{how}: a signature is required");
        let signed = client
            .post(&url)
            .content_type("application/x-protobuf")
            .insert_header((SIGNATURE_HEADER, sign_webhook(secret, &body)))
            .send_body(body.clone())
            .await
            .unwrap();
        assert_eq!(signed.status().as_u16(), 200, "{how}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The resident memory of a process, in bytes.
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

#[actix_web::test]
async fn forward_with_a_spool_killed_with_a_backlog_delivers_it_first_after_a_restart() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut target = common::target::Target::new(); // down for now
    let spool = std::env::temp_dir().join(format!("jellyfish-cli-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let target_url = target.url();
    let forward = |spool: &std::path::Path| {
        let mut command = cli();
        command
            .args(["forward", "--server", &emulator.server_address()])
            .args([
                "--to",
                &target_url,
                "--retry-base-ms",
                "50",
                "--retry-cap",
                "0.2",
            ])
            .arg("--spool")
            .arg(spool)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.spawn().unwrap()
    };
    let first = forward(&spool);
    until_subscribed(&emulator).await;
    for i in 0..5 {
        emulator
            .create_room(&json!({"roomId": format!("backlog-{i}")}))
            .unwrap();
    }
    until_spooled(&spool, 5).await;
    signal(&first, "KILL");
    exit_status(first).await;

    target.up();
    let since = subscriptions_so_far(&emulator);
    let second = Running(forward(&spool));
    until_subscribed_since(&emulator, since).await;
    emulator.create_room(&json!({"roomId": "after"})).unwrap();
    let delivered = || {
        let mut ids = std::collections::HashSet::new();
        target
            .posts()
            .into_iter()
            .filter(|post| ids.insert(post.id.clone()))
            .map(|post| receive_binary(&post.body).unwrap().remove(0))
            .collect::<Vec<_>>()
    };
    for _ in 0..800 {
        if delivered().len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut expected: Vec<Notification> = (0..5)
        .map(|i| Notification::from(RoomCreated::new(format!("backlog-{i}"))))
        .collect();
    expected.push(Notification::from(RoomCreated::new("after")));
    assert_eq!(
        delivered(),
        expected,
        "the backlog first, in order, nothing lost"
    );
    drop(second);
    let _ = std::fs::remove_dir_all(&spool);
}

/// How many records the spool's segment files in `dir` hold (the format of `forward/spool`: a
/// 16-byte header, then records of a 24-byte header, whose first 4 bytes are the body's length,
/// and the body).
fn records_in(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut records = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "seg") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        let mut at = 16;
        while at + 24 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            at += 24 + len;
            if at <= bytes.len() {
                records += 1;
            }
        }
    }
    records
}

/// Waits until the spool in `dir` holds `n` records (at most 10 s).
async fn until_spooled(dir: &std::path::Path, n: usize) {
    for _ in 0..400 {
        if records_in(dir) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(records_in(dir), n, "the backlog is on disk");
}

/// A child's stderr, line by line, read by a thread of its own.
struct StderrLines(std::sync::mpsc::Receiver<String>);

impl StderrLines {
    fn of(child: &mut Child) -> Self {
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self(rx)
    }

    /// The next line containing `needle`, within `within`.
    async fn until(&self, needle: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            match self.0.try_recv() {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("no line with {needle:?} within {within:?}; saw {seen:#?}");
    }
}

#[actix_web::test]
async fn ctrl_c_with_a_backlog_says_at_once_what_happens_and_a_second_ctrl_c_stops_now() {
    let emulator = Emulator::builder().start().await.unwrap();
    let target = common::target::Target::new(); // down: the backlog stays
    let spool = std::env::temp_dir().join(format!("jellyfish-cli-ctrlc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let mut command = cli();
    command
        .args(["forward", "--server", &emulator.server_address()])
        .args(["--to", &target.url(), "--drain-timeout", "120"])
        .arg("--spool")
        .arg(&spool)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut forward = command.spawn().unwrap();
    let stderr = StderrLines::of(&mut forward);
    until_subscribed(&emulator).await;
    for i in 0..3 {
        emulator
            .create_room(&json!({"roomId": format!("queued-{i}")}))
            .unwrap();
    }
    until_spooled(&spool, 3).await;
    signal(&forward, "INT");
    let said = stderr.until("stopping:", Duration::from_secs(5)).await;
    assert_eq!(
        said,
        "stopping: 3 queued; delivering them for up to 120.0 s (--drain-timeout). Ctrl-C again stops now: the spool keeps them for the next start"
    );
    signal(&forward, "INT");
    stderr.until("stopping now", Duration::from_secs(10)).await;
    let last = stderr
        .until("forward stopped", Duration::from_secs(10))
        .await;
    assert!(last.contains("3 left in the spool"), "{last}");
    let status = exit_status(forward).await;
    assert_eq!(status.code(), Some(0), "nothing was lost");
    assert_eq!(records_in(&spool), 3, "the backlog is still on disk");
    let _ = std::fs::remove_dir_all(&spool);
}

#[actix_web::test]
async fn forward_into_a_target_that_never_answers_stays_within_its_memory_bound() {
    let emulator = Emulator::builder().start().await.unwrap();
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", silent.local_addr().unwrap());
    let mut command = cli();
    command
        .args([
            "forward",
            "--server",
            &emulator.server_address(),
            "--to",
            &url,
        ])
        .args([
            "--memory-max-mib",
            "4",
            "--timeout",
            "120",
            "--drain-timeout",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    until_subscribed(&emulator).await;
    let before = rss_of(child.id());
    let pushed = emulator
        .run_firehose(&jellyfish_emulator::FirehoseConfig {
            total: Some(200_000),
            high_water: 1024,
        })
        .await;
    // Let it take in what the socket still holds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_of(child.id());
    let growth = after.saturating_sub(before);
    println!(
        "forward: {pushed} notifications into a silent target; RSS {} MiB -> {} MiB",
        before >> 20,
        after >> 20
    );
    assert!(
        growth < (4 << 20) * 2 + (16 << 20),
        "memory grew by {} MiB with a 4 MiB bound",
        growth >> 20
    );
    signal(&child, "TERM");
    let status = exit_status(child).await;
    let report = actix_web::rt::task::spawn_blocking(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text).unwrap();
        text
    })
    .await
    .unwrap();
    assert!(report.contains("DROPPED"), "{report}");
    let last = report
        .lines()
        .rev()
        .find(|l| l.starts_with("forward stopped"))
        .unwrap();
    let dropped: u64 = last
        .split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert!(dropped > 0, "{last}");
    assert_eq!(
        status.code(),
        Some(1),
        "queued notifications were lost: {last}"
    );
    drop(silent);
}

/// The first `n` lines a command writes to stderr, then it is stopped.
async fn first_stderr_lines(mut command: Command, n: usize) -> Vec<String> {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = Running(command.spawn().unwrap());
    let stderr = child.0.stderr.take().unwrap();
    actix_web::rt::task::spawn_blocking(move || {
        BufReader::new(stderr)
            .lines()
            .take(n)
            .map(Result::unwrap)
            .collect()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn a_refused_connection_is_said_once_per_attempt_naming_the_url() {
    let port = free_port(); // nothing listens there
    let mut command = cli();
    command.args(["tail", "--server", &format!("127.0.0.1:{port}")]);
    let lines = first_stderr_lines(command, 3).await;
    let url = format!("ws://127.0.0.1:{port}/socket/server/websocket");
    for (attempt, line) in (1..).zip(&lines) {
        assert!(
            line.starts_with(&format!("cannot reach {url}: connection refused"))
                && line.contains(&format!("(attempt {attempt})")),
            "one line per attempt, naming the URL and what to do: {lines:#?}"
        );
    }
}

#[actix_web::test]
async fn a_live_connection_that_drops_is_said_as_lost_with_its_reason_in_seconds() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut command = cli();
    command
        .args(["tail", "--server", &emulator.server_address()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Running(command.spawn().unwrap());
    let stderr = child.0.stderr.take().unwrap();
    let lines = actix_web::rt::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines().map(Result::unwrap);
        let connected = lines.next().unwrap();
        let lost = lines.next().unwrap();
        (connected, lost)
    });
    until_subscribed(&emulator).await;
    emulator.drop_connections();
    let (connected, lost) = lines.await.unwrap();
    let url = format!("ws://{}/socket/server/websocket", emulator.server_address());
    assert_eq!(connected, format!("connected to {url} and subscribed"));
    let said = format!(
        "lost the connection to {url}: the connection ended without a close frame; reconnecting in 0."
    );
    assert!(
        lost.starts_with(&said) && lost.ends_with(" s"),
        "{lost:?} says it was lost, why, and the wait in seconds"
    );
}

#[actix_web::test]
async fn a_server_without_a_port_gets_one_warning_naming_the_url_it_picked() {
    let mut command = cli();
    command.args(["tail", "--server", "localhost"]);
    let lines = first_stderr_lines(command, 2).await;
    assert_eq!(
        lines[0],
        "warning: --server localhost has no port, so ws://localhost/socket/server/websocket (port 80) it is; a local Jellyfish listens on localhost:5002"
    );
    assert!(
        lines[1].contains("ws://localhost/socket/server/websocket"),
        "the next line names the URL too: {lines:#?}"
    );
}

#[actix_web::test]
async fn emulate_takes_a_host_name_and_sends_its_lifecycle_to_a_webhook_url() {
    let sink = WebhookSink::start().await;
    let mut command = cli();
    command
        .args(["emulate", "--host", "localhost", "--port", "0"])
        .args([
            "--scenario",
            "lifecycle",
            "--rooms",
            "1",
            "--peers",
            "1",
            "--rate",
            "200",
        ])
        .args(["--webhook-url", &sink.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(command.spawn().unwrap());
    let first = first_stdout_line(&mut child.0).await;
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}");
    let deleted = |sink: &WebhookSink| {
        sink.all().iter().any(|post| {
            receive_binary(&post.body)
                .unwrap()
                .iter()
                .any(|n| n.kind() == "room_deleted")
        })
    };
    for _ in 0..400 {
        if deleted(&sink) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let kinds: Vec<&str> = sink
        .all()
        .iter()
        .flat_map(|post| receive_binary(&post.body).unwrap())
        .map(|n| n.kind())
        .collect();
    assert_eq!(kinds.first(), Some(&"room_created"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"room_deleted"), "{kinds:?}");
    for kind in [
        "peer_added",
        "peer_connected",
        "track_added",
        "peer_disconnected",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

/// `rooms --json`: the whole state after every change, shaped as `GET /room`; across a server
/// restart with state changed while it was down, the last line equals the server again.
#[actix_web::test]
async fn rooms_json_follows_the_state_across_a_restart_with_changes_made_while_down() {
    let emulator = Emulator::builder().start().await.unwrap();
    let room = emulator
        .create_room(&json!({"maxPeers": 3}))
        .unwrap()
        .id
        .to_string();
    let leaves = emulator.add_peer(&room).unwrap().peer.id.to_string();
    emulator.connect_peer(&room, &leaves).unwrap();
    let mut command = cli();
    command
        .args(["rooms", "--json", "--server", &emulator.server_address()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Waits for a line equal to the server's state; every line must be a whole state.
    async fn until_equal(
        lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
        emulator: &Emulator,
        what: &str,
    ) -> usize {
        let server = rooms::server_rooms(emulator).await;
        let mut seen = 0;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(10), lines.recv())
                .await
                .unwrap_or_else(|_| panic!("{what}: no line equal to {server} within 10 s"))
                .expect("rooms is running");
            seen += 1;
            let state: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            let keys: Vec<&String> = state.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["rooms", "synced", "synced_at_ms"], "{line}");
            assert!(
                state["synced_at_ms"].is_u64(),
                "nothing is printed before the first sync: {line}"
            );
            if state["synced"] == true && rooms::normalize(state["rooms"].clone()) == server {
                return seen;
            }
        }
    }
    assert_eq!(
        until_equal(&mut lines, &emulator, "the first state").await,
        1
    );
    until_subscribed(&emulator).await;

    // Live.
    let owner = jellyfish_emulator::TrackOwner::Peer(leaves.as_str().into());
    emulator
        .add_track(&room, &owner, TrackType::Audio, json!({"lang": "pl"}))
        .unwrap();
    until_equal(&mut lines, &emulator, "a live change").await;

    // Down for 500 ms; meanwhile a peer leaves, a room comes with a connected peer and a track.
    let changes = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(emulator.socket_counts().open, 0);
        emulator.delete_peer(&room, &leaves).unwrap();
        let born = emulator
            .create_room(&json!({"roomId": "born-while-down"}))
            .unwrap();
        let peer = emulator.add_peer(&born.id).unwrap().peer.id.to_string();
        emulator.connect_peer(&born.id, &peer).unwrap();
        emulator
            .update_peer_metadata(&born.id, &peer, json!({"name": "Zoë"}))
            .unwrap();
        let owner = jellyfish_emulator::TrackOwner::Peer(peer.into());
        emulator
            .add_track(&born.id, &owner, TrackType::Video, json!(null))
            .unwrap();
    };
    let (restarted, ()) = tokio::join!(emulator.restart(Duration::from_millis(500)), changes);
    restarted.unwrap();
    until_equal(&mut lines, &emulator, "the state after the restart").await;

    signal(&child.0, "TERM");
    let mut status = None;
    for _ in 0..200 {
        status = child.0.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "SIGTERM is a normal stop"
    );
}

/// The dashboard's page and its control proxy answer only their own page, under their own
/// address: another Host (DNS rebinding) gets 421, another site's Origin 403, a path outside the
/// room and emulator routes 400; its own page's request is passed on with the token.
#[actix_web::test]
async fn the_dashboard_answers_only_its_own_page_under_its_own_address() {
    let emulator = Emulator::builder().start().await.unwrap();
    let listen = free_port();
    let _dashboard = Running(
        cli()
            .args(["dashboard", "--server", &emulator.server_address()])
            .args(["--listen", &format!("127.0.0.1:{listen}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let page = support::until_status(listen, "/", 200, Duration::from_secs(10)).await;
    assert!(page.contains("data-connection-state"), "{page}");
    let client = awc::Client::default();
    let url = format!("http://127.0.0.1:{listen}/api/request");
    let status = client
        .get(format!("http://127.0.0.1:{listen}/events"))
        .insert_header(("host", format!("evil.example:{listen}")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 421, "another name for this address");
    let ask = |origin: Option<String>, body: serde_json::Value| {
        let request = client.post(&url);
        let request = match origin {
            Some(origin) => request.insert_header(("origin", origin)),
            None => request,
        };
        async move { request.send_json(&body).await.unwrap().status().as_u16() }
    };
    assert_eq!(
        ask(
            Some("http://evil.example".to_owned()),
            json!({"method": "POST", "path": "/room"})
        )
        .await,
        403
    );
    assert_eq!(
        ask(
            None,
            json!({"method": "POST", "path": "/socket/server/websocket"})
        )
        .await,
        400
    );
    assert_eq!(
        ask(None, json!({"method": "GET", "path": "/room"})).await,
        400
    );
    let own = Some(format!("http://127.0.0.1:{listen}"));
    assert_eq!(
        ask(
            own,
            json!({"method": "POST", "path": "/room", "body": {"roomId": "via-page"}})
        )
        .await,
        201
    );
    assert!(emulator.rooms().iter().any(|room| room.id == "via-page"));
}
