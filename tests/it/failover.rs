//! Revocations that survive a failover: a revocation the store
//! acknowledged is held by a replica (`WAIT`), so after the master is
//! killed (`kill -9`) right after it and a replica promoted, every
//! instance refuses the revoked token, an instance started after the
//! failover included. Against real deployments: a master, a replica and a
//! Sentinel; a Cluster of three masters with a replica each. Some rounds
//! cut the replica off (`SIGSTOP`) just before the write: that revocation
//! must then be refused as not acknowledged, never reported done.
//!
//! `JWT_GUARD_FAILOVER_ROUNDS` sets the rounds of the long tests (ignored by
//! default, 100 rounds; `.ci/run` runs them).

use std::time::{Duration, Instant, SystemTime};

use jwt_guard::store::redis::{RedisConfig, RedisStore, ReplicaAck};
use jwt_guard::store::{Lookup, RevocationStore, StoreErrorKind, TokenRef, TokenStatus};

use crate::support::redis::{RedisCluster, RedisSentinel, RedisServer};

const READY: Duration = Duration::from_secs(15);
/// How long every instance gets to answer again after a failover.
const RECOVERY: Duration = Duration::from_secs(20);
/// Every how many rounds the replica is cut off before the write.
const CUT_EVERY: usize = 5;

