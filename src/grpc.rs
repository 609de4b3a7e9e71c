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
//! use jwt_guard::{Algorithm, JwtLayer, RequireLayer, StandardClaims, Validator, VerifyingKey};
//! use tonic::transport::Server;
//! use tower::Layer;
//!
//! jwt_guard::role!(Ops = "ops");
//!
//! # fn main() -> Result<(), jwt_guard::ConfigError> {
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!")?)
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
//! The helpers render the [`tonic::Status`] from the refusal itself (with
//! the layer's realm): a request the layer let through anonymously
//! (optional authentication) gets UNAUTHENTICATED; claims without the role
//! or permission get PERMISSION_DENIED; a request no
//! [`JwtLayer`](crate::JwtLayer) saw (or one for another claims type) gets
//! INTERNAL, since that is the server's mistake: a generic message to the
//! client, the fix logged at error once. Otherwise the message is the
//! error's [`description`](crate::AuthError::description), the
//! [`AuthError`](crate::AuthError) is the status's
//! [`source`](std::error::Error::source), and the `WWW-Authenticate`
//! challenge its metadata. No message or metadata contains the token.

use tonic::Status;
use tonic::server::NamedService;

use crate::auth::{Anonymous, Claims};
use crate::claims::HasRoles;
use crate::guard::{Require, Requirement, authorize, claims_from};
use crate::layer::JwtAuth;

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
/// # use jwt_guard::{Algorithm, JwtLayer, SigningKey, Validator, VerifyingKey};
/// # use tower::{Layer, ServiceExt, service_fn};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let secret = b"a-secret-of-at-least-thirty-two-bytes!";
/// # let key = VerifyingKey::hmac(Algorithm::HS256, secret)?;
/// # let validator = Validator::builder().key(key).build()?;
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
    /// a token; INTERNAL when no `JwtLayer<T>` ran for it (the fix is logged).
    fn claims<T>(&self) -> Result<Claims<T>, Status>
    where
        T: Send + Sync + 'static;

    /// The request's verified claims, or `None` when an optional layer let it
    /// through without a token.
    ///
    /// # Errors
    ///
    /// INTERNAL when no `JwtLayer<T>` ran for the request (the fix is logged).
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
        claims_from(self.extensions()).map_err(|refusal| refusal.status())
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
        authorize::<T, _>(self.extensions(), |claims| R::is_met(claims), R::scope)
            .map_err(|refusal| refusal.status())
    }

    fn require_permission<P, T>(&self) -> Result<Claims<T>, Status>
    where
        P: Requirement,
        T: HasRoles + Send + Sync + 'static,
    {
        self.require_role::<P, T>()
    }
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
    use tonic::Code;

    #[test]
    fn a_request_no_layer_saw_is_internal_and_names_nothing_of_the_server() {
        let status = tonic::Request::new(())
            .claims::<crate::StandardClaims>()
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            status.message(),
            "the server could not authenticate the request"
        );
        // The fix is for the server's logs, and for the application through
        // the status's source.
        let source = std::error::Error::source(&status)
            .and_then(|e| e.downcast_ref::<crate::AuthError>())
            .expect("the AuthError as source");
        assert!(source.description().contains("JwtLayer"));
    }
}
