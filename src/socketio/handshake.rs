//! Where a Socket.IO client presents its token: the `auth` payload of its
//! CONNECT packet (`io(url, { auth: { token } })`), else the handshake
//! request's `Authorization: Bearer` header, else claims an outer
//! [`JwtLayer`](crate::JwtLayer) verified for that request; and the payload
//! of the reauthentication event.

use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::TryData;
use socketioxide::handler::{FromConnectParts, Value};
use socketioxide::socket::Socket;

use crate::auth::{Claims, TokenSources};
use crate::error::{AuthError, AuthErrorKind};

/// What the client presented.
pub(crate) enum Presented<T> {
    /// A token, none, or one that cannot be read (`invalid_request`).
    Token(Result<Option<String>, AuthError>),
    /// Claims an outer layer verified for the handshake request.
    Verified(Claims<T>),
}

/// What `socket`'s client presented, from the first place that has something.
pub(crate) fn presented<A: Adapter, T: Send + Sync + 'static>(
    socket: &Arc<Socket<A>>,
    auth: &Option<Value>,
) -> Presented<T> {
    match auth_token(socket, auth) {
        Ok(None) => {}
        found => return Presented::Token(found),
    }
    let request = socket.req_parts();
    match TokenSources::default().find(&request.headers, None) {
        Ok(None) => {}
        found => {
            return Presented::Token(
                found.map(|credential| credential.map(|c| c.token().to_owned())),
            );
        }
    }
    match request.extensions.get::<Claims<T>>() {
        Some(claims) => Presented::Verified(claims.clone()),
        None => Presented::Token(Ok(None)),
    }
}

fn invalid_request(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidRequest, description)
}

/// The `token` member of the CONNECT packet's `auth` payload.
fn auth_token<A: Adapter>(
    socket: &Arc<Socket<A>>,
    auth: &Option<Value>,
) -> Result<Option<String>, AuthError> {
    if auth.is_none() {
        return Ok(None);
    }
    let Ok(TryData(payload)) = TryData::<serde_json::Value>::from_connect_parts(socket, auth);
    match payload {
        Ok(serde_json::Value::Null) => Ok(None),
        Ok(serde_json::Value::Object(mut members)) => match members.remove("token") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(token) => token_text(token).map(Some),
        },
        Ok(_) => Err(invalid_request("the auth payload is not an object")),
        Err(_) => Err(invalid_request("the auth payload cannot be read")),
    }
}

/// The token of a reauthentication: the event's first argument, the token
/// itself or `{"token": …}`.
pub(crate) fn token_in_refresh(payload: &serde_json::Value) -> Result<Option<String>, AuthError> {
    match payload {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(members) => match members.get("token") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(token) => token_text(token.clone()).map(Some),
        },
        token => token_text(token.clone()).map(Some),
    }
}

/// A token sent as text, with or without the `Bearer ` prefix some clients
/// put before it.
fn token_text(token: serde_json::Value) -> Result<String, AuthError> {
    let serde_json::Value::String(mut token) = token else {
        return Err(invalid_request("the token is not a string"));
    };
    if token
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
    {
        token.drain(..7);
    }
    if token.is_empty() {
        return Err(invalid_request("the token is empty"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_reauthentication_takes_the_token_or_an_object_holding_it() {
        assert_eq!(
            token_in_refresh(&json!("abc")).unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_in_refresh(&json!({"token": "Bearer abc"}))
                .unwrap()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(token_in_refresh(&json!({"other": 1})).unwrap(), None);
        assert_eq!(token_in_refresh(&json!(null)).unwrap(), None);
        for bad in [
            json!(""),
            json!({"token": 42}),
            json!("bearer "),
            json!([1]),
        ] {
            let error = token_in_refresh(&bad).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn the_bearer_prefix_is_cut_whatever_its_case_and_only_once() {
        assert_eq!(token_text(json!("BEARER x")).unwrap(), "x");
        assert_eq!(token_text(json!("Bearer Bearer x")).unwrap(), "Bearer x");
        assert_eq!(token_text(json!("Bearerx")).unwrap(), "Bearerx");
        // A multi-byte character across the prefix's end is no prefix.
        assert_eq!(token_text(json!("Beare\u{e9}x")).unwrap(), "Beare\u{e9}x");
    }
}
