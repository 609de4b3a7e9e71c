//! The demo's service: argon2id logins with a throttle, access and rotating
//! refresh tokens, reuse detection, logout, logout everywhere, a role guard,
//! key rotation, a JWKS, a WebSocket that closes on revocation, and
//! Socket.IO (`socket_io.rs`) that disconnects on it.

#[path = "../support/causes.rs"]
mod causes;
#[cfg(feature = "socketio")]
#[path = "socket_io.rs"]
mod socket_io;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block, Params, Version};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jwt_guard::dpop::{DpopVerifier, ProofRequest, VerifiedProof};
use jwt_guard::issue::{
    Grant, IssueError, Issuer, LoginThrottle, RefreshCookie, Throttled, TokenPair,
};
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::store::{
    Attempt, MemoryStore, RefreshStore, RevocationStore, StoreErrorKind, ThrottleStore,
};
use jwt_guard::watch::TokenWatch;
use jwt_guard::{
    Algorithm, AuthErrorKind, Claims, JwtLayer, RequireRole, SigningKey, StandardClaims,
};
use serde::Deserialize;
use serde_json::{Value, json};

jwt_guard::role!(Admin = "admin");

/// What the service needs to know; `main` reads it from the environment.
pub struct Config {
    /// `HS256`, `EdDSA` or `ES256`.
    pub alg: Algorithm,
    /// The HS256 secret; `None` makes a random one.
    pub secret: Option<Vec<u8>>,
    /// A PKCS#8 PEM key file for `EdDSA` or `ES256`; `None` makes a key.
    pub key_file: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Where sessions, revocations and throttles are shared; `None` keeps
    /// them in this process.
    pub redis: Option<RedisConfig>,
    /// Whether the refresh cookie is `Secure`.
    pub cookie_secure: bool,
}

impl Config {
    /// The signing key: the HS256 secret (checked: at least 32 bytes), or an
    /// EdDSA/ES256 key from `JWT_PRIVATE_KEY_FILE` or made now.
    fn signing_key(&self) -> Result<SigningKey, String> {
        if self.alg == Algorithm::HS256 {
            let secret = match &self.secret {
                Some(secret) => secret.clone(),
                None => {
                    eprintln!(
                        "demo: JWT_SECRET is not set; using a random secret (tokens die with this process)"
                    );
                    self.warn_if_shared("JWT_SECRET");
                    random_secret().into_bytes()
                }
            };
            return SigningKey::hmac(Algorithm::HS256, &secret)
                .map_err(|e| format!("JWT_SECRET: {e} (use at least 32 bytes)"));
        }
        let (pem, origin) = match &self.key_file {
            Some(path) => (
                std::fs::read(path).map_err(|e| format!("JWT_PRIVATE_KEY_FILE: {e}"))?,
                "JWT_PRIVATE_KEY_FILE",
            ),
            None => {
                eprintln!("demo: signing with a new {} key made at start-up", self.alg);
                self.warn_if_shared("JWT_PRIVATE_KEY_FILE");
                (generate_pem(self.alg)?, "the generated key")
            }
        };
        let key = match self.alg {
            Algorithm::EdDSA => SigningKey::from_ed_pem(&pem),
            alg => SigningKey::from_ec_pem(alg, &pem),
        };
        key.map_err(|e| format!("{origin}: {e}"))
    }

    /// Instances sharing sessions through Redis must share the signing key
    /// too: with one made at start-up, each refuses the others' tokens.
    fn warn_if_shared(&self, variable: &str) {
        if self.redis.is_some() {
            eprintln!(
                "demo: warning: sessions are shared through Redis, but the signing key was made \
                 at start-up: give every instance the same {variable}, or each refuses the \
                 access tokens of the others"
            );
        }
    }

    /// How long "log out everywhere" is remembered: at least 30 days, and
    /// longer than any refresh token lives.
    fn retention(&self) -> Duration {
        (self.refresh_ttl + self.access_ttl + Duration::from_secs(60))
            .max(Duration::from_secs(30 * 24 * 3600))
    }
}

fn random_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new PKCS#8 PEM private key for `alg`.
fn generate_pem(alg: Algorithm) -> Result<Vec<u8>, String> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    let der = match alg {
        Algorithm::EdDSA => Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map(|der| der.as_ref().to_vec()),
        _ => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|pair| pair.to_pkcs8v1())
            .map(|der| der.as_ref().to_vec()),
    }
    .map_err(|_| format!("could not make a {alg} key"))?;
    Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", der)).into_bytes())
}

