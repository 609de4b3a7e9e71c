//! Token verification: the [`Validator`] and its rules.
//!
//! Verification runs in two stages, each with its own entry point:
//!
//! 1. [`Validator::verify_signature`], the JWS stage: compact serialization
//!    only, a maximum length checked before any decoding, strict base64url,
//!    a JSON-object header without duplicate members, `alg` never `none` and
//!    equal to the selected key's algorithm, every `crit` name understood,
//!    and the signature.
//! 2. [`Validator::validate`], the JWT stage on top: the payload is a JSON
//!    object without duplicate members, parsed once into your claims type and
//!    the [`RegisteredClaims`]; then `typ`, `exp`, `nbf`, `iat`, `iss` and
//!    `aud` are checked.
//!
//! | rule | default |
//! |---|---|
//! | maximum token length | 8 KiB |
//! | `exp` | required |
//! | `nbf`, `iat` | checked when present; `iat` in the future is refused |
//! | leeway for all time claims | 30 s |
//! | `iss`, `aud` | required and matched exactly once configured |
//! | `typ` | any, unless [`require_type`](ValidatorBuilder::require_type) |
//! | `crit` | refused unless [`understand_crit`](ValidatorBuilder::understand_crit) |
//! | subject, roles, permissions | `sub`, `roles`, `permissions` (or `scope`), unless [`claim_mapping`](ValidatorBuilder::claim_mapping) says where |
//!
//! ```
//! use jwt_guard::{Algorithm, SigningKey, StandardClaims, Validator, VerifyingKey};
//! use std::time::{SystemTime, UNIX_EPOCH};
//!
//! let secret = b"a-secret-of-at-least-thirty-two-bytes!";
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, secret)?)
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .build()?;
//!
//! let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
//! let token = SigningKey::hmac(Algorithm::HS256, secret)?.sign(
//!     "JWT",
//!     &serde_json::json!({
//!         "sub": "alice", "iss": "https://auth.example", "aud": "orders-api",
//!         "exp": now + 300, "iat": now,
//!     }),
//! )?;
//!
//! let verified = validator.validate::<StandardClaims>(&token).unwrap();
//! assert_eq!(verified.claims().sub, "alice");
//!
//! // The same token for another audience is refused.
//! let other = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, secret)?)
//!     .issuer("https://auth.example")
//!     .audience("billing-api")
//!     .build()?;
//! assert!(other.validate::<StandardClaims>(&token).is_err());
//! # Ok::<(), jwt_guard::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::claims::{ClaimMapping, NumericDate, RegisteredClaims};
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind, ErrorContext};
use crate::future::BoxFuture;
use crate::keys::{KeySet, VerifyingKey};

mod issuers;
mod jws;

pub use crate::keys::SharedKeys;
pub use issuers::TrustedIssuers;
pub(crate) use jws::decode_part;
pub use jws::{Header, VerifiedJws};

/// The default maximum token length: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

pub use crate::policy::DEFAULT_LEEWAY;

/// Verifies tokens: a key set plus the rules tokens must meet.
///
/// Cheap to clone (one `Arc`). Built once with [`Validator::builder`]; every
/// setting is checked then, never per request.
#[derive(Clone)]
pub struct Validator {
    rules: Arc<Rules>,
}

struct Rules {
    keys: TrustedKeys,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    require_exp: bool,
    required_typ: Option<String>,
    max_token_len: usize,
    understood_crit: Vec<String>,
    /// `None` when nothing is mapped: the claims are parsed as they are.
    mapping: Option<ClaimMapping>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = &self.rules;
        f.debug_struct("Validator")
            .field("keys", &rules.keys)
            .field("issuers", &rules.issuers)
            .field("audiences", &rules.audiences)
            .field("leeway", &rules.leeway)
            .field("require_exp", &rules.require_exp)
            .field("required_typ", &rules.required_typ)
            .field("max_token_len", &rules.max_token_len)
            .field("understood_crit", &rules.understood_crit)
            .field("mapping", &rules.mapping)
            .finish()
    }
}

