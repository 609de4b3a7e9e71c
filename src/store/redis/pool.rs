//! The three topologies behind one pool and one connection type.

use std::time::Duration;

use deadpool_redis::{PoolConfig, Runtime, Timeouts};
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::{Topology, store_error};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::store::{StoreError, StoreErrorKind};

pub(crate) enum Pool {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
    Sentinel(deadpool_redis::sentinel::Pool),
}

pub(crate) enum Conn {
    Single(deadpool_redis::Connection),
    Cluster(deadpool_redis::cluster::Connection),
    Sentinel(deadpool_redis::sentinel::Connection),
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

fn invalid(error: impl std::error::Error + Send + Sync + 'static) -> ConfigError {
    ConfigError::with_source(
        ConfigErrorKind::InvalidSetting,
        "invalid Redis configuration",
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
        Ok(match topology {
            Topology::Single(url) => {
                let mut cfg = deadpool_redis::Config::from_url(url.as_str());
                cfg.pool = Some(config);
                Self::Single(cfg.create_pool(Some(Runtime::Tokio1)).map_err(invalid)?)
            }
            Topology::Cluster(urls) => {
                let mut cfg = deadpool_redis::cluster::Config::from_urls(urls.clone());
                cfg.pool = Some(config);
                Self::Cluster(cfg.create_pool(Some(Runtime::Tokio1)).map_err(invalid)?)
            }
            Topology::Sentinel { urls, master } => {
                let mut cfg = deadpool_redis::sentinel::Config::from_urls(
                    urls.clone(),
                    master.clone(),
                    deadpool_redis::sentinel::SentinelServerType::Master,
                );
                cfg.pool = Some(config);
                Self::Sentinel(cfg.create_pool(Some(Runtime::Tokio1)).map_err(invalid)?)
            }
        })
    }

    pub(crate) async fn get(&self) -> Result<Conn, StoreError> {
        let pooled = match self {
            Self::Single(pool) => pool.get().await.map(Conn::Single),
            Self::Cluster(pool) => pool.get().await.map(Conn::Cluster),
            Self::Sentinel(pool) => pool.get().await.map(Conn::Sentinel),
        };
        pooled.map_err(|error| match error {
            deadpool_redis::PoolError::Timeout(_) => {
                StoreError::with_source(StoreErrorKind::Timeout, error)
            }
            deadpool_redis::PoolError::Backend(error) => store_error(error),
            other => StoreError::with_source(StoreErrorKind::Unavailable, other),
        })
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
