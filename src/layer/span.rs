//! The span an accepted request's inner service runs in.

use tracing::Span;

use super::Claims;
use crate::verify::Verified;

/// The span of an accepted request, boxed so that the response future stays
/// small, and `None` (no allocation) when no subscriber wants it.
pub(crate) type AuthSpan = Option<Box<Span>>;

/// Makes the span of a request carrying these claims, reading them from
/// the request extensions: a plain function, so that the response future
/// need not name the claims type.
pub(crate) type MakeSpan = fn(&http::Extensions) -> AuthSpan;

/// `jwt_guard.auth` at debug, target `jwt_guard::auth`, with `sub` and
/// `kid`: never the token, its signature or any other claim.
pub(crate) fn auth_span<T>(verified: &Verified<T>) -> AuthSpan {
    let span = tracing::debug_span!(
        target: "jwt_guard::auth",
        "jwt_guard.auth",
        sub = verified.registered().sub(),
        kid = verified.header().kid.as_deref(),
    );
    // A disabled span is `Span::none()`: the fields were never evaluated.
    (!span.is_disabled()).then(|| Box::new(span))
}

/// The span of the request whose extensions hold `Claims<T>`.
pub(crate) fn span_from_extensions<T: Send + Sync + 'static>(
    extensions: &http::Extensions,
) -> AuthSpan {
    extensions
        .get::<Claims<T>>()
        .and_then(|claims| auth_span(&claims.verified))
}
