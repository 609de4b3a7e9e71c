//! The gRPC example, run as a newcomer runs it: its three answers over a real
//! tonic client, its `mint` subcommand, and its refusal of a short secret.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::example::{self, Example};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SECRET: &str = "grpc-example-test-secret-0123456789abcdef";

fn command(env: &[(&str, &str)]) -> Command {
    let mut env = env.to_vec();
    if !env.iter().any(|(name, _)| *name == "JWT_SECRET") {
        env.push(("JWT_SECRET", SECRET));
    }
    example::command("grpc", &env)
}

async fn start() -> Example {
    let example = example::spawn("grpc", &[("JWT_SECRET", SECRET)]);
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
    example::assert_secret_is_checked("grpc");
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
