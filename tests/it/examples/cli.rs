//! What the quickstart and the gRPC example share: their defaults, the
//! tokens their `mint` subcommand makes, and the environment their binaries
//! are started with.

use jwt_guard::{Algorithm, SigningKey};
use serde_json::json;

use crate::support::{now, unique_id};

pub const SECRET: &str = "example-test-secret-0123456789abcdef";
/// The binaries' defaults for `JWT_ISSUER` and `JWT_AUDIENCE`.
pub const ISSUER: &str = "quickstart";
pub const AUDIENCE: &str = "quickstart-api";

/// A token as `EXAMPLE mint SUB ROLES` makes it with the defaults, minted
/// here.
pub fn token(sub: &str, roles: &[&str]) -> String {
    let now = now();
    let claims = json!({
        "sub": sub, "iss": ISSUER, "aud": AUDIENCE, "roles": roles,
        "iat": now, "nbf": now, "exp": now + 15 * 60, "jti": unique_id(),
    });
    SigningKey::hmac(Algorithm::HS256, SECRET.as_bytes())
        .unwrap()
        .sign("JWT", &claims)
        .unwrap()
}

/// `env`, with the test secret unless it sets `JWT_SECRET` itself.
pub fn with_secret<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = env.to_vec();
    if !env.iter().any(|(name, _)| *name == "JWT_SECRET") {
        env.push(("JWT_SECRET", SECRET));
    }
    env
}
