//! JWT authentication for axum, tonic and Socket.IO services: a Tower layer
//! that verifies Bearer tokens locally and strictly, checks revocation, and
//! hands typed claims to handlers, with role guards declared in handler
//! signatures.
//!
//! # Quick start
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_guard::{
//!     Algorithm, Claims, JwtLayer, RequireRole, StandardClaims, Validator, VerifyingKey,
//! };
//!
//! jwt_guard::role!(Admin = "admin");
//!
//! async fn me(claims: Claims<StandardClaims>) -> String {
//!     format!("hello {}", claims.sub)
//! }
//!
//! async fn admin(_: RequireRole<Admin>) -> &'static str {
//!     "welcome, admin"
//! }
//!
//! # fn main() -> Result<(), jwt_guard::ConfigError> {
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(admin))
//!     .layer(JwtLayer::<StandardClaims>::new(validator));
//! # Ok(()) }
//! ```
//!
//! # What is refused
//!
//! The [`Validator`] refuses, among others: `alg: none`; an `alg` other than
//! the key's own; a token without `kid` when several keys could verify it;
//! tokens over 8 KiB (checked before decoding); non-canonical base64url;
//! duplicate JSON members; unknown `crit` extensions; a missing `exp`; string
//! or absurd time claims; an `nbf` or `iat` in the future beyond the leeway;
//! and, once configured, a missing or different `iss` or `aud`. Keys are never
//! taken from the token (`jwk`, `jku`, `x5u` are ignored), HMAC secrets under
//! 32 bytes and RSA keys under 2048 bits are refused at start-up.
//!
//! # Keys
//!
//! Key material lives in [`keys`]: [`VerifyingKey`]s (from a secret, PEM, JWK
//! or JWKS) gathered in a [`KeySet`], [`SigningKey`]s that mint tokens, and
//! [`SharedKeys`] for a set replaced at runtime (rotation, a remote JWKS).
//! `Key`, the 0.1 name of [`VerifyingKey`], remains as a deprecated alias
//! through 0.2.
//!
//! # Any transport: the pipeline
//!
//! The layer is one transport over [`auth::Authenticator`], the pipeline
//! that takes a token from text to verified claims: the length rule, the
//! cache of verified tokens, the signature and claim rules, one wait for a
//! key refresh on an unknown `kid`, the revocation check, and the outcome
//! recorded once. Call it directly for anything that is not an HTTP request
//! (a WebSocket message, a Socket.IO handshake, a queue); take the layer's
//! own, so both share the cache, the keys and the store:
//!
//! ```
//! use jwt_guard::{Algorithm, Credential, JwtLayer, StandardClaims, Validator, VerifyingKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let secret = b"a-secret-of-at-least-thirty-two-bytes!";
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, secret)?)
//!     .build()?;
//! let layer = JwtLayer::<StandardClaims>::new(validator);
//! let authenticator = layer.authenticator().clone();
//!
//! # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! # let token = jwt_guard::SigningKey::hmac(Algorithm::HS256, secret)?
//! #     .sign("JWT", &serde_json::json!({"sub": "alice", "exp": now + 60}))?;
//! // A token that came in a message rather than a header:
//! match authenticator.authenticate(Credential::bearer(&token)).await {
//!     Ok(claims) => assert_eq!(claims.sub, "alice"),
//!     // Render it your transport's way: `error_code()` is the RFC 6750 code.
//!     Err(error) => println!("refused: {} ({:?})", error, error.error_code()),
//! }
//! # Ok(()) }
//! ```
//!
//! # Revocation
//!
//! The layer asks a [`store::RevocationStore`] about every token that
//! passed verification (never about a forged one). The embedded
//! [`store::MemoryStore`] suits one instance; [`store::redis::RedisStore`]
//! shares revocations across every instance of every service, through a
//! single Redis, a Redis Cluster or Sentinel, and by default answers from a
//! local mirror that Redis keeps current, so a check stays in-process. When
//! the state cannot be known the layer answers 503 with `Retry-After`
//! (fail-closed) unless [`fail_open`](layer::JwtLayerBuilder::fail_open) was
//! chosen.
//!
//! # Sender-constrained tokens (DPoP)
//!
//! A token bound to a client's key (`cnf.jkt`, RFC 9449) is useless to
//! whoever steals it. [`JwtLayerBuilder::dpop`](layer::JwtLayerBuilder::dpop)
//! takes `Authorization: DPoP` with the request's `DPoP` proof, checked by
//! a [`dpop::DpopVerifier`] against the request and used once across every
//! instance sharing the store; a bound token is never accepted as a bearer
//! token, with DPoP configured or not.
//!
//! # Claims and guards
//!
//! Handlers name what they need: [`Claims<T>`] for any valid token (your own
//! `Deserialize` type, or [`StandardClaims`]), `Option<Claims<T>>` behind an
//! optional layer, and [`RequireRole<R, T>`](RequireRole) /
//! [`RequirePermission<P, T>`](RequirePermission) for a role or permission,
//! with one-line markers ([`role!`], [`permission!`]) combined by [`AnyOf`]
//! and [`AllOf`]. [`RequireLayer`] guards whole routes or services. Custom
//! claims take part by implementing [`HasRoles`].
//!
//! # Issuing and refresh
//!
//! [`issue::Issuer`] signs access tokens (RFC 9068 `at+jwt`, with `kid` and a
//! session id) and rotates opaque refresh tokens kept as hashes in a
//! [`store::RefreshStore`]: every use rotates, a spent token coming back
//! revokes its whole session, and [`logout`](issue::Issuer::logout) /
//! [`logout_all`](issue::Issuer::logout_all) revoke a session or every token
//! of a user. Signing keys rotate without downtime and are published as a
//! JWKS; [`issue::LoginThrottle`] limits login attempts in the same store,
//! and [`issue::RefreshCookie`] writes the refresh cookie. The
//! `demo` example is a complete login service built on them.
//!
//! # WebSockets and other long connections
//!
//! A connection outlives the check made when it opened.
//! [`watch::TokenWatch`] resolves when its token is revoked or expires, so
//! the connection can be closed (the demo closes its WebSocket with 1008).
//!
//! # Socket.IO
//!
//! With the `socketio` feature (default), `socketio::SocketAuth` is a
//! socketioxide connect middleware on the same pipeline: the token from the
//! client's `auth` payload, `connect_error` with the RFC 6750 code when it
//! is refused, [`Claims`] and the guards as socketioxide extractors, and
//! every socket told `auth_revoked` and disconnected when its token is
//! revoked or expires.
//!
//! # gRPC
//!
//! The layer wraps a tonic server unchanged and answers gRPC calls with
//! `grpc-status` codes. With the `tonic` feature, `grpc::RequestClaimsExt`
//! gives handlers the claims and role checks, and guards apply per service.
//!
//! # Observability
//!
//! Accepted requests run in a `debug`-level `jwt_guard.auth` span with `sub`
//! and `kid`; with the `metrics` feature the layer counts acceptances,
//! refusals by reason and store errors, and times its decisions (see the
//! `metrics` module).
//!
//! # Keys from an identity provider
//!
//! With the `jwks` feature, `keys::RemoteJwks` keeps a provider's JWKS
//! current (start-up fetch, background refresh, one fetch per cooldown for an
//! unknown `kid`, stale keys kept on errors) behind a lock-free [`SharedKeys`].
//!
//! # Errors
//!
//! Refusals are RFC 6750 responses (see [`error`]): 401 with a
//! `WWW-Authenticate: Bearer` challenge, 403 `insufficient_scope`, 400
//! `invalid_request`, or 503 with `Retry-After` when the revocation store
//! cannot answer; gRPC calls get the matching `grpc-status`. No response or
//! log line contains the token, its signature or a key. Replace the response
//! with [`on_rejection`](layer::JwtLayerBuilder::on_rejection); match on
//! [`AuthErrorKind`] (non-exhaustive) to decide.
//!
//! # Benchmarks
//!
//! The README has criterion medians against jwt-authorizer and axum-jwt-auth,
//! measured in one run (`cargo bench -p jwt-guard-peers`).
//!
//! # Feature flags
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `axum` | yes | the [`Claims`] extractor and role guards for axum 0.8 |
//! | `aws_lc_rs` | yes | `jsonwebtoken`'s aws-lc-rs crypto backend |
//! | `rust_crypto` | no | `jsonwebtoken`'s RustCrypto backend (used when `aws_lc_rs` is off) |
//! | `redis` | yes | [`store::redis::RedisStore`]: Redis, Redis Cluster and Sentinel, mirrored locally |
//! | `redis-tls` | no | `rediss://` URLs (rustls) |
#![cfg_attr(
    feature = "socketio",
    doc = "| `socketio` | yes | [`socketio`]: socketioxide 0.18 connect middleware, extractors and guards; sockets end on revocation |"
)]
#![cfg_attr(
    not(feature = "socketio"),
    doc = "| `socketio` | yes | `socketio`: socketioxide 0.18 connect middleware, extractors and guards; sockets end on revocation |"
)]
#![cfg_attr(
    feature = "tonic",
    doc = "| `tonic` | no | [`grpc`]: claims and role guards for tonic handlers, guards per gRPC service |"
)]
#![cfg_attr(
    not(feature = "tonic"),
    doc = "| `tonic` | no | `grpc`: claims and role guards for tonic handlers, guards per gRPC service |"
)]
#![cfg_attr(
    feature = "jwks",
    doc = "| `jwks` | no | [`keys::RemoteJwks`]: an identity provider's JWKS, fetched over HTTPS (rustls) and refreshed in the background |"
)]
#![cfg_attr(
    not(feature = "jwks"),
    doc = "| `jwks` | no | `keys::RemoteJwks`: an identity provider's JWKS, fetched over HTTPS (rustls) and refreshed in the background |"
)]
#![cfg_attr(
    feature = "metrics",
    doc = "| `metrics` | no | [`metrics`]: counters and a latency histogram through the `metrics` facade (`jwt_guard_*`) |"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "| `metrics` | no | `metrics`: counters and a latency histogram through the `metrics` facade (`jwt_guard_*`) |"
)]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod body;
pub mod claims;
mod crypto;
pub mod dpop;
pub mod error;
#[cfg(feature = "axum")]
pub mod extract;
mod future;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "tonic")]
pub mod grpc;
pub mod guard;
pub mod issue;
mod json;
pub mod keys;
pub mod layer;
#[cfg(feature = "metrics")]
pub mod metrics;
mod observe;
mod policy;
mod rejection;
#[cfg(feature = "socketio")]
pub mod socketio;
pub mod store;
pub mod verify;
pub mod watch;

