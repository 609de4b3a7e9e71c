//! Revocations that survive a failover: a revocation the store
//! acknowledged (of a token, of a subject's earlier tokens, of a refresh
//! family at logout) and a refresh rotation are held by a replica
//! (`WAIT`), so after the master is killed (`kill -9`) right after it and
//! a replica promoted, every instance refuses the revoked token and the
//! spent refresh token, an instance started after the failover included.
//! Against real deployments: a master, a replica and a Sentinel; a Cluster
//! of three masters with a replica each. Some rounds cut the replica off
//! (`SIGSTOP`) just before the write: that write must then be refused as
//! not acknowledged, never reported done.
//!
//! `JWT_GUARD_FAILOVER_ROUNDS` sets the rounds of the long tests (ignored by
//! default, 100 rounds; `.ci/run` runs them).

use std::time::{Duration, Instant, SystemTime};

use jwt_guard::issue::{Grant, IssueError, IssueErrorKind, Issuer};
use jwt_guard::store::redis::{RedisConfig, RedisStore, ReplicaAck};
use jwt_guard::store::{
    Lookup, RevocationStore, StoreError, StoreErrorKind, TokenRef, TokenStatus,
};
use jwt_guard::{Algorithm, SigningKey, StandardClaims};

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

/// A revocation (or rotation) the store acknowledged.
#[derive(Debug)]
enum Revoked {
    Token {
        sub: String,
        jti: String,
    },
    Subject {
        sub: String,
        before: SystemTime,
    },
    /// A session logged out: its access token and its family revoked.
    Session {
        sub: String,
        jti: String,
        refresh: String,
    },
    /// A refresh token rotated: spent, it may never rotate again.
    Spent {
        refresh: String,
    },
}

impl Revoked {
    /// The access token it revoked, if it revoked one.
    fn token_ref(&self) -> Option<TokenRef<'_>> {
        match self {
            Self::Token { sub, jti } | Self::Session { sub, jti, .. } => Some(
                TokenRef::new()
                    .with_jti(jti)
                    .with_sub(sub)
                    .with_issued_at(SystemTime::now()),
            ),
            // A token issued before the cut-off.
            Self::Subject { sub, before } => Some(
                TokenRef::new()
                    .with_jti("any")
                    .with_sub(sub)
                    .with_issued_at(*before - Duration::from_secs(1)),
            ),
            Self::Spent { .. } => None,
        }
    }

    /// The refresh token that may not rotate any more, if there is one.
    fn refresh(&self) -> Option<&str> {
        match self {
            Self::Session { refresh, .. } | Self::Spent { refresh } => Some(refresh),
            _ => None,
        }
    }
}

/// An issuer of sessions on `store`: every instance's is the same issuer,
/// so each may rotate the others' families.
fn issuer(store: &RedisStore) -> Issuer {
    Issuer::builder()
        .signing_key(
            SigningKey::hmac(Algorithm::HS256, b"failover-secret-0123456789abcdef-0123").unwrap(),
        )
        .issuer("failover")
        .audience("failover")
        .store(store.clone())
        .build()
        .unwrap()
}

/// The write under test of one round, prepared before the replica may be
/// cut off: round by round, in turn, a token's revocation, a subject's, a
/// session's logout (its family and access token), or a refresh rotation.
#[derive(Clone)]
enum Write {
    Token { sub: String, jti: String },
    Subject { sub: String },
    Logout { access: String, refresh: String },
    Rotate { refresh: String },
}

/// The write of `round` for `sub`. A session is made first for a logout or
/// a rotation: its login is not waited on, but the write under test follows
/// it in the replication stream, so a replica that holds the one holds the
/// other. A login that fails (the deployment still settling) is tried again.
async fn prepare(store: &RedisStore, round: usize, sub: &str) -> Write {
    let sub = sub.to_owned();
    if round % 4 < 2 {
        return match round % 4 {
            0 => Write::Token {
                sub,
                jti: format!("jti-{round}"),
            },
            _ => Write::Subject { sub },
        };
    }
    let issuer = issuer(store);
    let deadline = Instant::now() + RECOVERY;
    let session = loop {
        match issuer.issue(&Grant::new(&sub)).await {
            Ok(session) => break session,
            Err(error) => {
                assert_eq!(
                    error.kind(),
                    IssueErrorKind::Store,
                    "round {round}: {error}"
                );
                wait_until(deadline, &format!("round {round}: the login")).await;
            }
        }
    };
    let refresh = session.refresh_token().as_str().to_owned();
    match round % 4 {
        2 => Write::Logout {
            access: session.access_token().to_owned(),
            refresh,
        },
        _ => Write::Rotate { refresh },
    }
}

/// Why a write was not acknowledged: the store's error kind, and the
/// error with its sources for the failure message.
type Refused = (StoreErrorKind, String);

fn refused(kind: StoreErrorKind, error: &dyn std::error::Error) -> Refused {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    (kind, text)
}

