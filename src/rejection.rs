//! Rendering refusals: the one place where an [`AuthError`] becomes what a
//! transport sends back.
//!
//! - HTTP: an RFC 6750 response, a status, a `WWW-Authenticate: Bearer`
//!   challenge and a JSON body `{"error": …, "error_description": …}`, or
//!   what the application's [`RejectionHandler`] makes of the error;
//! - gRPC through the layer: HTTP 200, trailers-only, with `grpc-status`;
//! - gRPC in a tonic handler (feature `tonic`): a [`tonic::Status`] built
//!   from the error itself;
//! - Socket.IO (feature `socketio`): the message of a refused connection's
//!   `connect_error`, and the payload a refused event is answered with.
//!
//! Each form is rendered from the error value, never from another form.
//! Nothing rendered here contains the token, its signature or a key: the
//! texts are the errors' fixed descriptions.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Response};

use crate::error::{AuthError, AuthErrorKind};

/// A custom rejection: builds the response for a refused request from the
/// error and the request's headers.
pub type RejectionHandler = dyn Fn(&AuthError, &HeaderMap) -> Response<Bytes> + Send + Sync;

/// The realm of the `WWW-Authenticate` challenge unless configured.
pub const DEFAULT_REALM: &str = "api";

/// How a service renders its refusals: the challenge's realm, and the
/// application's handler for HTTP responses, if any. Shared by the layer,
/// the claims it hands out and the guards behind it, so that a 403 from a
/// guard looks like a 401 from the layer.
pub(crate) struct Rejecter {
    realm: String,
    custom: Option<Arc<RejectionHandler>>,
    dpop: Option<DpopChallenge>,
}

/// How a service that takes DPoP-bound tokens challenges (RFC 9449 §7.1):
/// the `algs` its proofs may use, and whether bearer tokens are refused.
#[derive(Debug, Clone)]
pub(crate) struct DpopChallenge {
    pub(crate) algs: String,
    pub(crate) required: bool,
    /// The nonces proofs must carry: a refusal for want of one hands out
    /// a fresh one.
    pub(crate) nonces: Option<crate::dpop::DpopNonces>,
}

impl fmt::Debug for Rejecter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejecter")
            .field("realm", &self.realm)
            .field("custom", &self.custom.is_some())
            .field("dpop", &self.dpop)
            .finish()
    }
}

impl Rejecter {
    pub(crate) fn new(
        realm: String,
        custom: Option<Arc<RejectionHandler>>,
        dpop: Option<DpopChallenge>,
    ) -> Self {
        Self {
            realm,
            custom,
            dpop,
        }
    }

    /// The default: realm `api`, RFC 6750 responses.
    pub(crate) fn default_shared() -> Arc<Self> {
        static DEFAULT: OnceLock<Arc<Rejecter>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Arc::new(Self::new(DEFAULT_REALM.to_owned(), None, None)))
            .clone()
    }

    /// The response to a request with these headers: the application's, or
    /// the default one (gRPC for a gRPC request), with the error in its
    /// extensions either way.
    pub(crate) fn http(&self, error: &AuthError, request_headers: &HeaderMap) -> Response<Bytes> {
        match &self.custom {
            Some(custom) => {
                let mut response = custom(error, request_headers);
                response.extensions_mut().insert(error.clone());
                response
            }
            None => {
                let mut response = error.to_response(&self.realm, request_headers);
                if let Some(dpop) = &self.dpop {
                    error.dpop_challenges(&self.realm, dpop, response.headers_mut());
                }
                response
            }
        }
    }

    /// The [`tonic::Status`] of a refused gRPC call, rendered from the error.
    #[cfg(feature = "tonic")]
    pub(crate) fn status(&self, error: &AuthError) -> tonic::Status {
        let mut metadata = tonic::metadata::MetadataMap::new();
        if let Some(challenge) = error
            .challenge(&self.realm)
            .and_then(|c| tonic::metadata::MetadataValue::try_from(c).ok())
        {
            metadata.insert("www-authenticate", challenge);
        }
        let code = tonic::Code::from(i32::from(error.grpc_status()));
        let mut status = tonic::Status::with_metadata(code, error.public_description(), metadata);
        status.set_source(Arc::new(error.clone()));
        status
    }
}

/// A refusal as a value: the error, and how the service that refused
/// renders it. Transports render it at their edge.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) error: AuthError,
    pub(crate) rejecter: Arc<Rejecter>,
}

impl Refusal {
    pub(crate) fn http(&self, request_headers: &HeaderMap) -> Response<Bytes> {
        self.rejecter.http(&self.error, request_headers)
    }

