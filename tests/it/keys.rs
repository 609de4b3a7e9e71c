//! Key loading: weak keys, keys that do not fit their algorithm, JWK and JWKS
//! rules, key sets, and `Debug` output that never shows key material.
//!
//! Every refusal sits next to a positive control that differs only in the
//! offending part. Asymmetric keys are generated at test time.

use std::sync::OnceLock;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use jwt_guard::{
    Algorithm, AuthErrorKind, ConfigError, ConfigErrorKind, KeySet, SigningKey, Validator,
    VerifyingKey,
};
use serde_json::{Value, json};

use crate::support::keys::{self as test_keys, TestKey, ec_key, pem};
use crate::support::{AUDIENCE, ISSUER, SECRET, claims, validator_with};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

#[track_caller]
fn assert_config_error<T: std::fmt::Debug>(result: Result<T, ConfigError>, kind: ConfigErrorKind) {
    match result {
        Ok(value) => panic!("expected {kind:?}, got {value:?}"),
        Err(err) => assert_eq!(err.kind(), kind, "refused for another reason: {err}"),
    }
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `base` (a JSON object) with the members of `extra` added or replaced.
fn jwk(base: &Value, extra: Value) -> String {
    let mut jwk = base.clone();
    jwk.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    jwk.to_string()
}

/// Bytes that look random, with the top bit set: a stand-in RSA modulus.
fn modulus(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut n: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    n[0] |= 0x80;
    n[len - 1] |= 0x01;
    n
}

#[track_caller]
fn assert_verifies(key: VerifyingKey, signer: &SigningKey) {
    let token = signer.sign("JWT", &claims("alice", &[])).unwrap();
    let verified = validator_with(key)
        .validate::<Value>(&token)
        .unwrap_or_else(|err| panic!("{:?}: {err}", err.kind()));
    assert_eq!(verified.header().algorithm(), signer.algorithm());
}

// ---------------------------------------------------------------------------
// Keys made at test time
// ---------------------------------------------------------------------------

fn rsa_key() -> &'static (TestKey, RsaPublicKeyComponents<Vec<u8>>) {
    static KEY: OnceLock<(TestKey, RsaPublicKeyComponents<Vec<u8>>)> = OnceLock::new();
    KEY.get_or_init(test_keys::rsa_key)
}

fn p256_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING))
}

fn p384_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| ec_key(&ECDSA_P384_SHA384_FIXED_SIGNING))
}

fn ed25519_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(test_keys::ed25519_key)
}

/// The public JWK of an EC key (no `alg`).
fn ec_jwk(key: &TestKey, crv: &str) -> Value {
    let coordinate = (key.public_raw.len() - 1) / 2;
    json!({
        "kty": "EC",
        "crv": crv,
        "x": b64(&key.public_raw[1..=coordinate]),
        "y": b64(&key.public_raw[1 + coordinate..]),
    })
}

fn p521_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| ec_key(&ECDSA_P521_SHA512_FIXED_SIGNING))
}

fn ed_jwk(key: &TestKey) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&key.public_raw)})
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
}

fn oct_jwk(secret: &[u8]) -> Value {
    json!({"kty": "oct", "k": b64(secret)})
}

// Minimal DER, to build RSA public keys of any size by hand.

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        let len = content.len().to_be_bytes();
        let first = len.iter().position(|&b| b != 0).unwrap();
        out.push(0x80 | (len.len() - first) as u8);
        out.extend_from_slice(&len[first..]);
    }
    out.extend_from_slice(content);
    out
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut content = Vec::new();
    if bytes[first] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[first..]);
    der(0x02, &content)
}

/// PKCS#1 `RSAPublicKey`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    der(0x30, &[der_uint(n), der_uint(e)].concat())
}

/// X.509 `SubjectPublicKeyInfo` for rsaEncryption.
fn rsa_spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let algorithm = der(0x30, &[der(0x06, &RSA_ENCRYPTION), der(0x05, &[])].concat());
    let mut bits = vec![0];
    bits.extend(rsa_public_key_der(n, e));
    der(0x30, &[algorithm, der(0x03, &bits)].concat())
}

const E: [u8; 3] = [0x01, 0x00, 0x01];

// ---------------------------------------------------------------------------
// Weak keys
// ---------------------------------------------------------------------------

#[test]
fn hmac_secret_of_31_bytes_is_refused_as_weak_and_says_at_least_32_bytes() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for err in [
            VerifyingKey::hmac(alg, &SECRET[..31]).unwrap_err(),
            SigningKey::hmac(alg, &SECRET[..31]).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ConfigErrorKind::WeakKey, "{alg}");
            assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        }
        assert_config_error(VerifyingKey::hmac(alg, b""), ConfigErrorKind::WeakKey);
        assert!(VerifyingKey::hmac(alg, &SECRET[..32]).is_ok());
        assert!(SigningKey::hmac(alg, &SECRET[..32]).is_ok());
    }
}