/// Makes `write` on `store`: what it revoked, and whether the store
/// acknowledged it. A `retry` follows an attempt refused as unavailable,
/// which may have reached Redis before its connection failed.
async fn write(store: &RedisStore, write: Write, retry: bool) -> (Revoked, Result<(), Refused>) {
    let now = SystemTime::now();
    let issuer = issuer(store);
    let store_error = |error: StoreError| refused(error.kind(), &error);
    let issue_error = |error: IssueError| {
        assert_eq!(error.kind(), IssueErrorKind::Store, "{error}");
        let kind = std::error::Error::source(&error)
            .and_then(|source| source.downcast_ref::<StoreError>())
            .expect("a store error's source is the StoreError")
            .kind();
        refused(kind, &error)
    };
    match write {
        Write::Token { sub, jti } => {
            let result = store
                .revoke_token(&jti, Some(&sub), now + Duration::from_secs(3600))
                .await;
            (Revoked::Token { sub, jti }, result.map_err(store_error))
        }
        Write::Subject { sub } => {
            let result = store.revoke_subject(&sub, now).await;
            let revoked = Revoked::Subject { sub, before: now };
            (revoked, result.map_err(store_error))
        }
        Write::Logout { access, refresh } => {
            let validator = issuer.validator().build().unwrap();
            let verified = validator.validate::<StandardClaims>(&access).unwrap();
            let registered = verified.registered();
            let result = issuer.logout(registered).await;
            let revoked = Revoked::Session {
                sub: registered.sub().unwrap().to_owned(),
                jti: registered.jti().unwrap().to_owned(),
                refresh,
            };
            (revoked, result.map_err(store_error))
        }
        Write::Rotate { refresh } => {
            let result = match issuer.refresh(&refresh).await {
                // The earlier attempt rotated it; this refusal is written
                // and waited on as a rotation is.
                Err(error) if retry && error.kind() == IssueErrorKind::ReusedGrant => Ok(()),
                result => result.map(drop),
            };
            (Revoked::Spent { refresh }, result.map_err(issue_error))
        }
    }
}

/// The instances every failover checks, by name: two mirrors, one in
/// direct mode, one started after the failover.
type Instances<'s> = [(&'static str, &'s RedisStore); 4];

/// Waits until each of `instances` answers for every access token in
/// `revoked`, and fails at once if one ever answers "active" for one.
/// Right after the failover: the new master has no replica yet.
async fn refuses_all(
    round: usize,
    instances: &Instances<'_>,
    revoked: &[Revoked],
    servers: &[&RedisServer],
) {
    for (name, store) in instances {
        let name = format!("round {round}: instance {name}");
        let deadline = Instant::now() + RECOVERY;
        for entry in revoked {
            while let Some(token) = entry.token_ref() {
                let answer = match store.check(&token) {
                    Lookup::Ready(answer) => answer,
                    Lookup::Pending(pending) => pending.await,
                    _ => unreachable!("a lookup is ready or pending"),
                };
                match answer {
                    Ok(TokenStatus::Revoked) => break,
                    Ok(status) => panic!(
                        "{name} answers {status:?} for acknowledged {entry:?}; in Redis: {}",
                        in_redis(servers, entry)
                    ),
                    Err(_) => wait_until(deadline, &name).await,
                }
            }
        }
    }
}

