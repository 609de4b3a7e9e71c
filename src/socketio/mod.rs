//! Socket.IO (feature `socketio`): authenticated connections for
//! [socketioxide](https://docs.rs/socketioxide) 0.18 that end when their
//! token is revoked or expires.
//!
//! [`SocketAuth`] is a connect middleware on the crate's one pipeline (an
//! [`Authenticator`], usually the HTTP layer's own: same keys, cache, store
//! and rules). It lets a socket into its namespace only with a valid token;
//! then handlers take [`Claims`], [`MaybeClaims`], [`RequireRole`] or
//! [`RequirePermission`] as they would in axum, and a task watches the token
//! ([`TokenWatch`](crate::watch::TokenWatch)) so that the socket is told why
//! and disconnected as soon as the token is revoked (logout, logout
//! everywhere, its session revoked, on any instance sharing the store) or
//! expires.
//!
//! | | what the client sees |
//! |---|---|
//! | token | `auth.token` of the CONNECT packet (`io(url, { auth: { token } })`, with or without `Bearer `), else `Authorization: Bearer` on the handshake request, else the claims an outer [`JwtLayer`](crate::JwtLayer) verified for that request (their expiry and revocation checked again) |
//! | refused connection | `connect_error` whose `message` is the RFC 6750 code: `invalid_token`, `invalid_request`, `insufficient_scope` (a namespace guard), `temporarily_unavailable` (the revocation store cannot answer), `server_error`; or `missing_token` when no token came, for which RFC 6750 has no code |
//! | refused event | an error ack `{"error": code}`, or when no ack was asked the event `auth_error` with `{"error": code, "event": name}`; the socket stays connected |
//! | token revoked or expired | the event `auth_revoked` with `{"reason": "revoked" \| "expired" \| "unverifiable"}`, then a server disconnect from the namespace (`io server disconnect`): as soon as the store signals the revocation (the memory store, a mirrored Redis store), within a poll interval (250 ms) for other stores; at `exp` itself, without the leeway requests get |
//! | reauthentication | the client emits `auth:refresh` with a fresh token (the token, or `{"token": …}`): the ack is `{"ok": true, "exp": …}` and the socket is watched with the new token, or `{"error": code}` and it keeps the old one, whose expiry still ends it; the new token must be for the same `sub` and `iss` (an anonymous socket of an optional namespace signs in this way); refreshes of one socket are handled one at a time |
//!
//! The event names are settings of the [builder](SocketAuthBuilder). Nothing
//! sent to the client contains the token, its signature or a key.
//!
//! A Socket.IO socket is one namespace on an Engine.IO connection that may
//! carry others: a revocation disconnects the socket from its namespace,
//! and every other namespace guarded by a `SocketAuth` ends its own socket
//! on the same token; a namespace without one is not watched. Claims an
//! outer layer verified are taken as that layer's validator judged them
//! (signature, `iss`, `aud`): give it rules as strict as this pipeline's.
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_guard::socketio::SocketAuth;
//! use jwt_guard::{Algorithm, Claims, JwtLayer, RequireRole, StandardClaims, Validator, VerifyingKey};
//! use serde_json::json;
//! use socketioxide::SocketIo;
//! use socketioxide::extract::{AckSender, SocketRef};
//! use socketioxide::handler::ConnectHandler;
//!
//! jwt_guard::role!(Admin = "admin");
//!
//! async fn on_connect(socket: SocketRef, claims: Claims<StandardClaims>) {
//!     let _ = socket.emit("welcome", &json!({ "sub": claims.sub }));
//!     socket.on("admin:ping", async |_: RequireRole<Admin>, ack: AckSender| {
//!         let _ = ack.send(&json!({ "ok": true }));
//!     });
//! }
//!
//! # fn main() -> Result<(), jwt_guard::ConfigError> {
//! # let secret = b"a-secret-of-at-least-thirty-two-bytes!";
//! let validator = Validator::builder()
//!     .key(VerifyingKey::hmac(Algorithm::HS256, secret)?)
//!     .build()?;
//! let http_auth = JwtLayer::<StandardClaims>::new(validator);
//!
//! let (socket_io, io) = SocketIo::new_layer();
//! // The HTTP layer's pipeline: one cache, one store, one set of rules.
//! let socket_auth = SocketAuth::new(http_auth.authenticator().clone());
//! io.ns("/", on_connect.with(socket_auth));
//!
//! let app: Router = Router::new()
//!     .route("/me", get(|claims: Claims<StandardClaims>| async move { claims.sub.clone() }))
//!     .route_layer(http_auth)
//!     .layer(socket_io);
//! # Ok(()) }
//! ```
//!
//! Middlewares added with `.with` run last added first: add `SocketAuth`
//! last to run it before the others. One `SocketAuth` per namespace is
//! usual: [`optional`](SocketAuthBuilder::optional) for a namespace that
//! also serves anonymous clients, [`require`](SocketAuthBuilder::require)
//! for one kept to a role.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use socketioxide::adapter::Adapter;
use socketioxide::handler::{ConnectMiddleware, Value};
use socketioxide::socket::Socket;

