//! tonic integration: claims and role guards for gRPC handlers, and guards
//! around one service among several.
//!
//! [`JwtLayer`](crate::JwtLayer) and [`RequireLayer`](crate::RequireLayer) are generic over
//! bodies, so they wrap a tonic server as they wrap an axum `Router`, and
//! refuse gRPC calls with `grpc-status` 16 (UNAUTHENTICATED), 7
//! (PERMISSION_DENIED) or 14 (UNAVAILABLE). This module adds:
//!
//! - [`RequestClaimsExt`], for handlers: `request.claims::<T>()`,
//!   `request.optional_claims::<T>()`, `request.require_role::<R, T>()`,
//!   `request.require_permission::<P, T>()`, which answer with a
//!   [`tonic::Status`] that `?` returns as is. This is the per-method guard.
//! - [`NamedService`] for [`JwtAuth`] and [`Require`], so that a layered
//!   service is still a service tonic's `Server::add_service` takes. This is
//!   the per-service guard: `RequireLayer::new::<Ops>().layer(health)`.
//!
//! ```
//! use jwt_guard::{Algorithm, JwtLayer, Key, RequireLayer, StandardClaims, Validator};
//! use tonic::transport::Server;
//! use tower::Layer;
//!
//! jwt_guard::role!(Ops = "ops");
//!
//! # fn main() -> Result<(), jwt_guard::ConfigError> {
//! let validator = Validator::builder()
//!     .key(Key::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
//!     .issuer("https://auth.example")
//!     .audience("orders-api")
//!     .build()?;
//! let (_reporter, health) = tonic_health::server::health_reporter();
//!
//! // Every call needs a valid token; the health service also needs role `ops`.
//! let router = Server::builder()
//!     .layer(JwtLayer::<StandardClaims>::new(validator))
//!     .add_service(RequireLayer::<StandardClaims>::new::<Ops>().layer(health));
//! // .add_service(orders) — other services, unguarded beyond the token
//! // router.serve(addr).await
//! # let _ = router;
//! # Ok(()) }
//! ```
//!
//! A tonic interceptor is a one-liner over the same trait, for generated
//! servers' `with_interceptor`:
//!
//! ```
//! use jwt_guard::StandardClaims;
//! use jwt_guard::grpc::RequestClaimsExt;
//!
//! jwt_guard::role!(Ops = "ops");
//!
//! fn ops_only(request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
//!     request.require_role::<Ops, StandardClaims>()?;
//!     Ok(request)
//! }
//! // FooServer::with_interceptor(foo, ops_only)
//! # let status = ops_only(tonic::Request::new(())).unwrap_err();
//! # assert_eq!(status.code(), tonic::Code::Internal); // no layer ran
//! ```
//!
//! The helpers answer as the layer does (same realm and custom
//! [`on_rejection`](crate::layer::JwtLayerBuilder::on_rejection) handler): a
//! request the layer let through anonymously (optional authentication) gets
//! UNAUTHENTICATED; claims without the role or permission get
//! PERMISSION_DENIED; a request no [`JwtLayer`](crate::JwtLayer) saw gets
//! INTERNAL with a message naming the fix, since that is the server's
//! mistake. The [`AuthError`] is the status's
//! [`source`](std::error::Error::source), and the `WWW-Authenticate`
//! challenge its metadata. No message or metadata contains the token.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::{Code, Status};

use crate::claims::HasRoles;
use crate::error::{AuthError, is_grpc};
use crate::guard::{Require, Requirement, authorize, claims_from};
use crate::layer::{Anonymous, Claims, JwtAuth};

mod sealed {
    pub trait Sealed {}

    impl<B> Sealed for tonic::Request<B> {}
}

