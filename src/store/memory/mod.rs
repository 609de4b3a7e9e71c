//! The embedded, in-process revocation store.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use super::{BoxFuture, Lookup, RevocationStore, StoreError, TokenRef, TokenStatus};
use crate::policy::DEFAULT_SUBJECT_RETENTION;
// Named in the docs, and in the tests.
#[cfg(any(doc, test))]
use super::StoreErrorKind;

mod attempts;
mod families;
mod table;

use table::ExpiringTable;

const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
const DEFAULT_MAX_SUBJECTS: usize = 100_000;
const DEFAULT_MAX_FAMILIES: usize = 1_000_000;
const DEFAULT_MAX_THROTTLE_KEYS: usize = 100_000;

/// An in-process [`RevocationStore`], bounded in size.
///
/// Revoked `jti`s and subject cut-offs are kept in memory, behind one lock.
/// [`check`](RevocationStore::check) takes a read lock, does at most two hash
/// lookups and returns [`Lookup::Ready`] without allocating. Cloning is cheap:
/// clones share the same revocations.
///
/// A revoked `jti` is kept until the `expires_at` it was revoked with, then
/// forgotten. A subject cut-off is kept for
/// [`subject_retention`](MemoryStoreBuilder::subject_retention) after its
/// instant. Expired entries are purged as new revocations arrive. When the store
/// is full of live entries, a new revocation fails with
/// [`StoreErrorKind::CapacityExceeded`] rather than forgetting one that still
/// matters.
///
/// It is also a [`RefreshStore`](super::RefreshStore) (refresh-token
/// families, bounded by [`max_families`](MemoryStoreBuilder::max_families))
/// and a [`ThrottleStore`](super::ThrottleStore) (login attempt windows,
/// bounded by [`max_throttle_keys`](MemoryStoreBuilder::max_throttle_keys)),
/// so one store serves the layer, an [`Issuer`](crate::issue::Issuer) and a
/// [`LoginThrottle`](crate::issue::LoginThrottle).
///
/// Everything lives in this process only: it is lost on restart and not
/// shared between replicas (use the Redis store for that).
///
/// # Example
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use jwt_guard::store::{Lookup, MemoryStore, RevocationStore, TokenRef, TokenStatus};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::builder()
///     .max_entries(10_000)
///     .subject_retention(Duration::from_secs(24 * 60 * 60))
///     .build();
///
/// let now = SystemTime::now();
/// let token = TokenRef::new()
///     .with_jti("4f1c")
///     .with_sub("alice")
///     .with_issued_at(now)
///     .with_expires_at(now + Duration::from_secs(900));
///
/// // The memory store always answers at once.
/// assert!(matches!(store.check(&token), Lookup::Ready(Ok(TokenStatus::Active))));
///
/// // Revoke this one token until it would have expired anyway.
/// store.revoke_token("4f1c", Some("alice"), now + Duration::from_secs(900)).await?;
/// assert!(matches!(store.check(&token), Lookup::Ready(Ok(TokenStatus::Revoked))));
/// assert_eq!(store.len(), 1);
///
/// // Log `alice` out everywhere: her tokens issued before now are revoked.
/// let older = TokenRef::new()
///     .with_sub("alice")
///     .with_issued_at(now - Duration::from_secs(60));
/// store.revoke_subject("alice", now).await?;
/// assert!(matches!(store.check(&older), Lookup::Ready(Ok(TokenStatus::Revoked))));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

/// Builds a [`MemoryStore`] with chosen limits.
///
/// Obtained from [`MemoryStore::builder`]; every setting has a default.
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    max_entries: usize,
    max_subjects: usize,
    subject_retention: Duration,
    max_families: usize,
    max_throttle_keys: usize,
}

struct Inner {
    config: MemoryStoreBuilder,
    state: RwLock<State>,
    families: families::Families,
    attempts: attempts::Attempts,
    changes: tokio::sync::watch::Sender<()>,
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

impl MemoryStore {
    /// A store with the default limits: 1 000 000 revoked `jti`s, 100 000
    /// subject cut-offs, each kept for 30 days.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to choose the store's limits.
    #[must_use]
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::new()
    }

