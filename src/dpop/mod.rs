//! DPoP (RFC 9449): access tokens bound to a key the client holds.
//!
//! A bearer token works for whoever holds it: copied from a log, a proxy or
//! a browser store, it can be replayed from anywhere until it expires or is
//! revoked. A DPoP-bound token carries the thumbprint of the client's
//! public key (`cnf.jkt`), and every request sends, beside it, a fresh
//! *proof*: a JWT signed with that key, naming the request's method (`htm`)
//! and URI (`htu`), when it was made (`iat`), a unique id (`jti`) and the
//! hash of the access token (`ath`). A stolen token is useless without the
//! key, and a stolen proof is good for one request, once.
//!
//! [`DpopVerifier`] checks a proof against the request it came with: every
//! rule of RFC 9449 §4.3, replay apart (a proof's `jti` may be used once
//! within its window, which takes a store shared by every instance):
//!
//! - `typ` is `dpop+jwt`, `alg` an allowed asymmetric algorithm (`Ed25519`,
//!   RFC 9864's name, is read as `EdDSA` on an Ed25519 key);
//! - the `jwk` header is a public key only, of that algorithm, and the
//!   signature verifies with it;
//! - `htm` is the request's method, `htu` its URI (compared in RFC 3986's
//!   normal form, without query or fragment);
//! - `iat` is at most [`max_age`](DpopVerifierBuilder::max_age) old and at
//!   most [`leeway`](DpopVerifierBuilder::leeway) ahead;
//! - with an access token, `ath` is its SHA-256;
//! - with [`nonces`](DpopVerifierBuilder::nonces), `nonce` is a server
//!   nonce still within its lifetime ([`DpopNonces`]; else
//!   `use_dpop_nonce`).
//!
//! [`verify_once`](DpopVerifier::verify_once) adds the replay check: the
//! proof's use is recorded in the [`RevocationStore`] (in memory, or in
//! Redis for every instance at once: one round trip per proof), and a proof
//! used before is refused.
//!
//! The pipeline then compares the proof's key thumbprint (RFC 7638) with
//! the token's `cnf.jkt`. Every problem of the proof is
//! [`AuthErrorKind::InvalidDpopProof`] (`invalid_dpop_proof`, answered
//! with a `WWW-Authenticate: DPoP` challenge); a store that cannot record
//! its use is `StoreUnavailable` (503). No refusal repeats the proof or
//! the token.
//!
//! ```
//! use jwt_guard::dpop::{DpopVerifier, ProofRequest};
//! use jwt_guard::AuthErrorKind;
//!
//! let verifier = DpopVerifier::default();
//! let request = ProofRequest::new("GET", "https://api.example/v1/me?page=2")?
//!     .access_token("eyJ…");
//! assert_eq!(request.target(), "https://api.example/v1/me");
//! // An unsigned proof (`alg: none`) is refused like any other bad proof.
//! let error = verifier
//!     .verify("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.", &request)
//!     .unwrap_err();
//! assert_eq!(error.kind(), AuthErrorKind::InvalidDpopProof);
//! assert_eq!(error.error_code(), Some("invalid_dpop_proof"));
//! # Ok::<(), jwt_guard::AuthError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::claims::NumericDate;
use crate::crypto::sha256_b64url;
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
use crate::keys::{Algorithm, KeyFamily};
use crate::store::{ProofUse, RevocationStore};

mod htu;
mod nonce;
mod origin;
mod proof;

pub use nonce::{DEFAULT_NONCE_LIFETIME, DpopNonces};

pub(crate) use origin::OriginRule;
pub use origin::ProxyNetwork;

/// The asymmetric algorithms a proof may be signed with unless configured.
pub const DEFAULT_ALGORITHMS: [Algorithm; 10] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// How old a proof may be unless configured.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);

