//! A real `nats-server -js` for tests: a free loopback port, a store of its own, SIGKILL and
//! start again on the same port and store. Also what the cluster helper starts its nodes with:
//! ports never handed out twice in one process, and a start that waits for the server to listen
//! and, if it does not, says why from the server's own log.

#![allow(dead_code)]

use std::collections::HashSet;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
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
        let port = free_port();
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
        let mut command = Command::new("nats-server");
        command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store);
        self.child = Some(spawn_nats(command, self.port, &self.store, "nats-server"));
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
        // Stopped once every thread of it is: kill(1) returns when the signal is sent, and a
        // thread then running could still answer one more message.
        let pid = self.child.as_ref().expect("running").id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_threads_stopped(pid) {
            assert!(Instant::now() < deadline, "nats-server {pid} did not stop");
            std::thread::sleep(Duration::from_millis(1));
        }
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

    /// Its client address.
    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
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
        let _ = std::fs::remove_file(self.store.with_extension("log"));
    }
}

/// Loopback ports handed out by [`free_port`] in this process: two servers started at once (tests
/// run in parallel) never get the same port, which the kernel alone does not promise between one
/// `bind(0)` being closed and the server binding the port.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port nothing listens on, never handed out before in this process.
pub fn free_port() -> u16 {
    let mut handed_out = HANDED_OUT.lock().unwrap();
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// Spawns `command` (a `nats-server` whose client port is `port` and whose store is `store`), its
/// output in `<store>.log`, and waits until it listens. Panics, with the end of that log, if the
/// server exits first or does not listen within 30 s.
pub fn spawn_nats(mut command: Command, port: u16, store: &Path, what: &str) -> Child {
    let log_path = store.with_extension("log");
    let log = std::fs::File::create(&log_path).expect("a log file for nats-server");
    let mut child = command
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nats-server is installed (apt-get install nats-server)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let failed = match child.try_wait().unwrap() {
            Some(status) => format!("exited ({status})"),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                "did not listen within 30 s".to_owned()
            }
            None => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let said = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = said.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{what} on 127.0.0.1:{port} {failed}; the end of its log ({}):\n{}",
            log_path.display(),
            tail.join("\n")
        );
    }
    child
}

/// Whether every thread of process `pid` is stopped (state `T` in `/proc`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // The state follows the command's closing parenthesis.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
        })
    })
}