/// Where a validator finds its keys: its own, or the validator of the
/// token's issuer.
enum TrustedKeys {
    Static(Arc<KeySet>),
    Shared(SharedKeys),
    Issuers(TrustedIssuers),
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(keys) => keys.fmt(f),
            Self::Shared(keys) => keys.fmt(f),
            Self::Issuers(issuers) => issuers.fmt(f),
        }
    }
}

/// A refused token, and for an unknown `kid` of a shared key set whose
/// source refreshes, a future that ends when that refresh is over.
pub(crate) struct Unverified {
    pub(crate) error: AuthError,
    pub(crate) refresh: Option<BoxFuture<'static, ()>>,
}

impl From<AuthError> for Unverified {
    fn from(error: AuthError) -> Self {
        Self {
            error,
            refresh: None,
        }
    }
}

/// A token that passed every rule: its claims, registered claims and header.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    claims: T,
    registered: RegisteredClaims,
    header: Header,
    /// The generation of the shared key set it was verified with.
    key_generation: u64,
    /// With several trusted issuers: the generation of their set.
    issuers_generation: u64,
}

impl<T> Verified<T> {
    /// What logs may say about this token: `kid`, `iss`, `sub`.
    pub(crate) fn error_context(&self) -> ErrorContext {
        context(&self.header, Some(&self.registered))
    }

    /// The application's claims.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The application's claims, consumed.
    pub fn into_claims(self) -> T {
        self.claims
    }

    /// The registered claims, as read by the validator.
    pub fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }

    /// The verified header (`alg`, `kid`, `typ`).
    pub fn header(&self) -> &Header {
        &self.header
    }
}

impl Validator {
    /// Starts a validator configuration.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// The JWS-level entry point: checks the serialization, the header and
    /// the signature, and returns the verified payload. No claim rule is
    /// applied; the payload need not even be JSON.
    ///
    /// With [shared keys](ValidatorBuilder::shared_keys) whose source
    /// refreshes (a `keys::RemoteJwks`, feature `jwks`), an unknown `kid`
    /// also asks the source for a refresh, within its cooldown.
    pub fn verify_signature(&self, token: &str) -> Result<VerifiedJws, AuthError> {
        self.verify_jws(token).map_err(|refusal| refusal.error)
    }

    fn verify_jws(&self, token: &str) -> Result<VerifiedJws, Unverified> {
        let rules = &*self.rules;
        let result = match &rules.keys {
            TrustedKeys::Issuers(issuers) => {
                return self.issuer_validator(issuers, token)?.verify_jws(token);
            }
            TrustedKeys::Static(keys) => jws::verify(
                token,
                rules.max_token_len,
                Some(keys),
                &rules.understood_crit,
            ),
            TrustedKeys::Shared(shared) => {
                let keys = shared.guard();
                let unloaded = keys.is_none();
                jws::verify(
                    token,
                    rules.max_token_len,
                    keys.as_deref(),
                    &rules.understood_crit,
                )
                .map_err(|error| {
                    // No set yet (a provider not reached so far) is no
                    // verdict on the token: 503, not 401.
                    if unloaded && error.kind() == AuthErrorKind::UnknownKey {
                        let context = error.context().cloned().unwrap_or_default();
                        AuthError::new(
                            AuthErrorKind::KeysUnavailable,
                            "no keys have been fetched from the identity provider yet",
                        )
                        .with_context(context)
                    } else {
                        error
                    }
                })
            }
        };
        result.map_err(|error| {
            let refresh = match &rules.keys {
                // With a `kid`, `UnknownKey` means that no key has this `kid`.
                TrustedKeys::Shared(shared)
                    if matches!(
                        error.kind(),
                        AuthErrorKind::UnknownKey | AuthErrorKind::KeysUnavailable
                    ) && error.context().is_some_and(|c| c.kid.is_some()) =>
                {
                    shared.unknown_kid()
                }
                _ => None,
            };
            Unverified { error, refresh }
        })
    }

