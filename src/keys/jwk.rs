//! JWK and JWKS documents (RFC 7517): [`VerifyingKey::from_jwk`] and
//! [`KeySet::from_jwks`], strict, and the lenient reader a remote JWKS uses.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::error::{ConfigError, ConfigErrorKind};

use super::{Algorithm, KeyFamily, KeySet, VerifyingKey};

impl VerifyingKey {
    /// A key from one JWK (RFC 7517) as JSON.
    ///
    /// The JWK's `alg` decides the algorithm. Without `alg`, EC and OKP keys
    /// take the algorithm of their curve, and RSA and `oct` keys are refused
    /// (use [`VerifyingKey::from_jwk_with_alg`]). A `use` other than `sig`, or
    /// `key_ops` without `verify`, is refused: such a key is not meant to
    /// verify signatures.
    pub fn from_jwk(json: &str) -> Result<Self, ConfigError> {
        read_jwk(json, None)
    }

    /// As [`VerifyingKey::from_jwk`], for a JWK that may lack `alg`; `alg` is then used.
    /// When the JWK has an `alg`, it must equal `alg`.
    pub fn from_jwk_with_alg(json: &str, alg: Algorithm) -> Result<Self, ConfigError> {
        read_jwk(json, Some(alg))
    }
}

impl KeySet {
    /// A set from a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys that cannot verify signatures (`use` other than `sig`, `key_ops`
    /// without `verify`, key types or curves this crate does not support, or
    /// `oct` keys without `alg`) are skipped, as an identity provider's
    /// JWKS often lists encryption keys too. A usable-looking key that is
    /// malformed or weak is an error. A set left empty is an error.
    ///
    /// `alg` is optional in a JWK (RFC 7517 §4.4), and providers often leave
    /// it out. Without it, EC and OKP keys take the algorithm their curve
    /// fixes (`P-256` ES256, `P-384` ES384, `P-521` ES512, `Ed25519` EdDSA), and RSA keys
    /// are read as RS256 keys: a token signed with another RSA algorithm
    /// (PS256, RS512) is then refused. For a provider whose RSA keys sign
    /// with another algorithm, use [`from_jwks_with_rsa`](Self::from_jwks_with_rsa).
    pub fn from_jwks(json: &str) -> Result<Self, ConfigError> {
        Self::from_jwks_with_rsa(json, Algorithm::RS256)
    }

    /// As [`from_jwks`](Self::from_jwks), with RSA keys without `alg` read
    /// as keys for `rsa` (one RSA algorithm: never PS and RS both for one
    /// key).
    ///
    /// # Errors
    ///
    /// As [`from_jwks`](Self::from_jwks), and `AlgorithmMismatch` when
    /// `rsa` is not an RSA algorithm.
    pub fn from_jwks_with_rsa(json: &str, rsa: Algorithm) -> Result<Self, ConfigError> {
        let defaults = AlgDefaults::new(rsa)?;
        let keys = signing_jwks(json, defaults)?
            .map(|jwk| jwk.into_key(None, defaults))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// A set from an identity provider's JWKS, read leniently: a key that
    /// cannot be used (malformed, weak, an `alg` its key does not fit) is
    /// skipped with a warning instead of failing the document, and keys
    /// sharing a `kid` are all dropped. One odd key must not freeze a remote
    /// set on its old keys. A set left empty is an error.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(super) fn from_jwks_lenient(json: &str, rsa: Algorithm) -> Result<Self, ConfigError> {
        let defaults = AlgDefaults::new(rsa)?;
        let mut keys = Vec::new();
        for jwk in signing_jwks(json, defaults)? {
            let kid = jwk.kid.clone();
            match jwk.into_key(None, defaults) {
                Ok(key) => keys.push(key),
                Err(error) => {
                    tracing::warn!(kid = kid.as_deref(), %error, "skipping an unusable JWKS key");
                }
            }
        }
        let mut seen: HashMap<Arc<str>, usize> = HashMap::new();
        for key in &keys {
            if let Some(kid) = &key.kid {
                *seen.entry(kid.clone()).or_default() += 1;
            }
        }
        keys.retain(|key| match &key.kid {
            Some(kid) if seen[kid] > 1 => {
                tracing::warn!(kid = %kid, "dropping JWKS keys that share a kid");
                false
            }
            _ => true,
        });
        Self::new(keys)
    }
}

/// What a JWK without `alg` is read as, beyond what its curve fixes: RSA
/// keys of a JWKS as keys for one RSA algorithm, or (for a lone JWK) not at
/// all.
#[derive(Debug, Clone, Copy)]
struct AlgDefaults {
    rsa: Option<Algorithm>,
}

