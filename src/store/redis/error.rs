//! Redis client errors as [`StoreError`]s, and the bound on every call.

use std::time::Duration;

use redis::RedisError;

use crate::store::{StoreError, StoreErrorKind};

/// Maps a client error: connection trouble is `Unavailable` or `Timeout`;
/// a refusal of the configuration itself (a wrong password, a database
/// index the server does not have) is `Misconfigured`, which no retry
/// mends; `READONLY` (a demoted master) is `Unavailable`; anything else
/// Redis answered (ACL, wrong type, script error) is `Protocol`.
pub(super) fn store_error(error: RedisError) -> StoreError {
    let refuses_configuration = error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("WRONGPASS" | "NOAUTH"))
        || (error.code() == Some("ERR")
            && error
                .detail()
                .is_some_and(|detail| detail.contains("DB index")));
    let kind = if refuses_configuration {
        StoreErrorKind::Misconfigured
    } else if error.code() == Some("READONLY") {
        // A replica answered: the connection is to a master since demoted
        // (a failover); another connection finds the new master.
        StoreErrorKind::Unavailable
    } else if error.is_timeout() {
        StoreErrorKind::Timeout
    } else if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
    {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Protocol
    };
    StoreError::with_source(kind, error)
}

pub(super) async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| Err(StoreError::new(StoreErrorKind::Timeout)))
}

pub(super) fn protocol(message: &'static str) -> StoreError {
    StoreError::with_source(StoreErrorKind::Protocol, message)
}
