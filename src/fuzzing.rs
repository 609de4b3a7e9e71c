//! Entry points for the fuzz targets under `fuzz/`: the crate's own parsers
//! that are not public API (refresh-token text, token sources, claims
//! parsing with its registered-claims capture, discovery documents).
//!
//! Compiled only with `--cfg fuzzing`, which `cargo fuzz` sets; not part of
//! the API and not covered by semver. Each function calls the parser the
//! library itself calls, unchanged.

use http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::auth::TokenSources;
use crate::claims::{ClaimMapping, RegisteredClaims};
use crate::error::AuthError;

/// A refresh token's shape as the issuer reads it before any store lookup:
/// its subject and family, or `None` when it is refused as malformed.
pub fn refresh_token(text: &str) -> Option<(String, String)> {
    crate::issue::Presented::parse(text, None)
        .ok()
        .map(|presented| (presented.sub, presented.family))
}

/// The credential a request carries, found as the layer finds it: the
/// `Authorization` header, then the cookie `cookie`, then the query
/// parameter `query_name`, when those sources are configured.
pub fn token_sources(
    headers: &HeaderMap,
    query: Option<&str>,
    cookie: Option<&str>,
    query_name: Option<&str>,
) -> Result<Option<String>, AuthError> {
    let sources = TokenSources {
        cookie: cookie.map(str::to_owned),
        query: query_name.map(str::to_owned),
        dpop: None,
    };
    sources
        .find(headers, query)
        .map(|found| found.map(|credential| credential.token().to_owned()))
}

/// A verified payload parsed into `T` and the registered claims, as
/// [`Validator::validate`](crate::Validator::validate) parses it (without a
/// claim mapping) before applying the time, issuer and audience rules.
pub fn claims<T: DeserializeOwned>(payload: &[u8]) -> Result<(T, RegisteredClaims), AuthError> {
    crate::claims::parse_claims(payload)
}

/// As [`claims`], through a [`ClaimMapping`] (an identity provider's claim
/// layout).
pub fn mapped_claims<T: DeserializeOwned>(
    mapping: &ClaimMapping,
    payload: &[u8],
) -> Result<(T, RegisteredClaims), AuthError> {
    mapping.parse(payload)
}

/// The `jwks_uri` an issuer's metadata document names, once the document
/// names `issuer` exactly; `None` when it is refused.
#[cfg(feature = "jwks")]
pub fn discovery_jwks_uri(issuer: &str, document: &[u8]) -> Option<String> {
    crate::keys::discovery::jwks_uri(issuer, document)
        .ok()
        .map(String::from)
}