/// The claims of a gRPC request, for tonic handlers: the counterpart of the
/// axum extractors [`Claims`], `Option<Claims<T>>`,
/// [`RequireRole`](crate::RequireRole) and
/// [`RequirePermission`](crate::RequirePermission).
///
/// Implemented for every [`tonic::Request`]; tonic copies the HTTP request's
/// extensions, where [`JwtLayer`](crate::JwtLayer) put the claims, into
/// [`tonic::Request::extensions`]. `T` is the layer's claims type.
///
/// ```
/// use jwt_guard::grpc::RequestClaimsExt;
/// use jwt_guard::{Claims, StandardClaims};
/// use tonic::{Request, Response, Status};
///
/// jwt_guard::role!(Admin = "admin");
///
/// // In a `#[tonic::async_trait] impl Orders for MyOrders` block:
/// async fn whoami(request: Request<()>) -> Result<Response<String>, Status> {
///     let claims = request.claims::<StandardClaims>()?; // UNAUTHENTICATED if anonymous
///     Ok(Response::new(claims.sub.clone()))
/// }
///
/// async fn delete(request: Request<()>) -> Result<Response<String>, Status> {
///     let admin: Claims<StandardClaims> = request.require_role::<Admin, _>()?; // or PERMISSION_DENIED
///     Ok(Response::new(format!("deleted by {}", admin.sub)))
/// }
/// # use jwt_guard::{Algorithm, JwtLayer, Key, SigningKey, Validator};
/// # use tower::{Layer, ServiceExt, service_fn};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let secret = b"a-secret-of-at-least-thirty-two-bytes!";
/// # let validator = Validator::builder().key(Key::hmac(Algorithm::HS256, secret)?).build()?;
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// # let claims = serde_json::json!({"sub": "bob", "roles": ["user"], "exp": now + 60});
/// # let token = SigningKey::hmac(Algorithm::HS256, secret)?.sign("JWT", &claims)?;
/// // What tonic does under the layer: the HTTP request becomes a `tonic::Request`.
/// let server = JwtLayer::<StandardClaims>::new(validator).layer(service_fn(
///     |request: http::Request<()>| async move {
///         let request = Request::from_http(request);
///         assert_eq!(request.claims::<StandardClaims>()?.sub, "bob");
///         delete(request).await.map(|_| http::Response::new(String::new()))
///     },
/// ));
/// let request = http::Request::builder()
///     .header("content-type", "application/grpc")
///     .header("authorization", format!("Bearer {token}"))
///     .body(())?;
/// let status = server.oneshot(request).await.unwrap_err();
/// assert_eq!(status.code(), tonic::Code::PermissionDenied); // bob is no admin
/// # Ok(()) }
/// ```
pub trait RequestClaimsExt: sealed::Sealed {
    /// The request's verified claims.
    ///
    /// # Errors
    ///
    /// UNAUTHENTICATED when the request came through an optional layer without
    /// a token; INTERNAL, naming the fix, when no `JwtLayer<T>` ran for it.
    fn claims<T>(&self) -> Result<Claims<T>, Status>
    where
        T: Send + Sync + 'static;

    /// The request's verified claims, or `None` when an optional layer let it
    /// through without a token.
    ///
    /// # Errors
    ///
    /// INTERNAL, naming the fix, when no `JwtLayer<T>` ran for the request.
    fn optional_claims<T>(&self) -> Result<Option<Claims<T>>, Status>
    where
        T: Send + Sync + 'static;

    /// The request's claims, if they meet `R`: a marker from
    /// [`role!`](crate::role!), or [`AnyOf`](crate::AnyOf) /
    /// [`AllOf`](crate::AllOf) of markers.
    ///
    /// # Errors
    ///
    /// PERMISSION_DENIED when the claims do not meet `R`, and as
    /// [`claims`](Self::claims) when there are none.
    fn require_role<R, T>(&self) -> Result<Claims<T>, Status>
    where
        R: Requirement,
        T: HasRoles + Send + Sync + 'static;

    /// As [`require_role`](Self::require_role), named for markers from
    /// [`permission!`](crate::permission!).
    ///
    /// # Errors
    ///
    /// PERMISSION_DENIED when the claims do not meet `P`, and as
    /// [`claims`](Self::claims) when there are none.
    fn require_permission<P, T>(&self) -> Result<Claims<T>, Status>
    where
        P: Requirement,
        T: HasRoles + Send + Sync + 'static;
}

impl<B> RequestClaimsExt for tonic::Request<B> {
    fn claims<T>(&self) -> Result<Claims<T>, Status>
    where
        T: Send + Sync + 'static,
    {
        claims_from(self.extensions(), &grpc_headers(self.metadata()))
            .map_err(|response| into_status(&response))
    }

