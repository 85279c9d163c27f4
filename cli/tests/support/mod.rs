//! What the CLI's test files share: the binary with a clean environment, children killed on drop,
//! free ports, and a small HTTP GET for the daemons' endpoints.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;

/// The binary, with none of the variables that stand in for flags.
pub fn cli() -> Command {
    let mut command = Command::cargo_bin("jellyfish-notify").expect("the binary is built");
    command
        .env_remove("JF_SERVER_ADDRESS")
        .env_remove("JF_SERVER_API_TOKEN")
        .env_remove("FISHJAM_ID")
        .env_remove("FISHJAM_URL")
        .env_remove("FISHJAM_MANAGEMENT_TOKEN")
        .env_remove("FISHJAM_WEBHOOK_SECRET")
        .env_remove("NATS_URL")
        .env("NO_COLOR", "1");
    command
}

/// A child that is killed when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET http://127.0.0.1:{port}{path}`: the status and the body (`None` if nothing answers).
/// Blocking, on a thread of its own, so an in-process server keeps serving.
pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let path = path.to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let status = answer.split(' ').nth(1)?.parse().ok()?;
        let body = answer.split_once("\r\n\r\n")?.1.to_owned();
        Some((status, body))
    })
    .await
    .ok()?
}

/// Waits until `GET path` answers `status` (at most `within`); answers the body.
pub async fn until_status(port: u16, path: &str, status: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut last = None;
    while Instant::now() < deadline {
        match get(port, path).await {
            Some((got, body)) if got == status => return body,
            other => last = other,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} on port {port} never answered {status} within {within:?}; last: {last:?}");
}

/// The value of the sample `name` (with its labels as written, e.g. `x_total{kind="a"}`) in a
/// scrape, if it is there.
pub fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// `promtool check metrics` (Debian's prometheus package) accepts `scrape`.
pub fn promtool_accepts(scrape: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (apt-get install prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}\n{scrape}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
