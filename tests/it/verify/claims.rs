//! Typed claims: the application's own type, deserialized once, and the
//! registered claims and token id whatever the type.

use std::cell::Cell;

use jwt_guard::{Algorithm, AuthErrorKind, StandardClaims};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::support::{self, AUDIENCE, ISSUER, claims, mint, now, validator};

use super::{accepted, claims_with, parts};

#[derive(Debug, Deserialize)]
struct OrderClaims {
    sub: String,
    tenant: String,
    max_orders: u32,
}

#[test]
fn claims_are_parsed_into_the_applications_own_type() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("tenant".into(), json!("acme"));
        c.insert("max_orders".into(), json!(12));
    }));
    let verified = v.validate::<OrderClaims>(&token).unwrap();
    let claims = verified.claims();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.tenant, "acme");
    assert_eq!(claims.max_orders, 12);
    assert_eq!(verified.into_claims().tenant, "acme");
}

#[test]
fn claims_that_do_not_fit_the_type_are_refused_with_invalid_claims() {
    let v = validator();
    for edit in [
        json!({"tenant": "acme", "max_orders": "many"}),
        json!({"tenant": "acme", "max_orders": -1}),
        json!({"tenant": 5, "max_orders": 1}),
        json!({"max_orders": 1}),
    ] {
        let token = mint(&claims_with(|c| {
            c.extend(edit.as_object().unwrap().clone());
        }));
        let err = v.validate::<OrderClaims>(&token).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidClaims, "{edit}: {err}");
    }
    // StandardClaims requires `sub`.
    let no_sub = mint(&claims_with(|c| {
        c.remove("sub");
    }));
    let err = v.validate::<StandardClaims>(&no_sub).unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InvalidClaims);
    assert!(
        v.validate::<StandardClaims>(&support::token("alice", &[]))
            .is_ok()
    );
}

thread_local! {
    static DESERIALIZATIONS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug)]
struct CountedClaims(Value);

impl<'de> Deserialize<'de> for CountedClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DESERIALIZATIONS.with(|count| count.set(count.get() + 1));
        Value::deserialize(deserializer).map(CountedClaims)
    }
}

#[test]
fn claims_are_deserialized_exactly_once_per_validation() {
    let v = validator();
    DESERIALIZATIONS.with(|count| count.set(0));
    let verified = v
        .validate::<CountedClaims>(&support::token("alice", &[]))
        .unwrap();
    assert_eq!(DESERIALIZATIONS.with(Cell::get), 1);
    assert_eq!(verified.claims().0["sub"], "alice");
}

#[test]
fn standard_claims_keep_unknown_claims_in_extra() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("tenant".into(), json!("acme"));
        c.insert("level".into(), json!(3));
        c.insert("scope".into(), json!("docs:read"));
    }));
    let verified = v.validate::<StandardClaims>(&token).unwrap();
    let claims = verified.claims();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss.as_deref(), Some(ISSUER));
    assert_eq!(claims.scope.as_deref(), Some("docs:read"));
    assert_eq!(claims.extra.get("tenant"), Some(&json!("acme")));
    assert_eq!(claims.extra.get("level"), Some(&json!(3)));
    for known in [
        "sub", "iss", "aud", "exp", "nbf", "iat", "jti", "roles", "scope",
    ] {
        assert!(!claims.extra.contains_key(known), "{known} is in extra");
    }
}

#[test]
fn registered_claims_are_read_whatever_the_claims_type() {
    #[derive(Debug, Deserialize)]
    struct Nothing {}
    let v = validator();
    let now = now();
    let token = mint(&json!({
        "sub": "alice", "iss": ISSUER, "aud": ["x-api", AUDIENCE],
        "exp": now + 300, "nbf": now - 5, "iat": now - 10, "jti": "id-1",
    }));
    let verified = v.validate::<Nothing>(&token).unwrap();
    let registered = verified.registered();
    assert_eq!(registered.sub(), Some("alice"));
    assert_eq!(registered.issuer(), Some(ISSUER));
    assert_eq!(registered.audience(), ["x-api", AUDIENCE]);
    assert_eq!(
        registered.expires_at().unwrap().as_secs(),
        (now + 300) as i64
    );
    assert_eq!(registered.not_before().unwrap().as_secs(), (now - 5) as i64);
    assert_eq!(registered.issued_at().unwrap().as_secs(), (now - 10) as i64);
    assert_eq!(registered.jti(), Some("id-1"));
    assert_eq!(verified.header().algorithm(), Algorithm::HS256);
    assert_eq!(verified.header().typ(), Some("JWT"));
    assert_eq!(verified.header().kid(), None);
}

#[test]
fn registered_claims_of_the_wrong_type_are_refused_with_invalid_claim() {
    #[derive(Debug, Deserialize)]
    struct RolesOnly {
        roles: Vec<String>,
    }
    let v = validator();
    for (claim, value) in [
        ("sub", json!(42)),
        ("iss", json!([ISSUER])),
        ("jti", json!(7)),
        ("aud", json!(3)),
        ("aud", json!(null)),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert(claim.into(), value.clone());
        }));
        // Even a claims type that never reads the claim sees it refused.
        let err = v.validate::<RolesOnly>(&token).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidClaim, "{claim}: {value}");
    }
    let verified = v
        .validate::<RolesOnly>(&support::token("alice", &["user"]))
        .unwrap();
    assert_eq!(verified.claims().roles, ["user"]);
}

#[test]
fn audience_string_reads_as_a_list_of_one() {
    let v = validator();
    let verified = accepted(&v, &support::token("alice", &[]));
    assert_eq!(verified.registered().audience(), [AUDIENCE]);
}

#[test]
fn token_id_is_the_jti_when_there_is_one() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("jti".into(), json!("token-42"));
    }));
    let verified = accepted(&v, &token);
    assert_eq!(verified.registered().token_id(), "token-42");
}

#[test]
fn token_id_without_jti_is_derived_from_the_signature_and_differs_between_tokens() {
    let v = validator();
    let without_jti = |sub: &str| {
        let mut claims = claims(sub, &[]);
        claims.as_object_mut().unwrap().remove("jti");
        mint(&claims)
    };
    let (first, second) = (without_jti("alice"), without_jti("bob"));
    let id_of = |token: &str| accepted(&v, token).registered().token_id().to_owned();
    let (id1, id2) = (id_of(&first), id_of(&second));
    assert!(id1.starts_with("sha256:"), "{id1}");
    assert!(id2.starts_with("sha256:"), "{id2}");
    assert_ne!(id1, id2);
    // Stable for the same token, and free of the signature itself.
    assert_eq!(id_of(&first), id1);
    assert!(!id1.contains(parts(&first)[2]));
    assert_eq!(accepted(&v, &first).registered().jti(), None);
}
