//! A verified payload into `StandardClaims`, into a custom claims type
//! (options, an enum, a nested struct, flattened extras) and through a
//! claim mapping: the one-pass parser that captures the registered claims
//! beside the caller's type.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use jwt_guard::fuzzing::{claims, mapped_claims};
use jwt_guard::{ClaimMapping, RegisteredClaims, StandardClaims};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Custom {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    tenant: Option<Tenant>,
    #[serde(default)]
    plan: Plan,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Tenant {
    id: u64,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Plan {
    #[default]
    Free,
    Pro,
    Team {
        seats: u32,
    },
}

static KEYCLOAK: LazyLock<ClaimMapping> = LazyLock::new(|| {
    ClaimMapping::new()
        .subject("preferred_username")
        .roles("realm_access.roles")
        .permissions("scope")
});

fn same_registered(a: &RegisteredClaims, b: &RegisteredClaims) {
    assert_eq!(a.issuer(), b.issuer());
    assert_eq!(a.audience(), b.audience());
    assert_eq!(a.expires_at(), b.expires_at());
    assert_eq!(a.not_before(), b.not_before());
    assert_eq!(a.issued_at(), b.issued_at());
    assert_eq!(a.jti(), b.jti());
}

fuzz_target!(|payload: &[u8]| {
    let standard = claims::<StandardClaims>(payload);
    let value = claims::<Value>(payload);
    let custom = claims::<Custom>(payload);
    let _ = mapped_claims::<StandardClaims>(&KEYCLOAK, payload);

    // Never laxer than serde_json: what parses here is JSON.
    if let Ok((value, _)) = &value {
        let plain: Value = serde_json::from_slice(payload).expect("accepted, but not JSON");
        assert_eq!(&plain, value, "parsed to another value than serde_json's");
        assert!(value.is_object(), "a claims set that is not an object");
    }
    // The registered claims do not depend on the caller's type.
    if let (Ok((_, a)), Ok((_, b))) = (&standard, &value) {
        same_registered(a, b);
    }
    if let (Ok((custom, a)), Ok((_, b))) = (&custom, &value) {
        same_registered(a, b);
        assert_eq!(a.sub(), Some(custom.sub.as_str()));
    }
    if let Ok((_, registered)) = &standard {
        let _ = registered.token_id();
    }
});