/// A user of the demo: an argon2id hash and roles.
struct User {
    hash: String,
    roles: &'static [&'static str],
}

/// The demo's users, hashed at start-up, and a hash that matches no
/// password, verified for unknown names so that timing does not tell them apart.
struct Users {
    users: HashMap<&'static str, User>,
    decoy: String,
}

fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("argon2id hashes with its default parameters")
        .to_string()
}

impl Users {
    fn new() -> Self {
        let users = [
            ("alice", "wonderland", &["admin", "user"][..]),
            ("bob", "builder", &["user"][..]),
        ]
        .into_iter()
        .map(|(name, password, roles)| {
            let hash = hash(password);
            (name, User { hash, roles })
        })
        .collect();
        Self {
            users,
            decoy: hash(&random_secret()),
        }
    }

    /// The user's roles when the password is right. Always one argon2id
    /// verification, whether the user exists or not, in `memory`.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        memory: &mut Vec<Block>,
    ) -> Option<&'static [&'static str]> {
        let user = self.users.get(username);
        let hash = user.map_or(self.decoy.as_str(), |user| user.hash.as_str());
        let ok = verify_password(password.as_bytes(), hash, memory);
        user.filter(|_| ok).map(|user| user.roles)
    }
}

/// Whether `password` matches the argon2 PHC string `hash`, computed in
/// `memory` (argon2's working blocks, resized to what `hash`'s parameters
/// ask) and compared in constant time.
///
/// `PasswordVerifier::verify_password` would allocate the 19 MiB anew on
/// every login, on whichever blocking thread runs it; under the soak's
/// load glibc's per-thread arenas then kept about 1 GiB resident. Working
/// memory kept from one login to the next holds it at a few of those.
fn verify_password(password: &[u8], hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(hash.algorithm),
        Params::try_from(&hash),
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut computed = [0; Output::MAX_LENGTH];
    let computed = &mut computed[..expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, computed, &mut memory[..])
        .is_ok()
        && Output::new(computed).is_ok_and(|computed| computed == expected)
}

/// Password verification, bounded: at most a few argon2id runs at once
/// (19 MiB each), each in working memory kept for the next login.
struct Hashing {
    permits: tokio::sync::Semaphore,
    memory: std::sync::Mutex<Vec<Vec<Block>>>,
}

impl Hashing {
    /// Two runs per core.
    fn new() -> Self {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
        Self {
            permits: tokio::sync::Semaphore::new(permits),
            memory: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The roles of `username` when `password` is right, on a blocking
    /// thread; `Err` once the service shuts down.
    async fn authenticate(
        &self,
        users: Arc<Users>,
        username: String,
        password: String,
    ) -> Result<Option<&'static [&'static str]>, tokio::sync::AcquireError> {
        let _permit = self.permits.acquire().await?;
        let mut memory = self.memory.lock().unwrap().pop().unwrap_or_default();
        let verified = tokio::task::spawn_blocking(move || {
            let roles = users.authenticate(&username, &password, &mut memory);
            (roles, memory)
        })
        .await;
        Ok(verified.ok().and_then(|(roles, memory)| {
            self.memory.lock().unwrap().push(memory);
            roles
        }))
    }
}

/// Everything the handlers share.
#[derive(Clone)]
struct App {
    issuer: Issuer,
    throttle: LoginThrottle,
    users: Arc<Users>,
    hashing: Arc<Hashing>,
    cookie: RefreshCookie,
    alg: Algorithm,
    /// The store behind the issuer and the layers, for `/health` and the
    /// DPoP proofs' single use.
    store: Arc<dyn RevocationStore>,
    /// Checks the DPoP proofs of logins, refreshes and API requests.
    dpop: DpopVerifier,
}

/// Every error body: `{"error", "error_description"}`, as RFC 6749 §5.2
/// and the layer's own refusals shape them.
fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

/// The largest body the auth routes read: axum's default, said out loud so
/// that the refusal can name it.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A request body the auth routes refuse, answered as every other error:
/// `invalid_request`, with what was wrong and never what came.
struct BadBody {
    status: StatusCode,
    description: String,
}

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        json_error(self.status, "invalid_request", &self.description)
    }
}

