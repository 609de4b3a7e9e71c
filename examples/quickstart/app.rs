//! The quickstart's service: HS256 tokens with required `iss` and `aud` (or
//! an identity provider's, by discovery), a role guard, optional auth, and
//! logout through the revocation store.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::uri::{Authority, Scheme};
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_guard::dpop::DpopVerifier;
use jwt_guard::layer::JwtLayerBuilder;
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::store::{MemoryStore, RevocationStore, Revoker, StoreErrorKind};
use jwt_guard::{
    ClaimMapping, Claims, ConfigError, JwtLayer, RequireRole, StandardClaims, Validator,
};

use super::keys_env;
pub use super::keys_env::KeySource;
use serde_json::{Value, json};

jwt_guard::role!(Admin = "admin");

/// What the service needs to know; `main` reads it from the environment.
pub struct Config {
    /// The HS256 secret, or the identity provider(s) to discover.
    pub keys: KeySource,
    /// The `iss` of HS256 tokens (with a provider, each issuer is its own).
    pub issuer: String,
    pub audience: String,
    /// Where revocations are shared; `None` keeps them in this process.
    pub redis: Option<RedisConfig>,
    /// Where the tokens keep the subject, roles and permissions, for tokens
    /// minted by other systems (default: `sub`, `roles`, `permissions`).
    pub mapping: ClaimMapping,
    /// The scheme and authority clients reach the service at, which DPoP
    /// proofs name (`PUBLIC_ORIGIN`); `None`: the request's own.
    pub public_origin: Option<(Scheme, Authority)>,
}

/// The service: `/me`, `/admin`, `/public` and `/logout`.
///
/// The secret is checked first, so a bad one stops the service before
/// anything else; then the revocation store is made (a Redis store waits up
/// to 5 s for Redis, and answers 503 until it is reachable).
pub async fn app(config: &Config) -> Result<Router, Box<dyn Error + Send + Sync>> {
    let validator = validator(config)?;
    let store = store(config).await?;
    Ok(router(validator, store, config.public_origin.clone()))
}

/// `GET /me`: the caller's subject and roles.
async fn me(claims: Claims<StandardClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles }))
}

/// `GET /admin`: only for role `admin`.
async fn admin(user: RequireRole<Admin>) -> Json<Value> {
    Json(json!({ "sub": user.sub, "message": "welcome, admin" }))
}

/// `GET /public`: anyone; names the caller when a valid token came.
async fn public(claims: Option<Claims<StandardClaims>>) -> Json<Value> {
    match claims {
        Some(claims) => Json(json!({ "message": "hello", "sub": claims.sub })),
        None => Json(json!({ "message": "hello, stranger" })),
    }
}

/// `POST /logout`: revokes the presented token.
async fn logout(State(revoker): State<Revoker>, claims: Claims<StandardClaims>) -> StatusCode {
    match revoker.revoke_token(claims.registered()).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(error) => {
            tracing::warn!(%error, "logout failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// The revocation store: Redis (mirrored) when configured, else in memory.
async fn store(config: &Config) -> Result<Arc<dyn RevocationStore>, Box<dyn Error + Send + Sync>> {
    let Some(redis) = &config.redis else {
        eprintln!(
            "quickstart: revocations in memory (set REDIS_URL, REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS to share them)"
        );
        return Ok(Arc::new(MemoryStore::new()));
    };
    let store = RedisStore::new(redis.clone())?;
    match store.ready(Duration::from_secs(5)).await {
        Ok(()) => eprintln!("quickstart: revocations in Redis ({store:?})"),
        // A wrong password or database index: 503 forever would hide it.
        Err(error) if error.kind() == StoreErrorKind::Misconfigured => return Err(error.into()),
        Err(error) => {
            eprintln!("quickstart: Redis is not reachable yet ({error}); answering 503 until it is")
        }
    }
    Ok(Arc::new(store))
}

/// HS256 (or the provider's keys), `iss` and `aud` required, 30 s leeway,
/// the claims where the configuration says.
fn validator(config: &Config) -> Result<Validator, ConfigError> {
    keys_env::validator(
        &config.keys,
        &config.issuer,
        &config.audience,
        config.mapping.clone(),
    )
}

/// Both layers take bearer and DPoP-bound tokens (RFC 9449): a bound
/// token passes with a proof of its key, never as a bearer token.
fn router(
    validator: Validator,
    store: Arc<dyn RevocationStore>,
    public_origin: Option<(Scheme, Authority)>,
) -> Router {
    let layer = |builder: JwtLayerBuilder<StandardClaims>| {
        let builder = builder
            .shared_store(store.clone())
            .realm("quickstart")
            .dpop(DpopVerifier::default());
        match public_origin.clone() {
            Some((scheme, authority)) => builder.dpop_public_origin(scheme, authority),
            None => builder,
        }
    };
    let required = layer(JwtLayer::builder(validator.clone())).build();
    let optional = layer(JwtLayer::builder(validator)).optional(true).build();

    let protected = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/logout", post(logout))
        .with_state(required.revoker())
        .layer(required);
    let open = Router::new().route("/public", get(public)).layer(optional);
    protected.merge(open)
}
