//! Verification keys: algorithms, single keys, key sets and JWK/JWKS loading.
//!
//! Every [`Key`] is bound to exactly one [`Algorithm`]. A token whose `alg`
//! header names another algorithm than its key's is refused, whatever the key
//! could technically verify: this is what stops algorithm-confusion attacks
//! (an RSA public key used as an HMAC secret, HS512 on a key meant for HS256).
//!
//! Keys come only from configuration: a secret, a PEM document, or a JWK/JWKS
//! document. The `jwk`, `jku`, `x5u` and `x5c` headers of a token are never
//! used to find or fetch a key.
//!
//! Weak keys are refused when the key is built, not on the first request:
//! an HMAC secret under 32 bytes and an RSA modulus under 2048 bits are
//! [`ConfigError`]s.
//!
//! ```
//! use jwt_guard::{Algorithm, Key, KeySet};
//!
//! let key = Key::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?.with_kid("2024-1");
//! let keys = KeySet::new([key])?;
//! assert_eq!(keys.len(), 1);
//!
//! // Too short: refused at build time, with a message that says why.
//! let err = Key::hmac(Algorithm::HS256, b"short").unwrap_err();
//! assert!(err.to_string().contains("at least 32 bytes"));
//! # Ok::<(), jwt_guard::ConfigError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{DecodingKey, DecodingKeyKind, EncodingKey};
use serde::Deserialize;

use crate::error::{ConfigError, ConfigErrorKind};

/// The smallest HMAC secret accepted, in bytes (RFC 7518 §3.2 asks for at
/// least the hash size; 32 bytes is that for HS256 and a floor for all).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!(
    "jwt-guard needs a crypto backend: enable the `aws_lc_rs` (default) or `rust_crypto` feature"
);

/// The crypto provider this crate uses, chosen by its features (aws-lc-rs wins
/// when both are on). It is never installed process-wide, so it cannot clash
/// with another crate's choice.
pub(crate) fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws_lc_rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
}

/// A JWS signature algorithm this crate supports.
///
/// `none` is not one of them and never will be. ES512 is not supported by the
/// underlying crypto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

