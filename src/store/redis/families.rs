//! Refresh-token families in Redis.
//!
//! A family is one hash, `{prefix}{<base64url(sub)>}:f:<family>`, in its
//! subject's slot:
//!
//! ```text
//! cur      the current refresh token's hash      iat, exp   its issue instant and expiry (µs)
//! prev     the token `cur` replaced              prev_at    when (µs)
//! o:<hash> one field per token the family replaced
//! a:<jti>  one field per access token issued; value: until when to revoke it (Unix s)
//! claims   the access tokens' claims (JSON)      dead       "1" once revoked
//! iss      the issuer's id                       n          rotations so far
//! ```
//!
//! Expired `a:` fields are dropped every 64 rotations, and a family refuses
//! to rotate past its limit, so a record stays bounded.
//!
//! Every change is one Lua script over keys of that one slot (the family,
//! the subject's cut-off, the subject's access-token revocations), so a
//! rotation is atomic on a single node and on a cluster alike. Revoking a
//! family writes and publishes its access tokens' revocations exactly as
//! [`RevocationStore::revoke_token`](crate::store::RevocationStore::revoke_token) does,
//! so every mirror sees them.

use std::sync::LazyLock;
use std::time::SystemTime;

use redis::{Script, Value};

use super::error::protocol;
use super::keys::Event;
use super::mirror::micros;
use super::{RedisStore, secs};
use crate::store::refresh::{NewFamily, RefreshStore, Rotated, Rotation};
use crate::store::{BoxFuture, StoreError};

/// `kill(f, now, prefix, channel, log, retention_ms, sharded)`: marks the family dead and revokes every
/// access token recorded in it that has not expired; returns their `jti`s
/// and expiries, alternating.
macro_rules! kill_fn {
    () => {
        concat!(
            publish_fn!(),
            r"
local function kill(f, now, prefix, channel, log, retention_ms, sharded)
  redis.call('HSET', f, 'dead', '1')
  local out = {}
  local all = redis.call('HGETALL', f)
  for i = 1, #all, 2 do
    local name = all[i]
    if string.sub(name, 1, 2) == 'a:' then
      local jti = string.sub(name, 3)
      local until_s = all[i + 1]
      local current = tonumber(redis.call('GET', prefix .. jti))
      if tonumber(until_s) * 1000000 > now and not (current and current >= tonumber(until_s)) then
        redis.call('SET', prefix .. jti, until_s, 'EXAT', until_s)
        publish(channel, log, retention_ms, sharded, 't|' .. until_s .. '|' .. jti)
        out[#out + 1] = jti
        out[#out + 1] = until_s
      end
    end
  end
  return out
end
local function answer(status, killed)
  table.insert(killed, 1, status)
  return killed
end
"
        )
    };
}

/// KEYS: family. ARGV: hash, iat µs, exp µs, claims, access jti, its
/// revocation end (s), keep-until (s), issuer id.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'iat', ARGV[2], 'exp', ARGV[3],
  'claims', ARGV[4], 'a:' .. ARGV[5], ARGV[6], 'iss', ARGV[8], 'n', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[7])
return 1
",
    )
});

/// KEYS: family, cut-off. ARGV: presented hash, new hash, now µs, new exp
/// µs, access jti, its revocation end (s), grace µs, keep-until (s), the
/// subject's token-key prefix, channel, issuer id, most rotations, log,
/// log retention (ms), sharded.
static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        kill_fn!(),
        r"
local f = KEYS[1]
local now = tonumber(ARGV[3])
local s = redis.call('HMGET', f, 'cur', 'iat', 'exp', 'prev', 'prev_at', 'dead', 'claims',
  'iss', 'n')
if not s[1] or s[8] ~= ARGV[11] then return {'unknown'} end
if s[6] == '1' then return {'revoked'} end
local presented = ARGV[1]
local is_cur = presented == s[1]
local grace = tonumber(ARGV[7])
local in_grace = false
-- Either side of the rotation instant; never with no grace.
if not is_cur and grace > 0 and s[4] == presented and s[5] then
  in_grace = math.abs(now - tonumber(s[5])) <= grace
end
if not is_cur and not in_grace then
  if redis.call('HEXISTS', f, 'o:' .. presented) == 1 then
    return answer('reused', kill(f, now, ARGV[9], ARGV[10], ARGV[13], ARGV[14], ARGV[15]))
  end
  return {'unknown'}
end
local cutoff = redis.call('GET', KEYS[2])
if cutoff and tonumber(s[2]) < tonumber(cutoff) then
  return answer('revoked', kill(f, now, ARGV[9], ARGV[10], ARGV[13], ARGV[14], ARGV[15]))
end
local n = tonumber(s[9])
if (is_cur and tonumber(s[3]) <= now) or n >= tonumber(ARGV[12]) then return {'expired'} end
if is_cur then redis.call('HSET', f, 'prev', s[1], 'prev_at', ARGV[3]) end
redis.call('HSET', f, 'o:' .. s[1], '1', 'cur', ARGV[2], 'iat', ARGV[3], 'exp', ARGV[4],
  'a:' .. ARGV[5], ARGV[6], 'n', n + 1)
if (n + 1) % 64 == 0 then
  local all = redis.call('HGETALL', f)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'a:' and tonumber(all[i + 1]) * 1000000 <= now then
      redis.call('HDEL', f, all[i])
    end
  end
