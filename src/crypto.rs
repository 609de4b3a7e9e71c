//! The crypto backend, chosen by features, and the digest and random bytes
//! the rest of the crate draws from it.
//!
//! A leaf: it imports nothing from this crate, so keys, verification and
//! issuing can all use it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;

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

/// SHA-256, base64url without padding: thumbprints, derived token ids,
/// refresh-token hashes and throttle keys.
pub(crate) fn sha256_b64url(input: &[u8]) -> Result<String, jsonwebtoken::errors::Error> {
    let digest =
        (provider().key_utils.compute_digest)(input, jsonwebtoken::jwk::ThumbprintHash::SHA256)?;
    Ok(URL_SAFE_NO_PAD.encode(digest))
}

/// `N` random bytes from the operating system, base64url without padding:
/// token ids, refresh families and refresh secrets.
pub(crate) fn random_b64url<const N: usize>() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A verification key made ready for its algorithm once, when the key is
/// built, so that a verification is the signature check alone.
///
/// On aws-lc-rs the HMAC key is keyed once (its inner and outer pads are
/// hashed then, not per token) and a public key is parsed once into the
/// library's key object. On RustCrypto `jsonwebtoken`'s verifier, which is
/// not `Send`, is made for each call from the checked key.
pub(crate) struct Verifier(backend::Verifier);

impl Verifier {
    /// Prepares `key` for `alg`; refuses material the backend cannot use.
    pub(crate) fn new(
        alg: jsonwebtoken::Algorithm,
        key: &jsonwebtoken::DecodingKey,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        backend::Verifier::new(alg, key).map(Self)
    }

    /// An ES512 key from its uncompressed point; `None` if it is not on the curve.
    pub(crate) fn es512(point: &[u8]) -> Option<Self> {
        backend::Verifier::es512(point).map(Self)
    }

    /// Whether `signature` is this key's signature over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(message, signature)
    }
}

#[cfg(feature = "aws_lc_rs")]
mod backend {
    use aws_lc_rs::hmac;
    use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
    use jsonwebtoken::errors::{Error, ErrorKind};
    use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

    // Held behind the key's `Arc`: boxing the large HMAC state would only
    // add an indirection to every verification.
    #[allow(clippy::large_enum_variant)]
    pub(super) enum Verifier {
        Hmac(hmac::Key),
        Public(ParsedPublicKey),
    }

    /// The same verification algorithms `jsonwebtoken`'s aws-lc-rs provider
    /// uses, so that what verifies does not depend on the path taken.
    fn rsa_params(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
        Some(match alg {
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    impl Verifier {
        pub(super) fn new(alg: Algorithm, key: &DecodingKey) -> Result<Self, Error> {
            let rejected = |_| Error::from(ErrorKind::InvalidKeyFormat);
            let hmac = match alg {
                Algorithm::HS256 => Some(hmac::HMAC_SHA256),
                Algorithm::HS384 => Some(hmac::HMAC_SHA384),
                Algorithm::HS512 => Some(hmac::HMAC_SHA512),
                _ => None,
            };
            if let Some(hmac) = hmac {
                return Ok(Self::Hmac(hmac::Key::new(hmac, key.try_get_as_bytes()?)));
            }
            if let Some(params) = rsa_params(alg) {
                let parsed = match key.kind() {
                    DecodingKeyKind::SecretOrDer(der) => {
                        ParsedPublicKey::new(params, der).map_err(rejected)?
                    }
                    DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
                        .to_parsed_public_key(params)
                        .map_err(rejected)?,
                };
                return Ok(Self::Public(parsed));
            }
            let algorithm: &'static dyn sig::VerificationAlgorithm = match alg {
                Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                Algorithm::EdDSA => &sig::ED25519,
                _ => return Err(ErrorKind::InvalidAlgorithm.into()),
            };
            let parsed =
                ParsedPublicKey::new(algorithm, key.try_get_as_bytes()?).map_err(rejected)?;
            Ok(Self::Public(parsed))
        }

        pub(super) fn es512(point: &[u8]) -> Option<Self> {
            ParsedPublicKey::new(&sig::ECDSA_P521_SHA512_FIXED, point)
                .ok()
                .map(Self::Public)
        }

        pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
            match self {
                Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
                Self::Public(key) => key.verify_sig(message, signature).is_ok(),
            }
        }
    }
}

#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
mod backend {
    use jsonwebtoken::errors::Error;
    use jsonwebtoken::{Algorithm, DecodingKey};

