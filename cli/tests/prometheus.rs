//! The daemons' `/metrics` as a monitoring system sees them: every command's scrape passes
//! `promtool check metrics`, and a real Prometheus server (Debian's package) scraping two commands
//! reports over its HTTP API what they did. Ignored by a plain `cargo test` (a fresh machine has no
//! prometheus); `.ci/run` installs it and runs them with `--ignored`.

mod support;
#[allow(dead_code)]
#[path = "../../tests/common/target.rs"]
mod target;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jellyfish_emulator::Emulator;
use serde_json::json;
use support::{Running, cli, free_port, get, promtool_accepts, until_status};

/// Starts `args` with `--metrics-listen` on a free port, once `/readyz` answers 200.
async fn daemon(args: &[&str]) -> (Running, u16) {
    let port = free_port();
    let child = Running(
        cli()
            .args(args)
            .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    until_status(port, "/readyz", 200, Duration::from_secs(15)).await;
    (child, port)
}

#[actix_web::test]
#[ignore = "needs Debian's prometheus (promtool): .ci/run installs it and runs these with --ignored"]
async fn every_commands_metrics_pass_promtool_and_a_real_prometheus_scrapes_two() {
    let emulator = Emulator::builder().start().await.unwrap();
    let server = emulator.server_address();
    let mut target = target::Target::new();
    target.up();
    let webhook_port = free_port();
    let emulate_port = free_port();
    let tail = daemon(&["tail", "--server", &server]).await;
    let forward = daemon(&["forward", "--server", &server, "--to", &target.url()]).await;
    let rooms = daemon(&["rooms", "--server", &server]).await;
    let webhook = daemon(&["webhook", "--listen", &format!("127.0.0.1:{webhook_port}")]).await;
    let emulate = daemon(&["emulate", "--port", &emulate_port.to_string()]).await;
    for i in 0..4 {
        emulator
            .create_room(&json!({ "roomId": format!("p{i}") }))
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while target.posts().len() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (name, (_, port)) in [
        ("tail", &tail),
        ("forward", &forward),
        ("rooms", &rooms),
        ("webhook", &webhook),
        ("emulate", &emulate),
    ] {
        let (status, scrape) = get(*port, "/metrics").await.unwrap();
        assert_eq!(status, 200, "{name}");
        assert!(scrape.contains("# TYPE"), "{name}: {scrape}");
        promtool_accepts(&scrape);
    }

    // A real Prometheus scrapes tail and forward every second.
    let dir = std::env::temp_dir().join(format!("jellyfish-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tail\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n  - job_name: forward\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            tail.1, forward.1
        ),
    )
    .unwrap();
    let web = free_port();
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (apt-get install prometheus)"),
    );
    let query =
        "/api/v1/query?query=jellyfish_notifier_notifications_total%7Bkind%3D%22room_created%22%7D";
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    let mut by_job = std::collections::BTreeMap::new();
    while Instant::now() < deadline {
        if let Some((200, body)) = get(web, query).await {
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
            by_job = answer["data"]["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["metric"]["job"].as_str().unwrap().to_owned(),
                        r["value"][1].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            last = body;
            if by_job.len() == 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        by_job,
        [
            ("forward".to_owned(), "4".to_owned()),
            ("tail".to_owned(), "4".to_owned())
        ]
        .into_iter()
        .collect(),
        "Prometheus has both jobs' counts: {last}"
    );
    let delivered = "/api/v1/query?query=jellyfish_forward_delivered_total";
    let (_, body) = get(web, delivered).await.unwrap();
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["data"]["result"][0]["value"][1], "4", "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
