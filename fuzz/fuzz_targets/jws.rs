//! The compact JWS and its header: serialization, base64url, the header's
//! members, key lookup by `kid`, the signature, then the claims rules.
//!
//! Input: a token (checked against the harness's keys), or `<JWKS>\n<token>`
//! (against that key set: `seed.py` pairs each Wycheproof group's keys with
//! its tokens).
#![no_main]

use std::sync::LazyLock;

use jwt_guard::{KeySet, StandardClaims, Validator};
use jwt_guard_fuzz::{KEYS, split_line, strict_validator};
use libfuzzer_sys::fuzz_target;

static HARNESS: LazyLock<Validator> = LazyLock::new(|| strict_validator(KEYS.set.clone()));

fuzz_target!(|data: &[u8]| {
    let own;
    let (validator, token) = match split_line(data) {
        Some((jwks, token)) => {
            let Some(set) = std::str::from_utf8(jwks)
                .ok()
                .and_then(|jwks| KeySet::from_jwks(jwks).ok())
            else {
                return;
            };
            own = strict_validator(set);
            (&own, token)
        }
        None => (&*HARNESS, data),
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    if let Ok(jws) = validator.verify_signature(token) {
        // Only a compact serialization, three parts, verifies.
        assert_eq!(
            token.split('.').count(),
            3,
            "a verified token is not compact"
        );
        let keys = validator.keys().expect("a static key set");
        // The key that verified it is bound to the header's algorithm.
        assert!(
            keys.iter()
                .any(|key| key.algorithm() == jws.header().algorithm()
                    && (jws.header().kid().is_none() || key.kid() == jws.header().kid())),
            "verified by no key of its algorithm and kid"
        );
        let _ = (jws.header().typ(), jws.header().crit(), jws.payload().len());
    }
    if let Ok(verified) = validator.validate::<StandardClaims>(token) {
        let registered = verified.registered();
        assert_eq!(registered.issuer(), Some(jwt_guard_fuzz::ISSUER));
        assert!(
            registered
                .audience()
                .iter()
                .any(|a| a == jwt_guard_fuzz::AUDIENCE)
        );
        assert!(registered.expires_at().is_some(), "accepted without exp");
    }
});
