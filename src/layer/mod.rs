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
//! use jwt_guard::{Algorithm, Claims, JwtLayer, StandardClaims, Validator, VerifyingKey};
//! use jwt_guard::store::MemoryStore;
//!
//! # fn main() -> Result<(), jwt_guard::ConfigError> {
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
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

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;
mod span;

pub use crate::auth::{Anonymous, Claims};
pub use crate::rejection::{DEFAULT_REALM, RejectionHandler};
pub use future::ResponseFuture;
pub use layer::{JwtLayer, JwtLayerBuilder};
pub use service::JwtAuth;
