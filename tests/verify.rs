//! The validator's security matrix, through [`Validator::validate`] (the JWT
//! entry point) and [`Validator::verify_signature`] (the JWS entry point).
//!
//! Every refusal asserts the precise [`AuthErrorKind`], and sits next to a
//! positive control: the same token with the offending part fixed is
//! accepted, so no test passes because of an unrelated failure. Every token
//! and every asymmetric key is made at test time.

mod common;

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use jwt_guard::{
    Algorithm, AuthError, AuthErrorKind, ConfigErrorKind, SigningKey, StandardClaims, Validator,
    Verified, VerifyingKey,
};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use common::keys::{self as test_keys, TestKey, ec_key};
use common::{
    AUDIENCE, ISSUER, SECRET, claims, mint, mint_raw, now, validator, validator_builder,
    validator_with,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

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

/// A decoder as lax as many: padding optional, trailing bits ignored.
fn lax(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// A validly signed token whose three parts all have unused trailing bits
/// (a length that is not a multiple of 4) and hold a `-` or `_`, so that
/// each part can be re-encoded in the ways a lax decoder would accept.
fn awkward_token() -> String {
    for i in 0..10_000 {
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","n":"??>>{i}"}}"#);
        let claims = claims_with(|c| {
            c.insert("n".into(), json!(format!("??>>{i}")));
        });
        let token = mint_raw(&header, &claims.to_string());
        if parts(&token)
            .iter()
            .all(|part| part.len() % 4 != 0 && part.contains(['-', '_']))
        {
            return token;
        }
    }
    panic!("no awkward token found");
}

/// Replaces part `index` of `token` with `part`.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[index] = part.to_owned();
    parts.join(".")
}

/// A validly signed token of exactly `len` bytes that passes [`validator`]
/// (when `len` allows it), padded through a header member and a claim.
fn token_of_len(len: usize) -> String {
    fn encoded_len(bytes: usize) -> usize {
        (bytes * 4).div_ceil(3)
    }
    let base = claims_with(|c| {
        c.insert("pad".into(), json!(""));
    })
    .to_string();
    for header_pad in 0..4 {
        let header = format!(
            r#"{{"alg":"HS256","typ":"JWT","h":"{}"}}"#,
            "h".repeat(header_pad)
        );
        let fixed = encoded_len(header.len()) + 2 + 43;
        for pad in 0..len {
            let total = fixed + encoded_len(base.len() + pad);
            if total == len {
                let payload =
                    base.replace(r#""pad":"""#, &format!(r#""pad":"{}""#, "x".repeat(pad)));
                let token = mint_raw(&header, &payload);
                assert_eq!(token.len(), len);
                return token;
            }
            if total > len {
                break;
            }
        }
    }
    panic!("no token of {len} bytes");
}

// ---------------------------------------------------------------------------
// Compact serialization only
// ---------------------------------------------------------------------------

#[test]
fn json_serialization_is_refused_as_malformed() {
    let v = validator();
    let token = common::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    let general = json!({
        "payload": p[1],
        "signatures": [{"protected": p[0], "signature": p[2]}],
    })
    .to_string();
    let flattened = json!({"payload": p[1], "protected": p[0], "signature": p[2]}).to_string();
    for serialized in [general, flattened] {
        assert_jws_refused(&v, &serialized, AuthErrorKind::Malformed);
    }
}

#[test]
fn token_with_two_parts_is_refused_as_malformed() {
    let v = validator();
    let token = common::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    assert_jws_refused(&v, &format!("{}.{}", p[0], p[1]), AuthErrorKind::Malformed);
    assert_jws_refused(&v, p[0], AuthErrorKind::Malformed);
    assert_jws_refused(&v, "", AuthErrorKind::Malformed);
}

#[test]
fn token_with_four_or_five_parts_is_refused_as_malformed() {
    let v = validator();
    let token = common::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    for extra in [
        format!("{token}.{}", p[2]),
        format!("{token}."),
        format!("{}.{}.{}.{}.{}", p[0], p[1], p[2], p[2], p[2]),
        format!("{}..{}.{}", p[0], p[1], p[2]),
    ] {
        assert_jws_refused(&v, &extra, AuthErrorKind::Malformed);
    }
}

#[test]
fn token_with_empty_signature_is_refused_as_malformed() {
    let v = validator();
    let token = common::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    assert_jws_refused(&v, &format!("{}.{}.", p[0], p[1]), AuthErrorKind::Malformed);
}

// ---------------------------------------------------------------------------
// Maximum token length
// ---------------------------------------------------------------------------

#[test]
fn validly_signed_20_kb_token_is_refused_with_too_long() {
    let token = token_of_len(20 * 1024);
    assert_jws_refused(&validator(), &token, AuthErrorKind::TooLong);
    let roomy = validator_builder()
        .max_token_len(32 * 1024)
        .build()
        .unwrap();
    assert_jws_accepted(&roomy, &token);
}

#[test]
fn token_length_is_checked_before_decoding() {
    let v = validator();
    // Not base64url at all: only a check that runs before decoding says TooLong.
    let garbage = "!".repeat(20 * 1024);
    assert_jws_refused(&v, &garbage, AuthErrorKind::TooLong);
    let short_garbage = format!("{0}.{0}.{0}", "!".repeat(40));
    assert_jws_refused(&v, &short_garbage, AuthErrorKind::Malformed);
}

#[test]
fn token_of_exactly_the_default_limit_is_accepted_and_one_byte_more_is_refused() {
    assert_eq!(jwt_guard::verify::DEFAULT_MAX_TOKEN_LEN, 8 * 1024);
    let v = validator();
    assert_jws_accepted(&v, &token_of_len(8 * 1024));
    assert_jws_refused(&v, &token_of_len(8 * 1024 + 1), AuthErrorKind::TooLong);
}

#[test]
fn max_token_len_lowers_the_limit() {
    let token = token_of_len(600);
    let exact = validator_builder().max_token_len(600).build().unwrap();
    assert_jws_accepted(&exact, &token);
    let lower = validator_builder().max_token_len(599).build().unwrap();
    assert_jws_refused(&lower, &token, AuthErrorKind::TooLong);
}

#[test]
fn max_token_len_too_small_for_any_token_is_a_config_error() {
    let err = validator_builder().max_token_len(8).build().unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::InvalidSetting);
    assert!(validator_builder().max_token_len(64).build().is_ok());
}

// ---------------------------------------------------------------------------
// Strict base64url
// ---------------------------------------------------------------------------

#[test]
fn padded_base64url_is_refused_as_malformed() {
    let v = validator();
    let token = awkward_token();
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        let padded = format!("{part}{}", "=".repeat(4 - part.len() % 4));
        assert_eq!(
            lax(&alphabet::URL_SAFE).decode(&padded).unwrap(),
            URL_SAFE_NO_PAD.decode(part).unwrap(),
            "the padded part must decode to the same bytes under lax rules"
        );
        assert_jws_refused(
            &v,
            &with_part(&token, index, &padded),
            AuthErrorKind::Malformed,
        );
    }
}

