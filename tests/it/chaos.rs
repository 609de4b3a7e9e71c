//! The chaos program: two demo binaries on one Redis deployment (one
//! server with AOF, a master with a replica behind Sentinel, a Cluster of
//! three masters with a replica each) under a steady mixed load, while the
//! Redis deployment is killed, paused, frozen, failed over and restarted,
//! and while every core is saturated.
//!
//! The load, from a few tasks, each request to either instance: `GET /me`
//! with a live session's access token (expected 200), with a token logged
//! out before (401), an expired and a forged token (401); logins (200,
//! each from its own loopback address, so the throttle never trips);
//! refreshes (200); logouts (204); and replays: one refresh token sent to
//! both instances at once, then again (at most one 200 in all). 503 is
//! always allowed, except from `GET /me` while only the CPU is saturated.
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

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use jwt_guard::{Algorithm, SigningKey};
use serde_json::{Value, json};

use crate::support::example::{self, Example};
use crate::support::redis::{RedisCluster, RedisSentinel, RedisServer, require_redis};
use crate::support::{now, unique_id};

const SECRET: &str = "chaos-test-secret-0123456789abcdef-0123";
/// The demo's Redis store timeout (`RedisConfig`'s default).
const STORE_TIMEOUT: Duration = Duration::from_millis(50);
/// How long every instance gets to be fully in service after a fault.
const RECOVERY: Duration = Duration::from_secs(30);
/// A revocation made on one instance is checked on the other only this
/// long after it was acknowledged (pub/sub propagation; the instance that
/// revoked refuses the token at once).
const PROPAGATION: Duration = Duration::from_secs(1);
const WORKERS: usize = 6;

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

/// What a request of the load was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    Revoked,
    Expired,
    Forged,
    Login,
    Refresh,
    Logout,
    Replay,
}

impl Kind {
    /// Whether Redis is written (and maybe waited on) for it.
    fn is_write(self) -> bool {
        matches!(
            self,
            Self::Login | Self::Refresh | Self::Logout | Self::Replay
        )
    }
}

/// What one phase (the steady load, or one fault and its recovery) saw.
#[derive(Default)]
struct Phase {
    name: String,
    requests: u64,
    statuses: BTreeMap<(Kind, u16), u64>,
    accepted: u64,
    rotated_twice: u64,
    /// Refreshes of a session never refreshed before answered 401.
    logins_lost: u64,
    unexpected: Vec<String>,
    check_503: Vec<Duration>,
    write_503: Vec<Duration>,
    recovery: Option<Duration>,
}

fn p99(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let index = (sorted.len() * 99).div_ceil(100).checked_sub(1)?;
    sorted.get(index).copied()
}

impl Phase {
    /// Every kind of request with how often each status answered it.
    fn answers(&self) -> String {
        let mut text = String::new();
        let mut last = None;
        for ((kind, status), n) in &self.statuses {
            if last != Some(*kind) {
                text.push_str(&format!(
                    "{}{kind:?}",
                    if last.is_some() { "; " } else { "" }
                ));
                last = Some(*kind);
            }
            text.push_str(&format!(" {status}×{n}"));
        }
        text
    }

    fn row(&self) -> String {
        let ms = |d: Option<Duration>| {
            d.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e3))
        };
        let unavailable: u64 = self
            .statuses
            .iter()
            .filter(|((_, status), _)| *status == 503)
            .map(|(_, n)| n)
            .sum();
        format!(
            "{} | {} | {} | {} | {} | {} | {} | {} | {} | {}",
            self.name,
            self.requests,
            self.accepted,
            self.rotated_twice,
            self.logins_lost,
            self.unexpected.len(),
            unavailable,
            ms(p99(&self.check_503)),
            ms(p99(&self.write_503)),
            self.recovery
                .map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64())),
        )
    }
}

/// A logged-in client: its current access and refresh token.
#[derive(Clone)]
struct Session {
    access: String,
    refresh: String,
    /// Whether a refresh of it was granted: a login is not waited on (a
    /// failover may lose it, and its first refresh answers 401), a
    /// rotation is (what it wrote survives).
    durable: bool,
}

