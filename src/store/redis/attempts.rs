//! Throttle windows in Redis: one counter per key, expiring with its window.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Script, Value};

use super::RedisStore;
use super::error::protocol;
use crate::store::throttle::{Attempt, ThrottleStore};
use crate::store::{BoxFuture, StoreError};

/// KEYS: the window. ARGV: limit, window (ms). Answers `{allowed, n}`: `n`
/// is the attempts left when allowed, the milliseconds left when blocked.
static ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
local limit = tonumber(ARGV[1])
if n > limit then return {0, ttl} end
return {1, limit - n}
",
    )
});

impl ThrottleStore for RedisStore {
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        limit: u32,
        window: Duration,
    ) -> BoxFuture<'a, Result<Attempt, StoreError>> {
        Box::pin(async move {
            let mut invocation = ATTEMPT.key(self.shared.keys.attempts(key));
            invocation
                .arg(limit)
                .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1));
            let invocation = &invocation;
            let reply = self
                .shared
                .call(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
                .await?;
            let numbers = match &reply {
                Value::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        Value::Int(n) => u64::try_from(*n).ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<u64>>>(),
                _ => None,
            };
            match numbers.as_deref() {
                Some([1, remaining]) => Ok(Attempt::Allowed {
                    remaining: u32::try_from(*remaining).unwrap_or(u32::MAX),
                }),
                Some([0, millis]) => Ok(Attempt::Blocked {
                    retry_after: Duration::from_millis(*millis),
                }),
                _ => Err(protocol("unexpected reply from the throttle script")),
            }
        })
    }

    fn reset<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.shared.keys.attempts(key);
            let key = &key;
            self.shared
                .call(|mut conn| async move {
                    redis::cmd("DEL")
                        .arg(key)
                        .query_async::<Value>(&mut conn)
                        .await
                })
                .await
                .map(drop)
        })
    }
}
