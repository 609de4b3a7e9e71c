//! Issuing tokens: access and refresh tokens, rotation with reuse
//! detection, logout, key rotation and JWKS.
//!
//! An [`Issuer`] signs short-lived access tokens (RFC 9068 `at+jwt`) and
//! hands out opaque refresh tokens, kept in a [`RefreshStore`] as hashes:
//!
//! - **Login** ([`Issuer::issue`]) starts a *family*: a refresh token, and an
//!   access token whose `sid` names the family.
//! - **Refresh** ([`Issuer::refresh`]) rotates: the presented refresh token is
//!   replaced by a new one, atomically, so of ten concurrent refreshes with
//!   one token exactly one succeeds. Presenting a token that was already
//!   replaced is taken as theft: the whole family is revoked, its refresh
//!   tokens and every access token issued from it.
//! - **Logout** ([`Issuer::logout`]) revokes the access token and its family;
//!   **logout everywhere** ([`Issuer::logout_all`]) cuts the subject off:
//!   every access and refresh token issued before that instant is refused.
//!   Access tokens carry `iat`, `nbf` and `exp` in whole seconds, as every
//!   JWT library expects, and the issue instant to the microsecond in a
//!   private `iat_us` claim: a token issued in the same second, after the
//!   cut-off, stays valid. A token without `iat_us` (minted by another
//!   system) is refused by a cut-off anywhere in its `iat`'s second.
//! - **Keys** rotate without downtime ([`Issuer::rotate_key`]); the public
//!   keys are served as a JWKS ([`Issuer::jwks`]).
//!
//! The same store serves the [`JwtLayer`](crate::JwtLayer), so a revoked
//! token is refused by every service that shares it.
//!
//! ```
//! use std::time::Duration;
//! use jwt_guard::issue::{Grant, Issuer};
//! use jwt_guard::store::MemoryStore;
//! use jwt_guard::{Algorithm, SigningKey, StandardClaims};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let issuer = Issuer::builder()
//!     .signing_key(SigningKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .access_ttl(Duration::from_secs(15 * 60))
//!     .store(store.clone())
//!     .build()?;
//! let validator = issuer.validator().build()?;
//!
//! // Log in: an access token and a refresh token.
//! let login = issuer.issue(&Grant::new("alice").role("admin")).await?;
//! let claims = validator.validate::<StandardClaims>(login.access_token())?;
//! assert_eq!(claims.claims().roles, ["admin"]);
//!
//! // Refresh: a new pair; the old refresh token is spent.
//! let refreshed = issuer.refresh(login.refresh_token().as_str()).await?;
//!
//! // Using the spent token again revokes the whole family.
//! let reuse = issuer.refresh(login.refresh_token().as_str()).await.unwrap_err();
//! assert!(reuse.is_invalid_grant());
//! assert!(issuer.refresh(refreshed.refresh_token().as_str()).await.is_err());
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::claims::{NumericDate, RegisteredClaims};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::keys::{KeyRing, SharedKeys, SigningKey};
use crate::policy::{DEFAULT_LEEWAY, MAX_LEEWAY};
use crate::store::{AccessRecord, NewFamily, RefreshStore, Rotated, Rotation, StoreError};
use crate::verify::ValidatorBuilder;

mod cookie;
mod duration;
mod error;
mod secret;
mod throttle;

pub use cookie::RefreshCookie;
pub use duration::parse_duration;
pub use error::{IssueError, IssueErrorKind};
pub use secret::RefreshToken;
pub use throttle::{LoginThrottle, Throttled};

pub(crate) use secret::Presented;
use secret::random_id;

/// The `typ` of every access token: RFC 9068's `at+jwt`.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Claims an issuer writes itself, which a [`Grant`] cannot set.
const RESERVED: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "iat_us",
    "jti",
    "sid",
    "roles",
    "permissions",
    "cnf",
];

/// Who a login is for and what their access tokens say: the subject, roles,
/// permissions and any custom claims. Every access token of the session
/// (after each refresh too) carries the same.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Grant {
    sub: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    extra: Map<String, Value>,
    /// The thumbprint of the DPoP key the session is bound to.
    dpop_key: Option<String>,
}

