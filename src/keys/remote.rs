//! An identity provider's JWKS, fetched over HTTP(S) and kept current in the
//! background (feature `jwks`).
//!
//! [`RemoteJwks`] fetches the key set at start-up, then again every
//! [`refresh_interval`](RemoteJwksBuilder::refresh_interval), into a
//! [`SharedKeys`] that validators read lock-free. A token whose `kid` is not
//! in the set makes it fetch at once, at most once per
//! [`cooldown`](RemoteJwksBuilder::cooldown); the [`JwtLayer`](crate::JwtLayer)
//! waits for that fetch (at most the fetch [`timeout`](RemoteJwksBuilder::timeout))
//! and verifies the token once more, so the first token signed with a newly
//! published key is accepted. A plain
//! [`Validator::validate`](crate::Validator::validate) call starts the
//! refresh but does not wait for it.
//!
//! When the identity provider fails (an error status, a timeout, a body over
//! the size limit, or a document that is not a usable JWKS), the keys already
//! held are kept and the fetch is retried with a backoff. Redirects are not
//! followed: configure the final URL.
//!
//! [`RemoteJwks::discover`] starts from the issuer's URL instead (OpenID
//! Connect Discovery, falling back to RFC 8414's authorization server
//! metadata): the metadata document must name that issuer exactly (the
//! mix-up defence), and its `jwks_uri` is fetched as above. The document is
//! read again on every scheduled refresh and after a failure, never kept
//! from a failed attempt; a failed discovery is retried with the same
//! backoff, and the keys already held stay in use meanwhile.
//! [`ValidatorBuilder::remote_jwks`](crate::ValidatorBuilder::remote_jwks)
//! takes the keys and requires the issuer's `iss`.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use jwt_guard::keys::RemoteJwks;
//! use jwt_guard::{JwtLayer, StandardClaims, Validator};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let jwks = RemoteJwks::builder("https://auth.example/.well-known/jwks.json")
//!     .refresh_interval(Duration::from_secs(300))
//!     .cooldown(Duration::from_secs(30))
//!     .timeout(Duration::from_secs(5))
//!     .build()?; // inside a Tokio runtime: spawns the background task
//! jwks.ready(Duration::from_secs(10)).await?; // optional: wait for the first set
//!
//! let validator = Validator::builder()
//!     .shared_keys(jwks.shared_keys())
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .build()?;
//! let layer = JwtLayer::<StandardClaims>::new(validator);
//! # let _ = layer;
//!
//! // Or from the issuer alone, by discovery: its keys, and its `iss` required.
//! let discovered = RemoteJwks::discover("https://auth.example").build()?;
//! let validator = Validator::builder()
//!     .remote_jwks(&discovered)
//!     .audience("orders-api")
//!     .build()?;
//! # let _ = validator;
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::{Client, Url};
use tokio::sync::{Notify, watch};

use crate::error::{ConfigError, ConfigErrorKind};
use crate::future::BoxFuture;

use super::discovery;
use super::shared::{UnknownKidHook, WeakSharedKeys};
use super::{Algorithm, KeyFamily, KeySet, SharedKeys};