#[test]
fn whitespace_in_base64url_is_refused_as_malformed() {
    let v = validator();
    let token = common::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        for space in [" ", "\n", "\r\n", "\t"] {
            let middle = part.len() / 2;
            let spaced = format!("{}{space}{}", &part[..middle], &part[middle..]);
            assert_jws_refused(
                &v,
                &with_part(&token, index, &spaced),
                AuthErrorKind::Malformed,
            );
        }
    }
    for wrapped in [
        format!(" {token}"),
        format!("{token}\n"),
        format!("{token} "),
    ] {
        assert_jws_refused(&v, &wrapped, AuthErrorKind::Malformed);
    }
}

#[test]
fn standard_base64_alphabet_is_refused_as_malformed() {
    let v = validator();
    let token = awkward_token();
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        let standard = part.replace('-', "+").replace('_', "/");
        assert_ne!(standard, part);
        assert_eq!(
            lax(&alphabet::STANDARD).decode(&standard).unwrap(),
            URL_SAFE_NO_PAD.decode(part).unwrap(),
            "the re-encoded part must decode to the same bytes in the standard alphabet"
        );
        assert_jws_refused(
            &v,
            &with_part(&token, index, &standard),
            AuthErrorKind::Malformed,
        );
    }
}

#[test]
fn non_canonical_trailing_bits_are_refused_as_malformed() {
    const URL_ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let v = validator();
    let token = awkward_token();
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        // With 2 or 3 characters in the last quantum, at least the lowest 2
        // bits of the last character are unused: flipping the lowest one
        // keeps the decoded bytes under lax decoding.
        assert_ne!(part.len() % 4, 0);
        let last = *part.as_bytes().last().unwrap();
        let value = URL_ALPHABET.iter().position(|&c| c == last).unwrap();
        let twin = URL_ALPHABET[value ^ 1] as char;
        let non_canonical = format!("{}{twin}", &part[..part.len() - 1]);
        assert_eq!(
            lax(&alphabet::URL_SAFE).decode(&non_canonical).unwrap(),
            URL_SAFE_NO_PAD.decode(part).unwrap(),
            "the twin must decode to the same bytes under lax rules"
        );
        assert_jws_refused(
            &v,
            &with_part(&token, index, &non_canonical),
            AuthErrorKind::Malformed,
        );
    }
}

// ---------------------------------------------------------------------------
// Header and payload are JSON objects, without duplicate members
// ---------------------------------------------------------------------------

#[test]
fn header_that_is_not_a_json_object_is_refused_as_malformed() {
    let v = validator();
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256"}"#, &payload()));
    for header in [
        "[]",
        r#"["HS256"]"#,
        r#""HS256""#,
        "null",
        "42",
        "",
        r#"{"alg":"HS256""#,
        r#"{"alg":"HS256"} {}"#,
        r#"{"alg":"HS256"}x"#,
    ] {
        assert_jws_refused(&v, &mint_raw(header, &payload()), AuthErrorKind::Malformed);
    }
}

// serde_json does not check UTF-8 inside strings it skips; invalid UTF-8 is
// not JSON (RFC 8259 §8.1), so the header is checked as text first.
#[test]
fn header_that_is_not_utf8_is_refused_as_malformed() {
    let v = validator();
    let sign = |header: &[u8]| {
        common::signer()
            .sign_jws(header, payload().as_bytes())
            .unwrap()
    };
    assert_jws_accepted(&v, &sign(b"{\"alg\":\"HS256\",\"x\":\"\xc3\xa9\"}"));
    // Invalid UTF-8 in a member the validator reads is refused already.
    assert_jws_refused(
        &v,
        &sign(b"{\"alg\":\"HS256\",\"typ\":\"\xff\"}"),
        AuthErrorKind::Malformed,
    );
    // In a member it skips, it is not.
    assert_jws_refused(
        &v,
        &sign(b"{\"alg\":\"HS256\",\"x\":\"\xff\"}"),
        AuthErrorKind::Malformed,
    );
}

// As for the header: a claim the claims type skips must be UTF-8 too.
#[test]
fn payload_that_is_not_utf8_is_refused_as_malformed() {
    let v = validator();
    let sign = |payload: &[u8]| {
        common::signer()
            .sign_jws(br#"{"alg":"HS256"}"#, payload)
            .unwrap()
    };
    let with_x = |x: &[u8]| {
        let mut payload = b"{\"x\":\"".to_vec();
        payload.extend_from_slice(x);
        payload.extend_from_slice(b"\",");
        payload.extend_from_slice(&payload_bytes()[1..]);
        payload
    };
    let good = sign(&with_x(b"\xc3\xa9"));
    assert!(v.validate::<StandardClaims>(&good).is_ok());
    assert!(v.validate::<OrderClaimsLite>(&good).is_ok());
    let bad = sign(&with_x(b"\xff"));
    // A claims type that reads every claim refuses it already.
    assert_eq!(
        v.validate::<StandardClaims>(&bad).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
    // One that skips `x` does not.
    assert_eq!(
        v.validate::<OrderClaimsLite>(&bad).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
}

#[derive(Debug, Deserialize)]
struct OrderClaimsLite {
    #[allow(dead_code)]
    sub: String,
}

fn payload_bytes() -> Vec<u8> {
    payload().into_bytes()
}

#[test]
fn header_without_alg_is_refused_as_malformed() {
    let v = validator();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"typ":"JWT"}"#, &payload()),
        AuthErrorKind::Malformed,
    );
    assert_jws_accepted(&v, &mint_raw(r#"{"typ":"JWT","alg":"HS256"}"#, &payload()));
}

#[test]
fn header_members_of_the_wrong_type_are_refused_as_malformed() {
    let v = validator();
    for header in [
        r#"{"alg":null}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":"HS256","typ":1}"#,
        r#"{"alg":"HS256","kid":7}"#,
        r#"{"alg":"HS256","crit":"x","x":1}"#,
    ] {
        assert_jws_refused(&v, &mint_raw(header, &payload()), AuthErrorKind::Malformed);
    }
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload()));
}

#[test]
fn payload_that_is_not_a_json_object_is_refused_as_malformed() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    accepted(&v, &mint_raw(header, &payload()));
    for payload in [
        "[1]",
        r#""alice""#,
        "42",
        "null",
        "",
        "{} x",
        "not json",
        "{",
    ] {
        let token = mint_raw(header, payload);
        assert_refused(&v, &token, AuthErrorKind::Malformed);
        // The JWS stage does not read the payload: it only needs a signature.
        let jws = v.verify_signature(&token).unwrap();
        assert_eq!(jws.payload(), payload.as_bytes());
    }
}

