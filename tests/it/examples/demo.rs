//! The demo login service, driven over real HTTP and WebSocket: in this
//! process on its embedded store and with two instances on one Redis; and as
//! its binary (`cargo run --example demo`) started from its environment, two
//! instances on one `redis-server` and on a Redis Cluster that must agree on
//! everything.

#[path = "../../../examples/demo/app.rs"]
mod app;

use std::time::Duration;

use jwt_guard::store::redis::RedisConfig;
use jwt_guard::{Algorithm, KeySet, StandardClaims, Validator};
use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::support::example::{self, Example, command};
use crate::support::redis::{RedisCluster, RedisSentinel, RedisServer};
use crate::support::{client, eventually, serve};

const SECRET: &str = "demo-test-secret-0123456789abcdef-0123";

/// The binary's settings when only `JWT_SECRET` is set.
fn config() -> app::Config {
    app::Config {
        alg: Algorithm::HS256,
        secret: Some(SECRET.as_bytes().to_vec()),
        key_file: None,
        issuer: "jwt-guard-demo".to_owned(),
        audience: "jwt-guard-demo".to_owned(),
        access_ttl: Duration::from_secs(15 * 60),
        refresh_ttl: Duration::from_secs(7 * 24 * 3600),
        redis: None,
        cookie_secure: true,
    }
}

/// The demo in this process; returns its base URL. Its tests run on a
/// multi-thread runtime, as the binary's `main` does.
async fn demo(config: app::Config) -> String {
    serve(app::app(&config).await.unwrap()).await
}

/// The demo's binary, started with `env` (and the test secret).
async fn binary(env: &[(&str, &str)]) -> Example {
    let mut env = env.to_vec();
    if !env.iter().any(|(name, _)| *name == "JWT_SECRET") {
        env.push(("JWT_SECRET", SECRET));
    }
    example::start("demo", &env, "/health").await
}

/// What a login or refresh answered.
struct Tokens {
    access: String,
    refresh: String,
}

/// The refresh token from a `Set-Cookie` header, after checking its attributes.
fn refresh_cookie(response: &reqwest::Response) -> String {
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/auth",
        "Max-Age=604800",
        "Secure",
    ] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing from the cookie"
        );
    }
    let value = cookie
        .strip_prefix("refresh_token=")
        .and_then(|rest| rest.split(';').next())
        .expect("the refresh_token cookie");
    assert!(!value.is_empty());
    value.to_owned()
}

/// Checks a token response and reads it.
async fn tokens(response: reqwest::Response) -> Tokens {
    assert_eq!(response.status(), StatusCode::OK);
    let refresh = refresh_cookie(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "the body holds exactly access_token, token_type and expires_in: {body}"
    );
    assert!(!body.to_string().contains(&refresh));
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh,
    }
}

async fn login_response(base: &str, username: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn login(base: &str, username: &str, password: &str) -> Tokens {
    tokens(login_response(base, username, password).await).await
}

/// Refreshes through the cookie, as a browser does.
async fn refresh_with_cookie(base: &str, refresh: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/auth/refresh"))
        .header("cookie", format!("refresh_token={refresh}"))
        .send()
        .await
        .unwrap()
}

/// Refreshes through the JSON body, as a non-browser client does.
async fn refresh_with_body(base: &str, refresh: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/auth/refresh"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_grant(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "error": "invalid_grant",
            "error_description": "the refresh token is unknown, expired, revoked or already used",
        })
    );
}

