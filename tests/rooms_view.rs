//! The rooms view against the emulator: live changes, gaps, the snapshot race, webhooks only, and
//! Fishjam Cloud's shapes. Every check compares with the server's own `GET /room` JSON.

mod common;
#[path = "common/rooms.rs"]
mod rooms;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jellyfish_emulator::{Emulator, ServerVersion, TrackOwner};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::retry::RetryPolicy;
use jellyfish_notifier::rooms::*;
use jellyfish_notifier::rooms_view::*;
use jellyfish_notifier::*;
use rooms::{Follower, both_converged, converged, room_of, server_rooms};
use serde_json::json;
use tokio::sync::{Mutex, mpsc};

const LIMIT: Duration = Duration::from_secs(10);

async fn emulator(version: ServerVersion) -> Emulator {
    Emulator::builder()
        .server_version(version)
        .start()
        .await
        .expect("emulator")
}

fn notifier(emulator: &Emulator) -> Addr<WsNotifier> {
    WsNotifier::builder(emulator.server_address(), emulator.token().expose())
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(20))
                .cap(Duration::from_millis(200)),
        )
        .start()
}

fn api(address: &str, emulator: &Emulator) -> RoomApi {
    RoomApi::new(address, emulator.token().expose()).expect("room api")
}

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .base(Duration::from_millis(20))
        .cap(Duration::from_millis(200))
}

fn peer(emulator: &Emulator, room: &str) -> String {
    emulator.add_peer(room).expect("peer").peer.id.to_string()
}

