//! Watching a token after the request: for WebSockets, server-sent events
//! and other connections that outlive the check made when they opened.
//!
//! A [`TokenWatch`] resolves when the token it watches stops being valid:
//! when it is revoked (logout, "log out everywhere", a refresh family
//! revoked for reuse), when it expires, or when the store has been unable
//! to answer for too long to keep trusting it. Await it next to the
//! connection's work and close the connection when it fires.
//!
//! Stores that can say when their revocations change (the
//! [`MemoryStore`](crate::store::MemoryStore) and a mirrored Redis store)
//! wake watchers at once; with other stores a watch re-checks every
//! [`poll_interval`](TokenWatch::poll_interval) (250 ms by default).
//!
//! ```
//! use std::time::Duration;
//! use jwt_guard::store::{MemoryStore, RevocationStore, TokenRef};
//! use jwt_guard::watch::{TokenWatch, WatchEnd};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let now = std::time::SystemTime::now();
//! let token = TokenRef::new()
//!     .with_jti("session-1")
//!     .with_sub("alice")
//!     .with_issued_at(now)
//!     .with_expires_at(now + Duration::from_secs(900));
//! let mut watch = TokenWatch::new(std::sync::Arc::new(store.clone()), &token);
//!
//! store.revoke_token("session-1", Some("alice"), now + Duration::from_secs(900)).await?;
//! assert_eq!(watch.ended().await, WatchEnd::Revoked);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::RevocationCheck;
use crate::claims::RegisteredClaims;
use crate::store::{RevocationStore, Revoker, TokenRef, TokenStatus};

/// Why a watched token stopped being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEnd {
    /// The token was revoked.
    Revoked,
    /// The token reached its `exp`.
    Expired,
    /// The store could not answer for longer than
    /// [`unverifiable_after`](TokenWatch::unverifiable_after).
    Unverifiable,
}

impl WatchEnd {
    /// A machine-readable code: `revoked`, `expired` or `unverifiable` (the
    /// `reason` of the Socket.IO `auth_revoked` event).
    pub fn code(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Unverifiable => "unverifiable",
        }
    }

    /// A short reason for a WebSocket close frame (close code 1008, policy
    /// violation, suits all three).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Revoked => "token revoked",
            Self::Expired => "token expired",
            Self::Unverifiable => "token could not be checked",
        }
    }
}

impl fmt::Display for WatchEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

// Here rather than beside `Revoker`: the store sits below the watch.
impl Revoker {
    /// Watches a verified token until it is revoked or expires: for a
    /// WebSocket or any connection that outlives its request. See
    /// [`TokenWatch`].
    pub fn watch(&self, token: &RegisteredClaims) -> TokenWatch {
        TokenWatch::new(self.store().clone(), &token.token_ref())
    }
}

/// Watches one token until it stops being valid. See the [module docs](self).
pub struct TokenWatch {
    revocation: RevocationCheck,
    jti: Option<Box<str>>,
    sub: Option<Box<str>>,
    issued_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    changes: Option<watch::Receiver<()>>,
    poll_interval: Duration,
    unverifiable_after: Duration,
}

