//! Redis-backed revocation, shared by every instance of every service:
//! single node, Redis Cluster or Sentinel, with a local mirror by default.
//!
//! # Modes
//!
//! - **Mirror** (the default): the revocation state is held in process
//!   memory and Redis keeps it current. Every revocation is written with a
//!   script that also publishes it on a pub/sub channel; every instance
//!   subscribes, so a revocation made anywhere reaches every mirror in about
//!   a millisecond on a LAN, and a check is a local lookup that never waits
//!   on the network. On connect and on every reconnect, the mirror
//!   subscribes first, then reloads everything under the key prefix
//!   (`SCAN`, on every master of a cluster), and only then answers again.
//! - **Direct**: one `MGET` of the token's key and its subject's cut-off per
//!   check, nothing held locally.
//!
//! Why pub/sub rather than RESP3 client-side tracking: a tracking
//! invalidation names a key, not its value, so every invalidation would cost
//! a read back (and, on a cluster, one tracking connection per node); a
//! published revocation carries everything the mirror needs.
//!
//! # Staleness
//!
//! While the subscription is healthy, a mirror lags Redis by the pub/sub
//! delivery time. The subscription is checked with a `PING` every
//! [`health_interval`](RedisConfig::health_interval) (1 s), answered within
//! [`health_timeout`](RedisConfig::health_timeout) (500 ms), and each
//! answer renews a 1.5 s lease on the mirror's state. A closed connection
//! marks the mirror unsynchronised at once; a silent one, or a background
//! task that stopped for any reason, lets the lease run out. So a mirror
//! never answers from a connection last seen healthy more than 1.5 s ago,
//! and while unsynchronised every check fails: the layer answers 503 with
//! `Retry-After` (fail-closed), until the mirror has reconnected and
//! resynchronised by itself. A message lost while the connection stays up
//! (a cluster-bus partition, a failover) is repaired by a full reload every
//! [`resync_interval`](RedisConfig::resync_interval) (5 min).
//!
//! # Resynchronising: the revocation log
//!
//! On a single server and behind Sentinel every revoking script also
//! appends the revocation to a stream, `{prefix}log`, trimmed to the
//! [`revocation_log`](RedisConfig::revocation_log) retention (10 min) by
//! Redis's clock, and publishes the entry's id with the message. A mirror
//! keeps how far it has read (the last id and the log's `entries-added`
//! count then). After a lost connection it subscribes again, then reads the
//! log from there: milliseconds, whatever the number of revocations held.
//! It reloads everything instead when the log cannot prove that nothing is
//! missing: a new replication id (Redis restarted, or a replica promoted),
//! fewer entries after its position than were added since (trimmed
//! unread), no log, a server before Redis 7.0 (no `entries-added`), or a
//! message that came without a log id (an instance with the log off).
//! Nothing revoked before the mirror answers again is let through: the
//! catch-up applies what it read before the mirror is marked synchronised.
//! All instances sharing a prefix should agree on the log setting. On a
//! Cluster there is no log (a script writes a single slot, a revocation's
//! is its subject's) and a mirror reloads in full.
//!
//! # Keys
//!
//! A revoked token is `{prefix}{<subject>}:t:<jti>`, holding its expiry and
//! set to expire then (`EXAT`), so it disappears when the token would have
//! expired. A script writes it: revoked again for longer, it keeps the later
//! expiry, never the earlier one.
//! A subject's cut-off is `{prefix}{<subject>}:c`, kept for
//! [`subject_retention`](RedisConfig::subject_retention). The subject
//! (base64url-encoded) is the hash tag, so both keys of a check live in one
//! slot of a cluster. Nothing grows without bound.
//!
//! # Failover
//!
//! Redis replicates asynchronously: a revocation the master took and no
//! replica holds yet would be lost when a replica is promoted, and the
//! revoked token accepted again. So a revocation (of a token, a subject, a
//! refresh family) and a refresh rotation are acknowledged only once a
//! replica holds them: the script and a `WAIT` run on a connection of their
//! own (so that the `WAIT` counts that write and blocks no other call), for
//! at most [`replica_timeout`](RedisConfig::replica_timeout) (1 s). Fewer
//! replicas in time is an error,
//! [`NotReplicated`](StoreErrorKind::NotReplicated) (the demo's logout and
//! refresh answer 503), never a silent success. Whether a write waits is
//! decided from the topology ([`ReplicaAck::FromTopology`]), never from how
//! many replicas are connected at that moment: behind Sentinel always; on a
//! Cluster for the slots whose master has a replica in `CLUSTER NODES`
//! (asked of that master); on one server once it has been seen with a
//! replica. Logins (a new refresh family) and login throttles do not wait:
//! losing one costs a new login, never a revoked token let through.
//!
//! # Failures
//!
//! Every Redis call, including taking a connection from the pool, is bounded
//! by [`timeout`](RedisConfig::timeout) (50 ms by default). A timeout, a
//! refused connection, an ACL error or a reply of an unexpected type is an
//! error, never "not revoked".
//!
//! ```no_run
//! use jwt_guard::store::redis::{RedisConfig, RedisStore};
//! use jwt_guard::{JwtLayer, StandardClaims, Validator};
//! # async fn run(validator: Validator) -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::new(RedisConfig::url("redis://127.0.0.1:6379"))?;
//! store.ready(std::time::Duration::from_secs(5)).await?;
//! let layer = JwtLayer::<StandardClaims>::builder(validator).store(store).build();
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::{RedisError, Script, Value};

