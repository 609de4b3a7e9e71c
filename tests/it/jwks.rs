//! `RemoteJwks` against a real HTTP server on loopback, and `SharedKeys`
//! swaps. Keys and tokens are made at test time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::keys::{JwksError, JwksErrorKind, RemoteJwks};
use jwt_guard::{
    AuthErrorKind, ConfigErrorKind, JwtLayer, KeySet, SharedKeys, SigningKey, StandardClaims,
    Validator, VerifyingKey,
};

use crate::support::{self, AUDIENCE, ISSUER, claims, eventually, keys::ed25519_key};

/// An Ed25519 key pair with a `kid`: its JWK and a signer.
struct IdpKey {
    jwk: serde_json::Value,
    signer: SigningKey,
}

impl IdpKey {
    fn new(kid: &str) -> Self {
        let key = ed25519_key();
        Self {
            jwk: serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "kid": kid, "x": URL_SAFE_NO_PAD.encode(&key.public_raw),
            }),
            signer: SigningKey::from_ed_pem(&key.private_pem)
                .unwrap()
                .with_kid(kid),
        }
    }

    fn token(&self, sub: &str) -> String {
        self.signer.sign("JWT", &claims(sub, &[])).unwrap()
    }

    fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_jwk(&self.jwk.to_string()).unwrap()
    }
}

fn jwks(keys: &[&IdpKey]) -> String {
    serde_json::json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
        .to_string()
}

/// What the identity provider answers; changed by the tests while it runs.
struct Answer {
    status: StatusCode,
    body: String,
    delay: Duration,
    /// Sent as a stream, without `Content-Length`.
    chunked: bool,
}

#[derive(Clone)]
struct Idp {
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
    url: String,
}

impl Idp {
    async fn start(body: String) -> Self {
        let answer = Arc::new(Mutex::new(Answer {
            status: StatusCode::OK,
            body,
            delay: Duration::ZERO,
            chunked: false,
        }));
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/jwks.json", get(serve_jwks))
            .with_state((answer.clone(), hits.clone()));
        let base = support::serve(app).await;
        Self {
            answer,
            hits,
            url: format!("{base}/jwks.json"),
        }
    }