#[test]
fn oct_jwk_with_a_31_byte_secret_is_refused_as_weak() {
    let weak = jwk(&oct_jwk(&SECRET[..31]), json!({"alg": "HS256"}));
    let err = VerifyingKey::from_jwk(&weak).unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::WeakKey);
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    let strong = jwk(&oct_jwk(&SECRET[..32]), json!({"alg": "HS256"}));
    assert_verifies(
        VerifyingKey::from_jwk(&strong).unwrap(),
        &SigningKey::hmac(Algorithm::HS256, &SECRET[..32]).unwrap(),
    );
}

#[test]
fn rsa_jwk_with_a_modulus_under_2048_bits_is_refused_as_weak() {
    let with_rs256 = |n: &[u8]| jwk(&rsa_jwk(n, &E), json!({"alg": "RS256"}));
    let err = VerifyingKey::from_jwk(&with_rs256(&modulus(128))).unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::WeakKey, "{err}");
    assert!(err.to_string().contains("2048"), "{err}");
    // 2047 bits: 256 bytes whose top bit is clear.
    let mut n_2047 = modulus(256);
    n_2047[0] &= 0x7f;
    assert_config_error(
        VerifyingKey::from_jwk(&with_rs256(&n_2047)),
        ConfigErrorKind::WeakKey,
    );
    // Leading zero bytes do not count.
    let mut padded_1024 = vec![0; 128];
    padded_1024.extend(modulus(128));
    assert_config_error(
        VerifyingKey::from_jwk(&with_rs256(&padded_1024)),
        ConfigErrorKind::WeakKey,
    );
    // The same construction at 2048 bits is accepted.
    let key = VerifyingKey::from_jwk(&with_rs256(&modulus(256))).unwrap();
    assert_eq!(key.algorithm(), Algorithm::RS256);
}

#[test]
fn rsa_pem_with_a_modulus_under_2048_bits_is_refused_as_weak() {
    let encodings = |n: &[u8]| {
        [
            ("PUBLIC KEY", rsa_spki_der(n, &E)),
            ("RSA PUBLIC KEY", rsa_public_key_der(n, &E)),
        ]
    };
    for (tag, der) in encodings(&modulus(128)) {
        let err = VerifyingKey::from_rsa_pem(Algorithm::RS256, pem(tag, &der)).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::WeakKey, "{tag}: {err}");
        assert!(err.to_string().contains("2048"), "{err}");
    }
    // The same hand-made encodings of a 2048-bit modulus are accepted.
    for (tag, der) in encodings(&modulus(256)) {
        let key = VerifyingKey::from_rsa_pem(Algorithm::RS256, pem(tag, &der));
        assert!(key.is_ok(), "{tag}: {key:?}");
    }
}

#[test]
fn hand_made_rsa_der_matches_the_generated_key() {
    // Checks the DER builder above against aws-lc's own encoding.
    let (key, components) = rsa_key();
    assert_eq!(rsa_spki_der(&components.n, &components.e), key.public_der);
}

#[test]
fn rsa_jwk_of_2048_bits_is_accepted_and_verifies_its_tokens() {
    let (key, components) = rsa_key();
    assert_eq!(components.n.len(), 256);
    let jwk = jwk(
        &rsa_jwk(&components.n, &components.e),
        json!({"alg": "RS256", "use": "sig", "kid": "rsa-1"}),
    );
    let from_jwk = VerifyingKey::from_jwk(&jwk).unwrap();
    assert_eq!(from_jwk.algorithm(), Algorithm::RS256);
    assert_eq!(from_jwk.kid(), Some("rsa-1"));
    let signer = SigningKey::from_rsa_pem(Algorithm::RS256, &key.private_pem)
        .unwrap()
        .with_kid("rsa-1");
    assert_verifies(from_jwk, &signer);
    assert_verifies(
        VerifyingKey::from_rsa_pem(Algorithm::RS256, &key.public_pem).unwrap(),
        &SigningKey::from_rsa_pem(Algorithm::RS256, &key.private_pem).unwrap(),
    );
}

// ---------------------------------------------------------------------------
// Keys that do not fit their algorithm
// ---------------------------------------------------------------------------

