//! Revocation: the [`RevocationStore`] trait and its implementations.
//!
//! A JWT is valid until it expires, whatever happens to the session it stands
//! for. A revocation store closes that gap. The layer consults it **after** a
//! token's signature and claims have passed, so a forged token never causes a
//! store lookup (and never any I/O).
//!
//! A store answers two questions about a verified token:
//!
//! - has this one token (by its `jti`) been revoked? A revoked `jti` is kept
//!   until the token would have expired anyway, and then forgotten;
//! - has its subject been cut off ("log out everywhere") at an instant after
//!   the token was issued (`iat`)? A token without `iat` whose subject has a
//!   cut-off is treated as revoked, because nothing proves it came later.
//!
//! [`RevocationStore::check`] returns a [`Lookup`]: stores that answer from
//! memory return [`Lookup::Ready`] and cost no allocation; stores that need a
//! round trip return [`Lookup::Pending`] with a boxed future. The trait is
//! object safe, so the layer holds an `Arc<dyn RevocationStore>` and does not
//! change whichever store is behind it.

use std::fmt;
use std::time::SystemTime;

mod memory;
#[cfg(feature = "redis")]
pub mod redis;
mod refresh;
mod throttle;

pub use memory::{MemoryStore, MemoryStoreBuilder};
pub use refresh::{AccessRecord, NewFamily, RefreshStore, Rotated, Rotation};
pub use throttle::{Attempt, ThrottleStore};

pub use crate::future::BoxFuture;

impl crate::RegisteredClaims {
    /// What a [`RevocationStore`] is told about this token; its `jti` is
    /// [`token_id`](crate::RegisteredClaims::token_id).
    pub fn token_ref(&self) -> TokenRef<'_> {
        TokenRef {
            jti: Some(self.token_id()).filter(|id| !id.is_empty()),
            sub: self.sub(),
            issued_at: self.revocable_issued_at(),
            expires_at: self.expires_at().map(crate::NumericDate::to_system_time),
        }
    }

    /// When the token was issued, for comparing with a logout-everywhere
    /// cut-off: `iat_us` when the token has it; otherwise just before the
    /// start of `iat`'s second, so that a cut-off anywhere in that second
    /// refuses it (a whole-second `iat` cannot say whether the token came
    /// before or after the cut-off: fail closed).
    fn revocable_issued_at(&self) -> Option<SystemTime> {
        let issued_at = match (self.issued_at_micros(), self.issued_at()) {
            (Some(micros), _) => micros,
            (None, Some(iat)) => crate::NumericDate::from_secs(iat.as_secs())
                .saturating_sub(std::time::Duration::from_micros(1)),
            (None, None) => return None,
        };
        Some(issued_at.to_system_time())
    }
}

/// What a revocation store is told about a token that passed verification.
///
/// Built by the layer from the token's registered claims; stores only read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRef<'a> {
    /// The token's id: its `jti` claim, or for a token without `jti` an id
    /// derived from its signed header and payload (see
    /// [`RegisteredClaims::token_id`](crate::RegisteredClaims::token_id)).
    pub jti: Option<&'a str>,
    /// The token's `sub` claim, if it has one.
    pub sub: Option<&'a str>,
    /// When the token was issued, if it says: its `iat_us` claim (which
    /// tokens from an [`Issuer`](crate::issue::Issuer) carry), else one
    /// microsecond before the start of its `iat`'s second. A token issued
    /// before a subject's cut-off ([`RevocationStore::revoke_subject`]) is
    /// revoked; so a token with only a whole-second `iat` is revoked by a
    /// cut-off anywhere in that second or later.
    pub issued_at: Option<SystemTime>,
    /// The token's `exp` claim, if it has one.
    pub expires_at: Option<SystemTime>,
}

impl<'a> TokenRef<'a> {
    /// A reference with no claims set; fill it with the `with_*` methods.
    pub const fn new() -> Self {
        Self {
            jti: None,
            sub: None,
            issued_at: None,
            expires_at: None,
        }
    }

    /// Sets the `jti`.
    #[must_use]
    pub const fn with_jti(mut self, jti: &'a str) -> Self {
        self.jti = Some(jti);
        self
    }

    /// Sets the `sub`.
    #[must_use]
    pub const fn with_sub(mut self, sub: &'a str) -> Self {
        self.sub = Some(sub);
        self
    }

    /// Sets the issue instant (`iat`).
    #[must_use]
    pub const fn with_issued_at(mut self, issued_at: SystemTime) -> Self {
        self.issued_at = Some(issued_at);
        self
    }

    /// Sets the expiry (`exp`).
    #[must_use]
    pub const fn with_expires_at(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }
}

impl Default for TokenRef<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// The answer of a revocation check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenStatus {
    /// Nothing revokes the token.
    Active,
    /// The token's `jti` was revoked, or its subject was cut off after it was issued.
    Revoked,
}

