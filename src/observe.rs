//! Where the crate records its metrics (the `metrics` module, with the
//! `metrics` feature). Without the feature every function here is empty and
//! [`Timer`] has no field, so nothing is measured and nothing is left in the
//! hot path.

use crate::error::AuthError;
#[cfg(feature = "metrics")]
use crate::error::AuthErrorKind;

/// How the pipeline decided on a request.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Accepted,
    Rejected,
    Anonymous,
}

/// When the pipeline started on a request: every decision ends it once,
/// with [`accepted`](Self::accepted), [`refused`](Self::refused) or
/// [`anonymous`](Self::anonymous).
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

    /// A token accepted: counted, and its latency recorded.
    #[inline]
    pub(crate) fn accepted(self) {
        self.decided(Outcome::Accepted);
    }

    /// A request refused: its debug event, its count by reason, its latency.
    #[inline]
    pub(crate) fn refused(self, error: &AuthError) {
        refused(error);
        self.decided(Outcome::Rejected);
    }

    /// A request without a token let through by optional authentication.
    #[inline]
    pub(crate) fn anonymous(self) {
        self.decided(Outcome::Anonymous);
    }

    #[inline]
    fn decided(self, outcome: Outcome) {
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

/// A refused request, by the pipeline or by a guard behind it: one debug
/// event (reason, and `kid`, `iss` and `sub` where known; never the token)
/// and one count.
pub(crate) fn refused(error: &AuthError) {
    let context = error.context();
    tracing::debug!(
        reason = ?error.kind(),
        description = %error.description(),
        kid = context.and_then(|c| c.kid.as_deref()),
        iss = context.and_then(|c| c.iss.as_deref()),
        sub = context.and_then(|c| c.sub.as_deref()),
        "jwt-guard rejected a request"
    );
    #[cfg(feature = "metrics")]
    ::metrics::counter!(crate::metrics::REQUESTS_REJECTED, "reason" => reason(error.kind()))
        .increment(1);
}

/// A revocation lookup of the pipeline that failed, by the snake-case name
/// of its `StoreErrorKind`.
#[inline]
pub(crate) fn store_error(kind: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => kind).increment(1);
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
        AuthErrorKind::KeysUnavailable => "keys_unavailable",
        AuthErrorKind::MissingLayer => "missing_layer",
        AuthErrorKind::KeyBinding => "key_binding",
        AuthErrorKind::InvalidDpopProof => "invalid_dpop_proof",
        AuthErrorKind::UseDpopNonce => "use_dpop_nonce",
    }
}
