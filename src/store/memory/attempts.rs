//! Attempt counters in memory.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::table::ExpiringTable;
use crate::store::StoreError;
use crate::store::throttle::Attempt;

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

    /// Counts an attempt under `key` in its window, opening one of `window`
    /// if none is open.
    pub(super) fn attempt_at(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Instant,
    ) -> Result<Attempt, StoreError> {
        let mut windows = self.lock();
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

    /// Forgets the window under `key`.
    pub(super) fn reset(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreErrorKind;

    #[test]
    fn a_full_table_refuses_new_keys_until_a_window_closes() {
        let attempts = Attempts::new(2);
        let now = Instant::now();
        let window = Duration::from_secs(60);
        attempts.attempt_at("a", 5, window, now).unwrap();
        attempts
            .attempt_at("b", 5, window, now + Duration::from_secs(30))
            .unwrap();
        let refused = attempts.attempt_at("c", 5, window, now + Duration::from_secs(1));
        assert_eq!(
            refused.unwrap_err().kind(),
            StoreErrorKind::CapacityExceeded
        );
        // Keys already counted still count.
        assert!(
            attempts
                .attempt_at("a", 5, window, now + Duration::from_secs(2))
                .is_ok()
        );
        // Once "a" closes, there is room again.
        assert!(attempts.attempt_at("c", 5, window, now + window).is_ok());
    }

    #[test]
    fn the_window_blocks_after_the_limit_and_reopens_when_it_closes() {
        let attempts = Attempts::new(16);
        let now = Instant::now();
        let window = Duration::from_secs(900);
        for n in 1..=5 {
            assert_eq!(
                attempts.attempt_at("k", 5, window, now).unwrap(),
                Attempt::Allowed { remaining: 5 - n }
            );
        }
        let later = now + Duration::from_secs(100);
        assert_eq!(
            attempts.attempt_at("k", 5, window, later).unwrap(),
            Attempt::Blocked {
                retry_after: Duration::from_secs(800)
            }
        );
        // Another key is not affected.
        assert!(matches!(
            attempts.attempt_at("other", 5, window, later).unwrap(),
            Attempt::Allowed { remaining: 4 }
        ));
        // Once the window has closed, a new one opens.
        assert!(matches!(
            attempts.attempt_at("k", 5, window, now + window).unwrap(),
            Attempt::Allowed { remaining: 4 }
        ));
    }
}