    fn set(&self, change: impl FnOnce(&mut Answer)) {
        change(&mut self.answer.lock().unwrap());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits until the server has been asked `n` times in all.
    async fn wait_for_hits(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.hits() < n {
            assert!(
                Instant::now() < deadline,
                "only {} fetches, wanted {n}",
                self.hits()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn serve_jwks(
    State((answer, hits)): State<(Arc<Mutex<Answer>>, Arc<AtomicUsize>)>,
) -> Response {
    let (status, body, delay, chunked) = {
        let a = answer.lock().unwrap();
        (a.status, a.body.clone(), a.delay, a.chunked)
    };
    // Counted once the answer is chosen: after `wait_for_hits`, a change
    // made with `set` reaches the next request only, never one under way.
    hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(delay).await;
    if chunked {
        let chunks: Vec<Result<String, std::io::Error>> = body
            .as_bytes()
            .chunks(512)
            .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
            .collect();
        let body = axum::body::Body::from_stream(tokio_stream::iter(chunks));
        return (status, body).into_response();
    }
    (status, body).into_response()
}

fn validator(keys: SharedKeys) -> Validator {
    Validator::builder()
        .shared_keys(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// A protected app on loopback, and a client for it.
struct App {
    url: String,
    client: reqwest::Client,
}

/// Serves a protected `/me` on loopback, verified by `validator`.
async fn app(validator: Validator) -> App {
    let app = Router::new()
        .route(
            "/me",
            get(|c: jwt_guard::Claims<StandardClaims>| async move { c.sub.clone() }),
        )
        .layer(JwtLayer::<StandardClaims>::new(validator));
    App {
        url: format!("{}/me", support::serve(app).await),
        // One client per app: with TLS compiled in, building one is slow.
        client: support::client(),
    }
}

async fn get_me(app: &App, token: &str) -> StatusCode {
    let response = app
        .client
        .get(&app.url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    StatusCode::from_u16(response.status().as_u16()).unwrap()
}

fn kids(keys: &SharedKeys) -> Vec<String> {
    keys.load().map_or_else(Vec::new, |set| {
        set.iter()
            .filter_map(|k| k.kid().map(str::to_owned))
            .collect()
    })
}

fn last_error_kind(jwks: &RemoteJwks) -> Option<JwksErrorKind> {
    jwks.last_error().map(|e| e.kind())
}

const LONG: Duration = Duration::from_secs(3600);

/// A remote set on `idp`, refreshed every `refresh_interval` with a long
/// cooldown, once ready.
async fn ready_remote(idp: &Idp, refresh_interval: Duration) -> RemoteJwks {
    let remote = RemoteJwks::builder(&idp.url)
        .refresh_interval(refresh_interval)
        .cooldown(LONG)
        .build()
        .unwrap();
    remote.ready(Duration::from_secs(5)).await.unwrap();
    remote
}

#[tokio::test]
async fn keys_are_fetched_at_start_up_and_readiness_is_signalled() {
    let k1 = IdpKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    idp.set(|a| a.delay = Duration::from_millis(300));
    let remote = RemoteJwks::builder(&idp.url)
        .refresh_interval(LONG)
        .build()
        .unwrap();
    let validator = validator(remote.shared_keys());
    assert!(!remote.is_ready());
    assert!(validator.keys().is_none());
    assert_eq!(
        validator
            .validate::<StandardClaims>(&k1.token("alice"))
            .unwrap_err()
            .kind(),
        AuthErrorKind::KeysUnavailable,
        "no set yet: 503, every token refused as not verifiable yet"
    );

    remote.ready(Duration::from_secs(5)).await.unwrap();
    assert!(remote.is_ready());
    assert_eq!(kids(&remote.shared_keys()), ["k1"]);
    let verified = validator
        .validate::<StandardClaims>(&k1.token("alice"))
        .unwrap();
    assert_eq!(verified.claims().sub, "alice");
    assert_eq!(idp.hits(), 1);
}

#[tokio::test]
async fn ready_gives_up_with_the_last_fetch_error() {
    let idp = Idp::start(String::new()).await;
    idp.set(|a| a.status = StatusCode::INTERNAL_SERVER_ERROR);
    let remote = RemoteJwks::builder(&idp.url).build().unwrap();
    let error = remote.ready(Duration::from_millis(500)).await.unwrap_err();
    assert_eq!(error.kind(), JwksErrorKind::NotReady);
    let source = std::error::Error::source(&error)
        .and_then(|s| s.downcast_ref::<JwksError>())
        .expect("the last fetch error is the source");
    assert_eq!(source.kind(), JwksErrorKind::Status);
    assert_eq!(source.status(), Some(500));
    assert!(!remote.is_ready());
}

#[tokio::test]
async fn background_refresh_picks_up_a_new_key() {
    let (k1, k2) = (IdpKey::new("k1"), IdpKey::new("k2"));
    let idp = Idp::start(jwks(&[&k1])).await;
    let remote = ready_remote(&idp, Duration::from_millis(200)).await;
    let keys = remote.shared_keys();
    assert_eq!(kids(&keys), ["k1"]);

    idp.set(|a| a.body = jwks(&[&k1, &k2]));
    let deadline = Instant::now() + Duration::from_secs(5);
    while kids(&keys).len() < 2 {
        assert!(Instant::now() < deadline, "the new key never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kids(&keys), ["k1", "k2"]);
    let validator = validator(keys);
    validator
        .validate::<StandardClaims>(&k2.token("bob"))
        .unwrap();

    // A key withdrawn by the provider is dropped as well.
    idp.set(|a| a.body = jwks(&[&k2]));
    let deadline = Instant::now() + Duration::from_secs(5);
    while validator
        .validate::<StandardClaims>(&k1.token("alice"))
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "the withdrawn key is still trusted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unknown_kid_triggers_a_refresh_and_the_first_token_is_accepted() {
    let (k1, k2) = (IdpKey::new("k1"), IdpKey::new("k2"));
    let idp = Idp::start(jwks(&[&k1])).await;
    let remote = ready_remote(&idp, LONG).await;
    let app = Arc::new(app(validator(remote.shared_keys())).await);
    assert_eq!(get_me(&app, &k1.token("alice")).await, StatusCode::OK);

    // The provider publishes k2 and a client presents a token signed with it
    // at once: the layer fetches, waits, and accepts it the first time.
    idp.set(|a| {
        a.body = jwks(&[&k1, &k2]);
        a.delay = Duration::from_millis(100);
    });
    assert_eq!(get_me(&app, &k2.token("bob")).await, StatusCode::OK);
    assert_eq!(idp.hits(), 2);
    assert_eq!(kids(&remote.shared_keys()), ["k1", "k2"]);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown() {
    let k1 = IdpKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    let cooldown = Duration::from_secs(3);
    let remote = RemoteJwks::builder(&idp.url)
        .refresh_interval(LONG)
        .cooldown(cooldown)
        .build()
        .unwrap();
    remote.ready(Duration::from_secs(5)).await.unwrap();
    let app = Arc::new(app(validator(remote.shared_keys())).await);
    let mallory = IdpKey::new("mallory");
    let tokens: Vec<Vec<String>> = (0..3)
        .map(|round| {
            (0..40)
                .map(|i| {
                    let signer = mallory
                        .signer
                        .clone()
                        .with_kid(format!("made-up-{round}-{i}"));
                    signer.sign("JWT", &claims("mallory", &[])).unwrap()
                })
                .collect()
        })
        .collect();
    let started = Instant::now();

    let flood = |round: usize| {
        let app = app.clone();
        let tokens = tokens[round].clone();
        async move {
            let mut requests = tokio::task::JoinSet::new();
            for token in tokens {
                let app = app.clone();
                requests.spawn(async move { get_me(&app, &token).await });
            }
            while let Some(status) = requests.join_next().await {
                assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
            }
        }
    };
    flood(0).await;
    flood(1).await;
    assert!(started.elapsed() < cooldown, "the test machine is too slow");
    assert_eq!(
        idp.hits(),
        2,
        "start-up plus one refresh for the whole flood"
    );

    tokio::time::sleep(cooldown.saturating_sub(started.elapsed()) + Duration::from_millis(100))
        .await;
    flood(2).await;
    assert_eq!(idp.hits(), 3, "one more after the cooldown");
    assert_eq!(get_me(&app, &k1.token("alice")).await, StatusCode::OK);
}

/// What breaks the provider, how, and the error expected.
type Failure = (&'static str, fn(&mut Answer), JwksErrorKind);

#[tokio::test]
async fn provider_errors_and_timeouts_keep_the_stale_keys() {
    let k1 = IdpKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    let remote = RemoteJwks::builder(&idp.url)
        .refresh_interval(Duration::from_millis(100))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    remote.ready(Duration::from_secs(5)).await.unwrap();
    let validator = validator(remote.shared_keys());

    let failures: [Failure; 5] = [
        (
            "503",
            |a| a.status = StatusCode::SERVICE_UNAVAILABLE,
            JwksErrorKind::Status,
        ),
        (
            "bad JSON",
            |a| a.body = "{\"keys\": [".into(),
            JwksErrorKind::InvalidJwks,
        ),
        (
            "empty set",
            |a| a.body = r#"{"keys": []}"#.into(),
            JwksErrorKind::InvalidJwks,
        ),
        (
            "weak key",
            |a| {
                a.body = r#"{"keys": [{"kty": "oct", "alg": "HS256", "kid": "w", "k": "c2hvcnQ"}]}"#
                    .into()
            },
            JwksErrorKind::InvalidJwks,
        ),
        (
            "timeout",
            |a| a.delay = Duration::from_secs(2),
            JwksErrorKind::Timeout,
        ),
    ];
    let good = jwks(&[&k1]);
    for (what, break_it, kind) in failures {
        idp.set(|a| {
            *a = Answer {
                status: StatusCode::OK,
                body: good.clone(),
                delay: Duration::ZERO,
                chunked: false,
            };
            break_it(a);
        });
        let hits = idp.hits();
        idp.wait_for_hits(hits + 2).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while last_error_kind(&remote) != Some(kind) {
            assert!(
                Instant::now() < deadline,
                "{what}: {:?}",
                remote.last_error()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(kids(&remote.shared_keys()), ["k1"], "{what}");
        assert!(remote.is_ready(), "{what}");
        validator
            .validate::<StandardClaims>(&k1.token("alice"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[tokio::test]
async fn a_slow_provider_hits_the_timeout() {
    let k1 = IdpKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    idp.set(|a| a.delay = Duration::from_secs(5));
    let started = Instant::now();
    let remote = RemoteJwks::builder(&idp.url)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let deadline = started + Duration::from_secs(2);
    while last_error_kind(&remote).is_none() {
        assert!(Instant::now() < deadline, "the fetch was not cut off");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(last_error_kind(&remote), Some(JwksErrorKind::Timeout));
    assert!(!remote.is_ready());
    assert!(remote.shared_keys().load().is_none());
}

#[tokio::test]
async fn an_oversized_document_is_refused_with_or_without_content_length() {
    let k1 = IdpKey::new("k1");
    let mut padded = jwks(&[&k1]);
    padded.insert_str(padded.len() - 1, &" ".repeat(4096));
    let idp = Idp::start(padded).await;
    for chunked in [false, true] {
        idp.set(|a| a.chunked = chunked);
        let remote = RemoteJwks::builder(&idp.url)
            .max_body_bytes(2048)
            .build()
            .unwrap();
        let error = remote.ready(Duration::from_millis(400)).await.unwrap_err();
        let source = std::error::Error::source(&error)
            .and_then(|s| s.downcast_ref::<JwksError>())
            .unwrap();
        assert_eq!(source.kind(), JwksErrorKind::TooLarge, "chunked: {chunked}");
        assert!(remote.shared_keys().load().is_none());

        // The same document within the limit is accepted.
        let remote = RemoteJwks::builder(&idp.url)
            .max_body_bytes(8192)
            .build()
            .unwrap();
        remote.ready(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn shared_keys_swap_applies_to_validators_and_cached_tokens() {
    let (k1, k2) = (IdpKey::new("k1"), IdpKey::new("k2"));
    let keys = SharedKeys::new(KeySet::new([k1.verifying_key()]).unwrap());
    let validator = validator(keys.clone());
    let app = app(validator.clone()).await;
    let (t1, t2) = (k1.token("alice"), k2.token("bob"));

    assert_eq!(get_me(&app, &t1).await, StatusCode::OK);
    assert_eq!(
        get_me(&app, &t1).await,
        StatusCode::OK,
        "served from the token cache"
    );
    assert_eq!(get_me(&app, &t2).await, StatusCode::UNAUTHORIZED);

    keys.replace(KeySet::new([k2.verifying_key()]).unwrap());
    assert_eq!(
        validator
            .validate::<StandardClaims>(&t1)
            .unwrap_err()
            .kind(),
        AuthErrorKind::UnknownKey
    );
    assert_eq!(
        get_me(&app, &t1).await,
        StatusCode::UNAUTHORIZED,
        "cached, but its key is gone"
    );
    assert_eq!(get_me(&app, &t2).await, StatusCode::OK);
    assert_eq!(validator.keys().unwrap().len(), 1);
}

#[test]
fn static_and_shared_keys_are_exclusive() {
    let k1 = IdpKey::new("k1");
    let error = Validator::builder()
        .key(k1.verifying_key())
        .shared_keys(SharedKeys::empty())
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting);
    assert_eq!(
        Validator::builder().build().unwrap_err().kind(),
        ConfigErrorKind::NoKeys,
        "no keys at all is still refused"
    );
    let empty = Validator::builder()
        .shared_keys(SharedKeys::empty())
        .build()
        .unwrap();
    assert_eq!(
        empty
            .validate::<StandardClaims>(&k1.token("a"))
            .unwrap_err()
            .kind(),
        AuthErrorKind::KeysUnavailable
    );
}

#[test]
fn remote_jwks_needs_a_runtime_and_an_http_url() {
    let error = RemoteJwks::builder("https://idp.example/jwks.json")
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    for url in ["file:///etc/jwks.json", "not a url"] {
        let error = RemoteJwks::builder(url).build().unwrap_err();
        assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting, "{url}");
    }
    let error = RemoteJwks::builder("https://idp.example/jwks.json")
        .cooldown(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting);
    let error = RemoteJwks::builder("https://idp.example/jwks.json")
        .rsa_algorithm(jwt_guard::Algorithm::ES256)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::AlgorithmMismatch);
}

/// A provider's RSA key without `alg` verifies the RSA algorithm the source
/// was told (RS256 by default), and no other.
#[tokio::test]
async fn rsa_keys_without_alg_verify_the_algorithm_the_source_was_told() {
    use jwt_guard::Algorithm;

    let (key, components) = crate::support::keys::rsa_key();
    let jwk = serde_json::json!({
        "kty": "RSA", "kid": "r", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(&components.n), "e": URL_SAFE_NO_PAD.encode(&components.e),
    });
    let idp = Idp::start(serde_json::json!({ "keys": [jwk] }).to_string()).await;
    let token = |alg: Algorithm| {
        SigningKey::from_rsa_pem(alg, &key.private_pem)
            .unwrap()
            .with_kid("r")
            .sign("JWT", &claims("alice", &[]))
            .unwrap()
    };
    for (told, refused) in [
        (None, Algorithm::PS256),
        (Some(Algorithm::PS256), Algorithm::RS256),
    ] {
        let mut builder = RemoteJwks::builder(&idp.url).cooldown(LONG);
        if let Some(alg) = told {
            builder = builder.rsa_algorithm(alg);
        }
        let remote = builder.build().unwrap();
        remote.ready(Duration::from_secs(5)).await.unwrap();
        let app = app(validator(remote.shared_keys())).await;
        let accepted = told.unwrap_or(Algorithm::RS256);
        assert_eq!(
            get_me(&app, &token(accepted)).await,
            StatusCode::OK,
            "{accepted}"
        );
        assert_eq!(
            get_me(&app, &token(refused)).await,
            StatusCode::UNAUTHORIZED,
            "{refused}"
        );
    }
}

#[tokio::test]
async fn one_unusable_key_does_not_freeze_the_set() {
    let (k1, k2) = (IdpKey::new("k1"), IdpKey::new("k2"));
    let idp = Idp::start(jwks(&[&k1])).await;
    let remote = ready_remote(&idp, Duration::from_millis(300)).await;
    let app = app(validator(remote.shared_keys())).await;
    assert_eq!(get_me(&app, &k1.token("alice")).await, StatusCode::OK);
    // The provider withdraws k1 and publishes k2, one key this crate cannot
    // use (an EC key whose curve does not fit its alg), and two keys that
    // share a kid.
    let mut odd = k2.jwk.clone();
    odd["kid"] = "odd".into();
    odd["kty"] = "EC".into();
    odd["crv"] = "P-384".into();
    odd["alg"] = "ES256".into();
    let (t1, t2) = (IdpKey::new("twin"), IdpKey::new("twin"));
    let body = serde_json::json!({ "keys": [k2.jwk.clone(), odd, t1.jwk.clone(), t2.jwk.clone()] })
        .to_string();
    let hits = idp.hits();
    idp.set(|a| a.body = body);
    idp.wait_for_hits(hits + 2).await;
    eventually(
        "the set holds k2 alone, without an error",
        Duration::from_secs(5),
        async || kids(&remote.shared_keys()) == ["k2"] && remote.last_error().is_none(),
    )
    .await;
    assert_eq!(
        get_me(&app, &k1.token("alice")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get_me(&app, &k2.token("bob")).await, StatusCode::OK);
    assert_eq!(
        get_me(&app, &t1.token("eve")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_new_kid_is_accepted_even_while_an_older_fetch_is_under_way() {
    let (k1, k2) = (IdpKey::new("k1"), IdpKey::new("k2"));
    let idp = Idp::start(jwks(&[&k1])).await;
    let remote = ready_remote(&idp, Duration::from_secs(1)).await;
    let app = app(validator(remote.shared_keys())).await;
    assert_eq!(get_me(&app, &k1.token("alice")).await, StatusCode::OK);
    // The periodic fetch starts and reads the old document, answered slowly.
    idp.set(|a| a.delay = Duration::from_millis(800));
    idp.wait_for_hits(2).await;
    // Meanwhile k2 is published and a client uses it at once.
    idp.set(|a| {
        a.body = jwks(&[&k1, &k2]);
        a.delay = Duration::ZERO;
    });
    assert_eq!(get_me(&app, &k2.token("bob")).await, StatusCode::OK);
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_and_urls_are_redacted() {
    let builder = RemoteJwks::builder("https://user:hunter2@idp.example/jwks?api_key=SECRET");
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("SECRET"),
        "{shown}"
    );
    let error = RemoteJwks::builder("http://idp.example.com/jwks")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("http"), "{error}");
    assert!(
        RemoteJwks::builder("http://idp.example.com/jwks")
            .allow_http(true)
            .build()
            .is_ok()
    );
}
