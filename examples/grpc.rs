//! A tonic server behind jwt-guard: the standard `grpc.health.v1.Health`
//! service, whose every call needs a valid HS256 token with role `ops`.
//!
//! ```text
//! export JWT_SECRET=$(head -c 32 /dev/urandom | base64)
//! cargo run --example grpc --features tonic
//! TOKEN=$(cargo run -q --example grpc --features tonic -- mint olga ops)
//! curl -sO https://raw.githubusercontent.com/grpc/grpc/master/src/proto/grpc/health/v1/health.proto
//! grpcurl -plaintext -proto health.proto -H "authorization: Bearer $TOKEN" \
//!     127.0.0.1:3000 grpc.health.v1.Health/Check
//! ```
//!
//! No or invalid token: UNAUTHENTICATED; a valid token without role `ops`:
//! PERMISSION_DENIED; with it: `SERVING`. Environment, as the quickstart's:
//! `JWT_SECRET` (required, at least 32 bytes), `JWT_ISSUER` (default
//! `quickstart`), `JWT_AUDIENCE` (default `quickstart-api`), `BIND` (default
//! `127.0.0.1:3000`).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt_guard::{
    Algorithm, JwtLayer, RequireLayer, SigningKey, StandardClaims, Validator, VerifyingKey,
};
use serde_json::json;
use tonic::transport::Server;
use tower::Layer;

jwt_guard::role!(Ops = "ops");

struct Config {
    secret: String,
    issuer: String,
    audience: String,
    bind: String,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let secret = std::env::var("JWT_SECRET").map_err(|_| {
            "JWT_SECRET is not set: give it a secret of at least 32 bytes".to_owned()
        })?;
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Ok(Self {
            secret,
            issuer: var("JWT_ISSUER", "quickstart"),
            audience: var("JWT_AUDIENCE", "quickstart-api"),
            bind: var("BIND", "127.0.0.1:3000"),
        })
    }
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

/// Reports a configuration error with its causes, and fails.
fn invalid(error: &jwt_guard::ConfigError) -> ExitCode {
    let mut message = format!("grpc: invalid configuration: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// `grpc mint SUB [ROLE,ROLE…]`: prints a 15-minute token for trying the service.
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
            eprintln!("grpc: {message}");
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
                eprintln!("grpc: {error}");
                ExitCode::FAILURE
            }
        };
    }
    // The secret first: a bad one must stop the service before anything else.
    let validator = match validator(&config) {
        Ok(validator) => validator,
        Err(error) => return invalid(&error),
    };
    let addr = match config.bind.parse() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("grpc: BIND must be an address like 127.0.0.1:3000: {error}");
            return ExitCode::FAILURE;
        }
    };

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let layer = JwtLayer::<StandardClaims>::builder(validator)
        .realm("grpc")
        .build();
    let server = Server::builder()
        .layer(layer)
        // The guard wraps this one service; others added here need only a token.
        .add_service(RequireLayer::<StandardClaims>::new::<Ops>().layer(health));

    eprintln!(
        "grpc listening on {} (iss {}, aud {}; grpc.health.v1.Health needs role ops)",
        config.bind, config.issuer, config.audience
    );
    if let Err(error) = server.serve(addr).await {
        eprintln!("grpc: server error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
