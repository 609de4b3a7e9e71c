//! The mirror's background task: subscribe, reload, follow, check health,
//! and start over whenever the connection is lost.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt as _, StreamExt as _};
use redis::aio::MultiplexedConnection;
use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Value};

use super::error::{bounded, store_error};
use super::keys::{Event, Keys, Parsed, RevocationLog, StreamId};
use super::mirror::Mirror;
use super::topology::Topology;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::store::{StoreError, StoreErrorKind};

pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) health_interval: Duration,
    pub(crate) health_timeout: Duration,
    pub(crate) resync_interval: Duration,
    pub(crate) log: RevocationLog,
}

impl Settings {
    /// How long the state is trusted after a successful health check: the
    /// next check is due after `health_interval` and may take
    /// `health_timeout`.
    pub(crate) fn lease(&self) -> Duration {
        self.health_interval + self.health_timeout
    }
}

/// Marks the mirror unsynchronised however the task ends (error, abort,
/// panic), so that it can never answer from a copy nobody updates.
struct Unsync<'m>(&'m Mirror);

impl Drop for Unsync<'_> {
    fn drop(&mut self) {
        self.0.set_synced(false);
    }
}

/// Reloads everything under the prefix from every node and replaces the
/// mirror's state with it, keeping what was applied since the reload began
/// (this instance's own writes, messages); the caller then applies what
/// arrived on the channel meanwhile. The lease is renewed as batches arrive, so a long reload of
/// a connected mirror does not fail its checks.
async fn reload(
    mirror: &Mirror,
    source: &Source,
    client: &Client,
    keys: &Keys,
    settings: &Settings,
    position: &mut Option<Position>,
) -> Result<usize, StoreError> {
    let timeout = settings.connect_timeout;
    let reloading = mirror.reloading();
    // Where the log ends before the scan: what is logged later is read
    // again by a catch-up, which is harmless (revocations only add up).
    *position = None;
    let start = if settings.log.is_on() {
        let mut conn = connect(client, timeout).await?;
        current_position(&mut conn, keys, timeout).await?
    } else {
        None
    };
    let targets = source.scan_targets(client, timeout).await?;
    let mut events = Vec::new();
    for target in &targets {
        events.extend(load_node(target, keys, timeout, mirror, settings.lease()).await?);
    }
    reloading.replace(&events);
    let loaded = events.len();
    // The mirror holds its own copy; the list lives no longer than the reload.
    drop(events);
    *position = start;
    crate::observe::mirror_resync();
    Ok(loaded)
}

/// Applies what waits on the channel, without waiting for more.
async fn drain(
    mirror: &Mirror,
    stream: &mut redis::aio::PubSubStream,
    position: &mut Option<Position>,
) {
    while let Ok(Some(message)) = tokio::time::timeout(Duration::ZERO, stream.next()).await {
        receive(mirror, message.get_payload_bytes(), position);
    }
}

/// Applies one channel message and moves the log position past it.
fn receive(mirror: &Mirror, payload: &[u8], position: &mut Option<Position>) {
    match Event::decode_message(payload) {
        Some((id, event)) => {
            mirror.apply(&event);
            match (id, position.as_mut()) {
                // One more entry read, in the log's order; one read again
                // (a catch-up read it already) moves nothing.
                (Some(id), Some(position)) if id > position.last => {
                    position.last = id;
                    position.added += 1;
                }
                (Some(_), _) | (None, None) => {}
                // Written without the log (another instance configured
                // otherwise): the log cannot be trusted to hold everything.
                (None, Some(_)) => *position = None,
            }
        }
        None => tracing::debug!("ignoring an unreadable revocation event"),
    }
}

/// How far a mirror has read the revocation log, on which replication
/// history of the server: the last entry read, and how many entries the
/// log had received up to it (`entries-added`), which tells a trimmed log
/// from a quiet one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    replid: String,
    last: StreamId,
    added: u64,
}

/// The server's replication id: it changes when the server restarts or a
/// replica is promoted, after which the log may lack entries a mirror saw.
async fn replication_id(
    conn: &mut MultiplexedConnection,
    timeout: Duration,
) -> Result<String, StoreError> {
    let info: String = bounded(timeout, async {
        redis::cmd("INFO")
            .arg("replication")
            .query_async(conn)
            .await
            .map_err(store_error)
    })
    .await?;
    info.lines()
        .find_map(|line| line.strip_prefix("master_replid:"))
        .map(|id| id.trim().to_owned())
        .ok_or_else(|| {
            StoreError::with_source(
                StoreErrorKind::Protocol,
                "INFO replication has no master_replid",
            )
        })
}