use super::{
    BoxFuture, Lookup, ProofUse, RevocationStore, StoreError, StoreErrorKind, TokenRef, TokenStatus,
};
use crate::error::{ConfigError, ConfigErrorKind};

/// `publish(channel, log, retention_ms, sharded, msg)`: publishes a
/// revocation (on a Cluster, `SPUBLISH` on the shard channel of the
/// script's slot, which `channel` must be) and,
/// when `log` names the revocation log, first appends it there (trimming
/// entries older than `retention_ms` by Redis's clock, and expiring the
/// whole log after that long without a write) and publishes it
/// with its entry id, so that a mirror knows how far it has read.
macro_rules! publish_fn {
    () => {
        r"
local function publish(channel, log, retention_ms, sharded, msg)
  if sharded == '1' then
    redis.call('SPUBLISH', channel, msg)
    return
  end
  if log == '' then
    redis.call('PUBLISH', channel, msg)
    return
  end
  local t = redis.call('TIME')
  local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(retention_ms)
  if minid < 0 then minid = 0 end
  local id = redis.call('XADD', log, 'MINID', '~', string.format('%.0f', minid), '*', 'e', msg)
  redis.call('PEXPIRE', log, retention_ms)
  redis.call('PUBLISH', channel, 'x' .. id .. '|' .. msg)
end
"
    };
}

mod attempts;
mod error;
mod families;
mod keys;
mod mirror;
mod pool;
mod proofs;
mod replication;
mod sync;
mod topology;

use error::{bounded, protocol, store_error};
use keys::{Event, Keys, RevocationLog};
use mirror::{Mirror, micros};
use pool::Pool;
pub use replication::ReplicaAck;
use replication::Replication;
use topology::{Redacted, Topology};

/// How long a write waits for its replicas by default.
pub const DEFAULT_REPLICA_TIMEOUT: Duration = Duration::from_secs(1);

/// The default retention of the revocation log.
pub const DEFAULT_LOG_RETENTION: Duration = Duration::from_secs(600);

/// Configures a [`RedisStore`]: the topology, then optional settings.
///
/// Its `Debug` output hides any password in the URLs.
#[derive(Clone)]
#[must_use]
pub struct RedisConfig {
    topology: Topology,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    pool_size: usize,
    mirror: bool,
    subject_retention: Duration,
    health_interval: Duration,
    health_timeout: Duration,
    resync_interval: Duration,
    log_retention: Duration,
    replica_ack: ReplicaAck,
    replica_timeout: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("topology", &Redacted(&self.topology))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("mirror", &self.mirror)
            .field("replica_ack", &self.replica_ack)
            .field("replica_timeout", &self.replica_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    fn with_topology(topology: Topology) -> Self {
        Self {
            topology,
            prefix: "jwt-guard:".to_owned(),
            timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_millis(500),
            pool_size: 16,
            mirror: true,
            subject_retention: crate::policy::DEFAULT_SUBJECT_RETENTION,
            health_interval: Duration::from_secs(1),
            health_timeout: Duration::from_millis(500),
            resync_interval: Duration::from_secs(300),
            log_retention: DEFAULT_LOG_RETENTION,
            replica_ack: ReplicaAck::FromTopology,
            replica_timeout: DEFAULT_REPLICA_TIMEOUT,
        }
    }

    /// One Redis server: `redis://host:port/db`, or `rediss://` with the
    /// `redis-tls` feature.
    pub fn url(url: impl Into<String>) -> Self {
        Self::with_topology(Topology::Single(url.into()))
    }

    /// A Redis Cluster, from the URLs of some of its nodes.
    pub fn cluster<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_topology(Topology::Cluster(
            urls.into_iter().map(Into::into).collect(),
        ))
    }

