//! Where the crate records its metrics (the `metrics` module, with the
//! `metrics` feature). Without the feature every function here is empty and
//! [`Timer`] has no field, so nothing is measured and nothing is left in the
//! hot path.

use crate::error::AuthErrorKind;
use crate::store::StoreErrorKind;

/// How the layer decided on a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Accepted,
    Rejected,
    Anonymous,
}

/// When the layer started on a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    start: std::time::Instant,
}

impl Timer {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            start: std::time::Instant::now(),
        }
    }

    /// Records the layer's decision: its latency, and an accepted request.
    /// Rejections are counted where their response is built (`rejected`),
    /// so that guards' refusals are counted too.
    #[inline]
    pub(crate) fn decided(self, outcome: Outcome) {
        #[cfg(feature = "metrics")]
        {
            use crate::metrics::{AUTH_DURATION, REQUESTS_ACCEPTED};
            if let Outcome::Accepted = outcome {
                ::metrics::counter!(REQUESTS_ACCEPTED).increment(1);
            }
            let outcome = match outcome {
                Outcome::Accepted => "accepted",
                Outcome::Rejected => "rejected",
                Outcome::Anonymous => "anonymous",
            };
            ::metrics::histogram!(AUTH_DURATION, "outcome" => outcome)
                .record(self.start.elapsed().as_secs_f64());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = outcome;
    }
}

/// A refused request.
#[inline]
pub(crate) fn rejected(kind: AuthErrorKind) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(crate::metrics::REQUESTS_REJECTED, "reason" => reason(kind)).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// A revocation lookup of the layer that failed.
#[inline]
pub(crate) fn store_error(kind: StoreErrorKind) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => store_kind(kind)).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// A completed reload of the Redis mirror.
#[cfg(feature = "redis")]
#[inline]
pub(crate) fn mirror_resync() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(crate::metrics::MIRROR_RESYNCS).increment(1);
}

/// A JWKS fetch, successful or not.
#[cfg(feature = "jwks")]
#[inline]
pub(crate) fn jwks_refresh(success: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        crate::metrics::JWKS_REFRESHES,
        "result" => if success { "success" } else { "failure" }
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = success;
}

/// The `reason` label: stable, and exhaustive on purpose, so that a new
/// kind cannot be added without its name.
#[cfg(feature = "metrics")]
fn reason(kind: AuthErrorKind) -> &'static str {
    match kind {
        AuthErrorKind::MissingToken => "missing_token",
        AuthErrorKind::InvalidRequest => "invalid_request",
        AuthErrorKind::Malformed => "malformed",
        AuthErrorKind::TooLong => "too_long",
        AuthErrorKind::UnsupportedAlgorithm => "unsupported_algorithm",
        AuthErrorKind::UnknownKey => "unknown_key",
        AuthErrorKind::AmbiguousKey => "ambiguous_key",
        AuthErrorKind::AlgorithmMismatch => "algorithm_mismatch",
        AuthErrorKind::InvalidSignature => "invalid_signature",
        AuthErrorKind::UnsupportedCritical => "unsupported_critical",
        AuthErrorKind::InvalidType => "invalid_type",
        AuthErrorKind::MissingClaim => "missing_claim",
        AuthErrorKind::InvalidClaim => "invalid_claim",
        AuthErrorKind::InvalidClaims => "invalid_claims",
        AuthErrorKind::Expired => "expired",
        AuthErrorKind::NotYetValid => "not_yet_valid",
        AuthErrorKind::IssuedInFuture => "issued_in_future",
        AuthErrorKind::InvalidIssuer => "invalid_issuer",
        AuthErrorKind::InvalidAudience => "invalid_audience",
        AuthErrorKind::Revoked => "revoked",
        AuthErrorKind::InsufficientScope => "insufficient_scope",
        AuthErrorKind::StoreUnavailable => "store_unavailable",
        AuthErrorKind::MissingLayer => "missing_layer",
    }
}

/// The `kind` label of a store error.
#[cfg(feature = "metrics")]
fn store_kind(kind: StoreErrorKind) -> &'static str {
    match kind {
        StoreErrorKind::Unavailable => "unavailable",
        StoreErrorKind::Timeout => "timeout",
        StoreErrorKind::NotSynchronized => "not_synchronized",
        StoreErrorKind::CapacityExceeded => "capacity_exceeded",
        StoreErrorKind::Protocol => "protocol",
    }
}
