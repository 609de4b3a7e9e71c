//! The validator's security matrix, through [`Validator::validate`] (the JWT
//! entry point) and [`Validator::verify_signature`] (the JWS entry point).
//!
//! Every refusal asserts the precise [`AuthErrorKind`], and sits next to a
//! positive control: the same token with the offending part fixed is
//! accepted, so no test passes because of an unrelated failure. Every token
//! and every asymmetric key is made at test time.
//!
//! One submodule per family of rules; the assertions and key fixtures they
//! share are here.

mod algorithms;
mod claims;
mod format;
mod header;
mod issuer_audience;
mod json;
mod key_selection;
mod leaks;
mod signature;
mod time;

use std::sync::OnceLock;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::{
    Algorithm, AuthError, AuthErrorKind, SigningKey, Validator, Verified, VerifyingKey,
};
use serde_json::Value;

use crate::support::keys::{self as test_keys, TestKey, ec_key};
use crate::support::{AUDIENCE, ISSUER, SECRET, claims};

#[track_caller]
fn accepted(validator: &Validator, token: &str) -> Verified<Value> {
    match validator.validate::<Value>(token) {
        Ok(verified) => verified,
        Err(err) => panic!(
            "expected the token to be accepted, it was refused with {:?}: {err}",
            err.kind()
        ),
    }
}

#[track_caller]
fn refused(validator: &Validator, token: &str) -> AuthError {
    match validator.validate::<Value>(token) {
        Ok(_) => panic!("expected the token to be refused, it was accepted"),
        Err(err) => err,
    }
}

/// Asserts the JWT entry point refuses `token` with exactly `kind`.
#[track_caller]
fn assert_refused(validator: &Validator, token: &str, kind: AuthErrorKind) {
    let err = refused(validator, token);
    assert_eq!(err.kind(), kind, "refused for another reason: {err}");
}

/// Asserts both entry points refuse `token` with exactly `kind`: for rules of
/// the JWS stage, which `verify_signature` must apply on its own.
#[track_caller]
fn assert_jws_refused(validator: &Validator, token: &str, kind: AuthErrorKind) {
    match validator.verify_signature(token) {
        Ok(_) => panic!("expected verify_signature to refuse the token, it accepted it"),
        Err(err) => assert_eq!(err.kind(), kind, "verify_signature: {err}"),
    }
    assert_refused(validator, token, kind);
}

/// Asserts both entry points accept `token`.
#[track_caller]
fn assert_jws_accepted(validator: &Validator, token: &str) -> Verified<Value> {
    if let Err(err) = validator.verify_signature(token) {
        panic!(
            "expected verify_signature to accept the token, it refused it with {:?}: {err}",
            err.kind()
        );
    }
    accepted(validator, token)
}

fn parts(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A payload that passes [`validator`], as JSON text.
fn payload() -> String {
    claims("alice", &[]).to_string()
}

/// `payload()` with `members` (JSON text, comma-terminated) inserted first.
fn payload_with_leading(members: &str) -> String {
    let payload = payload();
    format!("{{{members}{}", &payload[1..])
}

/// Claims that pass [`validator`], with `edit` applied.
fn claims_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = claims("alice", &[]);
    edit(claims.as_object_mut().unwrap());
    claims
}

fn hmac_signer(alg: Algorithm, secret: &[u8]) -> SigningKey {
    SigningKey::hmac(alg, secret).unwrap()
}

/// Replaces part `index` of `token` with `part`.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[index] = part.to_owned();
    parts.join(".")
}

fn validator_with_kids(kids: &[&str]) -> Validator {
    kids.iter()
        .fold(Validator::builder(), |builder, kid| {
            builder.key(
                VerifyingKey::hmac(Algorithm::HS256, SECRET)
                    .unwrap()
                    .with_kid(*kid),
            )
        })
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

fn mint_with_kid(kid: &str) -> String {
    hmac_signer(Algorithm::HS256, SECRET)
        .with_kid(kid)
        .sign("JWT", &claims("alice", &[]))
        .unwrap()
}

/// Two keys of each asymmetric kind, made once per test run.
fn rsa_keys() -> &'static [TestKey; 2] {
    static KEYS: OnceLock<[TestKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| std::array::from_fn(|_| test_keys::rsa_key().0))
}

fn p256_keys() -> &'static [TestKey; 2] {
    static KEYS: OnceLock<[TestKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| std::array::from_fn(|_| ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING)))
}

fn p384_keys() -> &'static [TestKey; 2] {
    static KEYS: OnceLock<[TestKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| std::array::from_fn(|_| ec_key(&ECDSA_P384_SHA384_FIXED_SIGNING)))
}

fn ed25519_keys() -> &'static [TestKey; 2] {
    static KEYS: OnceLock<[TestKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| std::array::from_fn(|_| test_keys::ed25519_key()))
}