use crate::auth::{Authenticator, Claims, Credential, Progress};
use crate::claims::{HasRoles, StandardClaims};
use crate::error::{AuthError, ConfigError, ConfigErrorKind};
use crate::guard::Requirement;
use crate::observe;
#[allow(unused_imports)] // for the docs' links
use crate::{RequirePermission, RequireRole};

mod extract;
mod handshake;
mod session;
mod settings;

pub use extract::MaybeClaims;

use handshake::Presented;
use session::Session;
use settings::{Events, Settings};

/// The event a socket is told why before it is disconnected.
pub const DEFAULT_REVOKED_EVENT: &str = "auth_revoked";
/// The event a refused event is answered with when it asked for no ack.
pub const DEFAULT_ERROR_EVENT: &str = "auth_error";
/// The event that brings a fresh token to an open socket.
pub const DEFAULT_REFRESH_EVENT: &str = "auth:refresh";

/// Event names Socket.IO reserves: a client cannot receive them as events.
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// A socketioxide connect middleware that authenticates a socket before it
/// joins its namespace, then watches its token. See the [module docs](self).
///
/// Cloning is cheap: the settings are shared.
pub struct SocketAuth<T = StandardClaims> {
    settings: Arc<Settings<T>>,
}

impl<T> Clone for SocketAuth<T> {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
        }
    }
}

impl<T> fmt::Debug for SocketAuth<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SocketAuth").field(&self.settings).finish()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> SocketAuth<T> {
    /// A required token, checked by `authenticator`, with the default event
    /// names.
    pub fn new(authenticator: Authenticator<T>) -> Self {
        Self {
            settings: Arc::new(Settings {
                authenticator,
                optional: false,
                requirement: None,
                events: Events {
                    revoked: Cow::Borrowed(DEFAULT_REVOKED_EVENT),
                    error: Cow::Borrowed(DEFAULT_ERROR_EVENT),
                    refresh: Some(Cow::Borrowed(DEFAULT_REFRESH_EVENT)),
                },
            }),
        }
    }

    /// Starts configuring a middleware on `authenticator`.
    pub fn builder(authenticator: Authenticator<T>) -> SocketAuthBuilder<T> {
        SocketAuthBuilder {
            authenticator,
            optional: false,
            requirement: None,
            revoked_event: Cow::Borrowed(DEFAULT_REVOKED_EVENT),
            error_event: Cow::Borrowed(DEFAULT_ERROR_EVENT),
            refresh_event: Some(Cow::Borrowed(DEFAULT_REFRESH_EVENT)),
        }
    }

    /// The claims `socket` may join with (`None`: anonymous, where
    /// optional), or why not.
    async fn admit<A: Adapter>(
        &self,
        socket: &Arc<Socket<A>>,
        auth: &Option<Value>,
    ) -> Result<Option<Claims<T>>, AuthError> {
        let settings = &*self.settings;
        let authenticator = &settings.authenticator;
        let claims = match handshake::presented::<A, T>(socket, auth) {
            Presented::Verified(claims) => authenticator.recheck(claims).await.map(Some)?,
            Presented::Token(found) => {
                let found = match &found {
                    Ok(token) => Ok(token.as_deref().map(Credential::bearer)),
                    Err(error) => Err(error.clone()),
                };
                match authenticator.begin(found, settings.optional, false) {
                    Progress::Ready(result) => result?,
                    Progress::Pending(pending) => Some(pending.await?),
                }
            }
        };
        let Some(requirement) = &settings.requirement else {
            return Ok(claims);
        };
        let error = match &claims {
            Some(claims) if (requirement.is_met)(claims) => return Ok(Some(claims.clone())),
            Some(claims) => {
                claims
                    .refuse(AuthError::insufficient_scope(&*requirement.scope))
                    .error
            }
            // An optional namespace kept to a role lets no one in anonymously.
            None => AuthError::missing_token(),
        };
        observe::refused(&error);
        Err(error)
    }
}

