//! Where the layer looks for a token: `Authorization: Bearer`, then an
//! optional cookie, then an optional query parameter.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

use crate::error::{AuthError, AuthErrorKind};

/// The configured token sources beyond the `Authorization` header.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenSources {
    pub(crate) cookie: Option<String>,
    pub(crate) query: Option<String>,
}

fn invalid_request(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidRequest, description)
}

impl TokenSources {
    /// The request's token, `Ok(None)` when it carries none, or an
    /// `invalid_request` error when it is ambiguous or empty.
    pub(crate) fn find<'r>(
        &self,
        headers: &'r HeaderMap,
        query: Option<&'r str>,
    ) -> Result<Option<Cow<'r, str>>, AuthError> {
        if let Some(token) = bearer(headers)? {
            return Ok(Some(Cow::Borrowed(token)));
        }
        if let Some(name) = &self.cookie
            && let Some(token) = cookie(headers, name)?
        {
            return Ok(Some(Cow::Borrowed(token)));
        }
        if let (Some(name), Some(query)) = (&self.query, query)
            && let Some(token) = query_param(query, name)?
        {
            return Ok(Some(token));
        }
        Ok(None)
    }
}

/// The token of an `Authorization: Bearer` header. Another scheme (Basic,
/// say) is not a bearer token and counts as none.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
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
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(invalid_request("the bearer token is empty"));
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
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER   abc"] {
            let h = headers(&[("authorization", value)]);
            assert_eq!(sources().find(&h, None).unwrap().as_deref(), Some("abc"));
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
                .as_deref(),
            Some("h")
        );
        let h = headers(&[("cookie", "x=1; access_token=c")]);
        assert_eq!(
            sources()
                .find(&h, Some("access_token=q"))
                .unwrap()
                .as_deref(),
            Some("c")
        );
        assert_eq!(
            sources()
                .find(&HeaderMap::new(), Some("a=1&access_token=q"))
                .unwrap()
                .as_deref(),
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
