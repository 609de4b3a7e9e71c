//! Where an issuer's metadata lives, and what its JWKS URL is: OpenID
//! Connect Discovery 1.0 §4 (`<issuer>/.well-known/openid-configuration`)
//! and RFC 8414 §3.1 (`/.well-known/oauth-authorization-server` inserted
//! between the host and the issuer's path). The HTTP is the remote JWKS's.

use reqwest::Url;
use serde::Deserialize;

/// The two metadata URLs of `issuer`, in the order they are tried.
pub(super) fn document_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path().trim_end_matches('/');
    let mut openid = issuer.clone();
    openid.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut oauth = issuer.clone();
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    [openid, oauth]
}

/// The members of a metadata document this crate reads.
#[derive(Deserialize)]
struct Metadata {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

/// Why a metadata document is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotMetadata,
    IssuerMismatch,
    NoJwksUri,
}

impl Refusal {
    pub(super) fn message(self) -> &'static str {
        match self {
            Self::NotMetadata => "the issuer's metadata document is not a JSON object",
            Self::IssuerMismatch => {
                "the issuer's metadata names another issuer than the one configured (mix-up defence)"
            }
            Self::NoJwksUri => "the issuer's metadata has no valid `jwks_uri`",
        }
    }
}

/// The `jwks_uri` of a metadata document, once its `issuer` is exactly
/// `issuer` (OpenID Connect Discovery §4.3, RFC 8414 §3.3). The document
/// must be UTF-8 throughout (RFC 8259 §8.1): serde_json does not check the
/// members it skips.
pub(crate) fn jwks_uri(issuer: &str, document: &[u8]) -> Result<Url, Refusal> {
    let text = std::str::from_utf8(document).map_err(|_| Refusal::NotMetadata)?;
    let metadata: Metadata = serde_json::from_str(text).map_err(|_| Refusal::NotMetadata)?;
    if metadata.issuer.as_deref() != Some(issuer) {
        return Err(Refusal::IssuerMismatch);
    }
    metadata
        .jwks_uri
        .as_deref()
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|uri| matches!(uri.scheme(), "https" | "http"))
        .ok_or(Refusal::NoJwksUri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> [String; 2] {
        document_urls(&Url::parse(issuer).unwrap()).map(|url| url.to_string())
    }

    #[test]
    fn metadata_urls_follow_oidc_discovery_then_rfc_8414() {
        assert_eq!(
            urls("https://idp.example"),
            [
                "https://idp.example/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            urls("https://idp.example/tenant/a/"),
            [
                "https://idp.example/tenant/a/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/tenant/a",
            ]
        );
        assert_eq!(
            urls("http://127.0.0.1:8080/realms/x"),
            [
                "http://127.0.0.1:8080/realms/x/.well-known/openid-configuration",
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server/realms/x",
            ]
        );
    }

    #[test]
    fn the_document_must_name_the_issuer_exactly() {
        let doc = |issuer: &str| {
            serde_json::json!({ "issuer": issuer, "jwks_uri": "https://idp.example/jwks" })
                .to_string()
        };
        let issuer = "https://idp.example/tenant";
        assert_eq!(
            jwks_uri(issuer, doc(issuer).as_bytes()).unwrap().as_str(),
            "https://idp.example/jwks"
        );
        for other in [
            "https://idp.example/tenant/",
            "https://idp.example/Tenant",
            "https://idp.example",
            "https://evil.example/tenant",
        ] {
            assert_eq!(
                jwks_uri(issuer, doc(other).as_bytes()),
                Err(Refusal::IssuerMismatch),
                "{other}"
            );
        }
        let without = serde_json::json!({ "jwks_uri": "https://idp.example/jwks" }).to_string();
        assert_eq!(
            jwks_uri(issuer, without.as_bytes()),
            Err(Refusal::IssuerMismatch)
        );
        for bad in [
            serde_json::json!({ "issuer": issuer }),
            serde_json::json!({ "issuer": issuer, "jwks_uri": "file:///etc/passwd" }),
            serde_json::json!({ "issuer": issuer, "jwks_uri": "not a url" }),
        ] {
            assert_eq!(
                jwks_uri(issuer, bad.to_string().as_bytes()),
                Err(Refusal::NoJwksUri),
                "{bad}"
            );
        }
        assert_eq!(jwks_uri(issuer, b"[1]"), Err(Refusal::NotMetadata));
        assert_eq!(jwks_uri(issuer, b"<html>"), Err(Refusal::NotMetadata));
    }

    /// Found by the `discovery` fuzz target: serde_json skipped the bytes of
    /// a member it does not read without checking them, so a document that
    /// is not UTF-8 was taken.
    #[test]
    fn a_document_that_is_not_utf8_is_refused_even_in_members_not_read() {
        let issuer = "https://id.example";
        let mut document =
            br#"{"issuer":"https://id.example","jwks_uri":"https://id.example/jwks","x":["RS"#
                .to_vec();
        document.extend_from_slice(b"\xff\xfe256\"]}");
        assert_eq!(jwks_uri(issuer, &document), Err(Refusal::NotMetadata));
        let valid = br#"{"issuer":"https://id.example","jwks_uri":"https://id.example/jwks","x":["RS256"]}"#;
        assert!(jwks_uri(issuer, valid).is_ok());
    }
}
