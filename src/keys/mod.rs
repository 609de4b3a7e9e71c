//! Key material: algorithms, verifying and signing keys, key sets, JWK/JWKS
//! documents, and the sets that change at runtime.
//!
//! - [`Algorithm`] (and its [`KeyFamily`]): what a key signs or verifies with.
//! - [`VerifyingKey`]: a public key or shared secret that verifies tokens;
//!   [`SigningKey`]: the private half that mints them.
//! - [`KeySet`]: the keys a validator trusts, found by `kid`, built from keys
//!   or from a JWKS document ([`KeySet::from_jwks`]).
//! - [`SharedKeys`]: a key set replaced atomically while validators read it,
//!   for rotation; with the `jwks` feature, `RemoteJwks` keeps one current
//!   from an identity provider (module `remote`).
//!
//! Every [`VerifyingKey`] is bound to exactly one [`Algorithm`]. A token whose
//! `alg` header names another algorithm than its key's is refused, whatever
//! the key could technically verify: this is what stops algorithm-confusion
//! attacks (an RSA public key used as an HMAC secret, HS512 on a key meant
//! for HS256).
//!
//! Keys come only from configuration: a secret, a PEM document, or a JWK/JWKS
//! document. The `jwk`, `jku`, `x5u` and `x5c` headers of a token are never
//! used to find or fetch a key.
//!
//! Weak keys are refused when the key is built, not on the first request:
//! an HMAC secret under 32 bytes and an RSA modulus under 2048 bits are
//! [`ConfigError`](crate::ConfigError)s.
//!
//! ```
//! use jwt_guard::{Algorithm, KeySet, VerifyingKey};
//!
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?
//!     .with_kid("2024-1");
//! let keys = KeySet::new([key])?;
//! assert_eq!(keys.len(), 1);
//!
//! // Too short: refused at build time, with a message that says why.
//! let err = VerifyingKey::hmac(Algorithm::HS256, b"short").unwrap_err();
//! assert!(err.to_string().contains("at least 32 bytes"));
//! # Ok::<(), jwt_guard::ConfigError>(())
//! ```

mod algorithm;
mod check;
#[cfg(feature = "jwks")]
pub(crate) mod discovery;
mod jwk;
#[cfg(feature = "jwks")]
pub mod remote;
mod ring;
mod set;
mod shared;
mod signing;
mod verifying;

pub use algorithm::{Algorithm, KeyFamily};
pub use check::{MIN_HMAC_SECRET_LEN, MIN_RSA_BITS};
pub(crate) use jwk::{jwk_thumbprint, verifying_key_from_jwk};
#[cfg(feature = "jwks")]
#[doc(inline)]
pub use remote::{JwksError, JwksErrorKind, RemoteJwks, RemoteJwksBuilder};
pub(crate) use ring::KeyRing;
pub(crate) use set::KeyLookupError;
pub use set::KeySet;
pub use shared::SharedKeys;
pub use signing::SigningKey;
pub use verifying::VerifyingKey;

/// The 0.1 name of [`VerifyingKey`], kept as an alias through 0.2.
#[deprecated(since = "0.2.0", note = "renamed to VerifyingKey")]
pub type Key = VerifyingKey;
