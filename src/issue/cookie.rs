//! The refresh-token cookie.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::secret::RefreshToken;
use crate::error::{ConfigError, ConfigErrorKind};

/// How the refresh token travels to a browser: an `HttpOnly` cookie that
/// scripts cannot read, sent only to the auth routes.
///
/// The defaults are `refresh_token`, `Path=/auth`, `SameSite=Strict` and
/// `Secure`. Turn `Secure` off only for plain-HTTP development on localhost.
///
/// ```
/// use std::time::Duration;
/// use jwt_guard::issue::RefreshCookie;
///
/// let cookie = RefreshCookie::new();
/// let header = cookie.clear();
/// assert_eq!(
///     header.to_str().unwrap(),
///     "refresh_token=; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=0; Secure",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshCookie {
    name: String,
    path: String,
    secure: bool,
    domain: Option<String>,
}

impl Default for RefreshCookie {
    fn default() -> Self {
        Self::new()
    }
}

/// Cookie names are RFC 6265 tokens; paths and domains must not end the
/// attribute early.
fn check(what: &str, value: &str, allowed: impl Fn(u8) -> bool) -> Result<(), ConfigError> {
    if value.is_empty() || !value.bytes().all(allowed) {
        return Err(ConfigError::new(
            ConfigErrorKind::InvalidSetting,
            format!("the refresh cookie's {what} has characters a cookie cannot carry"),
        ));
    }
    Ok(())
}

impl RefreshCookie {
    /// The default cookie: `refresh_token`, `Path=/auth`, `Secure`.
    pub fn new() -> Self {
        Self {
            name: "refresh_token".to_owned(),
            path: "/auth".to_owned(),
            secure: true,
            domain: None,
        }
    }

    /// The cookie's name (default `refresh_token`).
    pub fn name(mut self, name: impl Into<String>) -> Result<Self, ConfigError> {
        let name = name.into();
        check("name", &name, |b| {
            b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
        })?;
        self.name = name;
        Ok(self)
    }

    /// The path the browser sends it to (default `/auth`).
    pub fn path(mut self, path: impl Into<String>) -> Result<Self, ConfigError> {
        let path = path.into();
        check("path", &path, |b| b.is_ascii_graphic() && b != b';')?;
        self.path = path;
        Ok(self)
    }

    /// The `Domain` attribute (default: none, so the cookie goes back to this host only).
    pub fn domain(mut self, domain: impl Into<String>) -> Result<Self, ConfigError> {
        let domain = domain.into();
        check("domain", &domain, |b| {
            b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
        })?;
        self.domain = Some(domain);
        Ok(self)
    }

    /// Whether the cookie is marked `Secure` (default `true`).
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// A `Set-Cookie` value that hands `token` to the browser for `max_age`.
    pub fn set(&self, token: &RefreshToken, max_age: Duration) -> HeaderValue {
        self.header(token.as_str(), max_age.as_secs())
    }

    /// A `Set-Cookie` value that removes the cookie (on logout).
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age: u64) -> HeaderValue {
        let mut header = format!(
            "{}={value}; HttpOnly; SameSite=Strict; Path={}; Max-Age={max_age}",
            self.name, self.path
        );
        if let Some(domain) = &self.domain {
            header.push_str("; Domain=");
            header.push_str(domain);
        }
        if self.secure {
            header.push_str("; Secure");
        }
        // Every part was checked: names, paths and domains when set, the
        // token is base64url and dots.
        HeaderValue::try_from(header).expect("checked cookie parts form a header value")
    }

    /// The refresh token the browser sent, if any. Several different
    /// cookies of that name count as none.
    pub fn get<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        crate::auth::cookie(headers, &self.name).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_has_the_safe_attributes_and_reads_back() {
        let family = super::super::secret::random_id::<16>().unwrap();
        let token = RefreshToken::mint("alice", &family).unwrap();
        let set = RefreshCookie::new().set(&token, Duration::from_secs(604_800));
        let set = set.to_str().unwrap();
        assert_eq!(
            set,
            format!(
                "refresh_token={}; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=604800; Secure",
                token.as_str()
            )
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::try_from(format!("theme=dark; refresh_token={}", token.as_str())).unwrap(),
        );
        assert_eq!(RefreshCookie::new().get(&headers), Some(token.as_str()));
        let insecure = RefreshCookie::new().secure(false).clear();
        assert!(!insecure.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn attributes_that_would_break_the_header_are_refused() {
        assert!(RefreshCookie::new().name("a;b").is_err());
        assert!(RefreshCookie::new().name("").is_err());
        assert!(RefreshCookie::new().path("/auth; Domain=evil").is_err());
        assert!(RefreshCookie::new().domain("a b").is_err());
        assert!(RefreshCookie::new().name("__Host-rt").is_ok());
    }
}
