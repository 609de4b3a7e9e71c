//! Error text never contains the token.

use jwt_guard::{Algorithm, AuthErrorKind};
use serde_json::{Value, json};

use crate::support::{SECRET, claims, now};

use super::{
    claims_with, hmac_signer, mint_with_kid, parts, refused, validator_with_kids, with_part,
};

#[test]
fn refusals_never_show_the_token_or_its_signature() {
    let v = validator_with_kids(&["k1"]);
    let with_kid = |claims: &Value| {
        hmac_signer(Algorithm::HS256, SECRET)
            .with_kid("k1")
            .sign("JWT", claims)
            .unwrap()
    };
    let good = with_kid(&claims("alice", &[]));
    let bad_signature = {
        let other = hmac_signer(Algorithm::HS256, b"another-secret-of-at-least-32-bytes!")
            .with_kid("k1")
            .sign("JWT", &claims("alice", &[]))
            .unwrap();
        with_part(&good, 2, parts(&other)[2])
    };
    let samples = [
        (bad_signature, AuthErrorKind::InvalidSignature),
        (
            with_kid(&claims_with(|c| {
                c.insert("exp".into(), json!(now() - 3600));
            })),
            AuthErrorKind::Expired,
        ),
        (
            with_kid(&claims_with(|c| {
                c.insert("aud".into(), json!("other-api"));
            })),
            AuthErrorKind::InvalidAudience,
        ),
        (
            with_kid(&claims_with(|c| {
                c.insert("exp".into(), json!("soon"));
            })),
            AuthErrorKind::InvalidClaim,
        ),
        (format!("{good}="), AuthErrorKind::Malformed),
        (mint_with_kid("k9"), AuthErrorKind::UnknownKey),
        (
            format!("{good}{}", "A".repeat(9000)),
            AuthErrorKind::TooLong,
        ),
    ];
    for (token, kind) in samples {
        let err = refused(&v, &token);
        assert_eq!(err.kind(), kind, "{err}");
        let signature = parts(&token)[2];
        let payload = parts(&token)[1];
        let response = err.to_http_response("api");
        let mut shown = format!(
            "{err}\n{err:?}\n{}\n",
            String::from_utf8_lossy(response.body())
        );
        for value in response.headers().values() {
            shown.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        assert!(!shown.contains(&token), "{kind:?} shows the token");
        assert!(!shown.contains(signature), "{kind:?} shows the signature");
        assert!(!shown.contains(payload), "{kind:?} shows the payload");
    }
}
