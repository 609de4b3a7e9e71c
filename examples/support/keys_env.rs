//! Where an example's keys come from: `JWT_SECRET` (HS256, with
//! `JWT_ISSUER`), or `OIDC_ISSUER_URL` (an identity provider's issuer URL,
//! or several comma-separated: their keys found by discovery, each issuer's
//! `iss` required). Both at once is refused: the service would not say
//! which tokens it trusts.

#[path = "secret_env.rs"]
mod secret_env;

use jwt_guard::{Algorithm, ClaimMapping, ConfigError, Validator, VerifyingKey};

/// The keys tokens are verified with. Its `Debug` output never shows the
/// secret nor credentials in an issuer URL.
#[derive(Clone)]
pub enum KeySource {
    /// An HS256 secret, at least 32 bytes.
    Secret(Vec<u8>),
    /// Issuer URLs whose keys are found by OIDC discovery.
    #[cfg(feature = "jwks")]
    Oidc(Vec<String>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(secret) => write!(f, "Secret({} bytes)", secret.len()),
            #[cfg(feature = "jwks")]
            Self::Oidc(issuers) => {
                let shown: Vec<String> = issuers.iter().map(|url| without_userinfo(url)).collect();
                f.debug_tuple("Oidc").field(&shown).finish()
            }
        }
    }
}

impl KeySource {
    /// What tokens must name, for the start-up line: the `iss` of HS256
    /// tokens, or the issuers found by discovery (without any credentials
    /// a URL might carry).
    #[cfg_attr(test, allow(dead_code))]
    pub fn describe(&self, issuer: &str) -> String {
        match self {
            Self::Secret(_) => format!("iss {issuer}"),
            #[cfg(feature = "jwks")]
            Self::Oidc(issuers) => {
                let shown: Vec<String> = issuers.iter().map(|url| without_userinfo(url)).collect();
                format!("issuers {} by discovery", shown.join(", "))
            }
        }
    }

    /// The HS256 secret, for minting test tokens.
    #[cfg_attr(test, allow(dead_code))]
    pub fn secret(&self) -> Option<&[u8]> {
        match self {
            Self::Secret(secret) => Some(secret),
            #[cfg(feature = "jwks")]
            Self::Oidc(_) => None,
        }
    }
}

/// `JWT_SECRET` or `OIDC_ISSUER_URL`, for `example`.
#[cfg_attr(test, allow(dead_code))]
pub fn from_env(example: &str) -> Result<KeySource, String> {
    let secret = secret_env::from_env()?;
    let issuers = std::env::var("OIDC_ISSUER_URL")
        .ok()
        .filter(|urls| !urls.trim().is_empty());
    match (secret, issuers) {
        (Some(_), Some(_)) => Err(
            "JWT_SECRET and OIDC_ISSUER_URL are both set: set one (a shared secret, or the \
             identity provider's issuer)"
                .to_owned(),
        ),
        (Some(secret), None) => Ok(KeySource::Secret(secret)),
        #[cfg(not(feature = "jwks"))]
        (None, Some(_)) => Err(format!(
            "OIDC_ISSUER_URL needs jwt-guard's `jwks` feature: \
             cargo run --example {example} --features jwks"
        )),
        #[cfg(feature = "jwks")]
        (None, Some(urls)) => {
            let _ = example;
            let issuers: Vec<String> = urls
                .split(',')
                .map(|url| url.trim().to_owned())
                .filter(|url| !url.is_empty())
                .collect();
            if issuers.is_empty() {
                return Err("OIDC_ISSUER_URL names no issuer".to_owned());
            }
            Ok(KeySource::Oidc(issuers))
        }
        (None, None) => Err(
            "JWT_SECRET is not set: give it a secret of at least 32 bytes \
             (or OIDC_ISSUER_URL=https://your-identity-provider/…)"
                .to_owned(),
        ),
    }
}

/// The validator: HS256 with `issuer` and `audience` for a secret; for
/// issuers, each issuer's keys by discovery (kept current in the
/// background; 503 until first fetched) and its `iss`, with `audience`.
/// Must be called inside a Tokio runtime for issuers.
pub fn validator(
    keys: &KeySource,
    issuer: &str,
    audience: &str,
    mapping: ClaimMapping,
) -> Result<Validator, ConfigError> {
    let rules = |builder: jwt_guard::ValidatorBuilder| {
        builder
            .audience(audience)
            .leeway(std::time::Duration::from_secs(30))
            .claim_mapping(mapping.clone())
    };
    match keys {
        KeySource::Secret(secret) => rules(
            Validator::builder()
                .key(VerifyingKey::hmac(Algorithm::HS256, secret)?)
                .issuer(issuer),
        )
        .build(),
        #[cfg(feature = "jwks")]
        KeySource::Oidc(issuers) => {
            let mut validators = Vec::new();
            for issuer in issuers {
                let remote = jwt_guard::keys::RemoteJwks::discover(issuer).build()?;
                validators.push(rules(Validator::builder().remote_jwks(&remote)).build()?);
            }
            match <[Validator; 1]>::try_from(validators) {
                Ok([one]) => Ok(one),
                Err(several) => {
                    let trusted = jwt_guard::verify::TrustedIssuers::new();
                    for validator in several {
                        trusted.insert(validator)?;
                    }
                    Validator::builder().trusted_issuers(trusted).build()
                }
            }
        }
    }
}

/// `url` without a `user:password@` part.
#[cfg(feature = "jwks")]
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}