/// The default time between two fetches: 5 minutes.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// The default least time between two fetches caused by unknown `kid`s: 30 s.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
/// The default time limit of one fetch, connection and body included: 5 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default largest JWKS document accepted: 256 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The first retry after a failed fetch; it doubles up to the refresh interval.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// A JWKS kept current from an identity provider by a background task.
///
/// Cheap to clone. The task stops once this handle, its clones and every
/// [`SharedKeys`] from [`shared_keys`](Self::shared_keys) (held by validators)
/// are dropped. See the [module docs](self).
#[derive(Clone)]
pub struct RemoteJwks {
    keys: SharedKeys,
    state: Arc<State>,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &redacted(&self.state.url))
            .field("discovered", &self.state.issuer.is_some())
            .field("keys", &self.keys)
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl RemoteJwks {
    /// Starts configuring a source for the JWKS at `url` (`https://`, or
    /// `http://` for a local identity provider).
    pub fn builder(url: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            url: url.into(),
            discovery: false,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            cooldown: DEFAULT_COOLDOWN,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allow_http: false,
            rsa_algorithm: Algorithm::RS256,
        }
    }

    /// Starts configuring a source for the keys of the issuer at `issuer`
    /// (`https://`, or `http://` for a local identity provider), found by
    /// discovery: `<issuer>/.well-known/openid-configuration`, else RFC
    /// 8414's `/.well-known/oauth-authorization-server<issuer path>`. The
    /// document's `issuer` must equal `issuer` exactly, and its `jwks_uri`
    /// is then fetched as [`builder`](Self::builder)'s URL would be.
    pub fn discover(issuer: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            discovery: true,
            ..Self::builder(issuer)
        }
    }

    /// For a source made by [`discover`](Self::discover): the issuer, which
    /// tokens verified with its keys must name as `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.state.issuer.as_deref()
    }

    /// The key set, for [`ValidatorBuilder::shared_keys`](crate::ValidatorBuilder::shared_keys).
    /// Empty until the first fetch succeeds.
    pub fn shared_keys(&self) -> SharedKeys {
        self.keys.clone()
    }

    /// Whether a key set has been fetched (it may be stale since, when the
    /// identity provider fails; the keys are kept then).
    pub fn is_ready(&self) -> bool {
        self.state.status.borrow().ready
    }

    /// Waits until a key set has been fetched, for at most `within`.
    ///
    /// On time out the error is of kind [`JwksErrorKind::NotReady`], and its
    /// [`source`](std::error::Error::source) is the last fetch's error, if any.
    pub async fn ready(&self, within: Duration) -> Result<(), JwksError> {
        let mut status = self.state.status.subscribe();
        match tokio::time::timeout(within, status.wait_for(|s| s.ready)).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let last = self.state.status.borrow().last_error.clone();
                let mut error = JwksError::new(
                    JwksErrorKind::NotReady,
                    "no JWKS has been fetched from the identity provider yet",
                );
                error.source = last.map(|e| Arc::new(e) as _);
                Err(error)
            }
        }
    }

    /// The outcome of the last fetch: `None` if it succeeded (or none ended yet).
    pub fn last_error(&self) -> Option<JwksError> {
        self.state.status.borrow().last_error.clone()
    }
}

/// Configures a [`RemoteJwks`]. Its `Debug` output hides credentials and
/// the query in the URL.
#[derive(Clone)]
#[must_use]
pub struct RemoteJwksBuilder {
    url: String,
    discovery: bool,
    refresh_interval: Duration,
    cooldown: Duration,
    timeout: Duration,
    connect_timeout: Option<Duration>,
    max_body_bytes: usize,
    allow_http: bool,
    rsa_algorithm: Algorithm,
}

impl fmt::Debug for RemoteJwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = Url::parse(&self.url).map_or_else(|_| "<invalid>".to_owned(), |u| redacted(&u));
        f.debug_struct("RemoteJwksBuilder")
            .field("url", &url)
            .field("discovery", &self.discovery)
            .field("refresh_interval", &self.refresh_interval)
            .field("cooldown", &self.cooldown)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("allow_http", &self.allow_http)
            .field("rsa_algorithm", &self.rsa_algorithm)
            .finish()
    }
}

impl RemoteJwksBuilder {
    /// The time between two fetches (default 5 minutes). After a failed
    /// fetch, retries come sooner: from 0.5 s, doubling up to this interval.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The least time between two fetches caused by tokens with an unknown
    /// `kid` (default 30 s), so that a flood of made-up `kid`s costs the
    /// identity provider at most one request per cooldown.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The time limit of one fetch, from connecting to the last byte of the
    /// body (default 5 s). Also bounds how long the layer holds a request
    /// while waiting for a fetch caused by an unknown `kid` (1.25 times it,
    /// twice that when a fetch already under way must end first).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit of the TCP and TLS connection (default: the
    /// [`timeout`](Self::timeout)).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Accepts a plain `http://` URL to a host other than loopback (default
    /// `false`: refused, since anyone on the path could substitute keys).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// The algorithm RSA keys without `alg` verify (default RS256; `alg` is
    /// optional in a JWK, and providers often leave it out): a token signed
    /// with another RSA algorithm is refused. Keys with an `alg` keep
    /// theirs. One RSA algorithm per source: never PS and RS both for one key.
    pub fn rsa_algorithm(mut self, alg: Algorithm) -> Self {
        self.rsa_algorithm = alg;
        self
    }

