//! The authentication pipeline: from a [`Credential`] to verified [`Claims`]
//! or an [`AuthError`], whatever the transport.
//!
//! An [`Authenticator`] owns every step a token goes through:
//!
//! 1. the length rule, before anything reads the token;
//! 2. the cache of verified tokens (a hit verified with keys since replaced
//!    is verified again);
//! 3. verification by the [`Validator`]: signature, header and claim rules;
//! 4. for a `kid` that a refreshing key source (a remote JWKS) does not know
//!    yet, one wait for that source's refresh and one more verification;
//! 5. the key binding: a DPoP-bound token (`cnf.jkt`) only with the DPoP
//!    scheme and a proof by its key, checked by the
//!    [`DpopVerifier`] (see [`crate::dpop`]),
//!    an unbound one only as a bearer token;
//! 6. the revocation check, in the [`RevocationStore`], then for a DPoP
//!    request the proof's single use, recorded in the same store;
//! 7. the outcome, recorded once: the debug event of a refusal, and with
//!    the `metrics` feature the counters and the latency histogram.
//!
//! The Tower layer ([`JwtLayer`](crate::JwtLayer)), the guards and
//! extractors behind it, the gRPC helpers and [`TokenWatch`](crate::watch::TokenWatch)
//! all go through it; no other code verifies a token or asks a store about
//! one. Call it yourself for any other transport, a message queue or a
//! Socket.IO handshake, say. [`JwtLayer::authenticator`](crate::JwtLayer::authenticator)
//! gives the layer's own, so that both share the cache, the keys and the store.
//!
//! ```
//! use jwt_guard::auth::{Authenticator, Credential};
//! use jwt_guard::store::MemoryStore;
//! use jwt_guard::{Algorithm, AuthErrorKind, SigningKey, StandardClaims, Validator, VerifyingKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"a-secret-of-at-least-thirty-two-bytes!";
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, secret)?)
//!     .issuer("https://auth.example")
//!     .build()?;
//! let store = MemoryStore::new();
//! let authenticator = Authenticator::<StandardClaims>::builder(validator)
//!     .store(store.clone())
//!     .build();
//!
//! # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! # let token = SigningKey::hmac(Algorithm::HS256, secret)?.sign("JWT", &serde_json::json!({
//! #     "sub": "alice", "iss": "https://auth.example", "exp": now + 300, "jti": "t-1",
//! # }))?;
//! // A token from anywhere: a header, a message, a Socket.IO `auth` payload.
//! let claims = authenticator.authenticate(Credential::bearer(&token)).await?;
//! assert_eq!(claims.sub, "alice");
//!
//! // Revoked, it is refused by every transport sharing the store.
//! authenticator.revoker().revoke_token(claims.registered()).await?;
//! let error = authenticator.authenticate(Credential::bearer(&token)).await.unwrap_err();
//! assert_eq!(error.kind(), AuthErrorKind::Revoked);
//! assert_eq!(error.error_code(), Some("invalid_token"));
//! # Ok(()) }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::claims::{NumericDate, StandardClaims};
use crate::dpop::{DpopVerifier, VerifiedProof};
use crate::error::{AuthError, AuthErrorKind};
use crate::observe::Timer;
use crate::rejection::Rejecter;
use crate::store::{
    BoxFuture, Lookup, MemoryStore, RevocationStore, Revoker, StoreError, TokenStatus,
};
use crate::verify::{Unverified, Validator, Verified};

mod authenticated;
mod cache;
mod credential;
mod revocation;

pub(crate) use authenticated::layer_claims_types;
pub use authenticated::{Anonymous, Claims};
pub use credential::{Credential, Scheme};
pub(crate) use credential::{TokenSources, cookie};
pub(crate) use revocation::RevocationCheck;

use cache::{DEFAULT_CACHE_BYTES, TokenCache};