/// What each of `servers` holds of `entry`'s keys, and its role: tells a
/// revocation Redis lost from one a mirror forgot.
fn in_redis(servers: &[&RedisServer], entry: &Revoked) -> String {
    let pattern = match entry {
        Revoked::Token { jti, .. } | Revoked::Session { jti, .. } => format!("*:t:{jti}"),
        Revoked::Subject { .. } | Revoked::Spent { .. } => "*:c".to_owned(),
    };
    servers
        .iter()
        .map(|server| {
            let role = server.try_cli(&["ROLE"]).unwrap_or_else(|e| e.to_string());
            let keys = server
                .try_cli(&["--scan", "--pattern", &pattern])
                .unwrap_or_else(|e| e.to_string());
            format!(
                "{} {}: [{}]",
                server.port(),
                role.lines().next().unwrap_or(""),
                keys.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until each of `instances` refuses to rotate every refresh token
/// in `revoked`, and fails at once if one rotates it. Once the old master
/// has rejoined: a rotation, even a refused one, is acknowledged only once
/// a replica holds what it wrote.
async fn rotates_none(round: usize, instances: &Instances<'_>, revoked: &[Revoked]) {
    for (name, store) in instances {
        let name = format!("round {round}: instance {name}");
        let deadline = Instant::now() + RECOVERY;
        let issuer = issuer(store);
        for entry in revoked {
            while let Some(refresh) = entry.refresh() {
                match issuer.refresh(refresh).await {
                    Ok(_) => panic!("{name} rotated the refresh token of acknowledged {entry:?}"),
                    Err(error) if error.kind() == IssueErrorKind::Store => {
                        wait_until(deadline, &name).await;
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

/// A short wait before asking `name` again; panics past `deadline`.
async fn wait_until(deadline: Instant, name: &str) {
    assert!(
        Instant::now() < deadline,
        "{name} did not answer again within {RECOVERY:?}"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// The write of one round, on `store`: acknowledged (added to
/// `acknowledged`) when the replica runs, refused as not replicated when it
/// was cut off, within the replica timeout and a margin.
async fn write_round(
    store: &RedisStore,
    round: usize,
    prepared: Write,
    cut: bool,
    acknowledged: &mut Vec<Revoked>,
) {
    let start = Instant::now();
    let (mut revoked, mut result) = write(store, prepared.clone(), false).await;
    // A deployment that is still settling (a Sentinel judging the new
    // master down for a moment on a loaded machine) refuses a write as
    // unavailable: not acknowledged, so allowed; the round's write is tried
    // again until it is acknowledged.
    let deadline = start + RECOVERY;
    while !cut
        && matches!(&result, Err((StoreErrorKind::Unavailable, _)))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        (revoked, result) = write(store, prepared.clone(), true).await;
    }
    if cut {
        // Not replicated in time; or, on a Cluster, a timeout opening the
        // write's own connection (it reaches every node, the frozen one too).
        assert!(
            result.as_ref().is_err_and(|(kind, _)| matches!(
                kind,
                StoreErrorKind::NotReplicated | StoreErrorKind::Timeout
            )),
            "round {round}: a write no replica holds is not acknowledged: {result:?}"
        );
        assert!(
            start.elapsed() < Duration::from_millis(2000),
            "round {round}: the wait is bounded by the replica timeout: {:?}",
            start.elapsed()
        );
    } else {
        if let Err((kind, error)) = &result {
            panic!("round {round}: {revoked:?} not acknowledged: {kind:?}, {error}");
        }
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
    let started = Instant::now();
    let mut master = 0;
    for round in 0..rounds {
        let replica = 1 - master;
        let cut = round % CUT_EVERY == CUT_EVERY - 1;
        let prepared = prepare(&a, round, &format!("user-{round}")).await;
        if cut {
            servers[replica].freeze();
        }
        write_round(&a, round, prepared, cut, &mut acknowledged).await;
        let old = servers[master].port();
        servers[master].kill();
        if cut {
            servers[replica].thaw();
        }
        // Promote the replica now rather than after `down-after` (1 s).
        setup.fail_over_from(old, RECOVERY);
        let later = ready(config()).await;
        let instances = [("a", &a), ("b", &b), ("direct", &direct), ("new", &later)];
        refuses_all(round, &instances, &acknowledged, &servers).await;
        // The old master comes back empty, as a replica of the new one.
        servers[master].restart();
        let new_port = servers[replica].port().to_string();
        servers[master].cli(&["REPLICAOF", "127.0.0.1", &new_port]);
        servers[master].wait_in_sync(servers[replica], RECOVERY);
        rotates_none(round, &instances, &acknowledged).await;
        master = replica;
    }
    summary("Sentinel, master + replica", rounds, &acknowledged, started);
}

async fn cluster_failovers(rounds: usize) {
    let cluster = RedisCluster::builder(3).replicas(1).start();
    let config = || RedisConfig::cluster(cluster.urls());
    let a = ready(config()).await;
    let b = ready(config()).await;
    let direct = ready(config().direct(true)).await;
    let mut acknowledged = Vec::new();
    let started = Instant::now();
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
        let prepared = prepare(&a, round, &sub).await;
        if cut {
            cluster.node(replica).freeze();
        }
        write_round(&a, round, prepared, cut, &mut acknowledged).await;
        cluster.node(master).kill();
        if cut {
            cluster.node(replica).thaw();
        }
        // Promote the replica now rather than after the node timeout.
        cluster.promote(replica, "TAKEOVER", RECOVERY);
        let later = ready(config()).await;
        let instances = [("a", &a), ("b", &b), ("direct", &direct), ("new", &later)];
        let nodes: Vec<_> = cluster.nodes().iter().collect();
        refuses_all(round, &instances, &acknowledged, &nodes).await;
        // The old master rejoins as a replica of the new one.
        cluster.node(master).restart();
        cluster
            .node(master)
            .wait_in_sync(cluster.node(replica), RECOVERY);
        cluster.wait_ok();
        rotates_none(round, &instances, &acknowledged).await;
    }
    summary(
        "Cluster, 3 masters + 3 replicas",
        rounds,
        &acknowledged,
        started,
    );
}

/// One line of the README's table: what was acknowledged, and refused
/// after every later failover by every instance.
fn summary(deployment: &str, rounds: usize, acknowledged: &[Revoked], started: Instant) {
    let count = |kind: fn(&Revoked) -> bool| acknowledged.iter().filter(|r| kind(r)).count();
    eprintln!(
        "failover: {deployment} | {rounds} | {} | {} | {} | {} | {} | 0 | {:.0}",
        count(|r| matches!(r, Revoked::Token { .. })),
        count(|r| matches!(r, Revoked::Subject { .. })),
        count(|r| matches!(r, Revoked::Session { .. })),
        count(|r| matches!(r, Revoked::Spent { .. })),
        rounds / CUT_EVERY,
        started.elapsed().as_secs_f64(),
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
