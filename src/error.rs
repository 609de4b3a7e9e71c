//! Errors: why a request was refused ([`AuthError`]), and why a configuration
//! was refused ([`ConfigError`]).
//!
//! An [`AuthError`] is a value: each transport renders it at its edge. HTTP
//! gets an RFC 6750 response ([`AuthError::to_http_response`]): a status, a
//! `WWW-Authenticate` challenge and a JSON body
//! `{"error": "...", "error_description": "..."}`. gRPC requests get HTTP 200
//! with a `grpc-status` instead, and tonic handlers a `tonic::Status`.
//! Neither the body, the headers nor the `Display` text ever contain the
//! token, its signature or a key.
//!
//! | [`AuthErrorKind`] | status | `error` | gRPC |
//! |---|---|---|---|
//! | `MissingToken` | 401 | none (only `realm`) | 16 UNAUTHENTICATED |
//! | `InvalidRequest` | 400 | `invalid_request` | 16 UNAUTHENTICATED |
//! | token refused (`Malformed` … `Revoked`) | 401 | `invalid_token` | 16 UNAUTHENTICATED |
//! | `InsufficientScope` | 403 | `insufficient_scope`, with `scope` | 7 PERMISSION_DENIED |
//! | `StoreUnavailable` | 503 + `Retry-After` | `temporarily_unavailable` | 14 UNAVAILABLE |
//! | `KeysUnavailable` | 503 + `Retry-After` | `temporarily_unavailable` | 14 UNAVAILABLE |
//! | `MissingLayer` | 500 | `server_error` | 13 INTERNAL |
//! | `KeyBinding` (a bound token as bearer, …) | 401 | `invalid_token` | 16 UNAUTHENTICATED |
//! | `InvalidDpopProof` | 401, `WWW-Authenticate: DPoP` | `invalid_dpop_proof` | 16 UNAUTHENTICATED |
//! | `UseDpopNonce` | 401, `WWW-Authenticate: DPoP`, `DPoP-Nonce` | `use_dpop_nonce` | 16 UNAUTHENTICATED |

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

/// Why a request was refused.
///
/// Opaque: read it through [`kind`](Self::kind), [`status`](Self::status) and
/// [`description`](Self::description). The layer inserts it into the
/// rejection's response extensions, so outer layers can see why.
#[derive(Debug, Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    description: Cow<'static, str>,
    scope: Option<Box<str>>,
    context: Option<Box<ErrorContext>>,
}

/// What is known about the refused token, for logs only (never for responses).
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorContext {
    pub(crate) kid: Option<String>,
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
}

