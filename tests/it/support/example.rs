//! Running an example binary as its users do: with only its environment
//! variables, on a free port, killed on drop.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

#[cfg(all(feature = "axum", feature = "redis"))]
use super::client;
use super::ports::free_port;

/// The crate's features, each with whether this test crate was built with
/// it; every feature of Cargo.toml must be listed (checked below).
macro_rules! features {
    ($($feature:tt),* $(,)?) => {
        [$(($feature, cfg!(feature = $feature))),*]
    };
}

const FEATURES: [(&str, bool); 9] = features![
    "axum",
    "aws_lc_rs",
    "rust_crypto",
    "redis",
    "redis-tls",
    "tonic",
    "jwks",
    "metrics",
    "socketio",
];

/// The example binary `name`, in `target/<profile>/examples`.
///
/// `cargo test` builds the examples before it runs any test, but a test
/// target run alone (`cargo test --test it`) does not: so the example is
/// built here first, once per test run, with this test crate's features (a
/// no-op when it is up to date).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut profile_dir = std::env::current_exe().unwrap();
    profile_dir.pop();
    if profile_dir.ends_with("deps") {
        profile_dir.pop();
    }
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|done| done == name) {
        build(name, &profile_dir);
        built.push(name.to_owned());
    }
    path
}

fn build(name: &str, profile_dir: &Path) {
    let features: Vec<&str> = FEATURES
        .iter()
        .filter(|(_, on)| *on)
        .map(|(feature, _)| *feature)
        .collect();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(super::checkout().join("Cargo.toml"))
        .args(["--no-default-features", "--features", &features.join(",")]);
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

#[test]
fn every_feature_of_the_crate_is_passed_to_example_builds() {
    let manifest = include_str!("../../../Cargo.toml");
    let declared: BTreeSet<&str> = manifest
        .split("\n[features]\n")
        .nth(1)
        .expect("a [features] table")
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once(" = ").map(|(name, _)| name.trim()))
        .filter(|name| *name != "default")
        .collect();
    let listed: BTreeSet<&str> = FEATURES.iter().map(|(feature, _)| *feature).collect();
    assert_eq!(
        declared, listed,
        "FEATURES must list the features of Cargo.toml"
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

impl Example {
    /// The process id of the running example.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
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

#[cfg(all(feature = "axum", feature = "redis"))]
/// Starts example `name` with `env` and `BIND` on a free port, and waits
/// until `GET {ready_path}` answers 200.
pub async fn start(name: &str, env: &[(&str, &str)], ready_path: &str) -> Example {
    use std::time::{Duration, Instant};

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
    // 24 bytes of base64 are 32 characters: long enough as raw text, too
    // short once decoded.
    let short_base64 = "c2hvcnQtYnV0LWxvb2tzLWxvbmctZW5v";
    for (env, says, secret) in [
        (
            &[("JWT_SECRET", "too-short")][..],
            "at least 32 bytes",
            "too-short",
        ),
        (
            &[
                ("JWT_SECRET", short_base64),
                ("JWT_SECRET_ENCODING", "base64"),
            ],
            "at least 32 bytes",
            short_base64,
        ),
        (
            &[
                ("JWT_SECRET", "not base64 at all, but long enough!"),
                ("JWT_SECRET_ENCODING", "BASE64"),
            ],
            "is not base64",
            "long enough",
        ),
        (
            &[
                ("JWT_SECRET", "a-secret-of-at-least-thirty-two-bytes"),
                ("JWT_SECRET_ENCODING", "hex"),
            ],
            "JWT_SECRET_ENCODING must be",
            "thirty-two",
        ),
    ] {
        let output = command(name, env).output().unwrap();
        assert!(!output.status.success(), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{env:?}: {stderr}");
        assert!(!stderr.contains(secret), "the secret was printed: {stderr}");
    }
    let output = command(name, &[]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET"));
}

/// Starts example `name` with `env` (and `BIND` on port 0), reads its
/// stderr until it says it is listening, and stops it: what it said at
/// start-up.
pub fn start_up_messages(name: &str, env: &[(&str, &str)]) -> String {
    use std::io::Read as _;

    let mut env = env.to_vec();
    env.push(("BIND", "127.0.0.1:0"));
    let mut child = command(name, &env).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut buffer = [0u8; 512];
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buffer[..n]));
            if text.contains("listening") {
                break;
            }
        }
        text
    });
    let text = reader.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    text
}

/// Checks that example `name` refuses `OIDC_ISSUER_URL` beside
/// `JWT_SECRET`, and without the `jwks` feature names the feature; with it,
/// refuses a plain-http issuer that is not on loopback. Each refusal exits
/// non-zero with a message.
pub fn assert_oidc_settings_are_checked(name: &str) {
    let refused = |env: &[(&str, &str)], says: &str| {
        let output = command(name, env).output().unwrap();
        assert!(!output.status.success(), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{env:?}: {stderr}");
    };
    refused(
        &[
            ("JWT_SECRET", "a-secret-of-at-least-thirty-two-bytes!"),
            ("OIDC_ISSUER_URL", "https://idp.example"),
        ],
        "both set",
    );
    if cfg!(feature = "jwks") {
        refused(&[("OIDC_ISSUER_URL", "http://idp.example")], "plain http");
        refused(&[("OIDC_ISSUER_URL", " , ")], "names no issuer");
        // The provider mints the tokens: `mint` says so.
        let output = command(name, &[("OIDC_ISSUER_URL", "https://idp.example")])
            .arg("mint")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("mint needs JWT_SECRET"), "{stderr}");
    } else {
        refused(
            &[("OIDC_ISSUER_URL", "https://idp.example")],
            "--features jwks",
        );
    }
}