#[test]
fn ec_jwk_with_a_curve_not_matching_its_alg_is_refused() {
    let p384 = ec_jwk(p384_key(), "P-384");
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&p384, json!({"alg": "ES256"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        VerifyingKey::from_jwk_with_alg(&p384.to_string(), Algorithm::ES256),
        ConfigErrorKind::AlgorithmMismatch,
    );
    let p256 = ec_jwk(p256_key(), "P-256");
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&p256, json!({"alg": "ES384"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
    // Claiming P-256 for a P-384 point is refused too.
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&p384, json!({"alg": "ES256", "crv": "P-256"}))),
        ConfigErrorKind::InvalidKey,
    );
    assert_eq!(
        VerifyingKey::from_jwk(&jwk(&p384, json!({"alg": "ES384"})))
            .unwrap()
            .algorithm(),
        Algorithm::ES384
    );
    assert_eq!(
        VerifyingKey::from_jwk(&jwk(&p256, json!({"alg": "ES256"})))
            .unwrap()
            .algorithm(),
        Algorithm::ES256
    );
}

#[test]
fn jwk_with_a_key_type_not_matching_its_alg_is_refused() {
    let (_, components) = rsa_key();
    let rsa = rsa_jwk(&components.n, &components.e);
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&rsa, json!({"alg": "HS256"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&oct_jwk(SECRET), json!({"alg": "RS256"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&ed_jwk(ed25519_key()), json!({"alg": "ES256"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert!(VerifyingKey::from_jwk(&jwk(&rsa, json!({"alg": "RS256"}))).is_ok());
}

#[test]
fn es256_key_from_the_pem_of_a_p384_key_is_refused() {
    let (p256, p384) = (p256_key(), p384_key());
    assert_config_error(
        VerifyingKey::from_ec_pem(Algorithm::ES256, &p384.public_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        SigningKey::from_ec_pem(Algorithm::ES256, &p384.private_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        VerifyingKey::from_ec_pem(Algorithm::ES384, &p256.public_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        SigningKey::from_ec_pem(Algorithm::ES384, &p256.private_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_verifies(
        VerifyingKey::from_ec_pem(Algorithm::ES384, &p384.public_pem).unwrap(),
        &SigningKey::from_ec_pem(Algorithm::ES384, &p384.private_pem).unwrap(),
    );
    assert_verifies(
        VerifyingKey::from_ec_pem(Algorithm::ES256, &p256.public_pem).unwrap(),
        &SigningKey::from_ec_pem(Algorithm::ES256, &p256.private_pem).unwrap(),
    );
}

#[test]
fn key_constructor_of_another_family_is_refused() {
    let (rsa, _) = rsa_key();
    let p256 = p256_key();
    assert_config_error(
        VerifyingKey::hmac(Algorithm::RS256, SECRET),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        SigningKey::hmac(Algorithm::ES256, SECRET),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        VerifyingKey::from_rsa_pem(Algorithm::ES256, &rsa.public_pem),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        VerifyingKey::from_ec_pem(Algorithm::RS256, &p256.public_pem),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        SigningKey::from_rsa_pem(Algorithm::HS256, &rsa.private_pem),
        ConfigErrorKind::AlgorithmMismatch,
    );
    // The right family, the wrong material.
    assert_config_error(
        VerifyingKey::from_rsa_pem(Algorithm::RS256, &p256.public_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        VerifyingKey::from_ec_pem(Algorithm::ES256, &rsa.public_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        VerifyingKey::from_ed_pem(&p256.public_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert!(VerifyingKey::from_rsa_pem(Algorithm::RS256, &rsa.public_pem).is_ok());
}

// A point off the curve would refuse every token with InvalidSignature; it
// must stop the service when the key is built instead.
#[test]
fn ec_jwk_with_a_point_off_the_curve_is_refused() {
    let key = p256_key();
    let mut y = key.public_raw[33..].to_vec();
    y[31] ^= 0x01;
    let off_curve = jwk(&ec_jwk(key, "P-256"), json!({"alg": "ES256", "y": b64(&y)}));
    assert!(VerifyingKey::from_jwk(&jwk(&ec_jwk(key, "P-256"), json!({"alg": "ES256"}))).is_ok());
    assert_config_error(
        VerifyingKey::from_jwk(&off_curve),
        ConfigErrorKind::InvalidKey,
    );
    // The same for P-521, whose point the crypto backend checks itself.
    let key = p521_key();
    let mut y = key.public_raw[67..].to_vec();
    y[65] ^= 0x01;
    let off_curve = jwk(&ec_jwk(key, "P-521"), json!({"alg": "ES512", "y": b64(&y)}));
    assert!(VerifyingKey::from_jwk(&jwk(&ec_jwk(key, "P-521"), json!({"alg": "ES512"}))).is_ok());
    assert_config_error(
        VerifyingKey::from_jwk(&off_curve),
        ConfigErrorKind::InvalidKey,
    );
}

// ---------------------------------------------------------------------------
// JWK rules
// ---------------------------------------------------------------------------

#[test]
fn jwk_without_alg_takes_the_algorithm_of_its_curve() {
    let (p256, p384, ed) = (p256_key(), p384_key(), ed25519_key());
    let cases = [
        (
            ec_jwk(p256, "P-256"),
            Algorithm::ES256,
            SigningKey::from_ec_pem(Algorithm::ES256, &p256.private_pem),
        ),
        (
            ec_jwk(p384, "P-384"),
            Algorithm::ES384,
            SigningKey::from_ec_pem(Algorithm::ES384, &p384.private_pem),
        ),
        (
            ed_jwk(ed),
            Algorithm::EdDSA,
            SigningKey::from_ed_pem(&ed.private_pem),
        ),
    ];
    for (jwk, alg, signer) in cases {
        let key = VerifyingKey::from_jwk(&jwk.to_string()).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_verifies(key, &signer.unwrap());
    }
}

#[test]
fn rsa_and_oct_jwk_without_alg_are_refused_unless_an_algorithm_is_given() {
    let (key, components) = rsa_key();
    let rsa = rsa_jwk(&components.n, &components.e).to_string();
    let oct = oct_jwk(SECRET).to_string();
    assert_config_error(VerifyingKey::from_jwk(&rsa), ConfigErrorKind::InvalidKey);
    assert_config_error(VerifyingKey::from_jwk(&oct), ConfigErrorKind::InvalidKey);

    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let key_with_alg = VerifyingKey::from_jwk_with_alg(&rsa, alg).unwrap();
        assert_eq!(key_with_alg.algorithm(), alg);
        assert_verifies(
            key_with_alg,
            &SigningKey::from_rsa_pem(alg, &key.private_pem).unwrap(),
        );
    }
    let hs384 = VerifyingKey::from_jwk_with_alg(&oct, Algorithm::HS384).unwrap();
    assert_eq!(hs384.algorithm(), Algorithm::HS384);
    assert_verifies(hs384, &SigningKey::hmac(Algorithm::HS384, SECRET).unwrap());
}

#[test]
fn jwk_whose_alg_differs_from_the_one_asked_for_is_refused() {
    let oct = jwk(&oct_jwk(SECRET), json!({"alg": "HS256"}));
    assert_config_error(
        VerifyingKey::from_jwk_with_alg(&oct, Algorithm::HS512),
        ConfigErrorKind::InvalidKey,
    );
    assert_eq!(
        VerifyingKey::from_jwk_with_alg(&oct, Algorithm::HS256)
            .unwrap()
            .algorithm(),
        Algorithm::HS256
    );
}

#[test]
fn jwk_with_unsupported_alg_or_curve_is_refused() {
    for bad in [
        jwk(&oct_jwk(SECRET), json!({"alg": "none"})),
        jwk(&oct_jwk(SECRET), json!({"alg": "hs256"})),
        jwk(&ec_jwk(p256_key(), "P-256"), json!({"crv": "P-521"})),
        jwk(&ec_jwk(p256_key(), "P-256"), json!({"crv": "secp256k1"})),
        jwk(&ed_jwk(ed25519_key()), json!({"crv": "X25519"})),
        json!({"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA"}).to_string(),
    ] {
        assert_config_error(VerifyingKey::from_jwk(&bad), ConfigErrorKind::InvalidKey);
    }
}

#[test]
fn jwk_for_encryption_or_without_the_verify_op_is_refused() {
    let base = jwk(&oct_jwk(SECRET), json!({"alg": "HS256"}));
    let base: Value = serde_json::from_str(&base).unwrap();
    for bad in [
        json!({"use": "enc"}),
        json!({"use": "SIG"}),
        json!({"key_ops": ["sign"]}),
        json!({"key_ops": ["encrypt", "decrypt"]}),
        json!({"key_ops": []}),
        json!({"use": "enc", "key_ops": ["verify"]}),
    ] {
        let err = VerifyingKey::from_jwk(&jwk(&base, bad.clone())).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidKey, "{bad}: {err}");
    }
    for good in [
        json!({}),
        json!({"use": "sig"}),
        json!({"key_ops": ["verify"]}),
        json!({"key_ops": ["sign", "verify"]}),
        json!({"use": "sig", "key_ops": ["verify"]}),
    ] {
        assert!(
            VerifyingKey::from_jwk(&jwk(&base, good.clone())).is_ok(),
            "{good}"
        );
    }
}

#[test]
fn malformed_jwk_is_refused_with_invalid_key() {
    let good = jwk(&oct_jwk(SECRET), json!({"alg": "HS256"}));
    assert!(VerifyingKey::from_jwk(&good).is_ok());
    let padded_k = STANDARD.encode(&SECRET[..32]);
    assert!(padded_k.ends_with('='));
    for bad in [
        "not json".to_owned(),
        "[]".to_owned(),
        json!({"alg": "HS256", "k": b64(SECRET)}).to_string(),
        json!({"kty": "oct", "alg": "HS256"}).to_string(),
        json!({"kty": "oct", "alg": "HS256", "k": padded_k}).to_string(),
        json!({"kty": "oct", "alg": "HS256", "k": 5}).to_string(),
        json!({"kty": "EC", "alg": "ES256", "crv": "P-256", "x": b64([1; 32])}).to_string(),
        json!({"kty": "RSA", "alg": "RS256", "e": "AQAB"}).to_string(),
    ] {
        assert_config_error(VerifyingKey::from_jwk(&bad), ConfigErrorKind::InvalidKey);
    }
}

#[test]
fn jwks_skips_keys_that_cannot_verify_and_keeps_signing_keys() {
    let p256 = ec_jwk(p256_key(), "P-256");
    let (_, components) = rsa_key();
    let jwks = json!({"keys": [
        serde_json::from_str::<Value>(&jwk(&p256, json!({"kid": "enc", "use": "enc"}))).unwrap(),
        serde_json::from_str::<Value>(&jwk(&p256, json!({"kid": "wrap", "key_ops": ["wrapKey"]}))).unwrap(),
        serde_json::from_str::<Value>(&jwk(&rsa_jwk(&components.n, &components.e), json!({"kid": "no-alg"}))).unwrap(),
        {"kty": "EC", "crv": "secp256k1", "kid": "k1", "x": "AA", "y": "AA"},
        {"kty": "X", "kid": "unknown-type"},
        serde_json::from_str::<Value>(&jwk(&p256, json!({"kid": "sig", "use": "sig"}))).unwrap(),
        serde_json::from_str::<Value>(&jwk(&oct_jwk(SECRET), json!({"kid": "hmac", "alg": "HS256"}))).unwrap(),
    ]})
    .to_string();
    let set = KeySet::from_jwks(&jwks).unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(set.get("sig").unwrap().algorithm(), Algorithm::ES256);
    assert_eq!(set.get("hmac").unwrap().algorithm(), Algorithm::HS256);
    // RSA without `alg`: RS256 unless told otherwise (see below).
    assert_eq!(set.get("no-alg").unwrap().algorithm(), Algorithm::RS256);
    for skipped in ["enc", "wrap", "k1", "unknown-type"] {
        assert!(set.get(skipped).is_none(), "{skipped}");
    }
}

#[test]
fn jwks_with_only_encryption_keys_is_refused_as_empty() {
    let p256 = ec_jwk(p256_key(), "P-256");
    let enc = |kid: &str| {
        serde_json::from_str::<Value>(&jwk(&p256, json!({"kid": kid, "use": "enc"}))).unwrap()
    };
    let only_enc = json!({"keys": [enc("a"), enc("b")]}).to_string();
    assert_config_error(KeySet::from_jwks(&only_enc), ConfigErrorKind::NoKeys);
    let one_sig = json!({"keys": [enc("a"), p256]}).to_string();
    assert_eq!(KeySet::from_jwks(&one_sig).unwrap().len(), 1);
}

#[test]
fn jwks_with_a_weak_signing_key_is_refused_rather_than_skipped() {
    let weak = jwk(
        &oct_jwk(&SECRET[..16]),
        json!({"alg": "HS256", "kid": "weak"}),
    );
    let strong = jwk(&oct_jwk(SECRET), json!({"alg": "HS256", "kid": "strong"}));
    let both = format!(r#"{{"keys":[{weak},{strong}]}}"#);
    assert_config_error(KeySet::from_jwks(&both), ConfigErrorKind::WeakKey);
    let strong_only = format!(r#"{{"keys":[{strong}]}}"#);
    assert_eq!(KeySet::from_jwks(&strong_only).unwrap().len(), 1);
}

// ---------------------------------------------------------------------------
// Key sets
// ---------------------------------------------------------------------------

#[test]
fn duplicate_kid_is_refused() {
    let hmac = |kid: &str| {
        VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid(kid)
    };
    assert_config_error(
        KeySet::new([hmac("a"), hmac("a")]),
        ConfigErrorKind::DuplicateKid,
    );
    assert_eq!(KeySet::new([hmac("a"), hmac("b")]).unwrap().len(), 2);

    // Across families too: a kid names one key.
    let ec = VerifyingKey::from_ec_pem(Algorithm::ES256, &p256_key().public_pem)
        .unwrap()
        .with_kid("a");
    assert_config_error(KeySet::new([hmac("a"), ec]), ConfigErrorKind::DuplicateKid);

    let oct = |kid: &str| jwk(&oct_jwk(SECRET), json!({"alg": "HS256", "kid": kid}));
    assert_config_error(
        KeySet::from_jwks(&format!(r#"{{"keys":[{},{}]}}"#, oct("x"), oct("x"))),
        ConfigErrorKind::DuplicateKid,
    );
    assert!(KeySet::from_jwks(&format!(r#"{{"keys":[{},{}]}}"#, oct("x"), oct("y"))).is_ok());

    // A key given to the builder may not reuse a kid of its key set.
    let set = KeySet::new([hmac("a")]).unwrap();
    assert_config_error(
        Validator::builder()
            .keys(set.clone())
            .key(hmac("a"))
            .build(),
        ConfigErrorKind::DuplicateKid,
    );
    assert!(
        Validator::builder()
            .keys(set)
            .key(hmac("b"))
            .build()
            .is_ok()
    );
}

#[test]
fn keys_without_kid_may_share_a_set() {
    let hmac = || VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap();
    assert_eq!(KeySet::new([hmac(), hmac()]).unwrap().len(), 2);
}

#[test]
fn empty_key_set_is_refused() {
    assert_config_error(
        KeySet::new(Vec::<VerifyingKey>::new()),
        ConfigErrorKind::NoKeys,
    );
    assert_config_error(Validator::builder().build(), ConfigErrorKind::NoKeys);
    assert_config_error(KeySet::from_jwks(r#"{"keys":[]}"#), ConfigErrorKind::NoKeys);
    let one = VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap();
    assert_eq!(KeySet::new([one.clone()]).unwrap().len(), 1);
    assert!(Validator::builder().key(one).build().is_ok());
}

// ---------------------------------------------------------------------------
// Debug output never shows key material
// ---------------------------------------------------------------------------

/// Renderings of `bytes` that a careless `Debug` could show.
fn renderings(bytes: &[u8]) -> Vec<String> {
    let mut out = vec![
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        bytes.iter().map(|b| format!("{b:02x}")).collect(),
        bytes.iter().map(|b| format!("{b:02X}")).collect(),
        format!("{:?}", &bytes[..8.min(bytes.len())])
            .trim_end_matches(']')
            .to_owned(),
    ];
    if let Ok(text) = std::str::from_utf8(bytes) {
        out.push(text.to_owned());
        out.push(format!("{text:?}"));
    }
    out
}

/// Pieces of a PEM document and its DER: any of them in `Debug` is a leak.
fn pem_fragments(pem: &str, der: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = pem
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() >= 16)
        .map(str::to_owned)
        .collect();
    // The tail of the DER holds the key itself; any 16-byte window will do.
    let tail = &der[der.len() - 16..];
    out.extend(renderings(tail));
    out
}

#[track_caller]
fn assert_shows_none(debug: &str, fragments: &[String]) {
    for fragment in fragments {
        assert!(
            !debug.contains(fragment.as_str()),
            "Debug output shows key material ({fragment}): {debug}"
        );
    }
}

#[test]
fn key_debug_output_never_shows_key_material() {
    let secret_fragments = renderings(SECRET);
    let hmac = VerifyingKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_kid("k1");
    let debug = format!("{hmac:?} {hmac:#?}");
    assert!(debug.contains("HS256") && debug.contains("k1"), "{debug}");
    assert_shows_none(&debug, &secret_fragments);

    let from_jwk = VerifyingKey::from_jwk(&jwk(&oct_jwk(SECRET), json!({"alg": "HS256"}))).unwrap();
    assert_shows_none(&format!("{from_jwk:?}"), &secret_fragments);

    let (rsa, _) = rsa_key();
    let (p256, ed) = (p256_key(), ed25519_key());
    for (key, public) in [
        (
            VerifyingKey::from_rsa_pem(Algorithm::RS256, &rsa.public_pem).unwrap(),
            rsa,
        ),
        (
            VerifyingKey::from_ec_pem(Algorithm::ES256, &p256.public_pem).unwrap(),
            p256,
        ),
        (VerifyingKey::from_ed_pem(&ed.public_pem).unwrap(), ed),
    ] {
        let debug = format!("{key:?} {key:#?}");
        assert_shows_none(
            &debug,
            &pem_fragments(&public.public_pem, &public.public_der),
        );
    }

    // Nor do the key set and the validator that hold them.
    let set = KeySet::new([hmac.clone()]).unwrap();
    let validator = Validator::builder().keys(set.clone()).build().unwrap();
    assert_shows_none(&format!("{set:?} {validator:?}"), &secret_fragments);
}

#[test]
fn signing_key_debug_output_never_shows_key_material() {
    let hmac = SigningKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_kid("k1");
    let debug = format!("{hmac:?} {hmac:#?}");
    assert!(debug.contains("HS256") && debug.contains("k1"), "{debug}");
    assert_shows_none(&debug, &renderings(SECRET));

    let (rsa, _) = rsa_key();
    let (p256, ed) = (p256_key(), ed25519_key());
    for (key, private) in [
        (
            SigningKey::from_rsa_pem(Algorithm::RS256, &rsa.private_pem).unwrap(),
            rsa,
        ),
        (
            SigningKey::from_ec_pem(Algorithm::ES256, &p256.private_pem).unwrap(),
            p256,
        ),
        (SigningKey::from_ed_pem(&ed.private_pem).unwrap(), ed),
    ] {
        let debug = format!("{key:?} {key:#?}");
        assert_shows_none(
            &debug,
            &pem_fragments(&private.private_pem, &private.private_der),
        );
    }
}

#[test]
fn ed25519_keys_off_the_curve_or_of_small_order_are_refused() {
    // y = 2 has no x on the curve; y = 1 is the identity (small order).
    for x in [
        "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"{x}"}}"#);
        assert_eq!(
            jwt_guard::VerifyingKey::from_jwk(&jwk).unwrap_err().kind(),
            jwt_guard::ConfigErrorKind::InvalidKey,
            "{x}"
        );
    }
    // A real key passes.
    let good = test_keys::ed25519_key();
    assert!(jwt_guard::VerifyingKey::from_ed_pem(&good.public_pem).is_ok());
}

/// `alg` is optional in a JWK (RFC 7517 §4.4): an RSA key without it
/// verifies one RSA algorithm, RS256 unless the caller names another, and
/// never the others; an `oct` key without it is skipped; a key for
/// encryption is skipped whatever its `alg`.
#[test]
fn rsa_keys_without_alg_verify_one_rsa_algorithm() {
    let (key, components) = rsa_key();
    let no_alg = |kid: &str, extra: Value| {
        let mut jwk: Value =
            serde_json::from_str(&jwk(&rsa_jwk(&components.n, &components.e), extra)).unwrap();
        jwk["kid"] = json!(kid);
        jwk
    };
    let jwks = json!({"keys": [
        no_alg("r", json!({})),
        no_alg("enc", json!({"use": "enc"})),
        no_alg("explicit", json!({"alg": "PS384"})),
        serde_json::from_str::<Value>(&jwk(&oct_jwk(SECRET), json!({"kid": "oct"}))).unwrap(),
    ]})
    .to_string();
    let signer = |alg: Algorithm, kid: &str| {
        SigningKey::from_rsa_pem(alg, &key.private_pem)
            .unwrap()
            .with_kid(kid)
    };
    let verify = |set: &KeySet, alg: Algorithm, kid: &str| {
        let token = signer(alg, kid).sign("JWT", &claims("alice", &[])).unwrap();
        Validator::builder()
            .keys(set.clone())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap()
            .validate::<Value>(&token)
            .map(|_| ())
            .map_err(|e| e.kind())
    };

    let set = KeySet::from_jwks(&jwks).unwrap();
    assert_eq!(set.len(), 2, "the encryption and oct keys are skipped");
    assert!(set.get("enc").is_none() && set.get("oct").is_none());
    assert_eq!(set.get("r").unwrap().algorithm(), Algorithm::RS256);
    assert_eq!(set.get("explicit").unwrap().algorithm(), Algorithm::PS384);
    assert_eq!(verify(&set, Algorithm::RS256, "r"), Ok(()));
    for other in [Algorithm::PS256, Algorithm::RS512] {
        assert_eq!(
            verify(&set, other, "r"),
            Err(AuthErrorKind::AlgorithmMismatch),
            "{other}"
        );
    }
    assert_eq!(verify(&set, Algorithm::PS384, "explicit"), Ok(()));

    let ps = KeySet::from_jwks_with_rsa(&jwks, Algorithm::PS256).unwrap();
    assert_eq!(ps.get("r").unwrap().algorithm(), Algorithm::PS256);
    assert_eq!(verify(&ps, Algorithm::PS256, "r"), Ok(()));
    assert_eq!(
        verify(&ps, Algorithm::RS256, "r"),
        Err(AuthErrorKind::AlgorithmMismatch)
    );
    assert_config_error(
        KeySet::from_jwks_with_rsa(&jwks, Algorithm::ES256),
        ConfigErrorKind::AlgorithmMismatch,
    );
    // A lone JWK still needs its `alg` said.
    assert_config_error(
        VerifyingKey::from_jwk(&no_alg("r", json!({})).to_string()),
        ConfigErrorKind::InvalidKey,
    );
}

/// ES512 (P-521), which `jsonwebtoken` lacks, on this build's backend:
/// keys from PEM and JWK (with and without `alg`), signing, the public JWK
/// and thumbprint, and the refusals.
#[test]
fn es512_signs_and_verifies_from_pem_and_jwk() {
    let key = p521_key();
    assert_eq!(key.public_raw.len(), 133);
    let signer = SigningKey::from_ec_pem(Algorithm::ES512, &key.private_pem)
        .unwrap()
        .with_kid("p521");
    assert_eq!(signer.algorithm(), Algorithm::ES512);
    let from_pem = VerifyingKey::from_ec_pem(Algorithm::ES512, &key.public_pem).unwrap();
    assert_verifies(from_pem.clone().with_kid("p521"), &signer);
    let jwk_without_alg = ec_jwk(key, "P-521");
    let from_jwk = VerifyingKey::from_jwk(&jwk(&jwk_without_alg, json!({"kid": "p521"}))).unwrap();
    assert_eq!(from_jwk.algorithm(), Algorithm::ES512);
    assert_verifies(from_jwk, &signer);
    let with_alg = jwk(&jwk_without_alg, json!({"alg": "ES512", "kid": "p521"}));
    assert_verifies(VerifyingKey::from_jwk(&with_alg).unwrap(), &signer);
    assert_verifies(signer.verifying_key().unwrap(), &signer);

    // The published JWK is the key's public half, and its RFC 7638 thumbprint.
    let public = signer.public_jwk().unwrap();
    assert_eq!(public["crv"], "P-521");
    assert_eq!(public["alg"], "ES512");
    assert_eq!(public["x"], jwk_without_alg["x"]);
    assert_eq!(public["y"], jwk_without_alg["y"]);
    assert!(public.get("d").is_none());
    let canonical = format!(
        r#"{{"crv":"P-521","kty":"EC","x":"{}","y":"{}"}}"#,
        public["x"].as_str().unwrap(),
        public["y"].as_str().unwrap()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(signer.thumbprint().unwrap(), b64(digest.as_ref()));

    // Signatures are ECDSA's 132 bytes; one altered, or the key of another
    // curve, does not verify.
    let token = signer.sign("JWT", &claims("alice", &[])).unwrap();
    let signature = URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().unwrap())
        .unwrap();
    assert_eq!(signature.len(), 132);
    let mut altered = signature.clone();
    altered[40] ^= 1;
    let (signed, _) = token.rsplit_once('.').unwrap();
    let altered = format!("{signed}.{}", b64(&altered));
    let validator = validator_with(from_pem.with_kid("p521"));
    assert_eq!(
        validator.validate::<Value>(&altered).unwrap_err().kind(),
        AuthErrorKind::InvalidSignature
    );
    let p384 = SigningKey::from_ec_pem(Algorithm::ES384, &p384_key().private_pem)
        .unwrap()
        .with_kid("p521");
    let other_curve = p384.sign("JWT", &claims("alice", &[])).unwrap();
    assert!(validator.validate::<Value>(&other_curve).is_err());
}

#[test]
fn es512_keys_of_another_curve_or_off_the_curve_are_refused() {
    assert_config_error(
        VerifyingKey::from_ec_pem(Algorithm::ES512, &p256_key().public_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        SigningKey::from_ec_pem(Algorithm::ES512, &p384_key().private_pem),
        ConfigErrorKind::InvalidKey,
    );
    assert_config_error(
        SigningKey::from_ec_pem(Algorithm::ES256, &p521_key().private_pem),
        ConfigErrorKind::InvalidKey,
    );
    // A point whose y is not on the curve.
    let mut off = ec_jwk(p521_key(), "P-521");
    let mut y = URL_SAFE_NO_PAD.decode(off["y"].as_str().unwrap()).unwrap();
    y[65] ^= 1;
    off["y"] = json!(b64(&y));
    assert_config_error(
        VerifyingKey::from_jwk(&off.to_string()),
        ConfigErrorKind::InvalidKey,
    );
    // The curve and the algorithm must agree.
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&ec_jwk(p521_key(), "P-521"), json!({"alg": "ES256"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
    assert_config_error(
        VerifyingKey::from_jwk(&jwk(&ec_jwk(p384_key(), "P-384"), json!({"alg": "ES512"}))),
        ConfigErrorKind::AlgorithmMismatch,
    );
}