/// A request body, or why it could not be read (over [`MAX_BODY_BYTES`]:
/// 413).
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, BadBody> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the request body is over {MAX_BODY_BYTES} bytes")
        } else {
            "the request body could not be read".to_owned()
        };
        BadBody {
            status,
            description,
        }
    })
}

/// Reads a JSON body: 400 when it is not JSON, 422 when it has the wrong
/// shape (`expected` says which).
fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8], expected: &str) -> Result<T, BadBody> {
    serde_json::from_slice(body).map_err(|error| {
        if error.is_data() {
            BadBody {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                description: format!("the body must be {expected}"),
            }
        } else {
            BadBody {
                status: StatusCode::BAD_REQUEST,
                description: "the body is not JSON".to_owned(),
            }
        }
    })
}

/// A token response: the access token in the body, the refresh token only in its cookie.
fn token_response(app: &App, pair: &TokenPair) -> Response {
    let mut response = Json(pair.response()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        SET_COOKIE,
        app.cookie
            .set(pair.refresh_token(), pair.refresh_expires_in()),
    );
    headers.insert(CACHE_CONTROL, "no-store".parse().expect("a valid header"));
    response
}

fn store_unavailable(error: &dyn std::error::Error) -> Response {
    tracing::warn!(%error, "store unavailable");
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the session store cannot answer; try again shortly",
    )
}