#[test]
fn duplicate_header_members_are_refused_as_malformed() {
    let v = validator();
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256","x":1,"y":2}"#, &payload()));
    for header in [
        // Last-member-wins parsers would read HS256 and accept it.
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","\u0061lg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","x":1,"x":2}"#,
        r#"{"alg":"HS256","x":1,"\u0078":1}"#,
    ] {
        assert_jws_refused(&v, &mint_raw(header, &payload()), AuthErrorKind::Malformed);
    }
}

#[test]
fn duplicate_claims_are_refused_as_malformed() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    accepted(
        &v,
        &mint_raw(header, &payload_with_leading(r#""x":1,"y":2,"#)),
    );
    let past = now() - 3600;
    for members in [
        r#""sub":"mallory","#.to_owned(),
        r#""\u0073ub":"mallory","#.to_owned(),
        r#""x":1,"x":2,"#.to_owned(),
        r#""x":{"a":1},"x":{"a":1},"#.to_owned(),
        // An expired exp hidden by a later one.
        format!(r#""exp":{past},"#),
    ] {
        let token = mint_raw(header, &payload_with_leading(&members));
        assert_refused(&v, &token, AuthErrorKind::Malformed);
    }
}

// Duplicates are refused at every depth: serde_json keeps the last one,
// other parsers the first, and two readers must never see different claims.
#[test]
fn duplicate_members_inside_a_claim_object_are_refused_as_malformed() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let single = mint_raw(
        header,
        &payload_with_leading(r#""grants":{"admin":false,"read":true},"#),
    );
    accepted(&v, &single);
    let doubled = mint_raw(
        header,
        &payload_with_leading(r#""grants":{"admin":false,"admin":true},"#),
    );
    assert_refused(&v, &doubled, AuthErrorKind::Malformed);
}

#[test]
fn duplicate_claims_are_refused_whatever_the_claims_type() {
    #[derive(Debug, Deserialize)]
    struct OnlySub {
        #[allow(dead_code)]
        sub: String,
    }
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let ok = mint_raw(header, &payload_with_leading(r#""x":1,"#));
    assert!(v.validate::<OnlySub>(&ok).is_ok());
    assert!(v.validate::<StandardClaims>(&ok).is_ok());
    let dup = mint_raw(header, &payload_with_leading(r#""x":1,"x":2,"#));
    for err in [
        v.validate::<OnlySub>(&dup).unwrap_err(),
        v.validate::<StandardClaims>(&dup).unwrap_err(),
    ] {
        assert_eq!(err.kind(), AuthErrorKind::Malformed, "{err}");
    }
}

// ---------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------

#[test]
fn alg_none_without_signature_is_refused() {
    let v = validator();
    let header = b64(r#"{"alg":"none","typ":"JWT"}"#);
    let token = format!("{header}.{}.", b64(payload()));
    let err = refused(&v, &token);
    assert!(
        matches!(
            err.kind(),
            AuthErrorKind::Malformed | AuthErrorKind::UnsupportedAlgorithm
        ),
        "{err:?}"
    );
    assert_jws_refused(&v, &token, err.kind());
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload()));
}

#[test]
fn alg_none_with_a_signature_is_refused_with_unsupported_algorithm() {
    let v = validator();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        assert_jws_refused(
            &v,
            &mint_raw(&header, &payload()),
            AuthErrorKind::UnsupportedAlgorithm,
        );
    }
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload()));
}

#[test]
fn unknown_alg_is_refused_with_unsupported_algorithm() {
    let v = validator();
    for alg in ["HS1024", "ES512", "RS1", "HS256 ", "", "A256GCM"] {
        let header = format!(r#"{{"alg":"{alg}"}}"#);
        assert_jws_refused(
            &v,
            &mint_raw(&header, &payload()),
            AuthErrorKind::UnsupportedAlgorithm,
        );
    }
}

#[test]
fn lowercase_alg_is_refused_with_unsupported_algorithm() {
    let v = validator();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"alg":"hs256"}"#, &payload()),
        AuthErrorKind::UnsupportedAlgorithm,
    );
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256"}"#, &payload()));
}

#[test]
fn hs512_token_without_kid_on_an_hs256_key_is_refused_with_unknown_key() {
    let v = validator();
    let claims = claims("alice", &[]);
    let hs512 = hmac_signer(Algorithm::HS512, SECRET)
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_refused(&v, &hs512, AuthErrorKind::UnknownKey);
    let hs256 = hmac_signer(Algorithm::HS256, SECRET)
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_accepted(&v, &hs256);
}

#[test]
fn hs512_token_naming_an_hs256_key_by_kid_is_refused_with_algorithm_mismatch() {
    let v = validator_with_kids(&["k1"]);
    let claims = claims("alice", &[]);
    let hs512 = hmac_signer(Algorithm::HS512, SECRET)
        .with_kid("k1")
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_refused(&v, &hs512, AuthErrorKind::AlgorithmMismatch);
    let hs256 = hmac_signer(Algorithm::HS256, SECRET)
        .with_kid("k1")
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_accepted(&v, &hs256);
}

#[test]
fn rs256_header_signed_with_hmac_over_the_public_key_is_refused() {
    let rsa = &rsa_keys()[0];
    let v = validator_with(VerifyingKey::from_rsa_pem(Algorithm::RS256, &rsa.public_pem).unwrap());
    let claims = claims("alice", &[]);
    let genuine = SigningKey::from_rsa_pem(Algorithm::RS256, &rsa.private_pem)
        .unwrap()
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_accepted(&v, &genuine);

    let payload = claims.to_string();
    for secret in [rsa.public_pem.as_bytes(), &rsa.public_der[..]] {
        let attacker = hmac_signer(Algorithm::HS256, secret);
        // The classic confusion: RS256 in the header, an HMAC over the public key.
        let rs256 = attacker
            .sign_jws(br#"{"alg":"RS256","typ":"JWT"}"#, payload.as_bytes())
            .unwrap();
        assert_jws_refused(&v, &rs256, AuthErrorKind::InvalidSignature);
        // And HS256 in the header: no HS256 key exists to be confused with.
        let hs256 = attacker.sign("JWT", &claims).unwrap();
        assert_jws_refused(&v, &hs256, AuthErrorKind::UnknownKey);
    }
}

#[test]
fn rs256_token_on_a_ps256_key_is_refused() {
    let rsa = &rsa_keys()[0];
    let v = validator_with(VerifyingKey::from_rsa_pem(Algorithm::PS256, &rsa.public_pem).unwrap());
    let claims = claims("alice", &[]);
    let rs256 = SigningKey::from_rsa_pem(Algorithm::RS256, &rsa.private_pem)
        .unwrap()
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_refused(&v, &rs256, AuthErrorKind::UnknownKey);
    let ps256 = SigningKey::from_rsa_pem(Algorithm::PS256, &rsa.private_pem)
        .unwrap()
        .sign("JWT", &claims)
        .unwrap();
    assert_jws_accepted(&v, &ps256);
}

// ---------------------------------------------------------------------------
// Key selection by kid; keys are never taken from the token
// ---------------------------------------------------------------------------

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

#[test]
fn unknown_kid_is_refused_with_unknown_key() {
    let v = validator_with_kids(&["k1"]);
    assert_jws_refused(&v, &mint_with_kid("k2"), AuthErrorKind::UnknownKey);
    assert_jws_refused(&v, &mint_with_kid("K1"), AuthErrorKind::UnknownKey);
    assert_jws_accepted(&v, &mint_with_kid("k1"));
}

#[test]
fn kid_naming_no_key_is_refused_even_when_a_single_key_has_no_kid() {
    let v = validator();
    assert_jws_refused(&v, &mint_with_kid("k1"), AuthErrorKind::UnknownKey);
    assert_jws_accepted(&v, &common::token("alice", &[]));
}

#[test]
fn token_without_kid_is_refused_as_ambiguous_when_two_hs256_keys_could_verify_it() {
    let v = validator_with_kids(&["k1", "k2"]);
    assert_jws_refused(
        &v,
        &common::token("alice", &[]),
        AuthErrorKind::AmbiguousKey,
    );
    assert_jws_accepted(&v, &mint_with_kid("k1"));
    assert_jws_accepted(&v, &mint_with_kid("k2"));
}

#[test]
fn token_without_kid_is_accepted_when_one_key_fits_its_algorithm() {
    let one = validator_with_kids(&["k1"]);
    assert_jws_accepted(&one, &common::token("alice", &[]));
    let mixed = Validator::builder()
        .key(
            VerifyingKey::hmac(Algorithm::HS256, SECRET)
                .unwrap()
                .with_kid("a"),
        )
        .key(
            VerifyingKey::hmac(Algorithm::HS384, SECRET)
                .unwrap()
                .with_kid("b"),
        )
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    assert_jws_accepted(&mixed, &common::token("alice", &[]));
}

#[test]
fn embedded_jwk_jku_and_x5u_headers_do_not_supply_a_key() {
    let v = validator();
    let attacker_secret = b"attacker-secret-of-at-least-32-bytes!";
    let attacker_jwk = json!({"kty": "oct", "alg": "HS256", "k": b64(attacker_secret)});
    let payload = payload();
    for header in [
        json!({"alg": "HS256", "jwk": attacker_jwk}),
        json!({"alg": "HS256", "jku": "https://attacker.test/jwks.json"}),
        json!({"alg": "HS256", "x5u": "https://attacker.test/cert.pem"}),
        json!({"alg": "HS256", "x5c": [b64(attacker_secret)]}),
    ] {
        let header = header.to_string();
        let forged = hmac_signer(Algorithm::HS256, attacker_secret)
            .sign_jws(header.as_bytes(), payload.as_bytes())
            .unwrap();
        assert_jws_refused(&v, &forged, AuthErrorKind::InvalidSignature);
        // The same header, signed with the trusted key, is fine.
        assert_jws_accepted(&v, &mint_raw(&header, &payload));
    }
    // Naming the embedded key by kid finds nothing either.
    let header = json!({"alg": "HS256", "kid": "attacker", "jwk": {
        "kty": "oct", "alg": "HS256", "kid": "attacker", "k": b64(attacker_secret)
    }})
    .to_string();
    let forged = hmac_signer(Algorithm::HS256, attacker_secret)
        .sign_jws(header.as_bytes(), payload.as_bytes())
        .unwrap();
    assert_jws_refused(&v, &forged, AuthErrorKind::UnknownKey);
}

#[test]
fn embedded_ec_jwk_of_the_attacker_does_not_supply_a_key() {
    let [trusted, attacker] = p256_keys();
    let v =
        validator_with(VerifyingKey::from_ec_pem(Algorithm::ES256, &trusted.public_pem).unwrap());
    let point = &attacker.public_raw;
    let header = json!({"alg": "ES256", "typ": "JWT", "jwk": {
        "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]),
    }})
    .to_string();
    let payload = payload();
    let forged = SigningKey::from_ec_pem(Algorithm::ES256, &attacker.private_pem)
        .unwrap()
        .sign_jws(header.as_bytes(), payload.as_bytes())
        .unwrap();
    assert_jws_refused(&v, &forged, AuthErrorKind::InvalidSignature);
    let genuine = SigningKey::from_ec_pem(Algorithm::ES256, &trusted.private_pem)
        .unwrap()
        .sign_jws(header.as_bytes(), payload.as_bytes())
        .unwrap();
    assert_jws_accepted(&v, &genuine);
}

// ---------------------------------------------------------------------------
// crit
// ---------------------------------------------------------------------------

#[test]
fn unknown_crit_name_is_refused_with_unsupported_critical() {
    let v = validator();
    let token = mint_raw(r#"{"alg":"HS256","crit":["x"],"x":1}"#, &payload());
    assert_jws_refused(&v, &token, AuthErrorKind::UnsupportedCritical);
    let understood = validator_builder().understand_crit("x").build().unwrap();
    let verified = assert_jws_accepted(&understood, &token);
    assert_eq!(verified.header().crit(), Some(&["x".to_owned()][..]));
}

#[test]
fn crit_with_one_understood_and_one_unknown_name_is_refused() {
    let v = validator_builder().understand_crit("x").build().unwrap();
    let token = mint_raw(
        r#"{"alg":"HS256","crit":["x","y"],"x":1,"y":2}"#,
        &payload(),
    );
    assert_jws_refused(&v, &token, AuthErrorKind::UnsupportedCritical);
    let both = validator_builder()
        .understand_crit("x")
        .understand_crit("y")
        .build()
        .unwrap();
    assert_jws_accepted(&both, &token);
}

#[test]
fn empty_crit_is_refused_as_malformed() {
    let v = validator_builder().understand_crit("x").build().unwrap();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"alg":"HS256","crit":[]}"#, &payload()),
        AuthErrorKind::Malformed,
    );
    assert_jws_accepted(
        &v,
        &mint_raw(r#"{"alg":"HS256","crit":["x"],"x":1}"#, &payload()),
    );
}

#[test]
fn understanding_a_jws_header_name_as_crit_is_a_config_error() {
    for name in ["alg", "kid", "typ", "crit", "jwk", "x5c"] {
        let err = validator_builder()
            .understand_crit(name)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidSetting, "{name}");
    }
    assert!(validator_builder().understand_crit("x").build().is_ok());
}

#[test]
fn unencoded_payload_b64_false_is_refused_with_unsupported_critical() {
    let v = validator_builder().understand_crit("b64").build().unwrap();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, &payload()),
        AuthErrorKind::UnsupportedCritical,
    );
    assert_jws_accepted(
        &v,
        &mint_raw(r#"{"alg":"HS256","b64":true,"crit":["b64"]}"#, &payload()),
    );
}

// ---------------------------------------------------------------------------
// exp, nbf, iat and the leeway
// ---------------------------------------------------------------------------

#[test]
fn token_without_exp_is_refused_with_missing_claim() {
    let without_exp = mint(&claims_with(|c| {
        c.remove("exp");
    }));
    assert_refused(&validator(), &without_exp, AuthErrorKind::MissingClaim);
    let optional = validator_builder().require_exp(false).build().unwrap();
    accepted(&optional, &without_exp);
    accepted(&validator(), &common::token("alice", &[]));
}

#[test]
fn require_exp_false_still_refuses_an_expired_token() {
    let optional = validator_builder().require_exp(false).build().unwrap();
    let expired = mint(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 3600));
    }));
    assert_refused(&optional, &expired, AuthErrorKind::Expired);
}

