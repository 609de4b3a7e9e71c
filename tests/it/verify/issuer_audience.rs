//! `iss` and `aud`: required once configured, matched exactly.

use jwt_guard::{Algorithm, AuthErrorKind, Validator, VerifyingKey};
use serde_json::json;

use crate::support::{self, AUDIENCE, ISSUER, SECRET, mint, validator, validator_builder};

use super::{accepted, assert_refused, claims_with};

#[test]
fn configured_issuer_is_required() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.remove("iss");
    }));
    assert_refused(&v, &token, AuthErrorKind::MissingClaim);
    accepted(&v, &support::token("alice", &[]));
}

#[test]
fn issuer_must_match_exactly() {
    let v = validator();
    for iss in [
        "https://issuer.test/",
        "HTTPS://ISSUER.TEST",
        "https://Issuer.test",
        "https://issuer.test ",
        " https://issuer.test",
        "https://issuer.tes",
        "https://issuer.test.evil",
        "",
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("iss".into(), json!(iss));
        }));
        assert_refused(&v, &token, AuthErrorKind::InvalidIssuer);
    }
    accepted(
        &v,
        &mint(&claims_with(|c| {
            c.insert("iss".into(), json!(ISSUER));
        })),
    );
}

#[test]
fn any_of_several_configured_issuers_is_accepted() {
    let v = validator_builder()
        .issuer("https://other.test")
        .build()
        .unwrap();
    for iss in [ISSUER, "https://other.test"] {
        accepted(
            &v,
            &mint(&claims_with(|c| {
                c.insert("iss".into(), json!(iss));
            })),
        );
    }
}

#[test]
fn configured_audience_is_required() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.remove("aud");
    }));
    assert_refused(&v, &token, AuthErrorKind::MissingClaim);
    accepted(&v, &support::token("alice", &[]));
}

#[test]
fn audience_may_be_a_string_or_an_array_containing_it() {
    let v = validator();
    for aud in [
        json!(AUDIENCE),
        json!([AUDIENCE]),
        json!(["other-api", AUDIENCE]),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        }));
        let verified = accepted(&v, &token);
        assert!(
            verified
                .registered()
                .audience()
                .iter()
                .any(|a| a == AUDIENCE)
        );
    }
}

#[test]
fn audience_not_containing_the_configured_one_is_refused_with_invalid_audience() {
    let v = validator();
    for aud in [
        json!("other-api"),
        json!(["other-api", "third-api"]),
        json!("TEST-API"),
        json!("test-api "),
        json!(["test-ap"]),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        }));
        assert_refused(&v, &token, AuthErrorKind::InvalidAudience);
    }
}

#[test]
fn empty_audience_array_is_refused_as_missing() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("aud".into(), json!([]));
    }));
    assert_refused(&v, &token, AuthErrorKind::MissingClaim);
}

#[test]
fn audience_array_with_a_non_string_member_is_refused_with_invalid_claim() {
    let v = validator();
    for aud in [
        json!([AUDIENCE, 1]),
        json!([AUDIENCE, null]),
        json!([[AUDIENCE]]),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert("aud".into(), aud.clone());
        }));
        assert_refused(&v, &token, AuthErrorKind::InvalidClaim);
    }
}

#[test]
fn without_configured_issuer_and_audience_tokens_without_them_pass() {
    let v = Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .build()
        .unwrap();
    let bare = mint(&claims_with(|c| {
        c.remove("iss");
        c.remove("aud");
    }));
    accepted(&v, &bare);
    let any = mint(&claims_with(|c| {
        c.insert("iss".into(), json!("https://anyone.test"));
        c.insert("aud".into(), json!(["anything"]));
    }));
    accepted(&v, &any);
    // The same bare token is refused once they are configured.
    assert_refused(&validator(), &bare, AuthErrorKind::MissingClaim);
}
