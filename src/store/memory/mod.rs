//! The embedded, in-process revocation store.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{
    Attempt, BoxFuture, Lookup, NewFamily, ProofUse, RefreshStore, RevocationStore, Rotated,
    Rotation, StoreError, ThrottleStore, TokenRef,
};
use crate::policy::DEFAULT_SUBJECT_RETENTION;
// Named in the docs, and in the tests.
#[cfg(any(doc, test))]
use super::{StoreErrorKind, TokenStatus};

mod attempts;
mod families;
mod proofs;
mod revocations;
mod table;

use attempts::Attempts;
use families::Families;
use proofs::Proofs;
use revocations::Revocations;

const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
const DEFAULT_MAX_SUBJECTS: usize = 100_000;
const DEFAULT_MAX_FAMILIES: usize = 1_000_000;
const DEFAULT_MAX_THROTTLE_KEYS: usize = 100_000;
const DEFAULT_MAX_DPOP_PROOFS: usize = 1_000_000;

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
/// [`LoginThrottle`](crate::issue::LoginThrottle). It keeps the DPoP proofs
/// used, for as long as they could be replayed (bounded by
/// [`max_dpop_proofs`](MemoryStoreBuilder::max_dpop_proofs)).
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
    max_dpop_proofs: usize,
}

struct Inner {
    config: MemoryStoreBuilder,
    revocations: Revocations,
    families: Families,
    attempts: Attempts,
    proofs: Proofs,
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
        self.inner.revocations.len()
    }

    /// Whether the store holds no revoked `jti` (see [`len`](Self::len)).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationStore for MemoryStore {
    fn check(&self, token: &TokenRef<'_>) -> Lookup {
        Lookup::Ready(Ok(self.inner.revocations.check_at(token, SystemTime::now)))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        _sub: Option<&'a str>,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner
                .revocations
                .revoke_token_at(jti, expires_at, SystemTime::now())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner
                .revocations
                .revoke_subject_at(sub, issued_before, SystemTime::now())
        })
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<()>> {
        Some(self.inner.revocations.subscribe())
    }

    fn use_proof<'a>(
        &'a self,
        proof_id: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<ProofUse, StoreError>> {
        Box::pin(std::future::ready(self.inner.proofs.use_at(
            proof_id,
            until,
            SystemTime::now(),
        )))
    }
}

impl RefreshStore for MemoryStore {
    fn create_family<'a>(
        &'a self,
        new: &'a NewFamily<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.inner.families.create(new, SystemTime::now()) })
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<Rotated, StoreError>> {
        Box::pin(async move {
            self.inner
                .families
                .rotate(rotation, &self.inner.revocations)
        })
    }

    fn subject_retention(&self) -> Option<Duration> {
        Some(self.inner.config.subject_retention)
    }

    fn revoke_family<'a>(
        &'a self,
        sub: &'a str,
        family: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let now = SystemTime::now();
            self.inner
                .families
                .revoke(sub, family, &self.inner.revocations, now)
        })
    }
}