#[test]
fn expired_token_is_refused_with_expired() {
    let v = validator();
    let at = |exp: u64| {
        mint(&claims_with(|c| {
            c.insert("exp".into(), json!(exp));
        }))
    };
    assert_refused(&v, &at(now() - 3600), AuthErrorKind::Expired);
    assert_refused(&v, &at(now() - 40), AuthErrorKind::Expired);
    accepted(&v, &at(now() + 60));
}

#[test]
fn token_expired_within_the_default_30_s_leeway_is_accepted() {
    let v = validator();
    assert_eq!(v.leeway(), Duration::from_secs(30));
    let expired_10_s_ago = mint(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 10));
    }));
    accepted(&v, &expired_10_s_ago);
}

#[test]
fn custom_leeway_is_respected() {
    let at = |exp: u64| {
        mint(&claims_with(|c| {
            c.insert("exp".into(), json!(exp));
        }))
    };
    let strict = validator_builder().leeway(Duration::ZERO).build().unwrap();
    assert_refused(&strict, &at(now() - 5), AuthErrorKind::Expired);
    accepted(&validator(), &at(now() - 5));

    let lenient = validator_builder()
        .leeway(Duration::from_secs(300))
        .build()
        .unwrap();
    accepted(&lenient, &at(now() - 120));
    assert_refused(&validator(), &at(now() - 120), AuthErrorKind::Expired);
    assert_refused(&lenient, &at(now() - 400), AuthErrorKind::Expired);
}

