//! Signatures: each asymmetric algorithm with its key and refused with
//! another, and malleable signatures (ECDSA twins, non-canonical EdDSA `S`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::{Algorithm, AuthErrorKind, SigningKey, VerifyingKey};
use serde_json::{Value, json};

use crate::support::keys::TestKey;
use crate::support::{claims, validator_with};

use super::{
    accepted, assert_jws_accepted, assert_jws_refused, b64, claims_with, ed25519_keys, p256_keys,
    p384_keys, parts, rsa_keys, with_part,
};

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
