//! A socket's authentication once it is let in: its current claims, shared
//! with the extractors; the task that ends the socket when its token stops
//! being valid; the reauthentication event; the answers to refused events.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::de::DeserializeOwned;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;
use tokio::sync::watch;
use tokio::time::Instant;

use super::handshake;
use super::settings::SharedSettings;
use crate::auth::{Claims, Credential};
use crate::claims::NumericDate;
use crate::error::{AuthError, AuthErrorKind};
use crate::observe;
use crate::watch::WatchEnd;

/// How long the task that ends a socket waits for one still joining its
/// namespace (let in by the middleware a moment ago) to join it.
const JOIN_DEADLINE: Duration = Duration::from_secs(10);
/// How often the task retries a disconnect refused by a full send buffer.
const END_RETRY: Duration = Duration::from_millis(20);
/// How often a watch task checks that its socket is still there, for a
/// socket kept alive after it closed (a handler holding its `SocketRef`).
const CLOSED_CHECK: Duration = Duration::from_secs(15);

/// A socket's authentication, in its extensions.
pub(crate) struct Session<T> {
    /// The claims handlers see; `None` for an anonymous socket. Replaced by
    /// a reauthentication; the watch task follows it.
    current: watch::Sender<Option<Claims<T>>>,
    /// How the watch ended (a [`WatchEnd`] code + 1), 0 while it runs:
    /// from then on handlers are refused, even before the socket is gone.
    ended: AtomicU8,
    /// Held through a reauthentication: one at a time, in order.
    refreshing: tokio::sync::Mutex<()>,
    settings: SharedSettings<T>,
}

impl<T: DeserializeOwned + Send + Sync + 'static> Session<T> {
    /// Starts the session of a socket let in with `claims`: stored in the
    /// socket's extensions, watched, and open to reauthentication.
    pub(crate) fn start<A: Adapter>(
        socket: &Arc<Socket<A>>,
        settings: SharedSettings<T>,
        claims: Option<Claims<T>>,
    ) {
        let (current, watched) = watch::channel(claims);
        let session = Arc::new(Self {
            current,
            ended: AtomicU8::new(0),
            refreshing: tokio::sync::Mutex::new(()),
            settings: settings.clone(),
        });
        socket.extensions.insert(session.clone());
        if let Some(event) = &settings.events.refresh {
            socket.on(
                event.clone(),
                Reauthenticate::<T> {
                    settings: settings.clone(),
                },
            );
        }
        tokio::spawn(watch_socket(
            Arc::downgrade(socket),
            Arc::downgrade(&session),
            watched,
            settings,
        ));
    }
}

impl<T: Send + Sync + 'static> Session<T> {
    /// The session of `socket`, when a [`SocketAuth`](super::SocketAuth) let it in.
    pub(crate) fn of<A: Adapter>(socket: &Socket<A>) -> Option<Arc<Self>> {
        socket.extensions.get::<Arc<Self>>()
    }

    /// The claims for a handler now (`None`: anonymous): refused once the
    /// token stopped being valid, even if the socket is not gone yet.
    pub(crate) fn claims(&self) -> Result<Option<Claims<T>>, AuthError> {
        if let Some(end) = self.end() {
            return Err(ended(end));
        }
        let claims = self.current.borrow().clone();
        // At `exp` itself, as the watch ends the socket, not `exp` plus the
        // leeway a request gets.
        if let Some(exp) = claims.as_ref().and_then(|c| c.registered().expires_at())
            && exp <= NumericDate::now()
        {
            return Err(ended(WatchEnd::Expired));
        }
        Ok(claims)
    }

    /// The claims last known, valid or not: for disconnect handlers, which
    /// run for sockets ended by revocation too.
    pub(crate) fn last_claims(&self) -> Option<Claims<T>> {
        self.current.borrow().clone()
    }

    /// The name of the event refused events are told with, when they asked
    /// for no ack.
    pub(crate) fn error_event(&self) -> &str {
        &self.settings.events.error
    }

    fn end(&self) -> Option<WatchEnd> {
        match self.ended.load(Ordering::Acquire) {
            1 => Some(WatchEnd::Revoked),
            2 => Some(WatchEnd::Expired),
            3 => Some(WatchEnd::Unverifiable),
            _ => None,
        }
    }

    fn set_end(&self, end: WatchEnd) {
        let code = match end {
            WatchEnd::Revoked => 1,
            WatchEnd::Expired => 2,
            _ => 3,
        };
        self.ended.store(code, Ordering::Release);
    }
}

