//! Role and permission requirements, and a route-level guard layer.
//!
//! A [`Requirement`] is a marker type declared in one line with [`role!`](crate::role!) or
//! [`permission!`](crate::permission!), and combined with [`AnyOf`] and
//! [`AllOf`]. Handlers state it in their signature with
//! [`RequireRole`] (axum, Socket.IO events); whole routes or services state
//! it with [`RequireLayer`] (`route_layer`, or a tonic service).
//!
//! ```
//! use jwt_guard::guard::{AllOf, AnyOf};
//! use jwt_guard::{HasRoles, Requirement, StandardClaims};
//!
//! jwt_guard::role!(Admin = "admin");
//! jwt_guard::role!(Ops = "ops");
//! jwt_guard::permission!(WriteDocs = "docs:write");
//!
//! let claims: StandardClaims =
//!     serde_json::from_str(r#"{"sub":"a","roles":["ops"],"permissions":["docs:write"]}"#).unwrap();
//! assert!(!Admin::is_met(&claims));
//! assert!(AnyOf::<(Admin, Ops)>::is_met(&claims));
//! assert!(AllOf::<(Ops, WriteDocs)>::is_met(&claims));
//! assert!(!AllOf::<(Admin, WriteDocs)>::is_met(&claims));
//! assert_eq!(AllOf::<(Admin, WriteDocs)>::scope(), "admin docs:write");
//! ```

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::{Anonymous, Claims, layer_claims_types};
use crate::body::ResponseBody;
use crate::claims::{HasRoles, StandardClaims};
use crate::error::AuthError;
use crate::observe;
use crate::rejection::{Refusal, Rejecter};

/// Something the claims must grant: a role, a permission, or a combination.
///
/// Declare markers with [`role!`](crate::role!) and
/// [`permission!`](crate::permission!) rather than by hand.
pub trait Requirement: Send + Sync + 'static {
    /// Whether `claims` meet the requirement.
    fn is_met<C: HasRoles + ?Sized>(claims: &C) -> bool;

    /// The scope to name in an `insufficient_scope` challenge (space-separated).
    fn scope() -> String;
}