async fn get(base: &str, path: &str, token: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn me_status(base: &str, token: &str) -> StatusCode {
    get(base, "/me", token).await.status()
}

/// Asserts that `writer`, which revoked `token`, refuses it at once, and
/// that `other` refuses it soon: another instance learns of it through Redis
/// pub/sub (on the embedded store, `other` is `writer`).
async fn assert_revoked(writer: &str, other: &str, token: &str) {
    assert_eq!(me_status(writer, token).await, StatusCode::UNAUTHORIZED);
    eventually(
        "the other instance refuses a token revoked on the first",
        Duration::from_secs(5),
        async || me_status(other, token).await == StatusCode::UNAUTHORIZED,
    )
    .await;
}

async fn post_bearer(base: &str, path: &str, token: &str) -> StatusCode {
    client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

// -- The flows, each against one instance `a` and one `b` (the same on the
// -- embedded store; two sharing one Redis otherwise).

async fn login_me_admin_and_refresh(a: &str, b: &str) {
    let alice = login(a, "alice", "wonderland").await;
    let me = get(b, "/me", &alice.access).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["roles"], json!(["admin", "user"]));
    assert_eq!(me["iss"], "jwt-guard-demo");
    assert_eq!(me["aud"], "jwt-guard-demo");
    assert!(me["sid"].is_string() && me["jti"].is_string());
    assert_eq!(
        get(b, "/admin", &alice.access).await.status(),
        StatusCode::OK
    );

    let bob = login(a, "bob", "builder").await;
    let admin = get(b, "/admin", &bob.access).await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    let challenge = admin.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );

    // Refresh with the cookie on one instance, then with the body on the other.
    let second = tokens(refresh_with_cookie(b, &alice.refresh).await).await;
    assert_ne!(second.refresh, alice.refresh);
    assert_ne!(second.access, alice.access);
    let third = tokens(refresh_with_body(a, &second.refresh).await).await;
    assert_eq!(me_status(b, &third.access).await, StatusCode::OK);
}

async fn credentials_are_refused_alike(a: &str) {
    let wrong = login_response(a, "alice", "not-her-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown = login_response(a, "mallory", "wonderland").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(
        wrong,
        json!({
            "error": "invalid_credentials",
            "error_description": "the username or the password is wrong",
        })
    );
    assert_eq!(wrong, unknown);
    for body in ["{not json", r#"{"username":"alice"}"#, r#"["alice"]"#, ""] {
        let login = client()
            .post(format!("{a}/auth/login"))
            .header("content-type", "application/json");
        assert_malformed_body_refused(login, body).await;
    }
    for token in ["", "garbage", "a.b.c"] {
        assert_invalid_grant(refresh_with_body(a, token).await).await;
    }
    for body in ["{not json", r#"{"token":"x"}"#] {
        assert_malformed_body_refused(client().post(format!("{a}/auth/refresh")), body).await;
    }
    assert_invalid_grant(
        client()
            .post(format!("{a}/auth/refresh"))
            .send()
            .await
            .unwrap(),
    )
    .await;
}

async fn reuse_revokes_the_family(a: &str, b: &str) {
    let first = login(a, "alice", "wonderland").await;
    let second = tokens(refresh_with_cookie(a, &first.refresh).await).await;
    // The spent token, presented again (on the other instance): refused, and
    // the whole family with it.
    assert_invalid_grant(refresh_with_cookie(b, &first.refresh).await).await;
    assert_invalid_grant(refresh_with_cookie(a, &second.refresh).await).await;
    for access in [&first.access, &second.access] {
        assert_revoked(b, a, access).await;
    }
    // Another session of the same user is not affected.
    let other = login(b, "alice", "wonderland").await;
    assert_eq!(me_status(a, &other.access).await, StatusCode::OK);
}