    #[cfg(feature = "tonic")]
    pub(crate) fn status(&self) -> tonic::Status {
        self.rejecter.status(&self.error)
    }
}

impl AuthError {
    /// What the default responses tell the client: the description, except
    /// for a misconfigured server (`MissingLayer`), whose description names
    /// the application's types and is for its logs only.
    fn public_description(&self) -> &str {
        match self.kind() {
            AuthErrorKind::MissingLayer => "the server could not authenticate the request",
            _ => self.description(),
        }
    }

    /// The `WWW-Authenticate` challenge of the default response, if it has one.
    pub fn challenge(&self, realm: &str) -> Option<String> {
        if matches!(
            self.kind(),
            AuthErrorKind::StoreUnavailable
                | AuthErrorKind::KeysUnavailable
                | AuthErrorKind::MissingLayer
        ) {
            return None;
        }
        // A proof's problem is answered in the DPoP scheme (RFC 9449 §7.1).
        let scheme = match self.kind() {
            AuthErrorKind::InvalidDpopProof | AuthErrorKind::UseDpopNonce => "DPoP",
            _ => "Bearer",
        };
        let mut challenge = format!("{scheme} realm=\"{}\"", quote_escape(realm));
        if let Some(code) = self.error_code() {
            challenge.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quote_escape(self.description())
            ));
        }
        if let Some(scope) = self.scope() {
            challenge.push_str(&format!(", scope=\"{}\"", quote_escape(scope)));
        }
        Some(challenge)
    }

    /// The `WWW-Authenticate` challenges of a service taking DPoP-bound
    /// tokens, in `headers` instead of the bearer one: for a proof's
    /// problem, or any 401 where DPoP is required, the DPoP challenge with
    /// the error; for another 401 where bearer tokens are taken too, the
    /// bearer challenge and a DPoP one beside it (RFC 9449 §7.1).
    fn dpop_challenges(&self, realm: &str, dpop: &DpopChallenge, headers: &mut HeaderMap) {
        if self.status() != http::StatusCode::UNAUTHORIZED {
            return;
        }
        let mut challenge = format!(
            "DPoP realm=\"{}\", algs=\"{}\"",
            quote_escape(realm),
            dpop.algs
        );
        let proof_problem = matches!(
            self.kind(),
            AuthErrorKind::InvalidDpopProof | AuthErrorKind::UseDpopNonce
        );
        if self.kind() == AuthErrorKind::UseDpopNonce
            && let Some(nonces) = &dpop.nonces
            && let Ok(nonce) = HeaderValue::from_str(&nonces.issue())
        {
            headers.insert(HeaderName::from_static("dpop-nonce"), nonce);
        }
        if proof_problem || dpop.required {
            if let Some(code) = self.error_code() {
                challenge.push_str(&format!(
                    ", error=\"{code}\", error_description=\"{}\"",
                    quote_escape(self.description())
                ));
            }
            headers.remove(WWW_AUTHENTICATE);
        }
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }

    /// The default HTTP response: status, `WWW-Authenticate`, `Retry-After`
    /// for 503, and the JSON body.
    pub fn to_http_response(&self, realm: &str) -> Response<Bytes> {
        let body = serde_json::json!({
            "error": self.error_code().unwrap_or("unauthorized"),
            "error_description": self.public_description(),
        });
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(value) = self
            .challenge(realm)
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        if matches!(
            self.kind(),
            AuthErrorKind::StoreUnavailable | AuthErrorKind::KeysUnavailable
        ) {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(self.clone());
        response
    }

    /// The default gRPC response: HTTP 200, trailers-only, with `grpc-status`
    /// and a percent-encoded `grpc-message`.
    pub fn to_grpc_response(&self, realm: &str) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-status", HeaderValue::from(self.grpc_status()));
        if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(self.public_description()))
        {
            headers.insert("grpc-message", message);
        }
        if let Some(value) = self
            .challenge(realm)
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        response.extensions_mut().insert(self.clone());
        response
    }

    /// The default response for a request with these headers: the gRPC form
    /// for `content-type: application/grpc*`, the HTTP form otherwise.
    pub fn to_response(&self, realm: &str, request_headers: &HeaderMap) -> Response<Bytes> {
        if is_grpc(request_headers) {
            self.to_grpc_response(realm)
        } else {
            self.to_http_response(realm)
        }
    }
}

/// Whether a request is gRPC (`content-type: application/grpc` or `application/grpc+…`).
fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.strip_prefix("application/grpc").is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('+') || rest.starts_with(';')
            })
        })
}