/// How far ahead of this server's clock a proof's `iat` may be unless
/// configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// Checks DPoP proofs. See the [module docs](self).
#[derive(Clone)]
pub struct DpopVerifier {
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    leeway: Duration,
    nonces: Option<DpopNonces>,
}

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("nonces", &self.nonces)
            .finish()
    }
}

impl Default for DpopVerifier {
    /// [`DEFAULT_ALGORITHMS`], [`DEFAULT_MAX_AGE`] and [`DEFAULT_LEEWAY`].
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: DEFAULT_MAX_AGE,
            leeway: DEFAULT_LEEWAY,
            nonces: None,
        }
    }
}

impl DpopVerifier {
    /// Starts configuring a verifier.
    pub fn builder() -> DpopVerifierBuilder {
        DpopVerifierBuilder {
            verifier: Self::default(),
        }
    }

    /// Checks `proof`, the value of the request's one `DPoP` header,
    /// against `request`: its verified content, or why it is refused.
    ///
    /// Not checked here: whether the proof was used before (its
    /// [`jti`](VerifiedProof::jti) within [`replay_window`](Self::replay_window)),
    /// and whether [`jkt`](VerifiedProof::jkt) is the access token's
    /// `cnf.jkt`.
    ///
    /// # Errors
    ///
    /// [`AuthErrorKind::InvalidDpopProof`], for the first rule the proof
    /// breaks.
    pub fn verify(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
    ) -> Result<VerifiedProof, AuthError> {
        self.check(proof, request, NumericDate::now())
    }

    /// As [`verify`](Self::verify), then records the proof's use in
    /// `store` for its [`replay_window`](Self::replay_window): a proof used
    /// before, on this instance or any other sharing the store, is refused.
    ///
    /// # Errors
    ///
    /// [`AuthErrorKind::InvalidDpopProof`] for a bad or replayed proof;
    /// [`AuthErrorKind::StoreUnavailable`] (503) when the store cannot
    /// record it: a proof is never accepted unrecorded.
    pub async fn verify_once(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        store: &dyn RevocationStore,
    ) -> Result<VerifiedProof, AuthError> {
        let verified = self.verify(proof, request)?;
        self.record_use(&verified, store).await?;
        Ok(verified)
    }

    /// Records `proof`'s use in `store`, refusing a replay.
    pub(crate) async fn record_use(
        &self,
        proof: &VerifiedProof,
        store: &dyn RevocationStore,
    ) -> Result<(), AuthError> {
        // Keyed by the proof's key and jti: a jti is the client's choice,
        // and one client cannot spend another's.
        let id = sha256_b64url(format!("{}.{}", proof.jkt, proof.jti).as_bytes())
            .map_err(|_| replay_unknown())?;
        let until = proof.iat.to_system_time() + self.replay_window();
        match store.use_proof(&id, until).await {
            Ok(ProofUse::First) => Ok(()),
            Ok(_) => Err(AuthError::new(
                AuthErrorKind::InvalidDpopProof,
                "the DPoP proof was used before",
            )),
            Err(error) => {
                tracing::trace!(%error, "the DPoP replay cache failed");
                Err(replay_unknown())
            }
        }
    }

    /// The algorithms a proof may be signed with.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The `algs` of a `WWW-Authenticate: DPoP` challenge: the allowed
    /// algorithms' names, space-separated, with `Ed25519` (RFC 9864's
    /// name, which proofs may also carry) beside `EdDSA`.
    pub(crate) fn challenge_algs(&self) -> String {
        let mut names: Vec<&str> = self.algorithms.iter().map(|alg| alg.as_str()).collect();
        if self.algorithms.contains(&Algorithm::EdDSA) {
            names.push("Ed25519");
        }
        names.join(" ")
    }

    /// The nonces proofs must carry, if the verifier requires them.
    pub fn nonces(&self) -> Option<&DpopNonces> {
        self.nonces.as_ref()
    }

    /// How long a proof's `jti` must be remembered to refuse it again:
    /// until no clock could accept the proof any more.
    pub fn replay_window(&self) -> Duration {
        self.max_age + self.leeway
    }
}

