//! Several trusted issuers in one validator: [`TrustedIssuers`], a set
//! replaced while serving, each issuer with its own validator (keys,
//! audiences, claim mapping and rules).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::Validator;
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};

/// The issuers a [`Validator`] trusts, each verified by a validator of its
/// own: static keys, a JWKS URL or discovery; its audiences; its claim
/// mapping and rules.
///
/// A token's `iss` picks the issuer before its signature is checked, and
/// the token is then verified with that issuer's validator alone, so a token
/// signed by one issuer's key but naming another is refused. A token naming
/// an issuer not in the set is refused at once, without any request to a
/// key source. Issuers are added and removed while serving ([`insert`](Self::insert),
/// [`remove`](Self::remove)); a cached verification of a token of an issuer
/// since removed or replaced is not honoured.
///
/// Cheap to clone: clones share the set. The issuer that vouched for a token
/// is its verified `iss`: [`RegisteredClaims::issuer`](crate::RegisteredClaims::issuer).
///
/// ```
/// use jwt_guard::verify::TrustedIssuers;
/// use jwt_guard::{Algorithm, Validator, VerifyingKey};
///
/// # fn main() -> Result<(), jwt_guard::ConfigError> {
/// # let (secret_a, secret_b) = (b"a-secret-of-at-least-thirty-two-bytes!", b"another-secret-of-at-least-32-bytes!!");
/// let issuers = TrustedIssuers::new();
/// issuers.insert(
///     Validator::builder()
///         .issuer("https://a.example")
///         .audience("orders-api")
///         .key(VerifyingKey::hmac(Algorithm::HS256, secret_a)?)
///         .build()?,
/// )?;
/// issuers.insert(
///     Validator::builder()
///         .issuer("https://b.example")
///         .audience("orders")
///         .key(VerifyingKey::hmac(Algorithm::HS256, secret_b)?)
///         .build()?,
/// )?;
/// let validator = Validator::builder().trusted_issuers(issuers.clone()).build()?;
/// # let _ = validator;
/// issuers.remove("https://b.example"); // while serving
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct TrustedIssuers {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    set: ArcSwap<HashMap<Arc<str>, Validator>>,
    /// Bumped by every change: verifications cached before it are redone.
    generation: AtomicU64,
    /// Serialises writers; readers never take it.
    writing: Mutex<()>,
}

impl fmt::Debug for TrustedIssuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.shared.set.load();
        f.debug_map().entries(set.iter()).finish()
    }
}

impl TrustedIssuers {
    /// An empty set: every token is refused until an issuer is inserted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the issuer of `validator`, which must name exactly one
    /// [`issuer`](crate::ValidatorBuilder::issuer); replaces the validator
    /// the issuer had, returned.
    ///
    /// # Errors
    ///
    /// `InvalidSetting` for a validator that names no issuer, several, or
    /// that trusts issuers itself.
    pub fn insert(&self, validator: Validator) -> Result<Option<Validator>, ConfigError> {
        let issuer: Arc<str> = match validator.single_issuer() {
            Some(issuer) => issuer.into(),
            None => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidSetting,
                    "a trusted issuer's validator names exactly one issuer (ValidatorBuilder::issuer)",
                ));
            }
        };
        Ok(self.change(|set| set.insert(issuer, validator)))
    }

    /// Stops trusting `issuer`; its validator, if it was trusted.
    pub fn remove(&self, issuer: &str) -> Option<Validator> {
        self.change(|set| set.remove(issuer))
    }

    /// The validator of `issuer`, if it is trusted.
    pub fn get(&self, issuer: &str) -> Option<Validator> {
        self.shared.set.load().get(issuer).cloned()
    }

    /// The issuers trusted now, sorted.
    pub fn issuers(&self) -> Vec<String> {
        let mut issuers: Vec<String> = self
            .shared
            .set
            .load()
            .keys()
            .map(|issuer| issuer.to_string())
            .collect();
        issuers.sort();
        issuers
    }

    fn change<R>(&self, edit: impl FnOnce(&mut HashMap<Arc<str>, Validator>) -> R) -> R {
        let _writing = self
            .shared
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut set = HashMap::clone(&self.shared.set.load());
        let result = edit(&mut set);
        // The set first, then the generation: a verification reads the
        // generation, then the set, so it may pair the new set with the old
        // generation (and be redone), never the old set with the new one.
        self.shared.set.store(Arc::new(set));
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// The generation of the set, read before it is used.
    pub(super) fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The validator for a token naming `issuer`, or its refusal.
    pub(super) fn select(&self, issuer: Option<&str>) -> Result<Validator, AuthError> {
        let Some(issuer) = issuer else {
            return Err(AuthError::new(
                AuthErrorKind::MissingClaim,
                "the token has no iss, and this service trusts several issuers",
            ));
        };
        self.get(issuer).ok_or_else(|| {
            AuthError::new(
                AuthErrorKind::InvalidIssuer,
                "the token's issuer is not trusted",
            )
        })
    }
}