pub use auth::{Anonymous, Authenticator, Claims, Credential};
pub use claims::{Audience, ClaimMapping, HasRoles, NumericDate, RegisteredClaims, StandardClaims};
pub use error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
pub use guard::{AllOf, AnyOf, RequireLayer, RequirePermission, RequireRole, Requirement};
#[allow(deprecated)]
pub use keys::Key;
pub use keys::{Algorithm, KeySet, SharedKeys, SigningKey, VerifyingKey};
pub use layer::JwtLayer;
pub use verify::{Validator, ValidatorBuilder, Verified};

/// The remote JWKS source's 0.1 path: it is now [`keys::RemoteJwks`]
/// (constants in [`keys::remote`]). These deprecated aliases keep 0.1 code
/// building through 0.2.
#[cfg(feature = "jwks")]
#[deprecated(
    since = "0.2.0",
    note = "moved to jwt_guard::keys (RemoteJwks, RemoteJwksBuilder, JwksError, JwksErrorKind; constants in jwt_guard::keys::remote)"
)]
pub mod jwks {
    use std::time::Duration;

    use crate::keys::remote;

    /// Deprecated: [`keys::RemoteJwks`](crate::keys::RemoteJwks).
    #[deprecated(since = "0.2.0", note = "moved to jwt_guard::keys::RemoteJwks")]
    pub type RemoteJwks = remote::RemoteJwks;