#[test]
fn leeway_over_ten_minutes_is_a_config_error() {
    let err = validator_builder()
        .leeway(Duration::from_secs(601))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::InvalidSetting);
    assert!(
        validator_builder()
            .leeway(Duration::from_secs(600))
            .build()
            .is_ok()
    );
}

#[test]
fn nbf_in_the_future_is_refused_with_not_yet_valid() {
    let v = validator();
    let at = |nbf: u64| {
        mint(&claims_with(|c| {
            c.insert("nbf".into(), json!(nbf));
        }))
    };
    assert_refused(&v, &at(now() + 3600), AuthErrorKind::NotYetValid);
    assert_refused(&v, &at(now() + 90), AuthErrorKind::NotYetValid);
    accepted(&v, &at(now() + 10));
    accepted(&v, &at(now() - 10));
}

#[test]
fn iat_in_the_future_is_refused_with_issued_in_future() {
    let v = validator();
    let at = |iat: u64| {
        mint(&claims_with(|c| {
            c.insert("iat".into(), json!(iat));
        }))
    };
    assert_refused(&v, &at(now() + 3600), AuthErrorKind::IssuedInFuture);
    assert_refused(&v, &at(now() + 90), AuthErrorKind::IssuedInFuture);
    accepted(&v, &at(now() + 10));
    accepted(&v, &at(now() - 10));
}

#[test]
fn time_claims_that_are_not_numbers_or_are_absurd_are_refused_with_invalid_claim() {
    let v = validator();
    let exp = now() + 300;
    for (claim, value) in [
        ("exp", json!(exp.to_string())),
        ("exp", json!(null)),
        ("exp", json!([exp])),
        ("exp", json!(-1)),
        ("exp", json!(253_402_300_800_u64)),
        ("nbf", json!(true)),
        ("nbf", json!({"t": 1})),
        ("nbf", json!(-0.5)),
        ("iat", json!("now")),
        ("iat", json!(-1)),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert(claim.into(), value.clone());
        }));
        let err = refused(&v, &token);
        assert_eq!(
            err.kind(),
            AuthErrorKind::InvalidClaim,
            "{claim}: {value}: {err}"
        );
    }
    // A number out of every sane range, as an issuer might write it.
    let absurd = mint_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload_with_leading(r#""nbf":2.001e206,"#),
    );
    assert_refused(&v, &absurd, AuthErrorKind::InvalidClaim);
    accepted(
        &v,
        &mint(&claims_with(|c| {
            c.insert("exp".into(), json!(exp));
            c.insert("nbf".into(), json!(now() - 1));
            c.insert("iat".into(), json!(now() - 1));
        })),
    );
}

#[test]
fn largest_accepted_exp_is_the_end_of_year_9999() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("exp".into(), json!(253_402_300_799_u64));
    }));
    let verified = accepted(&v, &token);
    assert_eq!(
        verified.registered().expires_at().unwrap().as_secs(),
        253_402_300_799
    );
}

#[test]
fn fractional_time_claims_are_accepted() {
    let v = validator();
    let iat = now() as f64 - 0.25;
    let exp = now() as f64 + 299.5;
    let token = mint(&claims_with(|c| {
        c.insert("iat".into(), json!(iat));
        c.insert("exp".into(), json!(exp));
    }));
    let verified = accepted(&v, &token);
    let registered = verified.registered();
    assert_eq!(
        registered.issued_at().unwrap().as_micros(),
        (iat * 1e6).round() as i64
    );
    assert_eq!(
        registered.expires_at().unwrap().as_micros(),
        (exp * 1e6).round() as i64
    );
}