/// The authentication pipeline. See the [module docs](self).
///
/// `T` is the claims type tokens are parsed into; it defaults to
/// [`StandardClaims`]. Cloning is cheap: the configuration is built once
/// and shared, cache included.
pub struct Authenticator<T = StandardClaims> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    validator: Validator,
    revocation: RevocationCheck,
    cache: Option<TokenCache<T>>,
    rejecter: Arc<Rejecter>,
    dpop: Option<DpopVerifier>,
}

impl<T> Clone for Authenticator<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Authenticator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("validator", &self.inner.validator)
            .field("revocation", &self.inner.revocation)
            .field("cache", &self.inner.cache.is_some())
            .field("rejecter", &self.inner.rejecter)
            .finish()
    }
}

/// Where an authentication stands once started: decided, or waiting for a
/// store round trip or a key refresh.
pub(crate) enum Progress<T> {
    /// `Ok(None)`: no credential, and optional authentication lets it pass.
    Ready(Result<Option<Claims<T>>, AuthError>),
    Pending(BoxFuture<'static, Result<Claims<T>, AuthError>>),
}

impl<T: DeserializeOwned + Send + Sync + 'static> Authenticator<T> {
    /// Starts configuring an authenticator that verifies with `validator`.
    pub fn builder(validator: Validator) -> AuthenticatorBuilder<T> {
        AuthenticatorBuilder {
            validator,
            store: None,
            fail_open: false,
            cache_bytes: DEFAULT_CACHE_BYTES,
            dpop: None,
            _claims: PhantomData,
        }
    }

    /// Authenticates `credential`: its verified claims, or why it is refused.
    ///
    /// Async because the revocation store may need a round trip and a key
    /// source a refresh; with an in-memory store (or a mirrored Redis store)
    /// and a cached token it completes at once, without allocating.
    ///
    /// # Errors
    ///
    /// The [`AuthError`] of the first rule the token breaks, `Revoked` for a
    /// revoked token, or `StoreUnavailable` when the store cannot tell
    /// (unless the authenticator is fail-open).
    pub async fn authenticate(&self, credential: Credential<'_>) -> Result<Claims<T>, AuthError> {
        match self.begin(Ok(Some(credential)), false, false) {
            Progress::Ready(result) => {
                result.and_then(|claims| claims.ok_or_else(AuthError::missing_token))
            }
            Progress::Pending(pending) => pending.await,
        }
    }

    /// As [`authenticate`](Self::authenticate) where a credential is
    /// optional: `Ok(None)` when there is none (recorded as anonymous), and
    /// a token that is there is checked all the same.
    ///
    /// # Errors
    ///
    /// As [`authenticate`](Self::authenticate), for a credential that is there.
    pub async fn authenticate_optional(
        &self,
        credential: Option<Credential<'_>>,
    ) -> Result<Option<Claims<T>>, AuthError> {
        match self.begin(Ok(credential), true, false) {
            Progress::Ready(result) => result,
            Progress::Pending(pending) => pending.await.map(Some),
        }
    }

