//! Server-provided nonces for DPoP proofs (RFC 9449 §8 and §9).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::claims::NumericDate;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::keys::{Algorithm, SigningKey, VerifyingKey};

/// How long a nonce is accepted unless configured.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// How far ahead of this server's clock another instance's may be: a
/// nonce issued that much in this clock's future is accepted.
const MAX_SKEW_SECS: i64 = 5;

/// The nonce's header, fixed: the nonce is `e30.<issued at>.<HMAC>`, an
/// HS256 JWS over the instant it was issued.
const HEADER: &[u8] = b"{}";
/// [`HEADER`] in base64url, as a nonce begins.
const ENCODED_HEADER: &str = "e30";

/// Nonces a server hands to DPoP clients, which their proofs must then
/// carry (RFC 9449 §9): a proof made before the client last heard from the
/// server cannot pass, whatever clock the client keeps.
///
/// A nonce is stateless: the instant it was issued, signed with HMAC-SHA256
/// under a secret. Every instance given the same secret accepts the
/// nonces of the others, with nothing stored; a nonce is accepted for its
/// [lifetime](Self::with_lifetime). A proof without a valid nonce is
/// refused with `use_dpop_nonce` and a `DPoP-Nonce` header holding a fresh
/// one; the client makes its proof again with it.
///
/// ```
/// use jwt_guard::dpop::{DpopNonces, DpopVerifier};
///
/// let nonces = DpopNonces::new(b"a-secret-every-instance-shares-0123456789")?;
/// let verifier = DpopVerifier::builder().nonces(nonces.clone()).build()?;
/// // A token endpoint hands out `nonces.issue()` in its `DPoP-Nonce` header.
/// assert!(!nonces.issue().is_empty());
/// # let _ = verifier;
/// # Ok::<(), jwt_guard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    signer: SigningKey,
    verifier: VerifyingKey,
    lifetime: Duration,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("secret", &"***")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl DpopNonces {
    /// Nonces signed with `secret` (at least
    /// [`MIN_HMAC_SECRET_LEN`](crate::keys::MIN_HMAC_SECRET_LEN) bytes; the
    /// same on every instance), accepted for [`DEFAULT_NONCE_LIFETIME`].
    ///
    /// # Errors
    ///
    /// `WeakKey` for a secret too short.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        Ok(Self {
            signer: SigningKey::hmac(Algorithm::HS256, secret)?,
            verifier: VerifyingKey::hmac(Algorithm::HS256, secret)?,
            lifetime: DEFAULT_NONCE_LIFETIME,
        })
    }

    /// How long a nonce is accepted after it was issued.
    ///
    /// # Errors
    ///
    /// `InvalidSetting` for under a second or over an hour.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<Self, ConfigError> {
        if lifetime < Duration::from_secs(1) || lifetime > Duration::from_secs(3600) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "a DPoP nonce's lifetime must be between a second and an hour",
            ));
        }
        self.lifetime = lifetime;
        Ok(self)
    }

    /// How long a nonce is accepted.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A fresh nonce, for a `DPoP-Nonce` header.
    pub fn issue(&self) -> String {
        self.issue_at(NumericDate::now())
    }

    pub(crate) fn issue_at(&self, now: NumericDate) -> String {
        let issued = now.as_secs().to_string();
        // HMAC over fixed bytes with a key checked when built: it cannot fail.
        self.signer
            .sign_jws(HEADER, issued.as_bytes())
            .unwrap_or_default()
    }

    /// Whether `nonce` was issued with this secret, at most `lifetime` ago
    /// and not after `now` (give or take another instance's clock).
    pub(crate) fn accepts(&self, nonce: &str, now: NumericDate) -> bool {
        let Some((input, signature)) = nonce.rsplit_once('.') else {
            return false;
        };
        let Some((header, issued)) = input.split_once('.') else {
            return false;
        };
        if header != ENCODED_HEADER {
            return false;
        }
        let (Ok(signature), Ok(issued)) = (
            URL_SAFE_NO_PAD.decode(signature),
            URL_SAFE_NO_PAD.decode(issued),
        ) else {
            return false;
        };
        if !self.verifier.verify(input.as_bytes(), &signature) {
            return false;
        }
        let Some(issued) = std::str::from_utf8(&issued)
            .ok()
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<i64>().ok())
        else {
            return false;
        };
        let now = now.as_secs();
        // Another instance's clock may run a little ahead of this one's.
        issued <= now.saturating_add(MAX_SKEW_SECS)
            && now.saturating_sub(issued)
                <= i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"dpop-nonce-secret-0123456789abcdef";

    #[test]
    fn a_nonce_is_accepted_by_every_instance_sharing_the_secret_for_its_lifetime() {
        let nonces = DpopNonces::new(SECRET).unwrap();
        let other_instance = DpopNonces::new(SECRET).unwrap();
        let at = NumericDate::from_secs(1_800_000_000);
        let nonce = nonces.issue_at(at);
        assert!(other_instance.accepts(&nonce, at));
        assert!(other_instance.accepts(&nonce, NumericDate::from_secs(1_800_000_300)));
        assert!(
            !other_instance.accepts(&nonce, NumericDate::from_secs(1_800_000_301)),
            "expired"
        );
        assert!(
            nonces.accepts(&nonce, NumericDate::from_secs(1_799_999_995)),
            "a clock behind"
        );
        assert!(
            !nonces.accepts(&nonce, NumericDate::from_secs(1_799_999_994)),
            "from the future"
        );
        let short = nonces
            .clone()
            .with_lifetime(Duration::from_secs(1))
            .unwrap();
        assert!(!short.accepts(&nonce, NumericDate::from_secs(1_800_000_002)));
        // The nonce is header characters only (RFC 9449 §8.1: NQCHAR).
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert!(!format!("{nonces:?}").contains("dpop-nonce-secret"));
    }

    #[test]
    fn the_encoded_header_is_the_header() {
        assert_eq!(URL_SAFE_NO_PAD.encode(HEADER), ENCODED_HEADER);
    }

    #[test]
    fn forged_and_malformed_nonces_are_refused() {
        let nonces = DpopNonces::new(SECRET).unwrap();
        let at = NumericDate::from_secs(1_800_000_000);
        let other = DpopNonces::new(b"another-secret-0123456789abcdef-xyz").unwrap();
        assert!(!nonces.accepts(&other.issue_at(at), at), "another secret");
        let nonce = nonces.issue_at(at);
        let (input, _) = nonce.rsplit_once('.').unwrap();
        let later = format!(
            "e30.{}.{}",
            URL_SAFE_NO_PAD.encode("1800000100"),
            nonce.rsplit('.').next().unwrap()
        );
        assert!(
            !nonces.accepts(&later, NumericDate::from_secs(1_800_000_100)),
            "another instant"
        );
        for bad in [
            "",
            "e30",
            "e30.MTgwMDAwMDAwMA",
            &format!("{input}."),
            &format!("{input}.!!"),
            "a.b.c.d",
        ] {
            assert!(!nonces.accepts(bad, at), "{bad:?}");
        }
        // Signed, but not a number of seconds.
        let signer = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
        for text in ["-5", "1e9", "", " 1800000000"] {
            let forged = signer.sign_jws(HEADER, text.as_bytes()).unwrap();
            assert!(!nonces.accepts(&forged, at), "{text:?}");
        }
        assert_eq!(
            DpopNonces::new(b"short").unwrap_err().kind(),
            ConfigErrorKind::WeakKey
        );
        for lifetime in [Duration::ZERO, Duration::from_secs(3601)] {
            assert!(nonces.clone().with_lifetime(lifetime).is_err());
        }
    }
}