impl fmt::Debug for TokenWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenWatch")
            .field("sub", &self.sub)
            .field("expires_at", &self.expires_at)
            .field("notified", &self.changes.is_some())
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl TokenWatch {
    /// Watches `token` (from
    /// [`RegisteredClaims::token_ref`](crate::RegisteredClaims::token_ref)) in `store`.
    pub fn new(store: Arc<dyn RevocationStore>, token: &TokenRef<'_>) -> Self {
        let changes = store.changes();
        Self {
            jti: token.jti.map(Box::from),
            sub: token.sub.map(Box::from),
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            changes,
            // Never fail-open: a watch that cannot check ends instead.
            revocation: RevocationCheck::new(store, false),
            poll_interval: Duration::from_millis(250),
            unverifiable_after: Duration::from_secs(5),
        }
    }

    /// How often to re-check when the store sends no change signals (default
    /// 250 ms); with signals (which also mark a store losing its state),
    /// re-checks happen on every signal and otherwise every 5 s or every
    /// `interval`, whichever is longer. While the store cannot answer, the
    /// watch re-checks every `interval`.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How long the store may fail to answer before the watch gives up on
    /// the token (default 5 s). A revoked token is never let through: while
    /// the store cannot answer nothing new is learnt, and after this long
    /// the watch ends with [`WatchEnd::Unverifiable`].
    #[must_use]
    pub fn unverifiable_after(mut self, after: Duration) -> Self {
        self.unverifiable_after = after;
        self
    }

    /// The token's status now; `None` when the store cannot tell.
    async fn status(&self) -> Option<TokenStatus> {
        let mut token = TokenRef::new();
        token.jti = self.jti.as_deref();
        token.sub = self.sub.as_deref();
        token.issued_at = self.issued_at;
        token.expires_at = self.expires_at;
        match self.revocation.status(&token).await {
            Ok(status) => Some(status),
            Err(error) => {
                tracing::debug!(%error, "a token watch could not check its token");
                None
            }
        }
    }

    /// Resolves when the token stops being valid. Cancel-safe: drop the
    /// future to stop watching, call again to go on.
    pub async fn ended(&mut self) -> WatchEnd {
        let expiry = self.expires_at.map(|exp| {
            let left = exp
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            Instant::now() + left
        });
        let interval = if self.changes.is_some() {
            self.poll_interval.max(Duration::from_secs(5))
        } else {
            self.poll_interval
        };
        let mut failing_since: Option<Instant> = None;
        loop {
            match self.status().await {
                Some(TokenStatus::Active) => failing_since = None,
                Some(_) => return WatchEnd::Revoked,
                None => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.unverifiable_after {
                        return WatchEnd::Unverifiable;
                    }
                }
            }
            if expiry.is_some_and(|at| at <= Instant::now()) {
                return WatchEnd::Expired;
            }
            let wait = if failing_since.is_some() {
                self.poll_interval.min(interval)
            } else {
                interval
            };
            let until = expiry.map_or(Instant::now() + wait, |at| at.min(Instant::now() + wait));
            let changes = self.changes.as_mut();
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                changed = async {
                    match changes {
                        Some(changes) => changes.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if changed.is_err() {
                        // The store is gone: poll from now on.
                        self.changes = None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn token(now: SystemTime, ttl: Duration) -> TokenRef<'static> {
        TokenRef::new()
            .with_jti("j")
            .with_sub("alice")
            .with_issued_at(now)
            .with_expires_at(now + ttl)
    }

    #[tokio::test]
    async fn a_revocation_ends_the_watch_at_once() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let mut watch = TokenWatch::new(
            Arc::new(store.clone()),
            &token(now, Duration::from_secs(60)),
        )
        .poll_interval(Duration::from_secs(3600));
        let revoker = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            revoker
                .revoke_subject("alice", SystemTime::now())
                .await
                .unwrap();
        });
        let started = std::time::Instant::now();
        assert_eq!(watch.ended().await, WatchEnd::Revoked);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn expiry_ends_the_watch() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let mut watch = TokenWatch::new(Arc::new(store), &token(now, Duration::from_millis(200)));
        let started = std::time::Instant::now();
        assert_eq!(watch.ended().await, WatchEnd::Expired);
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    /// A store that never answers, as Redis down in direct mode.
    struct Silent;

    impl RevocationStore for Silent {
        fn check(&self, _: &TokenRef<'_>) -> crate::store::Lookup {
            crate::store::Lookup::Ready(Err(crate::store::StoreError::new(
                crate::store::StoreErrorKind::Unavailable,
            )))
        }

        fn revoke_token<'a>(
            &'a self,
            _: &'a str,
            _: Option<&'a str>,
            _: SystemTime,
        ) -> crate::store::BoxFuture<'a, Result<(), crate::store::StoreError>> {
            Box::pin(async { Ok(()) })
        }

        fn revoke_subject<'a>(
            &'a self,
            _: &'a str,
            _: SystemTime,
        ) -> crate::store::BoxFuture<'a, Result<(), crate::store::StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_store_silent_for_too_long_ends_the_watch() {
        let now = SystemTime::now();
        let mut watch = TokenWatch::new(Arc::new(Silent), &token(now, Duration::from_secs(60)))
            .poll_interval(Duration::from_millis(20))
            .unverifiable_after(Duration::from_millis(200));
        let started = std::time::Instant::now();
        assert_eq!(watch.ended().await, WatchEnd::Unverifiable);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn another_users_revocation_does_not_end_the_watch() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let mut watch = TokenWatch::new(
            Arc::new(store.clone()),
            &token(now, Duration::from_secs(60)),
        );
        store
            .revoke_subject("bob", SystemTime::now())
            .await
            .unwrap();
        store
            .revoke_token("other", Some("alice"), now + Duration::from_secs(60))
            .await
            .unwrap();
        let ended = tokio::time::timeout(Duration::from_millis(300), watch.ended()).await;
        assert!(ended.is_err(), "the watch ended: {ended:?}");
    }
}