    /// Verifies `token` completely and parses its claims into `T`, once.
    ///
    /// An unknown `kid` asks a refreshing key source for a refresh, as
    /// [`verify_signature`](Self::verify_signature) does; this call does not
    /// wait for it (the [`JwtLayer`](crate::JwtLayer) does, once).
    pub fn validate<T: DeserializeOwned>(&self, token: &str) -> Result<Verified<T>, AuthError> {
        self.validate_or_refresh(token)
            .map_err(|refusal| refusal.error)
    }

    /// As [`validate`](Self::validate), keeping the refresh to wait for.
    pub(crate) fn validate_or_refresh<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Verified<T>, Unverified> {
        if let TrustedKeys::Issuers(issuers) = &self.rules.keys {
            // Read before the set, as the key generation below.
            let issuers_generation = issuers.generation();
            let mut verified = self
                .issuer_validator(issuers, token)?
                .validate_or_refresh::<T>(token)?;
            verified.issuers_generation = issuers_generation;
            return Ok(verified);
        }
        // Read before the keys: a replacement in between makes the result
        // look older than it is (re-verified later), never newer.
        let key_generation = self.key_generation();
        let jws = self.verify_jws(token)?;
        self.check_type(&jws.header)?;
        let parsed = match &self.rules.mapping {
            None => crate::claims::parse_claims::<T>(&jws.payload),
            Some(mapping) => mapping.parse::<T>(&jws.payload),
        };
        let (claims, mut registered) =
            parsed.map_err(|e| e.with_context(context(&jws.header, None)))?;
        registered.identify_unless_jti(|| derived_token_id(token));
        self.check_claims(&registered, NumericDate::now())
            .map_err(|e| e.with_context(context(&jws.header, Some(&registered))))?;
        Ok(Verified {
            claims,
            registered,
            header: jws.header,
            key_generation,
            issuers_generation: 0,
        })
    }

    /// With several trusted issuers, the validator of the issuer `token`
    /// names, after the length rule and before anything is verified.
    fn issuer_validator(
        &self,
        issuers: &TrustedIssuers,
        token: &str,
    ) -> Result<Validator, AuthError> {
        self.check_length(token)?;
        issuers.select(jws::unverified_issuer(token)?.as_deref())
    }

    /// The generation of the shared key set (0 for static keys).
    fn key_generation(&self) -> u64 {
        match &self.rules.keys {
            TrustedKeys::Static(_) | TrustedKeys::Issuers(_) => 0,
            TrustedKeys::Shared(shared) => shared.generation(),
        }
    }

    /// Whether `verified` was verified with the key set in use now: a cached
    /// result from before a key rotation must be verified again, or a key
    /// withdrawn from the set would still be honoured. With several
    /// issuers, also with the issuer's validator in use now.
    pub(crate) fn is_current<T>(&self, verified: &Verified<T>) -> bool {
        match &self.rules.keys {
            TrustedKeys::Issuers(issuers) => {
                verified.issuers_generation == issuers.generation()
                    && issuers
                        .select(verified.registered.issuer())
                        .is_ok_and(|validator| validator.is_current(verified))
            }
            _ => verified.key_generation == self.key_generation(),
        }
    }

    /// The issuer this validator requires, when it names exactly one and
    /// verifies with its own keys: what [`TrustedIssuers`] keys it by.
    /// A validator trusting several issuers names none itself.
    pub(crate) fn single_issuer(&self) -> Option<&str> {
        match self.rules.issuers.as_slice() {
            [issuer] => Some(issuer),
            _ => None,
        }
    }

    /// The length rule alone, which runs before anything reads the token.
    pub(crate) fn check_length(&self, token: &str) -> Result<(), AuthError> {
        jws::check_length(token, self.rules.max_token_len)
    }

