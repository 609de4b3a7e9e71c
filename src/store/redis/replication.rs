//! Writes that must survive a failover: which need a replica's
//! acknowledgement (`WAIT`), read from the topology, and the wait itself.
//!
//! Redis replicates asynchronously. A revocation the master has taken and
//! no replica holds yet is lost when a replica is promoted, and the revoked
//! token is accepted again. So a write that revokes (a token, a subject's
//! cut-off, a refresh family) or rotates a refresh token is acknowledged to
//! the caller only after `WAIT` on the connection that wrote it says enough
//! replicas hold it.
//!
//! How many is decided from the topology, never from how many replicas
//! happen to be connected at the moment of the write:
//!
//! - **Sentinel**: one, always (a Sentinel deployment exists to fail over).
//! - **Cluster**: one for a key whose slot's master has a replica in the
//!   node table (`CLUSTER NODES`, whatever the replica's state), none for
//!   a master without one. The table is read from that master itself,
//!   which knows its own replicas first (another node learns of a replica
//!   by gossip, later). A slot known to have a replica is trusted for
//!   [`REFRESH`]; a slot without one is read again before every write, so
//!   that a replica that joined is waited on at once. After a failover the
//!   promoted master has no replica yet: its first write fails
//!   (not acknowledged), which makes the table due, and the next one
//!   no longer waits.
//! - **One server**: one once it has been seen with a connected replica
//!   (`INFO replication`, read on the first write and at most every
//!   [`REFRESH`]); a replica that disconnects does not end the wait, only a
//!   new replication history (a restart, a promotion) starts the count
//!   over.

use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::Value;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use super::error::{protocol, store_error};
use super::keys::key_slot;
use super::pool::Conn;
use super::topology::Topology;
use crate::store::{StoreError, StoreErrorKind};

/// How often the topology is read again, at most.
pub(super) const REFRESH: Duration = Duration::from_secs(5);

/// How many replicas must hold a revocation or a rotation before the store
/// acknowledges it. See [`RedisConfig::replica_ack`](super::RedisConfig::replica_ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplicaAck {
    /// Decided from the topology (the default): one replica behind
    /// Sentinel; on a Cluster, one for the slots whose master has a replica
    /// in the node table; on one server, one once it has been seen with a
    /// replica.
    #[default]
    FromTopology,
    /// At least this many replicas, whatever the topology.
    AtLeast(NonZeroU32),
    /// Never wait: a failover may lose the latest revocations.
    Never,
}

/// What was last read of the topology.
enum Known {
    Unread,
    /// One server: its replication id, and whether it has been seen with a
    /// replica since that history began.
    Single {
        replid: String,
        replicated: bool,
    },
    /// A Cluster: the slot ranges whose master has a replica.
    Cluster {
        replicated: Vec<RangeInclusive<u16>>,
    },
}

struct State {
    known: Known,
    read_at: Option<Instant>,
}

/// The replica acknowledgement of a store: the policy, the timeout, and
/// what the topology said.
pub(super) struct Replication {
    policy: ReplicaAck,
    timeout: Duration,
    kind: Kind,
    state: Mutex<State>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Single,
    Cluster,
    Sentinel,
}

