//! The steady mixed load that the chaos program and the soak put on two
//! demo instances, and what it saw.
//!
//! From a few tasks, each request to either instance: `GET /me` with a
//! live session's access token (expected 200), with a token logged out
//! before (401), an expired and a forged token (401); logins (200, each
//! from its own loopback address, so the throttle never trips); refreshes
//! (200); logouts (204); and replays: one refresh token sent to both
//! instances at once, then again (at most one 200 in all). 503 is always
//! allowed, except from `GET /me` while [`Load::no_503`] is set.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwt_guard::{Algorithm, SigningKey};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::support::{now, unique_id};

/// The demo instances' `JWT_SECRET`.
pub const SECRET: &str = "chaos-test-secret-0123456789abcdef-0123";
/// How long every instance gets to be fully in service after a fault.
pub const RECOVERY: Duration = Duration::from_secs(30);
/// A revocation made on one instance is checked on the other only this
/// long after it was acknowledged (pub/sub propagation; the instance that
/// revoked refuses the token at once).
const PROPAGATION: Duration = Duration::from_secs(1);
const WORKERS: usize = 6;

/// What a request of the load was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
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
pub struct Phase {
    pub name: String,
    pub requests: u64,
    pub statuses: BTreeMap<(Kind, u16), u64>,
    pub accepted: u64,
    pub rotated_twice: u64,
    /// Refreshes of a session never refreshed before answered 401.
    pub logins_lost: u64,
    pub unexpected: Vec<String>,
    pub check_503: Vec<Duration>,
    pub write_503: Vec<Duration>,
    pub recovery: Option<Duration>,
}

pub fn p99(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let index = (sorted.len() * 99).div_ceil(100).checked_sub(1)?;
    sorted.get(index).copied()
}

impl Phase {
    /// Every kind of request with how often each status answered it.
    pub fn answers(&self) -> String {
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

    pub fn row(&self) -> String {
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

pub struct Load {
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

    async fn me(&self, instance: usize, token: &str, kind: Kind, expected: u16) {
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

    pub fn begin(&self, name: &str) {
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
    pub async fn full_service(&self) -> Duration {
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

impl Load {
    /// A load on the demo instances at `urls` (run with [`SECRET`]), not
    /// started yet; its first phase is `first`.
    pub fn new(urls: [String; 2], first: &str) -> Arc<Self> {
        let load = Arc::new(Load {
            urls,
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
        load.begin(first);
        load
    }

    /// Starts the workers; [`Load::finish`] stops them.
    pub fn start(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        (0..WORKERS)
            .map(|i| {
                tokio::spawn(
                    self.clone()
                        .worker(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1) << 17),
                )
            })
            .collect()
    }

    /// Stops `workers` and returns every phase.
    pub async fn finish(&self, workers: Vec<JoinHandle<()>>) -> Vec<Phase> {
        self.stop.store(true, Ordering::SeqCst);
        for worker in workers {
            worker.await.unwrap();
        }
        std::mem::take(&mut *self.phases.lock().unwrap())
    }

    /// Sets whether `GET /me` may answer 503 (not while only the CPU is
    /// busy, nor in a soak).
    pub fn forbid_503(&self, forbidden: bool) {
        self.no_503.store(forbidden, Ordering::SeqCst);
    }

    /// Notes how long the current phase took to full service.
    pub fn recovered_in(&self, recovery: Duration) {
        self.phases.lock().unwrap().last_mut().unwrap().recovery = Some(recovery);
    }
}
