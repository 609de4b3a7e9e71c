//! The Tower layer: [`JwtLayer`] verifies the request's token, consults the
//! revocation store, and puts [`Claims`] into the request extensions.
//!
//! It is generic over request and response bodies, so the same layer wraps an
//! axum `Router` and a tonic server. Refusals are responses (never service
//! errors): RFC 6750 for HTTP, `grpc-status` for gRPC.
//!
//! Token sources, in this order: `Authorization: Bearer` (scheme
//! case-insensitive), then the cookie named with
//! [`cookie`](JwtLayerBuilder::cookie), then the query parameter named with
//! [`query_param`](JwtLayerBuilder::query_param) (off by default; meant for
//! WebSocket handshakes, where browsers cannot set headers).
//!
//! # Tracing
//!
//! Once a token is accepted, the inner service is called and polled inside
//! a span `jwt_guard.auth` (target `jwt_guard::auth`) with the fields `sub`
//! and `kid`, so that every event of the handler names the caller. Never
//! the token, its signature or any other claim. The span is at **debug**,
//! like tower-http's request spans: `sub` identifies a person, so it enters
//! production logs only when asked for (`RUST_LOG=info,jwt_guard::auth=debug`).
//! When no subscriber wants it the span is never built: no allocation, no
//! field read. Rejections are one debug event each (see [`crate::error`]).
//! With the `metrics` feature the layer also counts and times its decisions
//! (see the `metrics` module).
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_guard::{Algorithm, Claims, JwtLayer, Key, StandardClaims, Validator};
//! use jwt_guard::store::MemoryStore;
//!
//! # fn main() -> Result<(), jwt_guard::ConfigError> {
//! let validator = Validator::builder()
//!     .key(Key::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
//!     .build()?;
//! let store = MemoryStore::new();
//!
//! let layer = JwtLayer::<StandardClaims>::builder(validator)
//!     .store(store.clone())        // keep a handle to revoke through
//!     .realm("orders")
//!     .cookie("access_token")
//!     .build();
//!
//! let app: Router = Router::new()
//!     .route("/me", get(|claims: Claims<StandardClaims>| async move { claims.sub.clone() }))
//!     .layer(layer);
//! # Ok(()) }
//! ```

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};

use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::verify::{Header, Verified};

mod cache;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;
pub(crate) mod source;
mod span;

pub use future::ResponseFuture;
pub use layer::{JwtLayer, JwtLayerBuilder};
pub use service::JwtAuth;

/// A custom rejection: builds the response for a refused request from the
/// error and the request's headers.
pub type RejectionHandler = dyn Fn(&AuthError, &HeaderMap) -> Response<Bytes> + Send + Sync;

/// Builds rejection responses: the user's handler, or RFC 6750 / gRPC.
pub(crate) struct Responder {
    realm: String,
    custom: Option<Arc<RejectionHandler>>,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("realm", &self.realm)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

impl Default for Responder {
    fn default() -> Self {
        Self {
            realm: DEFAULT_REALM.to_owned(),
            custom: None,
        }
    }
}

/// The realm of the `WWW-Authenticate` challenge unless configured.
pub const DEFAULT_REALM: &str = "api";

impl Responder {
    /// Logs and counts the rejection once and builds its response, with the error in
    /// the response extensions.
    pub(crate) fn respond(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes> {
        error.trace();
        crate::observe::rejected(error.kind());
        match &self.custom {
            Some(custom) => {
                let mut response = custom(error, headers);
                response.extensions_mut().insert(error.clone());
                response
            }
            None => error.to_response(&self.realm, headers),
        }
    }

    pub(crate) fn default_shared() -> Arc<Self> {
        static DEFAULT: std::sync::OnceLock<Arc<Responder>> = std::sync::OnceLock::new();
        DEFAULT.get_or_init(|| Arc::new(Self::default())).clone()
    }
}

/// The verified claims of the request, put into its extensions by
/// [`JwtLayer`]. Dereferences to `T`.
///
/// With the `axum` feature it is also an extractor: a handler taking
/// `Claims<T>` answers 401 when the request is anonymous, and 500 (with a
/// message naming the fix) when no `JwtLayer<T>` ran for the route.
///
/// Cloning is cheap: the claims are shared, never copied per request.
pub struct Claims<T> {
    pub(crate) verified: Arc<Verified<T>>,
    pub(crate) responder: Arc<Responder>,
}

impl<T> Claims<T> {
    /// The registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `sid`).
    pub fn registered(&self) -> &RegisteredClaims {
        self.verified.registered()
    }

    /// The verified header (`alg`, `kid`, `typ`).
    pub fn header(&self) -> &Header {
        self.verified.header()
    }

    /// The whole verification result.
    pub fn verified(&self) -> &Verified<T> {
        &self.verified
    }

    /// The claims, cloned out of the shared value (or moved, if unshared).
    pub fn into_inner(self) -> T
    where
        T: Clone,
    {
        Arc::unwrap_or_clone(self.verified).into_claims()
    }

    /// Builds the rejection response the layer would have sent for `error`.
    pub(crate) fn reject(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes> {
        self.responder.respond(error, headers)
    }
}

impl<T> Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.verified.claims()
    }
}

impl<T> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Self {
            verified: self.verified.clone(),
            responder: self.responder.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims")
            .field(self.verified.claims())
            .finish()
    }
}

/// Put into the request extensions instead of [`Claims`] when optional
/// authentication let a request without a token through.
#[derive(Clone, Debug)]
pub struct Anonymous {
    pub(crate) responder: Arc<Responder>,
}

impl Anonymous {
    pub(crate) fn reject(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes> {
        self.responder.respond(error, headers)
    }
}