/// A token logged out on `instance` at `at`.
struct Revoked {
    token: String,
    instance: usize,
    at: Instant,
}

struct Load {
    urls: [String; 2],
    phases: Mutex<Vec<Phase>>,
    current: AtomicUsize,
    /// While set, `GET /me` must not answer 503 (only the CPU is busy).
    no_503: AtomicBool,
    stop: AtomicBool,
    sessions: Mutex<Vec<Session>>,
    revoked: Mutex<Vec<Revoked>>,
    /// Every refresh token a refresh was granted for.
    rotated: Mutex<HashSet<String>>,
    /// How many login clients were made (each from its own address).
    logins: AtomicUsize,
    client: reqwest::Client,
    expired: String,
    forged: String,
}

/// A client from loopback address `n` of 127.1.0.1 onwards: the throttle
/// counts login attempts per address, and an attempt whose success could
/// not be recorded (503) stays counted.
fn client_number(n: usize) -> reqwest::Client {
    let address = Ipv4Addr::new(
        127,
        1 + (n / 62_500 % 250) as u8,
        (n / 250 % 250) as u8,
        (n % 250 + 1) as u8,
    );
    client_from(Some(IpAddr::V4(address)))
}

fn client_from(address: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A small deterministic generator: the load needs spread, not secrecy.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A demo token minted here: `exp` as given, signed with `secret`.
fn mint(secret: &str, exp: u64) -> String {
    let now = now();
    let claims = json!({
        "sub": "alice", "iss": "jwt-guard-demo", "aud": "jwt-guard-demo",
        "iat": now.min(exp), "nbf": now.min(exp), "exp": exp, "jti": unique_id(),
        "roles": ["admin", "user"],
    });
    SigningKey::hmac(Algorithm::HS256, secret.as_bytes())
        .unwrap()
        .sign("JWT", &claims)
        .unwrap()
}

/// The tokens of a 200 login or refresh answer.
async fn session_of(response: reqwest::Response) -> Option<Session> {
    let refresh = response
        .headers()
        .get("set-cookie")?
        .to_str()
        .ok()?
        .strip_prefix("refresh_token=")?
        .split(';')
        .next()?
        .to_owned();
    let body: Value = response.json().await.ok()?;
    Some(Session {
        access: body["access_token"].as_str()?.to_owned(),
        refresh,
        durable: false,
    })
}

impl Load {
    fn record(&self, kind: Kind, status: u16, took: Duration, expected: u16, what: &str) {
        let mut phases = self.phases.lock().unwrap();
        let phase = &mut phases[self.current.load(Ordering::SeqCst)];
        phase.requests += 1;
        *phase.statuses.entry((kind, status)).or_default() += 1;
        if status == 503 {
            if kind.is_write() {
                phase.write_503.push(took);
            } else {
                phase.check_503.push(took);
            }
        }
        let accepted =
            status == 200 && matches!(kind, Kind::Revoked | Kind::Expired | Kind::Forged);
        if accepted {
            phase.accepted += 1;
        }
        let allowed_503 = status == 503 && (kind.is_write() || !self.no_503.load(Ordering::SeqCst));
        if status != expected && !allowed_503 && !accepted {
            phase.unexpected.push(format!(
                "{kind:?} {what}: {status} (expected {expected}) after {took:?}"
            ));
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (u16, Duration, Option<reqwest::Response>) {
        let start = Instant::now();
        match request.send().await {
            Ok(response) => (response.status().as_u16(), start.elapsed(), Some(response)),
            Err(_) => (0, start.elapsed(), None),
        }
    }

    async fn me(&self, instance: usize, token: &str, kind: Kind, expected: u16) -> u16 {
        let request = self
            .client
            .get(format!("{}/me", self.urls[instance]))
            .bearer_auth(token);
        let (status, took, _) = self.send(request).await;
        self.record(
            kind,
            status,
            took,
            expected,
            &format!("GET /me on {instance}"),
        );
        status
    }

    async fn login(&self, instance: usize, rng: &mut Rng) -> Option<Session> {
        let client = client_number(self.logins.fetch_add(1, Ordering::SeqCst));
        let (user, password) = [("alice", "wonderland"), ("bob", "builder")][rng.below(2)];
        let request = client
            .post(format!("{}/auth/login", self.urls[instance]))
            .json(&json!({ "username": user, "password": password }));
        let (status, took, response) = self.send(request).await;
        self.record(
            Kind::Login,
            status,
            took,
            200,
            &format!("login on {instance}"),
        );
        session_of(response.filter(|_| status == 200)?).await
    }

    fn refresh_request(&self, instance: usize, token: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/auth/refresh", self.urls[instance]))
            .json(&json!({ "refresh_token": token }))
    }

    /// Notes a granted rotation of `token`: granted before is rotated twice.
    fn granted(&self, token: &str) {
        if !self.rotated.lock().unwrap().insert(token.to_owned()) {
            let mut phases = self.phases.lock().unwrap();
            phases[self.current.load(Ordering::SeqCst)].rotated_twice += 1;
        }
    }

    async fn refresh(&self, instance: usize, session: Session) -> Option<Session> {
        let (status, took, response) = self
            .send(self.refresh_request(instance, &session.refresh))
            .await;
        // A login a failover lost: its first refresh is refused.
        let lost = status == 401 && !session.durable;
        if lost {
            let mut phases = self.phases.lock().unwrap();
            phases[self.current.load(Ordering::SeqCst)].logins_lost += 1;
        }
        let expected = if lost { 401 } else { 200 };
        let what = format!("refresh on {instance}");
        self.record(Kind::Refresh, status, took, expected, &what);
        if status == 200 {
            self.granted(&session.refresh);
        }
        // After a 503 the rotation may or may not have happened: the
        // session is dropped rather than guessed at.
        let mut renewed = session_of(response.filter(|_| status == 200)?).await?;
        renewed.durable = true;
        Some(renewed)
    }

    /// One refresh token sent to both instances at once, then to one
    /// again: one 200 at most (the others 401, reuse detected, or 503).
    async fn replay(&self, session: Session) {
        let (a, b) = tokio::join!(
            self.send(self.refresh_request(0, &session.refresh)),
            self.send(self.refresh_request(1, &session.refresh)),
        );
        let c = self.send(self.refresh_request(0, &session.refresh)).await;
        for (instance, (status, took, _)) in [(0, a), (1, b), (0, c)] {
            if status == 200 {
                self.granted(&session.refresh);
            }
            let expected = if status == 200 { 200 } else { 401 };
            self.record(
                Kind::Replay,
                status,
                took,
                expected,
                &format!("replay on {instance}"),
            );
        }
    }

    async fn logout(&self, instance: usize, session: Session) {
        let request = self
            .client
            .post(format!("{}/auth/logout", self.urls[instance]))
            .bearer_auth(&session.access);
        let (status, took, _) = self.send(request).await;
        self.record(
            Kind::Logout,
            status,
            took,
            204,
            &format!("logout on {instance}"),
        );
        if status == 204 {
            let mut revoked = self.revoked.lock().unwrap();
            let entry = Revoked {
                token: session.access,
                instance,
                at: Instant::now(),
            };
            if revoked.len() == 200 {
                revoked.remove(0);
            }
            revoked.push(entry);
        }
    }

    fn take_session(&self, rng: &mut Rng) -> Option<Session> {
        let mut sessions = self.sessions.lock().unwrap();
        (!sessions.is_empty()).then(|| {
            let index = rng.below(sessions.len());
            sessions.swap_remove(index)
        })
    }

    fn give_back(&self, session: Option<Session>) {
        if let Some(session) = session {
            self.sessions.lock().unwrap().push(session);
        }
    }

    async fn worker(self: Arc<Self>, seed: u64) {
        let mut rng = Rng(seed | 1);
        while !self.stop.load(Ordering::SeqCst) {
            let instance = rng.below(2);
            let roll = rng.below(100);
            let session = if roll < 92 {
                self.take_session(&mut rng)
            } else {
                None
            };
            match (roll, session) {
                (0..60, Some(session)) => {
                    self.me(instance, &session.access, Kind::Valid, 200).await;
                    self.give_back(Some(session));
                }
                (60..72, session) => {
                    self.give_back(session);
                    let token = {
                        let revoked = self.revoked.lock().unwrap();
                        (!revoked.is_empty()).then(|| {
                            let entry = &revoked[rng.below(revoked.len())];
                            // The other instance once the revocation has propagated.
                            let other = entry.at.elapsed() >= PROPAGATION;
                            let at = if other { instance } else { entry.instance };
                            (entry.token.clone(), at)
                        })
                    };
                    if let Some((token, at)) = token {
                        self.me(at, &token, Kind::Revoked, 401).await;
                    }
                }
                (72..78, session) => {
                    self.give_back(session);
                    self.me(instance, &self.expired, Kind::Expired, 401).await;
                }
                (78..84, session) => {
                    self.give_back(session);
                    self.me(instance, &self.forged, Kind::Forged, 401).await;
                }
                (84..90, Some(session)) => {
                    let renewed = self.refresh(instance, session).await;
                    self.give_back(renewed);
                }
                (90..92, Some(session)) => self.logout(instance, session).await,
                (92..94, _) => {
                    if let Some(session) = self.login(instance, &mut rng).await {
                        // A session to sacrifice: rotated once, then its first
                        // refresh token replayed (which ends the session).
                        if self.refresh(instance, session.clone()).await.is_some() {
                            self.replay(session).await;
                        }
                    }
                }
                (_, session) => {
                    self.give_back(session);
                    let few = self.sessions.lock().unwrap().len() < 40;
                    if few || roll >= 98 {
                        let session = self.login(instance, &mut rng).await;
                        self.give_back(session);
                    }
                }
            }
        }
    }

    fn begin(&self, name: &str) {
        eprintln!("chaos: … {name}");
        let mut phases = self.phases.lock().unwrap();
        phases.push(Phase {
            name: name.to_owned(),
            ..Phase::default()
        });
        self.current.store(phases.len() - 1, Ordering::SeqCst);
    }

    /// Polls until both instances log in, check and log out, each once;
    /// the time it took (these requests are not counted in the load).
    async fn full_service(&self) -> Duration {
        let start = Instant::now();
        let ok = async |url: &str| -> bool {
            let client = client_number(self.logins.fetch_add(1, Ordering::SeqCst));
            let Ok(response) = client
                .post(format!("{url}/auth/login"))
                .json(&json!({ "username": "alice", "password": "wonderland" }))
                .send()
                .await
            else {
                return false;
            };
            if response.status() != 200 {
                return false;
            }
            let Some(session) = session_of(response).await else {
                return false;
            };
            let me = client
                .get(format!("{url}/me"))
                .bearer_auth(&session.access)
                .send()
                .await;
            let logout = client
                .post(format!("{url}/auth/logout"))
                .bearer_auth(&session.access)
                .send()
                .await;
            me.is_ok_and(|r| r.status() == 200) && logout.is_ok_and(|r| r.status() == 204)
        };
        loop {
            if ok(&self.urls[0]).await && ok(&self.urls[1]).await {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < RECOVERY,
                "not in full service within {RECOVERY:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
                    promote_by_sentinel(setup, old);
                    thread::sleep(t.hold);
                    master.restart();
                    master.cli(&["REPLICAOF", "127.0.0.1", &replica.port().to_string()]);
                    master.wait_in_sync(replica, RECOVERY);
                }),
                ("SENTINEL FAILOVER", |d, _| {
                    let (setup, master, replica) = d.sentinel_roles();
                    promote_by_sentinel(setup, master.port());
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
                    promote_in_cluster(cluster, replica, "TAKEOVER");
                    thread::sleep(t.hold);
                    cluster.node(master).restart();
                    cluster
                        .node(master)
                        .wait_in_sync(cluster.node(replica), RECOVERY);
                    cluster.wait_ok();
                }),
                ("CLUSTER FAILOVER FORCE", |d, _| {
                    let (cluster, master, replica) = d.cluster_roles();
                    promote_in_cluster(cluster, replica, "FORCE");
                    cluster
                        .node(master)
                        .wait_in_sync(cluster.node(replica), RECOVERY);
                    cluster.wait_ok();
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
            let settled = master
                .try_cli(&["ROLE"])
                .is_ok_and(|r| r.starts_with("master"))
                && replica.is_in_sync(master);
            settled.then(|| master.port())
        });
    }

    /// The cluster, the master of the demo users' sessions (their slot
    /// takes the logins, refreshes and logouts) and its replica.
    fn cluster_roles(&self) -> (&RedisCluster, usize, usize) {
        let Self::Cluster(cluster) = self else {
            unreachable!()
        };
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
        let (cluster, _, _) = self.cluster_roles();
        let is_master = |i: usize| {
            cluster
                .node(i)
                .try_cli(&["ROLE"])
                .is_ok_and(|r| r.starts_with("master"))
        };
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

/// Asks Sentinel to fail over until it names another master than `old`.
fn promote_by_sentinel(setup: &RedisSentinel, old: u16) {
    let deadline = Instant::now() + RECOVERY;
    while setup.master_addr().port() == old {
        let _ = setup
            .sentinel()
            .try_cli(&["SENTINEL", "FAILOVER", setup.master_name()]);
        assert!(Instant::now() < deadline, "no failover");
        thread::sleep(Duration::from_millis(100));
    }
}

/// `CLUSTER FAILOVER <how>` on `replica` until it is a master.
fn promote_in_cluster(cluster: &RedisCluster, replica: usize, how: &str) {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let node = cluster.node(replica);
        if node
            .try_cli(&["ROLE"])
            .is_ok_and(|r| r.starts_with("master"))
        {
            return;
        }
        let _ = node.try_cli(&["CLUSTER", "FAILOVER", how]);
        assert!(Instant::now() < deadline, "no failover");
        thread::sleep(Duration::from_millis(200));
    }
}

/// Runs the load against two demo instances on `deployment` through every
/// fault; returns the phases.
async fn run(deployment: Deployment, timing: Timing) -> Vec<Phase> {
    let mut env: Vec<(&str, String)> = deployment.env();
    env.push(("JWT_SECRET", SECRET.to_owned()));
    env.push(("COOKIE_SECURE", "false".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let instances: [Example; 2] = [
        example::start("demo", &env, "/health").await,
        example::start("demo", &env, "/health").await,
    ];
    let load = Arc::new(Load {
        urls: [instances[0].url.clone(), instances[1].url.clone()],
        phases: Mutex::new(Vec::new()),
        current: AtomicUsize::new(0),
        no_503: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        sessions: Mutex::new(Vec::new()),
        revoked: Mutex::new(Vec::new()),
        rotated: Mutex::new(HashSet::new()),
        logins: AtomicUsize::new(0),
        client: client_from(None),
        expired: mint(SECRET, now() - 600),
        forged: mint("another-secret-0123456789abcdef-0123", now() + 3600),
    });
    load.begin("steady load");
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            tokio::spawn(
                load.clone()
                    .worker(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1) << 17),
            )
        })
        .collect();
    tokio::time::sleep(timing.settle).await;
    let deployment = Arc::new(deployment);
    for (name, fault) in deployment.faults() {
        load.begin(name);
        let cpu_only = name == "every core busy";
        load.no_503.store(cpu_only, Ordering::SeqCst);
        let target = deployment.clone();
        tokio::task::spawn_blocking(move || fault(&target, timing))
            .await
            .unwrap();
        load.no_503.store(false, Ordering::SeqCst);
        let recovery = load.full_service().await;
        tokio::time::sleep(timing.settle).await;
        load.phases.lock().unwrap().last_mut().unwrap().recovery = Some(recovery);
    }
    load.stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    drop(instances);
    std::mem::take(&mut *load.phases.lock().unwrap())
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
