//! Observability: the layer's metrics (feature `metrics`), recorded into a
//! `DebuggingRecorder` installed for the test's thread only, and the
//! `jwt_guard.auth` span around accepted requests, which carries `sub` and
//! `kid` and never the token.

use std::future::Future;
use std::time::Duration;

use crate::support::ports::free_port;
use crate::support::redis::{RedisServer, require_redis};
use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use jwt_guard::metrics::{
    AUTH_DURATION, MIRROR_RESYNCS, REQUESTS_ACCEPTED, REQUESTS_REJECTED, STORE_ERRORS,
};
use jwt_guard::store::MemoryStore;
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::{Algorithm, Claims, JwtLayer, RequireRole, StandardClaims, VerifyingKey};
use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;
use tower::ServiceExt;

jwt_guard::role!(Admin = "admin");

/// Runs `test` on a current-thread runtime with a fresh recorder installed
/// for this thread (every task of that runtime runs on it), and returns what
/// was recorded.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test());
    });
    // A snapshot drains the recorder: take one, once.
    Recorded(
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| (key, value))
            .collect(),
    )
}

struct Recorded(Vec<(CompositeKey, DebugValue)>);

impl Recorded {
    fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&DebugValue> {
        self.0
            .iter()
            .filter(|(key, _)| {
                let key = key.key();
                key.name() == name
                    && labels.iter().all(|(k, v)| {
                        key.labels()
                            .any(|label| label.key() == *k && label.value() == *v)
                    })
            })
            .map(|(_, value)| value)
            .collect()
    }

