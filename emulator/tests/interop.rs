//! The official Fishjam server SDKs against the emulator in Fishjam Cloud mode: what they send must
//! be understood, and what the emulator sends must be what they expect.
//!
//! These tests need the SDKs installed, so they are `#[ignore]`d in a plain `cargo test`;
//! `.ci/run` installs them (a Python virtualenv with `fishjam-server-sdk`, and
//! `@fishjam-cloud/js-server-sdk` with npm) and runs them with `--ignored`, pointing
//! `JELLYFISH_INTEROP_PYTHON` at the virtualenv's interpreter and `JELLYFISH_INTEROP_NODE_PATH` at
//! the `node_modules` folder. Run with `--ignored` without those variables and they fail, saying
//! so: they never pass without running.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::webhook_sink::WebhookSink;
use jellyfish_emulator::{Emulator, ServerVersion};
use jellyfish_notifier::*;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/fishjam_python_sdk.py"
);

/// What `FishjamNotifier` 0.31.1 hands to its handler (`ALLOWED_NOTIFICATIONS`); it drops the rest.
const PYTHON_NOTIFIER_KINDS: [&str; 19] = [
    "room_created",
    "room_deleted",
    "room_crashed",
    "peer_added",
    "peer_deleted",
    "peer_connected",
    "peer_disconnected",
    "peer_metadata_updated",
    "peer_crashed",
    "streamer_connected",
    "streamer_disconnected",
    "channel_added",
    "channel_removed",
    "viewer_connected",
    "viewer_disconnected",
    "track_added",
    "track_removed",
    "track_metadata_updated",
    "recording_status_changed",
];

fn python() -> String {
    std::env::var("JELLYFISH_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "JELLYFISH_INTEROP_PYTHON is not set: it names a Python with fishjam-server-sdk==0.31.1 \
             installed (.ci/run makes one)"
        )
    })
}

/// The strings of a JSON array.
fn strings(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item.as_str().expect("a string"))
        .collect()
}

/// The kinds an SDK's notifier hands on, of what the emulator wrote on one connection, in order.
fn handled<'a>(record: &'a jellyfish_emulator::ConnectionRecord, kinds: &[&str]) -> Vec<&'a str> {
    record
        .notifications()
        .map(Notification::kind)
        .filter(|kind| kinds.contains(kind))
        .collect()
}