    /// Starts authenticating what a transport found: a credential, none, or
    /// an error reading it (several `Authorization` headers, say), which is
    /// refused and recorded like any other refusal. With `dpop_required`, a
    /// token that is not DPoP-bound is refused.
    pub(crate) fn begin(
        &self,
        found: Result<Option<Credential<'_>>, AuthError>,
        optional: bool,
        dpop_required: bool,
    ) -> Progress<T> {
        let timer = Timer::start();
        let credential = match found {
            Ok(Some(credential)) => credential,
            Ok(None) if optional => {
                timer.anonymous();
                return Progress::Ready(Ok(None));
            }
            Ok(None) => {
                return Progress::Ready(
                    self.finish(timer, Err(AuthError::missing_token()))
                        .map(Some),
                );
            }
            Err(error) => return Progress::Ready(self.finish(timer, Err(error)).map(Some)),
        };
        let verified = match self.verify(credential.token()) {
            Ok(verified) => verified,
            Err(Unverified {
                refresh: Some(refresh),
                ..
            }) => {
                let this = self.clone();
                let credential = credential.into_owned();
                return Progress::Pending(Box::pin(async move {
                    refresh.await;
                    let result = this.verify_after_refresh(&credential, dpop_required).await;
                    this.finish(timer, result)
                }));
            }
            Err(Unverified { error, .. }) => {
                return Progress::Ready(self.finish(timer, Err(error)).map(Some));
            }
        };
        let proof = match self.check_binding(&credential, &verified, dpop_required) {
            Ok(proof) => proof,
            Err(error) => {
                let error = error.with_context(verified.error_context());
                return Progress::Ready(self.finish(timer, Err(error)).map(Some));
            }
        };
        match (
            self.inner
                .revocation
                .lookup(&verified.registered().token_ref()),
            proof,
        ) {
            (Lookup::Ready(status), None) => {
                Progress::Ready(self.finish(timer, self.accept(verified, status)).map(Some))
            }
            (Lookup::Ready(status), Some(proof)) => {
                let this = self.clone();
                Progress::Pending(Box::pin(async move {
                    let result = this.accept_proven(verified, status, &proof).await;
                    this.finish(timer, result)
                }))
            }
            (Lookup::Pending(lookup), proof) => {
                let this = self.clone();
                Progress::Pending(Box::pin(async move {
                    let status = lookup.await;
                    let result = match proof {
                        Some(proof) => this.accept_proven(verified, status, &proof).await,
                        None => this.accept(verified, status),
                    };
                    this.finish(timer, result)
                }))
            }
        }
    }

    /// Whether the token's key binding fits how it was presented: a bound
    /// token only with the DPoP scheme and a proof by its key, an unbound
    /// one only as a bearer token (and not where DPoP is required). The
    /// proof checked, its replay apart: `Some` when there is one.
    fn check_binding(
        &self,
        credential: &Credential<'_>,
        verified: &Verified<T>,
        dpop_required: bool,
    ) -> Result<Option<VerifiedProof>, AuthError> {
        let binding = |description| AuthError::new(AuthErrorKind::KeyBinding, description);
        let bound = verified.registered().dpop_jkt();
        let Some((proof, request)) = credential.proof() else {
            return match bound {
                Some(_) => Err(binding(
                    "the token is DPoP-bound: present it with the DPoP scheme and a proof",
                )),
                None if dpop_required => Err(binding("this resource requires a DPoP-bound token")),
                None => Ok(None),
            };
        };
        let Some(verifier) = &self.inner.dpop else {
            return Err(binding("DPoP-bound tokens are not accepted here"));
        };
        let Some(bound) = bound else {
            return Err(binding(
                "the token is not DPoP-bound: present it as a bearer token",
            ));
        };
        let request = request.clone().access_token(credential.token());
        let proof = verifier.verify(proof, &request)?;
        if proof.jkt() != bound {
            return Err(AuthError::new(
                AuthErrorKind::InvalidDpopProof,
                "the DPoP proof is signed by another key than the token's",
            ));
        }
        Ok(Some(proof))
    }

    /// As [`accept`](Self::accept), for a token proven with `proof`: once
    /// the token passes, the proof's use is recorded, and a replay refused.
    async fn accept_proven(
        &self,
        verified: Arc<Verified<T>>,
        status: Result<TokenStatus, StoreError>,
        proof: &VerifiedProof,
    ) -> Result<Claims<T>, AuthError> {
        let context = verified.error_context();
        let claims = self.accept(verified, status)?;
        let verifier = self.inner.dpop.as_ref().expect("a proof was checked");
        verifier
            .record_use(proof, &**self.store())
            .await
            .map_err(|error| error.with_context(context))?;
        Ok(claims)
    }

    /// The length rule, the cache, then the validator.
    fn verify(&self, token: &str) -> Result<Arc<Verified<T>>, Unverified> {
        let Inner {
            validator, cache, ..
        } = &*self.inner;
        // Length first: nothing, not even the cache's hash, reads an oversized token.
        validator.check_length(token)?;
        let Some(cache) = cache else {
            return Ok(Arc::new(validator.validate_or_refresh(token)?));
        };
        // A hit verified with keys since replaced is verified again: the
        // key that signed it may have been withdrawn.
        if let Some(hit) = cache.get(token).filter(|hit| validator.is_current(hit)) {
            return match validator.check_time(hit.registered(), NumericDate::now()) {
                Ok(()) => Ok(hit),
                Err(error) => {
                    cache.remove(token);
                    Err(error.with_context(hit.error_context()).into())
                }
            };
        }
        let verified = Arc::new(validator.validate_or_refresh(token)?);
        cache.insert(token, verified.clone());
        Ok(verified)
    }