/// What `XINFO STREAM` says of the log: its last id and how many entries
/// it ever received (`None` when absent: Redis before 7.0); `None` for no
/// log at all.
struct LogState {
    last: StreamId,
    added: Option<u64>,
}

async fn log_state(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    timeout: Duration,
) -> Result<Option<LogState>, StoreError> {
    let exists: bool = bounded(timeout, async {
        redis::cmd("EXISTS")
            .arg(keys.log())
            .query_async(conn)
            .await
            .map_err(store_error)
    })
    .await?;
    if !exists {
        return Ok(None);
    }
    let reply: Value = bounded(timeout, async {
        redis::cmd("XINFO")
            .arg("STREAM")
            .arg(keys.log())
            .query_async(conn)
            .await
            .map_err(store_error)
    })
    .await?;
    let fields = match reply {
        Value::Array(fields) => fields,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => {
            return Err(StoreError::with_source(
                StoreErrorKind::Protocol,
                "unexpected XINFO STREAM reply",
            ));
        }
    };
    let field = |name: &str| {
        fields.chunks(2).find_map(|pair| match pair {
            [Value::BulkString(k), value] if k == name.as_bytes() => Some(value),
            [Value::SimpleString(k), value] if k == name => Some(value),
            _ => None,
        })
    };
    let last = match field("last-generated-id") {
        Some(Value::BulkString(id)) => std::str::from_utf8(id).ok().and_then(StreamId::parse),
        Some(Value::SimpleString(id)) => StreamId::parse(id),
        _ => None,
    }
    .ok_or_else(|| {
        StoreError::with_source(StoreErrorKind::Protocol, "XINFO STREAM has no last id")
    })?;
    let added = match field("entries-added") {
        Some(Value::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    Ok(Some(LogState { last, added }))
}

/// The position of a mirror about to read everything: where the log ends
/// now (no log: nothing logged yet).
async fn current_position(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    timeout: Duration,
) -> Result<Option<Position>, StoreError> {
    let replid = replication_id(conn, timeout).await?;
    Ok(match log_state(conn, keys, timeout).await? {
        None => Some(Position {
            replid,
            last: StreamId::default(),
            added: 0,
        }),
        Some(LogState {
            last,
            added: Some(added),
        }) => Some(Position {
            replid,
            last,
            added,
        }),
        // A server that does not count entries: the log cannot prove
        // that nothing is missing, so every resync reloads.
        Some(LogState { added: None, .. }) => None,
    })
}

/// Reads what the log holds after `position` and applies it, if the log
/// still holds every entry added since, on the same replication history;
/// `false` when only a full reload can tell what was missed.
async fn catch_up(
    mirror: &Mirror,
    client: &Client,
    keys: &Keys,
    settings: &Settings,
    stream: &mut redis::aio::PubSubStream,
    position: &mut Option<Position>,
) -> Result<bool, StoreError> {
    let timeout = settings.connect_timeout;
    let Some(at) = position.clone() else {
        return Ok(false);
    };
    let mut conn = connect(client, timeout).await?;
    if replication_id(&mut conn, timeout).await? != at.replid {
        return Ok(false);
    }
    // No log (expired after a quiet retention, or deleted), a server that
    // does not count, or a log behind the mirror: reload.
    let Some(LogState {
        last: end,
        added: Some(added),
    }) = log_state(&mut conn, keys, timeout).await?
    else {
        return Ok(false);
    };
    if end < at.last || added < at.added {
        return Ok(false);
    }
    // Up to the end read above, so the count can be compared; later
    // entries wait on the channel.
    let (mut last, mut read) = (at.last, 0u64);
    while last < end {
        let entries: Value = bounded(timeout, async {
            redis::cmd("XRANGE")
                .arg(keys.log())
                .arg(format!("({last}"))
                .arg(end.to_string())
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut conn)
                .await
                .map_err(store_error)
        })
        .await?;
        let Value::Array(entries) = entries else {
            return Err(StoreError::with_source(
                StoreErrorKind::Protocol,
                "unexpected XRANGE reply",
            ));
        };
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            let Some((id, event)) = log_entry(&entry) else {
                // An entry this version cannot read: only a reload is safe.
                return Ok(false);
            };
            mirror.apply(&event);
            last = last.max(id);
            read += 1;
        }
    }
    // Fewer entries than were added since: some were trimmed unread.
    if read != added - at.added {
        return Ok(false);
    }
    *position = Some(Position {
        replid: at.replid,
        last: end,
        added,
    });
    drain(mirror, stream, position).await;
    crate::observe::mirror_resync();
    mirror.count_catch_up();
    tracing::debug!(entries = read, "revocation mirror caught up from the log");
    Ok(true)
}