    fn check_type(&self, header: &Header) -> Result<(), AuthError> {
        let Some(required) = &self.rules.required_typ else {
            return Ok(());
        };
        let matches = header.typ.as_deref().is_some_and(|typ| {
            let typ = strip_application(typ);
            typ.eq_ignore_ascii_case(strip_application(required))
        });
        if matches {
            Ok(())
        } else {
            Err(AuthError::new(
                AuthErrorKind::InvalidType,
                "the token's typ is not the required one",
            )
            .with_context(context(header, None)))
        }
    }

    /// Every claim rule, at `now`.
    pub(crate) fn check_claims(
        &self,
        registered: &RegisteredClaims,
        now: NumericDate,
    ) -> Result<(), AuthError> {
        let rules = &*self.rules;
        self.check_time(registered, now)?;
        if !rules.issuers.is_empty() {
            match registered.issuer() {
                None => return Err(missing("iss")),
                Some(iss) if !rules.issuers.iter().any(|accepted| accepted == iss) => {
                    return Err(AuthError::new(
                        AuthErrorKind::InvalidIssuer,
                        "the token's issuer is not accepted",
                    ));
                }
                Some(_) => {}
            }
        }
        if !rules.audiences.is_empty() {
            if registered.audience().is_empty() {
                return Err(missing("aud"));
            }
            if !registered
                .audience()
                .iter()
                .any(|aud| rules.audiences.contains(aud))
            {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidAudience,
                    "the token is not meant for this audience",
                ));
            }
        }
        Ok(())
    }

    /// The time rules alone, at `now`: what may change for a token already verified.
    pub(crate) fn check_time(
        &self,
        registered: &RegisteredClaims,
        now: NumericDate,
    ) -> Result<(), AuthError> {
        if let TrustedKeys::Issuers(issuers) = &self.rules.keys {
            return issuers
                .select(registered.issuer())?
                .check_time(registered, now);
        }
        let leeway = self.rules.leeway;
        match registered.expires_at() {
            Some(exp) if now >= exp.saturating_add(leeway) => {
                return Err(AuthError::new(
                    AuthErrorKind::Expired,
                    "the token has expired",
                ));
            }
            None if self.rules.require_exp => return Err(missing("exp")),
            _ => {}
        }
        if registered
            .not_before()
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(AuthError::new(
                AuthErrorKind::NotYetValid,
                "the token is not valid yet",
            ));
        }
        if registered
            .issued_at()
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(AuthError::new(
                AuthErrorKind::IssuedInFuture,
                "the token was issued in the future",
            ));
        }
        Ok(())
    }

    /// A snapshot of the keys this validator trusts now: its static keys, or
    /// the current set of its [shared keys](ValidatorBuilder::shared_keys)
    /// (`None` while that set is empty).
    /// With [several issuers](ValidatorBuilder::trusted_issuers), `None`:
    /// each has its own.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        match &self.rules.keys {
            TrustedKeys::Static(keys) => Some(keys.clone()),
            TrustedKeys::Shared(shared) => shared.load(),
            TrustedKeys::Issuers(_) => None,
        }
    }

    /// The leeway applied to time claims. With
    /// [several issuers](ValidatorBuilder::trusted_issuers), each applies its
    /// own: this is then the largest any may have (10 minutes), so that
    /// revocations outlive every token they cover.
    pub fn leeway(&self) -> Duration {
        // A validator trusting several issuers is built with the largest.
        self.rules.leeway
    }
}

/// An identifier for a token without `jti`, so that it can still be revoked:
/// `sha256:` and the base64url SHA-256 of its signing input (header and
/// payload). Not of its signature: an ECDSA signature can be altered into
/// another valid one, and the twin must not escape a revocation.
fn derived_token_id(token: &str) -> String {
    let signing_input = token.rsplit_once('.').map_or(token, |(input, _)| input);
    // A digest cannot fail with either backend; were it to, every token
    // without `jti` would share one id, so revoking one revokes them all
    // (closed, never open).
    let digest = crate::crypto::sha256_b64url(signing_input.as_bytes()).unwrap_or_default();
    format!("sha256:{digest}")
}

fn strip_application(typ: &str) -> &str {
    match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    }
}

