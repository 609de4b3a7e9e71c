//! Header parameters: `crit` refused unless understood, and `typ` when
//! required.

use jwt_guard::{AuthErrorKind, ConfigErrorKind};

use crate::support::{mint_raw, validator, validator_builder};

use super::{accepted, assert_jws_accepted, assert_jws_refused, assert_refused, payload};

#[test]
fn unknown_crit_name_is_refused_with_unsupported_critical() {
    let v = validator();
    let token = mint_raw(r#"{"alg":"HS256","crit":["x"],"x":1}"#, &payload());
    assert_jws_refused(&v, &token, AuthErrorKind::UnsupportedCritical);
    let understood = validator_builder().understand_crit("x").build().unwrap();
    let verified = assert_jws_accepted(&understood, &token);
    assert_eq!(verified.header().crit(), Some(&["x".to_owned()][..]));
}

#[test]
fn crit_with_one_understood_and_one_unknown_name_is_refused() {
    let v = validator_builder().understand_crit("x").build().unwrap();
    let token = mint_raw(
        r#"{"alg":"HS256","crit":["x","y"],"x":1,"y":2}"#,
        &payload(),
    );
    assert_jws_refused(&v, &token, AuthErrorKind::UnsupportedCritical);
    let both = validator_builder()
        .understand_crit("x")
        .understand_crit("y")
        .build()
        .unwrap();
    assert_jws_accepted(&both, &token);
}

#[test]
fn empty_crit_is_refused_as_malformed() {
    let v = validator_builder().understand_crit("x").build().unwrap();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"alg":"HS256","crit":[]}"#, &payload()),
        AuthErrorKind::Malformed,
    );
    assert_jws_accepted(
        &v,
        &mint_raw(r#"{"alg":"HS256","crit":["x"],"x":1}"#, &payload()),
    );
}

#[test]
fn understanding_a_jws_header_name_as_crit_is_a_config_error() {
    for name in ["alg", "kid", "typ", "crit", "jwk", "x5c"] {
        let err = validator_builder()
            .understand_crit(name)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidSetting, "{name}");
    }
    assert!(validator_builder().understand_crit("x").build().is_ok());
}

#[test]
fn unencoded_payload_b64_false_is_refused_with_unsupported_critical() {
    let v = validator_builder().understand_crit("b64").build().unwrap();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, &payload()),
        AuthErrorKind::UnsupportedCritical,
    );
    assert_jws_accepted(
        &v,
        &mint_raw(r#"{"alg":"HS256","b64":true,"crit":["b64"]}"#, &payload()),
    );
}

#[test]
fn required_type_refuses_other_or_missing_typ_with_invalid_type() {
    let v = validator_builder().require_type("at+jwt").build().unwrap();
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"at+jwt2"}"#,
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
        r#"{"alg":"HS256","typ":"text/at+jwt"}"#,
    ] {
        assert_refused(
            &v,
            &mint_raw(header, &payload()),
            AuthErrorKind::InvalidType,
        );
    }
}

#[test]
fn required_type_accepts_case_and_application_prefix_variants() {
    for required in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let v = validator_builder().require_type(required).build().unwrap();
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            let header = format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            let verified = accepted(&v, &mint_raw(&header, &payload()));
            assert_eq!(verified.header().typ(), Some(typ));
        }
    }
}

#[test]
fn without_required_type_any_typ_is_accepted() {
    let v = validator();
    accepted(&v, &mint_raw(r#"{"alg":"HS256"}"#, &payload()));
    accepted(
        &v,
        &mint_raw(r#"{"alg":"HS256","typ":"anything"}"#, &payload()),
    );
}

// Found by the differential fuzz target: `"url": 4102444800` in a header,
// skipped by this crate and refused by `jsonwebtoken`. A registered header
// parameter the crate does not use still must have its registered type.
#[test]
fn registered_header_parameters_of_the_wrong_type_are_refused() {
    let v = validator();
    for (name, good, bad) in [
        ("cty", r#""JWT""#, "7"),
        ("jku", r#""https://keys.example""#, "[]"),
        ("x5u", r#""https://keys.example/c""#, "{}"),
        ("x5t", r#""dGh1bWI""#, "true"),
        ("x5t#S256", r#""dGh1bWI""#, "1"),
        ("url", r#""https://acme.example/new""#, "4102444800"),
        ("nonce", r#""n-1""#, "null"),
        ("enc", r#""A128GCM""#, "1"),
        ("zip", r#""DEF""#, "[1]"),
        ("x5c", r#"["MIIB"]"#, r#"[1]"#),
        ("jwk", r#"{"kty":"oct"}"#, r#""key""#),
    ] {
        let header = format!(r#"{{"alg":"HS256","{name}":{good}}}"#);
        assert_jws_accepted(&v, &mint_raw(&header, &payload()));
        let header = format!(r#"{{"alg":"HS256","{name}":{bad}}}"#);
        assert_jws_refused(&v, &mint_raw(&header, &payload()), AuthErrorKind::Malformed);
    }
}