    /// Once the key source's refresh is over: the token verified once more
    /// (a `kid` still unknown now is refused), then its binding and the
    /// revocation check.
    async fn verify_after_refresh(
        &self,
        credential: &Credential<'_>,
        dpop_required: bool,
    ) -> Result<Claims<T>, AuthError> {
        let token = credential.token();
        let verified = Arc::new(self.inner.validator.validate::<T>(token)?);
        if let Some(cache) = &self.inner.cache {
            cache.insert(token, verified.clone());
        }
        let proof = self
            .check_binding(credential, &verified, dpop_required)
            .map_err(|error| error.with_context(verified.error_context()))?;
        let status = self
            .inner
            .revocation
            .status(&verified.registered().token_ref())
            .await;
        match proof {
            Some(proof) => self.accept_proven(verified, status, &proof).await,
            None => self.accept(verified, status),
        }
    }
}

impl<T> Authenticator<T> {
    /// The claims of a verified token, once the store's answer lets it pass.
    fn accept(
        &self,
        verified: Arc<Verified<T>>,
        status: Result<TokenStatus, StoreError>,
    ) -> Result<Claims<T>, AuthError> {
        match self.inner.revocation.decide(status) {
            Ok(()) => Ok(Claims::new(verified, self.inner.rejecter.clone())),
            Err(error) => Err(error.with_context(verified.error_context())),
        }
    }

    /// Checks again what may have changed since `claims` were verified (by
    /// this pipeline or another, an outer layer's say): the time rules and
    /// revocation, recorded as a decision on a credential.
    #[cfg_attr(not(feature = "socketio"), allow(dead_code))]
    pub(crate) async fn recheck(&self, claims: Claims<T>) -> Result<Claims<T>, AuthError> {
        let timer = Timer::start();
        let registered = claims.registered();
        let result = match self
            .inner
            .validator
            .check_time(registered, NumericDate::now())
        {
            Err(error) => Err(error.with_context(claims.verified().error_context())),
            Ok(()) => {
                let status = self.inner.revocation.status(&registered.token_ref()).await;
                match self.inner.revocation.decide(status) {
                    Ok(()) => Ok(claims),
                    Err(error) => Err(error.with_context(claims.verified().error_context())),
                }
            }
        };
        self.finish(timer, result)
    }

    /// Records the outcome: the one place every decision on a credential
    /// passes through.
    fn finish(
        &self,
        timer: Timer,
        result: Result<Claims<T>, AuthError>,
    ) -> Result<Claims<T>, AuthError> {
        match &result {
            Ok(_) => timer.accepted(),
            Err(error) => timer.refused(error),
        }
        result
    }

    /// The validator tokens are verified with.
    pub fn validator(&self) -> &Validator {
        &self.inner.validator
    }

    /// The revocation store tokens are checked in, to revoke through.
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        self.inner.revocation.store()
    }

    /// A handle to revoke tokens in the store, with expiries that cover the
    /// validator's leeway.
    pub fn revoker(&self) -> Revoker {
        Revoker::new(self.store().clone(), self.inner.validator.leeway())
    }

    /// How refusals of this pipeline's requests are rendered.
    pub(crate) fn rejecter(&self) -> &Arc<Rejecter> {
        &self.inner.rejecter
    }
}