/// The families of [`Algorithm`], which decide what kind of key material fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// A shared secret (HS*).
    Hmac,
    /// An RSA key (RS*, PS*).
    Rsa,
    /// An elliptic-curve key (ES*).
    Ec,
    /// An Edwards-curve key (EdDSA).
    Ed,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 12] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The name used in the `alg` header, e.g. `"HS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm with this exact (case-sensitive) `alg` name, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The kind of key this algorithm needs.
    pub const fn family(self) -> KeyFamily {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => KeyFamily::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 | Self::ES384 => KeyFamily::Ec,
            Self::EdDSA => KeyFamily::Ed,
        }
    }

    pub(crate) const fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
            Self::HS384 => jsonwebtoken::Algorithm::HS384,
            Self::HS512 => jsonwebtoken::Algorithm::HS512,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::RS384 => jsonwebtoken::Algorithm::RS384,
            Self::RS512 => jsonwebtoken::Algorithm::RS512,
            Self::PS256 => jsonwebtoken::Algorithm::PS256,
            Self::PS384 => jsonwebtoken::Algorithm::PS384,
            Self::PS512 => jsonwebtoken::Algorithm::PS512,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::ES384 => jsonwebtoken::Algorithm::ES384,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Length of an EC public point (uncompressed, with its 0x04 prefix).
    const fn ec_point_len(self) -> Option<usize> {
        match self {
            Self::ES256 => Some(65),
            Self::ES384 => Some(97),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| {
            ConfigError::new(
                ConfigErrorKind::UnsupportedAlgorithm,
                format!("unsupported algorithm `{s}`"),
            )
        })
    }
}

/// A verification key, bound to one algorithm and optionally named by a `kid`.
///
/// Its [`Debug`](fmt::Debug) output never shows key material.
#[derive(Clone)]
pub struct Key {
    alg: Algorithm,
    kid: Option<Arc<str>>,
    material: Arc<DecodingKey>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HMAC key (`HS256`, `HS384` or `HS512`) from a raw secret.
    ///
    /// Refuses secrets under [`MIN_HMAC_SECRET_LEN`] bytes.
    pub fn hmac(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Hmac)?;
        let secret = secret.as_ref();
        check_hmac_secret(secret)?;
        Ok(Self::from_parts(alg, DecodingKey::from_secret(secret)))
    }

    /// An RSA key (`RS*` or `PS*`) from a PEM public key (`PUBLIC KEY` or
    /// `RSA PUBLIC KEY`). Refuses moduli under [`MIN_RSA_BITS`] bits.
    pub fn from_rsa_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Rsa)?;
        let key = DecodingKey::from_rsa_pem(pem.as_ref()).map_err(|e| invalid_key("RSA PEM", e))?;
        Self::checked(alg, key)
    }

    /// An EC key (`ES256` on P-256 or `ES384` on P-384) from a PEM public key.
    /// The curve must match the algorithm.
    pub fn from_ec_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Ec)?;
        let key = DecodingKey::from_ec_pem(pem.as_ref()).map_err(|e| invalid_key("EC PEM", e))?;
        Self::checked(alg, key)
    }

    /// An Ed25519 key (`EdDSA`) from a PEM public key.
    pub fn from_ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let key =
            DecodingKey::from_ed_pem(pem.as_ref()).map_err(|e| invalid_key("Ed25519 PEM", e))?;
        Self::checked(Algorithm::EdDSA, key)
    }

    /// A key from one JWK (RFC 7517) as JSON.
    ///
    /// The JWK's `alg` decides the algorithm. Without `alg`, EC and OKP keys
    /// take the algorithm of their curve, and RSA and `oct` keys are refused
    /// (use [`Key::from_jwk_with_alg`]). A `use` other than `sig`, or
    /// `key_ops` without `verify`, is refused: such a key is not meant to
    /// verify signatures.
    pub fn from_jwk(json: &str) -> Result<Self, ConfigError> {
        let jwk: Jwk = serde_json::from_str(json).map_err(|e| {
            ConfigError::with_source(ConfigErrorKind::InvalidKey, "malformed JWK", e)
        })?;
        jwk.into_key(None)
    }

    /// As [`Key::from_jwk`], for a JWK that may lack `alg`; `alg` is then used.
    /// When the JWK has an `alg`, it must equal `alg`.
    pub fn from_jwk_with_alg(json: &str, alg: Algorithm) -> Result<Self, ConfigError> {
        let jwk: Jwk = serde_json::from_str(json).map_err(|e| {
            ConfigError::with_source(ConfigErrorKind::InvalidKey, "malformed JWK", e)
        })?;
        jwk.into_key(Some(alg))
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

    /// Checks `signature` over `message` with this key's algorithm.
    ///
    /// The verifier is made by `jsonwebtoken`'s crypto provider for every call:
    /// its verifier objects are not `Send`, so they cannot be kept in a shared
    /// key set. For HMAC this re-keys the MAC, which costs well under a
    /// microsecond; the layer's token cache keeps it off the hot path.
    pub(crate) fn verify(&self, message: &[u8], signature: &Vec<u8>) -> bool {
        match (provider().verifier_factory)(&self.alg.to_jsonwebtoken(), &self.material) {
            Ok(verifier) => verifier.verify(message, signature).is_ok(),
            Err(_) => false,
        }
    }

    fn from_parts(alg: Algorithm, material: DecodingKey) -> Self {
        Self {
            alg,
            kid: None,
            material: Arc::new(material),
        }
    }

    /// Checks strength and the key/algorithm match, then builds the key.
    fn checked(alg: Algorithm, material: DecodingKey) -> Result<Self, ConfigError> {
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
        // Let the provider refuse material it cannot use, now rather than per request.
        (provider().verifier_factory)(&alg.to_jsonwebtoken(), &material)
            .map_err(|e| invalid_key(alg.as_str(), e))?;
        Ok(Self::from_parts(alg, material))
    }
}

/// Whether an EC or Ed25519 public key is a valid point of its curve.
///
/// The crypto providers only parse public keys when verifying, and then any
/// failure reads as a bad signature: a mistyped key would refuse every
/// token instead of stopping the service at start-up.
#[cfg(feature = "aws_lc_rs")]
fn public_point_is_valid(alg: Algorithm, point: &[u8]) -> bool {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ParsedPublicKey, VerificationAlgorithm,
    };
    let algorithm: &'static dyn VerificationAlgorithm = match alg {
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED,
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
fn public_point_is_valid(alg: Algorithm, point: &[u8]) -> bool {
    match alg {
        Algorithm::ES256 => p256::PublicKey::from_sec1_bytes(point).is_ok(),
        Algorithm::ES384 => p384::PublicKey::from_sec1_bytes(point).is_ok(),
        Algorithm::EdDSA => ed25519_point_is_valid(point),
        _ => false,
    }
}

/// SHA-256, base64url without padding: thumbprints, derived token ids,
/// refresh-token hashes and throttle keys.
pub(crate) fn sha256_b64url(input: &[u8]) -> Result<String, jsonwebtoken::errors::Error> {
    let digest =
        (provider().key_utils.compute_digest)(input, jsonwebtoken::jwk::ThumbprintHash::SHA256)?;
    Ok(URL_SAFE_NO_PAD.encode(digest))
}

fn expect_family(alg: Algorithm, family: KeyFamily) -> Result<(), ConfigError> {
    if alg.family() == family {
        Ok(())
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::AlgorithmMismatch,
            format!("{alg} needs a {:?} key", alg.family()),
        ))
    }
}

fn check_hmac_secret(secret: &[u8]) -> Result<(), ConfigError> {
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

fn check_rsa_modulus(n: &[u8]) -> Result<(), ConfigError> {
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

fn invalid_key(what: &str, source: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::with_source(
        ConfigErrorKind::InvalidKey,
        format!("invalid {what} key"),
        source,
    )
}

/// The keys a validator trusts, found by `kid`.
///
/// Every `kid` is unique within a set. A token without `kid` is accepted only
/// when exactly one key in the set uses the token's algorithm; otherwise it
/// is refused as ambiguous rather than tried against every key.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Arc<[Key]>,
    by_kid: Arc<HashMap<Arc<str>, usize>>,
}

/// Why a key could not be found for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLookupError {
    /// The token's `kid` names no key in the set.
    UnknownKid,
    /// The key named by `kid` is bound to another algorithm.
    AlgorithmMismatch,
    /// No `kid`, and no key uses the token's algorithm.
    NoKeyForAlgorithm,
    /// No `kid`, and several keys use the token's algorithm.
    Ambiguous,
}

impl KeySet {
    /// A set of these keys. Refuses an empty set and duplicate `kid`s.
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Result<Self, ConfigError> {
        let keys: Arc<[Key]> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::NoKeys,
                "a key set needs at least one key",
            ));
        }
        let mut by_kid = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid
                && by_kid.insert(kid.clone(), index).is_some()
            {
                return Err(ConfigError::new(
                    ConfigErrorKind::DuplicateKid,
                    format!("two keys share the kid `{kid}`"),
                ));
            }
        }
        Ok(Self {
            keys,
            by_kid: Arc::new(by_kid),
        })
    }

    /// A set from a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys that cannot verify signatures (`use` other than `sig`, `key_ops`
    /// without `verify`, key types or curves this crate does not support, or
    /// RSA/`oct` keys without `alg`) are skipped, as an identity provider's
    /// JWKS often lists encryption keys too. A usable-looking key that is
    /// malformed or weak is an error. A set left empty is an error.
    pub fn from_jwks(json: &str) -> Result<Self, ConfigError> {
        let keys = signing_jwks(json)?
            .map(|jwk| jwk.into_key(None))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// A set from an identity provider's JWKS, read leniently: a key that
    /// cannot be used (malformed, weak, an `alg` its key does not fit) is
    /// skipped with a warning instead of failing the document, and keys
    /// sharing a `kid` are all dropped. One odd key must not freeze a remote
    /// set on its old keys. A set left empty is an error.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn from_jwks_lenient(json: &str) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        for jwk in signing_jwks(json)? {
            let kid = jwk.kid.clone();
            match jwk.into_key(None) {
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

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty (never true for a built set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The key named `kid`, if any.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid).map(|&index| &self.keys[index])
    }

    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Key, KeyLookupError> {
        match kid {
            Some(kid) => {
                let key = self.get(kid).ok_or(KeyLookupError::UnknownKid)?;
                if key.alg == alg {
                    Ok(key)
                } else {
                    Err(KeyLookupError::AlgorithmMismatch)
                }
            }
            None => {
                let mut candidates = self.keys.iter().filter(|key| key.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(KeyLookupError::NoKeyForAlgorithm),
                    (Some(_), Some(_)) => Err(KeyLookupError::Ambiguous),
                }
            }
        }
    }
}

/// The keys of a JWKS document that can verify signatures; the others
/// (encryption keys, unsupported types) are skipped.
fn signing_jwks(json: &str) -> Result<impl Iterator<Item = Jwk>, ConfigError> {
    let jwks: Jwks = serde_json::from_str(json)
        .map_err(|e| ConfigError::with_source(ConfigErrorKind::InvalidKey, "malformed JWKS", e))?;
    Ok(jwks
        .keys
        .into_iter()
        .filter(|jwk| match jwk.unusable_reason(None) {
            Some(reason) => {
                tracing::debug!(kid = jwk.kid.as_deref(), reason, "skipping JWKS key");
                false
            }
            None => true,
        }))
}

impl From<Key> for KeySet {
    fn from(key: Key) -> Self {
        Self::new([key]).expect("one key is a valid set")
    }
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
    fn unusable_reason(&self, default_alg: Option<Algorithm>) -> Option<&'static str> {
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
        self.algorithm(default_alg).err()
    }

    fn algorithm(&self, default_alg: Option<Algorithm>) -> Result<Algorithm, &'static str> {
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
            ("OKP", Some("Ed25519")) => Ok(Algorithm::EdDSA),
            ("EC" | "OKP", _) => Err("its curve is not supported"),
            ("RSA" | "oct", _) => Err("it has no `alg`, and its type fits several algorithms"),
            _ => Err("its key type is not supported"),
        }
    }

    fn into_key(self, default_alg: Option<Algorithm>) -> Result<Key, ConfigError> {
        if let Some(reason) = self.unusable_reason(default_alg) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidKey,
                format!("the JWK cannot verify signatures: {reason}"),
            ));
        }
        let alg = self
            .algorithm(default_alg)
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
                DecodingKey::from_ec_der(&point)
            }
            KeyFamily::Ed => DecodingKey::from_ed_der(&decode_member("x", self.x.as_deref())?),
        };
        let key = Key::checked(alg, material)?;
        Ok(match self.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }
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

/// A signing key: the private half used to mint tokens.
///
/// Used by this crate's tests and examples, and by services that issue their
/// own tokens. Like [`Key`], it is bound to one algorithm and refuses weak
/// material when built. Its `Debug` output never shows key material.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<Arc<str>>,
    material: Arc<EncodingKey>,
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
    /// An HMAC signing key. Refuses secrets under [`MIN_HMAC_SECRET_LEN`] bytes.
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

    /// An EC signing key (`ES256`, `ES384`) from a PKCS#8 PEM private key.
    pub fn from_ec_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        expect_family(alg, KeyFamily::Ec)?;
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
        let signer = (provider().signer_factory)(&self.alg.to_jsonwebtoken(), &self.material)
            .map_err(|e| invalid_key(self.alg.as_str(), e))?;
        let signature = signer.try_sign(token.as_bytes()).map_err(|e| {
            ConfigError::with_source(ConfigErrorKind::InvalidKey, "signing failed", e)
        })?;
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
    pub fn verifying_key(&self) -> Result<Key, ConfigError> {
        let key = match self.public_members()? {
            None => Key::hmac(self.alg, self.material.as_bytes())?,
            Some(jwk) => Key::from_jwk_with_alg(&jwk.to_string(), self.alg)?,
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
        // The required members, in lexicographic order, without whitespace.
        let canonical = match self.public_members()? {
            None => format!(
                r#"{{"k":"{}","kty":"oct"}}"#,
                URL_SAFE_NO_PAD.encode(self.material.as_bytes())
            ),
            Some(jwk) => {
                let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
                match self.alg.family() {
                    KeyFamily::Rsa => format!(
                        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                        member("e"),
                        member("n")
                    ),
                    KeyFamily::Ec => format!(
                        r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                        member("crv"),
                        member("x"),
                        member("y")
                    ),
                    _ => format!(
                        r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                        member("crv"),
                        member("x")
                    ),
                }
            }
        };
        sha256_b64url(canonical.as_bytes()).map_err(|e| invalid_key("thumbprint", e))
    }

    /// The public key's members (`kty`, `crv`, `x`, `y`, `n`, `e`); `None` for HMAC.
    fn public_members(&self) -> Result<Option<serde_json::Value>, ConfigError> {
        let utils = &provider().key_utils;
        let der = self.material.as_bytes();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        Ok(Some(match self.alg.family() {
            KeyFamily::Hmac => return Ok(None),
            KeyFamily::Rsa => {
                let (n, e) = (utils.rsa_pub_components_from_private_key)(der)
                    .map_err(|e| invalid_key("RSA", e))?;
                serde_json::json!({ "kty": "RSA", "n": b64(&n), "e": b64(&e) })
            }
            KeyFamily::Ec => {
                let (_, x, y) =
                    (utils.ec_pub_components_from_private_key)(der, self.alg.to_jsonwebtoken())
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
            material: Arc::new(material),
        }
    }

    fn checked(alg: Algorithm, material: EncodingKey) -> Result<Self, ConfigError> {
        (provider().signer_factory)(&alg.to_jsonwebtoken(), &material)
            .map_err(|e| invalid_key(alg.as_str(), e))?;
        Ok(Self::from_parts(alg, material))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_secret_under_32_bytes_is_refused() {
        let err = Key::hmac(Algorithm::HS256, &SECRET[..31]).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::WeakKey);
        assert!(Key::hmac(Algorithm::HS256, SECRET).is_ok());
        assert_eq!(
            SigningKey::hmac(Algorithm::HS256, &SECRET[..31])
                .unwrap_err()
                .kind(),
            ConfigErrorKind::WeakKey
        );
    }

    #[test]
    fn hmac_key_refuses_a_non_hmac_algorithm() {
        let err = Key::hmac(Algorithm::RS256, SECRET).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::AlgorithmMismatch);
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

    #[test]
    fn algorithm_names_round_trip_and_none_is_not_one() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("hs256"), None);
    }

    #[test]
    fn duplicate_kids_are_refused() {
        let a = Key::hmac(Algorithm::HS256, SECRET).unwrap().with_kid("a");
        let err = KeySet::new([a.clone(), a]).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::DuplicateKid);
    }

    #[test]
    fn token_without_kid_needs_exactly_one_key_of_its_algorithm() {
        let a = Key::hmac(Algorithm::HS256, SECRET).unwrap().with_kid("a");
        let b = Key::hmac(Algorithm::HS256, SECRET).unwrap().with_kid("b");
        let c = Key::hmac(Algorithm::HS384, SECRET).unwrap().with_kid("c");
        let set = KeySet::new([a, b, c]).unwrap();
        assert_eq!(
            set.find(None, Algorithm::HS256).unwrap_err(),
            KeyLookupError::Ambiguous
        );
        assert_eq!(set.find(None, Algorithm::HS384).unwrap().kid(), Some("c"));
        assert_eq!(
            set.find(None, Algorithm::HS512).unwrap_err(),
            KeyLookupError::NoKeyForAlgorithm
        );
        assert_eq!(
            set.find(Some("a"), Algorithm::HS512).unwrap_err(),
            KeyLookupError::AlgorithmMismatch
        );
        assert_eq!(
            set.find(Some("zz"), Algorithm::HS256).unwrap_err(),
            KeyLookupError::UnknownKid
        );
    }

    #[test]
    fn jwk_with_encryption_use_or_without_verify_op_is_refused() {
        let k = URL_SAFE_NO_PAD.encode(SECRET);
        let enc = format!(r#"{{"kty":"oct","alg":"HS256","use":"enc","k":"{k}"}}"#);
        assert_eq!(
            Key::from_jwk(&enc).unwrap_err().kind(),
            ConfigErrorKind::InvalidKey
        );
        let ops = format!(r#"{{"kty":"oct","alg":"HS256","key_ops":["sign"],"k":"{k}"}}"#);
        assert!(Key::from_jwk(&ops).is_err());
        let ok =
            format!(r#"{{"kty":"oct","alg":"HS256","key_ops":["verify"],"k":"{k}","kid":"x"}}"#);
        assert_eq!(Key::from_jwk(&ok).unwrap().kid(), Some("x"));
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
