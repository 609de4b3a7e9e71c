//! The quickstart example: its routes, driven in-process over real HTTP; its
//! binary, started from its environment as the README shows, refusing a
//! short secret and minting tokens; two instances sharing one Redis or a
//! Redis Cluster.

#[path = "../../../examples/quickstart/app.rs"]
mod app;

use std::process::Command;
use std::time::{Duration, Instant};

use jwt_guard::store::redis::RedisConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::cli::{AUDIENCE, ISSUER, SECRET, token, with_secret};
use crate::support::example::{self, Example};
use crate::support::redis::{RedisCluster, RedisServer};
use crate::support::{client, serve};

/// The quickstart in this process, revocations in `redis` or in memory. Its
/// tests run on a multi-thread runtime, as the binary's `main` does.
async fn quickstart(redis: Option<RedisConfig>) -> String {
    let config = app::Config {
        secret: SECRET.to_owned(),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        redis,
    };
    serve(app::app(&config).await.unwrap()).await
}

fn command(env: &[(&str, &str)]) -> Command {
    let env = with_secret(env);
    example::command("quickstart", &env)
}

/// The binary, started with `env` (and the test secret).
async fn start(env: &[(&str, &str)]) -> Example {
    let env = with_secret(env);
    example::start("quickstart", &env, "/public").await
}

/// A token from `quickstart mint SUB ROLES`, as the README shows.
fn mint(sub: &str, roles: &str) -> String {
    let output = command(&[]).args(["mint", sub, roles]).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn get(url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn logout(base: &str, token: &str) -> StatusCode {
    client()
        .post(format!("{base}/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[test]
fn short_secret_exits_non_zero_and_says_why() {
    example::assert_secret_is_checked("quickstart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_as_documented() {
    let qs = quickstart(None).await;
    let alice = token("alice", &["admin", "user"]);
    let bob = token("bob", &["user"]);
    let (status, body) = get(&format!("{qs}/me"), Some(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["roles"], json!(["admin", "user"]));
    assert_eq!(
        get(&format!("{qs}/me"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&format!("{qs}/admin"), Some(&alice)).await.0,
        StatusCode::OK
    );
    let (status, body) = get(&format!("{qs}/admin"), Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");
    let (status, body) = get(&format!("{qs}/public"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("sub").is_none());
    let (status, body) = get(&format!("{qs}/public"), Some(&bob)).await;
    assert_eq!(
        (status, body["sub"].as_str()),
        (StatusCode::OK, Some("bob"))
    );
    assert_eq!(
        get(&format!("{qs}/public"), Some("x.y.z")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(logout(&qs, &bob).await, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&format!("{qs}/me"), Some(&bob)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&format!("{qs}/me"), Some(&alice)).await.0,
        StatusCode::OK
    );
}

/// Logs `token` out on `a`; returns how long `b` took to refuse it (at
/// most 100 ms).
async fn refused_on_b_after_logout_on_a(a: &str, b: &str, token: &str) -> Duration {
    assert_eq!(get(&format!("{b}/me"), Some(token)).await.0, StatusCode::OK);
    assert_eq!(logout(a, token).await, StatusCode::NO_CONTENT);
    let start = Instant::now();
    while get(&format!("{b}/me"), Some(token)).await.0 != StatusCode::UNAUTHORIZED {
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "not refused within 100 ms"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn two_quickstarts_on_one_redis_refuse_a_token_logged_out_on_the_other() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = start(&[("REDIS_URL", &url)]).await;
    let b = start(&[("REDIS_URL", &url)]).await;
    let took = refused_on_b_after_logout_on_a(&a.url, &b.url, &mint("carol", "user")).await;
    eprintln!("refused by the other quickstart after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_quickstarts_on_a_cluster_refuse_a_token_logged_out_on_the_other() {
    let cluster = RedisCluster::start(3);
    let a = quickstart(Some(RedisConfig::cluster(cluster.urls()))).await;
    let b = quickstart(Some(RedisConfig::cluster(cluster.urls()))).await;
    let took = refused_on_b_after_logout_on_a(&a, &b, &token("carol", &["user"])).await;
    eprintln!("refused by the other quickstart after {took:?}");
}
