//! DPoP proofs used, in Redis: one key per proof, expiring with its replay
//! window, shared by every instance. Not waited on by replicas and not
//! sent to the mirrors: an entry lives a minute or so, and what a failover
//! could lose is one proof's single use, not a revocation.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use redis::{Script, Value};

use super::RedisStore;
use super::error::protocol;
use crate::crypto::random_b64url;
use crate::store::{ProofUse, StoreError, StoreErrorKind};

/// KEYS: the proof. ARGV: this use's id, the replay window left (ms).
/// Answers 1 when this use recorded the proof (a call retried after its
/// reply was lost finds its own id), 0 when another use did.
static USE_PROOF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local held = redis.call('GET', KEYS[1])
if held then
  if held == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
",
    )
});

impl RedisStore {
    pub(super) async fn use_proof_in_redis(
        &self,
        proof_id: &str,
        until: SystemTime,
    ) -> Result<ProofUse, StoreError> {
        let left = until
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let use_id = random_b64url::<12>()
            .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, e))?;
        let mut invocation = USE_PROOF.key(self.shared.keys.proof(proof_id));
        invocation
            .arg(&use_id)
            .arg(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1));
        let invocation = &invocation;
        let reply = self
            .shared
            .call(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
            .await?;
        match reply {
            Value::Int(1) => Ok(ProofUse::First),
            Value::Int(0) => Ok(ProofUse::Replayed),
            _ => Err(protocol("unexpected reply from the DPoP proof script")),
        }
    }
}