fn missing(claim: &'static str) -> AuthError {
    AuthError::new(
        AuthErrorKind::MissingClaim,
        match claim {
            "exp" => "the token has no exp claim",
            "iss" => "the token has no iss claim",
            "aud" => "the token has no aud claim",
            _ => "the token lacks a required claim",
        },
    )
}

pub(crate) fn context(header: &Header, registered: Option<&RegisteredClaims>) -> ErrorContext {
    ErrorContext {
        kid: header.kid.clone(),
        iss: registered.and_then(|r| r.issuer().map(str::to_owned)),
        sub: registered.and_then(|r| r.sub().map(str::to_owned)),
    }
}

/// Configures a [`Validator`]. Every method takes and returns the builder;
/// [`build`](Self::build) checks the whole configuration.
#[derive(Debug, Clone)]
#[must_use]
pub struct ValidatorBuilder {
    keys: Vec<VerifyingKey>,
    shared_keys: Option<SharedKeys>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    require_exp: bool,
    required_typ: Option<String>,
    max_token_len: usize,
    understood_crit: Vec<String>,
    mapping: ClaimMapping,
    trusted_issuers: Option<TrustedIssuers>,
    /// Key sets given: more than one is a mistake (one would be dropped).
    shared_key_sets: u8,
    /// The issuer of a discovered key source, which must be the only one.
    discovered_issuer: bool,
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            shared_keys: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            require_exp: true,
            required_typ: None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            understood_crit: Vec::new(),
            mapping: ClaimMapping::new(),
            trusted_issuers: None,
            shared_key_sets: 0,
            discovered_issuer: false,
        }
    }
}