    /// Deprecated: [`keys::RemoteJwksBuilder`](crate::keys::RemoteJwksBuilder).
    #[deprecated(since = "0.2.0", note = "moved to jwt_guard::keys::RemoteJwksBuilder")]
    pub type RemoteJwksBuilder = remote::RemoteJwksBuilder;

    /// Deprecated: [`keys::JwksError`](crate::keys::JwksError).
    #[deprecated(since = "0.2.0", note = "moved to jwt_guard::keys::JwksError")]
    pub type JwksError = remote::JwksError;

    /// Deprecated: [`keys::JwksErrorKind`](crate::keys::JwksErrorKind).
    #[deprecated(since = "0.2.0", note = "moved to jwt_guard::keys::JwksErrorKind")]
    pub type JwksErrorKind = remote::JwksErrorKind;

    /// Deprecated: [`keys::remote::DEFAULT_REFRESH_INTERVAL`](remote::DEFAULT_REFRESH_INTERVAL).
    #[deprecated(
        since = "0.2.0",
        note = "moved to jwt_guard::keys::remote::DEFAULT_REFRESH_INTERVAL"
    )]
    pub const DEFAULT_REFRESH_INTERVAL: Duration = remote::DEFAULT_REFRESH_INTERVAL;

    /// Deprecated: [`keys::remote::DEFAULT_COOLDOWN`](remote::DEFAULT_COOLDOWN).
    #[deprecated(
        since = "0.2.0",
        note = "moved to jwt_guard::keys::remote::DEFAULT_COOLDOWN"
    )]
    pub const DEFAULT_COOLDOWN: Duration = remote::DEFAULT_COOLDOWN;

    /// Deprecated: [`keys::remote::DEFAULT_TIMEOUT`](remote::DEFAULT_TIMEOUT).
    #[deprecated(
        since = "0.2.0",
        note = "moved to jwt_guard::keys::remote::DEFAULT_TIMEOUT"
    )]
    pub const DEFAULT_TIMEOUT: Duration = remote::DEFAULT_TIMEOUT;

    /// Deprecated: [`keys::remote::DEFAULT_MAX_BODY_BYTES`](remote::DEFAULT_MAX_BODY_BYTES).
    #[deprecated(
        since = "0.2.0",
        note = "moved to jwt_guard::keys::remote::DEFAULT_MAX_BODY_BYTES"
    )]
    pub const DEFAULT_MAX_BODY_BYTES: usize = remote::DEFAULT_MAX_BODY_BYTES;
}

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// 0.1 code, written against the names this release deprecates, still
/// builds (the warnings are what its users will see).
#[cfg(test)]
#[allow(deprecated)]
mod deprecated_paths {
    use crate::{Algorithm, ConfigErrorKind, Key, KeySet, SigningKey, StandardClaims, Validator};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn key_alias_builds_and_verifies_like_verifying_key() {
        let key: Key = Key::hmac(Algorithm::HS256, SECRET).unwrap().with_kid("a");
        let same: crate::keys::Key = key.clone();
        let renamed: &crate::VerifyingKey = &same;
        assert_eq!(renamed.kid(), Some("a"));
        assert_eq!(
            Key::hmac(Algorithm::HS256, &SECRET[..31])
                .unwrap_err()
                .kind(),
            ConfigErrorKind::WeakKey
        );

        let jwk =
            r#"{"kty":"oct","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;
        assert_eq!(Key::from_jwk(jwk).unwrap().algorithm(), Algorithm::HS256);
        let oct = r#"{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;
        assert!(Key::from_jwk_with_alg(oct, Algorithm::HS384).is_ok());

        let signer = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
        let verifying: Key = signer.verifying_key().unwrap();
        let keys: Vec<Key> = vec![verifying];
        let validator = Validator::builder()
            .keys(KeySet::new(keys).unwrap())
            .build()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({"sub": "alice", "exp": now + 300});
        let token = signer.sign("JWT", &claims).unwrap();
        assert_eq!(
            validator
                .validate::<StandardClaims>(&token)
                .unwrap()
                .claims()
                .sub,
            "alice"
        );
        assert!(KeySet::from(key).get("a").is_some());
    }

