//! What the fuzz targets share: the harness's keys and validators, and the
//! input framing.
//!
//! The keys are made from fixed bytes so that `seed.py` can mint valid
//! HS256 seed tokens for them; they protect nothing.

use std::sync::LazyLock;
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_guard::{Algorithm, KeySet, SigningKey, Validator, VerifyingKey};

/// The HMAC secret of the harness's HS256 key (`kid` `hs`); `seed.py` signs
/// with the same bytes.
pub const HMAC_SECRET: &[u8] = b"jwt-guard fuzz harness key, not a secret: 0123456789";
/// The issuer every harness validator requires.
pub const ISSUER: &str = "https://issuer.fuzz.example";
/// The audience every harness validator requires.
pub const AUDIENCE: &str = "api";
/// The leeway of every harness validator, and of the differential target's
/// independent verifier.
pub const LEEWAY_SECS: u64 = 5;
const ED25519_SEED: [u8; 32] = *b"jwt-guard fuzz harness ed25519!!";

/// The harness's keys: HS256 (`kid` `hs`) and EdDSA (`kid` `ed`).
pub struct HarnessKeys {
    /// Signs HS256.
    pub hs256: SigningKey,
    /// Signs EdDSA (Ed25519).
    pub ed25519: SigningKey,
    /// The Ed25519 public key, raw.
    pub ed25519_public: Vec<u8>,
    /// Both verifying keys.
    pub set: KeySet,
}

/// The harness's keys, made once per process.
pub static KEYS: LazyLock<HarnessKeys> = LazyLock::new(|| {
    let pair = Ed25519KeyPair::from_seed_unchecked(&ED25519_SEED).expect("a 32-byte seed");
    let pkcs8 = pair.to_pkcs8v1().expect("pkcs8");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    let ed25519_public = pair.public_key().as_ref().to_vec();
    let jwk = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "ed",
        "x": URL_SAFE_NO_PAD.encode(&ed25519_public),
    });
    let set = KeySet::new([
        VerifyingKey::hmac(Algorithm::HS256, HMAC_SECRET)
            .expect("hmac key")
            .with_kid("hs"),
        VerifyingKey::from_jwk(&jwk.to_string()).expect("ed25519 jwk"),
    ])
    .expect("key set");
    HarnessKeys {
        hs256: SigningKey::hmac(Algorithm::HS256, HMAC_SECRET)
            .expect("hmac key")
            .with_kid("hs"),
        ed25519: SigningKey::from_ed_pem(pem)
            .expect("ed25519 pem")
            .with_kid("ed"),
        ed25519_public,
        set,
    }
});

/// A validator over `keys` with every rule on: issuer, audience, `exp`
/// required, the harness's leeway.
pub fn strict_validator(keys: KeySet) -> Validator {
    Validator::builder()
        .keys(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .require_exp(true)
        .leeway(Duration::from_secs(LEEWAY_SECS))
        .build()
        .expect("harness validator")
}

/// `data` split at its first newline: two documents in one input (a key set
/// and a token, an issuer and its metadata). `None` without a newline.
pub fn split_line(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = data.iter().position(|&b| b == b'\n')?;
    Some((&data[..at], &data[at + 1..]))
}