impl Replication {
    pub(super) fn new(topology: &Topology, policy: ReplicaAck, timeout: Duration) -> Self {
        let kind = match topology {
            Topology::Single(_) => Kind::Single,
            Topology::Cluster(_) => Kind::Cluster,
            Topology::Sentinel { .. } => Kind::Sentinel,
        };
        Self {
            policy,
            timeout,
            kind,
            state: Mutex::new(State {
                known: Known::Unread,
                read_at: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many replicas a write of `key` needs, when that is known without
    /// reading the topology: `Some(0)` for none.
    pub(super) fn needed_now(&self, key: &str) -> Option<u32> {
        match (self.policy, self.kind) {
            (ReplicaAck::Never, _) => Some(0),
            (ReplicaAck::AtLeast(n), _) => Some(n.get()),
            (ReplicaAck::FromTopology, Kind::Sentinel) => Some(1),
            (ReplicaAck::FromTopology, kind) => {
                let state = self.state();
                if state.read_at.is_none_or(|at| at.elapsed() >= REFRESH) {
                    return None;
                }
                match (self.known_needs(&state.known, key), kind) {
                    (true, _) => Some(1),
                    // A slot without a replica is read again from its master.
                    (false, Kind::Cluster) => None,
                    (false, _) => Some(0),
                }
            }
        }
    }

    fn known_needs(&self, known: &Known, key: &str) -> bool {
        match known {
            Known::Unread => false,
            Known::Single { replicated, .. } => *replicated,
            Known::Cluster { replicated } => {
                let slot = key_slot(key);
                replicated.iter().any(|range| range.contains(&slot))
            }
        }
    }

    /// How many replicas a write of `key` needs, reading the topology on
    /// `conn` first when it is due.
    pub(super) async fn needed(&self, conn: &mut Conn, key: &str) -> Result<u32, StoreError> {
        if let Some(needed) = self.needed_now(key) {
            return Ok(needed);
        }
        self.read(conn, key).await?;
        Ok(u32::from(self.known_needs(&self.state().known, key)))
    }

    /// Marks the topology due for a new read (after a failed write).
    pub(super) fn stale(&self) {
        self.state().read_at = None;
    }

    /// Reads the topology: `INFO replication` of one server, or `CLUSTER
    /// NODES` of the master of `key`'s slot.
    async fn read(&self, conn: &mut Conn, key: &str) -> Result<(), StoreError> {
        let text = |reply: Value| match reply {
            Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
            Value::VerbatimString { text, .. } => Some(text),
            _ => None,
        };
        let known = match self.kind {
            Kind::Single => {
                let reply = query_at(conn, key, redis::cmd("INFO").arg("replication")).await?;
                let (replid, connected) = text(reply)
                    .as_deref()
                    .and_then(parse_info)
                    .ok_or_else(|| protocol("INFO replication lacks master_replid"))?;
                let replicated = match &self.state().known {
                    Known::Single {
                        replid: seen,
                        replicated,
                    } if *seen == replid => *replicated || connected > 0,
                    _ => connected > 0,
                };
                Known::Single { replid, replicated }
            }
            Kind::Cluster => {
                let reply = query_at(conn, key, redis::cmd("CLUSTER").arg("NODES")).await?;
                let replicated = text(reply)
                    .as_deref()
                    .and_then(replicated_slots)
                    .ok_or_else(|| protocol("unexpected CLUSTER NODES reply"))?;
                Known::Cluster { replicated }
            }
            Kind::Sentinel => return Ok(()),
        };
        let mut state = self.state();
        state.known = known;
        state.read_at = Some(Instant::now());
        Ok(())
    }

    /// Waits until `needed` replicas hold every write made so far on `conn`
    /// (on a Cluster, on the master of `key`'s slot), for at most the
    /// replica timeout, in slices each bounded here by `timeout` more. Fewer
    /// is an error ([`NotReplicated`](StoreErrorKind::NotReplicated)).
    pub(super) async fn wait(
        &self,
        conn: &mut Conn,
        key: &str,
        needed: u32,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        // In slices: the client ends a reply that takes longer than its
        // response timeout (500 ms by default), and a WAIT blocks its
        // connection for as long as it waits.
        let deadline = Instant::now() + self.timeout;
        let acknowledged = loop {
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(WAIT_SLICE)
                .max(Duration::from_millis(1));
            // The server ends a WAIT on its event loop's clock (up to a
            // tick of 100 ms late at the default `hz`): a margin of a
            // slice more than the call timeout.
            let acknowledged = wait_once(conn, key, needed, slice, timeout + WAIT_SLICE).await?;
            if acknowledged >= needed || Instant::now() >= deadline {
                break acknowledged;
            }
        };
        if acknowledged >= needed {
            return Ok(());
        }
        Err(StoreError::with_source(
            StoreErrorKind::NotReplicated,
            format!("{acknowledged} of {needed} replicas acknowledged the write in time"),
        ))
    }
}

/// The longest single `WAIT`.
const WAIT_SLICE: Duration = Duration::from_millis(200);

/// One `WAIT needed slice` on `conn` (on a Cluster, on the master of
/// `key`'s slot), bounded here by `slice + margin`: how many replicas hold
/// the connection's writes.
async fn wait_once(
    conn: &mut Conn,
    key: &str,
    needed: u32,
    slice: Duration,
    margin: Duration,
) -> Result<u32, StoreError> {
    let millis = u64::try_from(slice.as_millis()).unwrap_or(u64::MAX).max(1);
    let wait = redis::cmd("WAIT").arg(needed).arg(millis).clone();
    let reply = tokio::time::timeout(slice + margin, query_at(conn, key, &wait))
        .await
        .map_err(|_| StoreError::new(StoreErrorKind::Timeout))??;
    match reply {
        Value::Int(n) => Ok(u32::try_from(n).unwrap_or(0)),
        _ => Err(protocol("unexpected WAIT reply")),
    }
}

/// Runs `cmd` on `conn`; on a Cluster, on the master of `key`'s slot (the
/// node that took the write of `key`), whatever the command's own routing.
async fn query_at(conn: &mut Conn, key: &str, cmd: &redis::Cmd) -> Result<Value, StoreError> {
    match conn {
        Conn::Cluster(cluster) => {
            let route = Route::new(key_slot(key), SlotAddr::Master);
            cluster
                .route_command(
                    cmd.clone(),
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
        }
        other => cmd.query_async::<Value>(other).await,
    }
    .map_err(store_error)
}

/// The replication id and the number of connected replicas in `INFO
/// replication`.
fn parse_info(info: &str) -> Option<(String, u32)> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
    };
    let replid = field("master_replid")?.to_owned();
    let connected = field("connected_slaves")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some((replid, connected))
}

/// The slot ranges whose master has at least one replica in `CLUSTER
/// NODES`, whatever that replica's state.
fn replicated_slots(nodes: &str) -> Option<Vec<RangeInclusive<u16>>> {
    let lines: Vec<Vec<&str>> = nodes
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split_whitespace().collect())
        .collect();
    if lines.iter().any(|fields| fields.len() < 8) {
        return None;
    }
    let flagged = |fields: &[&str], flag: &str| fields[2].split(',').any(|f| f == flag);
    let mut ranges = Vec::new();
    for master in lines.iter().filter(|fields| flagged(fields, "master")) {
        let has_replica = lines
            .iter()
            .any(|fields| flagged(fields, "slave") && fields[3] == master[0]);
        // Every master's slots are read, so that an odd table is refused
        // whole; only those with a replica count.
        for slots in &master[8..] {
            if slots.starts_with('[') {
                continue; // a slot being imported or migrated
            }
            let (a, b) = slots.split_once('-').unwrap_or((slots, slots));
            let range = a.parse().ok()?..=b.parse().ok()?;
            if has_replica {
                ranges.push(range);
            }
        }
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_table_names_the_replicated_slots() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 [10923->-c3]
c3 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 127.0.0.1:7004@17004 slave,fail c3 0 0 3 disconnected
";
        assert_eq!(
            replicated_slots(nodes).unwrap(),
            vec![0..=5460, 10923..=16383],
            "a replica counts whatever its state; a master without one does not"
        );
        assert_eq!(replicated_slots("x y\n"), None);
        assert_eq!(
            replicated_slots("a 1:1@2 master - 0 0 1 connected x-3\n"),
            None
        );
    }

    #[test]
    fn info_gives_the_history_and_the_replicas() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
                    master_replid:abc\r\nmaster_repl_offset:9\r\n";
        assert_eq!(parse_info(info), Some(("abc".to_owned(), 2)));
        assert_eq!(parse_info("role:master\r\n"), None);
    }

    #[test]
    fn the_policy_decides_before_the_topology() {
        let single = Topology::Single("redis://x".into());
        let sentinel = Topology::Sentinel {
            urls: vec!["redis://s".into()],
            master: "m".into(),
        };
        let two = ReplicaAck::AtLeast(NonZeroU32::new(2).unwrap());
        let timeout = Duration::from_secs(1);
        assert_eq!(
            Replication::new(&single, ReplicaAck::Never, timeout).needed_now("k"),
            Some(0)
        );
        assert_eq!(
            Replication::new(&single, two, timeout).needed_now("k"),
            Some(2)
        );
        assert_eq!(
            Replication::new(&sentinel, ReplicaAck::FromTopology, timeout).needed_now("k"),
            Some(1)
        );
        assert_eq!(
            Replication::new(&single, ReplicaAck::FromTopology, timeout).needed_now("k"),
            None,
            "one server: read first"
        );
    }
}
