//! Key selection by `kid`; keys are never taken from the token.

use jwt_guard::{Algorithm, AuthErrorKind, SigningKey, Validator, VerifyingKey};
use serde_json::json;

use crate::support::{self, AUDIENCE, ISSUER, SECRET, mint_raw, validator, validator_with};

use super::{
    assert_jws_accepted, assert_jws_refused, b64, hmac_signer, mint_with_kid, p256_keys, payload,
    validator_with_kids,
};

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
    assert_jws_accepted(&v, &support::token("alice", &[]));
}

#[test]
fn token_without_kid_is_refused_as_ambiguous_when_two_hs256_keys_could_verify_it() {
    let v = validator_with_kids(&["k1", "k2"]);
    assert_jws_refused(
        &v,
        &support::token("alice", &[]),
        AuthErrorKind::AmbiguousKey,
    );
    assert_jws_accepted(&v, &mint_with_kid("k1"));
    assert_jws_accepted(&v, &mint_with_kid("k2"));
}

#[test]
fn token_without_kid_is_accepted_when_one_key_fits_its_algorithm() {
    let one = validator_with_kids(&["k1"]);
    assert_jws_accepted(&one, &support::token("alice", &[]));
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
    assert_jws_accepted(&mixed, &support::token("alice", &[]));
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
