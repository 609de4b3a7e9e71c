//! Checking one DPoP proof JWT against the request it came with (RFC 9449
//! §4.3), replay apart.

use serde_json::{Map, Value};

use crate::claims::NumericDate;
use crate::crypto::sha256_b64url;
use crate::error::{AuthError, AuthErrorKind};
use crate::json::unique_object;
use crate::keys::{Algorithm, VerifyingKey, jwk_thumbprint, verifying_key_from_jwk};
use crate::verify::decode_part;

use super::{DpopVerifier, ProofRequest, VerifiedProof, htu};

/// The longest proof read: an RSA key of 4096 bits in the header and its
/// signature fit several times over.
const MAX_PROOF_LEN: usize = 8 * 1024;
/// The longest `jti` accepted: it is kept in the replay cache.
const MAX_JTI_LEN: usize = 256;
/// JWK members that hold private key material (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn invalid(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidDpopProof, description)
}

impl DpopVerifier {
    /// Checks `proof`, the `DPoP` header's value, against `request`: every
    /// rule of RFC 9449 §4.3 but the replay check, which needs the store.
    pub(super) fn check(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        now: NumericDate,
    ) -> Result<VerifiedProof, AuthError> {
        if proof.len() > MAX_PROOF_LEN {
            return Err(invalid("the DPoP proof is longer than allowed"));
        }
        let mut parts = proof.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the DPoP proof is not a compact JWS"));
        };
        let decode = |part: &str| {
            decode_part(part).map_err(|_| invalid("the DPoP proof is not valid base64url"))
        };
        let header = object(&decode(header_b64)?, "the DPoP proof's header")?;
        let alg = self.algorithm(&header)?;
        let (key, jkt) = proof_key(&header, alg)?;
        if header.contains_key("crit") {
            return Err(invalid(
                "the DPoP proof has a critical header extension that is not understood",
            ));
        }
        let signature = decode(signature_b64)?;
        let signing_input = &proof[..header_b64.len() + 1 + payload_b64.len()];
        if !key.verify(signing_input.as_bytes(), &signature) {
            return Err(invalid("the DPoP proof's signature does not verify"));
        }
        let claims = object(&decode(payload_b64)?, "the DPoP proof's claims")?;
        let jti = string(&claims, "jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(invalid("the DPoP proof's jti is empty or too long"));
        }
        if string(&claims, "htm")? != request.method {
            return Err(invalid("the DPoP proof is for another HTTP method"));
        }
        let htu = htu::normalize(string(&claims, "htu")?)
            .ok_or_else(|| invalid("the DPoP proof's htu is not an http(s) URI"))?;
        if htu != request.target {
            return Err(invalid("the DPoP proof is for another URI"));
        }
        let iat = self.issued_at(&claims, now)?;
        if let Some(token) = request.access_token {
            let ath = claims
                .get("ath")
                .ok_or_else(|| invalid("the DPoP proof has no ath for the access token"))?;
            let expected = sha256_b64url(token.as_bytes())
                .map_err(|_| invalid("the access token's hash could not be computed"))?;
            if ath.as_str() != Some(expected.as_str()) {
                return Err(invalid("the DPoP proof is for another access token"));
            }
        }
        let nonce = match claims.get("nonce") {
            None => None,
            Some(Value::String(nonce)) => Some(nonce.clone()),
            Some(_) => return Err(invalid("the DPoP proof's nonce is not a string")),
        };
        if let Some(nonces) = &self.nonces
            && !nonce
                .as_deref()
                .is_some_and(|nonce| nonces.accepts(nonce, now))
        {
            return Err(AuthError::new(
                AuthErrorKind::UseDpopNonce,
                "the DPoP proof must carry a current nonce from this server",
            ));
        }
        Ok(VerifiedProof {
            jkt,
            jti: jti.to_owned(),
            iat,
            nonce,
        })
    }

    /// The proof's `typ` must be `dpop+jwt`, its `alg` one of the allowed
    /// asymmetric algorithms.
    fn algorithm(&self, header: &Map<String, Value>) -> Result<Algorithm, AuthError> {
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case("dpop+jwt") {
            return Err(invalid("the DPoP proof's typ is not dpop+jwt"));
        }
        let name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the DPoP proof has no alg"))?;
        // `Ed25519` is RFC 9864's fully-specified name for EdDSA on an
        // Ed25519 key: panva's dpop 2 signs Ed25519 proofs with it.
        let alg = match name {
            "Ed25519" => Some(Algorithm::EdDSA),
            name => Algorithm::from_name(name),
        };
        alg.filter(|alg| self.algorithms.contains(alg))
            .ok_or_else(|| invalid("the DPoP proof's algorithm is not accepted"))
    }

    /// `iat` within the window: at most `max_age` old, at most `leeway`
    /// ahead.
    fn issued_at(
        &self,
        claims: &Map<String, Value>,
        now: NumericDate,
    ) -> Result<NumericDate, AuthError> {
        let iat = claims
            .get("iat")
            .ok_or_else(|| invalid("the DPoP proof has no iat"))?
            .as_f64()
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(NumericDate::from_secs_f64)
            .ok_or_else(|| invalid("the DPoP proof's iat is not a time"))?;
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let age = now.as_micros().saturating_sub(iat.as_micros());
        if age > micros(self.max_age) {
            return Err(invalid("the DPoP proof is too old"));
        }
        if -age > micros(self.leeway) {
            return Err(invalid("the DPoP proof is issued in the future"));
        }
        Ok(iat)
    }
}

/// A JSON object without repeated member names, at any depth.
fn object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, AuthError> {
    unique_object(bytes).map_err(|_| {
        tracing::trace!(what, "unreadable DPoP proof part");
        invalid("the DPoP proof's header or claims are not a JSON object")
    })
}

fn string<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, AuthError> {
    match claims.get(name) {
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(invalid(
            "a DPoP proof claim (jti, htm, htu) is not a string",
        )),
        None => Err(invalid(
            "the DPoP proof lacks a required claim (jti, htm, htu, iat)",
        )),
    }
}

/// The public key of the proof's `jwk` header, for `alg` (an allowed
/// algorithm, so never HMAC), and its RFC 7638 thumbprint: refused when it
/// holds private material or is not a key for `alg`.
fn proof_key(
    header: &Map<String, Value>,
    alg: Algorithm,
) -> Result<(VerifyingKey, String), AuthError> {
    let Some(jwk @ Value::Object(members)) = header.get("jwk") else {
        return Err(invalid("the DPoP proof has no jwk header"));
    };
    if PRIVATE_MEMBERS
        .iter()
        .any(|name| members.contains_key(*name))
    {
        return Err(invalid("the DPoP proof's jwk holds a private key"));
    }
    let unusable = || invalid("the DPoP proof's jwk is not a usable key for its algorithm");
    let key = verifying_key_from_jwk(jwk, alg).map_err(|error| {
        tracing::trace!(%error, "unusable DPoP proof key");
        unusable()
    })?;
    let jkt = jwk_thumbprint(members).ok_or_else(unusable)?;
    Ok((key, jkt))
}
