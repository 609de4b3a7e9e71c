//! Where a request's token is found: `Authorization` headers, the `Cookie`
//! header, the query string; duplicates, empty values and odd bytes.
//!
//! Input: lines. `?<query>` is the query string; `<name>: <value>` a
//! header (`a` is `Authorization`, `c` is `Cookie`, other names as given).
#![no_main]

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue};
use jwt_guard::fuzzing::token_sources;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    let mut query = None;
    for line in data.split(|&b| b == b'\n') {
        if let Some(q) = line.strip_prefix(b"?") {
            query = std::str::from_utf8(q).ok();
            continue;
        }
        let Some(at) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..at], &line[at + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let name = match name {
            b"a" => AUTHORIZATION,
            b"c" => COOKIE,
            other => match HeaderName::from_bytes(other) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    // The layer's default: the Authorization header only.
    if let Ok(Some(token)) = token_sources(&headers, query, None, None) {
        assert!(!token.is_empty(), "an empty token");
        assert!(
            !token.starts_with([' ', '\t']),
            "a token with leading blanks"
        );
        assert!(
            headers.get_all(AUTHORIZATION).iter().any(|v| v
                .as_bytes()
                .windows(token.len())
                .any(|w| w == token.as_bytes())),
            "a token found outside the Authorization header"
        );
    }
    // Cookie and query parameter too. A query value is taken as decoded
    // (`%20abc` is ` abc`, then refused as a token, not as a request).
    if let Ok(Some(token)) =
        token_sources(&headers, query, Some("access_token"), Some("access_token"))
    {
        assert!(!token.is_empty(), "an empty token");
    }
});