impl Grant {
    /// A grant for `sub`, with no roles.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            roles: Vec::new(),
            permissions: Vec::new(),
            extra: Map::new(),
            dpop_key: None,
        }
    }

    /// Binds the session to the key of a DPoP proof the login came with
    /// (RFC 9449 §5): every access token of the session carries the key's
    /// thumbprint in `cnf.jkt`, so it is accepted only with a proof signed
    /// by that key, and its refresh tokens rotate only with such a proof
    /// ([`Issuer::refresh_with_proof`]). The pair's
    /// [`token_type`](TokenPair::token_type) is then `DPoP`.
    ///
    /// ```
    /// use jwt_guard::dpop::{DpopVerifier, ProofRequest, VerifiedProof};
    /// use jwt_guard::issue::Grant;
    ///
    /// fn login(proof: &str) -> Result<Grant, jwt_guard::AuthError> {
    ///     let request = ProofRequest::new("POST", "https://auth.example/auth/login")?;
    ///     let proof: VerifiedProof = DpopVerifier::default().verify(proof, &request)?;
    ///     Ok(Grant::new("alice").role("admin").bind_to(&proof))
    /// }
    /// ```
    pub fn bind_to(mut self, proof: &crate::dpop::VerifiedProof) -> Self {
        self.dpop_key = Some(proof.jkt().to_owned());
        self
    }

    /// Adds a role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Adds roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds a permission.
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.permissions.push(permission.into());
        self
    }

    /// Adds permissions.
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        permissions: I,
    ) -> Self {
        self.permissions
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// Adds a custom claim. The registered names (`iss`, `sub`, `aud`,
    /// `exp`, `nbf`, `iat`, `jti`, `sid`, `cnf`) and `roles`/`permissions`
    /// are the issuer's: issuing a grant that sets one fails.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Adds every member of `claims` (a struct or map serializing to a JSON
    /// object) as custom claims.
    pub fn claims<C: Serialize>(mut self, claims: &C) -> Result<Self, IssueError> {
        match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => {
                self.extra.extend(map);
                Ok(self)
            }
            _ => Err(IssueError::new(IssueErrorKind::InvalidClaims)),
        }
    }

    /// The subject.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// What the family keeps: every claim but the registered ones.
    fn session_claims(&self) -> Result<String, IssueError> {
        if self.sub.is_empty() {
            return Err(IssueError::new(IssueErrorKind::InvalidClaims));
        }
        if self
            .extra
            .keys()
            .any(|name| RESERVED.contains(&name.as_str()))
        {
            return Err(IssueError::new(IssueErrorKind::InvalidClaims));
        }
        let mut claims = self.extra.clone();
        if !self.roles.is_empty() {
            claims.insert("roles".into(), self.roles.clone().into());
        }
        if !self.permissions.is_empty() {
            claims.insert("permissions".into(), self.permissions.clone().into());
        }
        if let Some(key) = &self.dpop_key {
            claims.insert("cnf".into(), serde_json::json!({ "jkt": key }));
        }
        Ok(Value::Object(claims).to_string())
    }
}

/// What a login or a refresh hands out. Its `Debug` output hides both tokens.
#[derive(Clone)]
pub struct TokenPair {
    access_token: String,
    access_ttl: Duration,
    refresh_token: RefreshToken,
    refresh_ttl: Duration,
    session_id: String,
    dpop_bound: bool,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"***")
            .field("expires_in", &self.access_ttl)
            .field("refresh_token", &self.refresh_token)
            .field("refresh_expires_in", &self.refresh_ttl)
            .field("session_id", &self.session_id)
            .field("token_type", &self.token_type())
            .finish()
    }
}

impl TokenPair {
    /// The signed access token.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The access token's lifetime (`expires_in`).
    pub fn expires_in(&self) -> Duration {
        self.access_ttl
    }

    /// The refresh token: hand it over in a [`RefreshCookie`], or to a
    /// non-browser client in the response body.
    pub fn refresh_token(&self) -> &RefreshToken {
        &self.refresh_token
    }

    /// The refresh token's lifetime (the cookie's `Max-Age`).
    pub fn refresh_expires_in(&self) -> Duration {
        self.refresh_ttl
    }