/// The result of [`RevocationStore::check`]: either known now, or after a round trip.
#[non_exhaustive]
pub enum Lookup {
    /// The answer is known without waiting (in-memory and mirrored stores).
    Ready(Result<TokenStatus, StoreError>),
    /// The answer needs I/O; the layer polls this future.
    Pending(BoxFuture<'static, Result<TokenStatus, StoreError>>),
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(result) => f.debug_tuple("Ready").field(result).finish(),
            Self::Pending(_) => f.debug_tuple("Pending").finish_non_exhaustive(),
        }
    }
}

impl From<Result<TokenStatus, StoreError>> for Lookup {
    fn from(result: Result<TokenStatus, StoreError>) -> Self {
        Self::Ready(result)
    }
}

/// Where revocations are kept and looked up.
///
/// Implementations must be cheap to call on every request: [`check`](Self::check)
/// runs for every token that passed verification. When the store cannot tell
/// (it is unreachable, timing out, or not yet synchronised) it must return an
/// error, never [`TokenStatus::Active`]: the layer then answers 503, unless the
/// user opted into fail-open.
pub trait RevocationStore: Send + Sync + 'static {
    /// Is this verified token revoked?
    fn check(&self, token: &TokenRef<'_>) -> Lookup;

    /// Revokes the token with this `jti` until `expires_at` (the token's own
    /// `exp` plus the validator's leeway). After that instant the token is
    /// refused for having expired, and the store may forget the entry.
    ///
    /// `sub` must be the token's `sub` claim (`None` when it has none), as
    /// [`Revoker`] passes it: stores may key the entry by the pair (a Redis
    /// store keeps a token's entry and its subject's cut-off in one cluster
    /// slot, so that one round trip reads both).
    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        sub: Option<&'a str>,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Revokes every token of `sub` issued before `issued_before` ("log out
    /// everywhere"). Tokens issued at or after that instant stay valid.
    ///
    /// A later cut-off replaces an earlier one; an earlier one never moves an
    /// existing cut-off back.
    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// A signal marked changed whenever the store's revocations may have
    /// changed, so that a [`TokenWatch`](crate::watch::TokenWatch) can
    /// re-check at once instead of polling. `None` (the default) when the
    /// store cannot tell, as a store answering from a remote server cannot:
    /// watchers then poll.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<()>> {
        None
    }

    /// Whether the store can answer checks now, for a readiness probe (a
    /// `/health` route): `Ok`, or the reason it cannot. The default answers
    /// `Ok`, as a store in this process always can.
    fn health(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Records one use of a DPoP proof (RFC 9449 §11.1), named by
    /// `proof_id` (a digest of the proof's key and `jti`), until `until`,
    /// when no clock would accept the proof any more: [`ProofUse::First`]
    /// the first time, [`ProofUse::Replayed`] every time after. A store
    /// that instances share shares this too, so that a proof replayed to
    /// another instance is refused there.
    ///
    /// The default keeps nothing and answers
    /// [`Misconfigured`](StoreErrorKind::Misconfigured): a DPoP request on
    /// such a store is refused with 503 (fail-open or not), never let
    /// through unchecked. [`MemoryStore`] and the Redis store keep them.
    fn use_proof<'a>(
        &'a self,
        proof_id: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<ProofUse, StoreError>> {
        let _ = (proof_id, until);
        Box::pin(std::future::ready(Err(StoreError::with_source(
            StoreErrorKind::Misconfigured,
            "this revocation store keeps no DPoP replay cache",
        ))))
    }
}

/// Whether a DPoP proof was used before: what
/// [`RevocationStore::use_proof`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofUse {
    /// The proof's first use: it is now recorded.
    First,
    /// The proof was used before: a replay, to be refused.
    Replayed,
}

/// Revokes tokens through a store with the right lifetimes: a handle made by
/// [`JwtLayer::revoker`](crate::JwtLayer::revoker).
///
/// A revocation must outlive the token's `exp` by the validator's leeway, or
/// the token would come back for the length of the leeway; this handle adds
/// it, so handlers need not.
///
/// ```
/// # use jwt_guard::{Algorithm, Claims, JwtLayer, StandardClaims, Validator, VerifyingKey};
/// # use jwt_guard::store::Revoker;
/// # use axum::{Router, extract::State, http::StatusCode, routing::post};
/// async fn logout(State(revoker): State<Revoker>, claims: Claims<StandardClaims>) -> StatusCode {
///     match revoker.revoke_token(claims.registered()).await {
///         Ok(()) => StatusCode::NO_CONTENT,
///         Err(_) => StatusCode::SERVICE_UNAVAILABLE,
///     }
/// }
/// # fn main() -> Result<(), jwt_guard::ConfigError> {
/// # let validator = Validator::builder()
/// #     .key(VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
/// #     .build()?;
/// let layer = JwtLayer::<StandardClaims>::new(validator);
/// let app: Router = Router::new()
///     .route("/logout", post(logout))
///     .with_state(layer.revoker())
///     .layer(layer);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Revoker {
    store: std::sync::Arc<dyn RevocationStore>,
    leeway: std::time::Duration,
}

impl fmt::Debug for Revoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revoker")
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

pub use crate::policy::NO_EXP_REVOCATION;