/// One `XRANGE` entry: `[id, [field, value, …]]` holding `e`, the message.
fn log_entry(entry: &Value) -> Option<(StreamId, Event)> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let [Value::BulkString(id), Value::Array(fields)] = parts.as_slice() else {
        return None;
    };
    let id = StreamId::parse(std::str::from_utf8(id).ok()?)?;
    let message = fields.chunks(2).find_map(|pair| match pair {
        [Value::BulkString(k), Value::BulkString(v)] if k == b"e" => Some(v),
        _ => None,
    })?;
    Some((id, Event::decode(message)?))
}

/// Where the mirror subscribes and what it scans.
pub(crate) enum Source {
    Single(ConnectionInfo),
    Cluster(Vec<ConnectionInfo>),
    Sentinel {
        urls: Vec<ConnectionInfo>,
        master: String,
    },
}

fn parse_url(url: &str) -> Result<ConnectionInfo, ConfigError> {
    url.into_connection_info().map_err(|error| {
        ConfigError::with_source(ConfigErrorKind::InvalidSetting, "invalid Redis URL", error)
    })
}

impl Source {
    pub(crate) fn new(topology: &Topology) -> Result<Self, ConfigError> {
        Ok(match topology {
            Topology::Single(url) => Self::Single(parse_url(url)?),
            Topology::Cluster(urls) => Self::Cluster(
                urls.iter()
                    .map(|url| parse_url(url))
                    .collect::<Result<_, _>>()?,
            ),
            Topology::Sentinel { urls, master } => Self::Sentinel {
                urls: urls
                    .iter()
                    .map(|url| parse_url(url))
                    .collect::<Result<_, _>>()?,
                master: master.clone(),
            },
        })
    }

    /// The node to subscribe on (and, on a Cluster, to read the slot map
    /// from): the server, the first reachable cluster node, or the current
    /// master.
    async fn subscriber(&self, timeout: Duration) -> Result<Client, StoreError> {
        match self {
            Self::Single(info) => Client::open(info.clone()).map_err(store_error),
            Self::Cluster(seeds) => {
                let mut last = StoreError::new(StoreErrorKind::Unavailable);
                for seed in seeds {
                    let client = Client::open(seed.clone()).map_err(store_error)?;
                    match connect(&client, timeout).await {
                        Ok(_) => return Ok(client),
                        Err(error) => last = error,
                    }
                }
                Err(last)
            }
            Self::Sentinel { urls, master } => {
                let mut sentinel =
                    redis::sentinel::Sentinel::build(urls.clone()).map_err(store_error)?;
                bounded(timeout, async {
                    sentinel
                        .async_master_for(master, None)
                        .await
                        .map_err(store_error)
                })
                .await
            }
        }
    }

    /// Every node whose keys must be scanned: the server, or every master.
    async fn scan_targets(
        &self,
        subscriber: &Client,
        timeout: Duration,
    ) -> Result<Vec<Client>, StoreError> {
        let Self::Cluster(seeds) = self else {
            return Ok(vec![subscriber.clone()]);
        };
        let mut conn = connect(subscriber, timeout).await?;
        let slots: Value = bounded(timeout, async {
            redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(&mut conn)
                .await
                .map_err(store_error)
        })
        .await?;
        let template = seeds[0].clone();
        let mut masters: Vec<(String, u16)> = Vec::new();
        let Value::Array(ranges) = slots else {
            return Err(StoreError::with_source(
                StoreErrorKind::Protocol,
                "unexpected CLUSTER SLOTS reply",
            ));
        };
        for range in ranges {
            if let Value::Array(fields) = range
                && let Some(Value::Array(master)) = fields.get(2)
                && let (Some(host), Some(Value::Int(port))) = (master.first(), master.get(1))
            {
                let host = match host {
                    Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    Value::SimpleString(text) => text.clone(),
                    _ => continue,
                };
                let Ok(port) = u16::try_from(*port) else {
                    continue;
                };
                if !masters.contains(&(host.clone(), port)) {
                    masters.push((host, port));
                }
            }
        }
        if masters.is_empty() {
            return Err(StoreError::with_source(
                StoreErrorKind::Protocol,
                "the cluster reported no masters",
            ));
        }
        masters
            .into_iter()
            .map(|(host, port)| {
                let addr = match template.addr() {
                    ConnectionAddr::TcpTls {
                        insecure,
                        tls_params,
                        ..
                    } => ConnectionAddr::TcpTls {
                        host,
                        port,
                        insecure: *insecure,
                        tls_params: tls_params.clone(),
                    },
                    _ => ConnectionAddr::Tcp(host, port),
                };
                Client::open(template.clone().set_addr(addr)).map_err(store_error)
            })
            .collect()
    }
}