/// What a refused client's `connect_error` says: the code alone.
struct ConnectRefusal(&'static str);

impl fmt::Display for ConnectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

mod private {
    /// Marks [`SocketAuth`](super::SocketAuth)'s `ConnectMiddleware` impl
    /// apart from socketioxide's impls for closures; never named by users.
    #[derive(Debug)]
    pub enum Authenticate {}
}

impl<A, T> ConnectMiddleware<A, private::Authenticate> for SocketAuth<T>
where
    A: Adapter,
    T: DeserializeOwned + Send + Sync + 'static,
{
    async fn call<'a>(
        &'a self,
        socket: Arc<Socket<A>>,
        auth: &'a Option<Value>,
    ) -> Result<(), Box<dyn fmt::Display + Send>> {
        match self.admit(&socket, auth).await {
            Ok(claims) => {
                Session::start(&socket, self.settings.clone(), claims);
                Ok(())
            }
            Err(error) => Err(Box::new(ConnectRefusal(error.socketio_code()))),
        }
    }
}

/// Configures a [`SocketAuth`]; [`build`](Self::build) checks the event names.
#[must_use]
pub struct SocketAuthBuilder<T> {
    authenticator: Authenticator<T>,
    optional: bool,
    requirement: Option<settings::Requirement<T>>,
    revoked_event: Cow<'static, str>,
    error_event: Cow<'static, str>,
    refresh_event: Option<Cow<'static, str>>,
}

