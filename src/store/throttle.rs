//! Counting attempts: the [`ThrottleStore`] trait behind
//! [`LoginThrottle`](crate::issue::LoginThrottle).
//!
//! A fixed window per key: the first attempt opens it, every attempt counts,
//! and once the count passes the limit the key is blocked until the window
//! closes. Counting before deciding makes the limit exact under concurrency:
//! ten simultaneous attempts cannot all slip under a limit of five.

use std::time::Duration;

use super::{BoxFuture, StoreError};

/// The answer to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// Go ahead.
    Allowed {
        /// How many more attempts the window allows after this one.
        remaining: u32,
    },
    /// Too many attempts: refuse until the window closes.
    Blocked {
        /// How long until the window closes.
        retry_after: Duration,
    },
}

/// Where attempts are counted, so that every instance sharing the store
/// agrees. [`MemoryStore`](super::MemoryStore) and the Redis store implement it.
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one attempt for `key` and decides it: allowed while the window
    /// (opened by the key's first attempt, `window` long) has seen at most
    /// `limit` attempts, blocked after.
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        limit: u32,
        window: Duration,
    ) -> BoxFuture<'a, Result<Attempt, StoreError>>;

    /// Forgets `key`'s attempts (after a successful login).
    fn reset<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}