    /// The largest JWKS document accepted, in bytes (default 256 KiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Checks the configuration, builds the HTTP client and spawns the
    /// background task, which fetches at once.
    ///
    /// Must be called inside a Tokio runtime (with the time driver);
    /// outside one it returns a [`ConfigErrorKind::InvalidSetting`] error.
    pub fn build(self) -> Result<RemoteJwks, ConfigError> {
        let invalid =
            |message: &'static str| ConfigError::new(ConfigErrorKind::InvalidSetting, message);
        let url = Url::parse(&self.url).map_err(|e| {
            ConfigError::with_source(
                ConfigErrorKind::InvalidSetting,
                "the JWKS URL (or the issuer to discover) is not a valid URL",
                e,
            )
        })?;
        if self.discovery && (url.query().is_some() || url.fragment().is_some()) {
            return Err(invalid(
                "an issuer URL has no query or fragment (OpenID Connect Discovery §2)",
            ));
        }
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("the JWKS URL must be https:// (or http://)"));
        }
        if url.scheme() == "http" && !is_loopback(&url) {
            if !self.allow_http {
                return Err(invalid(
                    "the JWKS URL (or the issuer) is plain http to a host other than loopback: \
                     use https, or allow_http(true) on a network you trust",
                ));
            }
            tracing::warn!(
                url = %redacted(&url),
                "the JWKS is fetched over plain http: anyone on the path can substitute keys"
            );
        }
        if self.refresh_interval.is_zero()
            || self.cooldown.is_zero()
            || self.timeout.is_zero()
            || self.connect_timeout.is_some_and(|t| t.is_zero())
        {
            return Err(invalid(
                "the JWKS refresh interval, cooldown and timeouts must not be zero",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid("the JWKS body limit must not be zero"));
        }
        if self.rsa_algorithm.family() != KeyFamily::Rsa {
            return Err(ConfigError::new(
                ConfigErrorKind::AlgorithmMismatch,
                format!(
                    "rsa_algorithm: {} is not an RSA algorithm",
                    self.rsa_algorithm
                ),
            ));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            ConfigError::with_source(
                ConfigErrorKind::InvalidSetting,
                "RemoteJwks must be built inside a Tokio runtime",
                e,
            )
        })?;
        let client = Client::builder()
            .connect_timeout(self.connect_timeout.unwrap_or(self.timeout))
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jwt-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConfigError::with_source(
                    ConfigErrorKind::InvalidSetting,
                    "the HTTP client for the JWKS cannot be built",
                    e,
                )
            })?;

        let discovery = self.discovery.then(|| Discovery {
            documents: discovery::document_urls(&url),
            issuer: self.url.clone(),
            allow_http: self.allow_http,
            jwks_uri: Mutex::new(None),
        });
        let (status, _) = watch::channel(Status::default());
        let state = Arc::new(State {
            issuer: self.discovery.then(|| self.url.clone()),
            url,
            cooldown: self.cooldown,
            // The fetch in flight may have started just before; allow a little
            // more than one timeout for it to end.
            wait_limit: self.timeout + self.timeout / 4,
            control: Mutex::new(Control::default()),
            wake: Notify::new(),
            status,
        });
        let trigger = Trigger(state.clone());
        let hook: Box<UnknownKidHook> = Box::new(move || trigger.unknown_kid());
        let keys = SharedKeys::with_unknown_kid_hook(hook);
        let task = Refresher {
            state: state.clone(),
            client,
            keys: keys.downgrade(),
            refresh_interval: self.refresh_interval,
            timeout: self.timeout,
            max_body_bytes: self.max_body_bytes,
            rsa_algorithm: self.rsa_algorithm,
            discovery,
        };
        runtime.spawn(task.run());
        Ok(RemoteJwks { keys, state })
    }
}

