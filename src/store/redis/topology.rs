//! Where Redis is, and how to show it without its passwords.

use std::fmt;

/// Where Redis is. Not `Debug`: its URLs may hold passwords (see `Redacted`).
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Topology {
    Single(String),
    Cluster(Vec<String>),
    Sentinel { urls: Vec<String>, master: String },
}

/// Shows a topology with any password in its URLs replaced by `***`.
pub(super) struct Redacted<'t>(pub(super) &'t Topology);

/// `url` without its secrets: the user information (`user:password@`)
/// becomes `***`, as do `pass` and `password` query values (redis-rs reads
/// a Unix socket's password there); a URL that does not parse is not shown
/// at all, since where its password sits cannot be told.
fn redact(url: &str) -> String {
    let unparsed = || "<a URL that does not parse>".to_owned();
    let Ok(mut parsed) = url::Url::parse(url) else {
        return unparsed();
    };
    // Only a URL Redis can reach: a host, or a Unix socket's path. Anything
    // else (`redis:/:secret@host`) parses as a path that may hold a secret.
    let unix = matches!(parsed.scheme(), "unix" | "redis+unix");
    if !unix && parsed.host_str().is_none_or(str::is_empty) {
        return unparsed();
    }
    let secret_query = |name: &str| matches!(name, "pass" | "password");
    if parsed.query_pairs().any(|(name, _)| secret_query(&name)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret_query(&name) {
                    "***".into()
                } else {
                    value
                };
                (name.into_owned(), value.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let text = parsed.to_string();
    let has_user_info = !parsed.username().is_empty() || parsed.password().is_some();
    match (has_user_info, text.find("://"), text.rfind('@')) {
        (true, Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &text[..scheme + 3], &text[at..])
        }
        _ => text,
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Topology::Single(url) => f.debug_tuple("Single").field(&redact(url)).finish(),
            Topology::Cluster(urls) => f
                .debug_tuple("Cluster")
                .field(&urls.iter().map(|u| redact(u)).collect::<Vec<_>>())
                .finish(),
            Topology::Sentinel { urls, master } => f
                .debug_struct("Sentinel")
                .field("urls", &urls.iter().map(|u| redact(u)).collect::<Vec<_>>())
                .field("master", master)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:s3cret@host:6379/1", "redis://***@host:6379/1"),
            ("redis://alice:s3cret@host/", "redis://***@host/"),
            (
                "redis+unix:///run/redis.sock?pass=s3cret&db=2",
                "redis+unix:///run/redis.sock?pass=***&db=2",
            ),
            ("redis:/:s3cret@host", "<a URL that does not parse>"),
            ("redis:s3cret@host", "<a URL that does not parse>"),
            ("s3cret", "<a URL that does not parse>"),
        ] {
            let redacted = redact(url);
            assert!(!redacted.contains("s3cret"), "{url} shown as {redacted}");
            assert_eq!(redacted, shown, "{url}");
        }
    }
}