impl AlgDefaults {
    /// For a lone JWK: only what the key itself fixes.
    const NONE: Self = Self { rsa: None };

    fn new(rsa: Algorithm) -> Result<Self, ConfigError> {
        if rsa.family() != KeyFamily::Rsa {
            return Err(ConfigError::new(
                ConfigErrorKind::AlgorithmMismatch,
                format!(
                    "{rsa} is not an RSA algorithm: it cannot be what RSA keys without `alg` verify"
                ),
            ));
        }
        Ok(Self { rsa: Some(rsa) })
    }
}

/// A key for `alg` from a JWK already read as JSON (a DPoP proof's `jwk`
/// header), as [`VerifyingKey::from_jwk_with_alg`] reads its text.
pub(crate) fn verifying_key_from_jwk(
    jwk: &serde_json::Value,
    alg: Algorithm,
) -> Result<VerifyingKey, ConfigError> {
    let jwk = Jwk::deserialize(jwk)
        .map_err(|e| ConfigError::with_source(ConfigErrorKind::InvalidKey, "malformed JWK", e))?;
    jwk.into_key(Some(alg), AlgDefaults::NONE)
}

fn read_jwk(json: &str, default_alg: Option<Algorithm>) -> Result<VerifyingKey, ConfigError> {
    let jwk: Jwk = serde_json::from_str(json)
        .map_err(|e| ConfigError::with_source(ConfigErrorKind::InvalidKey, "malformed JWK", e))?;
    jwk.into_key(default_alg, AlgDefaults::NONE)
}

/// The keys of a JWKS document that can verify signatures; the others
/// (encryption keys, unsupported types) are skipped.
fn signing_jwks(
    json: &str,
    defaults: AlgDefaults,
) -> Result<impl Iterator<Item = Jwk>, ConfigError> {
    let jwks: Jwks = serde_json::from_str(json)
        .map_err(|e| ConfigError::with_source(ConfigErrorKind::InvalidKey, "malformed JWKS", e))?;
    Ok(jwks
        .keys
        .into_iter()
        .filter(move |jwk| match jwk.unusable_reason(None, defaults) {
            Some(reason) => {
                tracing::debug!(kid = jwk.kid.as_deref(), reason, "skipping JWKS key");
                false
            }
            None => true,
        }))
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// The members of a JWK this crate reads. Private parameters (`d`, `p`, …)
/// are ignored: only the public part is ever used to verify.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    k: Option<String>,
}

impl Jwk {
    /// Why this JWK cannot be a verification key, if it cannot.
    fn unusable_reason(
        &self,
        default_alg: Option<Algorithm>,
        defaults: AlgDefaults,
    ) -> Option<&'static str> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Some("its `use` is not `sig`");
        }
        if self
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Some("its `key_ops` do not include `verify`");
        }
        self.algorithm(default_alg, defaults).err()
    }

    fn algorithm(
        &self,
        default_alg: Option<Algorithm>,
        defaults: AlgDefaults,
    ) -> Result<Algorithm, &'static str> {
        if let Some(name) = &self.alg {
            let alg = Algorithm::from_name(name).ok_or("its `alg` is not supported")?;
            if default_alg.is_some_and(|d| d != alg) {
                return Err("its `alg` differs from the algorithm asked for");
            }
            return Ok(alg);
        }
        if let Some(alg) = default_alg {
            return Ok(alg);
        }
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => Ok(Algorithm::ES256),
            ("EC", Some("P-384")) => Ok(Algorithm::ES384),
            ("EC", Some("P-521")) => Ok(Algorithm::ES512),
            ("OKP", Some("Ed25519")) => Ok(Algorithm::EdDSA),
            ("EC" | "OKP", _) => Err("its curve is not supported"),
            ("RSA", _) => defaults
                .rsa
                .ok_or("it has no `alg`, and its type fits several algorithms"),
            ("oct", _) => Err("it has no `alg`, and its type fits several algorithms"),
            _ => Err("its key type is not supported"),
        }
    }

    fn into_key(
        self,
        default_alg: Option<Algorithm>,
        defaults: AlgDefaults,
    ) -> Result<VerifyingKey, ConfigError> {
        if let Some(reason) = self.unusable_reason(default_alg, defaults) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidKey,
                format!("the JWK cannot verify signatures: {reason}"),
            ));
        }
        let alg = self
            .algorithm(default_alg, defaults)
            .expect("checked by unusable_reason");
        let expected_kty = match alg.family() {
            KeyFamily::Hmac => "oct",
            KeyFamily::Rsa => "RSA",
            KeyFamily::Ec => "EC",
            KeyFamily::Ed => "OKP",
        };
        if self.kty != expected_kty {
            return Err(ConfigError::new(
                ConfigErrorKind::AlgorithmMismatch,
                format!("a JWK for {alg} must have kty `{expected_kty}`"),
            ));
        }
        let expected_crv = match alg {
            Algorithm::ES256 => Some("P-256"),
            Algorithm::ES384 => Some("P-384"),
            Algorithm::ES512 => Some("P-521"),
            Algorithm::EdDSA => Some("Ed25519"),
            _ => None,
        };
        if expected_crv.is_some() && self.crv.as_deref() != expected_crv {
            return Err(ConfigError::new(
                ConfigErrorKind::AlgorithmMismatch,
                format!(
                    "a JWK for {alg} must have crv `{}`",
                    expected_crv.unwrap_or("")
                ),
            ));
        }
        let material = match alg.family() {
            KeyFamily::Hmac => DecodingKey::from_secret(&decode_member("k", self.k.as_deref())?),
            KeyFamily::Rsa => {
                let n = decode_member("n", self.n.as_deref())?;
                let e = decode_member("e", self.e.as_deref())?;
                DecodingKey::from_rsa_raw_components(&n, &e)
            }
            KeyFamily::Ec => {
                let x = decode_member("x", self.x.as_deref())?;
                let y = decode_member("y", self.y.as_deref())?;
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if alg == Algorithm::ES512 {
                    let key = VerifyingKey::es512(&point)?;
                    return Ok(match self.kid {
                        Some(kid) => key.with_kid(kid),
                        None => key,
                    });
                }
                DecodingKey::from_ec_der(&point)
            }
            KeyFamily::Ed => DecodingKey::from_ed_der(&decode_member("x", self.x.as_deref())?),
        };
        let key = VerifyingKey::checked(alg, material)?;
        Ok(match self.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }
}