    /// The master named `master`, found through these Sentinels.
    pub fn sentinel<I, S>(urls: I, master: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_topology(Topology::Sentinel {
            urls: urls.into_iter().map(Into::into).collect(),
            master: master.into(),
        })
    }

    /// The prefix of every key and of the channel (default `jwt-guard:`).
    /// It may not hold `{`, `}`, `*`, `?`, `[` or `]`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bound on every Redis call, pool wait included (default 50 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound on opening a connection (default 500 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The most pooled connections (default 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Direct mode: one round trip per check and no local mirror (off by
    /// default).
    pub fn direct(mut self, direct: bool) -> Self {
        self.mirror = !direct;
        self
    }

    /// How long a subject's cut-off is kept (default 30 days). Set it to at
    /// least the longest lifetime of any token it must revoke, refresh
    /// tokens included.
    pub fn subject_retention(mut self, retention: Duration) -> Self {
        self.subject_retention = retention;
        self
    }

    /// How often the mirror checks its subscription (default 1 s); each
    /// answer trusts the mirror's state for `health_interval + health_timeout`.
    pub fn health_interval(mut self, interval: Duration) -> Self {
        self.health_interval = interval;
        self
    }

    /// How long the subscription may take to answer a check (default 500 ms).
    pub fn health_timeout(mut self, timeout: Duration) -> Self {
        self.health_timeout = timeout;
        self
    }

    /// How often a connected mirror reloads everything anyway (default
    /// 5 min), which repairs a message lost without the connection failing.
    pub fn resync_interval(mut self, interval: Duration) -> Self {
        self.resync_interval = interval;
        self
    }

    /// How long the revocation log keeps a revocation (default 10 min;
    /// zero turns the log off). A mirror that lost Redis for less than
    /// this reads what it missed from the log and answers again within
    /// milliseconds; after a longer outage, a restart of Redis or a
    /// failover (a new replication history) it reloads everything. Each
    /// entry costs Redis about a hundred bytes for the retention. Not on
    /// a Cluster, where the mirror always reloads in full (see the
    /// [module docs](self)).
    pub fn revocation_log(mut self, retention: Duration) -> Self {
        self.log_retention = retention;
        self
    }

    /// How many replicas must hold a revocation (of a token, a subject, a
    /// refresh family) or a refresh rotation before it is acknowledged
    /// (default [`ReplicaAck::FromTopology`]: one behind Sentinel, one on
    /// a Cluster master or a server that has a replica). A write that is
    /// not acknowledged in time is an error
    /// ([`NotReplicated`](StoreErrorKind::NotReplicated)), never a silent
    /// success. See [Failover](self#failover).
    pub fn replica_ack(mut self, ack: ReplicaAck) -> Self {
        self.replica_ack = ack;
        self
    }

    /// How long a write waits for its replicas (default 1 s; at most 60 s).
    pub fn replica_timeout(mut self, timeout: Duration) -> Self {
        self.replica_timeout = timeout;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |message: &'static str| Err(ConfigError::new(ConfigErrorKind::InvalidSetting, message));
        if self.prefix.is_empty() || self.prefix.contains(['{', '}', '*', '?', '[', ']', '\\']) {
            return invalid(
                "the Redis key prefix must be non-empty, without braces or glob characters",
            );
        }
        match &self.topology {
            Topology::Cluster(urls) | Topology::Sentinel { urls, .. } if urls.is_empty() => {
                return invalid("no Redis URL given");
            }
            Topology::Sentinel { master, .. } if master.is_empty() => {
                return invalid("the Sentinel master name is empty");
            }
            _ => {}
        }
        if self.timeout.is_zero()
            || self.connect_timeout.is_zero()
            || self.health_timeout.is_zero()
            || self.pool_size == 0
            || self.health_interval.is_zero()
            || self.resync_interval < self.health_interval
        {
            return invalid("Redis timeouts, intervals and pool size must be above zero");
        }
        if self.replica_timeout.is_zero() || self.replica_timeout > Duration::from_secs(60) {
            return invalid("the replica timeout must be above zero and at most 60 seconds");
        }
        if !self.log_retention.is_zero() && self.log_retention < Duration::from_secs(10) {
            return invalid("the revocation log retention is under 10 seconds");
        }
        if self.subject_retention < Duration::from_secs(60) {
            return invalid("the subject cut-off retention is under a minute");
        }
        Ok(())
    }
}

