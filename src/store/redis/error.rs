//! Redis client errors as [`StoreError`]s, and the bound on every call.

use std::time::Duration;

use redis::RedisError;

use crate::store::{StoreError, StoreErrorKind};

/// Maps a client error: connection trouble is `Unavailable` or `Timeout`;
/// a refusal of the configuration itself (a wrong password, a database
/// index the server does not have) is `Misconfigured`, which no retry
/// mends; a deployment in transition (a failover: see [`in_transition`]) is
/// `Unavailable`; anything else Redis answered (ACL, wrong type, script
/// error) is `Protocol`.
pub(super) fn store_error(error: RedisError) -> StoreError {
    let refuses_configuration = error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("WRONGPASS" | "NOAUTH"))
        || (error.code() == Some("ERR")
            && error
                .detail()
                .is_some_and(|detail| detail.contains("DB index")));
    let kind = if refuses_configuration {
        StoreErrorKind::Misconfigured
    } else if in_transition(&error) {
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

/// Whether `error` is a deployment between two states, which a later
/// call (another connection, the next topology) gets past: a failover or a
/// master judged down, seen from a Sentinel (no valid master known), a
/// Cluster (`CLUSTERDOWN`, `MASTERDOWN`, `TRYAGAIN`, no node for a slot) or
/// the server itself (`READONLY` or `WAIT` refused: the connection is to a
/// master since demoted; `LOADING`: a restarted server reading its data).
fn in_transition(error: &RedisError) -> bool {
    use redis::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::MasterNameNotFoundBySentinel
            | ErrorKind::NoValidReplicasFoundBySentinel
            | ErrorKind::ClusterConnectionNotFound
    ) || matches!(
        error.code(),
        Some("READONLY" | "CLUSTERDOWN" | "MASTERDOWN" | "TRYAGAIN" | "LOADING")
    ) || (error.code() == Some("ERR")
        && error
            .detail()
            .is_some_and(|detail| detail.starts_with("WAIT cannot be used with replica")))
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

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, RedisError, Value};

    use super::*;

    /// A server's error reply, as the client parses it.
    fn reply(line: &str) -> RedisError {
        match redis::parse_redis_value(format!("-{line}\r\n").as_bytes()) {
            Ok(Value::ServerError(error)) => error.into(),
            other => panic!("not an error reply: {other:?}"),
        }
    }

    #[test]
    fn a_deployment_in_transition_is_unavailable_not_a_protocol_error() {
        let transient = [
            RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "Master with given name not found in sentinel",
            )),
            RedisError::from((
                ErrorKind::NoValidReplicasFoundBySentinel,
                "No valid replicas found in sentinel",
            )),
            RedisError::from((ErrorKind::ClusterConnectionNotFound, "no connection")),
            reply("READONLY You can't write against a read only replica."),
            reply("CLUSTERDOWN The cluster is down"),
            reply(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            ),
            reply("TRYAGAIN Multiple keys request during rehashing of slot"),
            reply("LOADING Redis is loading the dataset in memory"),
            reply(
                "ERR WAIT cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.",
            ),
        ];
        for error in transient {
            let text = error.to_string();
            assert_eq!(
                store_error(error).kind(),
                StoreErrorKind::Unavailable,
                "{text}"
            );
        }
        let answered = [
            reply("ERR Error running script (call to f_0123): @user_script:1: oops"),
            reply("WRONGTYPE Operation against a key holding the wrong kind of value"),
            reply("NOPERM this user has no permissions to run the 'evalsha' command"),
        ];
        for error in answered {
            let text = error.to_string();
            assert_eq!(
                store_error(error).kind(),
                StoreErrorKind::Protocol,
                "{text}"
            );
        }
        assert_eq!(
            store_error(reply("WRONGPASS invalid username-password pair")).kind(),
            StoreErrorKind::Misconfigured
        );
    }
}
