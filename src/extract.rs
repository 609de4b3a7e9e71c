//! axum extractors: [`Claims`], `Option<Claims<T>>`, and the guards
//! [`RequireRole`] and [`RequirePermission`].
//!
//! Rejections are responses built the way the layer builds them (same realm,
//! same custom handler), so a 403 from a guard looks like a 401 from the layer.
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_guard::guard::AnyOf;
//! use jwt_guard::{Claims, RequirePermission, RequireRole, StandardClaims};
//!
//! jwt_guard::role!(Admin = "admin");
//! jwt_guard::role!(Ops = "ops");
//! jwt_guard::permission!(WriteDocs = "docs:write");
//!
//! async fn public(claims: Option<Claims<StandardClaims>>) -> String {
//!     match claims {
//!         Some(claims) => format!("hello {}", claims.sub),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//!
//! async fn dashboard(user: RequireRole<AnyOf<(Admin, Ops)>>) -> String {
//!     format!("dashboard for {}", user.sub)
//! }
//!
//! async fn edit(_: RequirePermission<WriteDocs>) -> &'static str {
//!     "saved"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(public))
//!     .route("/dashboard", get(dashboard))
//!     .route("/docs", get(edit));
//! // then .layer(JwtLayer::<StandardClaims>::builder(validator).optional(true).build())
//! ```

use std::fmt;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::request::Parts;

use crate::auth::{Anonymous, Claims};
use crate::claims::HasRoles;
use crate::error::AuthError;
use crate::guard::{RequirePermission, RequireRole, Requirement, authorize, claims_from};
use crate::rejection::Refusal;

/// The rejection of jwt-guard's extractors: why the request was refused,
/// rendered as the layer renders its own (401, 403, or 500 when no layer
/// ran for the route) when axum turns it into a response.
pub struct Rejection {
    refusal: Refusal,
    headers: HeaderMap,
}

impl Rejection {
    fn new(refusal: Refusal, parts: &Parts) -> Self {
        Self {
            refusal,
            headers: parts.headers.clone(),
        }
    }

    /// Why the request was refused.
    pub fn error(&self) -> &AuthError {
        &self.refusal.error
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("status", &self.refusal.error.status())
            .field("error", &self.refusal.error)
            .finish()
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.refusal.http(&self.headers).map(axum::body::Body::from)
    }
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        claims_from(&parts.extensions).map_err(|refusal| Rejection::new(refusal, parts))
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.extensions.get::<Anonymous>().is_some() {
            return Ok(None);
        }
        claims_from(&parts.extensions)
            .map(Some)
            .map_err(|refusal| Rejection::new(refusal, parts))
    }
}

macro_rules! guard_extractor {
    ($name:ident) => {
        impl<S, R, T> FromRequestParts<S> for $name<R, T>
        where
            S: Send + Sync,
            R: Requirement,
            T: HasRoles + Send + Sync + 'static,
        {
            type Rejection = Rejection;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                authorize::<T, _>(&parts.extensions, |claims| R::is_met(claims), R::scope)
                    .map(Self::new)
                    .map_err(|refusal| Rejection::new(refusal, parts))
            }
        }
    };
}

guard_extractor!(RequireRole);
guard_extractor!(RequirePermission);
