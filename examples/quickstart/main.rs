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
//! Environment: `JWT_SECRET` (at least 32 bytes; base64 with
//! `JWT_SECRET_ENCODING=base64`) or, with the `jwks` feature,
//! `OIDC_ISSUER_URL` (an identity provider's issuer, or several
//! comma-separated: keys by discovery, each issuer's `iss` required, 503
//! until its keys are fetched; plain `http://` only to loopback), `JWT_ISSUER`
//! (default `quickstart`), `JWT_AUDIENCE` (default `quickstart-api`), `BIND`
//! (default `127.0.0.1:3000`); `JWT_SUBJECT_CLAIM`, `JWT_ROLES_CLAIM` and
//! `JWT_PERMISSIONS_CLAIM` (dotted paths, defaults `sub`, `roles`,
//! `permissions`) for tokens minted by other systems. Revocations are kept
//! in memory, unless `REDIS_URL=redis://…` (one Redis, mirrored locally),
//! `REDIS_CLUSTER_URLS=redis://a,redis://b,…` (a Redis Cluster) or
//! `REDIS_SENTINEL_URLS=redis://s1,redis://s2,…` with
//! `REDIS_SENTINEL_MASTER=name` (the master those Sentinels watch) is set: then
//! every quickstart sharing that Redis refuses a token logged out on any of them.
//! Its routes take DPoP-bound tokens (RFC 9449) beside bearer tokens; behind
//! a proxy, `PUBLIC_ORIGIN=https://api.example` names the origin proofs name.
//!
//! `app.rs` builds the service; this file reads the environment, mints
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
#[path = "../support/redis_env.rs"]
mod redis_env;

use std::process::ExitCode;

use app::Config;
use axum::http::uri::{Authority, Scheme};
use cli::Minting;
use jwt_guard::ClaimMapping;

/// The service's settings and the address to listen on, from the environment.
fn from_env() -> Result<(Config, String), String> {
    let keys = keys_env::from_env("quickstart")?;
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let redis = redis_env::from_env()?;
    let config = Config {
        keys,
        issuer: var("JWT_ISSUER", "quickstart"),
        audience: var("JWT_AUDIENCE", "quickstart-api"),
        redis,
        mapping: mapping_from_env(),
        public_origin: public_origin_from_env()?,
    };
    Ok((config, var("BIND", "127.0.0.1:3000")))
}

/// `PUBLIC_ORIGIN` (`https://api.example`): the scheme and authority
/// clients reach the service at, which DPoP proofs name, behind a proxy or
/// a TLS terminator. Anything more (a path, a query) is refused at start.
fn public_origin_from_env() -> Result<Option<(Scheme, Authority)>, String> {
    let Some(origin) = std::env::var("PUBLIC_ORIGIN")
        .ok()
        .filter(|o| !o.is_empty())
    else {
        return Ok(None);
    };
    let invalid =
        || format!("PUBLIC_ORIGIN must be an origin such as https://api.example, not {origin:?}");
    let uri: axum::http::Uri = origin.parse().map_err(|_| invalid())?;
    match (uri.scheme(), uri.authority(), uri.path(), uri.query()) {
        (Some(scheme), Some(authority), "/" | "", None)
            if matches!(scheme.as_str(), "http" | "https") && !authority.as_str().contains('@') =>
        {
            Ok(Some((scheme.clone(), authority.clone())))
        }
        _ => Err(invalid()),
    }
}

/// `JWT_SUBJECT_CLAIM`, `JWT_ROLES_CLAIM` and `JWT_PERMISSIONS_CLAIM`:
/// dotted paths (`realm_access.roles`) for tokens minted by other systems.
/// Unset or at their defaults (`sub`, `roles`, `permissions`), the claims
/// are read as usual; set, the claim is required. A mapped subject may be
/// an integer (`{"userId": 42}` is subject `42`).
fn mapping_from_env() -> ClaimMapping {
    let mapped =
        |name: &str, default: &str| Some(claim_env(name, default)).filter(|path| path != default);
    let mut mapping = ClaimMapping::new();
    if let Some(path) = mapped("JWT_SUBJECT_CLAIM", "sub") {
        mapping = mapping.subject(&path).numeric_subject(true);
    }
    if let Some(path) = mapped("JWT_ROLES_CLAIM", "roles") {
        mapping = mapping.roles(&path);
    }
    if let Some(path) = mapped("JWT_PERMISSIONS_CLAIM", "permissions") {
        mapping = mapping.permissions(&path);
    }
    mapping
}

/// The claim path variable `name`, or `default` when unset or empty.
fn claim_env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let (config, bind) = match from_env() {
        Ok(settings) => settings,
        Err(message) => return cli::fail("quickstart", message),
    };
    // Tokens it mints carry the subject and roles where it reads them.
    let subject_claim = claim_env("JWT_SUBJECT_CLAIM", "sub");
    let roles_claim = claim_env("JWT_ROLES_CLAIM", "roles");
    let minting = Minting {
        secret: config.keys.secret(),
        issuer: &config.issuer,
        audience: &config.audience,
        subject_claim: &subject_claim,
        roles_claim: &roles_claim,
    };
    if let Some(minted) = cli::mint_command("quickstart", &minting) {
        return minted;
    }
    serve(config, bind).await
}

async fn serve(config: Config, bind: String) -> ExitCode {
    let app = match app::app(&config).await {
        Ok(app) => app,
        Err(error) => return cli::invalid("quickstart", &*error),
    };
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(listener) => listener,
        Err(error) => return cli::fail("quickstart", format!("cannot bind {bind}: {error}")),
    };
    let trusted = config.keys.describe(&config.issuer);
    eprintln!(
        "quickstart listening on http://{bind} ({trusted}, aud {})",
        config.audience
    );
    if let Err(error) = axum::serve(listener, app).await {
        return cli::fail("quickstart", format!("server error: {error}"));
    }
    ExitCode::SUCCESS
}
