//! Revoked `jti`s and subject cut-offs in memory.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::table::{self, ExpiringTable};
use crate::store::{StoreError, TokenRef, TokenStatus};

/// The revocations, behind one lock: a check takes a read lock and does at
/// most two hash lookups, without allocating.
pub(super) struct Revocations {
    state: RwLock<State>,
    subject_retention: Duration,
    /// Told of every revocation that took effect.
    changes: watch::Sender<()>,
}

struct State {
    /// `jti` -> nothing: the entry expires when the revocation stops
    /// mattering (the token's `exp`).
    tokens: ExpiringTable<Box<str>, ()>,
    /// `sub` -> the cut-off instant: tokens issued before it are revoked.
    /// The entry expires `subject_retention` after that instant, or never
    /// when the sum does not fit in a `SystemTime`.
    subjects: ExpiringTable<Box<str>, SystemTime>,
}

impl Revocations {
    /// At most `max_entries` revoked `jti`s and `max_subjects` cut-offs, each
    /// cut-off kept for `subject_retention` after its instant.
    pub(super) fn new(
        max_entries: usize,
        max_subjects: usize,
        subject_retention: Duration,
    ) -> Self {
        Self {
            state: RwLock::new(State {
                tokens: ExpiringTable::new(max_entries),
                subjects: ExpiringTable::new(max_subjects),
            }),
            subject_retention,
            changes: watch::Sender::new(()),
        }
    }

    /// How many revoked `jti`s are held, expired ones not yet purged included.
    pub(super) fn len(&self) -> usize {
        self.read().tokens.len()
    }

    /// How many revoked `jti`s and how many subject cut-offs are held, read
    /// together.
    pub(super) fn counts(&self) -> (usize, usize) {
        let state = self.read();
        (state.tokens.len(), state.subjects.len())
    }