/// What the handles and the background task share.
struct State {
    /// The JWKS URL, or the issuer's to discover from.
    url: Url,
    /// The issuer, as configured, when the URL is found by discovery.
    issuer: Option<String>,
    cooldown: Duration,
    wait_limit: Duration,
    control: Mutex<Control>,
    /// Wakes the task: a refresh was asked for, or every handle is gone.
    wake: Notify,
    status: watch::Sender<Status>,
}

impl State {
    fn control(&self) -> MutexGuard<'_, Control> {
        // The guarded section never panics; a poisoned lock holds sound data.
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Control {
    /// A fetch was asked for and has not started yet.
    requested: bool,
    in_flight: bool,
    /// When an unknown `kid` last caused a fetch.
    last_triggered: Option<Instant>,
    closed: bool,
}

#[derive(Clone, Default)]
struct Status {
    /// Fetches ended, successful or not.
    completed: u64,
    ready: bool,
    last_error: Option<JwksError>,
}

/// Held by the [`SharedKeys`]' hook: when the set is dropped, the task stops.
struct Trigger(Arc<State>);

impl Trigger {
    fn unknown_kid(&self) -> Option<BoxFuture<'static, ()>> {
        let state = &self.0;
        let mut status = state.status.subscribe();
        // How many fetches must end before the keys can hold the new `kid`.
        let fetches: u64;
        let seen;
        {
            let mut control = state.control();
            // Read under the lock, which the task holds when it counts a
            // fetch as ended.
            seen = status.borrow_and_update().completed;
            let now = Instant::now();
            let may_trigger = control
                .last_triggered
                .is_none_or(|last| now.duration_since(last) >= state.cooldown);
            fetches = match (control.in_flight, control.requested) {
                // A fetch is asked for and has not started: it will see the key.
                (false, true) => 1,
                // One under way, another queued behind it.
                (true, true) => 2,
                // One under way may have started before the key was
                // published: queue another behind it when the cooldown allows.
                (true, false) if may_trigger => {
                    control.last_triggered = Some(now);
                    control.requested = true;
                    state.wake.notify_one();
                    tracing::debug!("unknown kid: refreshing the JWKS after the fetch under way");
                    2
                }
                (true, false) => 1,
                (false, false) if may_trigger => {
                    control.last_triggered = Some(now);
                    control.requested = true;
                    state.wake.notify_one();
                    tracing::debug!("unknown kid: refreshing the JWKS");
                    1
                }
                (false, false) => return None,
            };
        }
        let limit = state.wait_limit * u32::try_from(fetches).unwrap_or(2);
        Some(Box::pin(async move {
            let _ = tokio::time::timeout(limit, status.wait_for(|s| s.completed >= seen + fetches))
                .await;
        }))
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.0.control().closed = true;
        self.0.wake.notify_one();
    }
}

/// The background task.
struct Refresher {
    state: Arc<State>,
    client: Client,
    keys: WeakSharedKeys,
    refresh_interval: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    rsa_algorithm: Algorithm,
    discovery: Option<Discovery>,
}

/// Where the JWKS URL comes from when it is discovered.
struct Discovery {
    /// The metadata documents, in the order they are tried.
    documents: [Url; 2],
    /// The issuer exactly as configured, which the document must name.
    issuer: String,
    allow_http: bool,
    /// The `jwks_uri` of the last document read, while it serves.
    jwks_uri: Mutex<Option<Url>>,
}