/// The RFC 7638 thumbprint of a JWK, a JSON object: the SHA-256 of its
/// required members (`crv`, `kty`, `x`, `y` for EC; `crv`, `kty`, `x` for
/// OKP; `e`, `kty`, `n` for RSA; `k`, `kty` for `oct`), strings all, in
/// lexicographic order without whitespace, base64url. `None` for an
/// unknown key type or a required member missing or not a string.
pub(crate) fn jwk_thumbprint(jwk: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let required: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        "oct" => &["k", "kty"],
        _ => return None,
    };
    // A BTreeMap serializes its members sorted, without whitespace, each
    // string escaped as JSON requires.
    let mut canonical = std::collections::BTreeMap::new();
    for &name in required {
        canonical.insert(name, jwk.get(name)?.as_str()?);
    }
    let canonical = serde_json::to_string(&canonical).ok()?;
    crate::crypto::sha256_b64url(canonical.as_bytes()).ok()
}

fn decode_member(name: &str, value: Option<&str>) -> Result<Vec<u8>, ConfigError> {
    let value = value.ok_or_else(|| {
        ConfigError::new(
            ConfigErrorKind::InvalidKey,
            format!("the JWK lacks `{name}`"),
        )
    })?;
    URL_SAFE_NO_PAD.decode(value).map_err(|e| {
        ConfigError::with_source(
            ConfigErrorKind::InvalidKey,
            format!("the JWK's `{name}` is not base64url"),
            e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn jwk_with_encryption_use_or_without_verify_op_is_refused() {
        let k = URL_SAFE_NO_PAD.encode(SECRET);
        let enc = format!(r#"{{"kty":"oct","alg":"HS256","use":"enc","k":"{k}"}}"#);
        assert_eq!(
            VerifyingKey::from_jwk(&enc).unwrap_err().kind(),
            ConfigErrorKind::InvalidKey
        );
        let ops = format!(r#"{{"kty":"oct","alg":"HS256","key_ops":["sign"],"k":"{k}"}}"#);
        assert!(VerifyingKey::from_jwk(&ops).is_err());
        let ok =
            format!(r#"{{"kty":"oct","alg":"HS256","key_ops":["verify"],"k":"{k}","kid":"x"}}"#);
        assert_eq!(VerifyingKey::from_jwk(&ok).unwrap().kid(), Some("x"));
    }

    #[test]
    fn jwks_skips_encryption_keys_but_keeps_signing_keys() {
        let k = URL_SAFE_NO_PAD.encode(SECRET);
        let jwks = format!(
            r#"{{"keys":[{{"kty":"oct","alg":"HS256","use":"enc","k":"{k}","kid":"e"}},
                        {{"kty":"oct","alg":"HS256","use":"sig","k":"{k}","kid":"s"}}]}}"#
        );
        let set = KeySet::from_jwks(&jwks).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("s").is_some());
        assert!(set.get("e").is_none());
    }
}
