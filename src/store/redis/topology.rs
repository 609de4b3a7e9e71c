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

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
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
