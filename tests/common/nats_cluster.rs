//! A real three-node `nats-server -js` cluster on loopback for tests: distinct client and cluster
//! ports, routes to each other, a store per node; nodes killed (SIGKILL) and started again on
//! their stores. Each cluster has a name of its own, so two started at once never join. The
//! including file also includes `nats_server.rs` as `nats_server`: ports and starts come from it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};

use super::nats_server::{free_port, spawn_nats};

struct Node {
    name: String,
    port: u16,
    cluster_port: u16,
    store: PathBuf,
    child: Option<Child>,
}

/// A cluster of `nats-server -js`; every node killed on drop.
pub struct NatsCluster {
    name: String,
    nodes: Vec<Node>,
}

impl NatsCluster {
    pub fn start(size: usize) -> Self {
        let nodes = (0..size)
            .map(|i| {
                let port = free_port();
                Node {
                    name: format!("n{i}"),
                    port,
                    cluster_port: free_port(),
                    store: std::env::temp_dir().join(format!(
                        "jellyfish-nats-cluster-{}-{port}",
                        std::process::id()
                    )),
                    child: None,
                }
            })
            .collect::<Vec<Node>>();
        let name = format!("jellyfish-test-{}-{}", std::process::id(), nodes[0].port);
        let mut cluster = Self { name, nodes };
        for i in 0..size {
            cluster.spawn(i);
        }
        cluster
    }

    /// Starts node `i` (again) on its ports and store.
    pub fn spawn(&mut self, i: usize) {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect();
        let node = &mut self.nodes[i];
        let mut command = Command::new("nats-server");
        command
            .args(["-js", "-a", "127.0.0.1", "-n", &node.name])
            .args(["-p", &node.port.to_string()])
            .arg("-sd")
            .arg(&node.store)
            .args(["--cluster_name", &self.name])
            .args([
                "--cluster",
                &format!("nats://127.0.0.1:{}", node.cluster_port),
            ])
            .args(["--routes", &routes.join(",")]);
        let what = format!("node {i} ({}) of {}", node.name, self.name);
        node.child = Some(spawn_nats(command, node.port, &node.store, &what));
    }

    /// SIGKILL node `i`: no goodbye, as a crash.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM node `i` and wait for it to exit: a graceful stop (an operator's restart).
    pub fn terminate(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill(1)");
            assert!(status.success(), "SIGTERM to node {i}");
            let _ = child.wait();
        }
    }

    /// Every node's client URL, comma-separated (as `--nats` takes them).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// The index of the node named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    async fn jetstream(&self) -> async_nats::jetstream::Context {
        let urls = self.urls();
        let servers: Vec<&str> = urls.split(',').collect();
        let client = async_nats::connect(servers)
            .await
            .expect("connect to the cluster");
        async_nats::jetstream::new(client)
    }

    /// The name of the node leading `stream`, and whether every replica is current.
    pub async fn leader(&self, stream: &str) -> Option<(String, bool)> {
        let mut stream = self.jetstream().await.get_stream(stream).await.ok()?;
        let info = stream.info().await.ok()?;
        let cluster = info.cluster.clone()?;
        let current = cluster.replicas.iter().all(|r| r.current);
        Some((
            cluster.leader?,
            current && cluster.replicas.len() + 1 == self.nodes.len(),
        ))
    }

    /// Every message of `stream`, in order.
    pub async fn messages(
        &self,
        stream: &str,
    ) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let mut stream = self
            .jetstream()
            .await
            .get_stream(stream)
            .await
            .expect("the stream");
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

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
            let _ = std::fs::remove_dir_all(&self.nodes[i].store);
            let _ = std::fs::remove_file(self.nodes[i].store.with_extension("log"));
        }
    }
}
