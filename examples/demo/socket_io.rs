//! The demo's Socket.IO service, on the default path `/socket.io/`,
//! namespace `/`: the same tokens as the HTTP routes, checked by the same
//! pipeline; a socket is told `auth_revoked` and disconnected as soon as
//! its token is logged out (on any instance sharing Redis) or expires.
//!
//! - on connect: `welcome` with `{"sub": …, "roles": […]}`;
//! - `whoami` with an ack: `{"sub": …, "roles": […]}`;
//! - `admin:ping` with an ack: `{"ok": true}` for role `admin`,
//!   `{"error": "insufficient_scope"}` otherwise;
//! - `auth:refresh` with a fresh access token and an ack: the socket goes on
//!   with it (`{"ok": true, "exp": …}`).

use jwt_guard::socketio::SocketAuth;
use jwt_guard::{Authenticator, Claims, RequireRole, StandardClaims};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;

use super::Admin;

/// The Socket.IO layer, authenticating with `authenticator`.
pub fn layer(authenticator: Authenticator<StandardClaims>) -> SocketIoLayer {
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", on_connect.with(SocketAuth::new(authenticator)));
    layer
}

fn who(claims: &StandardClaims) -> Value {
    json!({ "sub": claims.sub, "roles": claims.roles })
}

async fn on_connect(socket: SocketRef, claims: Claims<StandardClaims>) {
    let _ = socket.emit("welcome", &who(&claims));
    socket.on(
        "whoami",
        async |claims: Claims<StandardClaims>, ack: AckSender| {
            let _ = ack.send(&who(&claims));
        },
    );
    socket.on(
        "admin:ping",
        async |_: RequireRole<Admin>, ack: AckSender| {
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
}