impl ValidatorBuilder {
    /// Trusts `key`. May be called several times.
    pub fn key(mut self, key: VerifyingKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Trusts every key of `keys` (for instance from
    /// [`KeySet::from_jwks`]), in addition to the others given.
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys.extend(keys.iter().cloned());
        self
    }

    /// Verifies each token with the validator of the issuer it names, from
    /// `issuers` (see [`TrustedIssuers`]); a token naming another issuer is
    /// refused. Exclusive with the settings each issuer's validator holds
    /// (keys, issuers, audiences, leeway, `typ`, `crit`, claim mapping):
    /// only [`max_token_len`](Self::max_token_len) applies here, before the
    /// issuer is read.
    pub fn trusted_issuers(mut self, issuers: TrustedIssuers) -> Self {
        self.trusted_issuers = Some(issuers);
        self
    }

    /// Trusts the keys of a [`SharedKeys`] set, whatever it holds when a
    /// token arrives: for keys that rotate at runtime, such as an identity
    /// provider's JWKS kept current by `keys::RemoteJwks` (feature `jwks`).
    ///
    /// Exclusive with [`key`](Self::key) and [`keys`](Self::keys):
    /// [`build`](Self::build) refuses both, so that each token's key is
    /// looked up in one set, where a `kid` is unique and a token without
    /// `kid` needs exactly one key of its algorithm. The set may be empty;
    /// tokens are then refused as
    /// [`KeysUnavailable`](crate::AuthErrorKind::KeysUnavailable) (503).
    pub fn shared_keys(mut self, keys: SharedKeys) -> Self {
        self.shared_key_sets = self.shared_key_sets.saturating_add(1);
        self.shared_keys = Some(keys);
        self
    }

    /// Verifies with the keys of `remote` ([`shared_keys`](Self::shared_keys)),
    /// and for a source made by
    /// [`RemoteJwks::discover`](crate::keys::RemoteJwks::discover) requires
    /// its issuer as `iss` ([`issuer`](Self::issuer)).
    #[cfg(feature = "jwks")]
    pub fn remote_jwks(self, remote: &crate::keys::RemoteJwks) -> Self {
        let mut this = self.shared_keys(remote.shared_keys());
        match remote.issuer() {
            Some(issuer) => {
                this.discovered_issuer = true;
                this.issuer(issuer)
            }
            None => this,
        }
    }

    /// Accepts tokens from `issuer`. Once any issuer is configured, `iss` is
    /// required and must equal one of them exactly.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens for `audience`. Once any audience is configured, `aud`
    /// is required and must contain one of them exactly.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Leeway for clock skew on `exp`, `nbf` and `iat` (default 30 s, at most 10 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Whether `exp` is required (default `true`).
    pub fn require_exp(mut self, required: bool) -> Self {
        self.require_exp = required;
        self
    }

    /// Requires the `typ` header, e.g. `"at+jwt"` for RFC 9068 access tokens.
    /// Compared case-insensitively, with or without `application/`.
    pub fn require_type(mut self, typ: impl Into<String>) -> Self {
        self.required_typ = Some(typ.into());
        self
    }

    /// The maximum token length in bytes (default 8 KiB), checked before any decoding.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Declares a `crit` header extension as understood by the application.
    /// Tokens listing any other name in `crit` are refused.
    pub fn understand_crit(mut self, name: impl Into<String>) -> Self {
        self.understood_crit.push(name.into());
        self
    }

    /// Where the subject, roles and permissions are in the tokens, for
    /// tokens minted by other systems (default: `sub`, `roles`,
    /// `permissions`); see [`ClaimMapping`].
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Checks the configuration and builds the validator.
    pub fn build(self) -> Result<Validator, ConfigError> {
        if self.shared_key_sets > 1 || (self.discovered_issuer && self.issuers.len() != 1) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "one validator verifies with one key set and a discovered issuer alone: \
                 for several issuers, give each its validator in a TrustedIssuers",
            ));
        }
        if self.max_token_len < 32 {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "the maximum token length is too small to hold any token",
            ));
        }
        if let Some(issuers) = self.trusted_issuers {
            let per_issuer = !self.keys.is_empty()
                || self.shared_keys.is_some()
                || !self.issuers.is_empty()
                || !self.audiences.is_empty()
                || self.leeway != DEFAULT_LEEWAY
                || !self.require_exp
                || self.required_typ.is_some()
                || !self.understood_crit.is_empty()
                || !self.mapping.is_identity();
            if per_issuer {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidSetting,
                    "with trusted issuers, keys, issuers, audiences and rules belong to each \
                     issuer's validator",
                ));
            }
            return Ok(Validator {
                rules: Arc::new(Rules {
                    keys: TrustedKeys::Issuers(issuers),
                    issuers: Vec::new(),
                    audiences: Vec::new(),
                    leeway: crate::policy::MAX_LEEWAY,
                    require_exp: true,
                    required_typ: None,
                    max_token_len: self.max_token_len,
                    understood_crit: Vec::new(),
                    mapping: None,
                }),
            });
        }
        let keys = match self.shared_keys {
            Some(_) if !self.keys.is_empty() => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidSetting,
                    "static keys and shared keys are exclusive: put every key into the shared set",
                ));
            }
            Some(shared) => TrustedKeys::Shared(shared),
            None => TrustedKeys::Static(Arc::new(KeySet::new(self.keys)?)),
        };
        if self.leeway > crate::policy::MAX_LEEWAY {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "the leeway is over 10 minutes",
            ));
        }
        if self
            .issuers
            .iter()
            .chain(&self.audiences)
            .any(String::is_empty)
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "an issuer or audience is empty",
            ));
        }
        const JWS_NAMES: [&str; 11] = [
            "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
        ];
        if let Some(name) = self
            .understood_crit
            .iter()
            .find(|name| JWS_NAMES.contains(&name.as_str()))
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                format!("`{name}` is defined by JWS itself and cannot be a crit extension"),
            ));
        }
        self.mapping.check()?;
        Ok(Validator {
            rules: Arc::new(Rules {
                keys,
                issuers: self.issuers,
                audiences: self.audiences,
                leeway: self.leeway,
                require_exp: self.require_exp,
                required_typ: self.required_typ,
                max_token_len: self.max_token_len,
                understood_crit: self.understood_crit,
                mapping: Some(self.mapping).filter(|mapping| !mapping.is_identity()),
            }),
        })
    }
}