end
-- Never shorten the record's life (another instance may keep it longer).
local ttl = redis.call('TTL', f)
if ttl < 0 or math.floor(now / 1000000) + ttl < tonumber(ARGV[8]) then
  redis.call('EXPIREAT', f, ARGV[8])
end
return {'rotated', s[7]}
"
    ))
});

/// KEYS: family. ARGV: now µs, the subject's token-key prefix, channel,
/// log, log retention (ms), sharded.
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        kill_fn!(),
        r"
local s = redis.call('HMGET', KEYS[1], 'cur', 'dead')
if not s[1] or s[2] == '1' then return {'none'} end
return answer('revoked', kill(KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]))
"
    ))
});

fn text(value: &Value) -> Result<&str, StoreError> {
    match value {
        Value::BulkString(bytes) => {
            std::str::from_utf8(bytes).map_err(|_| protocol("a family script reply is not text"))
        }
        Value::SimpleString(text) => Ok(text),
        _ => Err(protocol("unexpected reply type from a family script")),
    }
}

impl RedisStore {
    /// Reads a family script's reply: a status, then either the claims or
    /// the access tokens it revoked, which this instance's mirror learns at
    /// once (the others through the channel).
    fn family_reply(&self, reply: &Value) -> Result<Rotated, StoreError> {
        let Value::Array(items) = reply else {
            return Err(protocol("unexpected reply type from a family script"));
        };
        let (status, rest) = items
            .split_first()
            .ok_or_else(|| protocol("empty reply from a family script"))?;
        let status = text(status)?;
        if status == "rotated" {
            let claims = rest
                .first()
                .ok_or_else(|| protocol("a rotation reply lacks the claims"))?;
            return Ok(Rotated::Rotated {
                claims: text(claims)?.to_owned(),
            });
        }
        if let Some(mirror) = &self.shared.mirror {
            for pair in rest.chunks(2) {
                let [jti, until] = pair else {
                    return Err(protocol("a family script answered an odd list"));
                };
                let expires_at_secs = text(until)?
                    .parse()
                    .map_err(|_| protocol("a revocation end is not a number"))?;
                mirror.apply(&Event::Token {
                    jti: text(jti)?.to_owned(),
                    expires_at_secs,
                });
            }
        }
        Ok(match status {
            "reused" => Rotated::Reused,
            "revoked" | "none" => Rotated::Revoked,
            "expired" => Rotated::Expired,
            "unknown" => Rotated::Unknown,
            _ => return Err(protocol("unknown status from a family script")),
        })
    }

    /// Runs a family script that writes nothing worth waiting for.
    async fn run(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<Value, StoreError> {
        self.shared
            .call(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
            .await
    }

    /// Runs a family script that rotates or revokes: acknowledged once the
    /// replicas hold it (see [`replication`](super::replication)).
    async fn run_replicated(
        &self,
        family: &str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<Value, StoreError> {
        self.shared
            .write(family, |mut conn| async move {
                invocation.invoke_async::<Value>(&mut conn).await
            })
            .await
    }
}

impl RefreshStore for RedisStore {
    fn create_family<'a>(
        &'a self,
        new: &'a NewFamily<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut invocation = CREATE.key(self.shared.keys.family(new.sub, new.family));
            invocation
                .arg(new.token_hash)
                .arg(micros(new.issued_at))
                .arg(micros(new.expires_at))
                .arg(new.claims)
                .arg(new.access.jti)
                .arg(secs(new.access.revoke_until))
                .arg(secs(new.keep_until))
                .arg(new.issuer);
            self.run(&invocation).await.map(drop)
        })
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<Rotated, StoreError>> {
        Box::pin(async move {
            let keys = &self.shared.keys;
            let family = keys.family(rotation.sub, rotation.family);
            let channel = self.shared.channel(&family);
            let mut invocation = ROTATE.key(&family);
            invocation
                .key(keys.cutoff(rotation.sub))
                .arg(rotation.presented_hash)
                .arg(rotation.new_hash)
                .arg(micros(rotation.now))
                .arg(micros(rotation.expires_at))
                .arg(rotation.access.jti)
                .arg(secs(rotation.access.revoke_until))
                .arg(i64::try_from(rotation.grace.as_micros()).unwrap_or(i64::MAX))
                .arg(secs(rotation.keep_until))
                .arg(keys.token_prefix(rotation.sub))
                .arg(channel)
                .arg(rotation.issuer)
                .arg(rotation.max_rotations);
            self.shared.log.args(&mut invocation);
            let reply = self.run_replicated(&family, &invocation).await?;
            self.family_reply(&reply)
        })
    }

    fn subject_retention(&self) -> Option<std::time::Duration> {
        Some(self.shared.subject_retention)
    }

    fn revoke_family<'a>(
        &'a self,
        sub: &'a str,
        family: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let keys = &self.shared.keys;
            let key = keys.family(sub, family);
            let channel = self.shared.channel(&key);
            let mut invocation = REVOKE.key(&key);
            invocation
                .arg(micros(SystemTime::now()))
                .arg(keys.token_prefix(sub))
                .arg(channel);
            self.shared.log.args(&mut invocation);
            let reply = self.run_replicated(&key, &invocation).await?;
            self.family_reply(&reply).map(drop)
        })
    }
}
