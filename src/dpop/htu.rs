//! The `htu` of a DPoP proof against the request's target URI: both
//! reduced to one normal form before they are compared (RFC 9449 §4.3 asks
//! for RFC 3986's syntax-based and scheme-based normalization).

use std::borrow::Cow;

/// `uri`, an absolute `http` or `https` URI, in normal form: scheme and host
/// in lower case, the default port dropped, an empty path made `/`, dot
/// segments removed, percent-escapes of unreserved characters decoded and
/// the others in upper case, query and fragment dropped. `None` when `uri`
/// is not an absolute `http(s)` URI (or carries user information, which a
/// request target never does).
pub(crate) fn normalize(uri: &str) -> Option<String> {
    let uri = uri.split_once('#').map_or(uri, |(before, _)| before);
    let uri = uri.split_once('?').map_or(uri, |(before, _)| before);
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port: u16 = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.is_empty() || authority.contains('@') || !is_visible_ascii(authority) {
        return None;
    }
    // The port follows the last colon outside an IPv6 literal's brackets;
    // an empty one is no port.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], &authority[i + 1..]),
        _ => (authority, ""),
    };
    // A registered name, or an IP literal in brackets (RFC 3986 §3.2.2):
    // anything else (a second colon, say) would change meaning once split
    // again (found by the dpop fuzz target).
    let valid_host = match host.strip_prefix('[') {
        Some(literal) => literal.strip_suffix(']').is_some_and(|ip| {
            !ip.is_empty()
                && ip
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b))
        }
    };
    if !valid_host {
        return None;
    }
    let mut normal = format!("{scheme}://{}", host.to_ascii_lowercase());
    if !port.is_empty() {
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let port: u16 = port.parse().ok()?;
        if port != default_port {
            normal.push_str(&format!(":{port}"));
        }
    }
    let path = normalize_escapes(path)?;
    let path = remove_dot_segments(&path);
    normal.push_str(if path.is_empty() { "/" } else { &path });
    Some(normal)
}

/// The target URI of a request from its parts, in normal form; `None`
/// when a part holds more than it names. The authority comes from a `Host`
/// header (or a forwarded one) that no HTTP/1 server checks: `api.example?`
/// or `api.example/a` would otherwise move the path once joined (a proof
/// made for `/` would pass at `/admin`), so it may hold no `/`, `?`, `#`
/// or `@`. (A query after the path is dropped, as in a proof's `htu`.)
pub(crate) fn target(scheme: &str, authority: &str, path: &str) -> Option<String> {
    if !scheme.bytes().all(|b| b.is_ascii_alphabetic())
        || authority.bytes().any(|b| b"/?#@".contains(&b))
    {
        return None;
    }
    let path = if path.starts_with('/') { path } else { "" };
    normalize(&format!("{scheme}://{authority}{path}"))
}

fn is_visible_ascii(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

/// Percent-escapes of unreserved characters decoded, the others in upper
/// case (RFC 3986 §6.2.2.1, §6.2.2.2); `None` for a broken escape or a
/// character a path may not hold.
fn normalize_escapes(path: &str) -> Option<Cow<'_, str>> {
    if !is_visible_ascii(path) {
        return None;
    }
    if !path.contains('%') {
        return Some(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let hex = path
            .get(i + 1..i + 3)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
        let value = u8::from_str_radix(hex, 16).ok()?;
        if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
            out.push(value as char);
        } else {
            out.push('%');
            out.push_str(&hex.to_ascii_uppercase());
        }
        i += 3;
    }
    Some(Cow::Owned(out))
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    let has_dots = path
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    if !has_dots {
        return Cow::Borrowed(path);
    }
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    output.push("");
                }
            }
            ".." => {
                output.pop();
                if last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    let mut normal = String::with_capacity(path.len());
    for segment in output {
        normal.push('/');
        normal.push_str(segment);
    }
    Cow::Owned(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_uris_have_one_normal_form() {
        let normal = Some("https://api.example/v1/me".to_owned());
        for uri in [
            "https://api.example/v1/me",
            "HTTPS://API.Example/v1/me",
            "https://api.example:443/v1/me",
            "https://api.example:0443/v1/me",
            "https://api.example/v1/me?x=1",
            "https://api.example/v1/me#part",
            "https://api.example/v1/me?x=1#part",
            "https://api.example/v1/%6De",
            "https://api.example/v1/./me",
            "https://api.example/v1/x/../me",
        ] {
            assert_eq!(normalize(uri), normal, "{uri}");
        }
        assert_eq!(
            normalize("http://api.example"),
            Some("http://api.example/".to_owned())
        );
        assert_eq!(
            normalize("http://api.example:80/a%2fb"),
            Some("http://api.example/a%2Fb".to_owned())
        );
        assert_eq!(
            normalize("http://[::1]:3000/x"),
            Some("http://[::1]:3000/x".to_owned())
        );
        assert_eq!(
            normalize("http://[::1]/x"),
            Some("http://[::1]/x".to_owned())
        );
        assert_eq!(
            target("http", "127.0.0.1:3000", "/me"),
            Some("http://127.0.0.1:3000/me".to_owned())
        );
    }

    #[test]
    fn different_targets_stay_different() {
        let a = normalize("https://api.example/v1/me");
        for uri in [
            "http://api.example/v1/me",
            "https://api.example:8443/v1/me",
            "https://api.example.evil/v1/me",
            "https://api.example/v1/me/",
            "https://api.example/v1/ME",
            "https://api.example/v1/m%65/x",
            "https://api.example:0/v1/me",
        ] {
            assert_ne!(normalize(uri), a, "{uri}");
        }
    }

    #[test]
    fn a_part_holding_more_than_it_names_is_no_target() {
        assert_eq!(
            target("http", "api.example:8080", "/admin").as_deref(),
            Some("http://api.example:8080/admin")
        );
        // Each would move or cut the path once joined.
        for (scheme, authority, path) in [
            ("http", "api.example?", "/admin"),
            ("http", "api.example#", "/admin"),
            ("http", "api.example/a", "/b"),
            ("http", "user@api.example", "/admin"),
            ("http://evil.example/x?", "api.example", "/admin"),
        ] {
            assert_eq!(target(scheme, authority, path), None, "{authority} {path}");
        }
        // A query or fragment after the path goes, as from an `htu`.
        assert_eq!(
            target("http", "api.example", "/admin?x=1#y").as_deref(),
            Some("http://api.example/admin")
        );
    }

    #[test]
    fn a_normal_form_is_its_own_normal_form() {
        for uri in [
            "HTTP://Api.Example:80/a/../b/%7e?q#f",
            "http://[::1]:3000/x/%2f",
            "https://api.example:0443",
            "https://h/a/./b/../../c",
        ] {
            let once = normalize(uri).unwrap();
            assert_eq!(normalize(&once).as_deref(), Some(once.as_str()), "{uri}");
        }
    }

    #[test]
    fn what_is_not_an_http_target_has_no_normal_form() {
        for uri in [
            "",
            "/v1/me",
            "api.example/v1/me",
            "ftp://api.example/x",
            "https:///x",
            "https://user@api.example/x",
            "https://api.example:443x/x",
            "https://api.example/a b",
            "https://api.example/%zz",
            "https://api.example/%4",
            "https://api.example/é",
            "http://api.exc:mple:80/x",
            "http://[::1/x",
            "http://[]/x",
            "http://a]b/x",
        ] {
            assert_eq!(normalize(uri), None, "{uri:?}");
        }
    }
}