/// Why a handler of a socket whose watch has ended is refused.
fn ended(end: WatchEnd) -> AuthError {
    match end {
        WatchEnd::Revoked => AuthError::new(AuthErrorKind::Revoked, "the token has been revoked"),
        WatchEnd::Expired => AuthError::new(AuthErrorKind::Expired, "the token has expired"),
        _ => AuthError::new(
            AuthErrorKind::StoreUnavailable,
            "the token's revocation status could not be checked",
        ),
    }
}

/// Watches the socket's current token until it stops being valid, then
/// ends the socket. Returns early when the socket is gone (its session,
/// and with it the sender of `current`, dropped).
async fn watch_socket<A: Adapter, T: Send + Sync + 'static>(
    socket: Weak<Socket<A>>,
    session: Weak<Session<T>>,
    mut current: watch::Receiver<Option<Claims<T>>>,
    settings: SharedSettings<T>,
) {
    let mut joined = false;
    let end = 'watching: loop {
        let claims = current.borrow_and_update().clone();
        // Anonymous: nothing to watch until a reauthentication.
        let mut watch =
            claims.map(|claims| settings.authenticator.revoker().watch(claims.registered()));
        loop {
            tokio::select! {
                end = async {
                    match &mut watch {
                        Some(watch) => watch.ended().await,
                        None => std::future::pending().await,
                    }
                } => break 'watching end,
                changed = current.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue 'watching;
                }
                () = tokio::time::sleep(CLOSED_CHECK) => {
                    if closed(&socket, &mut joined) {
                        return;
                    }
                }
            }
        }
    };
    let Some(session) = session.upgrade() else {
        return;
    };
    session.set_end(end);
    drop(session);
    end_socket(&socket, &settings.events.revoked, end).await;
}

/// Whether the socket is gone: dropped, or closed after it had joined its
/// namespace (`joined` remembers that it had).
fn closed<A: Adapter>(socket: &Weak<Socket<A>>, joined: &mut bool) -> bool {
    match socket.upgrade() {
        None => true,
        Some(socket) if socket.connected() => {
            *joined = true;
            false
        }
        Some(_) => *joined,
    }
}

/// Tells the client why (`{"reason": …}`), then disconnects the socket.
///
/// A socket let in a moment ago may not have joined its namespace yet: it
/// is waited for. A full send buffer (a client that stopped reading)
/// refuses the disconnect packet: the socket leaves its rooms at once, and
/// the disconnect is retried until it goes through or the socket is gone
/// (Engine.IO closes a connection whose buffer stays full past a ping).
async fn end_socket<A: Adapter>(socket: &Weak<Socket<A>>, event: &str, end: WatchEnd) {
    let joining_until = Instant::now() + JOIN_DEADLINE;
    let mut joined = false;
    let mut told = false;
    let mut left_rooms = false;
    loop {
        if closed(socket, &mut joined) {
            return;
        }
        let Some(socket) = socket.upgrade() else {
            return;
        };
        if socket.connected() {
            if !told {
                told = socket
                    .emit(event, &serde_json::json!({ "reason": end.code() }))
                    .is_ok();
            }
            let id = socket.id;
            if socket.clone().disconnect().is_ok() {
                tracing::debug!(socket = %id, reason = end.code(), "disconnected a Socket.IO socket");
                return;
            }
            if !left_rooms {
                left_rooms = true;
                socket.leave_all();
                tracing::debug!(socket = %id, "a Socket.IO socket to end has a full send buffer");
            }
        } else if Instant::now() >= joining_until {
            // Let in, never joined (a later middleware refused it).
            return;
        }
        drop(socket);
        tokio::time::sleep(END_RETRY).await;
    }
}

