//! Refresh-token families in memory.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use super::revocations::Revocations;
use super::table::ExpiringTable;
use crate::store::StoreError;
use crate::store::refresh::{NewFamily, Rotated, Rotation};

pub(super) struct Families {
    /// `(sub, family)` -> the family, kept until the family's `keep_until`.
    state: Mutex<State>,
}

type State = ExpiringTable<(Box<str>, Box<str>), Family>;

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
    revoked: bool,
    issuer: Box<str>,
    rotations: u32,
}

impl Families {
    pub(super) fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(ExpiringTable::new(max)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the map consistent before anything can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Opens the family of a new login.
    pub(super) fn create(&self, new: &NewFamily<'_>, now: SystemTime) -> Result<(), StoreError> {
        let mut state = self.lock();
        let family = Family {
            current: Box::from(new.token_hash),
            issued_at: new.issued_at,
            expires_at: new.expires_at,
            previous: None,
            replaced: HashSet::new(),
            access: vec![(Box::from(new.access.jti), new.access.revoke_until)],
            claims: Box::from(new.claims),
            revoked: false,
            issuer: Box::from(new.issuer),
            rotations: 0,
        };
        let key = (Box::from(new.sub), Box::from(new.family));
        let result = state.insert(key, family, Some(new.keep_until), now);
        if result.is_err() {
            tracing::warn!(
                max_families = state.max(),
                "memory store is full of live refresh families; refusing a new login"
            );
        }
        result
    }

    /// Rotates a family's refresh token. A reused token, or a family cut off
    /// with its subject, revokes the family's access tokens in `revocations`.
    pub(super) fn rotate(
        &self,
        rotation: &Rotation<'_>,
        revocations: &Revocations,
    ) -> Result<Rotated, StoreError> {
        let now = rotation.now;
        let mut state = self.lock();
        let key = (Box::from(rotation.sub), Box::from(rotation.family));
        let Some(entry) = state
            .get_mut(&key, now)
            .filter(|entry| *entry.value.issuer == *rotation.issuer)
        else {
            return Ok(Rotated::Unknown);
        };
        let family = &mut entry.value;
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
                family.kill(revocations, now)?;
                return Ok(Rotated::Reused);
            }
            return Ok(Rotated::Unknown);
        }
        if revocations
            .cutoff(rotation.sub)
            .is_some_and(|cutoff| family.issued_at < cutoff)
        {
            family.kill(revocations, now)?;
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
        let claims = family.claims.to_string();
        entry.extend_to(rotation.keep_until);
        Ok(Rotated::Rotated { claims })
    }

    /// Revokes a family and its access tokens in `revocations`.
    pub(super) fn revoke(
        &self,
        sub: &str,
        family: &str,
        revocations: &Revocations,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        // Expired but not yet purged counts too: its access tokens are
        // revoked for as long as each of them still needs it.
        match state.peek_mut(&(Box::from(sub), Box::from(family))) {
            Some(entry) if !entry.value.revoked => entry.value.kill(revocations, now),
            _ => Ok(()),
        }
    }
}

impl Family {
    /// Revokes a family: revokes every access token issued from it, then
    /// marks it. Runs under the families lock, so no rotation can slip in
    /// between. When a revocation fails (the store is full) the family is
    /// not marked, so that a retry revokes what is left.
    fn kill(&mut self, revocations: &Revocations, now: SystemTime) -> Result<(), StoreError> {
        for (jti, until) in &self.access {
            revocations.revoke_token_at(jti, *until, now)?;
        }
        self.revoked = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::refresh::AccessRecord;
    use crate::store::{StoreErrorKind, TokenRef, TokenStatus};

    const HOUR: Duration = Duration::from_secs(60 * 60);

    fn revocations() -> Revocations {
        Revocations::new(16, 16, HOUR)
    }

    fn login<'a>(family: &'a str, now: SystemTime, keep_until: SystemTime) -> NewFamily<'a> {
        NewFamily {
            sub: "alice",
            family,
            token_hash: "hash-0",
            issued_at: now,
            expires_at: keep_until,
            access: AccessRecord::new("jti-0", now + Duration::from_secs(60)),
            claims: "{}",
            keep_until,
            issuer: "issuer",
        }
    }

    fn rotation<'a>(
        family: &'a str,
        presented_hash: &'a str,
        new_hash: &'a str,
        now: SystemTime,
    ) -> Rotation<'a> {
        Rotation {
            sub: "alice",
            family,
            presented_hash,
            new_hash,
            now,
            expires_at: now + HOUR,
            access: AccessRecord::new("jti-n", now + Duration::from_secs(60)),
            grace: Duration::ZERO,
            keep_until: now + HOUR,
            issuer: "issuer",
            max_rotations: 10,
        }
    }

    #[test]
    fn a_full_family_table_refuses_a_login_until_a_family_expires() {
        let families = Families::new(1);
        let revocations = revocations();
        let now = SystemTime::now();
        families
            .create(&login("old", now - HOUR, now - Duration::from_secs(1)), now)
            .unwrap();
        // The expired family makes room.
        families
            .create(&login("live", now, now + HOUR), now)
            .unwrap();
        let refused = families.create(&login("more", now, now + HOUR), now);
        assert_eq!(
            refused.unwrap_err().kind(),
            StoreErrorKind::CapacityExceeded
        );
        // The live family was not forgotten for it.
        assert!(matches!(
            families.rotate(&rotation("live", "hash-0", "hash-1", now), &revocations),
            Ok(Rotated::Rotated { .. })
        ));
    }

    #[test]
    fn a_rotation_keeps_its_family_until_the_later_keep_until() {
        let families = Families::new(16);
        let revocations = revocations();
        let now = SystemTime::now();
        families.create(&login("f", now, now + HOUR), now).unwrap();
        let later = now + HOUR / 2;
        assert!(matches!(
            families.rotate(&rotation("f", "hash-0", "hash-1", later), &revocations),
            Ok(Rotated::Rotated { .. })
        ));

        // Past the login's keep_until, inside the rotation's.
        let past_first = now + HOUR + Duration::from_secs(1);
        assert!(matches!(
            families.rotate(&rotation("f", "hash-1", "hash-2", past_first), &revocations),
            Ok(Rotated::Rotated { .. })
        ));
        // Past the last rotation's keep_until, the family is gone.
        let gone = past_first + HOUR;
        assert_eq!(
            families
                .rotate(&rotation("f", "hash-2", "hash-3", gone), &revocations)
                .unwrap(),
            Rotated::Unknown
        );
    }

    #[test]
    fn a_reused_token_revokes_the_familys_access_tokens() {
        let families = Families::new(16);
        let revocations = revocations();
        let now = SystemTime::now();
        families.create(&login("f", now, now + HOUR), now).unwrap();
        families
            .rotate(&rotation("f", "hash-0", "hash-1", now), &revocations)
            .unwrap();
        let access = |jti| TokenRef::new().with_jti(jti);
        let status = |jti| revocations.check_at(&access(jti), || now);
        assert_eq!(status("jti-0"), TokenStatus::Active);

        assert_eq!(
            families
                .rotate(&rotation("f", "hash-0", "hash-2", now), &revocations)
                .unwrap(),
            Rotated::Reused
        );
        for jti in ["jti-0", "jti-n"] {
            assert_eq!(status(jti), TokenStatus::Revoked, "{jti}");
        }
    }
}