/// A [`RevocationStore`] in Redis, shared by every instance. See the
/// [module docs](self).
///
/// It is also a [`RefreshStore`](crate::store::RefreshStore) (refresh
/// families rotate in one Lua script over the subject's cluster slot) and a
/// [`ThrottleStore`](crate::store::ThrottleStore), so every instance agrees
/// on sessions and login attempts too.
///
/// Cheap to clone. The mirror's background task stops when the last clone
/// is dropped.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    connect_timeout: Duration,
    revoke_token: Script,
    revoke_subject: Script,
    keys: Keys,
    timeout: Duration,
    subject_retention: Duration,
    mirror: Option<Arc<Mirror>>,
    task: Option<tokio::task::JoinHandle<()>>,
    topology: Topology,
    log: RevocationLog,
    replication: Replication,
}

impl Shared {
    /// Where a script writing `key` publishes: the channel, or on a Cluster
    /// the shard channel of `key`'s slot.
    fn channel(&self, key: &str) -> String {
        if self.log.is_sharded() {
            self.keys.shard_channel(key)
        } else {
            self.keys.channel().to_owned()
        }
    }

    /// Runs one Redis call within the timeout, on the shared connection;
    /// a failed call releases the connection.
    ///
    /// Taking a connection is bounded by the connect timeout (opening one
    /// may take longer than a command); the command by the call timeout. A
    /// connection found dropped (Redis closes idle ones after its `timeout`)
    /// is replaced and the command retried once.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn(pool::Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let mut retried = false;
        loop {
            let conn = bounded(self.connect_timeout, self.pool.get()).await?;
            let result = bounded(self.timeout, async {
                call(conn).await.map_err(store_error)
            })
            .await;
            match result {
                Err(error) if error.kind() != StoreErrorKind::Protocol => {
                    self.pool.release();
                    if error.kind() == StoreErrorKind::Unavailable && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(error);
                }
                result => return result,
            }
        }
    }

    /// Runs a write of `key` (a script over `key`'s slot), acknowledged
    /// only once the replicas the topology asks for hold it: then the write
    /// and its `WAIT` run on a connection of their own, the `WAIT` counting
    /// that connection's writes alone and blocking no other call.
    async fn write<T, F, Fut>(&self, key: &str, call: F) -> Result<T, StoreError>
    where
        F: Fn(pool::Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if self.replication.needed_now(key) == Some(0) {
            return self.call(call).await;
        }
        let mut dedicated = bounded(self.connect_timeout, self.pool.dedicated()).await?;
        let result = async {
            let conn = dedicated.conn();
            let needed = bounded(self.timeout, self.replication.needed(conn, key)).await?;
            let value = bounded(self.timeout, async {
                call(conn.clone()).await.map_err(store_error)
            })
            .await?;
            if needed > 0 {
                self.replication
                    .wait(conn, key, needed, self.timeout)
                    .await?;
            }
            Ok(value)
        }
        .await;
        if result.is_err() {
            dedicated.discard();
            self.replication.stale();
        }
        result
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("RedisStore")
            .field("topology", &Redacted(&shared.topology))
            .field(
                "mode",
                &if shared.mirror.is_some() {
                    "mirror"
                } else {
                    "direct"
                },
            )
            .field("timeout", &shared.timeout)
            .finish_non_exhaustive()
    }
}

