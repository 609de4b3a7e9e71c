//! The three topologies behind one pool and one connection type.

use std::time::Duration;

use std::sync::Mutex;

use deadpool_redis::{PoolConfig, Runtime, Timeouts};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::error::store_error;
use super::topology::{Redacted, Topology};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::store::{StoreError, StoreErrorKind};

/// The deadpool pool of the topology, plus one checked-out connection that
/// every call shares.
///
/// Redis connections here are multiplexed: one of them carries concurrent
/// commands. Checking one out of deadpool per call would cost a recycle
/// round trip (`UNWATCH` + `PING`) before every command, doubling the cost of
/// a direct check; so one connection is checked out, cloned for each call,
/// and given back (to be recycled or replaced) only when a call fails.
pub(crate) struct Pool {
    kind: PoolKind,
    current: Mutex<Option<Current>>,
}

enum PoolKind {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
    Sentinel(deadpool_redis::sentinel::Pool),
}

/// The shared connection, and its pool object, held so that the pool counts
/// it as in use until it is released.
struct Current {
    conn: Conn,
    pooled: Pooled,
}

impl Current {
    /// Takes the connection out of the pool and closes it: after a failure
    /// it is not handed out again. (Recycling only `PING`s, which a
    /// demoted master, now a replica, still answers.)
    fn discard(self) {
        match self.pooled {
            Pooled::Single(conn) => drop(deadpool_redis::Connection::take(conn)),
            Pooled::Cluster(conn) => drop(deadpool_redis::cluster::Connection::take(conn)),
            Pooled::Sentinel(conn) => drop(deadpool_redis::sentinel::Connection::take(conn)),
        }
    }
}

enum Pooled {
    Single(deadpool_redis::Connection),
    Cluster(deadpool_redis::cluster::Connection),
    Sentinel(deadpool_redis::sentinel::Connection),
}

/// A connection checked out for one caller alone (see [`Pool::dedicated`]).
pub(crate) struct Dedicated(Current);

impl Dedicated {
    pub(crate) fn conn(&mut self) -> &mut Conn {
        &mut self.0.conn
    }

    /// Closes it, out of the pool, after a failure.
    pub(crate) fn discard(self) {
        self.0.discard();
    }
}

/// A clone of the shared multiplexed connection.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
    Sentinel(MultiplexedConnection),
}

fn pool_config(size: usize, timeout: Duration, connect_timeout: Duration) -> PoolConfig {
    let mut config = PoolConfig::new(size);
    config.timeouts = Timeouts {
        wait: Some(timeout),
        create: Some(connect_timeout),
        recycle: Some(timeout),
    };
    config
}

/// A configuration the client refuses, saying why in the message itself
/// (the innermost cause, e.g. "Invalid database number"), with the
/// topology's URLs redacted of passwords.
fn invalid(
    topology: &Topology,
    error: impl std::error::Error + Send + Sync + 'static,
) -> ConfigError {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason = cause.to_string();
        source = cause.source();
    }
    let reason = reason
        .strip_suffix(" - InvalidClientConfig")
        .unwrap_or(&reason)
        .to_owned();
    ConfigError::with_source(
        ConfigErrorKind::InvalidSetting,
        format!(
            "invalid Redis configuration: {reason} ({:?})",
            Redacted(topology)
        ),
        error,
    )
}

impl Pool {
    pub(crate) fn new(
        topology: &Topology,
        size: usize,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let config = pool_config(size, timeout, connect_timeout);
        let kind = match topology {
            Topology::Single(url) => {
                let mut cfg = deadpool_redis::Config::from_url(url.as_str());
                cfg.pool = Some(config);
                PoolKind::Single(
                    cfg.create_pool(Some(Runtime::Tokio1))
                        .map_err(|e| invalid(topology, e))?,
                )
            }
            Topology::Cluster(urls) => {
                let mut cfg = deadpool_redis::cluster::Config::from_urls(urls.clone());
                cfg.pool = Some(config);
                PoolKind::Cluster(
                    cfg.create_pool(Some(Runtime::Tokio1))
                        .map_err(|e| invalid(topology, e))?,
                )
            }
            Topology::Sentinel { urls, master } => {
                let mut cfg = deadpool_redis::sentinel::Config::from_urls(
                    urls.clone(),
                    master.clone(),
                    deadpool_redis::sentinel::SentinelServerType::Master,
                );
                cfg.pool = Some(config);
                PoolKind::Sentinel(
                    cfg.create_pool(Some(Runtime::Tokio1))
                        .map_err(|e| invalid(topology, e))?,
                )
            }
        };
        Ok(Self {
            kind,
            current: Mutex::new(None),
        })
    }

    /// A clone of the shared connection, checked out of the pool first if
    /// there is none.
    pub(crate) async fn get(&self) -> Result<Conn, StoreError> {
        if let Some(current) = &*self.current.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(current.conn.clone());
        }
        let current = self.checkout().await?;
        let conn = current.conn.clone();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(current);
        Ok(conn)
    }

    /// A connection of its own, not shared with other calls, given back to
    /// the pool when dropped: for a write followed by a `WAIT`, which
    /// blocks its connection until replicas answer and counts only that
    /// connection's writes.
    pub(crate) async fn dedicated(&self) -> Result<Dedicated, StoreError> {
        self.checkout().await.map(Dedicated)
    }

    async fn checkout(&self) -> Result<Current, StoreError> {
        let pooled = match &self.kind {
            PoolKind::Single(pool) => pool.get().await.map(Pooled::Single),
            PoolKind::Cluster(pool) => pool.get().await.map(Pooled::Cluster),
            PoolKind::Sentinel(pool) => pool.get().await.map(Pooled::Sentinel),
        }
        .map_err(|error| match error {
            deadpool_redis::PoolError::Timeout(_) => {
                StoreError::with_source(StoreErrorKind::Timeout, error)
            }
            deadpool_redis::PoolError::Backend(error) => store_error(error),
            other => StoreError::with_source(StoreErrorKind::Unavailable, other),
        })?;
        let conn = match &pooled {
            Pooled::Single(conn) => Conn::Single((**conn).clone()),
            Pooled::Cluster(conn) => Conn::Cluster((**conn).clone()),
            Pooled::Sentinel(conn) => Conn::Sentinel((**conn).clone()),
        };
        Ok(Current { conn, pooled })
    }

    /// Drops the shared connection after a failed call, out of the pool,
    /// so that the next call takes another one.
    pub(crate) fn release(&self) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(current) = current {
            current.discard();
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
            Self::Sentinel(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Sentinel(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
            Self::Sentinel(conn) => conn.get_db(),
        }
    }
}
