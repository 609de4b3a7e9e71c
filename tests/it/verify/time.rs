//! `exp`, `nbf`, `iat` and the leeway.

use std::time::Duration;

use jwt_guard::{AuthErrorKind, ConfigErrorKind};
use serde_json::json;

use crate::support::{self, mint, mint_raw, now, validator, validator_builder};

use super::{accepted, assert_refused, claims_with, payload_with_leading, refused};

#[test]
fn token_without_exp_is_refused_with_missing_claim() {
    let without_exp = mint(&claims_with(|c| {
        c.remove("exp");
    }));
    assert_refused(&validator(), &without_exp, AuthErrorKind::MissingClaim);
    let optional = validator_builder().require_exp(false).build().unwrap();
    accepted(&optional, &without_exp);
    accepted(&validator(), &support::token("alice", &[]));
}

#[test]
fn require_exp_false_still_refuses_an_expired_token() {
    let optional = validator_builder().require_exp(false).build().unwrap();
    let expired = mint(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 3600));
    }));
    assert_refused(&optional, &expired, AuthErrorKind::Expired);
}

#[test]
fn expired_token_is_refused_with_expired() {
    let v = validator();
    let at = |exp: u64| {
        mint(&claims_with(|c| {
            c.insert("exp".into(), json!(exp));
        }))
    };
    assert_refused(&v, &at(now() - 3600), AuthErrorKind::Expired);
    assert_refused(&v, &at(now() - 40), AuthErrorKind::Expired);
    accepted(&v, &at(now() + 60));
}

#[test]
fn token_expired_within_the_default_30_s_leeway_is_accepted() {
    let v = validator();
    assert_eq!(v.leeway(), Duration::from_secs(30));
    let expired_10_s_ago = mint(&claims_with(|c| {
        c.insert("exp".into(), json!(now() - 10));
    }));
    accepted(&v, &expired_10_s_ago);
}

#[test]
fn custom_leeway_is_respected() {
    let at = |exp: u64| {
        mint(&claims_with(|c| {
            c.insert("exp".into(), json!(exp));
        }))
    };
    let strict = validator_builder().leeway(Duration::ZERO).build().unwrap();
    assert_refused(&strict, &at(now() - 5), AuthErrorKind::Expired);
    accepted(&validator(), &at(now() - 5));

    let lenient = validator_builder()
        .leeway(Duration::from_secs(300))
        .build()
        .unwrap();
    accepted(&lenient, &at(now() - 120));
    assert_refused(&validator(), &at(now() - 120), AuthErrorKind::Expired);
    assert_refused(&lenient, &at(now() - 400), AuthErrorKind::Expired);
}

#[test]
fn leeway_over_ten_minutes_is_a_config_error() {
    let err = validator_builder()
        .leeway(Duration::from_secs(601))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::InvalidSetting);
    assert!(
        validator_builder()
            .leeway(Duration::from_secs(600))
            .build()
            .is_ok()
    );
}

#[test]
fn nbf_in_the_future_is_refused_with_not_yet_valid() {
    let v = validator();
    let at = |nbf: u64| {
        mint(&claims_with(|c| {
            c.insert("nbf".into(), json!(nbf));
        }))
    };
    assert_refused(&v, &at(now() + 3600), AuthErrorKind::NotYetValid);
    assert_refused(&v, &at(now() + 90), AuthErrorKind::NotYetValid);
    accepted(&v, &at(now() + 10));
    accepted(&v, &at(now() - 10));
}

#[test]
fn iat_in_the_future_is_refused_with_issued_in_future() {
    let v = validator();
    let at = |iat: u64| {
        mint(&claims_with(|c| {
            c.insert("iat".into(), json!(iat));
        }))
    };
    assert_refused(&v, &at(now() + 3600), AuthErrorKind::IssuedInFuture);
    assert_refused(&v, &at(now() + 90), AuthErrorKind::IssuedInFuture);
    accepted(&v, &at(now() + 10));
    accepted(&v, &at(now() - 10));
}

#[test]
fn time_claims_that_are_not_numbers_or_are_absurd_are_refused_with_invalid_claim() {
    let v = validator();
    let exp = now() + 300;
    for (claim, value) in [
        ("exp", json!(exp.to_string())),
        ("exp", json!(null)),
        ("exp", json!([exp])),
        ("exp", json!(-1)),
        ("exp", json!(253_402_300_800_u64)),
        ("nbf", json!(true)),
        ("nbf", json!({"t": 1})),
        ("nbf", json!(-0.5)),
        ("iat", json!("now")),
        ("iat", json!(-1)),
    ] {
        let token = mint(&claims_with(|c| {
            c.insert(claim.into(), value.clone());
        }));
        let err = refused(&v, &token);
        assert_eq!(
            err.kind(),
            AuthErrorKind::InvalidClaim,
            "{claim}: {value}: {err}"
        );
    }
    // A number out of every sane range, as an issuer might write it.
    let absurd = mint_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload_with_leading(r#""nbf":2.001e206,"#),
    );
    assert_refused(&v, &absurd, AuthErrorKind::InvalidClaim);
    accepted(
        &v,
        &mint(&claims_with(|c| {
            c.insert("exp".into(), json!(exp));
            c.insert("nbf".into(), json!(now() - 1));
            c.insert("iat".into(), json!(now() - 1));
        })),
    );
}

#[test]
fn largest_accepted_exp_is_the_end_of_year_9999() {
    let v = validator();
    let token = mint(&claims_with(|c| {
        c.insert("exp".into(), json!(253_402_300_799_u64));
    }));
    let verified = accepted(&v, &token);
    assert_eq!(
        verified.registered().expires_at().unwrap().as_secs(),
        253_402_300_799
    );
}

#[test]
fn fractional_time_claims_are_accepted() {
    let v = validator();
    let iat = now() as f64 - 0.25;
    let exp = now() as f64 + 299.5;
    let token = mint(&claims_with(|c| {
        c.insert("iat".into(), json!(iat));
        c.insert("exp".into(), json!(exp));
    }));
    let verified = accepted(&v, &token);
    let registered = verified.registered();
    assert_eq!(
        registered.issued_at().unwrap().as_micros(),
        (iat * 1e6).round() as i64
    );
    assert_eq!(
        registered.expires_at().unwrap().as_micros(),
        (exp * 1e6).round() as i64
    );
}
