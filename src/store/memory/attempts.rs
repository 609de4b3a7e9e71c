//! Attempt counters in memory.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::MemoryStore;
use super::table::ExpiringTable;
use crate::store::throttle::{Attempt, ThrottleStore};
use crate::store::{BoxFuture, StoreError};

pub(super) struct Attempts {
    /// Key -> attempts counted in its open window; the entry expires when the
    /// window closes.
    windows: Mutex<ExpiringTable<Box<str>, u32, Instant>>,
}

impl Attempts {
    pub(super) fn new(max: usize) -> Self {
        Self {
            windows: Mutex::new(ExpiringTable::new(max)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ExpiringTable<Box<str>, u32, Instant>> {
        // Every update leaves the table consistent before anything can panic.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryStore {
    fn attempt_at(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Result<Attempt, StoreError> {
        let mut windows = self.inner.attempts.lock();
        let (count, closes_at) = match windows.get_mut(key, now) {
            Some(open) => {
                open.value = open.value.saturating_add(1);
                (open.value, open.expires_at())
            }
            None => {
                // No window, or a closed one: this attempt opens a new one.
                let closes_at = Some(now + window);
                let opened = windows.upsert(key, 1, closes_at, now, |_, _| true);
                if let Err(full) = opened {
                    tracing::warn!(
                        max_throttle_keys = windows.max(),
                        "memory store is full of open throttle windows; refusing an attempt"
                    );
                    return Err(full);
                }
                (1, closes_at)
            }
        };
        Ok(if count > limit {
            Attempt::Blocked {
                retry_after: closes_at.map_or(Duration::ZERO, |at| at - now),
            }
        } else {
            Attempt::Allowed {
                remaining: limit - count,
            }
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
        Box::pin(async move { self.attempt_at(key, limit, window, Instant::now()) })
    }

    fn reset<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.attempts.lock().remove(key);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreErrorKind;

    #[test]
    fn a_full_table_refuses_new_keys_until_a_window_closes() {
        let store = MemoryStore::builder().max_throttle_keys(2).build();
        let now = Instant::now();
        let window = Duration::from_secs(60);
        store.attempt_at("a", 5, window, now).unwrap();
        store
            .attempt_at("b", 5, window, now + Duration::from_secs(30))
            .unwrap();
        let refused = store.attempt_at("c", 5, window, now + Duration::from_secs(1));
        assert_eq!(
            refused.unwrap_err().kind(),
            StoreErrorKind::CapacityExceeded
        );
        // Keys already counted still count.
        assert!(
            store
                .attempt_at("a", 5, window, now + Duration::from_secs(2))
                .is_ok()
        );
        // Once "a" closes, there is room again.
        assert!(store.attempt_at("c", 5, window, now + window).is_ok());
    }

    #[test]
    fn the_window_blocks_after_the_limit_and_reopens_when_it_closes() {
        let store = MemoryStore::new();
        let now = Instant::now();
        let window = Duration::from_secs(900);
        for n in 1..=5 {
            assert_eq!(
                store.attempt_at("k", 5, window, now).unwrap(),
                Attempt::Allowed { remaining: 5 - n }
            );
        }
        let later = now + Duration::from_secs(100);
        assert_eq!(
            store.attempt_at("k", 5, window, later).unwrap(),
            Attempt::Blocked {
                retry_after: Duration::from_secs(800)
            }
        );
        // Another key is not affected.
        assert!(matches!(
            store.attempt_at("other", 5, window, later).unwrap(),
            Attempt::Allowed { remaining: 4 }
        ));
        // Once the window has closed, a new one opens.
        assert!(matches!(
            store.attempt_at("k", 5, window, now + window).unwrap(),
            Attempt::Allowed { remaining: 4 }
        ));
    }
}