fn replay_unknown() -> AuthError {
    AuthError::new(
        AuthErrorKind::StoreUnavailable,
        "whether the DPoP proof was used before is unknown; retry later",
    )
}

/// Configures a [`DpopVerifier`].
#[derive(Debug)]
#[must_use]
pub struct DpopVerifierBuilder {
    verifier: DpopVerifier,
}

impl DpopVerifierBuilder {
    /// The algorithms a proof may be signed with (default:
    /// [`DEFAULT_ALGORITHMS`]); asymmetric ones only.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut allowed = Vec::new();
        for alg in algorithms {
            if !allowed.contains(&alg) {
                allowed.push(alg);
            }
        }
        self.verifier.algorithms = allowed;
        self
    }

    /// How old a proof may be (default [`DEFAULT_MAX_AGE`], at most ten
    /// minutes). The longer, the more proofs the replay cache holds.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.verifier.max_age = max_age;
        self
    }

    /// How far ahead of this server's clock a proof's `iat` may be
    /// (default [`DEFAULT_LEEWAY`], at most a minute).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.verifier.leeway = leeway;
        self
    }

    /// Requires a server nonce in every proof (RFC 9449 §9): one of
    /// `nonces`, still within its lifetime. A proof without one is
    /// refused with [`AuthErrorKind::UseDpopNonce`]; the layer's answer
    /// carries a fresh nonce in its `DPoP-Nonce` header.
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.verifier.nonces = Some(nonces);
        self
    }

    /// Builds the verifier.
    ///
    /// # Errors
    ///
    /// `InvalidSetting` for no algorithm, an HMAC algorithm (a proof is
    /// signed with the client's private key: a shared secret proves
    /// nothing), a zero or over-long `max_age`, or a leeway over a minute.
    pub fn build(self) -> Result<DpopVerifier, ConfigError> {
        let verifier = self.verifier;
        let setting =
            |message: &'static str| ConfigError::new(ConfigErrorKind::InvalidSetting, message);
        if verifier.algorithms.is_empty() {
            return Err(setting("DPoP proofs need at least one algorithm"));
        }
        if verifier
            .algorithms
            .iter()
            .any(|alg| alg.family() == KeyFamily::Hmac)
        {
            return Err(setting(
                "DPoP proofs are signed with asymmetric keys: HMAC algorithms cannot be allowed",
            ));
        }
        if verifier.max_age.is_zero() || verifier.max_age > Duration::from_secs(600) {
            return Err(setting(
                "the DPoP proof max_age must be above zero and at most ten minutes",
            ));
        }
        if verifier.leeway > Duration::from_secs(60) {
            return Err(setting("the DPoP proof leeway must be at most a minute"));
        }
        Ok(verifier)
    }
}

/// The request a proof is checked against: its method, its target URI in
/// normal form, and the access token presented with it, if any.
#[derive(Clone, PartialEq, Eq)]
pub struct ProofRequest<'a> {
    method: Cow<'a, str>,
    target: String,
    access_token: Option<&'a str>,
}

impl fmt::Debug for ProofRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("access_token", &self.access_token.is_some())
            .finish()
    }
}

/// The address the request came from, as the server recorded it: axum's
/// `ConnectInfo` (served with `into_make_service_with_connect_info`).
fn peer(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    #[cfg(feature = "axum")]
    {
        extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = extensions;
        None
    }
}

fn bad_target() -> AuthError {
    AuthError::new(
        AuthErrorKind::InvalidRequest,
        "the request's URI is not an http(s) URI a DPoP proof can name",
    )
}

impl<'a> ProofRequest<'a> {
    /// A request for `method` on the absolute `uri` (its query and fragment
    /// are not part of what a proof names).
    ///
    /// # Errors
    ///
    /// `InvalidRequest` when `uri` is not an absolute `http` or `https` URI.
    pub fn new(method: impl Into<Cow<'a, str>>, uri: &str) -> Result<Self, AuthError> {
        Ok(Self {
            method: method.into(),
            target: htu::normalize(uri).ok_or_else(bad_target)?,
            access_token: None,
        })
    }