#[test]
fn registered_claims_of_the_wrong_type_are_refused_with_invalid_claim() {
    #[derive(Debug, Deserialize)]
    struct RolesOnly {
        #[allow(dead_code)]
        roles: Vec<String>,
    }
    let v = validator();
    for (claim, value) in [
        ("sub", json!(42)),
        ("iss", json!([ISSUER])),
        ("jti", json!(7)),
        ("aud", json!(3)),
        ("aud", json!(null)),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert(claim.into(), value.clone());
        }));
        // Even a claims type that never reads the claim sees it refused.
        let err = v.validate::<RolesOnly>(&token).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidClaim, "{claim}: {value}");
    }
    assert!(
        v.validate::<RolesOnly>(&common::token("alice", &[]))
            .is_ok()
    );
}

// ---------------------------------------------------------------------------
// iss and aud
// ---------------------------------------------------------------------------

#[test]
fn configured_issuer_is_required() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.remove("iss");
    }));
    assert_refused(&v, &token, AuthErrorKind::MissingClaim);
    accepted(&v, &common::token("alice", &[]));
}

#[test]
fn issuer_must_match_exactly() {
    let v = validator();
    for iss in [
        "https://issuer.test/",
        "HTTPS://ISSUER.TEST",
        "https://Issuer.test",
        "https://issuer.test ",
        " https://issuer.test",
        "https://issuer.tes",
        "https://issuer.test.evil",
        "",
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("iss".into(), json!(iss));
        }));
        assert_refused(&v, &token, AuthErrorKind::InvalidIssuer);
    }
    accepted(
        &v,
        &mint(&claims_with(|c| {
            c.insert("iss".into(), json!(ISSUER));
        })),
    );
}

#[test]
fn any_of_several_configured_issuers_is_accepted() {
    let v = validator_builder()
        .issuer("https://other.test")
        .build()
        .unwrap();
    for iss in [ISSUER, "https://other.test"] {
        accepted(
            &v,
            &mint(&claims_with(|c| {
                c.insert("iss".into(), json!(iss));
            })),
        );
    }
}

#[test]
fn configured_audience_is_required() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.remove("aud");
    }));
    assert_refused(&v, &token, AuthErrorKind::MissingClaim);
    accepted(&v, &common::token("alice", &[]));
}

#[test]
fn audience_may_be_a_string_or_an_array_containing_it() {
    let v = validator();
    for aud in [
        json!(AUDIENCE),
        json!([AUDIENCE]),
        json!(["other-api", AUDIENCE]),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        }));
        let verified = accepted(&v, &token);
        assert!(
            verified
                .registered()
                .audience()
                .iter()
                .any(|a| a == AUDIENCE)
        );
    }
}

#[test]
fn audience_not_containing_the_configured_one_is_refused_with_invalid_audience() {
    let v = validator();
    for aud in [
        json!("other-api"),
        json!(["other-api", "third-api"]),
        json!("TEST-API"),
        json!("test-api "),
        json!(["test-ap"]),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        }));
        assert_refused(&v, &token, AuthErrorKind::InvalidAudience);
    }
}

#[test]
fn empty_audience_array_is_refused_as_missing() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("aud".into(), json!([]));
    }));
    assert_refused(&v, &token, AuthErrorKind::MissingClaim);
}

#[test]
fn audience_array_with_a_non_string_member_is_refused_with_invalid_claim() {
    let v = validator();
    for aud in [
        json!([AUDIENCE, 1]),
        json!([AUDIENCE, null]),
        json!([[AUDIENCE]]),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        }));
        assert_refused(&v, &token, AuthErrorKind::InvalidClaim);
    }
}

#[test]
fn without_configured_issuer_and_audience_tokens_without_them_pass() {
    let v = Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .build()
        .unwrap();
    let bare = mint(&claims_with(|c| {
        c.remove("iss");
        c.remove("aud");
    }));
    accepted(&v, &bare);
    let any = mint(&claims_with(|c| {
        c.insert("iss".into(), json!("https://anyone.test"));
        c.insert("aud".into(), json!(["anything"]));
    }));
    accepted(&v, &any);
    // The same bare token is refused once they are configured.
    assert_refused(&validator(), &bare, AuthErrorKind::MissingClaim);
}

// ---------------------------------------------------------------------------
// typ
// ---------------------------------------------------------------------------

#[test]
fn required_type_refuses_other_or_missing_typ_with_invalid_type() {
    let v = validator_builder().require_type("at+jwt").build().unwrap();
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"at+jwt2"}"#,
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
        r#"{"alg":"HS256","typ":"text/at+jwt"}"#,
    ] {
        assert_refused(
            &v,
            &mint_raw(header, &payload()),
            AuthErrorKind::InvalidType,
        );
    }
}

#[test]
fn required_type_accepts_case_and_application_prefix_variants() {
    for required in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let v = validator_builder().require_type(required).build().unwrap();
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            let header = format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            let verified = accepted(&v, &mint_raw(&header, &payload()));
            assert_eq!(verified.header().typ(), Some(typ));
        }
    }
}

#[test]
fn without_required_type_any_typ_is_accepted() {
    let v = validator();
    accepted(&v, &mint_raw(r#"{"alg":"HS256"}"#, &payload()));
    accepted(
        &v,
        &mint_raw(r#"{"alg":"HS256","typ":"anything"}"#, &payload()),
    );
}

// ---------------------------------------------------------------------------
// Typed claims
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct OrderClaims {
    sub: String,
    tenant: String,
    max_orders: u32,
}

#[test]
fn claims_are_parsed_into_the_applications_own_type() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("tenant".into(), json!("acme"));
        c.insert("max_orders".into(), json!(12));
    }));
    let verified = v.validate::<OrderClaims>(&token).unwrap();
    let claims = verified.claims();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.tenant, "acme");
    assert_eq!(claims.max_orders, 12);
    assert_eq!(verified.into_claims().tenant, "acme");
}

#[test]
fn claims_that_do_not_fit_the_type_are_refused_with_invalid_claims() {
    let v = validator();
    for edit in [
        json!({"tenant": "acme", "max_orders": "many"}),
        json!({"tenant": "acme", "max_orders": -1}),
        json!({"tenant": 5, "max_orders": 1}),
        json!({"max_orders": 1}),
    ] {
        let token = mint(&claims_with(|c| {
            c.extend(edit.as_object().unwrap().clone());
        }));
        let err = v.validate::<OrderClaims>(&token).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidClaims, "{edit}: {err}");
    }
    // StandardClaims requires `sub`.
    let no_sub = mint(&claims_with(|c| {
        c.remove("sub");
    }));
    let err = v.validate::<StandardClaims>(&no_sub).unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InvalidClaims);
    assert!(
        v.validate::<StandardClaims>(&common::token("alice", &[]))
            .is_ok()
    );
}

