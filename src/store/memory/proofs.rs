//! DPoP proofs used, in memory: each kept until it could no longer be
//! accepted.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::table::ExpiringTable;
use crate::store::{ProofUse, StoreError};

pub(super) struct Proofs {
    /// Proof id -> nothing; the entry expires with the proof's window.
    used: Mutex<ExpiringTable<Box<str>, (), SystemTime>>,
}

impl Proofs {
    pub(super) fn new(max: usize) -> Self {
        Self {
            used: Mutex::new(ExpiringTable::new(max)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ExpiringTable<Box<str>, (), SystemTime>> {
        // Every update leaves the table consistent before anything can panic.
        self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `proof_id` until `until`, unless it is recorded already.
    pub(super) fn use_at(
        &self,
        proof_id: &str,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<ProofUse, StoreError> {
        let mut used = self.lock();
        if used.get(proof_id, || now).is_some() {
            return Ok(ProofUse::Replayed);
        }
        used.insert(proof_id.into(), (), Some(until), now)?;
        Ok(ProofUse::First)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::StoreErrorKind;

    #[test]
    fn a_proof_is_used_once_within_its_window_and_forgotten_after() {
        let proofs = Proofs::new(10);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let until = now + Duration::from_secs(65);
        assert_eq!(proofs.use_at("a", until, now).unwrap(), ProofUse::First);
        assert_eq!(proofs.use_at("a", until, now).unwrap(), ProofUse::Replayed);
        let later = now + Duration::from_secs(64);
        assert_eq!(
            proofs.use_at("a", until, later).unwrap(),
            ProofUse::Replayed
        );
        assert_eq!(proofs.use_at("b", until, later).unwrap(), ProofUse::First);
        // Past its window no clock accepts the proof: it may be forgotten.
        let after = until + Duration::from_secs(1);
        assert_eq!(
            proofs
                .use_at("a", after + Duration::from_secs(65), after)
                .unwrap(),
            ProofUse::First
        );
    }

    #[test]
    fn a_full_cache_refuses_rather_than_forget_a_live_proof() {
        let proofs = Proofs::new(2);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let until = now + Duration::from_secs(65);
        proofs.use_at("a", until, now).unwrap();
        proofs.use_at("b", until, now).unwrap();
        let error = proofs.use_at("c", until, now).unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::CapacityExceeded);
        assert_eq!(proofs.use_at("a", until, now).unwrap(), ProofUse::Replayed);
    }
}
