//! The JWS layer: compact serialization, strict base64url, the protected
//! header, key selection and the signature. Nothing here looks at claims.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::error::{AuthError, AuthErrorKind, ErrorContext};
use crate::json::{MemberName, SeenKeys, Unique, json_text};
use crate::keys::{Algorithm, KeyLookupError, KeySet};

/// A JWS whose signature verified: its header and decoded payload.
///
/// Returned by [`Validator::verify_signature`](crate::Validator::verify_signature),
/// the JWS-level entry point. The payload is whatever was signed; no claim
/// rule has been applied to it.
#[derive(Clone)]
pub struct VerifiedJws {
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
}

impl fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl VerifiedJws {
    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, consumed.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

/// The members of a JOSE header this crate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) crit: Option<Vec<String>>,
}

impl Header {
    /// The `alg` header, which matched the key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` header.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `typ` header.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The `crit` header, whose every name the validator understood.
    pub fn crit(&self) -> Option<&[String]> {
        self.crit.as_deref()
    }
}

pub(crate) fn malformed(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::Malformed, description)
}

/// Splits and decodes a compact JWS, selects its key and verifies it.
pub(crate) fn verify(
    token: &str,
    max_len: usize,
    keys: Option<&KeySet>,
    understood_crit: &[String],
) -> Result<VerifiedJws, AuthError> {
    check_length(token, max_len)?;
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "the token is not a compact JWS (three base64url parts separated by dots)",
        ));
    };
    if signature_b64.is_empty() {
        return Err(malformed("the token has no signature"));
    }
    // Header and signature are small: decoded on the stack, not the heap.
    let (mut header_buf, mut spill) = ([0u8; 512], Vec::new());
    let header = parse_header(decode_part_into(header_b64, &mut header_buf, &mut spill)?)?;
    let context = || ErrorContext {
        kid: header.kid.clone(),
        ..ErrorContext::default()
    };

    if let Some(crit) = &header.crit
        && let Some(name) = crit.iter().find(|name| !understood_crit.contains(name))
    {
        tracing::trace!(extension = %name, "unsupported critical header");
        return Err(AuthError::new(
            AuthErrorKind::UnsupportedCritical,
            "the token has a critical header extension that is not understood",
        )
        .with_context(context()));
    }

    // No keys at all: an empty shared set, refused as if no key matched.
    let key = match keys {
        Some(keys) => keys.find(header.kid.as_deref(), header.alg),
        None if header.kid.is_some() => Err(KeyLookupError::UnknownKid),
        None => Err(KeyLookupError::NoKeyForAlgorithm),
    }
    .map_err(|e| key_error(e).with_context(context()))?;
    // Large enough for an RSA signature of 8192 bits, the longest accepted.
    let mut signature_buf = [0u8; 1024];
    let signature = decode_part_into(signature_b64, &mut signature_buf, &mut spill)?;
    let payload = decode_part(payload_b64)?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(signing_input.as_bytes(), signature) {
        return Err(AuthError::new(
            AuthErrorKind::InvalidSignature,
            "the token's signature does not verify",
        )
        .with_context(context()));
    }
    Ok(VerifiedJws { header, payload })
}

pub(crate) fn check_length(token: &str, max_len: usize) -> Result<(), AuthError> {
    if token.len() > max_len {
        return Err(AuthError::new(
            AuthErrorKind::TooLong,
            "the token is longer than allowed",
        ));
    }
    Ok(())
}

fn key_error(error: KeyLookupError) -> AuthError {
    match error {
        KeyLookupError::UnknownKid | KeyLookupError::NoKeyForAlgorithm => AuthError::new(
            AuthErrorKind::UnknownKey,
            "no trusted key matches the token",
        ),
        KeyLookupError::AlgorithmMismatch => AuthError::new(
            AuthErrorKind::AlgorithmMismatch,
            "the token's algorithm is not its key's algorithm",
        ),
        KeyLookupError::Ambiguous => AuthError::new(
            AuthErrorKind::AmbiguousKey,
            "the token has no kid and several keys could verify it",
        ),
    }
}

/// The `iss` of a token not verified yet, to pick the issuer whose keys
/// verify it: read from the payload segment alone (strict base64url, a
/// JSON object); a payload naming `iss` twice is refused here, by the
/// derived deserializer's duplicate-field rule, so no second `iss` can pick
/// one issuer and claim another.
pub(crate) fn unverified_issuer(token: &str) -> Result<Option<String>, AuthError> {
    #[derive(serde::Deserialize)]
    struct Issuer {
        #[serde(default)]
        iss: Option<serde_json::Value>,
    }
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("the token is not a compact JWS"));
    };
    let payload = decode_part(payload)?;
    let issuer: Issuer = serde_json::from_slice(&payload)
        .map_err(|_| malformed("the token payload is not a JSON object"))?;
    match issuer.iss {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(iss)) => Ok(Some(iss)),
        Some(_) => Err(AuthError::new(
            AuthErrorKind::InvalidClaim,
            "the token's iss is not a string",
        )),
    }
}

/// Strict base64url: the URL-safe alphabet only, no padding, no whitespace,
/// no non-zero trailing bits.
pub(crate) fn decode_part(part: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed("the token is not valid base64url"))
}