    /// The session (refresh family) id, the access token's `sid`.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// `DPoP` for a pair bound to a DPoP key ([`Grant::bind_to`]), else
    /// `Bearer`: the `token_type` of the token response (RFC 9449 §5).
    pub fn token_type(&self) -> &'static str {
        if self.dpop_bound { "DPoP" } else { "Bearer" }
    }

    /// The OAuth 2.0 token response without the refresh token:
    /// `{"access_token", "token_type", "expires_in"}`, the type `Bearer`
    /// or, for a pair bound to a DPoP key, `DPoP`.
    pub fn response(&self) -> TokenResponse<'_> {
        TokenResponse {
            access_token: &self.access_token,
            token_type: self.token_type(),
            expires_in: self.access_ttl.as_secs(),
        }
    }
}

/// The body of a token response (RFC 6749 §5.1), without the refresh token,
/// which travels in its cookie.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct TokenResponse<'a> {
    /// The access token.
    pub access_token: &'a str,
    /// `Bearer`, or `DPoP` for a token bound to a DPoP key.
    pub token_type: &'static str,
    /// The access token's lifetime, in seconds.
    pub expires_in: u64,
}

/// Issues, refreshes and revokes tokens. Built with [`Issuer::builder`];
/// cheap to clone. See the [module docs](self).
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeyRing,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    grace: Duration,
    leeway: Duration,
    max_rotations: u32,
    /// Names this issuer in the families it starts.
    id: String,
    store: Arc<dyn RefreshStore>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Issuer")
            .field("kid", &inner.keys.active().kid().map(str::to_owned))
            .field("issuer", &inner.issuer)
            .field("audience", &inner.audience)
            .field("access_ttl", &inner.access_ttl)
            .field("refresh_ttl", &inner.refresh_ttl)
            .field("grace", &inner.grace)
            .finish_non_exhaustive()
    }
}

/// Configures an [`Issuer`]; [`build`](Self::build) checks it all.
#[must_use]
pub struct IssuerBuilder {
    key: Option<SigningKey>,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    grace: Duration,
    leeway: Duration,
    max_rotations: u32,
    store: Option<Arc<dyn RefreshStore>>,
}

impl fmt::Debug for IssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerBuilder")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

/// The longest access-token lifetime accepted: they are meant to be short.
const MAX_ACCESS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest refresh-token lifetime accepted.
const MAX_REFRESH_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// The longest reuse grace accepted.
const MAX_GRACE: Duration = Duration::from_secs(60);

impl IssuerBuilder {
    /// The key that signs access tokens. A key without `kid` is given its
    /// RFC 7638 thumbprint.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The `iss` of every access token (required).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` of every access token (required).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Access-token lifetime, in whole seconds (default 15 minutes, at most
    /// 24 hours): `exp` is `iat` plus this lifetime exactly.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime, renewed at each rotation (default 7 days).
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// How long the refresh token replaced last may still be presented
    /// (default zero, at most a minute). It covers a client that lost a
    /// refresh answer and retries; the successor it lost is then spent, and
    /// presenting it later counts as reuse.
    pub fn reuse_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The most rotations one login may go through (default 10 000) before
    /// its refresh token is refused and the user logs in again; it bounds
    /// what the store keeps per session.
    pub fn max_rotations(mut self, max: u32) -> Self {
        self.max_rotations = max;
        self
    }