impl Discovery {
    fn known(&self) -> Option<Url> {
        self.jwks_uri
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn remember(&self, uri: Option<Url>) {
        *self.jwks_uri.lock().unwrap_or_else(PoisonError::into_inner) = uri;
    }
}

/// What a JWKS request accepts.
const JWKS_TYPES: &str = "application/jwk-set+json, application/json";

impl Refresher {
    async fn run(self) {
        let state = &*self.state;
        let mut failures = 0u32;
        let mut current: Option<Vec<u8>> = None;
        let mut rediscover;
        loop {
            {
                let mut control = state.control();
                if control.closed {
                    return;
                }
                // Scheduled refreshes read the issuer's metadata again; a
                // fetch for an unknown `kid` goes straight to the JWKS.
                rediscover = !control.requested || failures > 0;
                control.requested = false;
                control.in_flight = true;
            }
            let result = self.fetch(rediscover).await;
            crate::observe::jwks_refresh(result.is_ok());
            let Some(keys) = self.keys.upgrade() else {
                return;
            };
            let error = match result {
                Ok((set, body)) => {
                    failures = 0;
                    // An unchanged document keeps the set, and with it the
                    // layers' cached verifications.
                    if current.as_deref() != Some(&body[..]) {
                        tracing::debug!(url = %redacted(&state.url), keys = set.len(), "JWKS updated");
                        keys.replace(set);
                        current = Some(body);
                    }
                    None
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        url = %redacted(&state.url),
                        %error,
                        keeping_keys = current.is_some(),
                        "JWKS fetch failed"
                    );
                    Some(error)
                }
            };
            drop(keys);
            {
                let mut control = state.control();
                control.in_flight = false;
                let ok = error.is_none();
                state.status.send_modify(|status| {
                    status.completed += 1;
                    status.ready |= ok;
                    status.last_error = error;
                });
            }
            let delay = match failures {
                0 => self.refresh_interval,
                n => FIRST_RETRY
                    .saturating_mul(1 << (n - 1).min(16))
                    .min(self.refresh_interval),
            };
            // Woken early by an unknown `kid`, or when every handle is gone.
            let _ = tokio::time::timeout(delay, state.wake.notified()).await;
        }
    }

    /// One fetch: the parsed set and the document it came from; the
    /// issuer's metadata first when the URL is discovered and `rediscover`
    /// (or when no `jwks_uri` is known).
    async fn fetch(&self, rediscover: bool) -> Result<(KeySet, Vec<u8>), JwksError> {
        let fetch = async {
            let url = match &self.discovery {
                None => self.state.url.clone(),
                Some(discovery) => match discovery.known().filter(|_| !rediscover) {
                    Some(url) => url,
                    None => self.discover(discovery).await?,
                },
            };
            let body = self.get(url, JWKS_TYPES).await.inspect_err(|_| {
                // A JWKS that fails sends the next attempt to the metadata.
                if let Some(discovery) = &self.discovery {
                    discovery.remember(None);
                }
            })?;
            let set = std::str::from_utf8(&body)
                .map_err(|e| invalid_jwks(Arc::new(e)))
                .and_then(|text| {
                    KeySet::from_jwks_lenient(text, self.rsa_algorithm)
                        .map_err(|e| invalid_jwks(Arc::new(e)))
                })?;
            Ok((set, body))
        };
        // reqwest's own timeout covers each request; this one also bounds
        // anything it might not (a stalled body between chunks included),
        // with room for the metadata requests of a discovery.
        let requests = if self.discovery.is_some() { 3 } else { 1 };
        tokio::time::timeout(self.timeout.saturating_mul(requests), fetch)
            .await
            .unwrap_or_else(|_| Err(timed_out()))
    }

