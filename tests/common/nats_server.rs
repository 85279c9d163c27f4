//! A real `nats-server -js` for tests: a free loopback port, a store of its own, SIGKILL and
//! start again on the same port and store.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jellyfish_notifier::nats::DEFAULT_STREAM;

/// A `nats-server -js` on a free port, with its store in a temporary folder; killed on drop.
pub struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store =
            std::env::temp_dir().join(format!("jellyfish-nats-{}-{port}", std::process::id()));
        let mut server = Self {
            port,
            store,
            child: None,
        };
        server.spawn();
        server
    }

    pub fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (apt-get install nats-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no goodbye, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Killed, its store wiped, started again on the same port: a server restarted without its
    /// store.
    pub fn restart_without_store(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
        self.spawn();
    }

    /// SIGSTOP: the connection stays up and nothing is answered, as a server that hangs.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`NatsServer::pause`].
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Every message of the stream, in order (none while there is no stream).
    pub async fn messages(&self) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let client = async_nats::connect(self.url()).await.expect("connect");
        let jetstream = async_nats::jetstream::new(client);
        let Ok(mut stream) = jetstream.get_stream(DEFAULT_STREAM).await else {
            return Vec::new();
        };
        let last = stream.info().await.expect("info").state.last_sequence;
        let mut all = Vec::new();
        for sequence in 1..=last {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                all.push(message);
            }
        }
        all
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
