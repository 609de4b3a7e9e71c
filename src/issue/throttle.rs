//! Login throttling by username and client address.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::store::{Attempt, StoreError, ThrottleStore};

/// Limits login attempts per username and client address: by default 5 in
/// a 15-minute window, then refused until the window closes, even with the
/// right password.
///
/// Every attempt counts when it is made ([`attempt`](Self::attempt)); a
/// successful login clears the count ([`succeeded`](Self::succeeded)). The
/// counts live in the store (a [`MemoryStore`](crate::store::MemoryStore), or
/// Redis so that every instance agrees). Keys are hashed, so the store never
/// holds a username. Another user, or the same user from another address
/// (another IPv6 /64), is not affected.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use jwt_guard::issue::LoginThrottle;
/// use jwt_guard::store::{Attempt, MemoryStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let throttle = LoginThrottle::new(MemoryStore::new());
/// let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// for _ in 0..5 {
///     assert!(matches!(throttle.attempt("alice", ip).await?, Attempt::Allowed { .. }));
/// }
/// assert!(matches!(throttle.attempt("alice", ip).await?, Attempt::Blocked { .. }));
/// assert!(matches!(throttle.attempt("bob", ip).await?, Attempt::Allowed { .. }));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LoginThrottle {
    store: Arc<dyn ThrottleStore>,
    limit: u32,
    window: Duration,
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    /// A throttle of 5 attempts per 15 minutes, counted in `store`.
    pub fn new(store: impl ThrottleStore) -> Self {
        Self::shared(Arc::new(store))
    }

    /// The same, on a store shared with other parts of the service.
    pub fn shared(store: Arc<dyn ThrottleStore>) -> Self {
        Self {
            store,
            limit: 5,
            window: Duration::from_secs(15 * 60),
        }
    }

    /// Allows `limit` attempts per `window` (at least one attempt, at least
    /// one second).
    pub fn limit(mut self, limit: u32, window: Duration) -> Result<Self, ConfigError> {
        if limit == 0 || window < Duration::from_secs(1) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "a login throttle needs at least one attempt per window of at least a second",
            ));
        }
        self.limit = limit;
        self.window = window;
        Ok(self)
    }

    /// Counts an attempt by `username` from `client`, and decides it. Call
    /// it before checking the password.
    pub async fn attempt(&self, username: &str, client: IpAddr) -> Result<Attempt, StoreError> {
        self.store
            .attempt(&key(username, client)?, self.limit, self.window)
            .await
    }

    /// Clears the count after a successful login.
    pub async fn succeeded(&self, username: &str, client: IpAddr) -> Result<(), StoreError> {
        self.store.reset(&key(username, client)?).await
    }
}

/// The store key: a hash of the length-prefixed username and the address,
/// so that no pair of inputs can collide by concatenation. An IPv6 client
/// counts by its /64, which one host usually holds whole.
fn key(username: &str, client: IpAddr) -> Result<String, StoreError> {
    let client = match client {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(
                v6.to_bits() & !((1u128 << 64) - 1),
            )),
        },
        v4 => v4,
    };
    crate::crypto::sha256_b64url(format!("{}:{username}|{client}", username.len()).as_bytes())
        .map_err(|e| StoreError::with_source(crate::store::StoreErrorKind::Protocol, e))
}

/// A refused login: answers `429 Too Many Requests` with `Retry-After` (in
/// whole seconds, rounded up) and `{"error": "too_many_attempts"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until the window closes.
    pub retry_after: Duration,
}

impl Throttled {
    /// `Retry-After`, in whole seconds, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too many login attempts; retry in {} s",
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for Throttled {}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Throttled {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({
            "error": "too_many_attempts",
            "error_description": format!(
                "too many failed logins; try again in {} s",
                self.retry_after_secs()
            ),
        });
        let mut response = (
            http::StatusCode::TOO_MANY_REQUESTS,
            [(http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, self.retry_after_secs().into());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_user_and_address_and_ignore_ipv4_mapping() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(key("alice", v4).unwrap(), key("alice", mapped).unwrap());
        assert_ne!(key("alice", v4).unwrap(), key("bob", v4).unwrap());
        assert_ne!(
            key("alice", v4).unwrap(),
            key("alice", "192.0.2.2".parse().unwrap()).unwrap()
        );
        assert!(!key("alice", v4).unwrap().contains("alice"));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key("alice", a).unwrap(), key("alice", b).unwrap());
        assert_ne!(key("alice", a).unwrap(), key("alice", c).unwrap());
    }

    #[test]
    fn retry_after_rounds_up() {
        let throttled = Throttled {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(throttled.retry_after_secs(), 2);
        assert_eq!(
            Throttled {
                retry_after: Duration::ZERO
            }
            .retry_after_secs(),
            1
        );
    }
}
