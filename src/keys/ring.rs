//! The issuer's signing keys: one active, others retired until the tokens
//! they signed expire.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::error::{ConfigError, ConfigErrorKind};

use super::{KeySet, SharedKeys, SigningKey};

/// The issuer's signing keys.
///
/// One key signs; keys rotated out keep verifying (and stay in the JWKS)
/// until every token they signed has expired, so a rotation needs no
/// downtime. Validators built with the ring's [`SharedKeys`] follow every
/// change at once.
pub(crate) struct KeyRing {
    state: ArcSwap<Ring>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    shared: SharedKeys,
}

struct Ring {
    active: SigningKey,
    /// Keys rotated out, and until when they still verify.
    retired: Vec<(SigningKey, SystemTime)>,
}

impl Ring {
    fn key_set(&self) -> Result<KeySet, ConfigError> {
        KeySet::new(
            std::iter::once(&self.active)
                .chain(self.retired.iter().map(|(key, _)| key))
                .map(SigningKey::verifying_key)
                .collect::<Result<Vec<_>, _>>()?,
        )
    }
}

/// Gives a key without `kid` its RFC 7638 thumbprint.
fn named(key: SigningKey) -> Result<SigningKey, ConfigError> {
    if key.kid().is_some_and(|kid| !kid.is_empty()) {
        return Ok(key);
    }
    let kid = key.thumbprint()?;
    Ok(key.with_kid(kid))
}

impl KeyRing {
    pub(crate) fn new(active: SigningKey) -> Result<Self, ConfigError> {
        let ring = Ring {
            active: named(active)?,
            retired: Vec::new(),
        };
        let shared = SharedKeys::new(ring.key_set()?);
        Ok(Self {
            state: ArcSwap::from_pointee(ring),
            write: Mutex::new(()),
            shared,
        })
    }

    /// The key that signs now.
    pub(crate) fn active(&self) -> SigningKey {
        self.state.load().active.clone()
    }

    pub(crate) fn shared(&self) -> SharedKeys {
        self.shared.clone()
    }

    /// Makes `key` the signing key; the one it replaces keeps verifying until
    /// `retire_until`.
    pub(crate) fn rotate(
        &self,
        key: SigningKey,
        retire_until: SystemTime,
    ) -> Result<(), ConfigError> {
        let key = named(key)?;
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.state.load_full();
        if key.algorithm() != current.active.algorithm() {
            return Err(ConfigError::new(
                ConfigErrorKind::AlgorithmMismatch,
                "a rotated key must use the issuer's algorithm",
            ));
        }
        let now = SystemTime::now();
        let mut retired: Vec<_> = current
            .retired
            .iter()
            .filter(|(old, until)| *until > now && old.kid() != key.kid())
            .cloned()
            .collect();
        if current.active.kid() == key.kid() {
            return Err(ConfigError::new(
                ConfigErrorKind::DuplicateKid,
                "the new signing key has the active key's kid",
            ));
        }
        retired.push((current.active.clone(), retire_until));
        self.publish(Ring {
            active: key,
            retired,
        })
    }

    /// Drops retired keys whose tokens have all expired.
    pub(crate) fn prune(&self) -> Result<(), ConfigError> {
        let now = SystemTime::now();
        if self
            .state
            .load()
            .retired
            .iter()
            .all(|(_, until)| *until > now)
        {
            return Ok(());
        }
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.state.load_full();
        self.publish(Ring {
            active: current.active.clone(),
            retired: current
                .retired
                .iter()
                .filter(|(_, until)| *until > now)
                .cloned()
                .collect(),
        })
    }

    fn publish(&self, ring: Ring) -> Result<(), ConfigError> {
        self.shared.replace(ring.key_set()?);
        self.state.store(Arc::new(ring));
        Ok(())
    }

    /// The public keys, active first, as a JWKS document. HMAC keys are
    /// never published.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        let ring = self.state.load();
        let now = SystemTime::now();
        let keys: Vec<_> = std::iter::once(&ring.active)
            .chain(
                ring.retired
                    .iter()
                    .filter(|(_, until)| *until > now)
                    .map(|(key, _)| key),
            )
            .filter_map(SigningKey::public_jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    }
}
