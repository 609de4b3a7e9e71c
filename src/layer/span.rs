//! The span an accepted request's inner service runs in.

use tracing::Span;

use crate::verify::Verified;

/// The span of an accepted request, boxed so that the response future stays
/// small, and `None` (no allocation) when no subscriber wants it.
pub(crate) type AuthSpan = Option<Box<Span>>;

/// `jwt_guard.auth` at debug, target `jwt_guard::auth`, with `sub` and
/// `kid`: never the token, its signature or any other claim.
pub(crate) fn auth_span<T>(verified: &Verified<T>) -> AuthSpan {
    let span = tracing::debug_span!(
        target: "jwt_guard::auth",
        "jwt_guard.auth",
        sub = verified.registered().sub(),
        kid = verified.header().kid(),
    );
    // A disabled span is `Span::none()`: the fields were never evaluated.
    (!span.is_disabled()).then(|| Box::new(span))
}
