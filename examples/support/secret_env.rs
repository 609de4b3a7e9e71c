//! `JWT_SECRET` as the other services of a fleet hold it: raw text (the
//! default), or base64 with `JWT_SECRET_ENCODING=base64`, as Spring
//! services often store theirs (standard or URL-safe alphabet, padded or
//! not). The 32-byte minimum applies to the decoded bytes, and is checked
//! where the key is made. Error messages never repeat the secret.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The secret's bytes; `None` when `JWT_SECRET` is not set.
pub fn from_env() -> Result<Option<Vec<u8>>, String> {
    let Ok(text) = std::env::var("JWT_SECRET") else {
        return Ok(None);
    };
    let encoding = std::env::var("JWT_SECRET_ENCODING").unwrap_or_default();
    decode(&text, &encoding).map(Some)
}

/// `text` decoded as `encoding` says (`raw`, the default when empty, or
/// `base64`, in any case).
pub fn decode(text: &str, encoding: &str) -> Result<Vec<u8>, String> {
    match encoding.to_ascii_lowercase().as_str() {
        "" | "raw" => Ok(text.as_bytes().to_vec()),
        "base64" => {
            let lenient = GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent);
            let text = text.trim();
            GeneralPurpose::new(&alphabet::STANDARD, lenient)
                .decode(text)
                .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, lenient).decode(text))
                .map_err(|_| {
                    "JWT_SECRET is not base64, as JWT_SECRET_ENCODING=base64 says".to_owned()
                })
        }
        _ => Err(format!(
            "JWT_SECRET_ENCODING must be `raw` (the default) or `base64`, not `{encoding}`"
        )),
    }
}
