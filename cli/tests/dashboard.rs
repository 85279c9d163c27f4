//! `jellyfish-notify dashboard` in a real browser: Debian's chromium, headless, driven through
//! chromium-driver (WebDriver) with fantoccini. Ignored by a plain `cargo test` (a fresh machine
//! has no browser); `.ci/run` installs them and runs these with `--ignored`.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use support::{Running, cli, free_port};

/// chromedriver on a free port, and a headless chromium session through it.
async fn browser() -> (Running, Client) {
    let port = free_port();
    let driver = Running(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium-driver)"),
    );
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--enable-precise-memory-info"],
        }),
    );
    capabilities.insert("goog:loggingPrefs".to_owned(), json!({ "browser": "ALL" }));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("no WebDriver session: {err}"),
        }
    }
}

/// The browser's console since the last call (chromedriver's log endpoint).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Evaluates `script` (a function body that returns a value) in the page.
async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// Waits until `script` returns `expected` (at most `within`); answers how long it took.
async fn until_js(client: &Client, script: &str, expected: Value, within: Duration) -> Duration {
    let started = Instant::now();
    let mut last = Value::Null;
    while started.elapsed() < within {
        last = js(client, script).await;
        if last == expected {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{script}: {last} is not {expected} after {within:?}");
}

const ROOM_IDS: &str =
    "return [...document.querySelectorAll('[data-room-id]')].map(e => e.dataset.roomId).sort()";
const BADGE: &str = "return document.getElementById('badge').dataset.connectionState";

fn peers_of(room: &str) -> String {
    format!(
        "return [...document.querySelectorAll('[data-room-id=\"{room}\"] [data-peer-id]')].map(e => e.dataset.peerStatus + ':' + e.querySelectorAll('[data-track-id]').length)"
    )
}

/// `jellyfish-notify emulate` on `port`.
fn emulate(port: u16) -> Running {
    Running(
        cli()
            .args(["emulate", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A REST call to the emulator with the development token.
async fn rest(port: u16, method: &str, path: &str, body: Value) -> Value {
    let client = awc::Client::default();
    let url = format!("http://127.0.0.1:{port}{path}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let request = match method {
            "DELETE" => client.delete(&url),
            _ => client.post(&url),
        }
        .bearer_auth("development");
        match request.send_json(&body).await {
            Ok(mut response) => {
                assert!(
                    response.status().is_success(),
                    "{method} {path}: {}",
                    response.status()
                );
                return response
                    .json::<Value>()
                    .limit(1 << 24)
                    .await
                    .unwrap_or(Value::Null);
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(err) => panic!("{method} {path}: {err}"),
        }
    }
}

/// Adds a peer to `room` over REST; answers its id.
async fn add_peer(port: u16, room: &str) -> String {
    let answer = rest(
        port,
        "POST",
        &format!("/room/{room}/peer"),
        json!({"type": "webrtc", "options": {}}),
    )
    .await;
    answer["data"]["peer"]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
#[ignore = "needs Debian's chromium and chromium-driver: .ci/run installs them and runs these with --ignored"]
async fn the_page_follows_the_server_live_and_its_controls_drive_the_emulator() {
    let server = free_port();
    let mut emulator = emulate(server);
    rest(server, "POST", "/room", json!({"roomId": "before"})).await;
    let early = add_peer(server, "before").await;
    add_peer(server, "before").await;
    rest(
        server,
        "POST",
        &format!("/emulator/room/before/peer/{early}/connect"),
        json!({}),
    )
    .await;

    let listen = free_port();
    let _dashboard = Running(
        cli()
            .args(["dashboard", "--server", &format!("127.0.0.1:{server}")])
            .args(["--listen", &format!("127.0.0.1:{listen}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::until_status(listen, "/", 200, Duration::from_secs(10)).await;
    let (_driver, client) = browser().await;
    client
        .goto(&format!("http://127.0.0.1:{listen}/"))
        .await
        .unwrap();

    // What existed before the page opened.
    until_js(
        &client,
        ROOM_IDS,
        json!(["before"]),
        Duration::from_secs(10),
    )
    .await;
    until_js(&client, BADGE, json!("connected"), Duration::from_secs(10)).await;
    let mut peers = js(&client, &peers_of("before")).await;
    peers
        .as_array_mut()
        .unwrap()
        .sort_by_key(ToString::to_string);
    assert_eq!(peers, json!(["connected:0", "disconnected:0"]));

    // Live, each within a second of the server's answer, without a reload.
    rest(server, "POST", "/room", json!({"roomId": "live"})).await;
    let took = until_js(
        &client,
        ROOM_IDS,
        json!(["before", "live"]),
        Duration::from_secs(1),
    )
    .await;
    println!("a new room shown after {took:?}");
    let peer = add_peer(server, "live").await;
    until_js(
        &client,
        &peers_of("live"),
        json!(["disconnected:0"]),
        Duration::from_secs(1),
    )
    .await;
    rest(
        server,
        "POST",
        &format!("/emulator/room/live/peer/{peer}/connect"),
        json!({}),
    )
    .await;
    until_js(
        &client,
        &peers_of("live"),
        json!(["connected:0"]),
        Duration::from_secs(1),
    )
    .await;
    rest(
        server,
        "POST",
        &format!("/emulator/room/live/peer/{peer}/track"),
        json!({"type": "video"}),
    )
    .await;
    until_js(
        &client,
        &peers_of("live"),
        json!(["connected:1"]),
        Duration::from_secs(1),
    )
    .await;
    rest(server, "DELETE", "/room/before", json!({})).await;
    until_js(&client, ROOM_IDS, json!(["live"]), Duration::from_secs(1)).await;
    let kinds = js(
        &client,
        "return [...document.querySelectorAll('#log [data-kind]')].map(e => e.dataset.kind)",
    )
    .await;
    for kind in [
        "room_created",
        "peer_connected",
        "track_added",
        "room_deleted",
    ] {
        assert!(
            kinds.as_array().unwrap().iter().any(|k| k == kind),
            "{kind} in the log: {kinds}"
        );
    }

    // The controls create what they say.
    client
        .find(fantoccini::Locator::Id("new-room-id"))
        .await
        .unwrap()
        .send_keys("clicked")
        .await
        .unwrap();
    client
        .find(fantoccini::Locator::Id("create-room"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_js(
        &client,
        ROOM_IDS,
        json!(["clicked", "live"]),
        Duration::from_secs(5),
    )
    .await;
    let click = |selector: String| {
        let client = client.clone();
        async move {
            client
                .find(fantoccini::Locator::Css(&selector))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };
    click("[data-room-id=\"clicked\"] [data-action=\"add-peer\"]".to_owned()).await;
    until_js(
        &client,
        &peers_of("clicked"),
        json!(["disconnected:0"]),
        Duration::from_secs(5),
    )
    .await;
    click("[data-room-id=\"clicked\"] [data-action=\"connect\"]".to_owned()).await;
    until_js(
        &client,
        &peers_of("clicked"),
        json!(["connected:0"]),
        Duration::from_secs(5),
    )
    .await;
    click("[data-room-id=\"clicked\"] [data-action=\"add-audio\"]".to_owned()).await;
    until_js(
        &client,
        &peers_of("clicked"),
        json!(["connected:1"]),
        Duration::from_secs(5),
    )
    .await;
    let listed = awc::Client::default()
        .get(format!("http://127.0.0.1:{server}/room"))
        .bearer_auth("development")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let clicked = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|room| room["id"] == "clicked")
        .expect("the room the button created is on the server")
        .clone();
    assert_eq!(clicked["peers"][0]["status"], "connected", "{clicked}");
    assert_eq!(
        clicked["peers"][0]["tracks"][0]["type"], "audio",
        "{clicked}"
    );

    // A metrics report reaches the page as numbers per peer.
    until_js(
        &client,
        "return document.querySelectorAll('[data-room-id=\"live\"] [data-bitrate]').length > 0",
        json!(true),
        Duration::from_secs(5),
    )
    .await;

    let screenshot = client.screenshot().await.unwrap();
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard.png");
    std::fs::write(&shot, &screenshot).unwrap();
    if std::env::var_os("DASHBOARD_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/dashboard-screenshot.png");
        std::fs::write(docs, &screenshot).unwrap();
    }

    // The server killed, and a new one on the same port with other rooms: the badge leaves
    // `connected`, and the page converges on the new server's rooms.
    drop(emulator);
    until_js(
        &client,
        "return document.getElementById('badge').dataset.connectionState !== 'connected'",
        json!(true),
        Duration::from_secs(10),
    )
    .await;
    emulator = emulate(server);
    rest(server, "POST", "/room", json!({"roomId": "new-1"})).await;
    rest(server, "POST", "/room", json!({"roomId": "new-2"})).await;
    until_js(
        &client,
        ROOM_IDS,
        json!(["new-1", "new-2"]),
        Duration::from_secs(20),
    )
    .await;
    until_js(&client, BADGE, json!("connected"), Duration::from_secs(10)).await;

    // Nothing but loopback was asked for, and the console has no errors.
    let urls = js(
        &client,
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]",
    )
    .await;
    for url in urls.as_array().unwrap() {
        assert!(
            url.as_str()
                .unwrap()
                .starts_with(&format!("http://127.0.0.1:{listen}/")),
            "a request off loopback or to another server: {url}"
        );
    }
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    let errors: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    client.close().await.unwrap();
    drop(emulator);
}

/// 1 000 rooms of 5 peers, then a burst of 1 000 changes (a peer connecting in every room): the
/// page shows all of it, and the time to show it and the page's memory are printed (quoted in
/// BENCHMARKS.md). The test checks what is shown, not how fast.
#[actix_web::test]
#[ignore = "needs Debian's chromium and chromium-driver: .ci/run installs them and runs these with --ignored"]
async fn a_thousand_rooms_and_a_burst_of_a_thousand_changes_are_all_shown() {
    let emulator = jellyfish_emulator::Emulator::builder()
        .record(false)
        .start()
        .await
        .unwrap();
    let mut first_peers = Vec::new();
    for room in 0..1000 {
        let id = format!("room-{room:04}");
        emulator.create_room(&json!({ "roomId": id })).unwrap();
        for peer in 0..5 {
            let added = emulator.add_peer(&id).unwrap();
            if peer == 0 {
                first_peers.push((id.clone(), added.peer.id.to_string()));
            }
        }
    }
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
    support::until_status(listen, "/", 200, Duration::from_secs(10)).await;
    let (_driver, client) = browser().await;
    let opened = Instant::now();
    client
        .goto(&format!("http://127.0.0.1:{listen}/"))
        .await
        .unwrap();
    let peers = "return document.querySelectorAll('[data-peer-id]').length";
    until_js(&client, peers, json!(5000), Duration::from_secs(60)).await;
    let shown = opened.elapsed();
    let heap = js(&client, "return performance.memory.usedJSHeapSize").await;

    let burst = Instant::now();
    for (room, peer) in &first_peers {
        emulator.connect_peer(room, peer).unwrap();
    }
    let connected = "return document.querySelectorAll('[data-peer-status=\"connected\"]').length";
    until_js(&client, connected, json!(1000), Duration::from_secs(60)).await;
    let burst_shown = burst.elapsed();
    // When the dashboard's server had them: the log's entries carry its clock.
    let spread = js(
        &client,
        "const at = state.log.filter(e => e.kind === 'peer_connected').map(e => e.at); return [Math.min(...at), Math.max(...at), at.length]",
    )
    .await;
    println!(
        "peer_connected entries (first ms, last ms, count) at the dashboard's server: {spread}"
    );
    let heap_after = js(&client, "return performance.memory.usedJSHeapSize").await;
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["level"] != "SEVERE"),
        "{log}"
    );
    println!(
        "dashboard, 1 000 rooms × 5 peers: shown {shown:?} after the page was asked for; JS heap {:.1} MiB",
        heap.as_f64().unwrap_or(0.0) / 1048576.0
    );
    println!(
        "dashboard, a burst of 1 000 peer_connected: all shown {burst_shown:?} after the first was sent; JS heap {:.1} MiB",
        heap_after.as_f64().unwrap_or(0.0) / 1048576.0
    );
    client.close().await.unwrap();
}