    /// The `jwks_uri` of the issuer's metadata: OpenID Connect Discovery's
    /// document, else RFC 8414's; the first one's error when both fail.
    async fn discover(&self, discovery: &Discovery) -> Result<Url, JwksError> {
        discovery.remember(None);
        let mut first_error = None;
        for document in &discovery.documents {
            let found = self
                .get(document.clone(), "application/json")
                .await
                .and_then(|body| {
                    discovery::jwks_uri(&discovery.issuer, &body).map_err(|refusal| {
                        JwksError::new(JwksErrorKind::Discovery, refusal.message())
                    })
                })
                .and_then(|uri| {
                    let https_issuer = discovery.documents[0].scheme() == "https";
                    if uri.scheme() == "http" && https_issuer {
                        Err(JwksError::new(
                            JwksErrorKind::Discovery,
                            "the https issuer's metadata names a plain http `jwks_uri`",
                        ))
                    } else if uri.scheme() == "http" && !is_loopback(&uri) && !discovery.allow_http
                    {
                        Err(JwksError::new(
                            JwksErrorKind::Discovery,
                            "the issuer's metadata names a plain http `jwks_uri` to a host other \
                             than loopback",
                        ))
                    } else {
                        Ok(uri)
                    }
                });
            match found {
                Ok(uri) => {
                    tracing::debug!(document = %redacted(document), jwks_uri = %redacted(&uri), "discovered the JWKS");
                    discovery.remember(Some(uri.clone()));
                    return Ok(uri);
                }
                Err(error) => {
                    tracing::debug!(document = %redacted(document), %error, "no usable issuer metadata here");
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            JwksError::new(JwksErrorKind::Discovery, "no issuer metadata was tried")
        }))
    }

    /// A GET of `url`: its body, within the size limit, for a 2xx answer.
    async fn get(&self, url: Url, accept: &'static str) -> Result<Vec<u8>, JwksError> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let mut error = JwksError::new(
                JwksErrorKind::Status,
                "the identity provider answered with an error status",
            );
            error.status = Some(status.as_u16());
            return Err(error);
        }
        let too_large = || {
            JwksError::new(
                JwksErrorKind::TooLarge,
                "the identity provider's document is over the size limit",
            )
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn transport(error: reqwest::Error) -> JwksError {
    if error.is_timeout() {
        return timed_out();
    }
    // Without the URL: it is logged separately, redacted.
    let mut wrapped = JwksError::new(
        JwksErrorKind::Transport,
        "the JWKS request failed (connection, TLS or HTTP)",
    );
    wrapped.source = Some(Arc::new(error.without_url()));
    wrapped
}

fn timed_out() -> JwksError {
    JwksError::new(JwksErrorKind::Timeout, "the JWKS request timed out")
}

fn invalid_jwks(source: Arc<dyn std::error::Error + Send + Sync>) -> JwksError {
    let mut error = JwksError::new(
        JwksErrorKind::InvalidJwks,
        "the identity provider's document is not a usable JWKS",
    );
    error.source = Some(source);
    error
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The URL for logs: scheme, host, port and path; no credentials, no query.
fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Why a JWKS fetch failed, or why [`RemoteJwks::ready`] gave up.
///
/// Opaque: read it through [`kind`](Self::kind) and
/// [`status`](Self::status). It never contains key material.
#[derive(Debug, Clone)]
pub struct JwksError {
    kind: JwksErrorKind,
    message: Cow<'static, str>,
    status: Option<u16>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`JwksError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwksErrorKind {
    /// No key set was fetched within the time given to [`RemoteJwks::ready`].
    NotReady,
    /// The identity provider could not be reached, or the HTTP exchange failed.
    Transport,
    /// The fetch took longer than its timeout.
    Timeout,
    /// The identity provider answered with a status other than 2xx.
    Status,
    /// The document is over the size limit.
    TooLarge,
    /// The document is not a JWKS with at least one usable signing key.
    InvalidJwks,
    /// The issuer's metadata (discovery) is not usable: not a JSON object,
    /// naming another issuer, or without a valid `jwks_uri`.
    Discovery,
}

impl JwksError {
    fn new(kind: JwksErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> JwksErrorKind {
        self.kind
    }

    /// For [`JwksErrorKind::Status`]: the HTTP status the identity provider sent.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(status) = self.status {
            write!(f, " ({status})")?;
        }
        Ok(())
    }
}

impl std::error::Error for JwksError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