    /// Told of every revocation from now on.
    pub(super) fn subscribe(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Every update leaves the state consistent before anything can panic,
        // so a poisoned lock still guards valid data.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The subject's live cut-off, if any.
    pub(super) fn cutoff(&self, sub: &str) -> Option<SystemTime> {
        self.read().subjects.get(sub, SystemTime::now).copied()
    }

    pub(super) fn check_at(
        &self,
        token: &TokenRef<'_>,
        now: impl Fn() -> SystemTime,
    ) -> TokenStatus {
        let state = self.read();
        if let Some(jti) = token.jti
            && state.tokens.get(jti, &now).is_some()
        {
            return TokenStatus::Revoked;
        }
        if let Some(sub) = token.sub
            && let Some(&issued_before) = state.subjects.get(sub, &now)
        {
            // Without `iat` nothing proves the token came after the cut-off.
            let before_cutoff = token
                .issued_at
                .is_none_or(|issued_at| issued_at < issued_before);
            if before_cutoff {
                return TokenStatus::Revoked;
            }
        }
        TokenStatus::Active
    }

    pub(super) fn revoke_token_at(
        &self,
        jti: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        if expires_at <= now {
            // The token is refused for having expired; nothing to remember.
            return Ok(());
        }
        let mut state = self.write();
        let result = state.tokens.upsert(
            jti,
            (),
            Some(expires_at),
            now,
            // Revoking again never shortens a revocation.
            |(), held_until| held_until.is_some_and(|held| held < expires_at),
        );
        let max_entries = state.tokens.max();
        drop(state);
        if result.is_ok() {
            self.changes.send_replace(());
        }
        if result.is_err() {
            tracing::warn!(
                max_entries,
                "memory revocation store is full of live revoked tokens; refusing a new revocation"
            );
        }
        result
    }

    pub(super) fn revoke_subject_at(
        &self,
        sub: &str,
        issued_before: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let forget_at = issued_before.checked_add(self.subject_retention);
        if !table::is_live(forget_at, now) {
            // Every token it could revoke has outlived the retention.
            return Ok(());
        }
        let mut state = self.write();
        let result = state.subjects.upsert(
            sub,
            issued_before,
            forget_at,
            now,
            // A cut-off only ever moves later.
            |held, _| issued_before > *held,
        );
        let max_subjects = state.subjects.max();
        drop(state);
        if result.is_ok() {
            self.changes.send_replace(());
        }
        if result.is_err() {
            tracing::warn!(
                max_subjects,
                "memory revocation store is full of live subject cut-offs; refusing a new one"
            );
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::DEFAULT_SUBJECT_RETENTION;
    use crate::store::StoreErrorKind;

    const SECOND: Duration = Duration::from_secs(1);
    const HOUR: Duration = Duration::from_secs(60 * 60);
    const MANY: usize = 1_000_000;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn revocations() -> Revocations {
        Revocations::new(MANY, MANY, DEFAULT_SUBJECT_RETENTION)
    }

    fn status_at(revocations: &Revocations, token: &TokenRef<'_>, now: SystemTime) -> TokenStatus {
        revocations.check_at(token, || now)
    }

    fn jti(jti: &str) -> TokenRef<'_> {
        TokenRef::new().with_jti(jti)
    }

    fn issued_to(sub: &str, issued_at: SystemTime) -> TokenRef<'_> {
        TokenRef::new().with_sub(sub).with_issued_at(issued_at)
    }

    #[test]
    fn revoked_jti_is_reported_revoked() {
        let revocations = revocations();
        revocations.revoke_token_at("a", t0() + HOUR, t0()).unwrap();

        assert_eq!(
            status_at(&revocations, &jti("a"), t0()),
            TokenStatus::Revoked
        );
        assert_eq!(
            status_at(&revocations, &jti("b"), t0()),
            TokenStatus::Active
        );
        assert_eq!(revocations.len(), 1);
    }

    #[test]
    fn token_without_jti_or_sub_is_active() {
        let revocations = revocations();
        revocations.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();

        assert_eq!(
            status_at(&revocations, &TokenRef::new(), t0()),
            TokenStatus::Active
        );
    }

    #[test]
    fn entry_is_forgotten_after_token_expiry() {
        let revocations = Revocations::new(1, MANY, DEFAULT_SUBJECT_RETENTION);
        revocations
            .revoke_token_at("a", t0() + SECOND, t0())
            .unwrap();

        let just_before = t0() + SECOND - Duration::from_micros(1);
        assert_eq!(
            status_at(&revocations, &jti("a"), just_before),
            TokenStatus::Revoked
        );
        assert_eq!(
            status_at(&revocations, &jti("a"), t0() + SECOND),
            TokenStatus::Active
        );

        // The expired entry makes room instead of filling the revocations.
        revocations
            .revoke_token_at("b", t0() + HOUR, t0() + SECOND)
            .unwrap();
        assert_eq!(revocations.len(), 1);
        let later = t0() + 2 * SECOND;
        assert_eq!(
            status_at(&revocations, &jti("a"), later),
            TokenStatus::Active
        );
        assert_eq!(
            status_at(&revocations, &jti("b"), later),
            TokenStatus::Revoked
        );
    }

    #[test]
    fn expired_entries_are_purged_once_the_table_grows() {
        let revocations = revocations();
        for i in 0..table::MIN_PURGE_LEN {
            revocations
                .revoke_token_at(&format!("old-{i}"), t0() + SECOND, t0())
                .unwrap();
        }
        assert_eq!(revocations.len(), table::MIN_PURGE_LEN);

        revocations
            .revoke_token_at("new", t0() + HOUR, t0() + HOUR / 2)
            .unwrap();
        assert_eq!(revocations.len(), 1);
    }

    #[test]
    fn revoking_an_already_expired_token_is_a_no_op() {
        let revocations = Revocations::new(0, MANY, DEFAULT_SUBJECT_RETENTION);

        revocations
            .revoke_token_at("a", t0() - SECOND, t0())
            .unwrap();
        revocations.revoke_token_at("b", t0(), t0()).unwrap();
        assert_eq!(revocations.len(), 0);
    }

    #[test]
    fn revoking_a_jti_again_never_shortens_its_revocation() {
        let revocations = revocations();
        revocations.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        revocations
            .revoke_token_at("a", t0() + SECOND, t0())
            .unwrap();

        assert_eq!(
            status_at(&revocations, &jti("a"), t0() + 2 * SECOND),
            TokenStatus::Revoked
        );

        revocations
            .revoke_token_at("a", t0() + 2 * HOUR, t0())
            .unwrap();
        assert_eq!(
            status_at(&revocations, &jti("a"), t0() + HOUR),
            TokenStatus::Revoked
        );
        assert_eq!(revocations.len(), 1);
    }

    #[test]
    fn full_store_refuses_new_revocation_instead_of_forgetting() {
        let revocations = Revocations::new(2, MANY, DEFAULT_SUBJECT_RETENTION);
        revocations.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        revocations.revoke_token_at("b", t0() + HOUR, t0()).unwrap();

        let err = revocations
            .revoke_token_at("c", t0() + HOUR, t0())
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::CapacityExceeded);
        for held in ["a", "b"] {
            assert_eq!(
                status_at(&revocations, &jti(held), t0()),
                TokenStatus::Revoked
            );
        }
        assert_eq!(
            status_at(&revocations, &jti("c"), t0()),
            TokenStatus::Active
        );
        assert_eq!(revocations.len(), 2);

        // Updating a jti already held needs no new slot.
        revocations
            .revoke_token_at("a", t0() + 2 * HOUR, t0())
            .unwrap();
    }