/// Runs a command off the actix thread (the in-process emulator keeps serving) and returns its
/// standard output; a non-zero exit fails the test with the SDK's own error.
async fn run_command(mut command: Command) -> String {
    let output = actix_web::rt::task::spawn_blocking(move || {
        command.output().expect("the interpreter runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the SDK script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs the script off the actix thread (the in-process emulator keeps serving) and returns its
/// standard output; a non-zero exit fails the test with the SDK's traceback.
async fn run_script(args: Vec<String>) -> String {
    let mut command = Command::new(python());
    command.arg(SCRIPT).args(args);
    run_command(command).await
}

#[actix_web::test]
#[ignore = "needs the official Python SDK: run .ci/run, or set JELLYFISH_INTEROP_PYTHON and pass --ignored"]
async fn the_python_sdk_client_notifier_and_webhook_helpers_work_against_the_cloud_emulator() {
    let emulator = Emulator::builder()
        .server_version(ServerVersion::Cloud)
        .token("management-token")
        .webhook_secret("webhook-secret")
        .start()
        .await
        .unwrap();
    let sink = WebhookSink::start().await;
    // A full Cloud URL, as the dashboard shows it: the emulator serves under the prefix too.
    let base = format!("{}/api/v1/connect/interop-fishjam-id", emulator.http_url());

    let out = run_script(vec![
        "lifecycle".into(),
        base,
        "management-token".into(),
        sink.url.clone(),
    ])
    .await;
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let calls = strings(&report["calls"]);
    for expected in [
        "check_credentials",
        "create_room(README options)",
        "create_peer(README)",
        "create_room(batched webhooks)",
        "get_all_rooms",
        "get_room",
        "create_peer(metadata)",
        "create_peer(manual)",
        "create_vapi_agent",
        "refresh_peer_token",
        "subscribe_peer",
        "subscribe_tracks",
        "create_livestream_viewer_token",
        "create_livestream_streamer_token",
        "forward_room_tracks",
        "create_moq_access",
        "create_composition_recording",
        "get_recording",
        "get_all_recordings",
        "stop_recording",
        "delete_recording",
        "delete_peer",
        "delete_room",
        "delete_room(README)",
    ] {
        assert!(calls.contains(&expected), "{expected} not made: {calls:?}");
    }

    // The notifier got everything the emulator sent on its connection that it handles, in order.
    let records = emulator.connection_records();
    assert_eq!(records.len(), 1, "one notifier connection, never dropped");
    let sent = handled(&records[0], &PYTHON_NOTIFIER_KINDS);
    let received = strings(&report["notifications"]);
    assert_eq!(
        received, sent,
        "the Python notifier's view of the lifecycle"
    );
    println!(
        "python sdk: {} client calls, {} notifications received of {} sent on its socket \
         ({} of kinds it does not handle)",
        calls.len(),
        received.len(),
        records[0].notifications().count(),
        records[0].notifications().count() - sent.len()
    );
    let kinds: BTreeSet<&str> = received.iter().copied().collect();
    for kind in [
        "room_created",
        "peer_added",
        "peer_connected",
        "track_added",
        "recording_status_changed",
    ] {
        assert!(kinds.contains(kind), "{kind} reached the Python notifier");
    }

    // Every webhook POST: decoded by the SDK into the same kinds, with a valid signature.
    let deliveries = |e: &Emulator| e.webhook_deliveries();
    let last_room_gone = |e: &Emulator| {
        deliveries(e)
            .iter()
            .flat_map(|d| &d.notifications)
            .filter(|n| n.kind() == "room_deleted")
            .count()
            == 2
    };
    assert!(
        emulator
            .wait_until(Duration::from_secs(10), last_room_gone)
            .await
    );
    let delivered = deliveries(&emulator);
    assert!(
        sink.count() >= delivered.len(),
        "the sink got every POST the emulator made"
    );
    let dir = std::env::temp_dir().join(format!("jellyfish-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (index, post) in sink.all().iter().enumerate() {
        let path = dir.join(format!("body-{index:03}"));
        let path = path.to_string_lossy().into_owned();
        std::fs::write(&path, &post.body).unwrap();
        std::fs::write(
            format!("{path}.sig"),
            post.signature.clone().expect("signed"),
        )
        .unwrap();
        files.push(path);
    }
    let mut args = vec!["webhooks".to_owned(), "webhook-secret".to_owned()];
    args.extend(files);
    let out = run_script(args).await;
    let decoded: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ours: Vec<Vec<Notification>> = sink
        .all()
        .iter()
        .map(|post| receive_binary(&post.body).unwrap())
        .collect();
    assert_eq!(decoded.len(), ours.len());
    let mut batches = 0;
    for (theirs, ours) in decoded.iter().zip(&ours) {
        assert_eq!(theirs["signature_valid"], true, "{theirs}");
        assert_eq!(theirs["wrong_secret_rejected"], true, "{theirs}");
        let expected: Vec<&str> = ours
            .iter()
            .map(Notification::kind)
            .filter(|kind| PYTHON_NOTIFIER_KINDS.contains(kind))
            .collect();
        let got = strings(&theirs["notifications"]);
        assert_eq!(got, expected, "{theirs}");
        if ours.len() > 1 {
            batches += 1;
        }
    }
    assert!(batches > 0, "the batching room's webhooks came as batches");
    println!(
        "python sdk: {} webhook bodies decoded and verified ({batches} batches)",
        decoded.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What `FishjamWSNotifier` 0.25.0 emits (its `expectedEventsList`); its proto knows members up to
/// 29 and it drops the rest.
const JS_NOTIFIER_KINDS: [&str; 16] = [
    "room_created",
    "room_deleted",
    "room_crashed",
    "peer_added",
    "peer_deleted",
    "peer_connected",
    "peer_disconnected",
    "peer_metadata_updated",
    "peer_crashed",
    "stream_connected",
    "stream_disconnected",
    "viewer_connected",
    "viewer_disconnected",
    "track_added",
    "track_removed",
    "track_metadata_updated",
];

#[actix_web::test]
#[ignore = "needs the official JS SDK and Node: run .ci/run, or set JELLYFISH_INTEROP_NODE_PATH and pass --ignored"]
async fn the_js_sdk_client_and_notifier_work_against_the_cloud_emulator() {
    let node_path = std::env::var("JELLYFISH_INTEROP_NODE_PATH").unwrap_or_else(|_| {
        panic!(
            "JELLYFISH_INTEROP_NODE_PATH is not set: it names a node_modules folder with \
             @fishjam-cloud/js-server-sdk@0.25.0 (.ci/run makes one)"
        )
    });
    let emulator = Emulator::builder()
        .server_version(ServerVersion::Cloud)
        .token("management-token")
        .start()
        .await
        .unwrap();
    // A URL base: the JS SDK then requests `//room` and `//socket/server/websocket`, which the
    // real server (Phoenix) accepts and so must the emulator.
    let base = emulator.http_url();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/fishjam_js_sdk.js"
    );
    let mut command = Command::new("node");
    // Node 20 has the global WebSocket the SDK needs only behind a flag; newer Node has it anyway.
    let has_websocket = Command::new("node")
        .args([
            "-e",
            "process.exit(typeof WebSocket === 'undefined' ? 1 : 0)",
        ])
        .status()
        .expect("node runs")
        .success();
    if !has_websocket {
        command.arg("--experimental-websocket");
    }
    command
        .arg(script)
        .args([base.as_str(), "management-token"])
        .env("NODE_PATH", node_path);
    let out = run_command(command).await;
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let calls = strings(&report["calls"]);
    for expected in [
        "createRoom",
        "createRoom(options)",
        "getAllRooms",
        "getRoom",
        "createPeer",
        "createPeer(options)",
        "refreshPeerToken",
        "subscribePeer",
        "subscribeTracks",
        "createLivestreamViewerToken",
        "createLivestreamStreamerToken",
        "deletePeer",
        "deleteRoom",
    ] {
        assert!(calls.contains(&expected), "{expected} not made: {calls:?}");
    }
    let records = emulator.connection_records();
    let subscribed: Vec<_> = records
        .iter()
        .filter(|r| r.notifications().next().is_some())
        .collect();
    assert_eq!(subscribed.len(), 1, "one notifier connection");
    let sent = handled(subscribed[0], &JS_NOTIFIER_KINDS);
    let received = strings(&report["notifications"]);
    assert_eq!(received, sent, "the JS notifier's view of the lifecycle");
    println!(
        "js sdk: {} client calls, {} notifications received of {} sent on its socket",
        calls.len(),
        received.len(),
        subscribed[0].notifications().count()
    );
}
