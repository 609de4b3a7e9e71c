//! The smallest useful jwt-guard service: HS256 tokens, required `iss` and
//! `aud`, role guard, optional auth, and logout through the revocation store.
//!
//! ```text
//! export JWT_SECRET=$(head -c 32 /dev/urandom | base64)
//! cargo run --example quickstart
//! TOKEN=$(cargo run -q --example quickstart -- mint alice admin,user)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! ```
//!
//! Environment: `JWT_SECRET` (required, at least 32 bytes), `JWT_ISSUER`
//! (default `quickstart`), `JWT_AUDIENCE` (default `quickstart-api`), `BIND`
//! (default `127.0.0.1:3000`). Revocations are kept in memory, unless
//! `REDIS_URL=redis://…` (one Redis, mirrored locally) or
//! `REDIS_CLUSTER_URLS=redis://a,redis://b,…` (a Redis Cluster) is set: then
//! every quickstart sharing that Redis refuses a token logged out on any of them.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::store::{MemoryStore, RevocationStore, Revoker};
use jwt_guard::{
    Algorithm, Claims, JwtLayer, RequireRole, SigningKey, StandardClaims, Validator, VerifyingKey,
};
use serde_json::{Value, json};

jwt_guard::role!(Admin = "admin");

struct Config {
    secret: String,
    issuer: String,
    audience: String,
    bind: String,
    redis: Option<RedisConfig>,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let secret = std::env::var("JWT_SECRET").map_err(|_| {
            "JWT_SECRET is not set: give it a secret of at least 32 bytes".to_owned()
        })?;
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let redis = match (set("REDIS_URL"), set("REDIS_CLUSTER_URLS")) {
            (Some(_), Some(_)) => {
                return Err("set REDIS_URL or REDIS_CLUSTER_URLS, not both".to_owned());
            }
            (Some(url), None) => Some(RedisConfig::url(url)),
            (None, Some(urls)) => Some(RedisConfig::cluster(
                urls.split(',').map(str::trim).filter(|u| !u.is_empty()),
            )),
            (None, None) => None,
        };
        Ok(Self {
            secret,
            issuer: var("JWT_ISSUER", "quickstart"),
            audience: var("JWT_AUDIENCE", "quickstart-api"),
            bind: var("BIND", "127.0.0.1:3000"),
            redis,
        })
    }
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
async fn store(config: &Config) -> Result<Arc<dyn RevocationStore>, jwt_guard::ConfigError> {
    let Some(redis) = &config.redis else {
        eprintln!(
            "quickstart: revocations in memory (set REDIS_URL or REDIS_CLUSTER_URLS to share them)"
        );
        return Ok(Arc::new(MemoryStore::new()));
    };
    let store = RedisStore::new(redis.clone())?;
    match store.ready(Duration::from_secs(5)).await {
        Ok(()) => eprintln!("quickstart: revocations in Redis ({store:?})"),
        Err(error) => {
            eprintln!("quickstart: Redis is not reachable yet ({error}); answering 503 until it is")
        }
    }
    Ok(Arc::new(store))
}

/// HS256 only, `iss` and `aud` required, 30 s leeway.
fn validator(config: &Config) -> Result<Validator, jwt_guard::ConfigError> {
    Validator::builder()
        .key(VerifyingKey::hmac(
            Algorithm::HS256,
            config.secret.as_bytes(),
        )?)
        .issuer(&config.issuer)
        .audience(&config.audience)
        .leeway(Duration::from_secs(30))
        .build()
}

fn app(validator: Validator, store: Arc<dyn RevocationStore>) -> Router {
    let required = JwtLayer::<StandardClaims>::builder(validator.clone())
        .shared_store(store.clone())
        .realm("quickstart")
        .build();
    let optional = JwtLayer::<StandardClaims>::builder(validator)
        .shared_store(store)
        .realm("quickstart")
        .optional(true)
        .build();

    let protected = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/logout", post(logout))
        .with_state(required.revoker())
        .layer(required);
    let open = Router::new().route("/public", get(public)).layer(optional);
    protected.merge(open)
}

/// Reports a configuration error with its causes, and fails.
fn invalid(error: &jwt_guard::ConfigError) -> ExitCode {
    let mut message = format!("quickstart: invalid configuration: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// `quickstart mint SUB [ROLE,ROLE…]`: prints a 15-minute token for trying the routes.
fn mint(config: &Config, args: &[String]) -> Result<String, jwt_guard::ConfigError> {
    let sub = args.first().map_or("alice", String::as_str);
    let roles: Vec<&str> = args
        .get(1)
        .map(|r| r.split(',').filter(|r| !r.is_empty()).collect())
        .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = json!({
        "sub": sub, "iss": config.issuer, "aud": config.audience, "roles": roles,
        "iat": now, "nbf": now, "exp": now + 15 * 60,
        "jti": format!("{now:x}-{}", std::process::id()),
    });
    SigningKey::hmac(Algorithm::HS256, config.secret.as_bytes())?.sign("JWT", &claims)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,jwt_guard=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("quickstart: {message}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("mint") {
        return match mint(&config, &args[1..]) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("quickstart: {error}");
                ExitCode::FAILURE
            }
        };
    }
    // The secret first: a bad one must stop the service before anything else.
    let app = match validator(&config) {
        Ok(validator) => match store(&config).await {
            Ok(store) => app(validator, store),
            Err(error) => return invalid(&error),
        },
        Err(error) => return invalid(&error),
    };
    let listener = match tokio::net::TcpListener::bind(&config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("quickstart: cannot bind {}: {error}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "quickstart listening on http://{} (iss {}, aud {})",
        config.bind, config.issuer, config.audience
    );
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("quickstart: server error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
