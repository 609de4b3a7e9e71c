//! The quickstart example, run as a newcomer runs it: its routes, its refusal
//! of a short secret, and two instances sharing one Redis.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::client;
use crate::support::example::{self, Example};
use crate::support::redis::{RedisCluster, RedisServer};
use reqwest::StatusCode;
use serde_json::Value;

const SECRET: &str = "quickstart-test-secret-0123456789abcdef";

fn command(env: &[(&str, &str)]) -> Command {
    let mut env = env.to_vec();
    if !env.iter().any(|(name, _)| *name == "JWT_SECRET") {
        env.push(("JWT_SECRET", SECRET));
    }
    example::command("quickstart", &env)
}

async fn start(env: &[(&str, &str)]) -> Example {
    let mut env = env.to_vec();
    if !env.iter().any(|(name, _)| *name == "JWT_SECRET") {
        env.push(("JWT_SECRET", SECRET));
    }
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

#[tokio::test]
async fn routes_answer_as_documented() {
    let qs = start(&[]).await;
    let alice = mint("alice", "admin,user");
    let bob = mint("bob", "user");
    let (status, body) = get(&format!("{}/me", qs.url), Some(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["roles"], serde_json::json!(["admin", "user"]));
    assert_eq!(
        get(&format!("{}/me", qs.url), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&format!("{}/admin", qs.url), Some(&alice)).await.0,
        StatusCode::OK
    );
    let (status, body) = get(&format!("{}/admin", qs.url), Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");
    let (status, body) = get(&format!("{}/public", qs.url), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("sub").is_none());
    let (status, body) = get(&format!("{}/public", qs.url), Some(&bob)).await;
    assert_eq!(
        (status, body["sub"].as_str()),
        (StatusCode::OK, Some("bob"))
    );
    assert_eq!(
        get(&format!("{}/public", qs.url), Some("x.y.z")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(logout(&qs.url, &bob).await, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&format!("{}/me", qs.url), Some(&bob)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&format!("{}/me", qs.url), Some(&alice)).await.0,
        StatusCode::OK
    );
}

async fn refused_on_b_after_logout_on_a(a: &Example, b: &Example) -> Duration {
    let token = mint("carol", "user");
    assert_eq!(
        get(&format!("{}/me", b.url), Some(&token)).await.0,
        StatusCode::OK
    );
    assert_eq!(logout(&a.url, &token).await, StatusCode::NO_CONTENT);
    let start = Instant::now();
    while get(&format!("{}/me", b.url), Some(&token)).await.0 != StatusCode::UNAUTHORIZED {
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
    let took = refused_on_b_after_logout_on_a(&a, &b).await;
    eprintln!("refused by the other quickstart after {took:?}");
}

#[tokio::test]
async fn two_quickstarts_on_a_cluster_refuse_a_token_logged_out_on_the_other() {
    let cluster = RedisCluster::start(3);
    let urls = cluster.urls().join(",");
    let a = start(&[("REDIS_CLUSTER_URLS", &urls)]).await;
    let b = start(&[("REDIS_CLUSTER_URLS", &urls)]).await;
    let took = refused_on_b_after_logout_on_a(&a, &b).await;
    eprintln!("refused by the other quickstart after {took:?}");
}
