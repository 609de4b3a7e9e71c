//! [`SigningKey`]: the private half that mints tokens.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;

use crate::crypto::{es512, provider};
use crate::error::{ConfigError, ConfigErrorKind};

use super::check::{check_hmac_secret, check_rsa_modulus, expect_family, invalid_key, pem_der};
use super::jwk::jwk_thumbprint;
use super::{Algorithm, KeyFamily, VerifyingKey};

/// A signing key: the private half used to mint tokens.
///
/// Used by this crate's tests and examples, and by services that issue their
/// own tokens. Like [`VerifyingKey`], it is bound to one algorithm and refuses weak
/// material when built. Its `Debug` output never shows key material.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<Arc<str>>,
    material: Arc<Material>,
}

/// What signs: `jsonwebtoken`'s key, or a P-521 key for ES512, which it
/// lacks.
enum Material {
    Jws(EncodingKey),
    Es512(es512::PrivateKey),
}

impl Material {
    /// The key bytes `jsonwebtoken` keeps (an HMAC secret, a DER key).
    fn jws_bytes(&self) -> &[u8] {
        match self {
            Self::Jws(key) => key.as_bytes(),
            Self::Es512(_) => &[],
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An HMAC signing key. Refuses secrets under
    /// [`MIN_HMAC_SECRET_LEN`](super::MIN_HMAC_SECRET_LEN) bytes.
    pub fn hmac(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Hmac)?;
        check_hmac_secret(secret.as_ref())?;
        Ok(Self::from_parts(
            alg,
            EncodingKey::from_secret(secret.as_ref()),
        ))
    }

    /// An RSA signing key (`RS*`, `PS*`) from a PEM private key.
    pub fn from_rsa_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Rsa)?;
        let material =
            EncodingKey::from_rsa_pem(pem.as_ref()).map_err(|e| invalid_key("RSA PEM", e))?;
        let (n, _) =
            (provider().key_utils.rsa_pub_components_from_private_key)(material.as_bytes())
                .map_err(|e| invalid_key("RSA", e))?;
        check_rsa_modulus(&n)?;
        Self::checked(alg, material)
    }

    /// An EC signing key (`ES256`, `ES384`, `ES512`) from a PKCS#8 PEM private key.
    pub fn from_ec_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Ec)?;
        if alg == Algorithm::ES512 {
            let der = pem_der(pem.as_ref(), "PRIVATE KEY")?;
            let key = es512::PrivateKey::from_pkcs8(&der).ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::InvalidKey,
                    "the PEM is not a P-521 private key (PKCS#8)",
                )
            })?;
            return Ok(Self {
                alg,
                kid: None,
                material: Arc::new(Material::Es512(key)),
            });
        }
        let material =
            EncodingKey::from_ec_pem(pem.as_ref()).map_err(|e| invalid_key("EC PEM", e))?;
        Self::checked(alg, material)
    }

    /// An Ed25519 signing key (`EdDSA`) from a PKCS#8 PEM private key.
    pub fn from_ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let material =
            EncodingKey::from_ed_pem(pem.as_ref()).map_err(|e| invalid_key("Ed25519 PEM", e))?;
        Self::checked(Algorithm::EdDSA, material)
    }

    /// Names this key; tokens it signs carry this `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key's id, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Signs `claims` as a compact JWT with the header
    /// `{"alg": …, "typ": typ, "kid": …}` (`kid` only when the key has one).
    pub fn sign<C: serde::Serialize + ?Sized>(
        &self,
        typ: &str,
        claims: &C,
    ) -> Result<String, ConfigError> {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), self.alg.as_str().into());
        header.insert("typ".into(), typ.into());
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.as_ref().into());
        }
        let header = serde_json::to_vec(&header).expect("a JSON map serializes");
        let payload = serde_json::to_vec(claims).map_err(|e| {
            ConfigError::with_source(ConfigErrorKind::InvalidClaims, "claims do not serialize", e)
        })?;
        self.sign_jws(&header, &payload)
    }

    /// Signs raw header and payload bytes as a compact JWS, exactly as given.
    ///
    /// The header is not checked: this is the low-level entry point, for
    /// custom headers and for tests that need odd but validly signed tokens.
    pub fn sign_jws(&self, header: &[u8], payload: &[u8]) -> Result<String, ConfigError> {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = match (&*self.material, self.alg.to_jsonwebtoken()) {
            (Material::Jws(key), Some(alg)) => {
                let signer = (provider().signer_factory)(&alg, key)
                    .map_err(|e| invalid_key(self.alg.as_str(), e))?;
                signer.try_sign(token.as_bytes()).map_err(|e| {
                    ConfigError::with_source(ConfigErrorKind::InvalidKey, "signing failed", e)
                })?
            }
            (Material::Es512(key), None) => key
                .sign(token.as_bytes())
                .ok_or_else(|| ConfigError::new(ConfigErrorKind::InvalidKey, "signing failed"))?,
            _ => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidKey,
                    "the key's material does not fit its algorithm",
                ));
            }
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// The public half as a JWK (RFC 7517), with `kid`, `alg` and
    /// `"use": "sig"`: what a JWKS document publishes for other services.
    ///
    /// `None` for an HMAC key, whose secret must never be published.
    ///
    /// ```
    /// # use jwt_guard::{Algorithm, SigningKey};
    /// let hmac = SigningKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?;
    /// assert!(hmac.public_jwk().is_none());
    /// # Ok::<(), jwt_guard::ConfigError>(())
    /// ```
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        let mut jwk = self.public_members().ok()??;
        if let Some(object) = jwk.as_object_mut() {
            object.insert("alg".into(), self.alg.as_str().into());
            object.insert("use".into(), "sig".into());
            if let Some(kid) = &self.kid {
                object.insert("kid".into(), kid.as_ref().into());
            }
        }
        Some(jwk)
    }

    /// The key that verifies this key's signatures: the public key, or for
    /// HMAC the same secret. Carries the same `kid`.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ConfigError> {
        let key = match self.public_members()? {
            None => VerifyingKey::hmac(self.alg, self.material.jws_bytes())?,
            Some(jwk) => VerifyingKey::from_jwk_with_alg(&jwk.to_string(), self.alg)?,
        };
        Ok(match &self.kid {
            Some(kid) => key.with_kid(kid.as_ref()),
            None => key,
        })
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): a stable `kid` for
    /// this key that gives nothing away. For an HMAC key it is computed over
    /// the secret (as RFC 7638 defines for `oct` keys), so it reveals a hash
    /// of it; use it only with secrets of full strength, as this crate
    /// requires anyway.
    pub fn thumbprint(&self) -> Result<String, ConfigError> {
        let jwk = match self.public_members()? {
            None => serde_json::json!({
                "kty": "oct",
                "k": URL_SAFE_NO_PAD.encode(self.material.jws_bytes()),
            }),
            Some(jwk) => jwk,
        };
        jwk.as_object()
            .and_then(jwk_thumbprint)
            .ok_or_else(|| ConfigError::new(ConfigErrorKind::InvalidKey, "no thumbprint"))
    }

    /// The public key's members (`kty`, `crv`, `x`, `y`, `n`, `e`); `None` for HMAC.
    fn public_members(&self) -> Result<Option<serde_json::Value>, ConfigError> {
        let utils = &provider().key_utils;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let der = match &*self.material {
            Material::Jws(key) => key.as_bytes(),
            Material::Es512(key) => {
                let point = key.public_point();
                let (x, y) = point[1..].split_at(point.len() / 2);
                return Ok(Some(
                    serde_json::json!({ "kty": "EC", "crv": "P-521", "x": b64(x), "y": b64(y) }),
                ));
            }
        };
        Ok(Some(match self.alg.family() {
            KeyFamily::Hmac => return Ok(None),
            KeyFamily::Rsa => {
                let (n, e) = (utils.rsa_pub_components_from_private_key)(der)
                    .map_err(|e| invalid_key("RSA", e))?;
                serde_json::json!({ "kty": "RSA", "n": b64(&n), "e": b64(&e) })
            }
            KeyFamily::Ec => {
                let alg = self.alg.to_jsonwebtoken().ok_or_else(|| {
                    ConfigError::new(ConfigErrorKind::InvalidKey, "an EC key without its curve")
                })?;
                let (_, x, y) = (utils.ec_pub_components_from_private_key)(der, alg)
                    .map_err(|e| invalid_key("EC", e))?;
                let crv = if self.alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                serde_json::json!({ "kty": "EC", "crv": crv, "x": b64(&x), "y": b64(&y) })
            }
            KeyFamily::Ed => {
                let x = (utils.ed_pub_components_from_private_key)(
                    der,
                    &jsonwebtoken::jwk::EllipticCurve::Ed25519,
                )
                .map_err(|e| invalid_key("Ed25519", e))?;
                serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&x) })
            }
        }))
    }

    fn from_parts(alg: Algorithm, material: EncodingKey) -> Self {
        Self {
            alg,
            kid: None,
            material: Arc::new(Material::Jws(material)),
        }
    }

    fn checked(alg: Algorithm, material: EncodingKey) -> Result<Self, ConfigError> {
        let jws_alg = alg.to_jsonwebtoken().ok_or_else(|| {
            ConfigError::new(
                ConfigErrorKind::InvalidKey,
                format!("{alg} keys are read apart"),
            )
        })?;
        (provider().signer_factory)(&jws_alg, &material)
            .map_err(|e| invalid_key(alg.as_str(), e))?;
        Ok(Self::from_parts(alg, material))
    }
}