    pub(super) enum Verifier {
        Jws(Algorithm, DecodingKey),
        Es512(Box<[u8]>),
    }

    impl Verifier {
        pub(super) fn new(alg: Algorithm, key: &DecodingKey) -> Result<Self, Error> {
            (crate::crypto::provider().verifier_factory)(&alg, key)?;
            Ok(Self::Jws(alg, key.clone()))
        }

        pub(super) fn es512(point: &[u8]) -> Option<Self> {
            crate::crypto::es512::point_is_valid(point).then(|| Self::Es512(point.into()))
        }

        pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
            match self {
                Self::Jws(alg, key) => (crate::crypto::provider().verifier_factory)(alg, key)
                    .is_ok_and(|verifier| verifier.verify(message, &signature.to_vec()).is_ok()),
                Self::Es512(point) => crate::crypto::es512::verify(point, message, signature),
            }
        }
    }
}

/// ES512 (ECDSA on P-521 with SHA-512), which `jsonwebtoken` lacks: done
/// here on whichever backend the features chose.
pub(crate) mod es512 {
    /// An uncompressed SEC1 point: `04`, then x and y of 66 bytes each.
    pub(crate) const POINT_LEN: usize = 133;

    #[cfg(feature = "aws_lc_rs")]
    mod backend {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{
            ECDSA_P521_SHA512_FIXED, ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
            ParsedPublicKey,
        };

        pub(crate) fn point_is_valid(point: &[u8]) -> bool {
            ParsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point).is_ok()
        }

        pub(crate) struct PrivateKey(EcdsaKeyPair);

        impl PrivateKey {
            pub(crate) fn from_pkcs8(der: &[u8]) -> Option<Self> {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, der)
                    .ok()
                    .map(Self)
            }

            pub(crate) fn public_point(&self) -> Vec<u8> {
                self.0.public_key().as_ref().to_vec()
            }

            pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
                let signature = self.0.sign(&SystemRandom::new(), message).ok()?;
                Some(signature.as_ref().to_vec())
            }
        }
    }

    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    mod backend {
        use p521::ecdsa::signature::{Signer as _, Verifier as _};
        use p521::ecdsa::{Signature, SigningKey, VerifyingKey};
        use p521::pkcs8::DecodePrivateKey as _;

        pub(crate) fn point_is_valid(point: &[u8]) -> bool {
            p521::PublicKey::from_sec1_bytes(point).is_ok()
        }

        pub(crate) fn verify(point: &[u8], message: &[u8], signature: &[u8]) -> bool {
            let (Ok(key), Ok(signature)) = (
                VerifyingKey::from_sec1_bytes(point),
                Signature::from_slice(signature),
            ) else {
                return false;
            };
            key.verify(message, &signature).is_ok()
        }

        pub(crate) struct PrivateKey(SigningKey);

        impl PrivateKey {
            pub(crate) fn from_pkcs8(der: &[u8]) -> Option<Self> {
                let secret = p521::SecretKey::from_pkcs8_der(der).ok()?;
                SigningKey::from_slice(&secret.to_bytes()).ok().map(Self)
            }

            pub(crate) fn public_point(&self) -> Vec<u8> {
                let key = VerifyingKey::from(&self.0);
                key.to_encoded_point(false).as_bytes().to_vec()
            }

            pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
                let signature: Signature = self.0.try_sign(message).ok()?;
                Some(signature.to_bytes().to_vec())
            }
        }
    }

    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    pub(crate) use backend::verify;
    pub(crate) use backend::{PrivateKey, point_is_valid};

    impl std::fmt::Debug for PrivateKey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("es512::PrivateKey")
        }
    }
}