/// Keeps the later expiry, as the mirror and the memory store do: a token
/// revoked again for longer stays revoked for longer, never shorter.
/// ARGV: expiry (s), channel, message, log, log retention (ms), sharded.
const REVOKE_TOKEN: &str = concat!(
    publish_fn!(),
    r"
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[1])
publish(ARGV[2], ARGV[4], ARGV[5], ARGV[6], ARGV[3])
return 1
"
);

/// ARGV: cut-off (µs), forget-at (s), channel, message, log, log
/// retention (ms), sharded.
const REVOKE_SUBJECT: &str = concat!(
    publish_fn!(),
    r"
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
publish(ARGV[3], ARGV[5], ARGV[6], ARGV[7], ARGV[4])
return 1
"
);

/// Reads one `MGET` item: present or not, with its text.
fn item(value: &Value) -> Result<Option<&str>, StoreError> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| protocol("a revocation entry is not text")),
        Value::SimpleString(text) => Ok(Some(text)),
        _ => Err(protocol("unexpected reply type for a revocation entry")),
    }
}

/// What a direct check reads: the token's key, its subject's cut-off, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reads {
    token: bool,
    cutoff: bool,
}

/// Decides a direct check from the `MGET` reply, whose items are the token
/// key (if read) then the cut-off key (if read).
fn decide(
    reply: &Value,
    reads: Reads,
    issued_at: Option<SystemTime>,
) -> Result<TokenStatus, StoreError> {
    let Value::Array(items) = reply else {
        return Err(protocol("unexpected reply type for MGET"));
    };
    if items.len() != usize::from(reads.token) + usize::from(reads.cutoff) {
        return Err(protocol("MGET answered the wrong number of items"));
    }
    let mut items = items.iter();
    if reads.token && item(items.next().expect("counted"))?.is_some() {
        return Ok(TokenStatus::Revoked);
    }
    if reads.cutoff
        && let Some(cutoff) = item(items.next().expect("counted"))?
    {
        let cutoff: i64 = cutoff
            .parse()
            .map_err(|_| protocol("a subject cut-off is not a number"))?;
        if issued_at.is_none_or(|iat| micros(iat) < cutoff) {
            return Ok(TokenStatus::Revoked);
        }
    }
    Ok(TokenStatus::Active)
}

