//! JWK and JWKS documents: key types, curves, RSA components, the `alg`,
//! `use` and `key_ops` members, private members refused, weak keys refused.
#![no_main]

use jwt_guard::{Algorithm, KeySet, VerifyingKey};
use libfuzzer_sys::fuzz_target;

const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(json) = std::str::from_utf8(rest) else {
        return;
    };
    let alg = ALGORITHMS[usize::from(first) % ALGORITHMS.len()];
    if let Ok(key) = VerifyingKey::from_jwk(json) {
        // A key is bound to one algorithm, and verifies nothing for free.
        let _ = (key.algorithm(), key.kid());
    }
    if let Ok(key) = VerifyingKey::from_jwk_with_alg(json, alg) {
        assert_eq!(
            key.algorithm(),
            alg,
            "bound to another algorithm than asked"
        );
    }
    if let Ok(set) = KeySet::from_jwks(json) {
        for key in set.iter() {
            if let Some(kid) = key.kid() {
                assert!(
                    set.get(kid).is_some(),
                    "a key of the set not found by its kid"
                );
            }
        }
    }
    let _ = KeySet::from_jwks_with_rsa(json, Algorithm::PS256);
});
