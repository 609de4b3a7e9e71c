//! The revocation step of the pipeline: the one place that asks a store
//! whether a verified token is revoked, and what its answer means.

use std::fmt;
use std::sync::Arc;

use crate::error::{AuthError, AuthErrorKind};
use crate::observe;
use crate::store::{Lookup, RevocationStore, StoreError, StoreErrorKind, TokenRef, TokenStatus};

/// A revocation store, and whether its failures let verified tokens through.
#[derive(Clone)]
pub(crate) struct RevocationCheck {
    store: Arc<dyn RevocationStore>,
    fail_open: bool,
}

impl fmt::Debug for RevocationCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationCheck")
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

impl RevocationCheck {
    pub(crate) fn new(store: Arc<dyn RevocationStore>, fail_open: bool) -> Self {
        Self { store, fail_open }
    }

    pub(crate) fn store(&self) -> &Arc<dyn RevocationStore> {
        &self.store
    }

    /// The store's answer, at once when it has one in memory.
    pub(crate) fn lookup(&self, token: &TokenRef<'_>) -> Lookup {
        self.store.check(token)
    }

    /// The store's answer, after its round trip if it needs one.
    pub(crate) async fn status(&self, token: &TokenRef<'_>) -> Result<TokenStatus, StoreError> {
        match self.lookup(token) {
            Lookup::Ready(status) => status,
            Lookup::Pending(lookup) => lookup.await,
        }
    }

    /// What the store's answer means for a request: revoked tokens are
    /// refused, and when the store cannot tell, the request is refused with
    /// 503 (fail-closed) unless fail-open was chosen. A store that refuses
    /// its configuration (a wrong password) is never failed open: that is
    /// not an outage to ride out but revocation switched off for good.
    pub(crate) fn decide(&self, status: Result<TokenStatus, StoreError>) -> Result<(), AuthError> {
        if let Err(error) = &status {
            observe::store_error(error.kind().name());
        }
        match status {
            Ok(TokenStatus::Active) => Ok(()),
            Ok(TokenStatus::Revoked) => Err(AuthError::new(
                AuthErrorKind::Revoked,
                "the token has been revoked",
            )),
            Err(error) if self.fail_open && error.kind() != StoreErrorKind::Misconfigured => {
                warn_fail_open(&error);
                Ok(())
            }
            Err(error) => {
                tracing::trace!(%error, "revocation store failed");
                Err(AuthError::new(
                    AuthErrorKind::StoreUnavailable,
                    "revocation status is unavailable; retry later",
                ))
            }
        }
    }
}

/// Logs a fail-open pass at warn, at most once a second: an outage must be
/// visible without flooding the logs with one line per request.
fn warn_fail_open(error: &StoreError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(%error, "revocation store failed; letting verified tokens through (fail-open)");
    }
}