impl RedisStore {
    /// Builds the store and, in mirror mode, starts its background task.
    /// Must be called inside a Tokio runtime. Connecting happens in the
    /// background: until the mirror has synchronised, checks fail (503).
    /// Use [`ready`](Self::ready) to wait for it.
    pub fn new(config: RedisConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "RedisStore::new must be called inside a Tokio runtime",
            ));
        }
        let pool = Pool::new(
            &config.topology,
            config.pool_size,
            config.timeout,
            config.connect_timeout,
        )?;
        let keys = Keys::new(&config.prefix);
        // A script writes one cluster slot: no log on a Cluster, and
        // messages on the shard channel of the revocation's slot.
        let log = RevocationLog::new(
            &keys,
            config.log_retention,
            matches!(config.topology, Topology::Cluster(_)),
        );
        let (mirror, task) = if config.mirror {
            let mirror = Arc::new(Mirror::new());
            let task = tokio::spawn(sync::run(
                mirror.clone(),
                sync::Source::new(&config.topology)?,
                keys.clone(),
                sync::Settings {
                    connect_timeout: config.connect_timeout,
                    health_interval: config.health_interval,
                    health_timeout: config.health_timeout,
                    resync_interval: config.resync_interval,
                    log: log.clone(),
                },
            ));
            (Some(mirror), Some(task))
        } else {
            (None, None)
        };
        Ok(Self {
            shared: Arc::new(Shared {
                pool,
                connect_timeout: config.connect_timeout,
                revoke_token: Script::new(REVOKE_TOKEN),
                revoke_subject: Script::new(REVOKE_SUBJECT),
                keys,
                timeout: config.timeout,
                subject_retention: config.subject_retention,
                mirror,
                task,
                replication: Replication::new(
                    &config.topology,
                    config.replica_ack,
                    config.replica_timeout,
                ),
                topology: config.topology,
                log,
            }),
        })
    }

    /// Waits until the store can answer: the mirror has synchronised, or (in
    /// direct mode) Redis answers a `PING`. Fails after `within`
    /// ([`NotSynchronized`](StoreErrorKind::NotSynchronized)), or at once
    /// when Redis refuses the configuration itself, a wrong password or a
    /// database index it does not have
    /// ([`Misconfigured`](StoreErrorKind::Misconfigured)): retrying would
    /// only answer 503 forever, so a service should stop and say so.
    pub async fn ready(&self, within: Duration) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.shared.mirror.as_ref().is_some_and(|m| m.is_synced()) {
                return Ok(());
            }
            // A PING, within what is left of `within`: it answers the
            // direct mode, and tells a refused configuration from an outage.
            match tokio::time::timeout_at(deadline, self.ping()).await {
                Ok(Err(error)) if error.kind() == StoreErrorKind::Misconfigured => {
                    return Err(error);
                }
                Ok(Ok(())) if self.shared.mirror.is_none() => return Ok(()),
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::new(StoreErrorKind::NotSynchronized));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether checks are answered from a local mirror that is currently
    /// synchronised (always false in direct mode).
    pub fn is_mirror_synced(&self) -> bool {
        self.shared.mirror.as_ref().is_some_and(|m| m.is_synced())
    }

    /// How many full resynchronisations the mirror has completed (0 in direct mode).
    pub fn mirror_resyncs(&self) -> u64 {
        self.shared.mirror.as_ref().map_or(0, |m| m.resyncs())
    }

    /// How many of the [resynchronisations](Self::mirror_resyncs) read only
    /// what was missed from the revocation log, rather than reloading
    /// everything (0 in direct mode).
    pub fn mirror_catch_ups(&self) -> u64 {
        self.shared.mirror.as_ref().map_or(0, |m| m.catch_ups())
    }

    /// Revoked-token entries held by the mirror (0 in direct mode).
    pub fn mirror_len(&self) -> usize {
        self.shared.mirror.as_ref().map_or(0, |m| m.len())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.shared
            .call(
                |mut conn| async move { redis::cmd("PING").query_async::<Value>(&mut conn).await },
            )
            .await
            .map(drop)
    }

    fn direct_check(&self, token: &TokenRef<'_>) -> Lookup {
        let reads = Reads {
            token: token.jti.is_some(),
            cutoff: token.sub.is_some(),
        };
        if !reads.token && !reads.cutoff {
            return Lookup::Ready(Ok(TokenStatus::Active));
        }
        let keys: Vec<String> = token
            .jti
            .map(|jti| self.shared.keys.token(token.sub, jti))
            .into_iter()
            .chain(token.sub.map(|sub| self.shared.keys.cutoff(sub)))
            .collect();
        let issued_at = token.issued_at;
        let shared = self.shared.clone();
        Lookup::Pending(Box::pin(async move {
            let mget = redis::cmd("MGET").arg(&keys).clone();
            let mget = &mget;
            let reply: Value = shared
                .call(|mut conn| async move { mget.query_async(&mut conn).await })
                .await?;
            decide(&reply, reads, issued_at)
        }))
    }
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