    /// How many revoked `jti`s the store holds.
    ///
    /// This may include entries that have expired but not yet been purged:
    /// they are purged as new revocations arrive, and never make a check
    /// answer [`TokenStatus::Revoked`]. Subject cut-offs are not counted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().tokens.len()
    }

    /// Whether the store holds no revoked `jti` (see [`len`](Self::len)).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Every update leaves the state consistent before anything can panic,
        // so a poisoned lock still guards valid data.
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The subject's live cut-off, if any.
    fn cutoff(&self, sub: &str) -> Option<SystemTime> {
        self.read().subjects.get(sub, SystemTime::now).copied()
    }

    fn check_at(&self, token: &TokenRef<'_>, now: impl Fn() -> SystemTime) -> TokenStatus {
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

    fn revoke_token_at(
        &self,
        jti: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        if expires_at <= now {
            // The token is refused for having expired; nothing to remember.
            return Ok(());
        }
        let result = self.write().tokens.upsert(
            jti,
            (),
            Some(expires_at),
            now,
            // Revoking again never shortens a revocation.
            |(), held_until| held_until.is_some_and(|held| held < expires_at),
        );
        if result.is_ok() {
            self.inner.changes.send_replace(());
        }
        if result.is_err() {
            tracing::warn!(
                max_entries = self.inner.config.max_entries,
                "memory revocation store is full of live revoked tokens; refusing a new revocation"
            );
        }
        result
    }

    fn revoke_subject_at(
        &self,
        sub: &str,
        issued_before: SystemTime,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let forget_at = issued_before.checked_add(self.inner.config.subject_retention);
        if !table::is_live(forget_at, now) {
            // Every token it could revoke has outlived the retention.
            return Ok(());
        }
        let result = self.write().subjects.upsert(
            sub,
            issued_before,
            forget_at,
            now,
            // A cut-off only ever moves later.
            |held, _| issued_before > *held,
        );
        if result.is_ok() {
            self.inner.changes.send_replace(());
        }
        if result.is_err() {
            tracing::warn!(
                max_subjects = self.inner.config.max_subjects,
                "memory revocation store is full of live subject cut-offs; refusing a new one"
            );
        }
        result
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationStore for MemoryStore {
    fn check(&self, token: &TokenRef<'_>) -> Lookup {
        Lookup::Ready(Ok(self.check_at(token, SystemTime::now)))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        _sub: Option<&'a str>,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.revoke_token_at(jti, expires_at, SystemTime::now()) })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.revoke_subject_at(sub, issued_before, SystemTime::now()) })
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<()>> {
        Some(self.inner.changes.subscribe())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The families lock first and alone: revoking a family holds it and
        // then takes the state lock, so the reverse order could deadlock.
        let families = self.inner.families.len();
        let state = self.read();
        f.debug_struct("MemoryStore")
            .field("revoked_tokens", &state.tokens.len())
            .field("subject_cutoffs", &state.subjects.len())
            .field("refresh_families", &families)
            .field("max_entries", &self.inner.config.max_entries)
            .field("max_subjects", &self.inner.config.max_subjects)
            .field("subject_retention", &self.inner.config.subject_retention)
            .finish()
    }
}

impl MemoryStoreBuilder {
    /// A builder with the default limits (see [`MemoryStore::new`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_subjects: DEFAULT_MAX_SUBJECTS,
            subject_retention: DEFAULT_SUBJECT_RETENTION,
            max_families: DEFAULT_MAX_FAMILIES,
            max_throttle_keys: DEFAULT_MAX_THROTTLE_KEYS,
        }
    }

    /// The most revoked `jti`s held at once (default 1 000 000).
    ///
    /// When that many live revocations are held, revoking another `jti` fails
    /// with [`StoreErrorKind::CapacityExceeded`].
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// The most subject cut-offs held at once (default 100 000), counted apart
    /// from [`max_entries`](Self::max_entries).
    ///
    /// When that many live cut-offs are held, cutting off another subject fails
    /// with [`StoreErrorKind::CapacityExceeded`].
    #[must_use]
    pub fn max_subjects(mut self, max_subjects: usize) -> Self {
        self.max_subjects = max_subjects;
        self
    }

    /// How long a subject cut-off is kept after its instant (default 30 days).
    ///
    /// It must be at least the longest lifetime (`exp - iat`) of any token the
    /// cut-off should revoke: once it has passed, tokens issued before the
    /// cut-off are accepted again if they have not expired, and so are tokens
    /// of that subject without `iat`.
    #[must_use]
    pub fn subject_retention(mut self, subject_retention: Duration) -> Self {
        self.subject_retention = subject_retention;
        self
    }

    /// The most refresh-token families (logins) kept at once (default
    /// 1 000 000). Expired ones are purged to make room; a login beyond the
    /// limit fails with [`StoreErrorKind::CapacityExceeded`].
    #[must_use]
    pub fn max_families(mut self, max: usize) -> Self {
        self.max_families = max;
        self
    }

    /// The most throttle windows open at once (default 100 000); an attempt
    /// beyond it fails with [`StoreErrorKind::CapacityExceeded`] (the login
    /// is refused, never let through unthrottled).
    #[must_use]
    pub fn max_throttle_keys(mut self, max: usize) -> Self {
        self.max_throttle_keys = max;
        self
    }

    /// Builds the store.
    #[must_use]
    pub fn build(self) -> MemoryStore {
        let state = State {
            tokens: ExpiringTable::new(self.max_entries),
            subjects: ExpiringTable::new(self.max_subjects),
        };
        MemoryStore {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                families: families::Families::new(self.max_families),
                attempts: attempts::Attempts::new(self.max_throttle_keys),
                changes: tokio::sync::watch::Sender::new(()),
                config: self,
            }),
        }
    }
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);
    const HOUR: Duration = Duration::from_secs(60 * 60);

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn status_at(store: &MemoryStore, token: &TokenRef<'_>, now: SystemTime) -> TokenStatus {
        store.check_at(token, || now)
    }

    fn jti(jti: &str) -> TokenRef<'_> {
        TokenRef::new().with_jti(jti)
    }

    fn issued_to(sub: &str, issued_at: SystemTime) -> TokenRef<'_> {
        TokenRef::new().with_sub(sub).with_issued_at(issued_at)
    }

    fn ready(lookup: Lookup) -> TokenStatus {
        match lookup {
            Lookup::Ready(result) => result.expect("the memory store never fails a check"),
            Lookup::Pending(_) => panic!("the memory store must answer at once"),
        }
    }

    #[test]
    fn revoked_jti_is_reported_revoked() {
        let store = MemoryStore::new();
        store.revoke_token_at("a", t0() + HOUR, t0()).unwrap();

        assert_eq!(status_at(&store, &jti("a"), t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &jti("b"), t0()), TokenStatus::Active);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn token_without_jti_or_sub_is_active() {
        let store = MemoryStore::new();
        store.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        store.revoke_subject_at("alice", t0(), t0()).unwrap();

        assert_eq!(
            status_at(&store, &TokenRef::new(), t0()),
            TokenStatus::Active
        );
    }

    #[test]
    fn entry_is_forgotten_after_token_expiry() {
        let store = MemoryStore::builder().max_entries(1).build();
        store.revoke_token_at("a", t0() + SECOND, t0()).unwrap();

        let just_before = t0() + SECOND - Duration::from_micros(1);
        assert_eq!(
            status_at(&store, &jti("a"), just_before),
            TokenStatus::Revoked
        );
        assert_eq!(
            status_at(&store, &jti("a"), t0() + SECOND),
            TokenStatus::Active
        );

        // The expired entry makes room instead of filling the store.
        store
            .revoke_token_at("b", t0() + HOUR, t0() + SECOND)
            .unwrap();
        assert_eq!(store.len(), 1);
        let later = t0() + 2 * SECOND;
        assert_eq!(status_at(&store, &jti("a"), later), TokenStatus::Active);
        assert_eq!(status_at(&store, &jti("b"), later), TokenStatus::Revoked);
    }

    #[test]
    fn expired_entries_are_purged_once_the_table_grows() {
        let store = MemoryStore::new();
        for i in 0..table::MIN_PURGE_LEN {
            store
                .revoke_token_at(&format!("old-{i}"), t0() + SECOND, t0())
                .unwrap();
        }
        assert_eq!(store.len(), table::MIN_PURGE_LEN);

        store
            .revoke_token_at("new", t0() + HOUR, t0() + HOUR / 2)
            .unwrap();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn revoking_an_already_expired_token_is_a_no_op() {
        let store = MemoryStore::builder().max_entries(0).build();

        store.revoke_token_at("a", t0() - SECOND, t0()).unwrap();
        store.revoke_token_at("b", t0(), t0()).unwrap();
        assert!(store.is_empty());
    }

    #[test]
    fn revoking_a_jti_again_never_shortens_its_revocation() {
        let store = MemoryStore::new();
        store.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        store.revoke_token_at("a", t0() + SECOND, t0()).unwrap();

        assert_eq!(
            status_at(&store, &jti("a"), t0() + 2 * SECOND),
            TokenStatus::Revoked
        );

        store.revoke_token_at("a", t0() + 2 * HOUR, t0()).unwrap();
        assert_eq!(
            status_at(&store, &jti("a"), t0() + HOUR),
            TokenStatus::Revoked
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn full_store_refuses_new_revocation_instead_of_forgetting() {
        let store = MemoryStore::builder().max_entries(2).build();
        store.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        store.revoke_token_at("b", t0() + HOUR, t0()).unwrap();

        let err = store.revoke_token_at("c", t0() + HOUR, t0()).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::CapacityExceeded);
        for held in ["a", "b"] {
            assert_eq!(status_at(&store, &jti(held), t0()), TokenStatus::Revoked);
        }
        assert_eq!(status_at(&store, &jti("c"), t0()), TokenStatus::Active);
        assert_eq!(store.len(), 2);

        // Updating a jti already held needs no new slot.
        store.revoke_token_at("a", t0() + 2 * HOUR, t0()).unwrap();
    }

    #[test]
    fn full_store_accepts_again_once_an_entry_expires() {
        let store = MemoryStore::builder().max_entries(2).build();
        store.revoke_token_at("a", t0() + SECOND, t0()).unwrap();
        store.revoke_token_at("b", t0() + HOUR, t0()).unwrap();
        assert!(store.revoke_token_at("c", t0() + HOUR, t0()).is_err());

        store
            .revoke_token_at("c", t0() + HOUR, t0() + SECOND)
            .unwrap();
        assert_eq!(
            status_at(&store, &jti("c"), t0() + SECOND),
            TokenStatus::Revoked
        );
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn subject_cutoff_revokes_tokens_issued_before_it() {
        let store = MemoryStore::new();
        store.revoke_subject_at("alice", t0(), t0()).unwrap();

        let before = issued_to("alice", t0() - SECOND);
        let at = issued_to("alice", t0());
        let after = issued_to("alice", t0() + SECOND);
        let other = issued_to("bob", t0() - SECOND);
        assert_eq!(status_at(&store, &before, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &at, t0()), TokenStatus::Active);
        assert_eq!(status_at(&store, &after, t0()), TokenStatus::Active);
        assert_eq!(status_at(&store, &other, t0()), TokenStatus::Active);
        // Subject cut-offs are not counted as revoked jtis.
        assert!(store.is_empty());
    }

    #[test]
    fn token_issued_after_cutoff_in_same_second_stays_active() {
        let store = MemoryStore::new();
        let cutoff = t0() + Duration::from_millis(400);
        store.revoke_subject_at("alice", cutoff, cutoff).unwrap();

        let earlier = issued_to("alice", t0() + Duration::from_millis(399));
        let later = issued_to("alice", t0() + Duration::from_micros(400_001));
        assert_eq!(status_at(&store, &earlier, cutoff), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &later, cutoff), TokenStatus::Active);
    }

    #[test]
    fn token_without_iat_is_revoked_when_subject_has_cutoff() {
        let store = MemoryStore::new();
        store.revoke_subject_at("alice", t0(), t0()).unwrap();

        let no_iat = TokenRef::new().with_sub("alice");
        let other_no_iat = TokenRef::new().with_sub("bob");
        assert_eq!(status_at(&store, &no_iat, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &other_no_iat, t0()), TokenStatus::Active);
    }

    #[test]
    fn later_cutoff_replaces_earlier_but_earlier_never_moves_back() {
        let store = MemoryStore::new();
        let token = issued_to("alice", t0() + 5 * SECOND);

        store.revoke_subject_at("alice", t0(), t0()).unwrap();
        assert_eq!(status_at(&store, &token, t0()), TokenStatus::Active);

        store
            .revoke_subject_at("alice", t0() + 10 * SECOND, t0())
            .unwrap();
        assert_eq!(status_at(&store, &token, t0()), TokenStatus::Revoked);

        store
            .revoke_subject_at("alice", t0() + SECOND, t0())
            .unwrap();
        assert_eq!(status_at(&store, &token, t0()), TokenStatus::Revoked);
    }

    #[test]
    fn jti_and_subject_revocations_apply_independently() {
        let store = MemoryStore::new();
        store.revoke_token_at("a", t0() + HOUR, t0()).unwrap();
        store.revoke_subject_at("alice", t0(), t0()).unwrap();

        let revoked_jti = issued_to("bob", t0() + SECOND).with_jti("a");
        let revoked_sub = issued_to("alice", t0() - SECOND).with_jti("b");
        let neither = issued_to("alice", t0() + SECOND).with_jti("b");
        assert_eq!(status_at(&store, &revoked_jti, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &revoked_sub, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &neither, t0()), TokenStatus::Active);
    }

    #[test]
    fn subject_cutoff_is_forgotten_after_retention() {
        let store = MemoryStore::builder()
            .subject_retention(HOUR)
            .max_subjects(1)
            .build();
        store.revoke_subject_at("alice", t0(), t0()).unwrap();

        let no_iat = TokenRef::new().with_sub("alice");
        let just_before = t0() + HOUR - Duration::from_micros(1);
        assert_eq!(
            status_at(&store, &no_iat, just_before),
            TokenStatus::Revoked
        );
        assert_eq!(status_at(&store, &no_iat, t0() + HOUR), TokenStatus::Active);

        // The lapsed cut-off makes room for another subject.
        store
            .revoke_subject_at("bob", t0() + HOUR, t0() + HOUR)
            .unwrap();
    }

    #[test]
    fn cutoff_older_than_retention_is_a_no_op() {
        let store = MemoryStore::builder()
            .subject_retention(HOUR)
            .max_subjects(0)
            .build();

        store.revoke_subject_at("alice", t0() - HOUR, t0()).unwrap();
        let no_iat = TokenRef::new().with_sub("alice");
        assert_eq!(status_at(&store, &no_iat, t0()), TokenStatus::Active);
    }

    #[test]
    fn full_store_refuses_new_subject_cutoff_instead_of_forgetting() {
        let store = MemoryStore::builder().max_subjects(1).build();
        store.revoke_subject_at("alice", t0(), t0()).unwrap();

        let err = store.revoke_subject_at("bob", t0(), t0()).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::CapacityExceeded);
        let alice = issued_to("alice", t0() - SECOND);
        let bob = issued_to("bob", t0() - SECOND);
        assert_eq!(status_at(&store, &alice, t0()), TokenStatus::Revoked);
        assert_eq!(status_at(&store, &bob, t0()), TokenStatus::Active);

        // Moving an existing cut-off forward needs no new slot.
        store
            .revoke_subject_at("alice", t0() + SECOND, t0())
            .unwrap();
        assert_eq!(
            status_at(&store, &issued_to("alice", t0()), t0()),
            TokenStatus::Revoked
        );
    }

    #[test]
    fn clones_share_revocations() {
        let store = MemoryStore::new();
        let clone = store.clone();
        clone.revoke_token_at("a", t0() + HOUR, t0()).unwrap();

        assert_eq!(status_at(&store, &jti("a"), t0()), TokenStatus::Revoked);
    }

    #[tokio::test]
    async fn trait_methods_revoke_through_the_real_clock() {
        let store = MemoryStore::new();
        let store: &dyn RevocationStore = &store;
        let now = SystemTime::now();

        store.revoke_token("a", None, now + HOUR).await.unwrap();
        store.revoke_subject("alice", now + HOUR).await.unwrap();

        assert_eq!(ready(store.check(&jti("a"))), TokenStatus::Revoked);
        assert_eq!(
            ready(store.check(&issued_to("alice", now))),
            TokenStatus::Revoked
        );
        assert_eq!(ready(store.check(&jti("b"))), TokenStatus::Active);
    }

    #[tokio::test]
    async fn revocation_future_does_nothing_until_polled() {
        let store = MemoryStore::new();
        drop(store.revoke_token("a", None, SystemTime::now() + HOUR));

        assert!(store.is_empty());
    }

    #[test]
    fn debug_shows_counts_but_not_contents() {
        let store = MemoryStore::new();
        store
            .revoke_token_at("secret-jti", t0() + HOUR, t0())
            .unwrap();
        store.revoke_subject_at("secret-sub", t0(), t0()).unwrap();

        let debug = format!("{store:?}");
        assert!(debug.contains("revoked_tokens: 1"), "{debug}");
        assert!(debug.contains("subject_cutoffs: 1"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
