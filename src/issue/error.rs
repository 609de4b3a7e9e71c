//! Why issuing, refreshing or revoking failed: [`IssueError`].

use std::fmt;

use crate::store::StoreError;

/// Why a token could not be issued or refreshed.
///
/// Opaque: inspect it with [`kind`](Self::kind) or
/// [`is_invalid_grant`](Self::is_invalid_grant). It never carries a token.
/// With the `axum` feature it is a response: `401 {"error": "invalid_grant"}`
/// for a refused refresh token (the token endpoint's answer in the seed
/// systems; RFC 6749 would use 400), `503 {"error": "temporarily_unavailable"}`
/// when the store fails, `500 {"error": "server_error"}` otherwise.
#[derive(Debug)]
pub struct IssueError {
    kind: IssueErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`IssueError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueErrorKind {
    /// The refresh token is not one this issuer could have made.
    MalformedGrant,
    /// No such refresh token (never issued, or forgotten).
    UnknownGrant,
    /// The refresh token has expired.
    ExpiredGrant,
    /// The refresh token's family was revoked (logout, reuse, or logout everywhere).
    RevokedGrant,
    /// The refresh token had already been used: its family is now revoked.
    ReusedGrant,
    /// The store failed; nothing was issued.
    Store,
    /// The grant's claims cannot be issued (an empty subject, a reserved name,
    /// claims that are not a JSON object).
    InvalidClaims,
    /// Signing or randomness failed.
    Internal,
}

impl IssueError {
    pub(super) fn new(kind: IssueErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(super) fn with_source(
        kind: IssueErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> IssueErrorKind {
        self.kind
    }

    /// Whether the refresh token was refused (OAuth's `invalid_grant`).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(
            self.kind,
            IssueErrorKind::MalformedGrant
                | IssueErrorKind::UnknownGrant
                | IssueErrorKind::ExpiredGrant
                | IssueErrorKind::RevokedGrant
                | IssueErrorKind::ReusedGrant
        )
    }
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            IssueErrorKind::MalformedGrant => "the refresh token is malformed",
            IssueErrorKind::UnknownGrant => "the refresh token is unknown",
            IssueErrorKind::ExpiredGrant => "the refresh token has expired",
            IssueErrorKind::RevokedGrant => "the refresh token's session was revoked",
            IssueErrorKind::ReusedGrant => {
                "the refresh token was already used; its session is revoked"
            }
            IssueErrorKind::Store => "the token store failed",
            IssueErrorKind::InvalidClaims => "the grant's claims cannot be issued",
            IssueErrorKind::Internal => "the token could not be made",
        })
    }
}

impl std::error::Error for IssueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<StoreError> for IssueError {
    fn from(error: StoreError) -> Self {
        Self::with_source(IssueErrorKind::Store, error)
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for IssueError {
    fn into_response(self) -> axum::response::Response {
        // One description per code: which of unknown, expired, revoked or
        // reused a refused grant was is for the server's logs, not for
        // whoever holds the token.
        let (status, error, description) = if self.is_invalid_grant() {
            (
                http::StatusCode::UNAUTHORIZED,
                "invalid_grant",
                "the refresh token is unknown, expired, revoked or already used",
            )
        } else if self.kind == IssueErrorKind::Store {
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the session store cannot answer; try again shortly",
            )
        } else {
            (
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the server could not complete the request",
            )
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        (
            status,
            [
                (http::header::CONTENT_TYPE, "application/json"),
                (http::header::CACHE_CONTROL, "no-store"),
            ],
            body.to_string(),
        )
            .into_response()
    }
}