/// Answers a refused event: with an error ack when the client asked for
/// one, with the error event (naming the refused event) otherwise.
pub(crate) fn answer_refused<A: Adapter>(
    socket: &Arc<Socket<A>>,
    value: &mut Value,
    ack_id: &Option<i64>,
    error_event: &str,
    error: &AuthError,
) {
    if ack_id.is_some() {
        let Ok(ack) = AckSender::from_message_parts(socket, value, ack_id);
        let _ = ack.send(&error.socketio_ack());
    } else {
        let event = Event::from_message_parts(socket, value, ack_id)
            .map_or_else(|_| String::new(), |e| e.0);
        let _ = socket.emit(error_event, &error.socketio_event(&event));
    }
}

/// The reauthentication event's handler: a fresh token (a string, or
/// `{"token": …}`) replaces the socket's, which the watch then follows.
struct Reauthenticate<T> {
    settings: SharedSettings<T>,
}

/// Distinguishes the handler's `MessageHandler` impl from socketioxide's
/// impls for closures.
pub(crate) enum Reauthentication {}

impl<A, T> MessageHandler<A, Reauthentication> for Reauthenticate<T>
where
    A: Adapter,
    T: DeserializeOwned + Send + Sync + 'static,
{
    fn call(&self, socket: Arc<Socket<A>>, mut value: Value, ack_id: Option<i64>) {
        let Ok(TryData(payload)) =
            TryData::<serde_json::Value>::from_message_parts(&socket, &mut value, &ack_id);
        let settings = self.settings.clone();
        tokio::spawn(async move {
            let outcome = reauthenticate(&socket, &settings, payload.ok()).await;
            let event = settings.events.refresh.as_deref().unwrap_or_default();
            match outcome {
                Ok(exp) if ack_id.is_some() => {
                    let Ok(ack) = AckSender::from_message_parts(&socket, &mut value, &ack_id);
                    let _ = ack.send(&serde_json::json!({ "ok": true, "exp": exp }));
                }
                Ok(_) => {}
                Err(error) if ack_id.is_some() => {
                    let Ok(ack) = AckSender::from_message_parts(&socket, &mut value, &ack_id);
                    let _ = ack.send(&error.socketio_ack());
                }
                Err(error) => {
                    let _ = socket.emit(&*settings.events.error, &error.socketio_event(event));
                }
            }
        });
    }
}

/// Verifies the fresh token and puts it in the socket's session: its
/// `exp`, or why it was refused (the socket keeps its token then).
async fn reauthenticate<A: Adapter, T: DeserializeOwned + Send + Sync + 'static>(
    socket: &Socket<A>,
    settings: &SharedSettings<T>,
    payload: Option<serde_json::Value>,
) -> Result<Option<i64>, AuthError> {
    let Some(session) = Session::<T>::of(socket) else {
        // Not ours: registered with a session, and sessions are not removed.
        return Err(AuthError::new(
            AuthErrorKind::MissingLayer,
            "the socket has no jwt-guard session",
        ));
    };
    let _one_at_a_time = session.refreshing.lock().await;
    let token = match payload.as_ref().map(handshake::token_in_refresh) {
        Some(Ok(Some(token))) => token,
        Some(Err(error)) => return Err(recorded(error)),
        None | Some(Ok(None)) => return Err(recorded(AuthError::missing_token())),
    };
    let fresh = settings
        .authenticator
        .authenticate(Credential::bearer(token))
        .await?;
    if let Some(end) = session.end() {
        return Err(recorded(ended(end)));
    }
    if let Some(old) = session.last_claims() {
        let (was, is) = (old.registered(), fresh.registered());
        if was.sub() != is.sub() || was.issuer() != is.issuer() {
            return Err(recorded(
                AuthError::new(
                    AuthErrorKind::InvalidClaim,
                    "the token is for another subject than the socket's",
                )
                .with_context(fresh.verified().error_context()),
            ));
        }
    }
    if let Some(requirement) = &settings.requirement
        && !(requirement.is_met)(&fresh)
    {
        return Err(recorded(
            fresh
                .refuse(AuthError::insufficient_scope(&*requirement.scope))
                .error,
        ));
    }
    let exp = fresh.registered().expires_at().map(NumericDate::as_secs);
    session.current.send_replace(Some(fresh));
    Ok(exp)
}

/// A refusal made here rather than by the pipeline, recorded as the
/// pipeline records its own.
fn recorded(error: AuthError) -> AuthError {
    observe::refused(&error);
    error
}
