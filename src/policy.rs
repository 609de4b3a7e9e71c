//! Security policy numbers that more than one module applies, kept in one
//! place so that they cannot drift apart.
//!
//! A leaf: it imports nothing from the crate. The public constants are
//! re-exported where users know them ([`store::NO_EXP_REVOCATION`],
//! [`verify::DEFAULT_LEEWAY`]).
//!
//! [`store::NO_EXP_REVOCATION`]: crate::store::NO_EXP_REVOCATION
//! [`verify::DEFAULT_LEEWAY`]: crate::verify::DEFAULT_LEEWAY

use std::time::Duration;

/// How long a token without `exp` stays revoked: such a token never
/// expires, so its revocation can only be bounded by policy.
pub const NO_EXP_REVOCATION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long the memory and Redis stores keep a subject cut-off by default:
/// as long as a token without `exp` stays revoked, so that logging a user
/// out everywhere lasts as long as revoking their tokens one by one.
pub(crate) const DEFAULT_SUBJECT_RETENTION: Duration = NO_EXP_REVOCATION;

/// The default leeway for `exp`, `nbf` and `iat`: 30 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The largest leeway a validator or an issuer accepts: more than this
/// defeats short-lived tokens.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(10 * 60);
