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
                .arg("--dir")
                .arg(&dir)
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
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
