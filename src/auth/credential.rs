//! What the pipeline authenticates: a [`Credential`], and where an HTTP
//! request carries one (`Authorization: Bearer`, then an optional cookie,
//! then an optional query parameter).

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

use crate::dpop::{OriginRule, ProofRequest};
use crate::error::{AuthError, AuthErrorKind};

/// A credential presented for authentication: the token and the scheme it
/// was presented with.
///
/// The input of [`Authenticator::authenticate`](super::Authenticator::authenticate),
/// whatever the transport: build one from a header, a Socket.IO `auth`
/// payload or a message. Its fields are private, so that what later schemes
/// need (a proof of possession, the request's method and URI) can be added
/// without breaking code that builds one today.
///
/// Its `Debug` output shows the scheme and the token's length, never the token.
///
/// ```
/// use jwt_guard::auth::{Credential, Scheme};
///
/// let credential = Credential::bearer("eyJhbGciOi…");
/// assert_eq!(credential.scheme(), Scheme::Bearer);
/// assert!(!format!("{credential:?}").contains("eyJ"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credential<'a> {
    token: Cow<'a, str>,
    scheme: Scheme,
    /// With [`Scheme::Dpop`]: the proof, and the request it must name.
    dpop: Option<Box<(Cow<'a, str>, ProofRequest<'a>)>>,
}

/// How a token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// A bearer token (RFC 6750): whoever holds it may use it, whether it
    /// came in an `Authorization: Bearer` header, a cookie, a query
    /// parameter or a message.
    Bearer,
    /// A DPoP-bound token (RFC 9449): `Authorization: DPoP`, with a proof
    /// of possession of its key for this request.
    Dpop,
}

impl<'a> Credential<'a> {
    /// A bearer token.
    pub fn bearer(token: impl Into<Cow<'a, str>>) -> Self {
        Self {
            token: token.into(),
            scheme: Scheme::Bearer,
            dpop: None,
        }
    }

    /// A DPoP-bound token with `proof`, the value of the request's `DPoP`
    /// header, for `request`. The pipeline accepts it only when it verifies
    /// DPoP proofs ([`AuthenticatorBuilder::dpop`](super::AuthenticatorBuilder::dpop)).
    pub fn dpop(
        token: impl Into<Cow<'a, str>>,
        proof: impl Into<Cow<'a, str>>,
        request: ProofRequest<'a>,
    ) -> Self {
        Self {
            token: token.into(),
            scheme: Scheme::Dpop,
            dpop: Some(Box::new((proof.into(), request))),
        }
    }

    /// With [`Scheme::Dpop`], the proof and the request it must name.
    pub(crate) fn proof(&self) -> Option<(&str, &ProofRequest<'a>)> {
        self.dpop
            .as_deref()
            .map(|(proof, request)| (&**proof, request))
    }

    /// The token text.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The scheme the token was presented with.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The same credential, owning its token.
    pub fn into_owned(self) -> Credential<'static> {
        Credential {
            token: Cow::Owned(self.token.into_owned()),
            scheme: self.scheme,
            dpop: self.dpop.map(|dpop| {
                let (proof, request) = *dpop;
                Box::new((Cow::Owned(proof.into_owned()), request.into_owned()))
            }),
        }
    }
}

impl fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("scheme", &self.scheme)
            .field("token_len", &self.token.len())
            .field("dpop_proof", &self.dpop.is_some())
            .finish()
    }
}

/// The configured token sources beyond the `Authorization` header.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenSources {
    pub(crate) cookie: Option<String>,
    pub(crate) query: Option<String>,
    /// Set when `Authorization: DPoP` is taken.
    pub(crate) dpop: Option<DpopSource>,
}

/// Where a DPoP proof's request comes from.
#[derive(Debug, Clone, Default)]
pub(crate) struct DpopSource {
    /// How the origin a proof names is read.
    pub(crate) origin: OriginRule,
}

fn invalid_request(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidRequest, description)
}

fn invalid_proof(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidDpopProof, description)
}

impl TokenSources {
    /// The credential of an HTTP request: a DPoP-bound token with its proof
    /// when DPoP is taken and `Authorization` names that scheme, else as
    /// [`find`](Self::find).
    pub(crate) fn find_in<'r, B>(
        &self,
        request: &'r http::Request<B>,
    ) -> Result<Option<Credential<'r>>, AuthError> {
        let headers = request.headers();
        if let Some(source) = &self.dpop
            && let Some(token) = authorization(headers, "dpop")?
        {
            let mut proofs = headers.get_all("dpop").iter();
            let proof = match (proofs.next(), proofs.next()) {
                (None, _) => return Err(invalid_proof("the request has no DPoP proof")),
                (Some(_), Some(_)) => {
                    return Err(invalid_proof("the request has several DPoP proofs"));
                }
                (Some(proof), None) => proof
                    .to_str()
                    .map_err(|_| invalid_proof("the DPoP proof is not valid text"))?,
            };
            let target = ProofRequest::of_request(
                request.method(),
                request.uri(),
                headers,
                request.extensions(),
                &source.origin,
            )?;
            return Ok(Some(Credential::dpop(token, proof.trim(), target)));
        }
        self.find(headers, request.uri().query())
    }

    /// The request's credential, `Ok(None)` when it carries none, or an
    /// `invalid_request` error when it is ambiguous or empty.
    pub(crate) fn find<'r>(
        &self,
        headers: &'r HeaderMap,
        query: Option<&'r str>,
    ) -> Result<Option<Credential<'r>>, AuthError> {
        if let Some(token) = bearer(headers)? {
            return Ok(Some(Credential::bearer(token)));
        }
        if let Some(name) = &self.cookie
            && let Some(token) = cookie(headers, name)?
        {
            return Ok(Some(Credential::bearer(token)));
        }
        if let (Some(name), Some(query)) = (&self.query, query)
            && let Some(token) = query_param(query, name)?
        {
            return Ok(Some(Credential::bearer(token)));
        }
        Ok(None)
    }
}