#[actix::test]
async fn the_view_follows_live_changes_and_a_late_subscriber_gets_the_whole_state() {
    let emulator = emulator(ServerVersion::V0_5).await;
    let room = emulator
        .create_room(&json!({"maxPeers": 4}))
        .unwrap()
        .id
        .to_string();
    let before = peer(&emulator, &room);
    emulator.connect_peer(&room, &before).unwrap();

    let (follower, followed) = Follower::start();
    let view = RoomsView::builder(api(&emulator.server_address(), &emulator))
        .notifier(notifier(&emulator))
        .subscribe(follower.recipient())
        .start();
    tokio::time::timeout(LIMIT, view.send(WaitSynced))
        .await
        .unwrap()
        .unwrap();
    both_converged(&view, &emulator, &followed).await;
    let first = view.send(GetViewStats).await.unwrap();

    // Live: a new room (whose configuration only REST knows), peers, tracks, metadata.
    let other = emulator
        .create_room(&json!({"roomId": "live-room", "videoCodec": "h264", "maxPeers": 2}))
        .unwrap();
    let joined = peer(&emulator, &room);
    common::peer_shares_its_screen(
        &emulator,
        &room,
        &joined,
        json!({"name": "Zoë", "z": [1, 2]}),
    );
    emulator.disconnect_peer(&room, &before).unwrap();
    both_converged(&view, &emulator, &followed).await;
    let live = room_of(&view, "live-room").await;
    assert_eq!(
        live.config, other.config,
        "the configuration came from REST"
    );

    // Nothing was synthesized for changes the view saw live.
    let stats = view.send(GetViewStats).await.unwrap();
    assert_eq!(stats.synthesized, first.synthesized);
    assert_eq!(stats.gaps, 0);
    assert_eq!(stats.live, 7, "{stats:?}");

    // A subscriber that comes late starts from the whole state.
    let (late, late_followed) = Follower::start();
    view.send(SubscribeRoomChanges(late.recipient()))
        .await
        .unwrap();
    let server = server_rooms(&emulator).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while late_followed.json() != server {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the late subscriber never caught up"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Changes made while no connection is up come back as synthesized notifications, then the rooms.
#[actix::test]
async fn what_changed_while_the_server_was_unreachable_is_synthesized_then_resynced() {
    let emulator = emulator(ServerVersion::V0_5).await;
    let room = emulator.create_room(&json!({})).unwrap().id.to_string();
    let leaves = peer(&emulator, &room);
    emulator.connect_peer(&room, &leaves).unwrap();
    let owner = TrackOwner::Peer(leaves.as_str().into());
    emulator
        .add_track(&room, &owner, TrackType::Audio, json!(null))
        .unwrap();
    let doomed = emulator.create_room(&json!({})).unwrap().id.to_string();

    let (follower, mut followed) = Follower::start();
    let view = RoomsView::builder(api(&emulator.server_address(), &emulator))
        .notifier(notifier(&emulator))
        .retry(quick())
        .subscribe(follower.recipient())
        .start();
    converged(&view, &emulator, LIMIT).await;
    while followed.changes.try_recv().is_ok() {}

    // Down for 300 ms; meanwhile a peer leaves, one arrives, a room goes, one comes.
    let changes = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(emulator.socket_counts().open, 0, "the server is down");
        emulator.delete_peer(&room, &leaves).unwrap();
        let arrives = peer(&emulator, &room);
        emulator.connect_peer(&room, &arrives).unwrap();
        emulator.delete_room(&doomed).unwrap();
        emulator
            .create_room(&json!({"roomId": "born-in-the-gap"}))
            .unwrap();
        arrives
    };
    let (restarted, arrives) = tokio::join!(emulator.restart(Duration::from_millis(300)), changes);
    restarted.unwrap();

    let mut synthesized = Vec::new();
    let report = followed
        .next_where("a resync after the gap", |change| match change {
            RoomChange::Synthesized(n) => {
                let who = n.view();
                synthesized.push(format!(
                    "{} {}",
                    n.kind(),
                    match who {
                        NotificationRef::PeerDeleted(p) => p.peer_id.to_string(),
                        NotificationRef::PeerAdded(p) => p.peer_id.to_string(),
                        NotificationRef::PeerConnected(p) => p.peer_id.to_string(),
                        NotificationRef::TrackRemoved(t) => t.track.id.to_string(),
                        _ => n.room_id().map(ToString::to_string).unwrap_or_default(),
                    }
                ));
                None
            }
            RoomChange::Synced(report) if matches!(report.reason, SyncReason::Gap(_)) => {
                Some(report)
            }
            _ => None,
        })
        .await;
    assert_eq!(report.scope, SyncScope::All);
    let track = emulator_track_gone(&synthesized);
    let mut expected = vec![
        "room_created born-in-the-gap".to_string(),
        track.clone(),
        format!("peer_deleted {leaves}"),
        format!("peer_added {arrives}"),
        format!("peer_connected {arrives}"),
        format!("room_deleted {doomed}"),
    ];
    let position = |line: &String| synthesized.iter().position(|l| l == line);
    // In the order the server would have sent them: a leaving peer's tracks first.
    assert!(position(&track) < position(&expected[2]), "{synthesized:?}");
    assert!(
        position(&expected[3]) < position(&expected[4]),
        "{synthesized:?}"
    );
    let mut got = synthesized.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(report.synthesized, 6);
    both_converged(&view, &emulator, &followed).await;
    assert_eq!(view.send(GetViewStats).await.unwrap().gaps, 1);
}

/// The synthesized `track_removed` line (its id is the emulator's).
fn emulator_track_gone(synthesized: &[String]) -> String {
    synthesized
        .iter()
        .find(|line| line.starts_with("track_removed "))
        .cloned()
        .expect("the leaving peer's track is removed")
}

/// A REST proxy in front of the emulator that can hold a `GET /room` twice: once after the request
/// arrived (before the server takes its snapshot) and once after the snapshot (before the answer
/// leaves), telling the test at each stop and waiting for its word to go on.
struct HeldProxy {
    url: String,
    stops: mpsc::UnboundedReceiver<&'static str>,
    go: mpsc::UnboundedSender<()>,
    armed: Arc<AtomicBool>,
}

struct ProxyState {
    upstream: String,
    armed: Arc<AtomicBool>,
    stops: mpsc::UnboundedSender<&'static str>,
    go: Mutex<mpsc::UnboundedReceiver<()>>,
}

async fn forward(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<ProxyState>,
) -> HttpResponse {
    let held = state.armed.load(Ordering::SeqCst)
        && request.method() == actix_web::http::Method::GET
        && request.path() == "/room";
    let mut go = if held {
        Some(state.go.lock().await)
    } else {
        None
    };
    if let Some(go) = &mut go {
        state.stops.send("request").unwrap();
        go.recv().await;
    }
    let mut upstream = awc::Client::default().request(
        request.method().clone(),
        format!("{}{}", state.upstream, request.uri()),
    );
    if let Some(auth) = request.headers().get("authorization") {
        upstream = upstream.insert_header(("authorization", auth.clone()));
    }
    let mut answer = upstream
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .expect("the emulator answers");
    let bytes = answer.body().limit(64 << 20).await.expect("a body");
    if let Some(go) = &mut go {
        state.stops.send("snapshot").unwrap();
        go.recv().await;
    }
    HttpResponse::build(answer.status())
        .content_type("application/json")
        .body(bytes)
}

impl HeldProxy {
    fn start(emulator: &Emulator) -> Self {
        let (stops_tx, stops) = mpsc::unbounded_channel();
        let (go, go_rx) = mpsc::unbounded_channel();
        let armed = Arc::new(AtomicBool::new(false));
        let state = web::Data::new(ProxyState {
            upstream: emulator.http_url(),
            armed: Arc::clone(&armed),
            stops: stops_tx,
            go: Mutex::new(go_rx),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(forward))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind");
        let addr = server.addrs()[0];
        actix::spawn(server.run());
        Self {
            url: format!("http://{addr}"),
            stops,
            go,
            armed,
        }
    }

    async fn stop(&mut self, expected: &str) {
        let stop = tokio::time::timeout(LIMIT, self.stops.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stop, expected);
    }
}

/// Live notifications received, up to `n`.
async fn live(followed: &mut rooms::Followed, n: usize) -> Vec<Notification> {
    let mut got = Vec::new();
    while got.len() < n {
        got.push(
            followed
                .next_where("a live notification", |change| match change {
                    RoomChange::Notification(n) => Some(n),
                    _ => None,
                })
                .await,
        );
    }
    got
}

/// A view whose REST calls go through a [`HeldProxy`], fed by a notifier, with a follower, once it
/// has converged.
async fn view_behind_a_held_proxy(
    emulator: &Emulator,
) -> (HeldProxy, Addr<RoomsView>, rooms::Followed) {
    let proxy = HeldProxy::start(emulator);
    let (follower, followed) = Follower::start();
    let view = RoomsView::builder(api(&proxy.url, emulator))
        .notifier(notifier(emulator))
        .subscribe(follower.recipient())
        .start();
    converged(&view, emulator, LIMIT).await;
    (proxy, view, followed)
}

/// The snapshot race: notifications that land after the snapshot request went out (some before
/// the server took the snapshot, some after it, before the answer arrived) are neither lost nor
/// applied out of order, and nothing is synthesized for them.
#[actix::test]
async fn notifications_landing_during_the_snapshot_are_neither_lost_nor_reordered() {
    let emulator = emulator(ServerVersion::V0_5).await;
    let room = emulator.create_room(&json!({})).unwrap().id.to_string();
    let first = peer(&emulator, &room);
    let (mut proxy, view, mut followed) = view_behind_a_held_proxy(&emulator).await;
    while followed.changes.try_recv().is_ok() {}

    // A gap: the resync's `GET /room` is held at both stops.
    proxy.armed.store(true, Ordering::SeqCst);
    emulator.drop_connections();
    proxy.stop("request").await;
    // Before the snapshot: it will include these, and the view gets them live too.
    emulator.connect_peer(&room, &first).unwrap();
    emulator
        .update_peer_metadata(&room, &first, json!({"v": 1}))
        .unwrap();
    let owner = TrackOwner::Peer(first.as_str().into());
    let t1 = emulator
        .add_track(&room, &owner, TrackType::Audio, json!({"t": 1}))
        .unwrap();
    live(&mut followed, 3).await;
    proxy.go.send(()).unwrap();
    proxy.stop("snapshot").await;
    // After the snapshot, before its answer: the snapshot lacks these.
    emulator
        .update_peer_metadata(&room, &first, json!({"v": 2}))
        .unwrap();
    let t2 = emulator
        .add_track(&room, &owner, TrackType::Video, json!({"t": 2}))
        .unwrap();
    emulator.remove_track(&room, &owner, &t1).unwrap();
    emulator
        .update_track_metadata(&room, &owner, &t2, json!({"t": 3}))
        .unwrap();
    let second = peer(&emulator, &room);
    emulator.connect_peer(&room, &second).unwrap();
    let late = live(&mut followed, 6).await;
    assert_eq!(late.last().map(Notification::kind), Some("peer_connected"));
    proxy.armed.store(false, Ordering::SeqCst);
    proxy.go.send(()).unwrap();

    let report = followed
        .next_where("the resync's report", |change| match change {
            RoomChange::Synced(report) => Some(report),
            RoomChange::Synthesized(n) => panic!("synthesized {n:?}: the view saw everything live"),
            _ => None,
        })
        .await;
    assert_eq!(
        report.replayed, 9,
        "every notification since the request was applied again"
    );
    assert_eq!(report.synthesized, 0);
    both_converged(&view, &emulator, &followed).await;
    let state = room_of(&view, &room).await;
    let peer = state.peers.iter().find(|p| *p.id == *first).unwrap();
    assert_eq!(
        peer.metadata.as_str(),
        r#"{"v":2}"#,
        "the later metadata won"
    );
    assert_eq!(peer.tracks.len(), 1);
    assert_eq!(
        (peer.tracks[0].id.as_str(), peer.tracks[0].metadata.as_str()),
        (t2.as_str(), r#"{"t":3}"#)
    );
}

/// Fishjam Cloud: typed peers with metadata and subscription settings that only REST shows (the
/// view fetches the room when such a peer arrives), Cloud's room configuration, no components.
#[actix::test]
async fn a_cloud_view_matches_cloud_rest_shapes() {
    let emulator = emulator(ServerVersion::Cloud).await;
    let (follower, followed) = Follower::start();
    let view = RoomsView::builder(api(&emulator.http_url(), &emulator))
        .notifier(notifier(&emulator))
        .subscribe(follower.recipient())
        .start();
    converged(&view, &emulator, LIMIT).await;
    let room = emulator
        .create_room(&json!({"roomType": "audio_only", "maxPeers": 3}))
        .unwrap()
        .id
        .to_string();
    let webrtc = emulator
        .add_peer_with(
            &room,
            &PeerOptions::Webrtc(WebRtcOptions {
                metadata: Some(Metadata::new(r#"{"name":"Zoë"}"#)),
                subscribe_mode: Some(SubscribeMode::Manual),
                ..WebRtcOptions::default()
            }),
        )
        .unwrap();
    emulator
        .add_peer_with(&room, &PeerOptions::Agent(AgentOptions::default()))
        .unwrap();
    emulator.connect_peer(&room, &webrtc.peer.id).unwrap();
    both_converged(&view, &emulator, &followed).await;
    let state = room_of(&view, &room).await;
    let agent = state
        .peers
        .iter()
        .find(|p| p.peer_type == PeerType::Agent)
        .expect("the agent");
    assert!(
        agent.subscribe_mode.is_some(),
        "Cloud's subscription settings came from REST"
    );
    assert_eq!(state.config.room_type, Some(RoomType::AudioOnly));
}

/// Webhooks only: live changes come through the extractor; a change no webhook reports (a room
/// without a webhook URL) is found by the periodic resync, since a lost webhook is invisible.
#[actix::test]
async fn a_webhook_fed_view_finds_what_no_webhook_said_on_its_periodic_resync() {
    let emulator = emulator(ServerVersion::V0_5).await;
    let (follower, mut followed) = Follower::start();
    let view = RoomsView::builder(api(&emulator.server_address(), &emulator))
        .resync_every(Some(Duration::from_millis(300)))
        .subscribe(follower.recipient())
        .start();
    let hook = view.clone();
    let server = HttpServer::new(move || {
        let view = hook.clone();
        App::new().route(
            "/webhook",
            web::post().to(move |notifications: Webhook| {
                for notification in notifications {
                    view.do_send(notification);
                }
                async { HttpResponse::Ok().finish() }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let webhook_url = format!("http://{}/webhook", server.addrs()[0]);
    actix::spawn(server.run());
    tokio::time::timeout(LIMIT, view.send(WaitSynced))
        .await
        .unwrap()
        .unwrap();

    let hooked = emulator
        .create_room(&json!({"webhookUrl": webhook_url}))
        .unwrap()
        .id
        .to_string();
    let joined = peer(&emulator, &hooked);
    emulator.connect_peer(&hooked, &joined).unwrap();
    let kinds: Vec<&str> = live(&mut followed, 3)
        .await
        .iter()
        .map(Notification::kind)
        .collect();
    assert_eq!(
        kinds,
        ["room_created", "peer_added", "peer_connected"],
        "live, by webhook"
    );

    let silent = emulator.create_room(&json!({})).unwrap().id.to_string();
    peer(&emulator, &silent);
    let mut synthesized = Vec::new();
    followed
        .next_where("the periodic resync", |change| match change {
            RoomChange::Synthesized(n) => {
                synthesized.push(n);
                None
            }
            RoomChange::Synced(report)
                if report.reason == SyncReason::Periodic && !synthesized.is_empty() =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    let kinds: Vec<(&str, Option<&RoomId>)> = synthesized
        .iter()
        .map(|n| (n.kind(), n.room_id()))
        .collect();
    let silent_id: RoomId = silent.as_str().into();
    assert_eq!(
        kinds,
        [
            ("room_created", Some(&silent_id)),
            ("peer_added", Some(&silent_id))
        ]
    );
    both_converged(&view, &emulator, &followed).await;
}

/// With both feeds, webhook copies are skipped while the notifier is connected (they would arrive
/// a second time, maybe out of order), and applied while it is not.
#[actix::test]
async fn with_both_feeds_webhooks_count_only_while_the_notifier_is_down() {
    let emulator = emulator(ServerVersion::V0_5).await;
    let room = emulator.create_room(&json!({})).unwrap().id.to_string();
    let (follower, mut followed) = Follower::start();
    let view = RoomsView::builder(api(&emulator.server_address(), &emulator))
        .notifier(notifier(&emulator))
        .subscribe(follower.recipient())
        .start();
    converged(&view, &emulator, LIMIT).await;
    // A copy of something the notifier delivers: skipped.
    view.send(Notification::from(PeerAdded::new(room.as_str(), "ghost")))
        .await
        .unwrap();
    let stats = view.send(GetViewStats).await.unwrap();
    assert_eq!(stats.webhook_duplicates, 1);
    assert!(room_of(&view, &room).await.peers.is_empty());
    while followed.changes.try_recv().is_ok() {}
    // While the server is down, a webhook is the only news: applied at once.
    let restart = emulator.restart(Duration::from_millis(400));
    let news = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let joined = peer(&emulator, &room);
        view.send(Notification::from(PeerAdded::new(
            room.as_str(),
            joined.as_str(),
        )))
        .await
        .unwrap();
        let got = live(&mut followed, 1).await;
        assert_eq!(got[0].kind(), "peer_added");
        assert_eq!(
            emulator.socket_counts().open,
            0,
            "applied while the server was down"
        );
    };
    let (restarted, ()) = tokio::join!(restart, news);
    restarted.unwrap();
    both_converged(&view, &emulator, &followed).await;
    assert_eq!(view.send(GetViewStats).await.unwrap().webhook_duplicates, 1);
}

/// A room deleted and created again under the same id while the connection was down, then a
/// live change while the resync's `GET /room` is held: the view's state mixes the room before the
/// gap with what came after, and everything handed out says so (`is_synced() == false`, the JSON's
/// `"synced": false`, the last good state's time kept) until the resync's answer is in; then it is
/// the server's state again, synced.
#[actix::test]
async fn from_a_gap_until_its_resync_every_state_handed_out_says_it_is_not_synced() {
    let emulator = emulator(ServerVersion::V0_5).await;
    emulator
        .create_room(&json!({"roomId": "same", "maxPeers": 2}))
        .unwrap();
    peer(&emulator, "same");
    let (mut proxy, view, mut followed) = view_behind_a_held_proxy(&emulator).await;
    let before = view.send(GetRooms).await.unwrap();
    assert!(before.is_synced());
    let synced_at = before.synced_at().expect("a first sync");
    assert!(followed.model.lock().unwrap().is_synced());

    // Down for 300 ms; meanwhile the room goes and comes back under the same id.
    proxy.armed.store(true, Ordering::SeqCst);
    let changes = async {
        assert!(
            emulator
                .wait_until(LIMIT, |e| e.socket_counts().open == 0)
                .await
        );
        emulator.delete_room("same").unwrap();
        emulator
            .create_room(&json!({"roomId": "same", "maxPeers": 5}))
            .unwrap();
        peer(&emulator, "same")
    };
    let (restarted, newcomer) =
        futures_util::join!(emulator.restart(Duration::from_millis(300)), changes);
    restarted.unwrap();
    followed
        .next_where("the view saying it is out of sync", |change| {
            matches!(change, RoomChange::Unsynced(SyncReason::Gap(_))).then_some(())
        })
        .await;
    // The resync's GET /room is held; a live change lands on the stale room.
    proxy.stop("request").await;
    emulator.connect_peer("same", &newcomer).unwrap();
    live(&mut followed, 1).await;
    let during = view.send(GetRooms).await.unwrap();
    assert!(!during.is_synced(), "the mixed state says it is not synced");
    assert_eq!(
        during.synced_at(),
        Some(synced_at),
        "the last good state's time"
    );
    assert_eq!(serde_json::to_value(&during).unwrap()["synced"], false);
    assert!(!followed.model.lock().unwrap().is_synced());

    proxy.armed.store(false, Ordering::SeqCst);
    proxy.go.send(()).unwrap();
    proxy.stop("snapshot").await;
    proxy.go.send(()).unwrap();
    followed
        .next_where(
            "the resync that brings it back in sync",
            |change| match change {
                RoomChange::Synced(report) if report.in_sync => Some(()),
                _ => None,
            },
        )
        .await;
    both_converged(&view, &emulator, &followed).await;
    let after = view.send(GetRooms).await.unwrap();
    assert!(after.is_synced());
    assert!(after.synced_at() > Some(synced_at));
    assert!(followed.model.lock().unwrap().is_synced());
    let room = room_of(&view, "same").await;
    assert_eq!(room.config.max_peers, Some(5), "the new room's config");
    assert_eq!(room.peers.len(), 1, "the new room's peer only");
}

/// A view fed live notifications only (its REST calls never answer, so nothing comes from a
/// resync): its gauges are read from its model after every change, and equal it.
#[cfg(feature = "metrics")]
#[actix::test]
async fn fed_live_notifications_only_its_gauges_equal_its_model() {
    use jellyfish_notifier::metrics::RoomsViewMetrics;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = RoomsViewMetrics::register(&mut registry);
    let unreachable = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let view = RoomsView::builder(RoomApi::new(unreachable.to_string(), "token").unwrap())
        .resync_every(None)
        .retry(quick())
        .metrics(metrics)
        .start();
    let live = [
        Notification::from(RoomCreated::new("r1")),
        Notification::from(PeerAdded::new("r1", "p1")),
        Notification::from(PeerConnected::new("r1", "p1")),
        Notification::from(PeerAdded::new("r1", "p2")),
        Notification::from(RoomCreated::new("r2")),
        Notification::from(PeerAdded::new("r2", "p3")),
        Notification::from(PeerAdded::new("r2", "p4")),
        Notification::from(PeerAdded::new("r2", "p5")),
        Notification::from(PeerDeleted::new("r2", "p4")),
    ];
    for notification in live {
        view.send(notification).await.unwrap();
    }
    let model = view.send(GetRooms).await.unwrap();
    let peers: usize = model.rooms().map(|room| room.peers.len()).sum();
    assert_eq!((model.len(), peers, model.peers()), (2, 4, 4));
    let mut scrape = String::new();
    prometheus_client::encoding::text::encode(&mut scrape, &registry).unwrap();
    let gauge = |name: &str| {
        scrape
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in {scrape}"))
    };
    assert_eq!(gauge("jellyfish_rooms_view_rooms"), 2.0, "{scrape}");
    assert_eq!(gauge("jellyfish_rooms_view_peers"), 4.0, "{scrape}");
    assert_eq!(
        gauge("jellyfish_rooms_view_synced"),
        f64::from(u8::from(model.is_synced())),
        "{scrape}"
    );
}
