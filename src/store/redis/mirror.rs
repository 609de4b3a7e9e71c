//! The local mirror: revocation state in process memory, kept current by
//! Redis. A check is a lock-free flag read, a read lock and a hash lookup.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::keys::Event;
use crate::store::{StoreError, StoreErrorKind, TokenRef, TokenStatus};

/// A 128-bit fingerprint of a `jti` under per-process random keys. Keeping
/// fingerprints instead of the ids keeps an entry at about 25 bytes; two ids
/// sharing one is a 2^-128 event, and would over-revoke, never under-revoke.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprint(u64, u64);

impl std::hash::Hash for Fingerprint {
    // Already uniformly random: half of it is a good hash as it is.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// Passes a fingerprint's own bits through as its hash.
#[derive(Default)]
pub(crate) struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

#[derive(Default)]
pub(crate) struct Snapshot {
    tokens: HashMap<Fingerprint, u64, BuildHasherDefault<FingerprintHasher>>,
    cutoffs: HashMap<Box<str>, i64>,
    /// While a reload runs: every event applied since it began, which its
    /// scan may have missed, kept through its [`Reloading::replace`].
    applied_during_reload: Option<Vec<Event>>,
}

pub(crate) struct Mirror {
    state: RwLock<Snapshot>,
    synced: AtomicBool,
    /// The state is trusted until this instant (nanoseconds after `epoch`),
    /// renewed by each successful health check. If the background task stops
    /// for any reason, the lease runs out and checks fail instead of
    /// answering from a frozen copy.
    lease_until: AtomicU64,
    epoch: Instant,
    resyncs: AtomicU64,
    catch_ups: AtomicU64,
    keys: [RandomState; 2],
    /// Bumped after every change, for [`TokenWatch`](crate::watch::TokenWatch)es.
    changes: tokio::sync::watch::Sender<()>,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Microseconds since the epoch, as the cut-offs are kept.
pub(crate) fn micros(time: SystemTime) -> i64 {
    crate::claims::NumericDate::from_system_time(time).as_micros()
}

impl Mirror {
    pub(crate) fn new() -> Self {
        Self {
            state: RwLock::new(Snapshot::default()),
            synced: AtomicBool::new(false),
            lease_until: AtomicU64::new(0),
            epoch: Instant::now(),
            resyncs: AtomicU64::new(0),
            catch_ups: AtomicU64::new(0),
            keys: [RandomState::new(), RandomState::new()],
            changes: tokio::sync::watch::Sender::new(()),
        }
    }

    fn fingerprint(&self, jti: &str) -> Fingerprint {
        Fingerprint(self.keys[0].hash_one(jti), self.keys[1].hash_one(jti))
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
            && self.elapsed_nanos() < self.lease_until.load(Ordering::Acquire)
    }

    /// Trusts the state for `lease` more.
    pub(crate) fn renew(&self, lease: Duration) {
        let until = self
            .elapsed_nanos()
            .saturating_add(u64::try_from(lease.as_nanos()).unwrap_or(u64::MAX));
        self.lease_until.store(until, Ordering::Release);
    }

    /// Renews the lease of a mirror that is synchronised (a reload of a
    /// connected mirror proves Redis is there), never of one that is not.
    pub(crate) fn renew_if_synced(&self, lease: Duration) {
        if self.synced.load(Ordering::Acquire) {
            self.renew(lease);
        }
    }

    pub(crate) fn set_synced(&self, synced: bool) {
        if !synced {
            self.lease_until.store(0, Ordering::Release);
        }
        let was = self.synced.swap(synced, Ordering::AcqRel);
        if was && !synced {
            tracing::warn!(
                "revocation mirror lost Redis; answering 503 until it has resynchronised"
            );
            // Token watches re-check now, and count their time without answers.
            self.changes.send_replace(());
        }
    }

    /// How many full resynchronisations have completed.
    /// Records a resynchronisation from the revocation log (also a resync).
    pub(crate) fn count_catch_up(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        self.catch_ups.fetch_add(1, Ordering::Relaxed);
        self.changes.send_replace(());
    }

    /// How many resynchronisations were catch-ups from the log.
    pub(crate) fn catch_ups(&self) -> u64 {
        self.catch_ups.load(Ordering::Relaxed)
    }

    pub(crate) fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }

    pub(crate) fn check(&self, token: &TokenRef<'_>) -> Result<TokenStatus, StoreError> {
        if !self.is_synced() {
            return Err(StoreError::new(StoreErrorKind::NotSynchronized));
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if let Some(jti) = token.jti
            && !state.tokens.is_empty()
            && let Some(&expires) = state.tokens.get(&self.fingerprint(jti))
            && expires > now_secs()
        {
            return Ok(TokenStatus::Revoked);
        }
        if let Some(sub) = token.sub
            && let Some(&cutoff) = state.cutoffs.get(sub)
            && token.issued_at.is_none_or(|iat| micros(iat) < cutoff)
        {
            return Ok(TokenStatus::Revoked);
        }
        Ok(TokenStatus::Active)
    }

    pub(crate) fn apply(&self, event: &Event) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        Self::apply_to(&mut state, event, self);
        if let Some(applied) = &mut state.applied_during_reload {
            applied.push(event.clone());
        }
        drop(state);
        self.changes.send_replace(());
    }

    /// A receiver told of every change (and of every resynchronisation).
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<()> {
        self.changes.subscribe()
    }

    fn apply_to(state: &mut Snapshot, event: &Event, mirror: &Self) {
        match event {
            Event::Token {
                jti,
                expires_at_secs,
            } => {
                let entry = state.tokens.entry(mirror.fingerprint(jti)).or_insert(0);
                *entry = (*entry).max(*expires_at_secs);
            }
            Event::Cutoff { sub, micros } => {
                let entry = state.cutoffs.entry(sub.as_str().into()).or_insert(i64::MIN);
                *entry = (*entry).max(*micros);
            }
        }
    }

    /// Begins a reload: from now until its [`Reloading::replace`], what is
    /// applied is also kept aside, so that the replacement, read by a scan
    /// that may predate it, cannot undo it. A revocation this instance
    /// wrote is applied once Redis acknowledged it; one another instance
    /// wrote is applied as its message arrives; either may land in the
    /// middle of a scan.
    pub(crate) fn reloading(&self) -> Reloading<'_> {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        // One task reloads, one reload at a time: a second would drop the
        // first one's events.
        debug_assert!(state.applied_during_reload.is_none());
        state.applied_during_reload = Some(Vec::new());
        Reloading { mirror: self }
    }

    /// Forgets token entries past their expiry. Cut-offs expire in Redis
    /// after their retention and drop out at the next resync.
    pub(crate) fn purge_expired(&self) {
        let now = now_secs();
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.tokens.retain(|_, expires| *expires > now);
    }

    /// Revoked-token entries held.
    pub(crate) fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .tokens
            .len()
    }
}

/// A reload under way (see [`Mirror::reloading`]); dropped without its
/// replacement (the reload failed), it stops keeping events aside.
pub(crate) struct Reloading<'m> {
    mirror: &'m Mirror,
}

impl Reloading<'_> {
    /// Replaces the whole state with what Redis holds, as read by the
    /// reload, plus what was applied since it began.
    pub(crate) fn replace(self, events: &[Event]) {
        let mirror = self.mirror;
        let mut fresh = Snapshot::default();
        fresh.tokens.reserve(events.len());
        for event in events {
            Mirror::apply_to(&mut fresh, event, mirror);
        }
        let mut state = mirror.state.write().unwrap_or_else(|e| e.into_inner());
        for event in state.applied_during_reload.take().unwrap_or_default() {
            Mirror::apply_to(&mut fresh, &event, mirror);
        }
        *state = fresh;
        drop(state);
        mirror.resyncs.fetch_add(1, Ordering::Relaxed);
        mirror.changes.send_replace(());
    }
}

