//! Refresh-token families in memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use super::MemoryStore;
use crate::store::refresh::{NewFamily, RefreshStore, Rotated, Rotation};
use crate::store::{BoxFuture, StoreError, StoreErrorKind};

/// Below this many families, expired ones are not looked for.
const MIN_PURGE_LEN: usize = 1024;

#[derive(Default)]
pub(super) struct Families {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `(sub, family)` -> the family.
    families: HashMap<(Box<str>, Box<str>), Family>,
    next_purge_len: usize,
    /// No family may be forgotten before this: until then a scan would
    /// free nothing, so a full table refuses without one.
    none_expires_before: Option<SystemTime>,
}

struct Family {
    current: Box<str>,
    issued_at: SystemTime,
    expires_at: SystemTime,
    /// The token `current` replaced, and when.
    previous: Option<(Box<str>, SystemTime)>,
    /// Every token the family replaced.
    replaced: HashSet<Box<str>>,
    /// `jti` and until when to revoke it, for each access token issued.
    access: Vec<(Box<str>, SystemTime)>,
    claims: Box<str>,
    keep_until: SystemTime,
    revoked: bool,
    issuer: Box<str>,
    rotations: u32,
}

impl Families {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the map consistent before anything can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().families.len()
    }
}

impl State {
    /// Makes room for one more family, or says there is none.
    fn reserve(&mut self, max: usize, now: SystemTime) -> Result<(), StoreError> {
        if self.families.len() >= self.next_purge_len.max(MIN_PURGE_LEN).min(max)
            && self.none_expires_before.is_none_or(|at| at <= now)
        {
            self.families.retain(|_, family| family.keep_until > now);
            self.next_purge_len = self.families.len().saturating_mul(2);
            self.none_expires_before = self.families.values().map(|f| f.keep_until).min();
        }
        if self.families.len() >= max {
            tracing::warn!(
                max_families = max,
                "memory store is full of live refresh families; refusing a new login"
            );
            return Err(StoreError::new(StoreErrorKind::CapacityExceeded));
        }
        Ok(())
    }
}

impl MemoryStore {
    /// Revokes a family: revokes every access token issued from it, then
    /// marks it. Runs under the families lock, so no rotation can slip in
    /// between. When a revocation fails (the store is full) the family is
    /// not marked, so that a retry revokes what is left.
    fn kill(&self, family: &mut Family, now: SystemTime) -> Result<(), StoreError> {
        for (jti, until) in &family.access {
            self.revoke_token_at(jti, *until, now)?;
        }
        family.revoked = true;
        Ok(())
    }

    fn rotate_at(&self, rotation: &Rotation<'_>) -> Result<Rotated, StoreError> {
        let now = rotation.now;
        let mut state = self.inner.families.lock();
        let key = (Box::from(rotation.sub), Box::from(rotation.family));
        let Some(family) = state
            .families
            .get_mut(&key)
            .filter(|family| family.keep_until > now && *family.issuer == *rotation.issuer)
        else {
            return Ok(Rotated::Unknown);
        };
        if family.revoked {
            return Ok(Rotated::Revoked);
        }
        let presented = rotation.presented_hash;
        let is_current = *family.current == *presented;
        // Either side of the rotation instant: a concurrent request may have
        // read the clock before the one that rotated. Never with no grace.
        let in_grace = !is_current
            && !rotation.grace.is_zero()
            && family.previous.as_ref().is_some_and(|(previous, at)| {
                let apart = now
                    .duration_since(*at)
                    .or_else(|_| at.duration_since(now))
                    .unwrap_or_default();
                **previous == *presented && apart <= rotation.grace
            });
        if !is_current && !in_grace {
            if family.replaced.contains(presented) {
                self.kill(family, now)?;
                return Ok(Rotated::Reused);
            }
            return Ok(Rotated::Unknown);
        }
        if self
            .cutoff(rotation.sub)
            .is_some_and(|cutoff| family.issued_at < cutoff)
        {
            self.kill(family, now)?;
            return Ok(Rotated::Revoked);
        }
        if (is_current && family.expires_at <= now) || family.rotations >= rotation.max_rotations {
            return Ok(Rotated::Expired);
        }
        family.rotations += 1;
        let replaced = std::mem::replace(&mut family.current, Box::from(rotation.new_hash));
        if is_current {
            family.previous = Some((replaced.clone(), now));
        }
        // Within the grace period the successor handed out before is orphaned:
        // presenting it later counts as reuse.
        family.replaced.insert(replaced);
        family.issued_at = now;
        family.expires_at = rotation.expires_at;
        family.access.retain(|(_, until)| *until > now);
        family
            .access
            .push((Box::from(rotation.access.jti), rotation.access.revoke_until));
        family.keep_until = family.keep_until.max(rotation.keep_until);
        Ok(Rotated::Rotated {
            claims: family.claims.to_string(),
        })
    }
}

impl RefreshStore for MemoryStore {
    fn create_family<'a>(
        &'a self,
        new: &'a NewFamily<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut state = self.inner.families.lock();
            state.reserve(self.inner.config.max_families, SystemTime::now())?;
            state.families.insert(
                (Box::from(new.sub), Box::from(new.family)),
                Family {
                    current: Box::from(new.token_hash),
                    issued_at: new.issued_at,
                    expires_at: new.expires_at,
                    previous: None,
                    replaced: HashSet::new(),
                    access: vec![(Box::from(new.access.jti), new.access.revoke_until)],
                    claims: Box::from(new.claims),
                    keep_until: new.keep_until,
                    revoked: false,
                    issuer: Box::from(new.issuer),
                    rotations: 0,
                },
            );
            Ok(())
        })
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<Rotated, StoreError>> {
        Box::pin(async move { self.rotate_at(rotation) })
    }

    fn subject_retention(&self) -> Option<std::time::Duration> {
        Some(self.inner.config.subject_retention)
    }

    fn revoke_family<'a>(
        &'a self,
        sub: &'a str,
        family: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let now = SystemTime::now();
            let mut state = self.inner.families.lock();
            match state.families.get_mut(&(Box::from(sub), Box::from(family))) {
                Some(family) if !family.revoked => self.kill(family, now),
                _ => Ok(()),
            }
        })
    }
}