/// [`decode_part`] into `buf` when the decoded bytes fit, else into `spill`.
fn decode_part_into<'a>(
    part: &str,
    buf: &'a mut [u8],
    spill: &'a mut Vec<u8>,
) -> Result<&'a [u8], AuthError> {
    // base64url without padding: at most 3 bytes per 4 characters, rounded up.
    if part.len().div_ceil(4) * 3 > buf.len() {
        *spill = decode_part(part)?;
        return Ok(spill);
    }
    let len = URL_SAFE_NO_PAD
        .decode_slice(part, buf)
        .map_err(|_| malformed("the token is not valid base64url"))?;
    Ok(&buf[..len])
}

fn parse_header(bytes: &[u8]) -> Result<Header, AuthError> {
    let text = json_text(bytes).map_err(malformed)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = RawHeader::deserialize(&mut de).and_then(|h| de.end().map(|()| h));
    let raw = match raw {
        Ok(raw) => raw,
        Err(error) => {
            tracing::trace!(%error, "unreadable JOSE header");
            return Err(malformed(
                "the token header is not a JSON object of the expected shape",
            ));
        }
    };
    let alg = match raw.alg.as_deref() {
        None => return Err(malformed("the token header has no alg")),
        Some(name) => Algorithm::from_name(name).ok_or_else(|| {
            AuthError::new(
                AuthErrorKind::UnsupportedAlgorithm,
                "the token's algorithm is not accepted",
            )
        })?,
    };
    if raw.b64 == Some(false) {
        // RFC 7797 unencoded payloads are not supported.
        return Err(AuthError::new(
            AuthErrorKind::UnsupportedCritical,
            "unencoded payloads (b64=false) are not supported",
        ));
    }
    if raw.crit.as_ref().is_some_and(Vec::is_empty) {
        return Err(malformed("the crit header is empty"));
    }
    Ok(Header {
        alg,
        kid: raw.kid,
        typ: raw.typ,
        crit: raw.crit,
    })
}

#[derive(Default)]
struct RawHeader<'de> {
    alg: Option<Cow<'de, str>>,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<Vec<String>>,
    b64: Option<bool>,
}

impl<'de> RawHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawHeaderVisitor)
    }
}

struct RawHeaderVisitor;

impl<'de> Visitor<'de> for RawHeaderVisitor {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader<'de>, A::Error> {
        let mut header = RawHeader::default();
        let mut seen = SeenKeys::default();
        while let Some(name) = map.next_key::<MemberName<'de>>()? {
            let name: Cow<'de, str> = name.0;
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom("duplicate header member"));
            }
            match name.as_ref() {
                "alg" => header.alg = Some(map.next_value::<MemberName<'de>>()?.0),
                "kid" => header.kid = Some(map.next_value()?),
                "typ" => header.typ = Some(map.next_value()?),
                "crit" => header.crit = Some(map.next_value()?),
                "b64" => header.b64 = Some(map.next_value()?),
                // Registered parameters this crate does not use still have
                // their registered types (RFC 7515 §4.1, RFC 7516 §4.1,
                // RFC 8555 §6.4): a header breaking them is malformed, as
                // other verifiers find it (found by the differential fuzz
                // target: `"url": 4102444800`).
                "cty" | "jku" | "x5u" | "x5t" | "x5t#S256" | "url" | "nonce" | "enc" | "zip" => {
                    map.next_value::<MemberName<'de>>()?;
                }
                "x5c" => {
                    map.next_value::<Vec<MemberName<'de>>>()?;
                }
                "jwk" => {
                    map.next_value::<serde_json::Map<String, serde_json::Value>>()?;
                }
                // Read, not skipped: a number out of range is refused here too.
                _ => {
                    map.next_value::<Unique>()?;
                }
            }
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_decode_alike_on_the_stack_and_spilled() {
        let long = URL_SAFE_NO_PAD.encode([7u8; 700]);
        for part in ["eyJhbGciOiJIUzI1NiJ9", long.as_str(), ""] {
            let (mut buf, mut spill) = ([0u8; 512], Vec::new());
            let decoded = decode_part_into(part, &mut buf, &mut spill)
                .unwrap()
                .to_vec();
            assert_eq!(decoded, decode_part(part).unwrap());
        }
        let (mut buf, mut spill) = ([0u8; 512], Vec::new());
        decode_part_into(&long, &mut buf, &mut spill).unwrap();
        assert_eq!(spill.len(), 700, "over the buffer, decoded to the heap");
        // Strict either way: padding, a foreign alphabet, non-zero trailing bits.
        for bad in ["eyJ9=", "ey+J", "eR"] {
            let (mut buf, mut spill) = ([0u8; 512], Vec::new());
            assert!(decode_part_into(bad, &mut buf, &mut spill).is_err());
            assert!(decode_part(bad).is_err());
        }
        let padded_long = format!("{long}=");
        let (mut buf, mut spill) = ([0u8; 512], Vec::new());
        assert!(decode_part_into(&padded_long, &mut buf, &mut spill).is_err());
    }
}
