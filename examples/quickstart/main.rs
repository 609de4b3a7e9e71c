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
//!
//! `app.rs` builds the service; this file reads the environment, mints
//! tokens for trying it, and serves it.

mod app;

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use app::Config;
use jwt_guard::store::redis::RedisConfig;
use jwt_guard::{Algorithm, SigningKey};
use serde_json::json;

/// The service's settings and the address to listen on, from the environment.
fn from_env() -> Result<(Config, String), String> {
    let secret = std::env::var("JWT_SECRET")
        .map_err(|_| "JWT_SECRET is not set: give it a secret of at least 32 bytes".to_owned())?;
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
    let config = Config {
        secret,
        issuer: var("JWT_ISSUER", "quickstart"),
        audience: var("JWT_AUDIENCE", "quickstart-api"),
        redis,
    };
    Ok((config, var("BIND", "127.0.0.1:3000")))
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

    let (config, bind) = match from_env() {
        Ok(settings) => settings,
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
    let app = match app::app(&config).await {
        Ok(app) => app,
        Err(error) => return invalid(&error),
    };
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("quickstart: cannot bind {bind}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "quickstart listening on http://{bind} (iss {}, aud {})",
        config.issuer, config.audience
    );
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("quickstart: server error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
