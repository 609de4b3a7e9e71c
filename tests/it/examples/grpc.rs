//! The gRPC example: its three answers over a real tonic client, in-process;
//! its binary, started from its environment, serving tokens from its `mint`
//! subcommand; its refusal of a short secret.

use super::keys_env;

#[path = "../../../examples/grpc/app.rs"]
mod app;

use std::process::Command;
use std::time::{Duration, Instant};

use tokio_stream::wrappers::TcpListenerStream;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::cli::{AUDIENCE, ISSUER, SECRET, token, with_secret};
use crate::support::example::{self, Example};

/// The example's server in this process; returns a channel to it. Its
/// tests run on a multi-thread runtime, as the binary's `main` does.
async fn serve() -> Channel {
    let config = app::Config {
        keys: app::KeySource::Secret(SECRET.as_bytes().to_vec()),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
    };
    let server = app::app(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        server
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    Endpoint::from_shared(url).unwrap().connect().await.unwrap()
}

fn command(env: &[(&str, &str)]) -> Command {
    let env = with_secret(env);
    example::command("grpc", &env)
}

/// The binary, started with `env`; waits until it accepts connections.
async fn start(env: &[(&str, &str)]) -> Example {
    let example = example::spawn("grpc", env);
    let bind = example.url.trim_start_matches("http://").to_owned();
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

/// A token from `grpc mint SUB ROLES` with `env`, as the README shows.
fn mint(env: &[(&str, &str)], sub: &str, roles: &str) -> String {
    let output = command(env).args(["mint", sub, roles]).output().unwrap();
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
    example::assert_secret_is_checked("grpc");
}

#[test]
fn oidc_settings_are_checked_at_start() {
    example::assert_oidc_settings_are_checked("grpc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_as_documented() {
    let channel = serve().await;

    let status = check(&channel, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "no bearer token in the request");

    let status = check(&channel, Some("x.y.z")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let olga = token("olga", &["ops", "user"]);
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

    let bob = token("bob", &["user"]);
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

#[tokio::test]
async fn the_binary_serves_tokens_of_its_mint_subcommand_with_its_settings() {
    let env = [
        ("JWT_SECRET", SECRET),
        ("JWT_ISSUER", "https://issuer.example"),
        ("JWT_AUDIENCE", "health-api"),
    ];
    let example = start(&env).await;
    let channel = Endpoint::from_shared(example.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(
        check(&channel, Some(&mint(&env, "olga", "ops")))
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    let bob = check(&channel, Some(&mint(&env, "bob", "user")))
        .await
        .unwrap_err();
    assert_eq!(bob.code(), Code::PermissionDenied, "{bob:?}");
    // A token for the default issuer and audience is not one of its tokens.
    let status = check(&channel, Some(&token("olga", &["ops"])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}
