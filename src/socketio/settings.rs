//! What a [`SocketAuth`](super::SocketAuth) was configured with, shared by
//! the middleware, every socket it let in, and their watch tasks.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::auth::Authenticator;

/// A namespace's requirement on the claims: the check, and the scope a
/// refusal names.
pub(crate) struct Requirement<T> {
    pub(crate) is_met: Box<dyn Fn(&T) -> bool + Send + Sync>,
    pub(crate) scope: Box<str>,
}

/// The names of the events jwt-guard sends and handles on a socket.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    /// Sent before a socket whose token stopped being valid is disconnected.
    pub(crate) revoked: Cow<'static, str>,
    /// Sent for a refused event that asked for no ack.
    pub(crate) error: Cow<'static, str>,
    /// Handled: a fresh token for the open socket; `None` when off.
    pub(crate) refresh: Option<Cow<'static, str>>,
}

pub(crate) struct Settings<T> {
    pub(crate) authenticator: Authenticator<T>,
    pub(crate) optional: bool,
    pub(crate) requirement: Option<Requirement<T>>,
    pub(crate) events: Events,
}

impl<T> fmt::Debug for Settings<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("authenticator", &self.authenticator)
            .field("optional", &self.optional)
            .field("requirement", &self.requirement.as_ref().map(|r| &r.scope))
            .field("events", &self.events)
            .finish()
    }
}

pub(crate) type SharedSettings<T> = Arc<Settings<T>>;