    #[test]
    fn shared_keys_keeps_its_verify_path() {
        let keys: crate::verify::SharedKeys = crate::keys::SharedKeys::empty();
        assert!(keys.load().is_none());
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn jwks_module_aliases_still_build() {
        use crate::jwks::{
            DEFAULT_COOLDOWN, DEFAULT_MAX_BODY_BYTES, DEFAULT_REFRESH_INTERVAL, DEFAULT_TIMEOUT,
            JwksError, JwksErrorKind, RemoteJwks, RemoteJwksBuilder,
        };

        let builder: RemoteJwksBuilder = RemoteJwks::builder("https://auth.example/jwks.json")
            .refresh_interval(DEFAULT_REFRESH_INTERVAL)
            .cooldown(DEFAULT_COOLDOWN)
            .timeout(DEFAULT_TIMEOUT)
            .max_body_bytes(DEFAULT_MAX_BODY_BYTES);
        // Outside a Tokio runtime: refused at build time, nothing fetched.
        let built: Result<RemoteJwks, _> = builder.build();
        assert_eq!(built.unwrap_err().kind(), ConfigErrorKind::InvalidSetting);

        let kind: fn(&JwksError) -> JwksErrorKind = JwksError::kind;
        let _ = kind;
        assert!(matches!(
            crate::keys::JwksErrorKind::NotReady,
            JwksErrorKind::NotReady
        ));
        assert_eq!(DEFAULT_TIMEOUT, crate::keys::remote::DEFAULT_TIMEOUT);
    }
}
