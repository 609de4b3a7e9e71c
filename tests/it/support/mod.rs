//! Shared test harness: keys and token minting at test time, and serving a
//! router on a free loopback port for a real HTTP client.

#[cfg(feature = "axum")]
pub mod dpop;
#[cfg(any(all(feature = "axum", feature = "redis"), feature = "tonic"))]
pub mod example;
pub mod interop;
pub mod keys;
#[cfg(all(feature = "jwks", feature = "axum"))]
pub mod oidc;
#[cfg(any(feature = "redis", feature = "tonic", feature = "jwks"))]
pub mod ports;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(all(feature = "socketio", feature = "axum"))]
pub mod socketio;

use std::time::{SystemTime, UNIX_EPOCH};

use jwt_guard::{Algorithm, SigningKey, Validator, ValidatorBuilder, VerifyingKey};
use serde_json::{Value, json};

/// A 32-byte HMAC secret, made for the test run.
pub const SECRET: &[u8] = b"test-secret-0123456789abcdef-0123";
pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "test-api";

/// The checkout under test, as cargo says when it runs the tests: a test
/// binary reused from a target directory shared between clones (as
/// `.ci/run` does) was compiled with another clone's path.
pub fn checkout() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    )
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The HS256 signing key matching [`validator`].
pub fn signer() -> SigningKey {
    SigningKey::hmac(Algorithm::HS256, SECRET).unwrap()
}

/// A validator builder with the HS256 test key, `iss` and `aud` configured.
pub fn validator_builder() -> ValidatorBuilder {
    Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

/// A validator trusting only `key`, with the test issuer and audience.
pub fn validator_with(key: VerifyingKey) -> Validator {
    Validator::builder()
        .key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

pub fn validator() -> Validator {
    validator_builder().build().unwrap()
}

/// Claims that pass [`validator`]: `sub`, `iss`, `aud`, `iat`, `nbf`,
/// `exp` in 5 minutes, a unique `jti`, and `roles`.
pub fn claims(sub: &str, roles: &[&str]) -> Value {
    let now = now();
    json!({
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": unique_id(),
        "roles": roles,
    })
}

/// Mints an HS256 token over `claims` with the test key.
pub fn mint(claims: &Value) -> String {
    signer().sign("JWT", claims).unwrap()
}

/// Mints a token for `sub` with `roles` that passes [`validator`].
pub fn token(sub: &str, roles: &[&str]) -> String {
    mint(&claims(sub, roles))
}

/// Signs raw header and payload JSON text with the test key, for tokens
/// whose header or payload must be odd in a way serde would not produce.
pub fn mint_raw(header: &str, payload: &str) -> String {
    signer()
        .sign_jws(header.as_bytes(), payload.as_bytes())
        .unwrap()
}

pub fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        now(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(feature = "axum")]
/// Serves `app` on a free loopback port, with the client's address for
/// handlers that ask for `ConnectInfo<SocketAddr>` (the demo's login
/// throttle); returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    use std::net::SocketAddr;

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

#[cfg(feature = "axum")]
/// A log writer that keeps what it is given, for tests that read the logs.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(feature = "axum")]
impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "axum")]
impl Captured {
    /// A subscriber that writes every event and span, at every level,
    /// here, without colours.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[cfg(all(feature = "axum", any(feature = "redis", feature = "jwks")))]
/// Polls `condition` until it holds, for what another task or process makes
/// true a moment later (a mirror fed through Redis pub/sub, a key set
/// refreshed in the background); panics, naming `what`, after `within`.
pub async fn eventually(
    what: &str,
    within: std::time::Duration,
    mut condition: impl AsyncFnMut() -> bool,
) {
    use std::time::{Duration, Instant};

    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(feature = "axum")]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

#[cfg(feature = "axum")]
/// Asserts that nothing of `token` (its signature, or the token itself)
/// appears in a response's headers or body.
pub fn assert_no_token_leak(token: &str, headers: &reqwest::header::HeaderMap, body: &str) {
    let signature = token.rsplit('.').next().unwrap_or_default();
    let mut haystack = body.to_owned();
    for value in headers.values() {
        haystack.push_str(&String::from_utf8_lossy(value.as_bytes()));
    }
    assert!(!haystack.contains(token), "the response contains the token");
    if signature.len() >= 8 {
        assert!(
            !haystack.contains(signature),
            "the response contains the token's signature"
        );
    }
}

#[cfg(feature = "axum")]
pub use failing::FailingStore;

#[cfg(feature = "axum")]
mod failing {
    use std::time::SystemTime;

    use jwt_guard::store::{
        BoxFuture, Lookup, RevocationStore, StoreError, StoreErrorKind, TokenRef,
    };

    /// A store that cannot answer, as Redis does when it is down.
    pub struct FailingStore;

    impl RevocationStore for FailingStore {
        fn check(&self, _: &TokenRef<'_>) -> Lookup {
            Lookup::Ready(Err(StoreError::new(StoreErrorKind::Unavailable)))
        }

        fn revoke_token<'a>(
            &'a self,
            _: &'a str,
            _: Option<&'a str>,
            _: SystemTime,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Err(StoreError::new(StoreErrorKind::Unavailable)) })
        }

        fn revoke_subject<'a>(
            &'a self,
            _: &'a str,
            _: SystemTime,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Err(StoreError::new(StoreErrorKind::Unavailable)) })
        }
    }
}
