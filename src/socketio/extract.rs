//! socketioxide extractors: [`Claims`] and [`MaybeClaims`] in connect,
//! event and disconnect handlers, and the guards [`RequireRole`] and
//! [`RequirePermission`] in event handlers.

use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromConnectParts, FromDisconnectParts, FromMessageParts, Value};
use socketioxide::socket::{DisconnectReason, Socket};

use super::session::{Session, answer_refused};
use crate::auth::Claims;
use crate::claims::HasRoles;
use crate::error::AuthError;
use crate::guard::{RequirePermission, RequireRole, Requirement, misconfigured};
use crate::observe;

/// The error event named when no session says otherwise.
const DEFAULT_ERROR_EVENT: &str = super::DEFAULT_ERROR_EVENT;

/// The verified claims of a socket, or `None` for a socket that an
/// [`optional`](super::SocketAuthBuilder::optional) namespace let in without
/// a token: `Option<Claims<T>>` in socketioxide's style (as its
/// `MaybeExtension`). Refused like [`Claims`] once the token stopped being
/// valid: an expired token is not an anonymous one.
#[derive(Debug, Clone)]
pub struct MaybeClaims<T>(pub Option<Claims<T>>);

/// The socket's session, or the refusal of a handler on a namespace that no
/// [`SocketAuth`](super::SocketAuth) guards (for this claims type): a
/// server misconfiguration, logged once at error level.
fn session<A: Adapter, T: Send + Sync + 'static>(
    socket: &Socket<A>,
) -> Result<Arc<Session<T>>, AuthError> {
    Session::of(socket).ok_or_else(|| {
        let asked = std::any::type_name::<T>();
        misconfigured(AuthError::missing_socket_auth(asked)).error
    })
}

/// The claims now, `None` for an anonymous socket; a refusal is recorded.
fn current<A: Adapter, T: Send + Sync + 'static>(
    socket: &Socket<A>,
) -> Result<Option<Claims<T>>, AuthError> {
    match session::<A, T>(socket)?.claims() {
        Ok(claims) => Ok(claims),
        Err(error) => {
            observe::refused(&error);
            Err(error)
        }
    }
}

fn required<T>(claims: Option<Claims<T>>) -> Result<Claims<T>, AuthError> {
    claims.ok_or_else(|| {
        let error = AuthError::missing_token();
        observe::refused(&error);
        error
    })
}

/// In an event handler, a refusal is also answered: an error ack, or the
/// error event when the client asked for no ack.
fn answered<A: Adapter, T: Send + Sync + 'static, R>(
    socket: &Arc<Socket<A>>,
    value: &mut Value,
    ack_id: &Option<i64>,
    extract: impl FnOnce() -> Result<R, AuthError>,
) -> Result<R, AuthError> {
    extract().inspect_err(|error| {
        let session = Session::<T>::of(socket);
        let event = session
            .as_deref()
            .map_or(DEFAULT_ERROR_EVENT, Session::error_event);
        answer_refused(socket, value, ack_id, event, error);
    })
}

impl<A: Adapter, T: Send + Sync + 'static> FromConnectParts<A> for Claims<T> {
    type Error = AuthError;

    fn from_connect_parts(socket: &Arc<Socket<A>>, _: &Option<Value>) -> Result<Self, AuthError> {
        required(current::<A, T>(socket)?)
    }
}

impl<A: Adapter, T: Send + Sync + 'static> FromMessageParts<A> for Claims<T> {
    type Error = AuthError;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, AuthError> {
        answered::<A, T, _>(socket, value, ack_id, || required(current::<A, T>(socket)?))
    }
}

/// In a disconnect handler: the claims the socket last had, whether or not
/// they are still valid (the socket may be ending because they are not).
impl<A: Adapter, T: Send + Sync + 'static> FromDisconnectParts<A> for Claims<T> {
    type Error = AuthError;

    fn from_disconnect_parts(
        socket: &Arc<Socket<A>>,
        _: DisconnectReason,
    ) -> Result<Self, AuthError> {
        required(session::<A, T>(socket)?.last_claims())
    }
}

impl<A: Adapter, T: Send + Sync + 'static> FromConnectParts<A> for MaybeClaims<T> {
    type Error = AuthError;

    fn from_connect_parts(socket: &Arc<Socket<A>>, _: &Option<Value>) -> Result<Self, AuthError> {
        Ok(Self(current::<A, T>(socket)?))
    }
}

impl<A: Adapter, T: Send + Sync + 'static> FromMessageParts<A> for MaybeClaims<T> {
    type Error = AuthError;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        value: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, AuthError> {
        answered::<A, T, _>(socket, value, ack_id, || Ok(Self(current::<A, T>(socket)?)))
    }
}

/// In a disconnect handler: as for [`Claims`], the claims last known.
impl<A: Adapter, T: Send + Sync + 'static> FromDisconnectParts<A> for MaybeClaims<T> {
    type Error = AuthError;

    fn from_disconnect_parts(
        socket: &Arc<Socket<A>>,
        _: DisconnectReason,
    ) -> Result<Self, AuthError> {
        Ok(Self(session::<A, T>(socket)?.last_claims()))
    }
}

macro_rules! guard_extractor {
    ($name:ident) => {
        /// In an event handler: the claims when they meet the requirement;
        /// otherwise the event is answered `{"error": "insufficient_scope"}`
        /// (or `missing_token`, `invalid_token`) and the socket stays.
        impl<A, R, T> FromMessageParts<A> for $name<R, T>
        where
            A: Adapter,
            R: Requirement,
            T: HasRoles + Send + Sync + 'static,
        {
            type Error = AuthError;

            fn from_message_parts(
                socket: &Arc<Socket<A>>,
                value: &mut Value,
                ack_id: &Option<i64>,
            ) -> Result<Self, AuthError> {
                answered::<A, T, _>(socket, value, ack_id, || {
                    let claims = required(current::<A, T>(socket)?)?;
                    if R::is_met(&*claims) {
                        Ok(Self::new(claims))
                    } else {
                        let error = claims
                            .refuse(AuthError::insufficient_scope(R::scope()))
                            .error;
                        observe::refused(&error);
                        Err(error)
                    }
                })
            }
        }
    };
}

guard_extractor!(RequireRole);
guard_extractor!(RequirePermission);
