//! DPoP proofs (RFC 9449) and the request URIs they name.
//!
//! Input: a first byte choosing the mode, then
//! - even: `<proof>`, checked against `GET https://api.example/v1/me` with
//!   an access token: never a panic, and a proof accepted only with the
//!   `dpop+jwt` type, an asymmetric algorithm and a public key;
//! - odd: `<uri>`, a request URI: its normal form, when it has one, is its
//!   own normal form (normalizing twice changes nothing), and names no
//!   query or fragment.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::dpop::{DpopVerifier, ProofRequest};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static VERIFIER: LazyLock<DpopVerifier> = LazyLock::new(DpopVerifier::default);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if mode % 2 == 0 {
        let request = ProofRequest::new("GET", "https://api.example/v1/me")
            .expect("a request URI")
            .access_token("an-access-token");
        let Ok(proof) = VERIFIER.verify(text, &request) else {
            return;
        };
        let header = text.split('.').next().expect("three parts");
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url"))
                .expect("a JSON header");
        let typ = header["typ"].as_str().expect("a typ").to_ascii_lowercase();
        assert!(typ.ends_with("dpop+jwt"), "typ {typ}");
        let alg = header["alg"].as_str().expect("an alg");
        assert!(!alg.starts_with("HS") && alg != "none", "alg {alg}");
        assert!(header["jwk"].get("d").is_none(), "a private key accepted");
        assert!(!proof.jkt().is_empty() && !proof.jti().is_empty());
    } else if let Ok(request) = ProofRequest::new("GET", text) {
        let target = request.target();
        assert!(!target.contains(['?', '#']), "{target}");
        let again = ProofRequest::new("GET", target).expect("a normal form is a URI");
        assert_eq!(again.target(), target, "normal form of {text:?}");
    }
});