thread_local! {
    static DESERIALIZATIONS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug)]
struct CountedClaims(#[allow(dead_code)] Value);

impl<'de> Deserialize<'de> for CountedClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DESERIALIZATIONS.with(|count| count.set(count.get() + 1));
        Value::deserialize(deserializer).map(CountedClaims)
    }
}

#[test]
fn claims_are_deserialized_exactly_once_per_validation() {
    let v = validator();
    DESERIALIZATIONS.with(|count| count.set(0));
    v.validate::<CountedClaims>(&common::token("alice", &[]))
        .unwrap();
    assert_eq!(DESERIALIZATIONS.with(Cell::get), 1);
}

#[test]
fn standard_claims_keep_unknown_claims_in_extra() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("tenant".into(), json!("acme"));
        c.insert("level".into(), json!(3));
        c.insert("scope".into(), json!("docs:read"));
    }));
    let verified = v.validate::<StandardClaims>(&token).unwrap();
    let claims = verified.claims();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss.as_deref(), Some(ISSUER));
    assert_eq!(claims.scope.as_deref(), Some("docs:read"));
    assert_eq!(claims.extra.get("tenant"), Some(&json!("acme")));
    assert_eq!(claims.extra.get("level"), Some(&json!(3)));
    for known in [
        "sub", "iss", "aud", "exp", "nbf", "iat", "jti", "roles", "scope",
    ] {
        assert!(!claims.extra.contains_key(known), "{known} is in extra");
    }
}

#[test]
fn registered_claims_are_read_whatever_the_claims_type() {
    #[derive(Debug, Deserialize)]
    struct Nothing {}
    let v = validator();
    let now = now();
    let token = mint(&json!({
        "sub": "alice", "iss": ISSUER, "aud": ["x-api", AUDIENCE],
        "exp": now + 300, "nbf": now - 5, "iat": now - 10, "jti": "id-1",
    }));
    let verified = v.validate::<Nothing>(&token).unwrap();
    let registered = verified.registered();
    assert_eq!(registered.sub(), Some("alice"));
    assert_eq!(registered.issuer(), Some(ISSUER));
    assert_eq!(registered.audience(), ["x-api", AUDIENCE]);
    assert_eq!(
        registered.expires_at().unwrap().as_secs(),
        (now + 300) as i64
    );
    assert_eq!(registered.not_before().unwrap().as_secs(), (now - 5) as i64);
    assert_eq!(registered.issued_at().unwrap().as_secs(), (now - 10) as i64);
    assert_eq!(registered.jti(), Some("id-1"));
    assert_eq!(verified.header().algorithm(), Algorithm::HS256);
    assert_eq!(verified.header().typ(), Some("JWT"));
    assert_eq!(verified.header().kid(), None);
}

#[test]
fn audience_string_reads_as_a_list_of_one() {
    let v = validator();
    let verified = accepted(&v, &common::token("alice", &[]));
    assert_eq!(verified.registered().audience(), [AUDIENCE]);
}

#[test]
fn token_id_is_the_jti_when_there_is_one() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("jti".into(), json!("token-42"));
    }));
    let verified = accepted(&v, &token);
    assert_eq!(verified.registered().token_id(), "token-42");
}

#[test]
fn token_id_without_jti_is_derived_from_the_signature_and_differs_between_tokens() {
    let v = validator();
    let without_jti = |sub: &str| {
        let mut claims = claims(sub, &[]);
        claims.as_object_mut().unwrap().remove("jti");
        mint(&claims)
    };
    let (first, second) = (without_jti("alice"), without_jti("bob"));
    let id_of = |token: &str| accepted(&v, token).registered().token_id().to_owned();
    let (id1, id2) = (id_of(&first), id_of(&second));
    assert!(id1.starts_with("sha256:"), "{id1}");
    assert!(id2.starts_with("sha256:"), "{id2}");
    assert_ne!(id1, id2);
    // Stable for the same token, and free of the signature itself.
    assert_eq!(id_of(&first), id1);
    assert!(!id1.contains(parts(&first)[2]));
    assert_eq!(accepted(&v, &first).registered().jti(), None);
}

/// The order of P-256, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `a - b` for big-endian numbers of the same length, `a >= b`.
fn big_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

// An ECDSA signature (r, s) has a twin (r, n - s) that verifies as well, so
// the id of a token without `jti` must not depend on the signature.
#[test]
fn ecdsa_signature_twin_of_a_token_without_jti_gets_the_same_token_id_or_is_refused() {
    let [key, _] = p256_keys();
    let v = validator_with(VerifyingKey::from_ec_pem(Algorithm::ES256, &key.public_pem).unwrap());
    let mut claims = claims("alice", &[]);
    claims.as_object_mut().unwrap().remove("jti");
    let token = SigningKey::from_ec_pem(Algorithm::ES256, &key.private_pem)
        .unwrap()
        .sign("JWT", &claims)
        .unwrap();
    let id = accepted(&v, &token).registered().token_id().to_owned();

    let signature = URL_SAFE_NO_PAD.decode(parts(&token)[2]).unwrap();
    assert_eq!(signature.len(), 64);
    let mut twin = signature[..32].to_vec();
    twin.extend(big_sub(&P256_ORDER, &signature[32..]));
    let twin_token = with_part(&token, 2, &b64(&twin));
    assert_ne!(twin_token, token);

    match v.validate::<Value>(&twin_token) {
        Err(err) => assert_eq!(err.kind(), AuthErrorKind::InvalidSignature, "{err}"),
        Ok(verified) => assert_eq!(
            verified.registered().token_id(),
            id,
            "the ECDSA twin of a token is accepted under another token id: \
             revoking the token does not revoke its twin"
        ),
    }
}

/// The order of the Ed25519 group, little-endian.
const ED25519_ORDER_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

#[test]
fn eddsa_signature_with_non_canonical_s_is_refused() {
    let [key, _] = ed25519_keys();
    let v = validator_with(VerifyingKey::from_ed_pem(&key.public_pem).unwrap());
    let signer = SigningKey::from_ed_pem(&key.private_pem).unwrap();
    // S + L fits in 32 bytes only when S is small enough; find such a token.
    for i in 0..1000 {
        let token = signer
            .sign(
                "JWT",
                &claims_with(|c| {
                    c.insert("n".into(), json!(i));
                }),
            )
            .unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts(&token)[2]).unwrap();
        let mut s_plus_l = [0u8; 32];
        let mut carry = 0u16;
        for (j, out) in s_plus_l.iter_mut().enumerate() {
            let sum = u16::from(signature[32 + j]) + u16::from(ED25519_ORDER_LE[j]) + carry;
            *out = sum as u8;
            carry = sum >> 8;
        }
        if carry != 0 || s_plus_l[31] & 0xe0 != 0 {
            continue;
        }
        accepted(&v, &token);
        let mut twin = signature[..32].to_vec();
        twin.extend(s_plus_l);
        assert_jws_refused(
            &v,
            &with_part(&token, 2, &b64(&twin)),
            AuthErrorKind::InvalidSignature,
        );
        return;
    }
    panic!("no signature with a small enough S");
}

