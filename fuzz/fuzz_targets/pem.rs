//! PEM keys: RSA, EC and Ed25519, public and private, for each algorithm.
#![no_main]

use jwt_guard::{Algorithm, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
    Algorithm::HS256,
    Algorithm::PS512,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, pem)) = data.split_first() else {
        return;
    };
    let alg = ALGORITHMS[usize::from(first) % ALGORITHMS.len()];
    for key in [
        VerifyingKey::from_rsa_pem(alg, pem),
        VerifyingKey::from_ec_pem(alg, pem),
        VerifyingKey::from_ed_pem(pem),
    ]
    .into_iter()
    .flatten()
    {
        assert!(
            key.algorithm() == alg || key.algorithm() == Algorithm::EdDSA,
            "bound to another algorithm than asked"
        );
    }
    for key in [
        SigningKey::from_rsa_pem(alg, pem),
        SigningKey::from_ec_pem(alg, pem),
        SigningKey::from_ed_pem(pem),
    ]
    .into_iter()
    .flatten()
    {
        // A private key that was accepted signs.
        key.sign_jws(b"{}", b"{}")
            .expect("an accepted signing key signs");
    }
});
