//! The contenders both benches measure, one home: the bench claims and
//! their minting, the routes (bare, jwt-guard, jwt-authorizer,
//! axum-jwt-auth) with the peers configured as strictly as they allow.
//! Each bench uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

/// HMAC secret shared by every HS256 contender. ASCII because jwt-authorizer
/// only takes the secret as `&str`; 46 bytes (jwt-guard wants >= 32).
pub const SECRET: &str = "jwt-guard-peers/bench/hs256-secret/0123456789";
pub const ISSUER: &str = "bench";
pub const AUDIENCE: &str = "bench-api";
pub const SUBJECT: &str = "bench-user";

// ---------------------------------------------------------------------------
// Claims and minting
// ---------------------------------------------------------------------------

/// The claims of every bench token. The peers deserialize into this type; its
/// fields are not `Option`, so a token missing any of them is refused at
/// deserialization (the peers' validators cannot all require `iss`, `aud`,
/// `iat`, `jti` to be present).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    pub roles: Vec<String>,
}

pub fn bench_claims() -> BenchClaims {
    bench_claims_with_jti(None)
}

/// The bench claims, with this `jti` instead of the default `bench-<now>`.
pub fn bench_claims_with_jti(jti: Option<&str>) -> BenchClaims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    BenchClaims {
        sub: SUBJECT.to_owned(),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: jti.map_or_else(|| format!("bench-{now}"), str::to_owned),
        roles: vec!["user".to_owned()],
    }
}

pub fn mint(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey) -> String {
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &bench_claims(), key).expect("mint token")
}

// ---------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------

/// The floor: the same route and the same handler work (an owned `String`
/// body, as the contenders return the subject) without authentication.
pub fn bare_router() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { SUBJECT.to_owned() }))
}

pub fn jwt_guard_hs256_validator() -> jwt_guard::Validator {
    jwt_guard_validator(
        jwt_guard::VerifyingKey::hmac(jwt_guard::Algorithm::HS256, SECRET.as_bytes())
            .expect("jwt-guard hmac key"),
    )
}

pub fn jwt_guard_validator(key: jwt_guard::VerifyingKey) -> jwt_guard::Validator {
    jwt_guard::Validator::builder()
        .key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("jwt-guard validator")
}

/// jwt-guard's layer + `Claims` extractor with this revocation store.
/// `token_cache_bytes`: `None` keeps the default verified-token cache (16 MiB),
/// so with one token every request after the first is a cache hit (signature
/// and parse skipped; time claims and revocation still checked); `Some(0)`
/// turns the cache off, so every request pays the full verification like the
/// peers do.
pub fn jwt_guard_router(
    store: impl jwt_guard::store::RevocationStore,
    token_cache_bytes: Option<usize>,
) -> axum::Router {
    use jwt_guard::{Claims, JwtLayer, StandardClaims};

    let mut builder = JwtLayer::<StandardClaims>::builder(jwt_guard_hs256_validator()).store(store);
    if let Some(bytes) = token_cache_bytes {
        builder = builder.token_cache_bytes(bytes);
    }
    let layer = builder.build();
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|c: Claims<StandardClaims>| async move { c.sub.clone() }),
        )
        .layer(layer)
}

/// jwt-authorizer 0.15 on axum 0.7. Strictest it allows: HS256 only, `iss` and
/// `aud` pinned, `exp` required and checked, `nbf` checked, no leeway. It cannot
/// require `iss`/`aud`/`nbf` to be present (its `Validation` only ever requires
/// `exp`); `BenchClaims` does that at deserialization.
pub fn jwt_authorizer_router(rt: &Runtime) -> axum07::Router {
    use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, Validation};

    let validation = Validation::new()
        .iss(&[ISSUER])
        .aud(&[AUDIENCE])
        .exp(true)
        .nbf(true)
        .leeway(0)
        .algs(vec![jsonwebtoken9::Algorithm::HS256]);
    let authorizer: Authorizer<BenchClaims> = rt
        .block_on(
            JwtAuthorizer::from_secret(SECRET)
                .validation(validation)
                .build(),
        )
        .expect("jwt-authorizer");
    axum07::Router::new()
        .route(
            "/",
            axum07::routing::get(|JwtClaims(c): JwtClaims<BenchClaims>| async move { c.sub }),
        )
        .layer(authorizer.into_layer())
}

/// axum-jwt-auth 0.7 (an extractor over a `LocalDecoder`, no layer). It takes a
/// raw jsonwebtoken 10 `Validation`, so everything jsonwebtoken can check is on.
pub fn axum_jwt_auth_router() -> axum::Router {
    use axum_jwt_auth::{Claims, Decoder, LocalDecoder};
    use jsonwebtoken10 as jwt10;

    let mut validation = jwt10::Validation::new(jwt10::Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.leeway = 0;
    let decoder = LocalDecoder::builder()
        .keys(vec![jwt10::DecodingKey::from_secret(SECRET.as_bytes())])
        .validation(validation)
        .build()
        .expect("axum-jwt-auth decoder");
    let decoder: Decoder<BenchClaims> = Arc::new(decoder);
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|c: Claims<BenchClaims>| async move { c.claims.sub }),
        )
        .with_state(decoder)
}

pub fn install_crypto_provider() {
    // jsonwebtoken 11 panics at first use when both of its backends end up
    // enabled through feature unification; pin aws-lc-rs (jwt-guard's default).
    // An error only means a provider is installed already.
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}