    /// The validators' leeway (default 30 s): revocations outlast a token's
    /// `exp` by this much. [`Issuer::validator`] uses the same.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where refresh families, and the revocations they cause, are kept.
    pub fn store(self, store: impl RefreshStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// The same, for a store already shared.
    pub fn shared_store(mut self, store: Arc<dyn RefreshStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks the configuration and builds the issuer.
    pub fn build(self) -> Result<Issuer, ConfigError> {
        let invalid =
            |message: &'static str| ConfigError::new(ConfigErrorKind::InvalidSetting, message);
        let key = self.key.ok_or_else(|| {
            ConfigError::new(ConfigErrorKind::NoKeys, "an issuer needs a signing key")
        })?;
        let issuer = self
            .issuer
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("an issuer needs its `iss`"))?;
        let audience = self
            .audience
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("an issuer needs an `aud`"))?;
        if self.access_ttl < Duration::from_secs(1) || self.access_ttl > MAX_ACCESS_TTL {
            return Err(invalid(
                "the access-token lifetime must be between 1 second and 24 hours",
            ));
        }
        if self.access_ttl.subsec_nanos() != 0 {
            return Err(invalid(
                "the access-token lifetime must be whole seconds: `exp` is a whole second",
            ));
        }
        if self.refresh_ttl < Duration::from_secs(1) || self.refresh_ttl > MAX_REFRESH_TTL {
            return Err(invalid(
                "the refresh-token lifetime must be between 1 second and 365 days",
            ));
        }
        if self.grace > MAX_GRACE {
            return Err(invalid("the reuse grace is over a minute"));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(invalid("the leeway is over 10 minutes"));
        }
        if self.max_rotations == 0 {
            return Err(invalid("a session needs at least one rotation"));
        }
        let store = self
            .store
            .ok_or_else(|| invalid("an issuer needs a store"))?;
        let needed = self.refresh_ttl + self.access_ttl + self.leeway;
        if let Some(retention) = store.subject_retention()
            && retention < needed
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                format!(
                    "the store forgets \"log out everywhere\" after {} s, before the refresh \
                     tokens it refuses expire: raise its subject retention to at least {} s",
                    retention.as_secs(),
                    needed.as_secs()
                ),
            ));
        }
        let id =
            crate::crypto::sha256_b64url(format!("{}:{issuer}{audience}", issuer.len()).as_bytes())
                .map_err(|e| {
                    ConfigError::with_source(ConfigErrorKind::InvalidSetting, "hashing failed", e)
                })?;
        Ok(Issuer {
            inner: Arc::new(Inner {
                keys: KeyRing::new(key)?,
                issuer,
                audience,
                access_ttl: self.access_ttl,
                refresh_ttl: self.refresh_ttl,
                grace: self.grace,
                leeway: self.leeway,
                max_rotations: self.max_rotations,
                id,
                store,
            }),
        })
    }
}

fn now_micros() -> SystemTime {
    NumericDate::now().to_system_time()
}

impl Issuer {
    /// Starts an issuer configuration.
    pub fn builder() -> IssuerBuilder {
        IssuerBuilder {
            key: None,
            issuer: None,
            audience: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            grace: Duration::ZERO,
            leeway: DEFAULT_LEEWAY,
            max_rotations: 10_000,
            store: None,
        }
    }

    /// A validator configuration that accepts exactly this issuer's access
    /// tokens: its keys (following every rotation), `iss`, `aud`, `typ`
    /// `at+jwt` and leeway. Add rules, then build.
    pub fn validator(&self) -> ValidatorBuilder {
        let inner = &self.inner;
        ValidatorBuilder::default()
            .shared_keys(inner.keys.shared())
            .issuer(inner.issuer.clone())
            .audience(inner.audience.clone())
            .require_type(ACCESS_TOKEN_TYPE)
            .leeway(inner.leeway)
    }

    /// The keys that verify this issuer's tokens, following every rotation.
    pub fn verification_keys(&self) -> SharedKeys {
        self.inner.keys.shared()
    }

    /// The public keys as a JWKS document (`{"keys": [...]}`), to serve at
    /// `/.well-known/jwks.json`: the signing key and the retired keys whose
    /// tokens may still be live. HMAC keys are never published, so with an
    /// HMAC key the list is empty.
    pub fn jwks(&self) -> Value {
        if let Err(error) = self.inner.keys.prune() {
            tracing::warn!(%error, "could not drop retired signing keys");
        }
        self.inner.keys.jwks()
    }

    /// Makes `key` the signing key. The key it replaces keeps verifying, and
    /// stays in the JWKS, until every access token it signed has expired
    /// (the access-token lifetime plus the leeway from now). The new key
    /// must use the same algorithm, and a `kid` of its own.
    pub fn rotate_key(&self, key: SigningKey) -> Result<(), ConfigError> {
        let inner = &self.inner;
        inner
            .keys
            .rotate(key, SystemTime::now() + inner.access_ttl + inner.leeway)
    }

    /// The `kid` of the key that signs now.
    pub fn active_kid(&self) -> String {
        self.inner
            .keys
            .active()
            .kid()
            .unwrap_or_default()
            .to_owned()
    }