/// The DPoP proof a token request came with (RFC 9449 §5), checked
/// against this request and used once: `Ok(None)` without one. A bad proof
/// answers 400 `invalid_dpop_proof`; a store that cannot record its use, 503.
async fn dpop_proof(app: &App, parts: &Parts) -> Result<Option<VerifiedProof>, Response> {
    let mut proofs = parts.headers.get_all("dpop").iter();
    let proof = match (proofs.next(), proofs.next()) {
        (None, _) => return Ok(None),
        (Some(proof), None) => proof.to_str().ok(),
        (Some(_), Some(_)) => None,
    };
    let bad_proof =
        |description: &str| json_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description);
    let Some(proof) = proof else {
        return Err(bad_proof("send one DPoP proof, as text"));
    };
    let request = ProofRequest::from_request_parts(parts).map_err(|error| {
        json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            error.description(),
        )
    })?;
    match app
        .dpop
        .verify_once(proof.trim(), &request, &*app.store)
        .await
    {
        Ok(proof) => Ok(Some(proof)),
        Err(error) if error.kind() == AuthErrorKind::StoreUnavailable => {
            Err(store_unavailable(&error))
        }
        Err(error) => Err(bad_proof(error.description())),
    }
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// `POST /auth/login`; with a `DPoP` proof, the session is bound to its key.
async fn login(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let login: Login = match read_body(body)
        .and_then(|body| parse_body(&body, r#"{"username": "…", "password": "…"}"#))
    {
        Ok(login) => login,
        Err(bad) => return bad.into_response(),
    };
    let proof = match dpop_proof(&app, &parts).await {
        Ok(proof) => proof,
        Err(refused) => return refused,
    };
    match app.throttle.attempt(&login.username, client.ip()).await {
        Ok(Attempt::Blocked { retry_after }) => return Throttled { retry_after }.into_response(),
        Ok(_) => {}
        Err(error) => return store_unavailable(&error),
    }
    let verified = app
        .hashing
        .authenticate(app.users.clone(), login.username.clone(), login.password)
        .await;
    let Ok(roles) = verified else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is shutting down",
        );
    };
    let Some(roles) = roles else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the username or the password is wrong",
        );
    };
    if let Err(error) = app.throttle.succeeded(&login.username, client.ip()).await {
        return store_unavailable(&error);
    }
    let mut grant = Grant::new(&login.username).roles(roles.iter().copied());
    if let Some(proof) = &proof {
        grant = grant.bind_to(proof);
    }
    match app.issuer.issue(&grant).await {
        Ok(pair) => token_response(&app, &pair),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /auth/refresh`: the token from the cookie, or from
/// `{"refresh_token"}`; a session bound to a DPoP key rotates only with a
/// proof of that key.
async fn refresh(
    State(app): State<App>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(body) => body,
        Err(bad) => return bad.into_response(),
    };
    let proof = match dpop_proof(&app, &parts).await {
        Ok(proof) => proof,
        Err(refused) => return refused,
    };
    let from_body;
    let token = match app.cookie.get(&parts.headers) {
        Some(token) => token,
        None if body.iter().all(u8::is_ascii_whitespace) => "",
        None => match parse_body::<RefreshBody>(&body, r#"{"refresh_token": "…"}"#) {
            Ok(parsed) => {
                from_body = parsed.refresh_token;
                &from_body
            }
            Err(bad) => return bad.into_response(),
        },
    };
    let refreshed = match &proof {
        Some(proof) => app.issuer.refresh_with_proof(token, proof).await,
        None => app.issuer.refresh(token).await,
    };
    match refreshed {
        Ok(pair) => token_response(&app, &pair),
        Err(error) => refused(&app, error),
    }
}

/// A refused refresh also clears the cookie.
fn refused(app: &App, error: IssueError) -> Response {
    let clear = error.is_invalid_grant();
    let mut response = error.into_response();
    if clear {
        response
            .headers_mut()
            .insert(SET_COOKIE, app.cookie.clear());
    }
    response
}

fn logged_out(app: &App) -> Response {
    (StatusCode::NO_CONTENT, [(SET_COOKIE, app.cookie.clear())]).into_response()
}

/// `POST /auth/logout`: this access token and its session.
async fn logout(State(app): State<App>, claims: Claims<StandardClaims>) -> Response {
    match app.issuer.logout(claims.registered()).await {
        Ok(()) => logged_out(&app),
        Err(error) => store_unavailable(&error),
    }
}

/// `POST /auth/logout-all`: every session of the caller.
async fn logout_all(State(app): State<App>, claims: Claims<StandardClaims>) -> Response {
    match app.issuer.logout_all(&claims.sub).await {
        Ok(()) => logged_out(&app),
        Err(error) => store_unavailable(&error),
    }
}

/// `GET /me`: the caller's claims.
async fn me(claims: Claims<StandardClaims>) -> Json<StandardClaims> {
    Json(claims.verified().claims().clone())
}

/// `GET /admin`: role `admin` only.
async fn admin(user: RequireRole<Admin>) -> Json<Value> {
    Json(json!({ "sub": user.sub, "message": "welcome, admin" }))
}

/// `POST /admin/rotate-key`: a new signing key; tokens signed by the old
/// one stay valid until they expire. The new key is made in this process,
/// so with several instances rotate through your key management instead.
async fn rotate_key(State(app): State<App>, _admin: RequireRole<Admin>) -> Response {
    let key = match app.alg {
        Algorithm::HS256 => SigningKey::hmac(Algorithm::HS256, random_secret().as_bytes()),
        alg => match generate_pem(alg) {
            Ok(pem) if alg == Algorithm::EdDSA => SigningKey::from_ed_pem(&pem),
            Ok(pem) => SigningKey::from_ec_pem(alg, &pem),
            Err(message) => {
                tracing::error!(message, "key generation failed");
                return json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the new key could not be made",
                );
            }
        },
    };
    match key.and_then(|key| app.issuer.rotate_key(key)) {
        Ok(()) => Json(json!({ "kid": app.issuer.active_kid() })).into_response(),
        Err(error) => {
            tracing::error!(%error, "key rotation failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the key could not be rotated",
            )
        }
    }
}

/// `GET /ws`: a WebSocket for the caller (token in the `Authorization`
/// header or the `access_token` query parameter). It greets, echoes text,
/// and closes with 1008 as soon as the token is revoked or expires.
async fn ws(
    State(app): State<App>,
    claims: Claims<StandardClaims>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let watch = app.issuer.watch(claims.registered());
    let user = claims.sub.clone();
    upgrade.on_upgrade(move |socket| ws_session(socket, user, watch))
}

async fn ws_session(mut socket: WebSocket, user: String, mut watch: TokenWatch) {
    let greeting = json!({ "type": "welcome", "user": user }).to_string();
    if socket.send(Message::Text(greeting.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            end = watch.ended() => {
                tracing::info!(%user, reason = end.reason(), "closing a WebSocket");
                let close = CloseFrame { code: 1008, reason: end.reason().into() };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// `GET /.well-known/jwks.json`.
async fn jwks(State(app): State<App>) -> Json<Value> {
    Json(app.issuer.jwks())
}

/// `GET /health`: ready to serve, which needs the revocation store; 503
/// with the reason while it cannot answer (Redis down, the mirror not yet
/// synchronised).
async fn health(State(app): State<App>) -> (StatusCode, Json<Value>) {
    match app.store.health().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": error.to_string() })),
        ),
    }
}

/// `GET /health/live`: the process is up, whatever its store says, with
/// the number of Tokio tasks alive (which the soak watches for leaks).
async fn live() -> Json<Value> {
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    Json(json!({ "status": "ok", "tasks": tasks }))
}

fn router<S>(app: App, store: S) -> Result<Router, jwt_guard::ConfigError>
where
    S: RefreshStore + Clone,
{
    let validator = app.issuer.validator().build()?;
    // DPoP-bound tokens (a login with a proof) are accepted with their proof.
    let auth = JwtLayer::<StandardClaims>::builder(validator.clone())
        .store(store.clone())
        .realm("jwt-guard-demo")
        .dpop(app.dpop.clone())
        .build();
    // Browsers cannot set headers on a WebSocket handshake: this route alone
    // also takes the token from `?access_token=`.
    let ws_auth = JwtLayer::<StandardClaims>::builder(validator)
        .store(store)
        .realm("jwt-guard-demo")
        .query_param("access_token")
        .build();
    let sockets = Router::new().route("/ws", get(ws)).route_layer(ws_auth);
    let protected = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/admin/rotate-key", post(rotate_key))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all));
    let auth_routes = Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let open = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/health", get(health))
        .route("/health/live", get(live));
    #[cfg(feature = "socketio")]
    let socket_io = socket_io::layer(auth.authenticator().clone());
    let routes = protected
        .route_layer(auth)
        .merge(sockets)
        .merge(auth_routes)
        .merge(open)
        .with_state(app);
    // Socket.IO on `/socket.io/`, outside the HTTP layer: its clients
    // present their token in the CONNECT packet.
    #[cfg(feature = "socketio")]
    let routes = routes.layer(socket_io);
    Ok(routes)
}

/// Builds the service on `store`: memory or Redis.
fn service<S>(config: &Config, key: SigningKey, store: S) -> Result<Router, jwt_guard::ConfigError>
where
    S: RefreshStore + ThrottleStore + Clone,
{
    let issuer = Issuer::builder()
        .signing_key(key)
        .issuer(&config.issuer)
        .audience(&config.audience)
        .access_ttl(config.access_ttl)
        .refresh_ttl(config.refresh_ttl)
        .store(store.clone())
        .build()?;
    let app = App {
        issuer,
        throttle: LoginThrottle::new(store.clone()),
        users: Arc::new(Users::new()),
        hashing: Arc::new(Hashing::new()),
        cookie: RefreshCookie::new().secure(config.cookie_secure),
        alg: config.alg,
        store: Arc::new(store.clone()),
        dpop: DpopVerifier::default(),
    };
    router(app, store)
}

/// The service, on the embedded store or on Redis when configured (waiting
/// up to 5 s for it, and answering 503 until it is reachable).
///
/// The key is made first, so a bad secret stops the service before anything
/// else. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`:
/// the login throttle counts attempts per client address.
pub async fn app(config: &Config) -> Result<Router, String> {
    let key = config.signing_key()?;
    let app = match &config.redis {
        None => {
            eprintln!(
                "demo: sessions in memory (set REDIS_URL, REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS to share them)"
            );
            service(
                config,
                key,
                MemoryStore::builder()
                    .subject_retention(config.retention())
                    .build(),
            )
        }
        Some(redis) => {
            let store = RedisStore::new(redis.clone().subject_retention(config.retention()))
                .map_err(|e| causes::with_causes(&e))?;
            match store.ready(Duration::from_secs(5)).await {
                Ok(()) => eprintln!("demo: sessions in Redis ({store:?})"),
                // A wrong password or database index: 503 forever would hide it.
                Err(error) if error.kind() == StoreErrorKind::Misconfigured => {
                    return Err(causes::with_causes(&error));
                }
                Err(error) => eprintln!(
                    "demo: Redis is not reachable yet ({error}); answering 503 until it is"
                ),
            }
            service(config, key, store)
        }
    };
    app.map_err(|error| causes::with_causes(&error))
}