async fn connect(client: &Client, timeout: Duration) -> Result<MultiplexedConnection, StoreError> {
    bounded(timeout, async {
        client
            .get_multiplexed_async_connection()
            .await
            .map_err(store_error)
    })
    .await
}

/// Reads every revocation under the prefix on one node.
///
/// Only string keys of the two revocation shapes are read, so a stray key
/// under the prefix cannot stop the reload. An entry of the right shape
/// whose value is unreadable is kept in its most cautious reading: a token
/// stays revoked for a day, a subject's cut-off revokes every token it has.
async fn load_node(
    client: &Client,
    keys: &Keys,
    timeout: Duration,
    mirror: &Mirror,
    lease: Duration,
) -> Result<Vec<Event>, StoreError> {
    let mut conn = connect(client, timeout).await?;
    let mut events = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = bounded(timeout, async {
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(keys.scan_pattern())
                .arg("COUNT")
                .arg(1000)
                .arg("TYPE")
                .arg("string")
                .query_async(&mut conn)
                .await
                .map_err(store_error)
        })
        .await?;
        let batch: Vec<(String, Parsed)> = batch
            .into_iter()
            .filter_map(|key| keys.parse(&key).map(|parsed| (key, parsed)))
            .collect();
        if !batch.is_empty() {
            let mut pipe = redis::pipe();
            for (key, _) in &batch {
                pipe.get(key);
            }
            let values: Vec<Option<String>> = bounded(timeout, async {
                pipe.query_async(&mut conn).await.map_err(store_error)
            })
            .await?;
            for ((_, parsed), value) in batch.into_iter().zip(values) {
                // Gone since the SCAN: expired or replaced.
                let Some(value) = value else { continue };
                events.push(match parsed {
                    Parsed::Token { jti } => Event::Token {
                        jti,
                        expires_at_secs: value.parse().unwrap_or_else(|_| {
                            tracing::warn!(
                                "unreadable token revocation in Redis; keeping it a day"
                            );
                            super::mirror::now_secs() + 24 * 3600
                        }),
                    },
                    Parsed::Cutoff { sub } => Event::Cutoff {
                        sub,
                        micros: value.parse().unwrap_or_else(|_| {
                            tracing::warn!(
                                "unreadable subject cut-off in Redis; revoking all its tokens"
                            );
                            i64::MAX
                        }),
                    },
                });
            }
        }
        mirror.renew_if_synced(lease);
        if next == 0 {
            return Ok(events);
        }
        cursor = next;
    }
}