impl<T> fmt::Debug for SocketAuthBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketAuthBuilder")
            .field("optional", &self.optional)
            .field("requirement", &self.requirement.as_ref().map(|r| &r.scope))
            .field("revoked_event", &self.revoked_event)
            .field("error_event", &self.error_event)
            .field("refresh_event", &self.refresh_event)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> SocketAuthBuilder<T> {
    /// Lets clients without a token in too (default: refused with
    /// `missing_token`): their handlers get [`MaybeClaims`] with `None`,
    /// and a reauthentication event may sign them in later. A token that is
    /// there is checked all the same.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// Lets in only sockets whose claims meet `R` (a marker from
    /// [`role!`](crate::role!), [`permission!`](crate::permission!),
    /// [`AnyOf`](crate::AnyOf) or [`AllOf`](crate::AllOf)): the others get
    /// `connect_error` `insufficient_scope`, and anonymous clients
    /// `missing_token` even where the namespace is optional. A
    /// reauthentication must meet it too.
    pub fn require<R: Requirement>(mut self) -> Self
    where
        T: HasRoles,
    {
        self.requirement = Some(settings::Requirement {
            is_met: Box::new(|claims: &T| R::is_met(claims)),
            scope: R::scope().into(),
        });
        self
    }

    /// The event sent before a socket whose token stopped being valid is
    /// disconnected (default [`DEFAULT_REVOKED_EVENT`], `auth_revoked`).
    pub fn revoked_event(mut self, event: impl Into<Cow<'static, str>>) -> Self {
        self.revoked_event = event.into();
        self
    }

    /// The event a refused event is answered with when the client asked
    /// for no ack (default [`DEFAULT_ERROR_EVENT`], `auth_error`).
    pub fn error_event(mut self, event: impl Into<Cow<'static, str>>) -> Self {
        self.error_event = event.into();
        self
    }

    /// The event that brings a fresh token (default
    /// [`DEFAULT_REFRESH_EVENT`], `auth:refresh`). jwt-guard registers its
    /// handler on every socket it lets in.
    pub fn refresh_event(mut self, event: impl Into<Cow<'static, str>>) -> Self {
        self.refresh_event = Some(event.into());
        self
    }

    /// Turns reauthentication off: no refresh event is handled, and a
    /// socket ends with its token.
    pub fn without_refresh(mut self) -> Self {
        self.refresh_event = None;
        self
    }

    /// Builds the middleware.
    ///
    /// # Errors
    ///
    /// `InvalidSetting` for an empty event name, one Socket.IO reserves
    /// (`connect`, `disconnect`, …), or one given to two events.
    pub fn build(self) -> Result<SocketAuth<T>, ConfigError> {
        let names = [
            Some(&self.revoked_event),
            Some(&self.error_event),
            self.refresh_event.as_ref(),
        ];
        for (i, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            if name.is_empty() || RESERVED_EVENTS.contains(&name.as_ref()) {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidSetting,
                    format!(
                        "`{name}` cannot name a jwt-guard Socket.IO event: it is empty or reserved by Socket.IO"
                    ),
                ));
            }
            if names[..i].iter().flatten().any(|other| other == name) {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidSetting,
                    format!("`{name}` names two jwt-guard Socket.IO events"),
                ));
            }
        }
        Ok(SocketAuth {
            settings: Arc::new(Settings {
                authenticator: self.authenticator,
                optional: self.optional,
                requirement: self.requirement,
                events: Events {
                    revoked: self.revoked_event,
                    error: self.error_event,
                    refresh: self.refresh_event,
                },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, VerifyingKey};
    use crate::verify::Validator;

    fn authenticator() -> Authenticator<StandardClaims> {
        let key = VerifyingKey::hmac(Algorithm::HS256, b"a-secret-of-at-least-thirty-two-bytes!");
        let validator = Validator::builder().key(key.unwrap()).build().unwrap();
        Authenticator::builder(validator).build()
    }

    #[test]
    fn event_names_are_checked_when_built() {
        let builder = || SocketAuth::builder(authenticator());
        assert!(builder().build().is_ok());
        assert!(builder().without_refresh().build().is_ok());
        let refused = [
            builder().revoked_event(""),
            builder().revoked_event("disconnect"),
            builder().error_event("connect_error"),
            builder().refresh_event("connect"),
            builder().error_event(DEFAULT_REVOKED_EVENT),
            builder().refresh_event("again").revoked_event("again"),
        ];
        for builder in refused {
            let described = format!("{builder:?}");
            let error = builder.build().unwrap_err();
            assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting, "{described}");
        }
    }

    #[test]
    fn a_connect_refusal_says_the_code_alone() {
        let said = ConnectRefusal(AuthError::missing_token().socketio_code()).to_string();
        assert_eq!(said, "missing_token");
        let scope = AuthError::insufficient_scope("admin");
        assert_eq!(scope.socketio_code(), "insufficient_scope");
        assert_eq!(
            scope.socketio_ack(),
            serde_json::json!({"error": "insufficient_scope"})
        );
    }
}
