//! Checks of key material shared by verifying and signing keys: strength,
//! the key's fit to its algorithm, and public points on their curve.

use crate::error::{ConfigError, ConfigErrorKind};

use super::{Algorithm, KeyFamily};

/// The smallest HMAC secret accepted, in bytes (RFC 7518 §3.2 asks for at
/// least the hash size; 32 bytes is that for HS256 and a floor for all).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;

/// Whether an EC or Ed25519 public key is a valid point of its curve.
///
/// The crypto providers only parse public keys when verifying, and then any
/// failure reads as a bad signature: a mistyped key would refuse every
/// token instead of stopping the service at start-up.
#[cfg(feature = "aws_lc_rs")]
pub(super) fn public_point_is_valid(alg: Algorithm, point: &[u8]) -> bool {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ParsedPublicKey, VerificationAlgorithm,
    };
    let algorithm: &'static dyn VerificationAlgorithm = match alg {
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => return crate::crypto::es512::point_is_valid(point),
        Algorithm::EdDSA => return ed25519_point_is_valid(point),
        _ => return false,
    };
    ParsedPublicKey::new(algorithm, point).is_ok()
}

/// An Ed25519 public key decompresses to a curve point that is not of small
/// order (a small-order key lets forged signatures verify on lax verifiers).
/// Checked here for both backends: aws-lc-rs imports any 32 bytes.
fn ed25519_point_is_valid(point: &[u8]) -> bool {
    <[u8; 32]>::try_from(point).is_ok_and(|bytes| {
        curve25519_dalek::edwards::CompressedEdwardsY(bytes)
            .decompress()
            .is_some_and(|point| !point.is_small_order())
    })
}

/// See the aws-lc-rs version above.
#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
pub(super) fn public_point_is_valid(alg: Algorithm, point: &[u8]) -> bool {
    match alg {
        Algorithm::ES256 => p256::PublicKey::from_sec1_bytes(point).is_ok(),
        Algorithm::ES384 => p384::PublicKey::from_sec1_bytes(point).is_ok(),
        Algorithm::ES512 => crate::crypto::es512::point_is_valid(point),
        Algorithm::EdDSA => ed25519_point_is_valid(point),
        _ => false,
    }
}

pub(super) fn expect_family(alg: Algorithm, family: KeyFamily) -> Result<(), ConfigError> {
    if alg.family() == family {
        Ok(())
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::AlgorithmMismatch,
            format!("{alg} needs a {:?} key", alg.family()),
        ))
    }
}

pub(super) fn check_hmac_secret(secret: &[u8]) -> Result<(), ConfigError> {
    if secret.len() < MIN_HMAC_SECRET_LEN {
        return Err(ConfigError::new(
            ConfigErrorKind::WeakKey,
            format!(
                "the HMAC secret is {} bytes; it must be at least {MIN_HMAC_SECRET_LEN} bytes",
                secret.len()
            ),
        ));
    }
    Ok(())
}

pub(super) fn check_rsa_modulus(n: &[u8]) -> Result<(), ConfigError> {
    let n = match n.iter().position(|&b| b != 0) {
        Some(first) => &n[first..],
        None => &[][..],
    };
    let bits = n.len() * 8 - n.first().map_or(0, |b| b.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err(ConfigError::new(
            ConfigErrorKind::WeakKey,
            format!("the RSA key is {bits} bits; it must be at least {MIN_RSA_BITS} bits"),
        ));
    }
    Ok(())
}

/// The DER inside a PEM document labelled `label` (RFC 7468): for the keys
/// `jsonwebtoken` cannot read (P-521).
pub(super) fn pem_der(pem: &[u8], label: &str) -> Result<Vec<u8>, ConfigError> {
    use base64::Engine as _;

    let invalid = || {
        ConfigError::new(
            ConfigErrorKind::InvalidKey,
            format!("the key is not a PEM `{label}`"),
        )
    };
    let text = std::str::from_utf8(pem).map_err(|_| invalid())?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .ok_or_else(invalid)?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| invalid())
}

pub(super) fn invalid_key(what: &str, source: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::with_source(
        ConfigErrorKind::InvalidKey,
        format!("invalid {what} key"),
        source,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{SigningKey, VerifyingKey};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_secret_under_32_bytes_is_refused() {
        let err = VerifyingKey::hmac(Algorithm::HS256, &SECRET[..31]).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::WeakKey);
        assert!(VerifyingKey::hmac(Algorithm::HS256, SECRET).is_ok());
        assert_eq!(
            SigningKey::hmac(Algorithm::HS256, &SECRET[..31])
                .unwrap_err()
                .kind(),
            ConfigErrorKind::WeakKey
        );
    }

    #[test]
    fn rsa_modulus_bits_are_counted_without_leading_zeros() {
        let mut n = vec![0u8; 1];
        n.extend(std::iter::repeat_n(0xff, 256));
        assert!(check_rsa_modulus(&n).is_ok());
        let mut short = vec![0x7f];
        short.extend(std::iter::repeat_n(0xff, 255));
        assert_eq!(
            check_rsa_modulus(&short).unwrap_err().kind(),
            ConfigErrorKind::WeakKey
        );
    }
}
