//! The gRPC example, run as a newcomer runs it: its three answers over a real
//! tonic client, its `mint` subcommand, and its refusal of a short secret.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::redis::free_port;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SECRET: &str = "grpc-example-test-secret-0123456789abcdef";

/// The example binary, next to the test binaries (`target/<profile>/examples`).
///
/// `cargo test --test grpc_example` alone does not build examples, so the
/// example is built here first, with the features this test was built with
/// (a no-op when `cargo test` already built it).
fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let mut profile_dir = std::env::current_exe().unwrap();
            profile_dir.pop();
            if profile_dir.ends_with("deps") {
                profile_dir.pop();
            }
            build_example(&profile_dir);
            profile_dir
                .join("examples")
                .join(format!("grpc{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

fn build_example(profile_dir: &std::path::Path) {
    let known = [
        ("axum", cfg!(feature = "axum")),
        ("aws_lc_rs", cfg!(feature = "aws_lc_rs")),
        ("rust_crypto", cfg!(feature = "rust_crypto")),
        ("redis", cfg!(feature = "redis")),
        ("redis-tls", cfg!(feature = "redis-tls")),
        ("tonic", cfg!(feature = "tonic")),
    ];
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--example", "grpc", "--manifest-path"])
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
    let profile = profile_dir.file_name().and_then(|p| p.to_str());
    match profile {
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
        .unwrap_or_else(|e| panic!("cannot run cargo to build the grpc example: {e}"));
    assert!(
        output.status.success(),
        "building the grpc example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

struct Example {
    child: Child,
    url: String,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary());
    command
        .env_clear()
        .env("JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

async fn start() -> Example {
    let bind = format!("127.0.0.1:{}", free_port());
    let child = command(&[("BIND", &bind)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary().display()));
    let example = Example {
        child,
        url: format!("http://{bind}"),
    };
    let start = Instant::now();
    while tokio::net::TcpStream::connect(&bind).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the grpc example did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    example
}

/// A token from `grpc mint SUB ROLES`, as the README shows.
fn mint(sub: &str, roles: &str) -> String {
    let output = command(&[]).args(["mint", sub, roles]).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn check(channel: &Channel, token: Option<&str>) -> Result<ServingStatus, tonic::Status> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let response = HealthClient::new(channel.clone()).check(request).await?;
    Ok(response.into_inner().status())
}

fn assert_no_token(status: &tonic::Status, token: &str) {
    let signature = token.rsplit('.').next().unwrap();
    let shown = format!("{status:?} {}", status.message());
    assert!(!shown.contains(signature), "{shown}");
}

#[test]
fn short_secret_exits_non_zero_and_says_why() {
    let output = command(&[("JWT_SECRET", "too-short")]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    let output = command(&[]).env_remove("JWT_SECRET").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET"));
}

#[tokio::test]
async fn health_answers_as_documented() {
    let example = start().await;
    let channel = Endpoint::from_shared(example.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();

    let status = check(&channel, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "no bearer token in the request");

    let status = check(&channel, Some("x.y.z")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let olga = mint("olga", "ops,user");
    let signature_at = olga.rfind('.').unwrap() + 1;
    let mut forged = olga.clone();
    let replacement = if forged[signature_at..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    forged.replace_range(signature_at..=signature_at, replacement);
    let status = check(&channel, Some(&forged)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_no_token(&status, &forged);

    let bob = mint("bob", "user");
    let status = check(&channel, Some(&bob)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.message(),
        "the token lacks a required role or permission"
    );
    assert_no_token(&status, &bob);

    assert_eq!(
        check(&channel, Some(&olga)).await.unwrap(),
        ServingStatus::Serving
    );
}