async fn concurrent_refreshes_give_one_success(a: &str, b: &str) {
    let session = login(a, "bob", "builder").await;
    // All ten in flight at once (collected before any is awaited).
    let attempts: Vec<_> = (0..10)
        .map(|i| {
            let base = if i % 2 == 0 { a } else { b }.to_owned();
            let refresh = session.refresh.clone();
            tokio::spawn(async move { refresh_with_cookie(&base, &refresh).await.status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
}

async fn logout_ends_the_session(a: &str, b: &str) {
    let session = login(a, "alice", "wonderland").await;
    let refreshed = tokens(refresh_with_cookie(a, &session.refresh).await).await;
    let response = client()
        .post(format!("{b}/auth/logout"))
        .bearer_auth(&refreshed.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("refresh_token=;") && cleared.contains("Max-Age=0"));
    // The token used to log out, the session's earlier token, and its refresh token.
    assert_revoked(b, a, &refreshed.access).await;
    assert_revoked(b, a, &session.access).await;
    assert_invalid_grant(refresh_with_cookie(a, &refreshed.refresh).await).await;
    assert_eq!(
        post_bearer(a, "/auth/logout", &refreshed.access).await,
        StatusCode::UNAUTHORIZED
    );
}

async fn logout_all_ends_every_session(a: &str, b: &str) {
    let one = login(a, "bob", "builder").await;
    let two = login(b, "bob", "builder").await;
    let alice = login(a, "alice", "wonderland").await;
    assert_eq!(
        post_bearer(b, "/auth/logout-all", &one.access).await,
        StatusCode::NO_CONTENT
    );
    for session in [&one, &two] {
        assert_revoked(b, a, &session.access).await;
        assert_invalid_grant(refresh_with_cookie(a, &session.refresh).await).await;
    }
    // A login right after, within the same second, is not caught.
    let after = login(a, "bob", "builder").await;
    assert_eq!(me_status(b, &after.access).await, StatusCode::OK);
    assert_eq!(
        refresh_with_cookie(b, &after.refresh).await.status(),
        StatusCode::OK
    );
    // Another user is not affected.
    assert_eq!(me_status(b, &alice.access).await, StatusCode::OK);
}

async fn throttle_blocks_after_five_failures(a: &str, b: &str, user: &str, password: &str) {
    for i in 0..5 {
        let base = if i % 2 == 0 { a } else { b };
        let response = login_response(base, user, "wrong-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    for base in [a, b] {
        // Even the right password is refused until the window passes.
        let response = login_response(base, user, password).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = response.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((890..=900).contains(&retry_after), "{retry_after}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "too_many_attempts");
        assert_eq!(
            body["error_description"],
            format!("too many failed logins; try again in {retry_after} s")
        );
    }
    // Another user from the same address is not affected.
    let other = if user == "alice" {
        ("bob", "builder")
    } else {
        ("alice", "wonderland")
    };
    assert_eq!(
        login_response(b, other.0, other.1).await.status(),
        StatusCode::OK
    );
}

/// The whole flow on one pair of instances.
async fn every_flow(a: &str, b: &str) {
    login_me_admin_and_refresh(a, b).await;
    credentials_are_refused_alike(a).await;
    reuse_revokes_the_family(a, b).await;
    concurrent_refreshes_give_one_success(a, b).await;
    logout_ends_the_session(a, b).await;
    logout_all_ends_every_session(a, b).await;
}

// -- The embedded store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_on_the_embedded_store() {
    let demo = demo(config()).await;
    every_flow(&demo, &demo).await;
    assert_eq!(
        client()
            .get(format!("{demo}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!({ "keys": [] }),
        "an HS256 secret is never published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_on_the_embedded_store() {
    let demo = demo(config()).await;
    throttle_blocks_after_five_failures(&demo, &demo, "alice", "wonderland").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_refresh_tokens_get_invalid_grant() {
    let demo = demo(app::Config {
        refresh_ttl: Duration::from_secs(1),
        ..config()
    })
    .await;
    let response = login_response(&demo, "bob", "builder").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("Max-Age=1;"), "{cookie}");
    let refresh = cookie
        .strip_prefix("refresh_token=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_invalid_grant(refresh_with_cookie(&demo, &refresh).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_and_are_published() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let demo = demo(app::Config { alg, ..config() }).await;
        let jwks = |url: String| async move {
            client()
                .get(format!("{url}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        let before = login(&demo, "alice", "wonderland").await;
        let document = jwks(demo.clone()).await;
        let published: Value = serde_json::from_str(&document).unwrap();
        assert_eq!(published["keys"].as_array().unwrap().len(), 1, "{alg}");
        assert!(!document.contains("\"d\""), "a private key was published");

        // Another service verifies the demo's tokens from its JWKS alone.
        let validator = Validator::builder()
            .keys(KeySet::from_jwks(&document).unwrap())
            .issuer("jwt-guard-demo")
            .audience("jwt-guard-demo")
            .require_type("at+jwt")
            .build()
            .unwrap();
        let verified = validator
            .validate::<StandardClaims>(&before.access)
            .unwrap();
        assert_eq!(verified.claims().sub, "alice");
        let old_kid = verified.header().kid().unwrap().to_owned();

        // Rotation: the new key signs, the old one still verifies.
        let rotated = client()
            .post(format!("{demo}/admin/rotate-key"))
            .bearer_auth(&before.access)
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), StatusCode::OK);
        let new_kid = rotated.json::<Value>().await.unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(new_kid, old_kid);
        let after = login(&demo, "alice", "wonderland").await;
        let document = jwks(demo.clone()).await;
        let kids: Vec<String> = serde_json::from_str::<Value>(&document).unwrap()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kids, [new_kid.clone(), old_kid.clone()]);
        let rotated_validator = Validator::builder()
            .keys(KeySet::from_jwks(&document).unwrap())
            .build()
            .unwrap();
        let verified = rotated_validator
            .validate::<StandardClaims>(&after.access)
            .unwrap();
        assert_eq!(verified.header().kid(), Some(new_kid.as_str()));
        assert_eq!(me_status(&demo, &before.access).await, StatusCode::OK);
        assert_eq!(me_status(&demo, &after.access).await, StatusCode::OK);
        // bob may not rotate keys.
        let bob = login(&demo, "bob", "builder").await;
        assert_eq!(
            post_bearer(&demo, "/admin/rotate-key", &bob.access).await,
            StatusCode::FORBIDDEN
        );
    }
}

#[test]
fn the_secret_is_checked_at_start_up() {
    let output = command(
        "demo",
        &[("JWT_SECRET", "too-short"), ("BIND", "127.0.0.1:0")],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains("too-short"), "the secret was printed");
    // The minimum applies to the decoded bytes of a base64 secret.
    let output = command(
        "demo",
        &[
            ("JWT_SECRET", "c2hvcnQtYnV0LWxvb2tzLWxvbmctZW5v"),
            ("JWT_SECRET_ENCODING", "base64"),
            ("BIND", "127.0.0.1:0"),
        ],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    // A lifetime without a unit is refused (Node's `ms` reads `15` as 15
    // milliseconds), and so is a yes/no setting that is neither.
    for (env, says) in [
        (("JWT_EXPIRES_IN", "15"), "a number and a unit"),
        (
            ("COOKIE_SECURE", "off"),
            "COOKIE_SECURE must be true, 1, yes or false, 0, no",
        ),
    ] {
        let output = command("demo", &[env, ("BIND", "127.0.0.1:0")])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{env:?}: {stderr}");
    }
    // Access tokens are short-lived: over 24 hours is refused at start-up.
    let output = command(
        "demo",
        &[("JWT_EXPIRES_IN", "25h"), ("BIND", "127.0.0.1:0")],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("24 hours"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_unset_secret_is_generated_and_said() {
    let text = example::start_up_messages("demo", &[]);
    assert!(text.contains("JWT_SECRET is not set"), "{text}");
    assert!(text.contains("random secret"), "{text}");
    assert!(!text.contains("warning"), "{text}");
}

#[test]
fn a_key_made_at_start_up_with_a_shared_store_is_warned_about() {
    let redis = RedisServer::start();
    let url = redis.url();
    let text = example::start_up_messages("demo", &[("REDIS_URL", &url)]);
    assert!(
        text.contains("warning: sessions are shared through Redis")
            && text.contains("the same JWT_SECRET"),
        "{text}"
    );
    let text = example::start_up_messages("demo", &[("REDIS_URL", &url), ("JWT_ALG", "EdDSA")]);
    assert!(text.contains("the same JWT_PRIVATE_KEY_FILE"), "{text}");
    let text = example::start_up_messages("demo", &[("REDIS_URL", &url), ("JWT_SECRET", SECRET)]);
    assert!(!text.contains("warning"), "{text}");
}

// -- Redis: two instances sharing one server must agree on everything.

// Two binaries, each with its runtime to itself as in production: in this
// process, one of the ten concurrent refreshes sometimes got a 503 (a store
// error) on a busy machine.
#[tokio::test]
async fn two_instances_on_one_redis_agree() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = binary(&[("REDIS_URL", &url)]).await;
    let b = binary(&[("REDIS_URL", &url)]).await;
    every_flow(&a.url, &b.url).await;
    throttle_blocks_after_five_failures(&a.url, &b.url, "bob", "builder").await;
    // No key names a user in clear or holds a password. (A key's random
    // ids may hold "bob" by chance, as `…mbobvo…` once did: the names are
    // compared with whole segments.)
    let keys = redis.scan("*");
    assert!(keys.iter().any(|k| k.contains(":f:")), "{keys:?}");
    for key in keys {
        let mut segments = key.split([':', '{', '}', '.']);
        assert!(!segments.any(|s| s == "bob" || s == "alice"), "{key}");
        assert!(
            !key.contains("builder") && !key.contains("wonderland"),
            "{key}"
        );
    }
}

#[tokio::test]
async fn the_flow_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let urls = cluster.urls().join(",");
    let a = binary(&[("REDIS_CLUSTER_URLS", &urls)]).await;
    let b = binary(&[("REDIS_CLUSTER_URLS", &urls)]).await;
    every_flow(&a.url, &b.url).await;
    throttle_blocks_after_five_failures(&a.url, &b.url, "alice", "wonderland").await;
}

#[tokio::test]
async fn the_flow_behind_sentinel() {
    let setup = RedisSentinel::start_with_replicas(1);
    let urls = setup.sentinel_urls().join(",");
    let env = [
        ("REDIS_SENTINEL_URLS", urls.as_str()),
        ("REDIS_SENTINEL_MASTER", setup.master_name()),
    ];
    let a = binary(&env).await;
    let b = binary(&env).await;
    every_flow(&a.url, &b.url).await;
    // The sessions are in the master the Sentinel names.
    let keys = setup.master().scan("*");
    assert!(keys.iter().any(|k| k.contains(":f:")), "{keys:?}");
    // No replica to hold a logout or a rotation: 503, never a silent success.
    let session = login(&a.url, "alice", "wonderland").await;
    setup.replicas()[0].freeze();
    let refresh = refresh_with_cookie(&a.url, &session.refresh).await.status();
    let logout = post_bearer(&a.url, "/auth/logout", &session.access).await;
    setup.replicas()[0].thaw();
    assert_eq!(refresh, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(logout, StatusCode::SERVICE_UNAVAILABLE);
}

// -- Socket.IO: tests/it/examples/demo/socket_io.rs.

#[cfg(feature = "socketio")]
mod socket_io;

// -- WebSocket sessions that end on revocation.

mod ws {
    use std::time::{Duration, Instant};

    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::{Error, Message};

    use super::*;

    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    fn ws_url(base: &str) -> String {
        format!("{}/ws", base.replacen("http://", "ws://", 1))
    }

    /// Opens `/ws` with the token in the query, and reads the greeting.
    async fn open(base: &str, token: &str) -> Socket {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("{}?access_token={token}", ws_url(base)))
                .await
                .unwrap();
        let greeting = socket.next().await.unwrap().unwrap();
        let greeting: Value = serde_json::from_str(greeting.to_text().unwrap()).unwrap();
        assert_eq!(greeting["type"], "welcome");
        assert!(greeting["user"].is_string());
        socket
    }

    /// Waits for the close frame; returns it and how long it took.
    async fn closed(socket: &mut Socket) -> (CloseCode, String, Duration) {
        let started = Instant::now();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
                .await
                .expect("the socket was not closed within 5 s");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code, frame.reason.to_string(), started.elapsed());
                }
                Some(Ok(_)) => continue,
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    }

    async fn assert_closed_for(socket: &mut Socket, reason: &str) {
        let (code, text, elapsed) = closed(socket).await;
        assert_eq!(code, CloseCode::Policy, "close code 1008");
        assert_eq!(text, reason);
        assert!(elapsed < Duration::from_secs(1), "closed after {elapsed:?}");
    }

    async fn handshake_and_echo(base: &str) {
        // No token, a bad token: 401 at the handshake.
        for url in [ws_url(base), format!("{}?access_token=a.b.c", ws_url(base))] {
            match tokio_tungstenite::connect_async(url).await {
                Err(Error::Http(response)) => {
                    assert_eq!(response.status(), StatusCode::UNAUTHORIZED)
                }
                other => panic!("the handshake was not refused: {:?}", other.map(|_| ())),
            }
        }
        let alice = login(base, "alice", "wonderland").await;
        // The token in the query, then in the Authorization header.
        let mut socket = open(base, &alice.access).await;
        socket.send(Message::text("ping")).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("ping"));
        let mut request = ws_url(base).into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", alice.access).parse().unwrap(),
        );
        let (mut with_header, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let greeting = with_header.next().await.unwrap().unwrap();
        let greeting: Value = serde_json::from_str(greeting.to_text().unwrap()).unwrap();
        assert_eq!(greeting, json!({ "type": "welcome", "user": "alice" }));
        // The query parameter is taken on /ws only.
        let me = client()
            .get(format!("{base}/me?access_token={}", alice.access))
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }

    /// Sockets on `a` close within a second of logout, logout-all and reuse
    /// on `b`; a socket of another session stays open.
    async fn revocations_close_sockets(a: &str, b: &str) {
        let session = login(a, "alice", "wonderland").await;
        let other = login(a, "bob", "builder").await;
        let mut socket = open(a, &session.access).await;
        let mut bystander = open(a, &other.access).await;
        assert_eq!(
            post_bearer(b, "/auth/logout", &session.access).await,
            StatusCode::NO_CONTENT
        );
        assert_closed_for(&mut socket, "token revoked").await;

        let one = login(a, "alice", "wonderland").await;
        let two = login(b, "alice", "wonderland").await;
        let mut first = open(a, &one.access).await;
        let mut second = open(b, &two.access).await;
        assert_eq!(
            post_bearer(b, "/auth/logout-all", &one.access).await,
            StatusCode::NO_CONTENT
        );
        assert_closed_for(&mut first, "token revoked").await;
        assert_closed_for(&mut second, "token revoked").await;

        let stolen = login(a, "alice", "wonderland").await;
        let mut socket = open(a, &stolen.access).await;
        assert_eq!(
            refresh_with_cookie(b, &stolen.refresh).await.status(),
            StatusCode::OK
        );
        assert_invalid_grant(refresh_with_cookie(b, &stolen.refresh).await).await;
        assert_closed_for(&mut socket, "token revoked").await;

        // bob's socket saw none of it.
        bystander.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            bystander.next().await.unwrap().unwrap(),
            Message::text("still here")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sockets_on_the_embedded_store() {
        let demo = demo(config()).await;
        handshake_and_echo(&demo).await;
        revocations_close_sockets(&demo, &demo).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sockets_close_when_another_instance_logs_out() {
        let redis = RedisServer::start();
        let on_redis = || app::Config {
            redis: Some(RedisConfig::url(redis.url())),
            ..config()
        };
        let a = demo(on_redis()).await;
        let b = demo(on_redis()).await;
        handshake_and_echo(&a).await;
        revocations_close_sockets(&a, &b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sockets_close_when_the_token_expires() {
        let demo = demo(app::Config {
            access_ttl: Duration::from_secs(2),
            ..config()
        })
        .await;
        let response = login_response(&demo, "bob", "builder").await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["expires_in"], 2);
        let mut socket = open(&demo, body["access_token"].as_str().unwrap()).await;
        let (code, reason, elapsed) = closed(&mut socket).await;
        assert_eq!(
            (code, reason.as_str()),
            (CloseCode::Policy, "token expired")
        );
        assert!(elapsed <= Duration::from_millis(3100), "{elapsed:?}");
    }
}

/// Sends `body` with `request`, and asserts it is refused as a client
/// error (400 or 422), not answered or failed.
async fn assert_malformed_body_refused(request: reqwest::RequestBuilder, body: &str) {
    let response = request.body(body.to_owned()).send().await.unwrap();
    let status = response.status();
    assert!(
        matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
        ),
        "{body:?}: {status}"
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_request", "{body:?}");
    assert!(answer["error_description"].is_string(), "{body:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_the_json_shape_of_every_error() {
    let demo = demo(config()).await;
    let huge = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024 + 1)
    );
    for path in ["/auth/login", "/auth/refresh"] {
        let response = client()
            .post(format!("{demo}{path}"))
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({
                "error": "invalid_request",
                "error_description": "the request body is over 2097152 bytes",
            }),
            "{path}"
        );
    }
}

#[tokio::test]
async fn cookie_secure_takes_yes_and_no_in_any_case() {
    for (value, secure) in [("No", false), ("0", false), ("YES", true), ("true", true)] {
        let demo = binary(&[("COOKIE_SECURE", value)]).await;
        let response = login_response(&demo.url, "alice", "wonderland").await;
        assert_eq!(response.status(), StatusCode::OK, "{value}");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert_eq!(cookie.contains("; Secure"), secure, "{value}: {cookie}");
    }
}

#[test]
fn a_redis_that_refuses_the_configuration_stops_the_start() {
    let redis = RedisServer::start();
    let output = command(
        "demo",
        &[
            ("REDIS_URL", &format!("{}/99", redis.url())),
            ("BIND", "127.0.0.1:0"),
        ],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("revocation store refuses the configuration")
            && stderr.contains("DB index is out of range"),
        "{stderr}"
    );
}

#[tokio::test]
async fn health_reports_the_store_and_live_only_the_process() {
    let redis = RedisServer::start();
    let demo = binary(&[("REDIS_URL", &redis.url())]).await;
    let status = |path: &'static str| {
        let url = format!("{}{path}", demo.url);
        async move {
            let response = client().get(url).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(status("/health").await.0, StatusCode::OK);
    redis.kill();
    eventually("/health answers 503", Duration::from_secs(10), async || {
        status("/health").await.0 == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let (_, body) = status("/health").await;
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("revocation store")),
        "{body}"
    );
    let (live, body) = status("/health/live").await;
    assert_eq!((live, &body["status"]), (StatusCode::OK, &json!("ok")));
    assert!(body["tasks"].as_u64().is_some_and(|n| n > 0), "{body}");
    redis.restart();
    eventually(
        "/health answers 200 again",
        Duration::from_secs(20),
        async || status("/health").await.0 == StatusCode::OK,
    )
    .await;
}

/// Logins and refreshes with a DPoP proof made by panva's `dpop` package
/// (RFC 9449 §5), on two demo instances sharing one `redis-server`: the
/// session is bound to the client's key, its access tokens work only with
/// a proof of that key, and its refresh token rotates only with one.
mod dpop_from_node {
    use super::*;
    use crate::support::dpop;
    use crate::support::interop::{Driver, node, or_skip};

    fn proof(node: &mut Driver, key: &Value, htm: &str, htu: &str, token: Option<&str>) -> String {
        aged_proof(node, key, (htm, htu), token, 0)
    }

    /// A proof made `age` seconds ago.
    fn aged_proof(
        node: &mut Driver,
        key: &Value,
        request: (&str, &str),
        token: Option<&str>,
        age: u64,
    ) -> String {
        node.dpop_proof(key, request, json!({ "access_token": token, "age": age }))
    }

    async fn post(url: &str, body: Value, proof: Option<&str>) -> reqwest::Response {
        let mut request = client().post(url).json(&body);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.send().await.unwrap()
    }

    /// A DPoP token response: the access token and the refresh token.
    async fn bound_tokens(response: reqwest::Response) -> Tokens {
        assert_eq!(response.status(), StatusCode::OK);
        let refresh = refresh_cookie(&response);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP", "{body}");
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh,
        }
    }

    /// The `cnf.jkt` the access token carries (its signature is checked by
    /// the instances that accept it).
    fn bound_key(access: &str) -> Value {
        use base64::Engine as _;
        let payload = access.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["cnf"]["jkt"].clone()
    }

    async fn me(url: &str, authorization: &str, proof: Option<&str>) -> reqwest::Response {
        let mut request = client().get(url).header("authorization", authorization);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.send().await.unwrap()
    }

    async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (status, body["error"].clone())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_login_with_a_proof_binds_the_session_to_the_key() {
        let Some(mut node) = or_skip(node(), "examples::demo::dpop_from_node") else {
            return;
        };
        let redis = RedisServer::start();
        let on_redis = || app::Config {
            redis: Some(RedisConfig::url(redis.url())),
            ..config()
        };
        let (a, b) = (demo(on_redis()).await, demo(on_redis()).await);
        let key = node.dpop_key("ES256");
        let credentials = json!({ "username": "alice", "password": "wonderland" });

        // A proof for another URL: refused before the password is checked.
        let elsewhere = proof(&mut node, &key, "POST", &format!("{b}/auth/login"), None);
        let refused = post(
            &format!("{a}/auth/login"),
            credentials.clone(),
            Some(&elsewhere),
        )
        .await;
        assert_eq!(
            error_of(refused).await,
            (StatusCode::BAD_REQUEST, json!("invalid_dpop_proof"))
        );

        let login_url = format!("{a}/auth/login");
        let at_login = proof(&mut node, &key, "POST", &login_url, None);
        let login =
            bound_tokens(post(&login_url, credentials.clone(), Some(&at_login)).await).await;
        assert_eq!(bound_key(&login.access), key["jkt"]);
        // The login's proof again: used.
        let replayed = post(&login_url, credentials.clone(), Some(&at_login)).await;
        assert_eq!(
            error_of(replayed).await,
            (StatusCode::BAD_REQUEST, json!("invalid_dpop_proof"))
        );

        // The bound token works with a proof of the key, on either instance.
        let bound = format!("DPoP {}", login.access);
        for base in [&a, &b] {
            let url = format!("{base}/me");
            let good = proof(&mut node, &key, "GET", &url, Some(&login.access));
            assert_eq!(me(&url, &bound, Some(&good)).await.status(), StatusCode::OK);
            let (status, error) =
                error_of(me(&url, &format!("Bearer {}", login.access), None).await).await;
            assert_eq!(
                (status, error),
                (StatusCode::UNAUTHORIZED, json!("invalid_token"))
            );
        }

        // Every refusal of RFC 9449 on the demo's own API: a proof used
        // before, none, and proofs for another method, URL, token (a second
        // login's, same key) or key, a stale one, and the proofs no client
        // library makes.
        let me_a = format!("{a}/me");
        let good = proof(&mut node, &key, "GET", &me_a, Some(&login.access));
        assert_eq!(
            dpop::ask(&me_a, &bound, Some(&good)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            dpop::ask(&me_a, &bound, Some(&good)).await,
            dpop::refused(),
            "replayed"
        );
        assert_eq!(
            dpop::ask(&me_a, &bound, None).await,
            dpop::refused(),
            "no proof"
        );
        let at_second = proof(&mut node, &key, "POST", &login_url, None);
        let second = bound_tokens(post(&login_url, credentials, Some(&at_second)).await).await;
        let stranger = node.dpop_key("ES256");
        let admin = format!("{a}/admin");
        let token = Some(login.access.as_str());
        for (proof, why) in [
            (proof(&mut node, &key, "POST", &me_a, token), "method"),
            (proof(&mut node, &key, "GET", &admin, token), "URL"),
            (
                proof(&mut node, &key, "GET", &me_a, Some(&second.access)),
                "token",
            ),
            (proof(&mut node, &stranger, "GET", &me_a, token), "key"),
            (
                aged_proof(&mut node, &key, ("GET", &me_a), token, 120),
                "stale iat",
            ),
        ] {
            assert_eq!(
                dpop::ask(&me_a, &bound, Some(&proof)).await,
                dpop::refused(),
                "another {why}"
            );
        }
        for (proof, why) in dpop::forged_proofs(&me_a, &login.access) {
            assert_eq!(
                dpop::ask(&me_a, &bound, Some(&proof)).await,
                dpop::refused(),
                "{why}"
            );
        }

        // Refresh on the other instance: without a proof, or with another
        // key's, the token is unknown and stays unspent.
        let refresh_url = format!("{b}/auth/refresh");
        let body = json!({ "refresh_token": login.refresh });
        assert_invalid_grant(post(&refresh_url, body.clone(), None).await).await;
        let thief = node.dpop_key("ES256");
        let by_thief = proof(&mut node, &thief, "POST", &refresh_url, None);
        assert_invalid_grant(post(&refresh_url, body.clone(), Some(&by_thief)).await).await;
        let with_key = proof(&mut node, &key, "POST", &refresh_url, None);
        let refreshed = bound_tokens(post(&refresh_url, body, Some(&with_key)).await).await;
        assert_eq!(bound_key(&refreshed.access), key["jkt"]);
        eprintln!("dpop: demo login and refresh bound to a dpop ES256 key on two instances: ok");
    }
}