    /// A request for `method` from the parts of its URI: `scheme` (`http`
    /// or `https`), `authority` (the `Host` header, or `:authority` on
    /// HTTP/2) and `path` as received.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn from_parts(
        method: impl Into<Cow<'a, str>>,
        scheme: &str,
        authority: &str,
        path: &str,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            method: method.into(),
            target: htu::target(scheme, authority, path).ok_or_else(bad_target)?,
            access_token: None,
        })
    }

    /// The request a proof sent with these request parts must name, read
    /// as the layer reads it: the scheme of an absolute URI, else `http`;
    /// the `:authority` of HTTP/2, else the `Host` header; the path as
    /// received (before an axum `nest` stripped it). For a token endpoint,
    /// where a handler checks the proof itself; behind a proxy that ends
    /// TLS, name the public origin with [`from_parts`](Self::from_parts).
    ///
    /// ```
    /// use jwt_guard::dpop::ProofRequest;
    ///
    /// let (parts, ()) = http::Request::post("/auth/refresh?x=1")
    ///     .header("host", "api.example:8080")
    ///     .body(())
    ///     .unwrap()
    ///     .into_parts();
    /// let request = ProofRequest::from_request_parts(&parts)?;
    /// assert_eq!(request.method(), "POST");
    /// assert_eq!(request.target(), "http://api.example:8080/auth/refresh");
    /// # Ok::<(), jwt_guard::AuthError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidRequest` when the request names no host, or not one a URI
    /// can hold.
    pub fn from_request_parts(parts: &'a http::request::Parts) -> Result<Self, AuthError> {
        Self::of_request(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &parts.extensions,
            &OriginRule::default(),
        )
    }

    /// The request a proof must name: its method, and its URI as `rule`
    /// reads it (a public origin, or what a trusted proxy forwarded), else
    /// as [`from_request_parts`](Self::from_request_parts) says.
    pub(crate) fn of_request(
        method: &'a http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
        rule: &OriginRule,
    ) -> Result<Self, AuthError> {
        #[cfg(feature = "axum")]
        let path = extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(uri.path(), |original| original.0.path());
        #[cfg(not(feature = "axum"))]
        let path = uri.path();
        let (scheme, authority) = rule.forwarded(headers, peer(extensions))?;
        let authority = match authority.or_else(|| uri.authority().map(|a| a.as_str())) {
            Some(authority) => authority,
            None => headers
                .get(http::header::HOST)
                .and_then(|host| host.to_str().ok())
                .ok_or_else(|| {
                    AuthError::new(
                        AuthErrorKind::InvalidRequest,
                        "the request names no host a DPoP proof could name",
                    )
                })?,
        };
        let scheme = scheme.or_else(|| uri.scheme_str()).unwrap_or("http");
        Self::from_parts(method.as_str(), scheme, authority, path)
    }

    /// The access token presented with the proof: its `ath` must then be
    /// the token's SHA-256.
    pub fn access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// The request's method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The same request, owning its method, without an access token.
    pub(crate) fn into_owned(self) -> ProofRequest<'static> {
        ProofRequest {
            method: Cow::Owned(self.method.into_owned()),
            target: self.target,
            access_token: None,
        }
    }

    /// The request's target URI in normal form, as a proof's `htu` must
    /// name it once normalized.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// A proof that passed [`DpopVerifier::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    jkt: String,
    jti: String,
    iat: NumericDate,
    nonce: Option<String>,
}

impl VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key (SHA-256, base64url): a
    /// bound token's `cnf.jkt` must equal it.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's unique id, to be accepted once.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// When the proof was made.
    pub fn issued_at(&self) -> NumericDate {
        self.iat
    }

    /// The server-provided nonce the proof carries, if any.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
}
