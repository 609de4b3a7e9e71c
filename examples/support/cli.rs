//! The command line of the quickstart and the gRPC example: their error
//! reports, and `EXAMPLE mint SUB [ROLE,ROLE…]`, which prints a 15-minute
//! HS256 token for trying the service.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use jwt_guard::{Algorithm, ConfigError, SigningKey};
use serde_json::json;

/// What a minted token is signed with and for, and where it puts the
/// subject and the roles (dotted paths: the service's claim mapping).
pub struct Minting<'a> {
    /// `None` when the service trusts an identity provider, which mints
    /// its tokens itself.
    pub secret: Option<&'a [u8]>,
    pub issuer: &'a str,
    pub audience: &'a str,
    pub subject_claim: &'a str,
    pub roles_claim: &'a str,
}

/// Prints `example: message` on stderr, and fails.
pub fn fail(example: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{example}: {message}");
    ExitCode::FAILURE
}

/// Reports a configuration error with its causes, and fails.
pub fn invalid(example: &str, error: &(dyn std::error::Error + 'static)) -> ExitCode {
    let causes = super::causes::with_causes(error);
    fail(example, format!("invalid configuration: {causes}"))
}

/// Runs `mint` when it is the command line's first argument (the token on
/// stdout); `None` when the command line asks for the service.
pub fn mint_command(example: &str, minting: &Minting<'_>) -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("mint") {
        return None;
    }
    let Some(secret) = minting.secret else {
        return Some(fail(
            example,
            "mint needs JWT_SECRET: with OIDC_ISSUER_URL the identity provider mints the tokens",
        ));
    };
    Some(match mint(minting, secret, &args[1..]) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => fail(example, error),
    })
}

/// A 15-minute token for `SUB` (default `alice`) with the comma-separated
/// roles, if any.
fn mint(minting: &Minting<'_>, secret: &[u8], args: &[String]) -> Result<String, ConfigError> {
    let sub = args.first().map_or("alice", String::as_str);
    let roles: Vec<&str> = args
        .get(1)
        .map(|r| r.split(',').filter(|r| !r.is_empty()).collect())
        .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut claims = json!({
        "iss": minting.issuer, "aud": minting.audience,
        "iat": now, "nbf": now, "exp": now + 15 * 60,
        "jti": format!("{now:x}-{}", std::process::id()),
    });
    set_path(&mut claims, minting.subject_claim, json!(sub));
    set_path(&mut claims, minting.roles_claim, json!(roles));
    SigningKey::hmac(Algorithm::HS256, secret)?.sign("JWT", &claims)
}

/// Puts `value` at the dotted `path` of `claims`, making the objects on the
/// way (`realm_access.roles` is `{"realm_access": {"roles": …}}`).
fn set_path(claims: &mut serde_json::Value, path: &str, value: serde_json::Value) {
    let mut at = claims;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        if names.peek().is_none() {
            at[name] = value;
            return;
        }
        if !at[name].is_object() {
            at[name] = json!({});
        }
        at = &mut at[name];
    }
}
