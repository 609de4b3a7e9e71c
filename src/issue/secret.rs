//! Random ids, opaque refresh tokens and their hashes.
//!
//! A refresh token reads `<base64url(sub)>.<family>.<secret>`: the subject
//! routes it to its Redis Cluster slot (so that a rotation is one script
//! over one slot) and the family names its record; only the 256-bit secret
//! makes it valid. Stores keep the SHA-256 of the whole token, never the
//! token.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{IssueError, IssueErrorKind};

/// The longest refresh token read; longer input is refused before any work.
const MAX_REFRESH_TOKEN_LEN: usize = 1024;
/// A family id: 128 random bits.
const FAMILY_LEN: usize = 22;
/// A token secret: 256 random bits.
const SECRET_LEN: usize = 43;

/// `N` random bytes, base64url: ids and secrets.
pub(crate) fn random_id<const N: usize>() -> Result<String, IssueError> {
    crate::crypto::random_b64url::<N>()
        .map_err(|e| IssueError::with_source(IssueErrorKind::Internal, e))
}

/// SHA-256, base64url: what stores keep instead of a token or a name.
pub(crate) fn digest(input: &[u8]) -> Result<String, IssueError> {
    crate::crypto::sha256_b64url(input)
        .map_err(|e| IssueError::with_source(IssueErrorKind::Internal, e))
}

/// An opaque refresh token. Its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// A new token for a new or existing family of `sub`.
    pub(crate) fn mint(sub: &str, family: &str) -> Result<Self, IssueError> {
        let secret = random_id::<32>()?;
        Ok(Self(format!(
            "{}.{family}.{secret}",
            URL_SAFE_NO_PAD.encode(sub)
        )))
    }

    /// The token, to hand to the client (in a cookie or a response body).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token, consumed.
    pub fn into_string(self) -> String {
        self.0
    }

    /// What stores keep instead of the token: its SHA-256, or, for a token
    /// bound to a DPoP key, the SHA-256 of the token and the key's
    /// thumbprint (see [`bound_hash`]).
    pub(crate) fn hash(&self, key: Option<&str>) -> Result<String, IssueError> {
        bound_hash(&self.0, key)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// The hash a store keeps of `token`, bound to the DPoP key of thumbprint
/// `key` if any. A bound family's tokens are known to the store only by
/// this hash, so the same token presented with another key, or with none,
/// is a token the family never held: refused as unknown, before anything
/// is written, and never taken for reuse. No store needs to know of keys.
/// (`|` is not a character of a token, so no token hashes as another's
/// binding.)
fn bound_hash(token: &str, key: Option<&str>) -> Result<String, IssueError> {
    match key {
        None => digest(token.as_bytes()),
        Some(key) => digest(format!("{token}|dpop|{key}").as_bytes()),
    }
}

/// A presented refresh token, checked for shape only.
#[derive(Debug)]
pub(crate) struct Presented {
    pub(crate) sub: String,
    pub(crate) family: String,
    pub(crate) hash: String,
}

impl Presented {
    /// `token`, presented with a proof of possession of the DPoP key of
    /// thumbprint `key`, if any.
    pub(crate) fn parse(token: &str, key: Option<&str>) -> Result<Self, IssueError> {
        let malformed = || IssueError::new(IssueErrorKind::MalformedGrant);
        if token.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(malformed());
        }
        let mut parts = token.split('.');
        let (Some(sub), Some(family), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let is_b64 =
            |part: &str, len: usize| part.len() == len && URL_SAFE_NO_PAD.decode(part).is_ok();
        if !is_b64(family, FAMILY_LEN) || !is_b64(secret, SECRET_LEN) {
            return Err(malformed());
        }
        let sub = URL_SAFE_NO_PAD
            .decode(sub)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|sub| !sub.is_empty())
            .ok_or_else(malformed)?;
        Ok(Self {
            sub,
            family: family.to_owned(),
            hash: bound_hash(token, key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_back_to_its_subject_family_and_hash() {
        let family = random_id::<16>().unwrap();
        let token = RefreshToken::mint("alice@example.com", &family).unwrap();
        let presented = Presented::parse(token.as_str(), None).unwrap();
        assert_eq!(presented.sub, "alice@example.com");
        assert_eq!(presented.family, family);
        assert_eq!(presented.hash, token.hash(None).unwrap());
        let bound = Presented::parse(token.as_str(), Some("key")).unwrap();
        assert_eq!(bound.hash, token.hash(Some("key")).unwrap());
        assert_ne!(bound.hash, presented.hash);
        assert_ne!(bound.hash, token.hash(Some("another key")).unwrap());
        assert_ne!(
            RefreshToken::mint("alice@example.com", &family).unwrap(),
            token
        );
        assert_eq!(format!("{token:?}"), "RefreshToken(***)");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let family = random_id::<16>().unwrap();
        let good = RefreshToken::mint("bob", &family).unwrap().into_string();
        let (head, secret) = good.rsplit_once('.').unwrap();
        for bad in [
            String::new(),
            "a.b.c".to_owned(),
            format!("{good}.x"),
            format!("{head}.{}", &secret[1..]),
            format!("{head}.{}=", &secret[1..]),
            format!(".{family}.{secret}"),
            format!("{}.{family}.{secret}", "/w"),
            "x".repeat(2000),
        ] {
            assert!(
                Presented::parse(&bad, None).is_err(),
                "{bad:?} was accepted"
            );
        }
    }
}