impl Drop for Reloading<'_> {
    fn drop(&mut self) {
        self.mirror
            .state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .applied_during_reload = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synced() -> Mirror {
        let mirror = Mirror::new();
        mirror.renew(Duration::from_secs(60));
        mirror.set_synced(true);
        mirror
    }

    #[test]
    fn mirror_stops_answering_when_its_lease_runs_out() {
        let mirror = Mirror::new();
        mirror.renew(Duration::from_millis(30));
        mirror.set_synced(true);
        assert!(mirror.check(&TokenRef::new().with_jti("a")).is_ok());
        std::thread::sleep(Duration::from_millis(40));
        let error = mirror.check(&TokenRef::new().with_jti("a")).unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::NotSynchronized);
    }

    #[test]
    fn unsynchronised_mirror_never_answers_active() {
        let mirror = Mirror::new();
        let error = mirror.check(&TokenRef::new().with_jti("a")).unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::NotSynchronized);
    }

    #[test]
    fn applied_token_event_revokes_until_expiry() {
        let mirror = synced();
        let token = TokenRef::new().with_jti("a");
        mirror.apply(&Event::Token {
            jti: "a".into(),
            expires_at_secs: now_secs() + 60,
        });
        assert_eq!(mirror.check(&token).unwrap(), TokenStatus::Revoked);
        assert_eq!(
            mirror.check(&TokenRef::new().with_jti("b")).unwrap(),
            TokenStatus::Active
        );
        mirror.apply(&Event::Token {
            jti: "old".into(),
            expires_at_secs: now_secs() - 1,
        });
        assert_eq!(
            mirror.check(&TokenRef::new().with_jti("old")).unwrap(),
            TokenStatus::Active
        );
        mirror.purge_expired();
        assert_eq!(mirror.len(), 1);
    }

    #[test]
    fn cutoff_revokes_older_tokens_and_never_moves_back() {
        let mirror = synced();
        let now = SystemTime::now();
        mirror.apply(&Event::Cutoff {
            sub: "alice".into(),
            micros: micros(now),
        });
        mirror.apply(&Event::Cutoff {
            sub: "alice".into(),
            micros: micros(now - Duration::from_secs(3600)),
        });
        let older = TokenRef::new()
            .with_sub("alice")
            .with_issued_at(now - Duration::from_millis(1));
        let newer = TokenRef::new()
            .with_sub("alice")
            .with_issued_at(now + Duration::from_millis(1));
        assert_eq!(mirror.check(&older).unwrap(), TokenStatus::Revoked);
        assert_eq!(mirror.check(&newer).unwrap(), TokenStatus::Active);
        assert_eq!(
            mirror.check(&TokenRef::new().with_sub("alice")).unwrap(),
            TokenStatus::Revoked
        );
    }

    #[test]
    fn replace_drops_what_redis_no_longer_holds() {
        let mirror = synced();
        mirror.apply(&Event::Token {
            jti: "gone".into(),
            expires_at_secs: now_secs() + 60,
        });
        mirror.reloading().replace(&[Event::Token {
            jti: "kept".into(),
            expires_at_secs: now_secs() + 60,
        }]);
        assert_eq!(
            mirror.check(&TokenRef::new().with_jti("gone")).unwrap(),
            TokenStatus::Active
        );
        assert_eq!(
            mirror.check(&TokenRef::new().with_jti("kept")).unwrap(),
            TokenStatus::Revoked
        );
    }

    #[test]
    fn a_reload_keeps_what_was_applied_after_it_began() {
        let mirror = synced();
        let revoked = |jti: &str| Event::Token {
            jti: jti.into(),
            expires_at_secs: now_secs() + 60,
        };
        let status = |jti: &str| mirror.check(&TokenRef::new().with_jti(jti)).unwrap();
        mirror.apply(&revoked("before"));
        let reload = mirror.reloading();
        // Acknowledged by Redis after the reload's scan read past its key.
        mirror.apply(&revoked("during"));
        mirror.apply(&Event::Cutoff {
            sub: "alice".into(),
            micros: micros(SystemTime::now()),
        });
        reload.replace(&[revoked("scanned")]);
        assert_eq!(status("during"), TokenStatus::Revoked);
        assert_eq!(status("scanned"), TokenStatus::Revoked);
        let alice = TokenRef::new()
            .with_sub("alice")
            .with_issued_at(SystemTime::now() - Duration::from_secs(1));
        assert_eq!(mirror.check(&alice).unwrap(), TokenStatus::Revoked);
        // Applied before the reload began: the scan is the truth for it.
        assert_eq!(status("before"), TokenStatus::Active);

        // A reload that failed keeps nothing aside for the next one.
        drop(mirror.reloading());
        mirror.apply(&revoked("after a failed reload"));
        mirror.reloading().replace(&[]);
        assert_eq!(status("after a failed reload"), TokenStatus::Active);
    }
}
