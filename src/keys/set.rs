//! [`KeySet`]: the keys a validator trusts, and how a token finds its key.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ConfigError, ConfigErrorKind};

use super::{Algorithm, VerifyingKey};

/// The keys a validator trusts, found by `kid`.
///
/// Every `kid` is unique within a set. A token without `kid` is accepted only
/// when exactly one key in the set uses the token's algorithm; otherwise it
/// is refused as ambiguous rather than tried against every key.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Arc<[VerifyingKey]>,
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
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<Self, ConfigError> {
        let keys: Arc<[VerifyingKey]> = keys.into_iter().collect();
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

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty (never true for a built set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter()
    }

    /// The key named `kid`, if any.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.by_kid.get(kid).map(|&index| &self.keys[index])
    }

    pub(crate) fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerifyingKey, KeyLookupError> {
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

impl From<VerifyingKey> for KeySet {
    fn from(key: VerifyingKey) -> Self {
        Self::new([key]).expect("one key is a valid set")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn duplicate_kids_are_refused() {
        let a = VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("a");
        let err = KeySet::new([a.clone(), a]).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::DuplicateKid);
    }

    #[test]
    fn token_without_kid_needs_exactly_one_key_of_its_algorithm() {
        let a = VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("a");
        let b = VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("b");
        let c = VerifyingKey::hmac(Algorithm::HS384, SECRET)
            .unwrap()
            .with_kid("c");
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
}