// ---------------------------------------------------------------------------
// Error text never contains the token
// ---------------------------------------------------------------------------

#[test]
fn refusals_never_show_the_token_or_its_signature() {
    let v = validator_with_kids(&["k1"]);
    let with_kid = |claims: &Value| {
        hmac_signer(Algorithm::HS256, SECRET)
            .with_kid("k1")
            .sign("JWT", claims)
            .unwrap()
    };
    let good = with_kid(&claims("alice", &[]));
    let bad_signature = {
        let other = hmac_signer(Algorithm::HS256, b"another-secret-of-at-least-32-bytes!")
            .with_kid("k1")
            .sign("JWT", &claims("alice", &[]))
            .unwrap();
        with_part(&good, 2, parts(&other)[2])
    };
    let samples = [
        (bad_signature, AuthErrorKind::InvalidSignature),
        (
            with_kid(&claims_with(|c| {
                c.insert("exp".into(), json!(now() - 3600));
            })),
            AuthErrorKind::Expired,
        ),
        (
            with_kid(&claims_with(|c| {
                c.insert("aud".into(), json!("other-api"));
            })),
            AuthErrorKind::InvalidAudience,
        ),
        (
            with_kid(&claims_with(|c| {
                c.insert("exp".into(), json!("soon"));
            })),
            AuthErrorKind::InvalidClaim,
        ),
        (format!("{good}="), AuthErrorKind::Malformed),
        (mint_with_kid("k9"), AuthErrorKind::UnknownKey),
        (
            format!("{good}{}", "A".repeat(9000)),
            AuthErrorKind::TooLong,
        ),
    ];
    for (token, kind) in samples {
        let err = refused(&v, &token);
        assert_eq!(err.kind(), kind, "{err}");
        let signature = parts(&token)[2];
        let payload = parts(&token)[1];
        let response = err.to_http_response("api");
        let mut shown = format!(
            "{err}\n{err:?}\n{}\n",
            String::from_utf8_lossy(response.body())
        );
        for value in response.headers().values() {
            shown.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        assert!(!shown.contains(&token), "{kind:?} shows the token");
        assert!(!shown.contains(signature), "{kind:?} shows the signature");
        assert!(!shown.contains(payload), "{kind:?} shows the payload");
    }
}

// ---------------------------------------------------------------------------
// Asymmetric algorithms, with keys made at test time
// ---------------------------------------------------------------------------

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

/// The happy path and a wrong-key refusal for one asymmetric algorithm.
fn check_asymmetric(
    alg: Algorithm,
    keys: &[TestKey; 2],
    verifying: impl Fn(&str) -> VerifyingKey,
    signing: impl Fn(&str) -> SigningKey,
) {
    let [trusted, other] = keys;
    let v = validator_with(verifying(&trusted.public_pem));
    let claims = claims("alice", &["admin"]);

    let signer = signing(&trusted.private_pem);
    assert_eq!(signer.algorithm(), alg);
    let genuine = signer.sign("JWT", &claims).unwrap();
    let verified = assert_jws_accepted(&v, &genuine);
    assert_eq!(verified.header().algorithm(), alg);
    assert_eq!(verified.claims()["roles"], json!(["admin"]));

    let forged = signing(&other.private_pem).sign("JWT", &claims).unwrap();
    assert_jws_refused(&v, &forged, AuthErrorKind::InvalidSignature);

    // The genuine signature over other claims does not verify either.
    let tampered = with_part(
        &genuine,
        1,
        &b64(claims_with(|c| {
            c.insert("sub".into(), json!("mallory"));
        })
        .to_string()),
    );
    assert_jws_refused(&v, &tampered, AuthErrorKind::InvalidSignature);
}

#[test]
fn rs256_token_is_accepted_with_its_key_and_refused_with_another() {
    check_asymmetric(
        Algorithm::RS256,
        rsa_keys(),
        |pem| VerifyingKey::from_rsa_pem(Algorithm::RS256, pem).unwrap(),
        |pem| SigningKey::from_rsa_pem(Algorithm::RS256, pem).unwrap(),
    );
}

#[test]
fn ps256_token_is_accepted_with_its_key_and_refused_with_another() {
    check_asymmetric(
        Algorithm::PS256,
        rsa_keys(),
        |pem| VerifyingKey::from_rsa_pem(Algorithm::PS256, pem).unwrap(),
        |pem| SigningKey::from_rsa_pem(Algorithm::PS256, pem).unwrap(),
    );
}

#[test]
fn es256_token_is_accepted_with_its_key_and_refused_with_another() {
    check_asymmetric(
        Algorithm::ES256,
        p256_keys(),
        |pem| VerifyingKey::from_ec_pem(Algorithm::ES256, pem).unwrap(),
        |pem| SigningKey::from_ec_pem(Algorithm::ES256, pem).unwrap(),
    );
}

#[test]
fn es384_token_is_accepted_with_its_key_and_refused_with_another() {
    check_asymmetric(
        Algorithm::ES384,
        p384_keys(),
        |pem| VerifyingKey::from_ec_pem(Algorithm::ES384, pem).unwrap(),
        |pem| SigningKey::from_ec_pem(Algorithm::ES384, pem).unwrap(),
    );
}

#[test]
fn eddsa_token_is_accepted_with_its_key_and_refused_with_another() {
    check_asymmetric(
        Algorithm::EdDSA,
        ed25519_keys(),
        |pem| VerifyingKey::from_ed_pem(pem).unwrap(),
        |pem| SigningKey::from_ed_pem(pem).unwrap(),
    );
}

#[test]
fn es256_token_on_an_es384_key_is_refused() {
    let v = validator_with(
        VerifyingKey::from_ec_pem(Algorithm::ES384, &p384_keys()[0].public_pem).unwrap(),
    );
    let es256 = SigningKey::from_ec_pem(Algorithm::ES256, &p256_keys()[0].private_pem)
        .unwrap()
        .sign("JWT", &claims("alice", &[]))
        .unwrap();
    assert_jws_refused(&v, &es256, AuthErrorKind::UnknownKey);
}
