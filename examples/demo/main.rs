//! A complete login service on jwt-guard: login with argon2id passwords and
//! a throttle, access tokens plus rotating refresh tokens in an HttpOnly
//! cookie, reuse detection, logout, logout everywhere, a role guard, key
//! rotation and a JWKS.
//!
//! ```text
//! cargo run --example demo
//! curl -s -c jar -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"wonderland"}' http://127.0.0.1:3000/auth/login
//! ```
//!
//! Environment (all optional):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `JWT_SECRET` | random, said on stderr | the HS256 secret, at least 32 bytes (decoded) |
//! | `JWT_SECRET_ENCODING` | `raw` | `base64` for a secret stored as base64 (as Spring services often do) |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | `jwt-guard-demo` | `iss` and `aud` |
//! | `JWT_EXPIRES_IN` | `15m` | access-token lifetime (`90s`, `15m`, `8h`; at most `24h`) |
//! | `REFRESH_EXPIRES_IN` | `7d` | refresh-token lifetime |
//! | `JWT_ALG` | `HS256` | `HS256`, `EdDSA` or `ES256` |
//! | `JWT_PRIVATE_KEY_FILE` | generated | PKCS#8 PEM key for `EdDSA`/`ES256` |
//! | `REDIS_URL` / `REDIS_CLUSTER_URLS` / `REDIS_SENTINEL_URLS` + `REDIS_SENTINEL_MASTER` | in memory | share sessions, revocations and throttles |
//! | `COOKIE_SECURE` | `true` | `false` (or `0`, `no`) to drop `Secure` when the demo is reached over plain HTTP on a host other than `localhost`; anything but true/1/yes/false/0/no is refused |
//! | `BIND` | `127.0.0.1:3000` | listen address |
//!
//! Users: `alice` / `wonderland` (roles `admin`, `user`) and `bob` /
//! `builder` (role `user`).
//!
//! `GET /ws?access_token=…` opens a WebSocket that greets the user, echoes
//! text, and closes with code 1008 within a second of the token's logout,
//! logout everywhere, family revocation or expiry.
//!
//! Socket.IO on `/socket.io/`, namespace `/` (`io(url, { auth: { token } })`):
//! `welcome` on connect, `whoami` and `admin:ping` with an ack, and
//! `auth_revoked` then a disconnect on the same events (`socket_io.rs`).
//!
//! `app.rs` builds the service; this file reads the environment and serves it.

mod app;
#[path = "../support/logging.rs"]
mod logging;
#[path = "../support/redis_env.rs"]
mod redis_env;
#[path = "../support/secret_env.rs"]
mod secret_env;

use std::net::SocketAddr;
use std::process::ExitCode;

use app::Config;
use jwt_guard::Algorithm;
use jwt_guard::issue::parse_duration;

/// The service's settings and the address to listen on, from the environment.
fn from_env() -> Result<(Config, String), String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let or = |name: &str, default: &str| set(name).unwrap_or_else(|| default.to_owned());
    let lifetime = |name: &str, default: &str| {
        parse_duration(&or(name, default)).map_err(|e| format!("{name}: {e}"))
    };
    let alg = match or("JWT_ALG", "HS256").as_str() {
        "HS256" => Algorithm::HS256,
        "EdDSA" => Algorithm::EdDSA,
        "ES256" => Algorithm::ES256,
        other => return Err(format!("JWT_ALG: `{other}` is not HS256, EdDSA or ES256")),
    };
    let redis = redis_env::from_env()?;
    let config = Config {
        alg,
        secret: secret_env::from_env()?,
        key_file: set("JWT_PRIVATE_KEY_FILE"),
        issuer: or("JWT_ISSUER", "jwt-guard-demo"),
        audience: or("JWT_AUDIENCE", "jwt-guard-demo"),
        access_ttl: lifetime("JWT_EXPIRES_IN", "15m")?,
        refresh_ttl: lifetime("REFRESH_EXPIRES_IN", "7d")?,
        redis,
        cookie_secure: switch("COOKIE_SECURE", &or("COOKIE_SECURE", "true"))?,
    };
    Ok((config, or("BIND", "127.0.0.1:3000")))
}

/// A yes/no setting: `true`, `1`, `yes` or `false`, `0`, `no`, in any case;
/// anything else is refused at start rather than read as one or the other.
fn switch(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "{name} must be true, 1, yes or false, 0, no (in any case), not `{}`",
            value.escape_debug()
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let (config, bind) = match from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("demo: {message}");
            return ExitCode::FAILURE;
        }
    };
    let app = match app::app(&config).await {
        Ok(app) => app,
        Err(message) => {
            eprintln!("demo: invalid configuration: {message}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("demo: cannot bind {bind}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "demo listening on http://{bind} (iss {}, aud {}, {}, access {:?}, refresh {:?})",
        config.issuer, config.audience, config.alg, config.access_ttl, config.refresh_ttl
    );
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("demo: server error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