fn rounds(default: usize) -> usize {
    std::env::var("JWT_GUARD_FAILOVER_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A revocation the store acknowledged.
#[derive(Debug)]
enum Revoked {
    Token { sub: String, jti: String },
    Subject { sub: String, before: SystemTime },
}

impl Revoked {
    fn token_ref(&self) -> TokenRef<'_> {
        match self {
            Self::Token { sub, jti } => TokenRef::new()
                .with_jti(jti)
                .with_sub(sub)
                .with_issued_at(SystemTime::now()),
            // A token issued before the cut-off.
            Self::Subject { sub, before } => TokenRef::new()
                .with_jti("any")
                .with_sub(sub)
                .with_issued_at(*before - Duration::from_secs(1)),
        }
    }
}

/// Revokes a token (even rounds) or a subject (odd rounds) of `sub`.
async fn revoke(
    store: &RedisStore,
    round: usize,
    sub: &str,
) -> (Revoked, Result<(), StoreErrorKind>) {
    let revoked = if round.is_multiple_of(2) {
        Revoked::Token {
            sub: sub.to_owned(),
            jti: format!("jti-{round}"),
        }
    } else {
        Revoked::Subject {
            sub: sub.to_owned(),
            before: SystemTime::now(),
        }
    };
    let result = match &revoked {
        Revoked::Token { sub, jti } => {
            store
                .revoke_token(
                    jti,
                    Some(sub),
                    SystemTime::now() + Duration::from_secs(3600),
                )
                .await
        }
        Revoked::Subject { sub, before } => store.revoke_subject(sub, *before).await,
    };
    (revoked, result.map_err(|e| e.kind()))
}

/// Waits until `store` answers for every revocation in `revoked`, and
/// fails at once if it ever answers "active" for one.
async fn refuses_all(name: &str, store: &RedisStore, revoked: &[Revoked]) {
    let deadline = Instant::now() + RECOVERY;
    for entry in revoked {
        loop {
            let token = entry.token_ref();
            let answer = match store.check(&token) {
                Lookup::Ready(answer) => answer,
                Lookup::Pending(pending) => pending.await,
                _ => unreachable!("a lookup is ready or pending"),
            };
            match answer {
                Ok(TokenStatus::Revoked) => break,
                Ok(status) => panic!("{name} answers {status:?} for acknowledged {entry:?}"),
                Err(_) => {
                    assert!(
                        Instant::now() < deadline,
                        "{name} did not answer again within {RECOVERY:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

/// The revocation of one round, on `store`: acknowledged (added to
/// `acknowledged`) when the replica runs, refused as not replicated when it
/// was cut off, within the replica timeout and a margin.
async fn revoke_round(
    store: &RedisStore,
    round: usize,
    sub: &str,
    cut: bool,
    acknowledged: &mut Vec<Revoked>,
) {
    let start = Instant::now();
    let (revoked, result) = revoke(store, round, sub).await;
    if cut {
        // Not replicated in time; or, on a Cluster, a timeout opening the
        // write's own connection (it reaches every node, the frozen one too).
        assert!(
            matches!(
                result,
                Err(StoreErrorKind::NotReplicated | StoreErrorKind::Timeout)
            ),
            "round {round}: a write no replica holds is not acknowledged: {result:?}"
        );
        assert!(
            start.elapsed() < Duration::from_millis(2000),
            "round {round}: the wait is bounded by the replica timeout: {:?}",
            start.elapsed()
        );
    } else {
        assert_eq!(result, Ok(()), "round {round}: {revoked:?}");
        acknowledged.push(revoked);
    }
}

async fn sentinel_failovers(rounds: usize) {
    let setup = RedisSentinel::start_with_replicas(1);
    let servers = [setup.master(), &setup.replicas()[0]];
    let config = || RedisConfig::sentinel(setup.sentinel_urls(), setup.master_name());
    let a = ready(config()).await;
    let b = ready(config()).await;
    let direct = ready(config().direct(true)).await;
    let mut acknowledged = Vec::new();
    let mut master = 0;
    for round in 0..rounds {
        let replica = 1 - master;
        let cut = round % CUT_EVERY == CUT_EVERY - 1;
        if cut {
            servers[replica].freeze();
        }
        revoke_round(&a, round, &format!("user-{round}"), cut, &mut acknowledged).await;
        let old = servers[master].port();
        servers[master].kill();
        if cut {
            servers[replica].thaw();
        }
        // Promote the replica now rather than after `down-after` (1 s).
        setup.fail_over_from(old, RECOVERY);
        let later = ready(config()).await;
        for (name, store) in [("a", &a), ("b", &b), ("direct", &direct), ("new", &later)] {
            refuses_all(
                &format!("round {round}: instance {name}"),
                store,
                &acknowledged,
            )
            .await;
        }
        // The old master comes back empty, as a replica of the new one.
        servers[master].restart();
        let new_port = servers[replica].port().to_string();
        servers[master].cli(&["REPLICAOF", "127.0.0.1", &new_port]);
        servers[master].wait_in_sync(servers[replica], RECOVERY);
        master = replica;
    }
    eprintln!(
        "failover: sentinel, {rounds} rounds, {} acknowledged revocations refused everywhere after each",
        acknowledged.len()
    );
}

async fn cluster_failovers(rounds: usize) {
    let cluster = RedisCluster::builder(3).replicas(1).start();
    let config = || RedisConfig::cluster(cluster.urls());
    let a = ready(config()).await;
    let b = ready(config()).await;
    let direct = ready(config().direct(true)).await;
    let mut acknowledged = Vec::new();
    for round in 0..rounds {
        let sub = format!("user-{round}");
        let tag = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sub)
        };
        // The master of the subject's slot, and its replica.
        let master = cluster.master_for_key(&format!("{{{tag}}}"));
        // The node that answers may not have heard of the rejoined replica
        // yet (gossip): ask until it has.
        let deadline = Instant::now() + RECOVERY;
        let replica = loop {
            if let Some(replica) = cluster.replica_of(master) {
                break replica;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: master {master} has no replica"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let cut = round % CUT_EVERY == CUT_EVERY - 1;
        if cut {
            cluster.node(replica).freeze();
        }
        revoke_round(&a, round, &sub, cut, &mut acknowledged).await;
        cluster.node(master).kill();
        if cut {
            cluster.node(replica).thaw();
        }
        // Promote the replica now rather than after the node timeout.
        cluster.promote(replica, "TAKEOVER", RECOVERY);
        let later = ready(config()).await;
        for (name, store) in [("a", &a), ("b", &b), ("direct", &direct), ("new", &later)] {
            refuses_all(
                &format!("round {round}: instance {name}"),
                store,
                &acknowledged,
            )
            .await;
        }
        // The old master rejoins as a replica of the new one.
        cluster.node(master).restart();
        cluster
            .node(master)
            .wait_in_sync(cluster.node(replica), RECOVERY);
        cluster.wait_ok();
    }
    eprintln!(
        "failover: cluster, {rounds} rounds, {} acknowledged revocations refused everywhere after each",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_acknowledged_revocations_survive_failovers() {
    sentinel_failovers(CUT_EVERY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a hundred failovers, several minutes; .ci/run runs it"]
async fn sentinel_acknowledged_revocations_survive_a_hundred_failovers() {
    sentinel_failovers(rounds(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_acknowledged_revocations_survive_failovers() {
    cluster_failovers(CUT_EVERY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a hundred failovers, several minutes; .ci/run runs it"]
async fn cluster_acknowledged_revocations_survive_a_hundred_failovers() {
    cluster_failovers(rounds(100)).await;
}

async fn ready(config: RedisConfig) -> RedisStore {
    let store = RedisStore::new(config).unwrap();
    store.ready(READY).await.unwrap();
    store
}

async fn revoke_one(store: &RedisStore) -> Result<(), StoreErrorKind> {
    store
        .revoke_token("j", Some("s"), SystemTime::now() + Duration::from_secs(60))
        .await
        .map_err(|e| e.kind())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_sentinel_a_revocation_always_waits_for_a_replica() {
    let setup = RedisSentinel::start_with_replicas(0);
    let config = || {
        RedisConfig::sentinel(setup.sentinel_urls(), setup.master_name())
            .replica_timeout(Duration::from_millis(300))
    };
    // No replica to hold it: not acknowledged, whatever is connected.
    assert_eq!(
        revoke_one(&ready(config()).await).await,
        Err(StoreErrorKind::NotReplicated)
    );
    // Unless told not to wait.
    let never = ready(config().replica_ack(ReplicaAck::Never)).await;
    assert_eq!(revoke_one(&never).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_waits_once_it_has_been_seen_with_a_replica() {
    let alone = RedisServer::start();
    let store = ready(RedisConfig::url(alone.url())).await;
    assert_eq!(revoke_one(&store).await, Ok(()), "no replica: no wait");

    let setup = RedisSentinel::start_with_replicas(1);
    // The default replica timeout (1 s): a loaded machine may take a few
    // hundred milliseconds to see the replica's acknowledgement.
    let store = ready(RedisConfig::url(setup.master().url())).await;
    assert_eq!(revoke_one(&store).await, Ok(()), "held by the replica");
    // The replica stops answering: the wait goes on, and times out.
    setup.replicas()[0].freeze();
    let result = revoke_one(&store).await;
    setup.replicas()[0].thaw();
    assert_eq!(result, Err(StoreErrorKind::NotReplicated));
}
