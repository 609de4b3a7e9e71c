//! Running an example binary as a newcomer would: built by `cargo test`
//! next to the test binaries, started on a free port, killed on drop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client;
use super::redis::free_port;

/// The example binary `name`, next to the test binaries
/// (`target/<profile>/examples`).
///
/// `cargo test --test <name>` alone does not build examples, so the example
/// is built here first, once per test binary, with the features this test
/// was built with (a no-op when `cargo test` already built it).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(name) {
        return path.clone();
    }
    let mut profile_dir = std::env::current_exe().unwrap();
    profile_dir.pop();
    if profile_dir.ends_with("deps") {
        profile_dir.pop();
    }
    build_example(name, &profile_dir);
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), path.clone());
    path
}

fn build_example(name: &str, profile_dir: &Path) {
    let known = [
        ("axum", cfg!(feature = "axum")),
        ("aws_lc_rs", cfg!(feature = "aws_lc_rs")),
        ("rust_crypto", cfg!(feature = "rust_crypto")),
        ("redis", cfg!(feature = "redis")),
        ("redis-tls", cfg!(feature = "redis-tls")),
        ("tonic", cfg!(feature = "tonic")),
        ("jwks", cfg!(feature = "jwks")),
        ("metrics", cfg!(feature = "metrics")),
    ];
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    if known.iter().all(|(_, on)| *on) {
        // Most likely `--all-features`: the same build, so nothing is rebuilt.
        command.arg("--all-features");
    } else {
        let features: Vec<&str> = known
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect();
        command
            .arg("--no-default-features")
            .arg("--features")
            .arg(features.join(","));
    }
    match profile_dir.file_name().and_then(|p| p.to_str()) {
        Some("debug") | None => {}
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    if let Some(target_dir) = profile_dir.parent() {
        command.arg("--target-dir").arg(target_dir);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the {name} example: {e}"));
    assert!(
        output.status.success(),
        "building the {name} example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

/// Spawns example `name` with `env` and `BIND` on a free port, without
/// waiting for it.
pub fn spawn(name: &str, env: &[(&str, &str)]) -> Example {
    let bind = format!("127.0.0.1:{}", free_port());
    let mut env = env.to_vec();
    env.push(("BIND", &bind));
    let child = command(name, &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary(name).display()));
    Example {
        child,
        url: format!("http://{bind}"),
    }
}

/// Starts example `name` with `env` and `BIND` on a free port, and waits
/// until `GET {ready_path}` answers 200.
pub async fn start(name: &str, env: &[(&str, &str)], ready_path: &str) -> Example {
    let example = spawn(name, env);
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

/// Checks that example `name` refuses a short `JWT_SECRET` and a missing
/// one, exiting non-zero and saying why, without printing the secret.
pub fn assert_secret_is_checked(name: &str) {
    let output = command(name, &[("JWT_SECRET", "too-short")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains("too-short"), "the secret was printed");
    let output = command(name, &[]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET"));
}