    /// The access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        self.inner.access_ttl
    }

    /// The refresh-token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        self.inner.refresh_ttl
    }

    /// The store behind this issuer.
    pub fn store(&self) -> &Arc<dyn RefreshStore> {
        &self.inner.store
    }

    /// Logs `grant` in: starts a refresh family and issues its first pair.
    pub async fn issue(&self, grant: &Grant) -> Result<TokenPair, IssueError> {
        let inner = &self.inner;
        let claims = grant.session_claims()?;
        let family = random_id::<16>()?;
        let refresh_token = RefreshToken::mint(&grant.sub, &family)?;
        let now = now_micros();
        let (access_token, jti) = self.sign(&grant.sub, &family, &claims, now)?;
        let access = AccessRecord::new(&jti, self.revoke_until(now));
        let expires_at = now + inner.refresh_ttl;
        let token_hash = refresh_token.hash(grant.dpop_key.as_deref())?;
        let new = NewFamily {
            sub: &grant.sub,
            family: &family,
            token_hash: &token_hash,
            issued_at: now,
            expires_at,
            access,
            claims: &claims,
            keep_until: self.keep_until(now),
            issuer: &inner.id,
        };
        inner.store.create_family(&new).await?;
        tracing::debug!(sub = %grant.sub, sid = %family, "issued a new session");
        Ok(TokenPair {
            access_token,
            access_ttl: inner.access_ttl,
            refresh_token,
            refresh_ttl: inner.refresh_ttl,
            session_id: family,
            dpop_bound: grant.dpop_key.is_some(),
        })
    }

    /// Rotates `refresh_token`: a new access token and a new refresh token,
    /// the presented one spent. A token already spent revokes its whole
    /// family ([`IssueErrorKind::ReusedGrant`]).
    ///
    /// A session bound to a DPoP key ([`Grant::bind_to`]) rotates only
    /// with a proof of that key ([`refresh_with_proof`](Self::refresh_with_proof)):
    /// here its token is [`IssueErrorKind::UnknownGrant`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IssueError> {
        self.rotate(refresh_token, None).await
    }

    /// Rotates `refresh_token` of a session bound to the key of `proof`
    /// (RFC 9449 §5): the new access token is bound to it too. The token
    /// of a session bound to another key, or to none, is
    /// [`IssueErrorKind::UnknownGrant`] (a revoked session's,
    /// [`RevokedGrant`](IssueErrorKind::RevokedGrant), whatever the key),
    /// and nothing is written: a thief without the key can neither rotate
    /// the token nor spend it.
    ///
    /// `proof` must have been verified against this request and used once
    /// ([`DpopVerifier::verify_once`](crate::dpop::DpopVerifier::verify_once)).
    pub async fn refresh_with_proof(
        &self,
        refresh_token: &str,
        proof: &crate::dpop::VerifiedProof,
    ) -> Result<TokenPair, IssueError> {
        self.rotate(refresh_token, Some(proof.jkt())).await
    }

    /// Rotates `refresh_token`, presented with a proof of the DPoP key of
    /// thumbprint `key` if any.
    async fn rotate(
        &self,
        refresh_token: &str,
        key: Option<&str>,
    ) -> Result<TokenPair, IssueError> {
        let inner = &self.inner;
        let presented = Presented::parse(refresh_token, key)?;
        let replacement = RefreshToken::mint(&presented.sub, &presented.family)?;
        let now = now_micros();
        let jti = random_id::<16>()?;
        let new_hash = replacement.hash(key)?;
        let rotation = Rotation {
            sub: &presented.sub,
            family: &presented.family,
            presented_hash: &presented.hash,
            new_hash: &new_hash,
            now,
            expires_at: now + inner.refresh_ttl,
            access: AccessRecord::new(&jti, self.revoke_until(now)),
            grace: inner.grace,
            keep_until: self.keep_until(now),
            issuer: &inner.id,
            max_rotations: inner.max_rotations,
        };
        let claims = match inner.store.rotate(&rotation).await? {
            Rotated::Rotated { claims } => claims,
            refused => {
                let kind = match refused {
                    Rotated::Reused => IssueErrorKind::ReusedGrant,
                    Rotated::Revoked => IssueErrorKind::RevokedGrant,
                    Rotated::Expired => IssueErrorKind::ExpiredGrant,
                    _ => IssueErrorKind::UnknownGrant,
                };
                if kind == IssueErrorKind::ReusedGrant {
                    tracing::warn!(
                        sub = %presented.sub,
                        sid = %presented.family,
                        "a spent refresh token was presented again; the session is revoked"
                    );
                } else {
                    tracing::debug!(sub = %presented.sub, ?kind, "refused a refresh token");
                }
                return Err(IssueError::new(kind));
            }
        };
        let access_token =
            self.sign_with_jti(&presented.sub, &presented.family, &claims, now, &jti)?;
        Ok(TokenPair {
            access_token,
            access_ttl: inner.access_ttl,
            refresh_token: replacement,
            refresh_ttl: inner.refresh_ttl,
            session_id: presented.family,
            dpop_bound: key.is_some(),
        })
    }

    /// Logs out the session of a verified access token: revokes the token
    /// itself and, when it carries a `sid`, its refresh family and every
    /// access token issued from it.
    pub async fn logout(&self, token: &RegisteredClaims) -> Result<(), StoreError> {
        if let (Some(sub), Some(sid)) = (token.sub(), token.session_id()) {
            self.inner.store.revoke_family(sub, sid).await?;
        }
        self.revoker().revoke_token(token).await
    }

    /// Logs `sub` out everywhere: every access and refresh token issued
    /// before now is refused.
    pub async fn logout_all(&self, sub: &str) -> Result<(), StoreError> {
        self.inner.store.revoke_subject(sub, now_micros()).await
    }

    /// Watches a verified access token until it is revoked (logout, logout
    /// everywhere, its family revoked for reuse) or expires: for a WebSocket
    /// or any connection that outlives its request.
    pub fn watch(&self, token: &RegisteredClaims) -> crate::watch::TokenWatch {
        self.revoker().watch(token)
    }

    /// A [`Revoker`](crate::store::Revoker) on this issuer's store, with its leeway.
    pub fn revoker(&self) -> crate::store::Revoker {
        crate::store::Revoker::new(self.inner.store.clone(), self.inner.leeway)
    }

    /// When revoking an access token issued at `now` may end.
    fn revoke_until(&self, now: SystemTime) -> SystemTime {
        now + self.inner.access_ttl + self.inner.leeway
    }

    /// When a family issued or rotated at `now` may be forgotten: after its
    /// refresh token and its last access token have expired.
    fn keep_until(&self, now: SystemTime) -> SystemTime {
        let inner = &self.inner;
        now + inner.refresh_ttl.max(inner.access_ttl) + inner.leeway
    }

    fn sign(
        &self,
        sub: &str,
        sid: &str,
        claims: &str,
        now: SystemTime,
    ) -> Result<(String, String), IssueError> {
        let jti = random_id::<16>()?;
        let token = self.sign_with_jti(sub, sid, claims, now, &jti)?;
        Ok((token, jti))
    }

    fn sign_with_jti(
        &self,
        sub: &str,
        sid: &str,
        claims: &str,
        now: SystemTime,
        jti: &str,
    ) -> Result<String, IssueError> {
        let inner = &self.inner;
        let custom: Map<String, Value> = serde_json::from_str(claims)
            .map_err(|e| IssueError::with_source(IssueErrorKind::InvalidClaims, e))?;
        // Whole seconds, as every JWT library compares them (Node's reject
        // an `nbf` later than the current whole second); the instant itself
        // in `iat_us`, for logout-everywhere cut-offs within a second.
        let issued = NumericDate::from_system_time(now);
        let iat = issued.as_secs();
        let exp = NumericDate::from_secs(iat)
            .saturating_add(inner.access_ttl)
            .as_secs();
        // The grant's claims first, the issuer's over them: a family stored
        // before a name was reserved (`iat_us`) cannot override it.
        let mut payload = custom;
        payload.insert("iss".into(), inner.issuer.clone().into());
        payload.insert("sub".into(), sub.into());
        payload.insert("aud".into(), inner.audience.clone().into());
        payload.insert("iat".into(), iat.into());
        payload.insert("iat_us".into(), issued.as_micros().into());
        payload.insert("nbf".into(), iat.into());
        payload.insert("exp".into(), exp.into());
        payload.insert("jti".into(), jti.into());
        payload.insert("sid".into(), sid.into());
        inner.keys.prune().ok();
        inner
            .keys
            .active()
            .sign(ACCESS_TOKEN_TYPE, &payload)
            .map_err(|e| IssueError::with_source(IssueErrorKind::Internal, e))
    }
}
