//! Running an example binary as a newcomer would: built by `cargo test`
//! next to the test binaries, started on a free port, killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client;
use super::redis::free_port;

/// The example binary `name`.
pub fn binary(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A command for example `name` with only `env` (and `RUST_LOG=warn`) set.
pub fn command(name: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary(name));
    command.env_clear().env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A running example, killed when dropped.
pub struct Example {
    child: Child,
    pub url: String,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts example `name` with `env` and `BIND` on a free port, and waits
/// until `GET {ready_path}` answers 200.
pub async fn start(name: &str, env: &[(&str, &str)], ready_path: &str) -> Example {
    let bind = format!("127.0.0.1:{}", free_port());
    let mut env = env.to_vec();
    env.push(("BIND", &bind));
    let child = command(name, &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary(name).display()));
    let example = Example {
        child,
        url: format!("http://{bind}"),
    };
    let started = Instant::now();
    while client()
        .get(format!("{}{ready_path}", example.url))
        .send()
        .await
        .map_or(true, |r| r.status() != reqwest::StatusCode::OK)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "example {name} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    example
}