    /// The sum of the counters `name` having `labels` (0 when none).
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.values(name, labels)
            .into_iter()
            .map(|value| match value {
                DebugValue::Counter(n) => *n,
                other => panic!("{name} is not a counter: {other:?}"),
            })
            .sum()
    }

    /// The samples of the histogram `name` having `labels`.
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.values(name, labels)
            .into_iter()
            .flat_map(|value| match value {
                DebugValue::Histogram(samples) => samples.iter().map(|s| s.into_inner()),
                other => panic!("{name} is not a histogram: {other:?}"),
            })
            .collect()
    }

    /// Every label value recorded under `name` for the label `label`.
    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key.key().name() == name)
            .flat_map(|(key, _)| {
                key.key()
                    .labels()
                    .filter(|l| l.key() == label)
                    .map(|l| l.value().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn app(layer: JwtLayer<StandardClaims>) -> Router {
    Router::new()
        .route(
            "/me",
            get(|c: Claims<StandardClaims>| async move {
                tracing::info!("handler ran");
                c.sub.clone()
            }),
        )
        .route("/admin", get(|_: RequireRole<Admin>| async { "admin" }))
        .layer(layer)
}

async fn call(app: &Router, token: Option<&str>, path: &str) -> http::StatusCode {
    let mut request = http::Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::empty()).unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

fn expired(sub: &str) -> String {
    let mut claims = claims(sub, &[]);
    claims["exp"] = json!(now() - 3600);
    mint(&claims)
}

fn forged(sub: &str) -> String {
    let valid = token(sub, &[]);
    let (head, _) = valid.rsplit_once('.').unwrap();
    format!("{head}.{}", "A".repeat(43))
}

#[test]
fn accepted_requests_are_counted_and_timed() {
    let recorded = recorded(|| async {
        let app = app(JwtLayer::<StandardClaims>::new(validator()));
        for _ in 0..3 {
            assert_eq!(call(&app, Some(&token("alice", &[])), "/me").await, 200);
        }
    });
    assert_eq!(recorded.counter(REQUESTS_ACCEPTED, &[]), 3);
    assert_eq!(recorded.counter(REQUESTS_REJECTED, &[]), 0);
    let samples = recorded.histogram(AUTH_DURATION, &[("outcome", "accepted")]);
    assert_eq!(samples.len(), 3, "{samples:?}");
    assert!(
        samples.iter().all(|s| (0.0..5.0).contains(s)),
        "durations are in seconds: {samples:?}"
    );
}

#[test]
fn rejections_are_counted_by_reason() {
    let recorded = recorded(|| async {
        let layer = JwtLayer::<StandardClaims>::builder(validator())
            .store(MemoryStore::new())
            .build();
        let revoked = token("dave", &[]);
        let revoked_claims = validator().validate::<StandardClaims>(&revoked).unwrap();
        layer
            .revoker()
            .revoke_token(revoked_claims.registered())
            .await
            .unwrap();
        let app = app(layer);

        assert_eq!(call(&app, None, "/me").await, 401);
        assert_eq!(call(&app, Some(&expired("alice")), "/me").await, 401);
        assert_eq!(call(&app, Some(&expired("alice")), "/me").await, 401);
        assert_eq!(call(&app, Some(&forged("bob")), "/me").await, 401);
        assert_eq!(call(&app, Some(&revoked), "/me").await, 401);
        // Accepted by the layer, refused by the guard.
        assert_eq!(
            call(&app, Some(&token("carol", &["user"])), "/admin").await,
            403
        );
    });
    let rejected = |reason| recorded.counter(REQUESTS_REJECTED, &[("reason", reason)]);
    assert_eq!(rejected("missing_token"), 1);
    assert_eq!(rejected("expired"), 2);
    assert_eq!(rejected("invalid_signature"), 1);
    assert_eq!(rejected("revoked"), 1);
    assert_eq!(rejected("insufficient_scope"), 1);
    assert_eq!(recorded.counter(REQUESTS_REJECTED, &[]), 6);
    assert_eq!(recorded.counter(REQUESTS_ACCEPTED, &[]), 1);
    assert_eq!(
        recorded
            .histogram(AUTH_DURATION, &[("outcome", "rejected")])
            .len(),
        5
    );
}

#[test]
fn store_errors_are_counted_by_kind_and_answer_503() {
    let recorded = recorded(|| async {
        let dead = format!("redis://127.0.0.1:{}", free_port());
        let mirror = RedisStore::new(RedisConfig::url(&dead)).unwrap();
        let direct = RedisStore::new(
            RedisConfig::url(&dead)
                .direct(true)
                .connect_timeout(Duration::from_millis(300)),
        )
        .unwrap();
        for store in [mirror, direct] {
            let layer = JwtLayer::<StandardClaims>::builder(validator())
                .store(store)
                .build();
            let app = app(layer);
            assert_eq!(call(&app, Some(&token("alice", &[])), "/me").await, 503);
        }
    });
    assert_eq!(
        recorded.counter(STORE_ERRORS, &[("kind", "not_synchronized")]),
        1
    );
    assert_eq!(recorded.counter(STORE_ERRORS, &[]), 2);
    for kind in recorded.label_values(STORE_ERRORS, "kind") {
        assert!(
            ["not_synchronized", "unavailable", "timeout"].contains(&kind.as_str()),
            "{kind}"
        );
    }
    assert_eq!(
        recorded.counter(REQUESTS_REJECTED, &[("reason", "store_unavailable")]),
        2
    );
    assert_eq!(recorded.counter(REQUESTS_ACCEPTED, &[]), 0);
}

#[test]
fn a_completed_mirror_resync_is_counted() {
    require_redis();
    let redis = RedisServer::start();
    let recorded = recorded(|| async {
        let store = RedisStore::new(RedisConfig::url(redis.url())).unwrap();
        store.ready(Duration::from_secs(5)).await.unwrap();
        assert!(store.mirror_resyncs() >= 1);
    });
    assert!(recorded.counter(MIRROR_RESYNCS, &[]) >= 1);
}

#[test]
fn accepted_requests_run_in_a_span_with_sub_and_kid_but_never_the_token() {
    let captured = Captured::default();
    let subscriber = captured.subscriber();
    let key = VerifyingKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_kid("k1");
    let token = mint_raw(
        r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#,
        &claims("alice", &[]).to_string(),
    );

    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let app = app(JwtLayer::<StandardClaims>::new(validator_with(key)));
                assert_eq!(call(&app, Some(&token), "/me").await, 200);
            });
    });

    let logs = captured.text();
    let line = logs
        .lines()
        .find(|line| line.contains("handler ran"))
        .unwrap_or_else(|| panic!("no handler event: {logs}"));
    assert!(line.contains("jwt_guard.auth{"), "{line}");
    assert!(line.contains(r#"sub="alice""#), "{line}");
    assert!(line.contains(r#"kid="k1""#), "{line}");
    let signature = token.rsplit('.').next().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    for secret in [token.as_str(), signature, payload] {
        assert!(!logs.contains(secret), "the logs hold the token: {logs}");
    }
}
