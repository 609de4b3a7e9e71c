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