    #[test]
    fn full_store_accepts_again_once_an_entry_expires() {
        let revocations = Revocations::new(2, MANY, DEFAULT_SUBJECT_RETENTION);
        revocations
            .revoke_token_at("a", t0() + SECOND, t0())
            .unwrap();
        revocations.revoke_token_at("b", t0() + HOUR, t0()).unwrap();
        assert!(revocations.revoke_token_at("c", t0() + HOUR, t0()).is_err());

        revocations
            .revoke_token_at("c", t0() + HOUR, t0() + SECOND)
            .unwrap();
        assert_eq!(
            status_at(&revocations, &jti("c"), t0() + SECOND),
            TokenStatus::Revoked
        );
        assert_eq!(revocations.len(), 2);
    }

    #[test]
    fn subject_cutoff_revokes_tokens_issued_before_it() {
        let revocations = revocations();
        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();

        let before = issued_to("alice", t0() - SECOND);
        let at = issued_to("alice", t0());
        let after = issued_to("alice", t0() + SECOND);
        let other = issued_to("bob", t0() - SECOND);
        assert_eq!(status_at(&revocations, &before, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&revocations, &at, t0()), TokenStatus::Active);
        assert_eq!(status_at(&revocations, &after, t0()), TokenStatus::Active);
        assert_eq!(status_at(&revocations, &other, t0()), TokenStatus::Active);
        // Subject cut-offs are not counted as revoked jtis.
        assert_eq!(revocations.len(), 0);
    }

    #[test]
    fn token_issued_after_cutoff_in_same_second_stays_active() {
        let revocations = revocations();
        let cutoff = t0() + Duration::from_millis(400);
        revocations
            .revoke_subject_at("alice", cutoff, cutoff)
            .unwrap();

        let earlier = issued_to("alice", t0() + Duration::from_millis(399));
        let later = issued_to("alice", t0() + Duration::from_micros(400_001));
        assert_eq!(
            status_at(&revocations, &earlier, cutoff),
            TokenStatus::Revoked
        );
        assert_eq!(status_at(&revocations, &later, cutoff), TokenStatus::Active);
    }