/// The token of an `Authorization: Bearer` header. Another scheme (Basic,
/// say) is not a bearer token and counts as none.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    authorization(headers, "bearer")
}

/// The token of the one `Authorization` header when its scheme is
/// `scheme` (in lower case; compared ignoring case); `None` for another.
fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Result<Option<&'h str>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid_request(
            "the request has several Authorization headers",
        ));
    }
    // UTF-8 validation is vectorised, unlike `HeaderValue::to_str`'s
    // byte-by-byte check; the token's own characters are checked strictly
    // when it is decoded, and a cache hit needs an exact match anyway.
    let value = std::str::from_utf8(value.as_bytes())
        .map_err(|_| invalid_request("the Authorization header is not valid text"))?;
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (named, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !named.eq_ignore_ascii_case(scheme) {
        return Ok(None);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(invalid_request(
            "the token in the Authorization header is empty",
        ));
    }
    Ok(Some(token))
}

pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AuthError> {
    let mut found: Option<&str> = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if key.trim() != name {
                continue;
            }
            let value = value.trim().trim_matches('"');
            if value.is_empty() {
                return Err(invalid_request("the token cookie is empty"));
            }
            if found.is_some_and(|previous| previous != value) {
                return Err(invalid_request("the request has several token cookies"));
            }
            found = Some(value);
        }
    }
    Ok(found)
}

fn query_param<'q>(query: &'q str, name: &str) -> Result<Option<Cow<'q, str>>, AuthError> {
    let mut found = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != name {
            continue;
        }
        if value.is_empty() {
            return Err(invalid_request("the token query parameter is empty"));
        }
        if found.is_some() {
            return Err(invalid_request(
                "the request has several token query parameters",
            ));
        }
        found = Some(value);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn sources() -> TokenSources {
        TokenSources {
            cookie: Some("access_token".into()),
            query: Some("access_token".into()),
            dpop: None,
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER   abc"] {
            let h = headers(&[("authorization", value)]);
            assert_eq!(
                sources()
                    .find(&h, None)
                    .unwrap()
                    .as_ref()
                    .map(Credential::token),
                Some("abc")
            );
        }
    }

    #[test]
    fn two_authorization_headers_are_an_invalid_request() {
        let h = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        let error = sources().find(&h, None).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidRequest);
    }

    #[test]
    fn empty_bearer_token_is_an_invalid_request() {
        for value in ["Bearer", "Bearer ", "Bearer    "] {
            let h = headers(&[("authorization", value)]);
            assert_eq!(
                sources().find(&h, None).unwrap_err().kind(),
                AuthErrorKind::InvalidRequest,
                "{value:?}"
            );
        }
    }

    #[test]
    fn other_schemes_carry_no_bearer_token() {
        let h = headers(&[("authorization", "Basic YTpi")]);
        assert_eq!(TokenSources::default().find(&h, None).unwrap(), None);
    }

    #[test]
    fn header_wins_over_cookie_and_cookie_over_query() {
        let h = headers(&[("authorization", "Bearer h"), ("cookie", "access_token=c")]);
        assert_eq!(
            sources()
                .find(&h, Some("access_token=q"))
                .unwrap()
                .as_ref()
                .map(Credential::token),
            Some("h")
        );
        let h = headers(&[("cookie", "x=1; access_token=c")]);
        assert_eq!(
            sources()
                .find(&h, Some("access_token=q"))
                .unwrap()
                .as_ref()
                .map(Credential::token),
            Some("c")
        );
        assert_eq!(
            sources()
                .find(&HeaderMap::new(), Some("a=1&access_token=q"))
                .unwrap()
                .as_ref()
                .map(Credential::token),
            Some("q")
        );
    }

    #[test]
    fn cookie_and_query_are_ignored_unless_configured() {
        let h = headers(&[("cookie", "access_token=c")]);
        assert_eq!(
            TokenSources::default()
                .find(&h, Some("access_token=q"))
                .unwrap(),
            None
        );
    }

    #[test]
    fn repeated_query_parameter_is_an_invalid_request() {
        let error = sources()
            .find(&HeaderMap::new(), Some("access_token=a&access_token=b"))
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidRequest);
    }
}
