//! The chaos program: two demo binaries on one Redis deployment (one
//! server with AOF, a master with a replica behind Sentinel, a Cluster of
//! three masters with a replica each) under a steady mixed load, while the
//! Redis deployment is killed, paused, frozen, failed over and restarted,
//! and while every core is saturated.
//!
//! The load is [`super::load`]'s; 503 is always allowed, except from
//! `GET /me` while only the CPU is saturated.
//!
//! Per fault it reports, and then asserts: revoked, expired or forged
//! tokens accepted (0), refresh tokens rotated twice (0), answers other
//! than the expected status or 503 (0), the p99 latency of the 503s of
//! token checks (within the store timeout plus 10 ms) and of writes
//! (reported), and the time from the fault's end to full service (a login,
//! a check and a logout answered on both instances).
//!
//! Not part of plain `cargo test`: ignored, and skipped unless
//! `JWT_GUARD_CHAOS` is `short` (a few seconds per fault, as `.ci/run`
//! runs it) or `full` (`tests/chaos.sh full`, the README's table).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::load::{Load, RECOVERY, SECRET, p99};
use crate::support::example::{self, Example};
use crate::support::redis::{RedisCluster, RedisSentinel, RedisServer, require_redis};

/// The demo's Redis store timeout (`RedisConfig`'s default).
const STORE_TIMEOUT: Duration = Duration::from_millis(50);

/// How long the faults and the quiet spells between them last.
#[derive(Clone, Copy, Debug)]
struct Timing {
    /// Steady load before the first fault and after each recovery.
    settle: Duration,
    /// How long a pause, a freeze or a dead master lasts.
    hold: Duration,
    /// How long every core is kept busy.
    saturation: Duration,
}

fn timing() -> Option<Timing> {
    match std::env::var("JWT_GUARD_CHAOS").ok()?.as_str() {
        "short" => Some(Timing {
            settle: Duration::from_secs(2),
            hold: Duration::from_secs(2),
            saturation: Duration::from_secs(10),
        }),
        "full" => Some(Timing {
            settle: Duration::from_secs(20),
            hold: Duration::from_secs(5),
            saturation: Duration::from_secs(60),
        }),
        other => panic!("JWT_GUARD_CHAOS must be short or full, not {other}"),
    }
}

