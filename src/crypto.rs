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
            ParsedPublicKey, UnparsedPublicKey,
        };

        pub(crate) fn point_is_valid(point: &[u8]) -> bool {
            ParsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point).is_ok()
        }

        pub(crate) fn verify(point: &[u8], message: &[u8], signature: &[u8]) -> bool {
            UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point)
                .verify(message, signature)
                .is_ok()
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

    pub(crate) use backend::{PrivateKey, point_is_valid, verify};

    impl std::fmt::Debug for PrivateKey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("es512::PrivateKey")
        }
    }
}
