//! The quickstart example: its routes, driven in-process over real HTTP; its
//! binary, started from its environment as the README shows, refusing a
//! short secret and minting tokens; two instances sharing one Redis or a
//! Redis Cluster.

use super::keys_env;

#[path = "../../../examples/quickstart/app.rs"]
mod app;

use std::process::Command;
use std::time::{Duration, Instant};

use jwt_guard::store::redis::RedisConfig;
use jwt_guard::{Algorithm, ClaimMapping, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::cli::{AUDIENCE, ISSUER, SECRET, token, with_secret};
use crate::support::example::{self, Example};
use crate::support::redis::{RedisCluster, RedisServer};
use crate::support::{client, now, serve};

/// The quickstart in this process, revocations in `redis` or in memory. Its
/// tests run on a multi-thread runtime, as the binary's `main` does.
async fn quickstart(redis: Option<RedisConfig>) -> String {
    quickstart_mapping(redis, ClaimMapping::new()).await
}

/// The quickstart with the claim `mapping` its environment would give.
async fn quickstart_mapping(redis: Option<RedisConfig>, mapping: ClaimMapping) -> String {
    let config = app::Config {
        keys: app::KeySource::Secret(SECRET.as_bytes().to_vec()),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        redis,
        mapping,
        public_origin: None,
    };
    serve(app::app(&config).await.unwrap()).await
}

/// A token shaped as gyan-ghar signs them (`{id, email, role}`, no `sub`),
/// with the `iss` and `aud` the quickstart requires.
fn gyan_ghar_token(id: Value, role: Value) -> String {
    let now = now();
    let claims = json!({
        "id": id, "email": "asha@example.in", "role": role,
        "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600,
    });
    SigningKey::hmac(Algorithm::HS256, SECRET.as_bytes())
        .unwrap()
        .sign("JWT", &claims)
        .unwrap()
}

/// The `error_description` of a 401's challenge.
async fn challenge(url: &str, token: &str) -> String {
    let response = client().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
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

#[test]
fn oidc_settings_are_checked_at_start() {
    example::assert_oidc_settings_are_checked("quickstart");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_other_systems_pass_with_their_claims_mapped() {
    let token = gyan_ghar_token(json!("u-17"), json!("admin"));
    // Without a mapping the token has no subject: refused, naming `sub`.
    let plain = quickstart(None).await;
    assert_eq!(
        get(&format!("{plain}/admin"), Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mapped = quickstart_mapping(
        None,
        ClaimMapping::new()
            .subject("id")
            .numeric_subject(true)
            .roles("role"),
    )
    .await;
    let (status, body) = get(&format!("{mapped}/admin"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "u-17");
    let (_, body) = get(&format!("{mapped}/me"), Some(&token)).await;
    assert_eq!(body["roles"], json!(["admin"]));
    // A numeric id is a subject too; another role is not admin.
    let user = gyan_ghar_token(json!(17), json!("user"));
    let (status, body) = get(&format!("{mapped}/me"), Some(&user)).await;
    assert_eq!((status, &body["sub"]), (StatusCode::OK, &json!("17")));
    assert_eq!(
        get(&format!("{mapped}/admin"), Some(&user)).await.0,
        StatusCode::FORBIDDEN
    );
    // A claim of the wrong type is named, its value never shown.
    let wrong = gyan_ghar_token(json!("u-17"), json!({"level": "superuser"}));
    let header = challenge(&format!("{mapped}/me"), &wrong).await;
    assert!(
        header.contains("the `role` claim must be a string or an array of strings"),
        "{header}"
    );
    assert!(!header.contains("superuser"), "{header}");
}

#[tokio::test]
async fn the_binary_reads_the_claim_mapping_from_its_environment() {
    let qs = start(&[("JWT_SUBJECT_CLAIM", "id"), ("JWT_ROLES_CLAIM", "role")]).await;
    let token = gyan_ghar_token(json!("u-17"), json!("admin"));
    let (status, body) = get(&format!("{}/admin", qs.url), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "u-17");
    // The configured claim is required.
    let header = challenge(&format!("{}/me", qs.url), &mint("alice", "admin")).await;
    assert!(header.contains("the token has no `id` claim"), "{header}");
    // Its own `mint`, with the same environment, writes where it reads.
    let mapping = [("JWT_SUBJECT_CLAIM", "id"), ("JWT_ROLES_CLAIM", "role")];
    let output = command(&mapping)
        .args(["mint", "asha", "admin"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let minted = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let (status, body) = get(&format!("{}/admin", qs.url), Some(&minted)).await;
    assert_eq!((status, &body["sub"]), (StatusCode::OK, &json!("asha")));
}

#[tokio::test]
async fn a_base64_secret_is_decoded_as_spring_services_store_theirs() {
    use base64::Engine as _;
    // 48 random-looking bytes, stored as base64: the tokens are signed with
    // the bytes, not with the text.
    let bytes: Vec<u8> = (0u8..48).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
    let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let qs = start(&[("JWT_SECRET", &text), ("JWT_SECRET_ENCODING", "base64")]).await;
    let now = now();
    let claims = json!({
        "sub": "spring", "iss": ISSUER, "aud": AUDIENCE,
        "iat": now, "exp": now + 300,
    });
    let with_bytes = SigningKey::hmac(Algorithm::HS256, &bytes)
        .unwrap()
        .sign("JWT", &claims)
        .unwrap();
    let (status, body) = get(&format!("{}/me", qs.url), Some(&with_bytes)).await;
    assert_eq!((status, &body["sub"]), (StatusCode::OK, &json!("spring")));
    let with_text = SigningKey::hmac(Algorithm::HS256, text.as_bytes())
        .unwrap()
        .sign("JWT", &claims)
        .unwrap();
    assert_eq!(
        get(&format!("{}/me", qs.url), Some(&with_text)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn logs_to_a_pipe_are_plain_text() {
    // Redis that is not there: the store's retries are logged at start-up.
    let nowhere = format!("redis://127.0.0.1:{}", crate::support::ports::free_port());
    let env = with_secret(&[("REDIS_URL", &nowhere)]);
    let text = example::start_up_messages("quickstart", &env);
    assert!(text.contains("WARN"), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI colour codes in {text:?}");
}

#[test]
fn a_redis_that_refuses_the_configuration_stops_the_start() {
    let redis = RedisServer::builder().password("s3cret-pw").start();
    for url in [
        format!("{}/99", redis.url()),
        redis.url().replace("s3cret-pw", "not-it"),
    ] {
        let output = command(&[("REDIS_URL", &url), ("BIND", "127.0.0.1:0")])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("revocation store refuses the configuration"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("s3cret-pw") && !stderr.contains("not-it"),
            "{stderr}"
        );
    }
}

#[test]
fn the_key_source_never_shows_its_secret_nor_a_urls_credentials() {
    let secret = app::KeySource::Secret(SECRET.as_bytes().to_vec());
    let shown = format!("{secret:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(shown, format!("Secret({} bytes)", SECRET.len()));
    assert_eq!(secret.describe(ISSUER), format!("iss {ISSUER}"));
    #[cfg(feature = "jwks")]
    {
        let oidc = app::KeySource::Oidc(vec![
            "https://user:pa55@idp.example/realms/a?x=1".to_owned(),
            "https://idp.example/b".to_owned(),
        ]);
        let debug = format!("{oidc:?}");
        assert!(!debug.contains("pa55"), "{debug}");
        let line = oidc.describe(ISSUER);
        assert!(!line.contains("pa55") && !line.contains("user"), "{line}");
        assert_eq!(
            line,
            "issuers https://idp.example/realms/a?x=1, https://idp.example/b by discovery"
        );
    }
}

/// `PUBLIC_ORIGIN` is an origin: a path, a query, credentials or another
/// scheme would make every DPoP proof name something else, so the start
/// stops and says so.
#[test]
fn a_public_origin_that_is_not_an_origin_stops_the_start() {
    for origin in [
        "https://api.example/v1",
        "https://api.example?x=1",
        "https://user@api.example",
        "ftp://api.example",
        "api.example",
    ] {
        let output = command(&[("PUBLIC_ORIGIN", origin), ("BIND", "127.0.0.1:0")])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{origin}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("PUBLIC_ORIGIN must be an origin"),
            "{origin}: {stderr}"
        );
    }
}
