//! DPoP requests and proofs shared by the tests that drive a service with
//! a real client's proofs: the request and what its refusal says, and the
//! proofs no client library makes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::{Algorithm, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::keys::ec_key;

/// A refusal of a proof: 401 `invalid_dpop_proof` with a DPoP challenge.
pub fn refused() -> (StatusCode, Value, bool) {
    (StatusCode::UNAUTHORIZED, json!("invalid_dpop_proof"), true)
}

/// `GET url` with `authorization` (and `proof`): the status, the body's
/// `error`, and whether a DPoP challenge came. Nothing answered repeats
/// the signature of the token (from `authorization`) or of the proof.
pub async fn ask(url: &str, authorization: &str, proof: Option<&str>) -> (StatusCode, Value, bool) {
    let mut request = super::client()
        .get(url)
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = format!("{:?}", response.headers());
    let challenge = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .any(|value| value.to_str().unwrap().starts_with("DPoP "));
    let body = response.text().await.unwrap();
    let token = authorization.rsplit(' ').next().unwrap();
    for secret in [Some(token), proof].into_iter().flatten() {
        // An unsigned proof has no signature to leak.
        let signature = secret.rsplit('.').next().unwrap();
        if !signature.is_empty() {
            assert!(!body.contains(signature) && !headers.contains(signature));
        }
    }
    let error = serde_json::from_str::<Value>(&body).map_or(Value::Null, |b| b["error"].clone());
    (status, error, challenge)
}

/// Proofs for `GET htu` with `token` that no client library makes: unsigned
/// (`alg: none`), HMAC-signed with its secret in the `jwk`, and signed by
/// a key whose private part is in the `jwk`; each with what it is.
pub fn forged_proofs(htu: &str, token: &str) -> [(String, &'static str); 3] {
    let ec = SigningKey::from_ec_pem(
        Algorithm::ES256,
        ec_key(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING).private_pem,
    )
    .unwrap();
    let claims = json!({
        "jti": super::unique_id(), "htm": "GET", "htu": htu, "iat": super::now(),
        "ath": URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()),
        ),
    })
    .to_string();
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({ "typ": "dpop+jwt", "alg": "none", "jwk": ec.public_jwk().unwrap() })),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    let secret = b"an-hmac-key-a-client-might-try-0123456789";
    let hmac_jwk = json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret) });
    let hmac = SigningKey::hmac(Algorithm::HS256, secret)
        .unwrap()
        .sign_jws(
            json!({ "typ": "dpop+jwt", "alg": "HS256", "jwk": hmac_jwk })
                .to_string()
                .as_bytes(),
            claims.as_bytes(),
        )
        .unwrap();
    let mut with_d = ec.public_jwk().unwrap();
    with_d["d"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
    let private = ec
        .sign_jws(
            json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": with_d })
                .to_string()
                .as_bytes(),
            claims.as_bytes(),
        )
        .unwrap();
    [
        (unsigned, "alg none"),
        (hmac, "HMAC"),
        (private, "private key"),
    ]
}
