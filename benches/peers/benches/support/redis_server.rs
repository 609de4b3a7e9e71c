//! A throwaway `redis-server` for the bench: its own loopback port and
//! directory, no persistence, killed (and its directory removed) on drop.
//! Never the shared Redis on 6379.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn pong(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "ping"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"PONG"))
}

impl RedisServer {
    /// Starts a server and waits until it answers `PING` (panics after 10 s).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// As [`start`](Self::start), with more `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        for _attempt in 0..5 {
            let port = free_port();
            assert_ne!(port, 6379, "never the shared Redis");
            let dir = std::env::temp_dir().join(format!(
                "jwt-guard-peers-redis-{}-{port}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("redis temp dir");
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                // A replica syncs at once (the default waits 5 s for more).
                .args(["--repl-diskless-sync-delay", "0"])
                .arg("--dir")
                .arg(&dir)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server (is it installed?)");
            let mut server = Self { child, port, dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if pong(port) {
                    return server;
                }
                if server.child.try_wait().ok().flatten().is_some() {
                    break; // lost the port race: try another
                }
                sleep(Duration::from_millis(20));
            }
            drop(server); // kills it, removes the directory
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A replica of `master`, returned once the master counts it online
    /// (panics after 10 s). A replica that has loaded the master's data
    /// says its link is up at once, but with diskless sync the master counts
    /// it for `WAIT` only after its first `REPLCONF ACK`, sent up to a
    /// second later.
    pub fn replica_of(master: &RedisServer) -> Self {
        let replica = Self::start_with(&["--replicaof", &format!("127.0.0.1 {}", master.port)]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(replica
            .cli(&["INFO", "replication"])
            .contains("master_link_status:up")
            && master
                .cli(&["INFO", "replication"])
                .contains(",state=online,"))
        {
            assert!(Instant::now() < deadline, "the replica did not sync");
            sleep(Duration::from_millis(20));
        }
        replica
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A Redis Cluster of `masters` masters and no replicas, each a
/// [`RedisServer`], the slots spread evenly by `redis-cli --cluster create`.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster and waits until every node
    /// says `cluster_state:ok` (panics after 30 s).
    pub fn start(masters: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !nodes
            .iter()
            .all(|node| node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "the cluster did not come up");
            sleep(Duration::from_millis(50));
        }
        Self { nodes }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