/// The kinds of [`AuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No token in the request (and authentication is required).
    MissingToken,
    /// The request itself is malformed: several `Authorization` headers, an
    /// empty token, or a header that is not valid text.
    InvalidRequest,
    /// The token is not a well-formed compact JWS/JWT (bad base64url, not
    /// JSON objects, duplicate members, wrong segment count).
    Malformed,
    /// The token is longer than the configured maximum.
    TooLong,
    /// The `alg` header is `none`, unknown, or not supported.
    UnsupportedAlgorithm,
    /// The `kid` names no configured key, or no key fits a token without `kid`.
    UnknownKey,
    /// The token has no `kid` and several keys could verify it.
    AmbiguousKey,
    /// The `alg` header differs from the algorithm of the key it selects.
    AlgorithmMismatch,
    /// The signature does not verify.
    InvalidSignature,
    /// The `crit` header names an extension this validator does not understand.
    UnsupportedCritical,
    /// The `typ` header is not the required one.
    InvalidType,
    /// A required claim is missing.
    MissingClaim,
    /// A claim has the wrong type or an absurd value.
    InvalidClaim,
    /// The claims do not deserialize into the application's claims type.
    InvalidClaims,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not an accepted issuer.
    InvalidIssuer,
    /// `aud` names no accepted audience.
    InvalidAudience,
    /// The token was revoked.
    Revoked,
    /// The token is valid but lacks a required role or permission.
    InsufficientScope,
    /// The revocation store could not say whether the token is revoked.
    StoreUnavailable,
    /// The key set comes from an identity provider, and none has been
    /// fetched yet (the provider is down at start, or its discovery fails):
    /// nothing can be verified until it is.
    KeysUnavailable,
    /// A handler asked for claims, but no layer put them in the request: the
    /// server is misconfigured.
    MissingLayer,
    /// The token's key binding does not fit how it was presented: a
    /// DPoP-bound token (`cnf.jkt`) sent as a bearer token (RFC 9449
    /// §7.2), a token without a binding sent with the DPoP scheme, or a
    /// bearer token where DPoP is required.
    KeyBinding,
    /// The DPoP proof (RFC 9449) is missing where one is required, or
    /// breaks one of its rules: its type, algorithm, key, signature, method,
    /// URI, age, access-token hash or key binding, or it was used before.
    InvalidDpopProof,
    /// The DPoP proof carries no nonce, or not a current one, where the
    /// server requires its nonces (RFC 9449 §9): the client makes it again
    /// with the nonce of the answer's `DPoP-Nonce` header.
    UseDpopNonce,
}

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            description: description.into(),
            scope: None,
            context: None,
        }
    }

    pub(crate) fn missing_token() -> Self {
        Self::new(
            AuthErrorKind::MissingToken,
            "no bearer token in the request",
        )
    }

    pub(crate) fn insufficient_scope(scope: impl Into<Box<str>>) -> Self {
        let mut error = Self::new(
            AuthErrorKind::InsufficientScope,
            "the token lacks a required role or permission",
        );
        error.scope = Some(scope.into());
        error
    }

    pub(crate) fn missing_layer(type_name: &'static str) -> Self {
        Self::new(
            AuthErrorKind::MissingLayer,
            format!(
                "no verified claims of type `{type_name}` in the request extensions: \
                 add `JwtLayer<{type_name}>` to this route (Router::layer or route_layer), \
                 with the same claims type as the extractor"
            ),
        )
    }

    #[cfg(feature = "socketio")]
    pub(crate) fn missing_socket_auth(type_name: &'static str) -> Self {
        Self::new(
            AuthErrorKind::MissingLayer,
            format!(
                "a Socket.IO handler asks for claims of type `{type_name}`, but no \
                 `SocketAuth<{type_name}>` let its socket in: add it to the namespace's \
                 connect handler (`io.ns(path, handler.with(socket_auth))`), with the same \
                 claims type as the extractor"
            ),
        )
    }

    pub(crate) fn claims_type_mismatch(layers: &[&'static str], asked: &'static str) -> Self {
        let layer = layers[0];
        let verified = layers
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Self::new(
            AuthErrorKind::MissingLayer,
            format!(
                "an extractor or guard asks for claims of type `{asked}`, but the \
                 JwtLayers of this service verify claims of type {verified}: give it the \
                 layer's type (e.g. `Claims<{layer}>`, `RequireRole<Role, {layer}>`, \
                 `RequireLayer::<{layer}>`)"
            ),
        )
    }

    pub(crate) fn with_context(mut self, context: ErrorContext) -> Self {
        self.context = Some(Box::new(context));
        self
    }

    pub(crate) fn context(&self) -> Option<&ErrorContext> {
        self.context.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// A short, fixed description, safe to show to the client.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// For [`AuthErrorKind::InsufficientScope`]: the roles or permissions
    /// required, space-separated.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The HTTP status of the default response.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            AuthErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            AuthErrorKind::InsufficientScope => StatusCode::FORBIDDEN,
            AuthErrorKind::StoreUnavailable | AuthErrorKind::KeysUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AuthErrorKind::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The OAuth error code (RFC 6750 §3.1), or `None` when the request
    /// carried no token at all.
    pub fn error_code(&self) -> Option<&'static str> {
        Some(match self.kind {
            AuthErrorKind::MissingToken => return None,
            AuthErrorKind::InvalidRequest => "invalid_request",
            AuthErrorKind::InsufficientScope => "insufficient_scope",
            AuthErrorKind::StoreUnavailable | AuthErrorKind::KeysUnavailable => {
                "temporarily_unavailable"
            }
            AuthErrorKind::MissingLayer => "server_error",
            AuthErrorKind::InvalidDpopProof => "invalid_dpop_proof",
            AuthErrorKind::UseDpopNonce => "use_dpop_nonce",
            _ => "invalid_token",
        })
    }

    /// The gRPC status code of the default gRPC response.
    pub fn grpc_status(&self) -> u16 {
        match self.kind {
            AuthErrorKind::InsufficientScope => 7,
            AuthErrorKind::StoreUnavailable | AuthErrorKind::KeysUnavailable => 14,
            AuthErrorKind::MissingLayer => 13,
            _ => 16,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl std::error::Error for AuthError {}

/// Why a key, validator or layer configuration was refused.
///
/// Returned when keys and validators are built, so that a weak secret or a bad
/// key stops the service at start-up, not on its first request.
#[derive(Debug)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`ConfigError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// An HMAC secret under 32 bytes, or an RSA key under 2048 bits.
    WeakKey,
    /// Key material that cannot be read or used.
    InvalidKey,
    /// A key and an algorithm that do not belong together.
    AlgorithmMismatch,
    /// An algorithm this crate does not support.
    UnsupportedAlgorithm,
    /// Two keys with the same `kid`.
    DuplicateKid,
    /// No keys at all.
    NoKeys,
    /// Claims that cannot be serialized (when signing).
    InvalidClaims,
    /// Another invalid setting, named in the message.
    InvalidSetting,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        kind: ConfigErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