impl RevocationStore for RedisStore {
    fn check(&self, token: &TokenRef<'_>) -> Lookup {
        match &self.shared.mirror {
            Some(mirror) => Lookup::Ready(mirror.check(token)),
            None => self.direct_check(token),
        }
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<()>> {
        self.shared.mirror.as_ref().map(|mirror| mirror.changes())
    }

    /// One round trip, in mirror mode too: a proof's first use must be
    /// known to every instance before it answers.
    fn use_proof<'a>(
        &'a self,
        proof_id: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<ProofUse, StoreError>> {
        Box::pin(self.use_proof_in_redis(proof_id, until))
    }

    /// Mirrored: whether the mirror is synchronised (checks are answered
    /// from it). Direct: whether Redis answers a `PING` within the timeout.
    fn health(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            match &self.shared.mirror {
                Some(mirror) if mirror.is_synced() => Ok(()),
                Some(_) => Err(StoreError::new(StoreErrorKind::NotSynchronized)),
                None => self.ping().await,
            }
        })
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        sub: Option<&'a str>,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let expires_at_secs = secs(expires_at);
            if expires_at <= SystemTime::now() {
                return Ok(());
            }
            let shared = &self.shared;
            let event = Event::Token {
                jti: jti.to_owned(),
                expires_at_secs,
            };
            let key = shared.keys.token(sub, jti);
            let channel = shared.channel(&key);
            let mut invocation = shared.revoke_token.key(&key);
            invocation
                .arg(expires_at_secs)
                .arg(channel)
                .arg(event.encode());
            shared.log.args(&mut invocation);
            let invocation = &invocation;
            shared
                .write(&key, |mut conn| async move {
                    invocation.invoke_async::<Value>(&mut conn).await
                })
                .await?;
            if let Some(mirror) = &shared.mirror {
                mirror.apply(&event);
            }
            Ok(())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let event = Event::Cutoff {
                sub: sub.to_owned(),
                micros: micros(issued_before),
            };
            let Some(forget_at) = issued_before
                .checked_add(shared.subject_retention)
                .filter(|at| *at > SystemTime::now())
                .map(secs)
            else {
                // Older than its own retention: nothing left to revoke.
                return Ok(());
            };
            let key = shared.keys.cutoff(sub);
            let channel = shared.channel(&key);
            let mut invocation = shared.revoke_subject.key(&key);
            invocation
                .arg(micros(issued_before))
                .arg(forget_at)
                .arg(channel)
                .arg(event.encode());
            shared.log.args(&mut invocation);
            let invocation = &invocation;
            shared
                .write(&key, |mut conn| async move {
                    invocation.invoke_async::<Value>(&mut conn).await
                })
                .await?;
            if let Some(mirror) = &shared.mirror {
                mirror.apply(&event);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn mget_replies_are_read_strictly() {
        let now = SystemTime::now();
        let before = now - Duration::from_secs(1);
        let cut = micros(now).to_string();
        let both = Reads {
            token: true,
            cutoff: true,
        };
        let token_only = Reads {
            token: true,
            cutoff: false,
        };
        let cutoff_only = Reads {
            token: false,
            cutoff: true,
        };
        let cases = [
            (
                Value::Array(vec![Value::Nil, Value::Nil]),
                both,
                TokenStatus::Active,
            ),
            (
                Value::Array(vec![bulk("1"), Value::Nil]),
                both,
                TokenStatus::Revoked,
            ),
            (
                Value::Array(vec![Value::Nil, bulk(&cut)]),
                both,
                TokenStatus::Revoked,
            ),
            (
                Value::Array(vec![Value::Nil]),
                token_only,
                TokenStatus::Active,
            ),
            (
                Value::Array(vec![bulk(&cut)]),
                cutoff_only,
                TokenStatus::Revoked,
            ),
        ];
        for (reply, reads, expected) in cases {
            assert_eq!(decide(&reply, reads, Some(before)).unwrap(), expected);
        }
        let after = now + Duration::from_secs(1);
        assert_eq!(
            decide(
                &Value::Array(vec![Value::Nil, bulk(&cut)]),
                both,
                Some(after)
            )
            .unwrap(),
            TokenStatus::Active
        );
        for bad in [
            Value::Int(1),
            Value::Okay,
            Value::Array(vec![]),
            Value::Array(vec![Value::Int(3), Value::Nil]),
            Value::Array(vec![Value::Nil, bulk("soon")]),
            Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
        ] {
            let error = decide(&bad, both, Some(before)).unwrap_err();
            assert_eq!(error.kind(), StoreErrorKind::Protocol, "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_passwords() {
        let config = RedisConfig::cluster(["redis://user:hunter2@a:1", "redis://:pw2@b:2/0"]);
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2") && !text.contains("pw2"), "{text}");
        assert!(text.contains("redis://***@a:1"), "{text}");
    }

    #[test]
    fn prefixes_with_braces_or_globs_are_refused() {
        for prefix in ["a{b", "x*", "q?"] {
            assert!(
                RedisConfig::url("redis://x")
                    .prefix(prefix)
                    .validate()
                    .is_err()
            );
        }
        assert!(RedisConfig::url("redis://x").validate().is_ok());
        assert!(
            RedisConfig::cluster(Vec::<String>::new())
                .validate()
                .is_err()
        );
        let url = || RedisConfig::url("redis://x");
        for zero in [
            url().timeout(Duration::ZERO),
            url().connect_timeout(Duration::ZERO),
            url().health_timeout(Duration::ZERO),
            url().health_interval(Duration::ZERO),
            url().pool_size(0),
        ] {
            assert!(zero.validate().is_err(), "{zero:?}");
        }
    }
}
