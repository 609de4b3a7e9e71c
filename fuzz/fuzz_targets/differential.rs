//! Differential: every token jwt-guard accepts, an independent verifier
//! configured as strictly (`jsonwebtoken`, every check on) accepts too, with
//! the same claims. A bug in jwt-guard's hand-written JWS and claims parsing
//! shows as a disagreement.
//!
//! Input: a selector byte (even: HS256 key `hs`, odd: EdDSA key `ed`), then
//! `<header JSON>\n<payload JSON>`, signed by the harness with that key, so
//! that the signature is valid and the parsers and rules decide.
#![no_main]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{DecodingKey, Validation};
use jwt_guard::{KeySet, StandardClaims, Validator};
use jwt_guard_fuzz::{
    AUDIENCE, HMAC_SECRET, ISSUER, KEYS, LEEWAY_SECS, split_line, strict_validator,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Side {
    ours: Validator,
    theirs: (DecodingKey, Validation),
}

fn independent(alg: jsonwebtoken::Algorithm, key: DecodingKey) -> (DecodingKey, Validation) {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    (key, validation)
}

static SIDES: LazyLock<[Side; 2]> = LazyLock::new(|| {
    let only = |kid: &str| {
        let key = KEYS.set.get(kid).expect("harness key").clone();
        strict_validator(KeySet::new([key]).expect("one key"))
    };
    [
        Side {
            ours: only("hs"),
            theirs: independent(
                jsonwebtoken::Algorithm::HS256,
                DecodingKey::from_secret(HMAC_SECRET),
            ),
        },
        Side {
            ours: only("ed"),
            theirs: independent(
                jsonwebtoken::Algorithm::EdDSA,
                DecodingKey::from_ed_der(&KEYS.ed25519_public),
            ),
        },
    ]
});

/// Whether a time claim of `payload` lies within two seconds of a rule's
/// edge now (`exp` or `nbf` plus or minus the leeway): there the two
/// verifiers may read the clock on either side of a second.
fn near_the_clock(payload: &Value) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    ["exp", "nbf"].iter().any(|name| {
        payload.get(name).and_then(Value::as_f64).is_some_and(|t| {
            let leeway = LEEWAY_SECS as f64;
            (t + leeway - now).abs() < 2.0 || (t - leeway - now).abs() < 2.0
        })
    })
}

/// Whether the header carries a `jwk` that `jsonwebtoken` cannot read as a
/// JWK: jwt-guard takes no key from a token, and asks of that member only
/// that it be an object, so that difference is by design.
fn foreign_jwk(header: &[u8]) -> bool {
    serde_json::from_slice::<Value>(header)
        .ok()
        .and_then(|header| header.get("jwk").cloned())
        .is_some_and(|jwk| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk).is_err())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some((header, payload)) = split_line(rest) else {
        return;
    };
    let (signer, side) = match selector % 2 {
        0 => (&KEYS.hs256, &SIDES[0]),
        _ => (&KEYS.ed25519, &SIDES[1]),
    };
    let token = signer
        .sign_jws(header, payload)
        .expect("the harness key signs");
    let Ok(ours) = side.ours.validate::<StandardClaims>(&token) else {
        return;
    };
    let (key, validation) = &side.theirs;
    let theirs = jsonwebtoken::decode::<Value>(&token, key, validation);
    let claims = match theirs {
        Ok(data) => data.claims,
        Err(error) => {
            let payload: Value = serde_json::from_slice(payload).unwrap_or_default();
            if near_the_clock(&payload) || foreign_jwk(header) {
                return;
            }
            panic!(
                "jwt-guard accepted a token that jsonwebtoken refuses ({error:?}):\nheader {}\npayload {}",
                String::from_utf8_lossy(header),
                String::from_utf8_lossy(payload.to_string().as_bytes()),
            );
        }
    };
    // The same claims, read by both.
    let registered = ours.registered();
    assert_eq!(registered.issuer(), claims["iss"].as_str());
    assert_eq!(registered.sub(), claims["sub"].as_str());
    let exp = claims["exp"].as_f64().expect("exp is a number");
    let ours_exp = registered.expires_at().expect("exp").to_system_time();
    let ours_exp = ours_exp.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((ours_exp - exp).abs() < 1.0, "exp {ours_exp} vs {exp}");
    let audience: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        other => panic!("jsonwebtoken accepted aud {other}"),
    };
    assert_eq!(
        registered
            .audience()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        audience
    );
});