/// Configures an [`Authenticator`].
#[must_use]
pub struct AuthenticatorBuilder<T> {
    validator: Validator,
    store: Option<Arc<dyn RevocationStore>>,
    fail_open: bool,
    cache_bytes: usize,
    dpop: Option<DpopVerifier>,
    _claims: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for AuthenticatorBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("validator", &self.validator)
            .field("store", &self.store.is_some())
            .field("fail_open", &self.fail_open)
            .field("cache_bytes", &self.cache_bytes)
            .field("dpop", &self.dpop)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> AuthenticatorBuilder<T> {
    /// The revocation store to consult after a token verifies (default: a
    /// new [`MemoryStore`], reachable through [`Authenticator::store`]).
    ///
    /// Each authenticator built without a store gets its own: those that
    /// must agree on revocations need the same store, given here or with
    /// [`shared_store`](Self::shared_store).
    pub fn store(mut self, store: impl RevocationStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// As [`store`](Self::store), for a store already shared behind an `Arc`.
    pub fn shared_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// When the revocation store cannot answer, let verified tokens through
    /// (logged at warn) instead of refusing them with `StoreUnavailable`
    /// (503). Off by default: fail-closed.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// The memory budget of the cache of verified tokens, in bytes (default
    /// 16 MiB; 0 turns the cache off). A cache hit skips the signature and
    /// the parse, but the time claims and revocation are checked on every
    /// request all the same.
    pub fn token_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Accepts DPoP-bound tokens (RFC 9449) presented with
    /// [`Credential::dpop`], their proofs checked by `verifier` and each
    /// proof's use recorded in the store (one write per request). Without
    /// it a DPoP credential is refused. Either way a DPoP-bound token
    /// presented as a bearer token is refused
    /// ([`KeyBinding`](crate::AuthErrorKind::KeyBinding)).
    pub fn dpop(mut self, verifier: DpopVerifier) -> Self {
        self.dpop = Some(verifier);
        self
    }

    /// Builds the authenticator.
    pub fn build(self) -> Authenticator<T> {
        self.build_with(Rejecter::default_shared())
    }

    /// Builds the authenticator whose claims render refusals with `rejecter`.
    pub(crate) fn build_with(self, rejecter: Arc<Rejecter>) -> Authenticator<T> {
        layer_claims_types::register::<T>();
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        if self.fail_open {
            tracing::warn!(
                "jwt-guard is fail-open: tokens pass when the revocation store cannot answer"
            );
        }
        Authenticator {
            inner: Arc::new(Inner {
                validator: self.validator,
                revocation: RevocationCheck::new(store, self.fail_open),
                cache: (self.cache_bytes > 0).then(|| TokenCache::new(self.cache_bytes)),
                rejecter,
                dpop: self.dpop,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::error::AuthErrorKind;
    use crate::keys::{Algorithm, SigningKey, VerifyingKey};
    use crate::store::{StoreErrorKind, TokenRef};

    const SECRET: &[u8] = b"a-secret-of-at-least-thirty-two-bytes!";

    fn validator() -> Validator {
        Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap()
    }

    fn token(jti: &str) -> String {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .sign(
                "JWT",
                &serde_json::json!({"sub": "alice", "jti": jti, "iat": now, "exp": now + 300}),
            )
            .unwrap()
    }

    /// A store that answers after a round trip, as Redis in direct mode
    /// does, with a fixed answer; counts its lookups.
    struct RoundTrip {
        answer: fn() -> Result<TokenStatus, StoreError>,
        lookups: Arc<AtomicUsize>,
    }

    impl RevocationStore for RoundTrip {
        fn check(&self, _: &TokenRef<'_>) -> Lookup {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer;
            Lookup::Pending(Box::pin(async move {
                tokio::task::yield_now().await;
                answer()
            }))
        }

        fn revoke_token<'a>(
            &'a self,
            _: &'a str,
            _: Option<&'a str>,
            _: SystemTime,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }

        fn revoke_subject<'a>(
            &'a self,
            _: &'a str,
            _: SystemTime,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn round_trip(
        answer: fn() -> Result<TokenStatus, StoreError>,
        fail_open: bool,
    ) -> (Authenticator<StandardClaims>, Arc<AtomicUsize>) {
        let lookups = Arc::new(AtomicUsize::new(0));
        let authenticator = Authenticator::builder(validator())
            .store(RoundTrip {
                answer,
                lookups: lookups.clone(),
            })
            .fail_open(fail_open)
            .build();
        (authenticator, lookups)
    }

    #[tokio::test]
    async fn a_valid_token_is_accepted_and_a_revoked_one_refused() {
        let authenticator = Authenticator::<StandardClaims>::builder(validator()).build();
        let token = token("t-1");
        let claims = authenticator
            .authenticate(Credential::bearer(&token))
            .await
            .unwrap();
        assert_eq!(claims.sub, "alice");
        authenticator
            .revoker()
            .revoke_token(claims.registered())
            .await
            .unwrap();
        // A cache hit: revocation is still checked.
        let error = authenticator
            .authenticate(Credential::bearer(&token))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Revoked);
    }

    #[tokio::test]
    async fn no_credential_is_anonymous_when_optional_and_missing_otherwise() {
        let authenticator = Authenticator::<StandardClaims>::builder(validator()).build();
        assert!(
            authenticator
                .authenticate_optional(None)
                .await
                .unwrap()
                .is_none()
        );
        let Progress::Ready(Err(error)) = authenticator.begin(Ok(None), false, false) else {
            panic!("a missing credential was not refused at once");
        };
        assert_eq!(error.kind(), AuthErrorKind::MissingToken);
        // A token that is there is checked, optional or not.
        let error = authenticator
            .authenticate_optional(Some(Credential::bearer("not.a.token")))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Malformed);
    }

    #[tokio::test]
    async fn an_oversized_token_is_refused_before_the_store_is_asked() {
        let (authenticator, lookups) = round_trip(|| Ok(TokenStatus::Active), false);
        let long = "a".repeat(9 * 1024);
        let error = authenticator
            .authenticate(Credential::bearer(long))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::TooLong);
        let forged = format!("{}x", token("t-2"));
        let error = authenticator
            .authenticate(Credential::bearer(forged))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidSignature);
        assert_eq!(lookups.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_store_round_trip_is_awaited_and_its_answer_decides() {
        let (active, lookups) = round_trip(|| Ok(TokenStatus::Active), false);
        let token = token("t-3");
        assert!(matches!(
            active.begin(Ok(Some(Credential::bearer(&token))), false, false),
            Progress::Pending(_)
        ));
        assert!(
            active
                .authenticate(Credential::bearer(&token))
                .await
                .is_ok()
        );
        assert_eq!(lookups.load(Ordering::SeqCst), 2);

        let (revoked, _) = round_trip(|| Ok(TokenStatus::Revoked), false);
        let error = revoked
            .authenticate(Credential::bearer(&token))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Revoked);
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_refuses_unless_fail_open() {
        let down = || Err(StoreError::new(StoreErrorKind::Unavailable));
        let token = token("t-4");
        let (closed, _) = round_trip(down, false);
        let error = closed
            .authenticate(Credential::bearer(&token))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::StoreUnavailable);
        let (open, _) = round_trip(down, true);
        assert!(open.authenticate(Credential::bearer(&token)).await.is_ok());
        // A store refusing its configuration is not an outage: never open.
        let misconfigured = || Err(StoreError::new(StoreErrorKind::Misconfigured));
        let (open, _) = round_trip(misconfigured, true);
        let error = open
            .authenticate(Credential::bearer(&token))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::StoreUnavailable);
    }

    #[tokio::test]
    async fn an_expired_cached_token_is_refused_and_leaves_the_cache() {
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .leeway(Duration::ZERO)
            .build()
            .unwrap();
        let authenticator = Authenticator::<StandardClaims>::builder(validator).build();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let token = SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .sign(
                "JWT",
                &serde_json::json!({"sub": "alice", "jti": "t-5", "exp": now + 1.0}),
            )
            .unwrap();
        assert!(
            authenticator
                .authenticate(Credential::bearer(&token))
                .await
                .is_ok()
        );
        let cache = authenticator.inner.cache.as_ref().unwrap();
        assert!(cache.get(&token).is_some());
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let error = authenticator
            .authenticate(Credential::bearer(&token))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Expired);
        assert!(cache.get(&token).is_none());
    }
}
