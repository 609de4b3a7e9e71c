//! Algorithms: never `none`, exact names, and each key bound to its one
//! algorithm.

use jwt_guard::{Algorithm, AuthErrorKind, SigningKey, VerifyingKey};

use crate::support::{SECRET, claims, mint_raw, validator, validator_with};

use super::{
    assert_jws_accepted, assert_jws_refused, b64, hmac_signer, payload, refused, rsa_keys,
    validator_with_kids,
};

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
    for alg in ["HS1024", "ES256K", "ES521", "RS1", "HS256 ", "", "A256GCM"] {
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
