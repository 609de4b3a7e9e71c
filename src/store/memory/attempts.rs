//! Attempt counters in memory.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::MemoryStore;
use crate::store::throttle::{Attempt, ThrottleStore};
use crate::store::{BoxFuture, StoreError, StoreErrorKind};

#[derive(Default)]
pub(super) struct Attempts {
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    open: HashMap<Box<str>, Window>,
    /// When full: no window closes before this, so a scan would free nothing.
    /// Refusals until then cost no scan of the table.
    none_closes_before: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Window {
    count: u32,
    closes_at: Instant,
}

impl MemoryStore {
    fn attempt_at(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Result<Attempt, StoreError> {
        let max = self.inner.config.max_throttle_keys;
        let mut windows = self
            .inner
            .attempts
            .windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let windows = &mut *windows;
        if windows.open.len() >= max && !windows.open.contains_key(key) {
            if windows.none_closes_before.is_none_or(|at| at <= now) {
                windows.open.retain(|_, w| w.closes_at > now);
                windows.none_closes_before = windows.open.values().map(|w| w.closes_at).min();
            }
            if windows.open.len() >= max {
                tracing::warn!(
                    max_throttle_keys = max,
                    "memory store is full of open throttle windows; refusing an attempt"
                );
                return Err(StoreError::new(StoreErrorKind::CapacityExceeded));
            }
        }
        let entry = windows.open.entry(Box::from(key)).or_insert(Window {
            count: 0,
            closes_at: now + window,
        });
        if entry.closes_at <= now {
            *entry = Window {
                count: 0,
                closes_at: now + window,
            };
        }
        entry.count = entry.count.saturating_add(1);
        Ok(if entry.count > limit {
            Attempt::Blocked {
                retry_after: entry.closes_at - now,
            }
        } else {
            Attempt::Allowed {
                remaining: limit - entry.count,
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
            self.inner
                .attempts
                .windows
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .open
                .remove(key);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
