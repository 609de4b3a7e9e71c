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
//! `JWT_SECRET` (required, at least 32 bytes; base64 with
//! `JWT_SECRET_ENCODING=base64`), `JWT_ISSUER` (default
//! `quickstart`), `JWT_AUDIENCE` (default `quickstart-api`), `BIND` (default
//! `127.0.0.1:3000`).
//!
//! `app.rs` builds the server; this file reads the environment, mints
//! tokens for trying it, and serves it.

mod app;
#[path = "../support/causes.rs"]
mod causes;
#[path = "../support/cli.rs"]
mod cli;
#[path = "../support/keys_env.rs"]
mod keys_env;
#[path = "../support/logging.rs"]
mod logging;

use std::process::ExitCode;

use app::Config;
use cli::Minting;

/// The server's settings and the address to listen on, from the environment.
fn from_env() -> Result<(Config, String), String> {
    let keys = keys_env::from_env("grpc")?;
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let config = Config {
        keys,
        issuer: var("JWT_ISSUER", "quickstart"),
        audience: var("JWT_AUDIENCE", "quickstart-api"),
    };
    Ok((config, var("BIND", "127.0.0.1:3000")))
}

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let (config, bind) = match from_env() {
        Ok(settings) => settings,
        Err(message) => return cli::fail("grpc", message),
    };
    let minting = Minting {
        secret: config.keys.secret(),
        issuer: &config.issuer,
        audience: &config.audience,
        subject_claim: "sub",
        roles_claim: "roles",
    };
    if let Some(minted) = cli::mint_command("grpc", &minting) {
        return minted;
    }
    serve(config, bind).await
}

async fn serve(config: Config, bind: String) -> ExitCode {
    // The secret first: a bad one must stop the service before anything else.
    let server = match app::app(&config).await {
        Ok(server) => server,
        Err(error) => return cli::invalid("grpc", &error),
    };
    let addr = match bind.parse() {
        Ok(addr) => addr,
        Err(error) => {
            return cli::fail(
                "grpc",
                format!("BIND must be an address like 127.0.0.1:3000: {error}"),
            );
        }
    };

    let trusted = config.keys.describe(&config.issuer);
    eprintln!(
        "grpc listening on {bind} ({trusted}, aud {}; grpc.health.v1.Health needs role ops)",
        config.audience
    );
    if let Err(error) = server.serve(addr).await {
        return cli::fail("grpc", format!("server error: {error}"));
    }
    ExitCode::SUCCESS
}