/// Runs for the life of the store: every loss of the subscription marks the
/// mirror unsynchronised and starts over, with a capped backoff.
pub(crate) async fn run(mirror: Arc<Mirror>, source: Source, keys: Keys, settings: Settings) {
    let _unsync = Unsync(&mirror);
    const FIRST_RETRY: Duration = Duration::from_millis(50);
    let mut backoff = FIRST_RETRY;
    let mut failures: u32 = 0;
    // How far the log was read: kept across connections, so that the next
    // one can catch up rather than reload.
    let mut position = None;
    loop {
        let resyncs = mirror.resyncs();
        let error = follow(&mirror, &source, &keys, &settings, &mut position).await;
        mirror.set_synced(false);
        // A connection that had synchronised earns a quick retry.
        if mirror.resyncs() != resyncs {
            backoff = FIRST_RETRY;
            failures = 0;
        }
        failures += 1;
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        // Loud on the first failure and then every 30 attempts (about 30 s),
        // so a wrong password is visible without a line per retry.
        if failures % 30 == 1 {
            tracing::warn!(%error, cause, "revocation mirror cannot sync with Redis; retrying");
        } else {
            tracing::debug!(%error, cause, "revocation mirror cannot sync with Redis; retrying");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Subscribes, catches up from the log or reloads, then applies events
/// until the connection fails.
async fn follow(
    mirror: &Mirror,
    source: &Source,
    keys: &Keys,
    settings: &Settings,
    position: &mut Option<Position>,
) -> StoreError {
    if let Source::Cluster(seeds) = source {
        return follow_shards(mirror, source, seeds, keys, settings).await;
    }
    let timeout = settings.connect_timeout;
    let client = match source.subscriber(timeout).await {
        Ok(client) => client,
        Err(error) => return error,
    };
    let pubsub = match bounded(timeout, async {
        client.get_async_pubsub().await.map_err(store_error)
    })
    .await
    {
        Ok(pubsub) => pubsub,
        Err(error) => return error,
    };
    let (mut sink, mut stream) = pubsub.split();
    if let Err(error) = bounded(timeout, async {
        sink.subscribe(keys.channel()).await.map_err(store_error)
    })
    .await
    {
        return error;
    }
    // Subscribed first, so nothing published during the catch-up or the
    // reload is lost: it waits in the stream and is applied right after.
    match catch_up(mirror, &client, keys, settings, &mut stream, position).await {
        Ok(true) => {
            mirror.renew(settings.lease());
            mirror.set_synced(true);
            tracing::info!(
                resyncs = mirror.resyncs(),
                "revocation mirror caught up with Redis from the revocation log"
            );
        }
        Ok(false) => {
            let loaded = match reload(mirror, source, &client, keys, settings, position).await {
                Ok(loaded) => loaded,
                Err(error) => return error,
            };
            drain(mirror, &mut stream, position).await;
            mirror.renew(settings.lease());
            mirror.set_synced(true);
            tracing::info!(
                entries = loaded,
                resyncs = mirror.resyncs(),
                "revocation mirror synchronised with Redis"
            );
        }
        Err(error) => return error,
    }

    let Timers {
        mut health,
        mut purge,
        mut resync,
    } = Timers::new(settings);
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => receive(mirror, message.get_payload_bytes(), position),
                None => {
                    return StoreError::with_source(StoreErrorKind::Unavailable, "the subscription closed");
                }
            },
            _ = health.tick() => {
                let ping = tokio::time::timeout(settings.health_timeout, sink.ping::<Value>()).await;
                match ping {
                    Ok(Ok(_)) => mirror.renew(settings.lease()),
                    Ok(Err(error)) => return store_error(error),
                    Err(_) => return StoreError::new(StoreErrorKind::Timeout),
                }
            }
            _ = purge.tick() => mirror.purge_expired(),
            // A message can be lost without the connection failing (a cluster
            // bus partition, a failover); a periodic reload repairs that.
            _ = resync.tick() => {
                if let Err(error) = reload(mirror, source, &client, keys, settings, position).await {
                    return error;
                }
                drain(mirror, &mut stream, position).await;
            }
        }
    }
}

