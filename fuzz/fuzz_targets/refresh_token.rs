//! Refresh-token text as presented by a client: `<base64url(sub)>.<family>.<secret>`.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::fuzzing::refresh_token;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((sub, family)) = refresh_token(text) {
        assert!(text.len() <= 1024, "an over-long token was read");
        let parts: Vec<&str> = text.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!sub.is_empty(), "an empty subject");
        // One spelling per token: the subject part is the canonical
        // encoding of the subject, the family part is the family.
        assert_eq!(URL_SAFE_NO_PAD.encode(&sub), parts[0]);
        assert_eq!(family, parts[1]);
        assert_eq!(parts[1].len(), 22);
        assert_eq!(parts[2].len(), 43);
    }
});