impl Revoker {
    pub(crate) fn new(
        store: std::sync::Arc<dyn RevocationStore>,
        leeway: std::time::Duration,
    ) -> Self {
        Self { store, leeway }
    }

    /// Revokes this one token (by [`token_id`](crate::RegisteredClaims::token_id))
    /// until its `exp` plus the leeway. A token without `exp` stays revoked
    /// for [`NO_EXP_REVOCATION`].
    pub async fn revoke_token(&self, token: &crate::RegisteredClaims) -> Result<(), StoreError> {
        let until = match token.expires_at() {
            Some(exp) => exp.to_system_time() + self.leeway,
            None => SystemTime::now() + NO_EXP_REVOCATION,
        };
        self.store
            .revoke_token(token.token_id(), token.sub(), until)
            .await
    }

    /// Revokes every token of `sub` issued before now ("log out everywhere").
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), StoreError> {
        self.store.revoke_subject(sub, SystemTime::now()).await
    }

    /// The store behind this handle.
    pub fn store(&self) -> &std::sync::Arc<dyn RevocationStore> {
        &self.store
    }
}

/// Why a revocation store could not answer.
///
/// Opaque: inspect it through [`kind`](Self::kind). It never carries a token.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached.
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// The store's local state is not (yet) known to be current.
    NotSynchronized,
    /// The store is full and would have to forget a live revocation to take a new one.
    CapacityExceeded,
    /// The store answered something it should not have (a wrong reply type, an ACL error).
    Protocol,
    /// The store refuses the configuration itself: a wrong password, a
    /// database index it does not have. Retrying cannot help; a service
    /// should stop at start-up and say so.
    Misconfigured,
    /// The write was made, but fewer replicas than required acknowledged it
    /// in time: a failover could lose it, so it is not reported done.
    NotReplicated,
}

impl StoreErrorKind {
    /// The kind in snake case, as metrics label it: stable, and exhaustive
    /// on purpose, so that a new kind cannot be added without its name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::NotSynchronized => "not_synchronized",
            Self::CapacityExceeded => "capacity_exceeded",
            Self::Protocol => "protocol",
            Self::Misconfigured => "misconfigured",
            Self::NotReplicated => "not_replicated",
        }
    }
}

impl StoreError {
    /// An error of this kind, without a source.
    pub fn new(kind: StoreErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of this kind, caused by `source`.
    pub fn with_source(
        kind: StoreErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            StoreErrorKind::Unavailable => "revocation store unavailable",
            StoreErrorKind::Timeout => "revocation store timed out",
            StoreErrorKind::NotSynchronized => "revocation store not synchronized",
            StoreErrorKind::CapacityExceeded => "revocation store is full",
            StoreErrorKind::Protocol => "revocation store answered unexpectedly",
            StoreErrorKind::Misconfigured => "revocation store refuses the configuration",
            StoreErrorKind::NotReplicated => {
                "revocation store could not replicate the write in time"
            }
        })
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{MemoryStore, RevocationStore, TokenStatus};
    use crate::{NumericDate, RegisteredClaims};

    const SECOND: i64 = 1_800_000_000;

    fn registered(iat: Option<NumericDate>, iat_us: Option<NumericDate>) -> RegisteredClaims {
        RegisteredClaims {
            sub: Some("alice".into()),
            jti: Some("j".into()),
            iat,
            iat_us,
            ..RegisteredClaims::default()
        }
    }

    fn at_micros(micros: i64) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    }

    #[test]
    fn issued_at_is_iat_us_else_just_before_iats_second() {
        let precise = registered(
            Some(NumericDate::from_secs(SECOND)),
            Some(NumericDate::from_micros(SECOND * 1_000_000 + 5)),
        );
        assert_eq!(
            precise.token_ref().issued_at,
            Some(at_micros(SECOND * 1_000_000 + 5))
        );
        for iat in [
            NumericDate::from_secs(SECOND),
            NumericDate::from_micros(SECOND * 1_000_000 + 999_999),
        ] {
            assert_eq!(
                registered(Some(iat), None).token_ref().issued_at,
                Some(at_micros(SECOND * 1_000_000 - 1))
            );
        }
        assert_eq!(registered(None, None).token_ref().issued_at, None);
    }

    #[tokio::test]
    async fn a_cut_off_at_the_very_start_of_a_second_refuses_a_whole_second_token_of_it() {
        let store = MemoryStore::new();
        store
            .revoke_subject("alice", at_micros(SECOND * 1_000_000))
            .await
            .unwrap();
        let status = |claims: RegisteredClaims| match store.check(&claims.token_ref()) {
            super::Lookup::Ready(result) => result.unwrap(),
            _ => unreachable!("the memory store answers at once"),
        };
        let whole = registered(Some(NumericDate::from_secs(SECOND)), None);
        assert_eq!(status(whole), TokenStatus::Revoked);
        // The issuer's tokens say their microsecond: one issued right at
        // the cut-off is after it.
        let precise = registered(
            Some(NumericDate::from_secs(SECOND)),
            Some(NumericDate::from_micros(SECOND * 1_000_000)),
        );
        assert_eq!(status(precise), TokenStatus::Active);
    }
}