    #[test]
    fn token_without_iat_is_revoked_when_subject_has_cutoff() {
        let revocations = revocations();
        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();

        let no_iat = TokenRef::new().with_sub("alice");
        let other_no_iat = TokenRef::new().with_sub("bob");
        assert_eq!(status_at(&revocations, &no_iat, t0()), TokenStatus::Revoked);
        assert_eq!(
            status_at(&revocations, &other_no_iat, t0()),
            TokenStatus::Active
        );
    }

    #[test]
    fn later_cutoff_replaces_earlier_but_earlier_never_moves_back() {
        let revocations = revocations();
        let token = issued_to("alice", t0() + 5 * SECOND);

        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();
        assert_eq!(status_at(&revocations, &token, t0()), TokenStatus::Active);

        revocations
            .revoke_subject_at("alice", t0() + 10 * SECOND, t0())
            .unwrap();
        assert_eq!(status_at(&revocations, &token, t0()), TokenStatus::Revoked);

        revocations
            .revoke_subject_at("alice", t0() + SECOND, t0())
            .unwrap();
        assert_eq!(status_at(&revocations, &token, t0()), TokenStatus::Revoked);
    }

    #[test]
    fn jti_and_subject_revocations_apply_independently() {
        let revocations = revocations();
        revocations.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();

        let revoked_jti = issued_to("bob", t0() + SECOND).with_jti("a");
        let revoked_sub = issued_to("alice", t0() - SECOND).with_jti("b");
        let neither = issued_to("alice", t0() + SECOND).with_jti("b");
        assert_eq!(
            status_at(&revocations, &revoked_jti, t0()),
            TokenStatus::Revoked
        );
        assert_eq!(
            status_at(&revocations, &revoked_sub, t0()),
            TokenStatus::Revoked
        );
        assert_eq!(status_at(&revocations, &neither, t0()), TokenStatus::Active);
    }

    #[test]
    fn subject_cutoff_is_forgotten_after_retention() {
        let revocations = Revocations::new(MANY, 1, HOUR);
        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();

        let no_iat = TokenRef::new().with_sub("alice");
        let just_before = t0() + HOUR - Duration::from_micros(1);
        assert_eq!(
            status_at(&revocations, &no_iat, just_before),
            TokenStatus::Revoked
        );
        assert_eq!(
            status_at(&revocations, &no_iat, t0() + HOUR),
            TokenStatus::Active
        );

        // The lapsed cut-off makes room for another subject.
        revocations
            .revoke_subject_at("bob", t0() + HOUR, t0() + HOUR)
            .unwrap();
    }

    #[test]
    fn cutoff_older_than_retention_is_a_no_op() {
        let revocations = Revocations::new(MANY, 0, HOUR);

        revocations
            .revoke_subject_at("alice", t0() - HOUR, t0())
            .unwrap();
        let no_iat = TokenRef::new().with_sub("alice");
        assert_eq!(status_at(&revocations, &no_iat, t0()), TokenStatus::Active);
    }

    #[test]
    fn full_store_refuses_new_subject_cutoff_instead_of_forgetting() {
        let revocations = Revocations::new(MANY, 1, DEFAULT_SUBJECT_RETENTION);
        revocations.revoke_subject_at("alice", t0(), t0()).unwrap();

        let err = revocations
            .revoke_subject_at("bob", t0(), t0())
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::CapacityExceeded);
        let alice = issued_to("alice", t0() - SECOND);
        let bob = issued_to("bob", t0() - SECOND);
        assert_eq!(status_at(&revocations, &alice, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&revocations, &bob, t0()), TokenStatus::Active);

        // Moving an existing cut-off forward needs no new slot.
        revocations
            .revoke_subject_at("alice", t0() + SECOND, t0())
            .unwrap();
        assert_eq!(
            status_at(&revocations, &issued_to("alice", t0()), t0()),
            TokenStatus::Revoked
        );
    }
}