impl ThrottleStore for MemoryStore {
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        limit: u32,
        window: Duration,
    ) -> BoxFuture<'a, Result<Attempt, StoreError>> {
        Box::pin(async move {
            self.inner
                .attempts
                .attempt_at(key, limit, window, Instant::now())
        })
    }

    fn reset<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.attempts.reset(key);
            Ok(())
        })
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The families lock first and alone: revoking a family holds it and
        // then takes the revocations lock, so the reverse order could
        // deadlock.
        let families = self.inner.families.len();
        let (revoked_tokens, subject_cutoffs) = self.inner.revocations.counts();
        f.debug_struct("MemoryStore")
            .field("revoked_tokens", &revoked_tokens)
            .field("subject_cutoffs", &subject_cutoffs)
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
            max_dpop_proofs: DEFAULT_MAX_DPOP_PROOFS,
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

    /// The most DPoP proofs remembered at once (default 1 000 000), each
    /// for its replay window; a DPoP request beyond it is refused with
    /// [`StoreErrorKind::CapacityExceeded`] (503), never let through with
    /// its proof unrecorded.
    #[must_use]
    pub fn max_dpop_proofs(mut self, max: usize) -> Self {
        self.max_dpop_proofs = max;
        self
    }

    /// Builds the store.
    #[must_use]
    pub fn build(self) -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                revocations: Revocations::new(
                    self.max_entries,
                    self.max_subjects,
                    self.subject_retention,
                ),
                families: Families::new(self.max_families),
                attempts: Attempts::new(self.max_throttle_keys),
                proofs: Proofs::new(self.max_dpop_proofs),
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
    use crate::store::AccessRecord;

    const HOUR: Duration = Duration::from_secs(60 * 60);

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

    fn login(family: &str, now: SystemTime) -> NewFamily<'_> {
        NewFamily {
            sub: "alice",
            family,
            token_hash: "hash-0",
            issued_at: now,
            expires_at: now + HOUR,
            access: AccessRecord::new(family, now + HOUR),
            claims: "{}",
            keep_until: now + HOUR,
            issuer: "issuer",
        }
    }

    fn is_capacity_exceeded<T>(result: Result<T, StoreError>) -> bool {
        result.is_err_and(|err| err.kind() == StoreErrorKind::CapacityExceeded)
    }

    #[tokio::test]
    async fn clones_share_revocations() {
        let store = MemoryStore::new();
        let clone = store.clone();
        clone
            .revoke_token("a", None, SystemTime::now() + HOUR)
            .await
            .unwrap();

        assert_eq!(ready(store.check(&jti("a"))), TokenStatus::Revoked);
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

    #[tokio::test]
    async fn the_builders_limits_reach_every_table() {
        let store = MemoryStore::builder()
            .max_entries(1)
            .max_subjects(2)
            .max_families(3)
            .max_throttle_keys(4)
            .build();
        let now = SystemTime::now();
        let keys = ["a", "b", "c", "d", "e"];

        for jti in &keys[..1] {
            store.revoke_token(jti, None, now + HOUR).await.unwrap();
        }
        assert!(is_capacity_exceeded(
            store.revoke_token(keys[1], None, now + HOUR).await
        ));
        for sub in &keys[..2] {
            store.revoke_subject(sub, now).await.unwrap();
        }
        assert!(is_capacity_exceeded(
            store.revoke_subject(keys[2], now).await
        ));
        for family in &keys[..3] {
            store.create_family(&login(family, now)).await.unwrap();
        }
        assert!(is_capacity_exceeded(
            store.create_family(&login(keys[3], now)).await
        ));
        for key in &keys[..4] {
            store.attempt(key, 5, HOUR).await.unwrap();
        }
        assert!(is_capacity_exceeded(store.attempt(keys[4], 5, HOUR).await));
    }

    #[tokio::test]
    async fn the_subject_retention_reaches_the_cutoffs() {
        let store = MemoryStore::builder().subject_retention(HOUR).build();
        let now = SystemTime::now();
        let no_iat = TokenRef::new().with_sub("alice");

        // Older than the retention: every token it could revoke is forgotten.
        store.revoke_subject("alice", now - 2 * HOUR).await.unwrap();
        assert_eq!(ready(store.check(&no_iat)), TokenStatus::Active);

        store.revoke_subject("alice", now).await.unwrap();
        assert_eq!(ready(store.check(&no_iat)), TokenStatus::Revoked);
        assert_eq!(RefreshStore::subject_retention(&store), Some(HOUR));
    }

    #[tokio::test]
    async fn revoking_a_family_revokes_its_access_tokens_in_the_store() {
        let store = MemoryStore::new();
        let mut changes = store.changes().expect("the memory store signals changes");
        changes.mark_unchanged();
        store
            .create_family(&login("family-jti", SystemTime::now()))
            .await
            .unwrap();
        assert_eq!(ready(store.check(&jti("family-jti"))), TokenStatus::Active);

        store.revoke_family("alice", "family-jti").await.unwrap();
        assert_eq!(ready(store.check(&jti("family-jti"))), TokenStatus::Revoked);
        assert!(changes.has_changed().unwrap());
    }

    #[tokio::test]
    async fn debug_shows_counts_but_not_contents() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        store
            .revoke_token("secret-jti", None, now + HOUR)
            .await
            .unwrap();
        store.revoke_subject("secret-sub", now).await.unwrap();

        let debug = format!("{store:?}");
        assert!(debug.contains("revoked_tokens: 1"), "{debug}");
        assert!(debug.contains("subject_cutoffs: 1"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