fn quote_escape(value: &str) -> Cow<'_, str> {
    let clean = |c: &char| c.is_ascii() && !c.is_ascii_control();
    if value.contains(['"', '\\']) || !value.chars().all(|c| clean(&c)) {
        Cow::Owned(
            value
                .chars()
                .filter(clean)
                .flat_map(|c| match c {
                    '"' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

fn grpc_percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Socket.IO's forms: a code alone, since a `connect_error` carries only a
/// message, and the same code in the payload of an error ack or event.
#[cfg(feature = "socketio")]
impl AuthError {
    /// The RFC 6750 code, or `missing_token` when no token came (RFC 6750
    /// has no code for that: its challenge then carries none).
    pub(crate) fn socketio_code(&self) -> &'static str {
        self.error_code().unwrap_or("missing_token")
    }

    /// The ack of a refused event: `{"error": code}`.
    pub(crate) fn socketio_ack(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.socketio_code() })
    }

    /// The error event for a refused event the client asked no ack for:
    /// `{"error": code, "event": name}`.
    pub(crate) fn socketio_event(&self, event: &str) -> serde_json::Value {
        serde_json::json!({ "error": self.socketio_code(), "event": event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn missing_token_challenge_has_realm_and_no_error() {
        let challenge = AuthError::missing_token().challenge("api").unwrap();
        assert_eq!(challenge, r#"Bearer realm="api""#);
    }

    #[test]
    fn insufficient_scope_is_403_with_scope_in_challenge() {
        let error = AuthError::insufficient_scope("admin");
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
        let challenge = error.challenge("api").unwrap();
        assert!(challenge.contains(r#"error="insufficient_scope""#));
        assert!(challenge.contains(r#"scope="admin""#));
        assert_eq!(error.grpc_status(), 7);
    }

    #[test]
    fn store_unavailable_is_503_with_retry_after() {
        let error = AuthError::new(AuthErrorKind::StoreUnavailable, "down");
        let response = error.to_http_response("api");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(error.grpc_status(), 14);
    }

    #[test]
    fn grpc_content_types_are_recognised() {
        let mut headers = HeaderMap::new();
        for (ct, grpc) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("application/grpc-web", false),
            ("application/json", false),
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_grpc(&headers), grpc, "{ct}");
        }
    }

    #[test]
    fn dpop_refusals_are_challenged_in_the_dpop_scheme() {
        for kind in [AuthErrorKind::InvalidDpopProof, AuthErrorKind::UseDpopNonce] {
            let challenge = AuthError::new(kind, "why").challenge("api").unwrap();
            assert!(challenge.starts_with("DPoP realm=\"api\""), "{challenge}");
        }
        let challenge = AuthError::new(AuthErrorKind::UseDpopNonce, "why")
            .challenge("api")
            .unwrap();
        assert!(
            challenge.contains("error=\"use_dpop_nonce\""),
            "{challenge}"
        );
    }

    #[test]
    fn challenge_quotes_are_escaped() {
        assert_eq!(quote_escape(r#"a"b\c"#), r#"a\"b\\c"#);
    }

    #[test]
    fn control_characters_never_break_the_challenge_header() {
        assert_eq!(quote_escape("a\nb"), "ab");
        let challenge = AuthError::missing_token().challenge("a\r\nb").unwrap();
        assert!(HeaderValue::from_str(&challenge).is_ok());
    }

    #[test]
    fn a_custom_handler_gets_the_error_and_its_response_carries_it() {
        let rejecter = Rejecter::new(
            "orders".into(),
            Some(Arc::new(|error: &AuthError, _: &HeaderMap| {
                let mut response = Response::new(Bytes::from(error.description().to_owned()));
                *response.status_mut() = StatusCode::IM_A_TEAPOT;
                response
            })),
            None,
        );
        let response = rejecter.http(&AuthError::missing_token(), &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(
            response
                .extensions()
                .get::<AuthError>()
                .map(AuthError::kind),
            Some(AuthErrorKind::MissingToken)
        );
    }

    #[cfg(feature = "tonic")]
    #[test]
    fn a_grpc_status_is_rendered_from_the_error() {
        let rejecter = Rejecter::new("orders".into(), None, None);
        let status = rejecter.status(&AuthError::insufficient_scope("ops"));
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "the token lacks a required role or permission"
        );
        let challenge = status.metadata().get("www-authenticate").unwrap();
        assert!(challenge.to_str().unwrap().contains(r#"scope="ops""#));
        let unavailable = rejecter.status(&AuthError::new(AuthErrorKind::StoreUnavailable, "down"));
        assert_eq!(unavailable.code(), tonic::Code::Unavailable);
        assert!(unavailable.metadata().get("www-authenticate").is_none());
    }
}