/// Declares a marker type that requires a role:
/// `jwt_guard::role!(pub Admin = "admin");`.
#[macro_export]
macro_rules! role {
    ($(#[$meta:meta])* $vis:vis $name:ident = $role:literal) => {
        $(#[$meta])*
        #[doc = concat!("Requires the role `", $role, "`.")]
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $crate::Requirement for $name {
            fn is_met<C: $crate::HasRoles + ?Sized>(claims: &C) -> bool {
                claims.has_role($role)
            }

            fn scope() -> ::std::string::String {
                ::std::string::String::from($role)
            }
        }
    };
}

/// Declares a marker type that requires a permission:
/// `jwt_guard::permission!(pub WriteDocs = "docs:write");`.
#[macro_export]
macro_rules! permission {
    ($(#[$meta:meta])* $vis:vis $name:ident = $permission:literal) => {
        $(#[$meta])*
        #[doc = concat!("Requires the permission `", $permission, "`.")]
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $crate::Requirement for $name {
            fn is_met<C: $crate::HasRoles + ?Sized>(claims: &C) -> bool {
                claims.has_permission($permission)
            }

            fn scope() -> ::std::string::String {
                ::std::string::String::from($permission)
            }
        }
    };
}

/// Met when any requirement of the tuple is: `AnyOf<(Admin, Ops)>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyOf<R>(PhantomData<fn() -> R>);

/// Met when every requirement of the tuple is: `AllOf<(User, WriteDocs)>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllOf<R>(PhantomData<fn() -> R>);

macro_rules! impl_combinators {
    ($($r:ident),+) => {
        impl<$($r: Requirement),+> Requirement for AnyOf<($($r,)+)> {
            fn is_met<Granted: HasRoles + ?Sized>(claims: &Granted) -> bool {
                false $(|| $r::is_met(claims))+
            }

            fn scope() -> String {
                [$($r::scope()),+].join(" ")
            }
        }

        impl<$($r: Requirement),+> Requirement for AllOf<($($r,)+)> {
            fn is_met<Granted: HasRoles + ?Sized>(claims: &Granted) -> bool {
                true $(&& $r::is_met(claims))+
            }

            fn scope() -> String {
                [$($r::scope()),+].join(" ")
            }
        }
    };
}

impl_combinators!(A);
impl_combinators!(A, B);
impl_combinators!(A, B, C);
impl_combinators!(A, B, C, D);
impl_combinators!(A, B, C, D, E);
impl_combinators!(A, B, C, D, E, F);
impl_combinators!(A, B, C, D, E, F, G);
impl_combinators!(A, B, C, D, E, F, G, H);

/// [`Claims`] that meet the requirement `R`, usually a role marker:
/// `RequireRole<Admin>`, `RequireRole<AnyOf<(Admin, Ops)>>`. Dereferences
/// to the claims.
///
/// An extractor wherever claims are: with the `axum` feature an axum
/// handler taking it answers 403 `insufficient_scope` naming the scope
/// when the claims fall short; with the `socketio` feature a Socket.IO
/// event handler taking it answers the event with an error ack instead,
/// and the socket stays connected.
pub struct RequireRole<R, T = StandardClaims> {
    /// The request's claims, which meet `R`.
    pub claims: Claims<T>,
    _requirement: PhantomData<fn() -> R>,
}

/// As [`RequireRole`], named for permission markers:
/// `RequirePermission<WriteDocs>`.
pub struct RequirePermission<P, T = StandardClaims> {
    /// The request's claims, which meet `P`.
    pub claims: Claims<T>,
    _requirement: PhantomData<fn() -> P>,
}

macro_rules! guard_type {
    ($name:ident) => {
        impl<R, T> $name<R, T> {
            /// Claims already checked against the requirement.
            #[cfg_attr(not(any(feature = "axum", feature = "socketio")), allow(dead_code))]
            pub(crate) fn new(claims: Claims<T>) -> Self {
                Self {
                    claims,
                    _requirement: PhantomData,
                }
            }

            /// The claims, consumed.
            pub fn into_claims(self) -> Claims<T> {
                self.claims
            }
        }

        impl<R, T> std::ops::Deref for $name<R, T> {
            type Target = Claims<T>;

            fn deref(&self) -> &Claims<T> {
                &self.claims
            }
        }

        impl<R, T> Clone for $name<R, T> {
            fn clone(&self) -> Self {
                Self::new(self.claims.clone())
            }
        }

        impl<R, T: fmt::Debug> fmt::Debug for $name<R, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("requirement", &std::any::type_name::<R>())
                    .field("claims", &self.claims)
                    .finish()
            }
        }
    };
}

guard_type!(RequireRole);
guard_type!(RequirePermission);

/// Checks claims against a requirement; what the extractors, the gRPC
/// helpers and the guard layer call, so that they all answer alike. A
/// refusal is recorded here, once.
pub(crate) fn authorize<T, F>(
    extensions: &http::Extensions,
    is_met: F,
    scope: impl FnOnce() -> String,
) -> Result<Claims<T>, Refusal>
where
    T: Send + Sync + 'static,
    F: FnOnce(&T) -> bool,
{
    let claims = claims_from(extensions)?;
    if is_met(&claims) {
        Ok(claims)
    } else {
        let refusal = claims.refuse(AuthError::insufficient_scope(scope()));
        observe::refused(&refusal.error);
        Err(refusal)
    }
}

/// The request's [`Claims`]: refused as `MissingToken` (401) for an
/// anonymous request, and `MissingLayer` (500) when no layer let the
/// request through: said at error level once per kind of mistake, naming
/// the claims types layers of this process verify when none verifies the
/// type asked for. A refusal is recorded here, once.
pub(crate) fn claims_from<T: Send + Sync + 'static>(
    extensions: &http::Extensions,
) -> Result<Claims<T>, Refusal> {
    if let Some(claims) = extensions.get::<Claims<T>>() {
        return Ok(claims.clone());
    }
    let refusal = match extensions.get::<Anonymous>() {
        Some(anonymous) => anonymous.refuse(AuthError::missing_token()),
        None => {
            let asked = std::any::type_name::<T>();
            misconfigured(match layer_claims_types::others_than(asked) {
                Some(layers) => AuthError::claims_type_mismatch(&layers, asked),
                None => AuthError::missing_layer(asked),
            })
        }
    };
    observe::refused(&refusal.error);
    Err(refusal)
}

/// A refusal for a mistake in the application's wiring: said at error
/// level the first time (with the fix), then only counted; the client gets
/// a generic 500.
pub(crate) fn misconfigured(error: AuthError) -> Refusal {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.iter().any(|d| d == error.description()) {
        tracing::error!(description = %error.description(), "jwt-guard is misconfigured");
        said.push(error.description().to_owned());
    }
    Refusal {
        error,
        rejecter: Rejecter::default_shared(),
    }
}

type Check<T> = dyn Fn(&T) -> bool + Send + Sync;

/// A layer that lets a request through only when its [`Claims`] meet a
/// requirement: 403 `insufficient_scope` otherwise, 401 for an anonymous
/// request. Put it inside a [`JwtLayer`](crate::JwtLayer), e.g. with axum's
/// `route_layer`, or around one tonic service.
///
/// ```
/// use axum::{Router, routing::get};
/// use jwt_guard::{RequireLayer, StandardClaims};
///
/// jwt_guard::role!(Admin = "admin");
///
/// let admin: Router = Router::new()
///     .route("/admin/stats", get(|| async { "stats" }))
///     .route_layer(RequireLayer::<StandardClaims>::new::<Admin>());
/// // then: .layer(JwtLayer::<StandardClaims>::new(validator)) around it
///
/// // Roles known only at run time:
/// let ops = RequireLayer::<StandardClaims>::any_role(["ops", "admin"]);
/// ```
#[must_use]
pub struct RequireLayer<T = StandardClaims> {
    check: Arc<Check<T>>,
    scope: Arc<str>,
}

impl<T> Clone for RequireLayer<T> {
    fn clone(&self) -> Self {
        Self {
            check: self.check.clone(),
            scope: self.scope.clone(),
        }
    }
}

impl<T> fmt::Debug for RequireLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLayer")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl<T: HasRoles + Send + Sync + 'static> RequireLayer<T> {
    /// Requires `R` (a marker from [`role!`](crate::role!),
    /// [`permission!`](crate::permission!), [`AnyOf`] or [`AllOf`]).
    pub fn new<R: Requirement>() -> Self {
        Self::predicate(R::scope(), |claims: &T| R::is_met(claims))
    }

    /// Requires any of these roles.
    pub fn any_role<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        Self::predicate(roles.join(" "), move |claims: &T| {
            roles.iter().any(|r| claims.has_role(r))
        })
    }

    /// Requires all of these roles.
    pub fn all_roles<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        Self::predicate(roles.join(" "), move |claims: &T| {
            roles.iter().all(|r| claims.has_role(r))
        })
    }

    /// Requires any of these permissions.
    pub fn any_permission<I, S>(permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let permissions: Vec<String> = permissions.into_iter().map(Into::into).collect();
        Self::predicate(permissions.join(" "), move |claims: &T| {
            permissions.iter().any(|p| claims.has_permission(p))
        })
    }

    /// Requires all of these permissions.
    pub fn all_permissions<I, S>(permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let permissions: Vec<String> = permissions.into_iter().map(Into::into).collect();
        Self::predicate(permissions.join(" "), move |claims: &T| {
            permissions.iter().all(|p| claims.has_permission(p))
        })
    }
}