/// Every core busy for `duration`, in threads of this process.
fn saturate(duration: Duration) {
    let until = Instant::now() + duration;
    let spinners: Vec<_> = (0..thread::available_parallelism().map_or(2, usize::from))
        .map(|_| {
            thread::spawn(move || {
                let mut x = 0u64;
                while Instant::now() < until {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
            })
        })
        .collect();
    for spinner in spinners {
        spinner.join().unwrap();
    }
}

/// A Redis deployment under test, and how to hurt it.
enum Deployment {
    Single(RedisServer),
    Sentinel(RedisSentinel),
    Cluster(RedisCluster),
}

/// One fault: what it does, until the deployment is whole again.
type Fault = (&'static str, fn(&Deployment, Timing));

impl Deployment {
    fn name(&self) -> &'static str {
        match self {
            Self::Single(_) => "one server (AOF)",
            Self::Sentinel(_) => "Sentinel, master + replica",
            Self::Cluster(_) => "Cluster, 3 masters + 3 replicas",
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Single(server) => vec![("REDIS_URL", server.url())],
            Self::Sentinel(setup) => vec![
                ("REDIS_SENTINEL_URLS", setup.sentinel_urls().join(",")),
                ("REDIS_SENTINEL_MASTER", setup.master_name().to_owned()),
            ],
            Self::Cluster(cluster) => vec![("REDIS_CLUSTER_URLS", cluster.urls().join(","))],
        }
    }

    fn faults(&self) -> Vec<Fault> {
        let mut faults: Vec<Fault> = match self {
            Self::Single(_) => vec![
                ("kill -9, restart", |d, t| {
                    let server = d.single();
                    server.kill();
                    thread::sleep(t.hold);
                    server.restart();
                }),
                ("CLIENT PAUSE", |d, t| {
                    d.single().pause(t.hold);
                    thread::sleep(t.hold);
                }),
                ("SIGSTOP", |d, t| {
                    d.single().freeze();
                    thread::sleep(t.hold);
                    d.single().thaw();
                }),
            ],
            Self::Sentinel(_) => vec![
                ("kill -9 master, failover, rejoin", |d, t| {
                    let (setup, master, replica) = d.sentinel_roles();
                    let old = master.port();
                    master.kill();
                    setup.fail_over_from(old, RECOVERY);
                    thread::sleep(t.hold);
                    master.restart();
                    master.cli(&["REPLICAOF", "127.0.0.1", &replica.port().to_string()]);
                    master.wait_in_sync(replica, RECOVERY);
                }),
                ("SENTINEL FAILOVER", |d, _| {
                    let (setup, master, replica) = d.sentinel_roles();
                    setup.fail_over_from(master.port(), RECOVERY);
                    master.wait_in_sync(replica, RECOVERY);
                }),
                ("SIGSTOP master", |d, t| {
                    let (_, master, _) = d.sentinel_roles();
                    master.freeze();
                    thread::sleep(t.hold);
                    master.thaw();
                    d.sentinel_settled();
                }),
                ("CLIENT PAUSE master", |d, t| {
                    let (_, master, _) = d.sentinel_roles();
                    master.pause(t.hold);
                    thread::sleep(t.hold);
                    d.sentinel_settled();
                }),
            ],
            Self::Cluster(_) => vec![
                ("kill -9 master, takeover, rejoin", |d, t| {
                    let (cluster, master, replica) = d.cluster_roles();
                    cluster.node(master).kill();
                    cluster.promote(replica, "TAKEOVER", RECOVERY);
                    thread::sleep(t.hold);
                    cluster.node(master).restart();
                    rejoined(cluster, master, replica);
                }),
                ("CLUSTER FAILOVER FORCE", |d, _| {
                    let (cluster, master, replica) = d.cluster_roles();
                    cluster.promote(replica, "FORCE", RECOVERY);
                    rejoined(cluster, master, replica);
                }),
                ("SIGSTOP master", |d, t| {
                    let (cluster, master, replica) = d.cluster_roles();
                    cluster.node(master).freeze();
                    thread::sleep(t.hold);
                    cluster.node(master).thaw();
                    d.cluster_settled(master, replica);
                }),
            ],
        };
        faults.push(("every core busy", |_, t| saturate(t.saturation)));
        faults
    }

    fn cluster(&self) -> &RedisCluster {
        match self {
            Self::Cluster(cluster) => cluster,
            _ => unreachable!(),
        }
    }

    fn single(&self) -> &RedisServer {
        match self {
            Self::Single(server) => server,
            _ => unreachable!(),
        }
    }

    /// The Sentinel setup, its current master and the other server.
    fn sentinel_roles(&self) -> (&RedisSentinel, &RedisServer, &RedisServer) {
        let Self::Sentinel(setup) = self else {
            unreachable!()
        };
        let port = setup.master_addr().port();
        let servers = [setup.master(), &setup.replicas()[0]];
        let master = servers.iter().position(|s| s.port() == port).unwrap();
        (setup, servers[master], servers[1 - master])
    }

    /// Waits until the server Sentinel names master has the other as an
    /// in-sync replica, twice a second apart (after a freeze or a pause,
    /// Sentinel may fail over late, or not at all).
    fn sentinel_settled(&self) {
        settled("Sentinel", || {
            let (_, master, replica) = self.sentinel_roles();
            (master.is_master() && replica.is_in_sync(master)).then(|| master.port())
        });
    }

    /// The cluster, the master of the demo users' sessions (their slot
    /// takes the logins, refreshes and logouts) and its replica.
    fn cluster_roles(&self) -> (&RedisCluster, usize, usize) {
        let cluster = self.cluster();
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("alice");
        let master = cluster.master_for_key(&format!("{{{tag}}}"));
        let deadline = Instant::now() + RECOVERY;
        loop {
            if let Some(replica) = cluster.replica_of(master) {
                return (cluster, master, replica);
            }
            assert!(Instant::now() < deadline, "master {master} has no replica");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until one of `a` and `b` is a master and the other its
    /// in-sync replica, and the cluster is ok.
    fn cluster_settled(&self, a: usize, b: usize) {
        let cluster = self.cluster();
        let is_master = |i: usize| cluster.node(i).is_master();
        settled("the cluster", || {
            let (master, replica) = match (is_master(a), is_master(b)) {
                (true, false) => (a, b),
                (false, true) => (b, a),
                _ => return None,
            };
            cluster
                .node(replica)
                .is_in_sync(cluster.node(master))
                .then_some(master)
        });
        cluster.wait_ok();
    }
}

/// Polls `state` until it names the same master twice, a second apart.
fn settled<T: PartialEq>(what: &str, state: impl Fn() -> Option<T>) {
    let deadline = Instant::now() + RECOVERY;
    loop {
        if let Some(first) = state() {
            thread::sleep(Duration::from_secs(1));
            if state().is_some_and(|again| again == first) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{what} did not settle");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the old master `old` replicates the promoted `new` and the
/// cluster is ok.
fn rejoined(cluster: &RedisCluster, old: usize, new: usize) {
    cluster.node(old).wait_in_sync(cluster.node(new), RECOVERY);
    cluster.wait_ok();
}

/// Runs the load against two demo instances on `deployment` through every
/// fault; returns the phases.
async fn run(deployment: Deployment, timing: Timing) -> Vec<super::load::Phase> {
    let mut env: Vec<(&str, String)> = deployment.env();
    env.push(("JWT_SECRET", SECRET.to_owned()));
    env.push(("COOKIE_SECURE", "false".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let instances: [Example; 2] = [
        example::start("demo", &env, "/health").await,
        example::start("demo", &env, "/health").await,
    ];
    let load = Load::new(
        [instances[0].url.clone(), instances[1].url.clone()],
        "steady load",
    );
    let workers = load.start();
    tokio::time::sleep(timing.settle).await;
    let deployment = Arc::new(deployment);
    for (name, fault) in deployment.faults() {
        load.begin(name);
        load.forbid_503(name == "every core busy");
        let target = deployment.clone();
        tokio::task::spawn_blocking(move || fault(&target, timing))
            .await
            .unwrap();
        load.forbid_503(false);
        let recovery = load.full_service().await;
        tokio::time::sleep(timing.settle).await;
        load.recovered_in(recovery);
    }
    let phases = load.finish(workers).await;
    drop(instances);
    phases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the chaos program: JWT_GUARD_CHAOS=short|full (tests/chaos.sh)"]
async fn chaos_under_load() {
    let Some(timing) = timing() else {
        eprintln!("chaos: skipped; JWT_GUARD_CHAOS=short or full runs it (tests/chaos.sh)");
        return;
    };
    require_redis();
    let deployments: [fn() -> Deployment; 3] = [
        || Deployment::Single(RedisServer::builder().appendonly(true).start()),
        || Deployment::Sentinel(RedisSentinel::start_with_replicas(1)),
        || Deployment::Cluster(RedisCluster::builder(3).replicas(1).start()),
    ];
    let mut failures = Vec::new();
    eprintln!(
        "chaos: deployment | fault | requests | revoked/expired/forged accepted | rotated twice | \
         logins lost | unexpected | 503s | p99 503 check ms | p99 503 write ms | full service after s"
    );
    for start in deployments {
        let deployment = start();
        let name = deployment.name();
        for phase in run(deployment, timing).await {
            eprintln!("chaos: {name} | {}", phase.row());
            eprintln!("chaos:     answers: {}", phase.answers());
            let mut fail = |what: String| failures.push(format!("{name}, {}: {what}", phase.name));
            if phase.accepted > 0 {
                fail(format!(
                    "{} revoked, expired or forged tokens accepted",
                    phase.accepted
                ));
            }
            if phase.rotated_twice > 0 {
                fail(format!(
                    "{} refresh tokens rotated twice",
                    phase.rotated_twice
                ));
            }
            for unexpected in phase.unexpected.iter().take(5) {
                fail(format!("unexpected answer: {unexpected}"));
            }
            if let Some(p99) =
                p99(&phase.check_503).filter(|p| *p > STORE_TIMEOUT + Duration::from_millis(10))
            {
                fail(format!("p99 of the check 503s {p99:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "chaos:\n{}", failures.join("\n"));
}
