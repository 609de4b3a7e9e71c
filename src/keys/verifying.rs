//! [`VerifyingKey`]: a public key or shared secret that verifies signatures.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{DecodingKey, DecodingKeyKind};

use crate::crypto::{Verifier, es512, provider};
use crate::error::{ConfigError, ConfigErrorKind};

use super::check::{
    check_hmac_secret, check_rsa_modulus, expect_family, invalid_key, pem_der,
    public_point_is_valid,
};
use super::{Algorithm, KeyFamily};

/// A verification key, bound to one algorithm and optionally named by a `kid`.
///
/// Its [`Debug`](fmt::Debug) output never shows key material.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(super) alg: Algorithm,
    pub(super) kid: Option<Arc<str>>,
    verifier: Arc<Verifier>,
}

/// The DER prefix of a P-521 public key's SubjectPublicKeyInfo (RFC 5480):
/// id-ecPublicKey, secp521r1, then a 134-byte BIT STRING holding the point.
const P521_SPKI_PREFIX: [u8; 25] = [
    0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
    0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00,
];

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// An HMAC key (`HS256`, `HS384` or `HS512`) from a raw secret.
    ///
    /// Refuses secrets under [`MIN_HMAC_SECRET_LEN`](super::MIN_HMAC_SECRET_LEN) bytes.
    pub fn hmac(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Hmac)?;
        let secret = secret.as_ref();
        check_hmac_secret(secret)?;
        Self::prepared(alg, &DecodingKey::from_secret(secret))
    }

    /// An RSA key (`RS*` or `PS*`) from a PEM public key (`PUBLIC KEY` or
    /// `RSA PUBLIC KEY`). Refuses moduli under [`MIN_RSA_BITS`](super::MIN_RSA_BITS) bits.
    pub fn from_rsa_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Rsa)?;
        let key = DecodingKey::from_rsa_pem(pem.as_ref()).map_err(|e| invalid_key("RSA PEM", e))?;
        Self::checked(alg, key)
    }

    /// An EC key (`ES256` on P-256 or `ES384` on P-384) from a PEM public key.
    /// The curve must match the algorithm.
    pub fn from_ec_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Ec)?;
        if alg == Algorithm::ES512 {
            let der = pem_der(pem.as_ref(), "PUBLIC KEY")?;
            let point = der.strip_prefix(&P521_SPKI_PREFIX[..]).ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::InvalidKey,
                    "the PEM is not a P-521 public key (SubjectPublicKeyInfo)",
                )
            })?;
            return Self::es512(point);
        }
        let key = DecodingKey::from_ec_pem(pem.as_ref()).map_err(|e| invalid_key("EC PEM", e))?;
        Self::checked(alg, key)
    }

    /// An Ed25519 key (`EdDSA`) from a PEM public key.
    pub fn from_ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let key =
            DecodingKey::from_ed_pem(pem.as_ref()).map_err(|e| invalid_key("Ed25519 PEM", e))?;
        Self::checked(Algorithm::EdDSA, key)
    }

    /// Names this key; tokens select it with their `kid` header.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key's id, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Checks `signature` over `message` with this key's algorithm, with
    /// the key prepared when it was built (see [`Verifier`]).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(message, signature)
    }

    /// The key prepared for `alg`; the backend refuses material it cannot use
    /// now rather than per request.
    fn prepared(alg: Algorithm, material: &DecodingKey) -> Result<Self, ConfigError> {
        let Some(jws_alg) = alg.to_jsonwebtoken() else {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidKey,
                format!("{alg} keys are made from their point"),
            ));
        };
        let verifier =
            Verifier::new(jws_alg, material).map_err(|e| invalid_key(alg.as_str(), e))?;
        Ok(Self {
            alg,
            kid: None,
            verifier: Arc::new(verifier),
        })
    }

    /// An ES512 key from its uncompressed point, checked on the curve.
    pub(super) fn es512(point: &[u8]) -> Result<Self, ConfigError> {
        // The backend checks the point on the curve as it prepares it.
        let verifier = (point.len() == es512::POINT_LEN && point.first() == Some(&0x04))
            .then(|| Verifier::es512(point))
            .flatten()
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::InvalidKey,
                    "the EC key is not an uncompressed point on the curve of ES512",
                )
            })?;
        Ok(Self {
            alg: Algorithm::ES512,
            kid: None,
            verifier: Arc::new(verifier),
        })
    }

    /// Checks strength and the key/algorithm match, then builds the key.
    pub(super) fn checked(alg: Algorithm, material: DecodingKey) -> Result<Self, ConfigError> {
        match alg.family() {
            KeyFamily::Hmac => {
                let secret = material
                    .try_get_as_bytes()
                    .map_err(|e| invalid_key("HMAC", e))?;
                check_hmac_secret(secret)?;
            }
            KeyFamily::Rsa => check_rsa_modulus(&rsa_modulus(&material)?)?,
            KeyFamily::Ec => {
                let point = material
                    .try_get_as_bytes()
                    .map_err(|e| invalid_key("EC", e))?;
                if Some(point.len()) != alg.ec_point_len()
                    || point.first() != Some(&0x04)
                    || !public_point_is_valid(alg, point)
                {
                    return Err(ConfigError::new(
                        ConfigErrorKind::InvalidKey,
                        format!("the EC key is not an uncompressed point on the curve of {alg}"),
                    ));
                }
            }
            KeyFamily::Ed => {
                let point = material
                    .try_get_as_bytes()
                    .map_err(|e| invalid_key("Ed25519", e))?;
                if point.len() != 32 || !public_point_is_valid(alg, point) {
                    return Err(ConfigError::new(
                        ConfigErrorKind::InvalidKey,
                        "the Ed25519 public key is not a 32-byte point of the curve outside its small subgroup",
                    ));
                }
            }
        }
        Self::prepared(alg, &material)
    }
}

fn rsa_modulus(material: &DecodingKey) -> Result<Vec<u8>, ConfigError> {
    match material.kind() {
        DecodingKeyKind::RsaModulusExponent { n, .. } => Ok(n.clone()),
        DecodingKeyKind::SecretOrDer(der) => {
            (provider().key_utils.rsa_pub_components_from_public_key)(der)
                .map(|(n, _)| n)
                .map_err(|e| invalid_key("RSA", e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_key_refuses_a_non_hmac_algorithm() {
        let err = VerifyingKey::hmac(Algorithm::RS256, SECRET).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::AlgorithmMismatch);
    }
}