impl<T> RequireLayer<T> {
    /// Requires whatever `check` says; `scope` names it in the 403 challenge.
    pub fn predicate<F>(scope: impl Into<String>, check: F) -> Self
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        Self {
            check: Arc::new(check),
            scope: Arc::from(scope.into()),
        }
    }
}

impl<S, T> Layer<S> for RequireLayer<T> {
    type Service = Require<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service made by [`RequireLayer`].
pub struct Require<S, T> {
    inner: S,
    guard: RequireLayer<T>,
}

impl<S: Clone, T> Clone for Require<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            guard: self.guard.clone(),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for Require<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("inner", &self.inner)
            .field("guard", &self.guard)
            .finish()
    }
}

impl<S, T, ReqB, ResB> Service<Request<ReqB>> for Require<S, T>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    T: Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let guard = &self.guard;
        let state = match authorize::<T, _>(
            request.extensions(),
            |claims| (guard.check)(claims),
            || guard.scope.to_string(),
        ) {
            Ok(_) => State::Calling {
                future: self.inner.call(request),
            },
            Err(refusal) => State::Refused {
                response: Some(Box::new(refusal.http(request.headers()))),
            },
        };
        RequireFuture { state }
    }
}

pin_project! {
    /// The response future of [`Require`]: the inner call, or a refusal.
    pub struct RequireFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling {
            #[pin]
            future: F,
        },
        Refused {
            response: Option<Box<Response<Bytes>>>,
        },
    }
}

impl<F> fmt::Debug for RequireFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireFuture").finish_non_exhaustive()
    }
}

impl<F, ResB, E> Future for RequireFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = Result<Response<ResponseBody<ResB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Calling { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            StateProj::Refused { response } => {
                let response = response
                    .take()
                    .expect("RequireFuture polled after completion");
                Poll::Ready(Ok(response.map(ResponseBody::rejection)))
            }
        }
    }
}