/// A Cluster: every revocation is `SPUBLISH`ed on the shard channel of its
/// slot (see `keys.rs`), delivered by the master owning that slot rather
/// than across the cluster bus. The mirror subscribes to every slot's
/// channel through a RESP3 cluster connection (each subscription lands on
/// the slot's master), then reloads, then follows. A disconnection, or a
/// slot whose subscription the server ends (the slot migrated), ends the
/// follow: the next one subscribes on the current owners and reloads, as
/// after any other gap.
async fn follow_shards(
    mirror: &Mirror,
    source: &Source,
    seeds: &[ConnectionInfo],
    keys: &Keys,
    settings: &Settings,
) -> StoreError {
    let timeout = settings.connect_timeout;
    let (sender, mut pushes) = tokio::sync::mpsc::unbounded_channel::<redis::PushInfo>();
    let client = match redis::cluster::ClusterClientBuilder::new(seeds.to_vec())
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(sender)
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .build()
    {
        Ok(client) => client,
        Err(error) => return store_error(error),
    };
    let mut conn = match bounded(timeout, async {
        client.get_async_connection().await.map_err(store_error)
    })
    .await
    {
        Ok(conn) => conn,
        Err(error) => return error,
    };
    // Every slot's channel, many at a time (one round trip each).
    let channels: Vec<String> = (0..super::keys::SLOTS)
        .map(|slot| keys.slot_channel(slot))
        .collect();
    for batch in channels.chunks(512) {
        let subscriptions = batch.iter().map(|channel| {
            let mut conn = conn.clone();
            async move { conn.ssubscribe(channel).await.map_err(store_error) }
        });
        let results = match bounded(
            timeout,
            futures_util::future::join_all(subscriptions).map(Ok::<_, StoreError>),
        )
        .await
        {
            Ok(results) => results,
            Err(error) => return error,
        };
        if let Some(Err(error)) = results.into_iter().find(Result::is_err) {
            return error;
        }
    }
    let scanner = match source.subscriber(timeout).await {
        Ok(client) => client,
        Err(error) => return error,
    };
    let mut position = None;
    let loaded = match reload(mirror, source, &scanner, keys, settings, &mut position).await {
        Ok(loaded) => loaded,
        Err(error) => return error,
    };
    if let Err(error) = drain_pushes(mirror, &mut pushes) {
        return error;
    }
    mirror.renew(settings.lease());
    mirror.set_synced(true);
    tracing::info!(
        entries = loaded,
        resyncs = mirror.resyncs(),
        "revocation mirror synchronised with the Redis Cluster (shard channels)"
    );

    let Timers {
        mut health,
        mut purge,
        mut resync,
    } = Timers::new(settings);
    loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Some(push) => {
                    if let Err(error) = shard_push(mirror, &push) {
                        return error;
                    }
                }
                None => return StoreError::with_source(StoreErrorKind::Unavailable, "the cluster connection closed"),
            },
            // Every master answers, or the lease is not renewed: a silent
            // master would be a shard whose revocations go unheard.
            _ = health.tick() => {
                let ping = redis::cmd("PING");
                let routing = redis::cluster_routing::RoutingInfo::MultiNode((
                    redis::cluster_routing::MultipleNodeRoutingInfo::AllMasters,
                    Some(redis::cluster_routing::ResponsePolicy::AllSucceeded),
                ));
                match tokio::time::timeout(settings.health_timeout, conn.route_command(ping, routing)).await {
                    Ok(Ok(_)) => mirror.renew(settings.lease()),
                    Ok(Err(error)) => return store_error(error),
                    Err(_) => return StoreError::new(StoreErrorKind::Timeout),
                }
            }
            _ = purge.tick() => mirror.purge_expired(),
            _ = resync.tick() => {
                if let Err(error) = reload(mirror, source, &scanner, keys, settings, &mut position).await {
                    return error;
                }
                if let Err(error) = drain_pushes(mirror, &mut pushes) {
                    return error;
                }
            }
        }
    }
}

/// What a following mirror does on a schedule: check its connection (and
/// renew its lease), forget expired entries, reload everything anyway.
struct Timers {
    health: tokio::time::Interval,
    purge: tokio::time::Interval,
    resync: tokio::time::Interval,
}

impl Timers {
    fn new(settings: &Settings) -> Self {
        let mut health = tokio::time::interval(settings.health_interval);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resync = tokio::time::interval(settings.resync_interval);
        resync.reset();
        Self {
            health,
            purge: tokio::time::interval(Duration::from_secs(60)),
            resync,
        }
    }
}

/// Applies the pushes waiting, without waiting for more.
fn drain_pushes(
    mirror: &Mirror,
    pushes: &mut tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>,
) -> Result<(), StoreError> {
    while let Ok(push) = pushes.try_recv() {
        shard_push(mirror, &push)?;
    }
    Ok(())
}

/// One push of the cluster connection: a revocation is applied; a lost
/// connection or an ended subscription (a migrated slot) is a gap, which
/// only a new subscription and a reload close.
fn shard_push(mirror: &Mirror, push: &redis::PushInfo) -> Result<(), StoreError> {
    match push.kind {
        redis::PushKind::SMessage => {
            if let Some(Value::BulkString(payload)) = push.data.get(1) {
                receive(mirror, payload, &mut None);
            }
            Ok(())
        }
        redis::PushKind::Disconnection => Err(StoreError::with_source(
            StoreErrorKind::Unavailable,
            "a cluster node connection closed",
        )),
        redis::PushKind::SUnsubscribe => Err(StoreError::with_source(
            StoreErrorKind::Unavailable,
            "a shard channel subscription ended (a slot moved)",
        )),
        _ => Ok(()),
    }
}