    fn optional_claims<T>(&self) -> Result<Option<Claims<T>>, Status>
    where
        T: Send + Sync + 'static,
    {
        if self.extensions().get::<Anonymous>().is_some() {
            return Ok(None);
        }
        self.claims().map(Some)
    }

    fn require_role<R, T>(&self) -> Result<Claims<T>, Status>
    where
        R: Requirement,
        T: HasRoles + Send + Sync + 'static,
    {
        authorize::<T, _>(
            self.extensions(),
            &grpc_headers(self.metadata()),
            |claims| R::is_met(claims),
            R::scope,
        )
        .map_err(|response| into_status(&response))
    }

    fn require_permission<P, T>(&self) -> Result<Claims<T>, Status>
    where
        P: Requirement,
        T: HasRoles + Send + Sync + 'static,
    {
        self.require_role::<P, T>()
    }
}

/// The headers a rejection is built for: the request's own, which carry
/// `content-type: application/grpc` on a server, so nothing is copied there.
/// A request built by hand (a test) is marked gRPC, so that the answer is the
/// gRPC form whatever the metadata.
fn grpc_headers(metadata: &MetadataMap) -> Cow<'_, HeaderMap> {
    let headers = metadata.as_ref();
    if is_grpc(headers) {
        Cow::Borrowed(headers)
    } else {
        let mut headers = headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        Cow::Owned(headers)
    }
}

/// The rejection the layer would have sent, as a [`Status`]: its
/// `grpc-status` and `grpc-message`, its other headers as metadata, and the
/// [`AuthError`] as source.
fn into_status(response: &http::Response<Bytes>) -> Status {
    let error = response.extensions().get::<AuthError>().cloned();
    let mut headers = response.headers().clone();
    headers.remove(CONTENT_TYPE);
    // tonic writes this header from the status's own details (none here); a
    // custom handler's copy in the metadata would be sent twice.
    headers.remove("grpc-status-details-bin");
    let code = headers
        .remove("grpc-status")
        .map(|code| Code::from_bytes(code.as_bytes()))
        .or_else(|| {
            error
                .as_ref()
                .map(|e| Code::from(i32::from(e.grpc_status())))
        })
        .unwrap_or(Code::Unauthenticated);
    let message = headers
        .remove("grpc-message")
        .map(|message| percent_decode(message.as_bytes()))
        .or_else(|| error.as_ref().map(|e| e.description().to_owned()))
        .unwrap_or_default();
    let mut status = Status::with_metadata(code, message, MetadataMap::from_headers(headers));
    if let Some(error) = error {
        status.set_source(Arc::new(error));
    }
    status
}

/// Decodes a `grpc-message` (percent-encoding, gRPC over HTTP/2 spec).
fn percent_decode(encoded: &[u8]) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut decoded = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%'
            && let [hi, lo, after @ ..] = tail
            && let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo))
        {
            // Two hex digits: at most 0xFF.
            decoded.push((hi * 16 + lo) as u8);
            rest = after;
        } else {
            decoded.push(byte);
            rest = tail;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A service behind [`JwtLayer`](crate::JwtLayer) keeps its gRPC name, so
/// `Server::add_service` routes to it.
impl<S: NamedService, T> NamedService for JwtAuth<S, T> {
    const NAME: &'static str = S::NAME;
}

/// A service behind [`RequireLayer`](crate::RequireLayer) keeps its gRPC name, so
/// `Server::add_service` routes to it: a guard for one service among several.
impl<S: NamedService, T> NamedService for Require<S, T> {
    const NAME: &'static str = S::NAME;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode(b"a%20b%25c"), "a b%c");
        assert_eq!(percent_decode(b"caf%C3%A9"), "café");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz"), "%zz");
    }

    #[test]
    fn a_request_no_layer_saw_is_internal_and_names_the_fix() {
        let status = tonic::Request::new(())
            .claims::<crate::StandardClaims>()
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert!(
            status.message().contains("JwtLayer"),
            "{}",
            status.message()
        );
    }
}
