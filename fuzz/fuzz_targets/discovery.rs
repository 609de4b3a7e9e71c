//! An issuer's metadata document (OpenID Connect Discovery, RFC 8414):
//! the `issuer` must match exactly, the `jwks_uri` must be an HTTP(S) URL.
//!
//! Input: `<issuer>\n<document>`.
#![no_main]

use jwt_guard::fuzzing::discovery_jwks_uri;
use jwt_guard_fuzz::split_line;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((issuer, document)) = split_line(data) else {
        return;
    };
    let Ok(issuer) = std::str::from_utf8(issuer) else {
        return;
    };
    if let Some(uri) = discovery_jwks_uri(issuer, document) {
        let text = std::str::from_utf8(document).expect("accepted, but not UTF-8");
        // serde_json's `Value` also refuses escaped lone surrogates, which
        // RFC 8259's grammar allows in members the crate does not read.
        if let Ok(document) = serde_json::from_str::<Value>(text) {
            assert_eq!(
                document["issuer"].as_str(),
                Some(issuer),
                "mix-up: another issuer"
            );
        }
        assert!(
            uri.starts_with("https://") || uri.starts_with("http://"),
            "a jwks_uri that is not HTTP(S): {uri}"
        );
    }
});
