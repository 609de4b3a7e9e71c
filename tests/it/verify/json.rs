//! Header and payload are JSON objects in UTF-8, without duplicate members.

use jwt_guard::{AuthErrorKind, StandardClaims};
use serde::Deserialize;

use crate::support::{self, mint_raw, now, validator};

use super::{
    accepted, assert_jws_accepted, assert_jws_refused, assert_refused, payload,
    payload_with_leading,
};

#[test]
fn header_that_is_not_a_json_object_is_refused_as_malformed() {
    let v = validator();
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256"}"#, &payload()));
    for header in [
        "[]",
        r#"["HS256"]"#,
        r#""HS256""#,
        "null",
        "42",
        "",
        r#"{"alg":"HS256""#,
        r#"{"alg":"HS256"} {}"#,
        r#"{"alg":"HS256"}x"#,
    ] {
        assert_jws_refused(&v, &mint_raw(header, &payload()), AuthErrorKind::Malformed);
    }
}

// serde_json does not check UTF-8 inside strings it skips; invalid UTF-8 is
// not JSON (RFC 8259 §8.1), so the header is checked as text first.
#[test]
fn header_that_is_not_utf8_is_refused_as_malformed() {
    let v = validator();
    let sign = |header: &[u8]| {
        support::signer()
            .sign_jws(header, payload().as_bytes())
            .unwrap()
    };
    assert_jws_accepted(&v, &sign(b"{\"alg\":\"HS256\",\"x\":\"\xc3\xa9\"}"));
    // Invalid UTF-8 in a member the validator reads is refused already.
    assert_jws_refused(
        &v,
        &sign(b"{\"alg\":\"HS256\",\"typ\":\"\xff\"}"),
        AuthErrorKind::Malformed,
    );
    // In a member it skips, it is not.
    assert_jws_refused(
        &v,
        &sign(b"{\"alg\":\"HS256\",\"x\":\"\xff\"}"),
        AuthErrorKind::Malformed,
    );
}

/// A claims type that reads `sub` and skips every other claim.
#[derive(Debug, Deserialize)]
struct OnlySub {
    sub: String,
}

// As for the header: a claim the claims type skips must be UTF-8 too.
#[test]
fn payload_that_is_not_utf8_is_refused_as_malformed() {
    let v = validator();
    let sign = |payload: &[u8]| {
        support::signer()
            .sign_jws(br#"{"alg":"HS256"}"#, payload)
            .unwrap()
    };
    let with_x = |x: &[u8]| {
        let mut bytes = b"{\"x\":\"".to_vec();
        bytes.extend_from_slice(x);
        bytes.extend_from_slice(b"\",");
        bytes.extend_from_slice(&payload().as_bytes()[1..]);
        bytes
    };
    let good = sign(&with_x(b"\xc3\xa9"));
    assert!(v.validate::<StandardClaims>(&good).is_ok());
    assert_eq!(v.validate::<OnlySub>(&good).unwrap().claims().sub, "alice");
    let bad = sign(&with_x(b"\xff"));
    // A claims type that reads every claim refuses it already.
    assert_eq!(
        v.validate::<StandardClaims>(&bad).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
    // One that skips `x` does not.
    assert_eq!(
        v.validate::<OnlySub>(&bad).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
}

#[test]
fn header_without_alg_is_refused_as_malformed() {
    let v = validator();
    assert_jws_refused(
        &v,
        &mint_raw(r#"{"typ":"JWT"}"#, &payload()),
        AuthErrorKind::Malformed,
    );
    assert_jws_accepted(&v, &mint_raw(r#"{"typ":"JWT","alg":"HS256"}"#, &payload()));
}

#[test]
fn header_members_of_the_wrong_type_are_refused_as_malformed() {
    let v = validator();
    for header in [
        r#"{"alg":null}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":"HS256","typ":1}"#,
        r#"{"alg":"HS256","kid":7}"#,
        r#"{"alg":"HS256","crit":"x","x":1}"#,
    ] {
        assert_jws_refused(&v, &mint_raw(header, &payload()), AuthErrorKind::Malformed);
    }
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload()));
}

#[test]
fn payload_that_is_not_a_json_object_is_refused_as_malformed() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    accepted(&v, &mint_raw(header, &payload()));
    for payload in [
        "[1]",
        r#""alice""#,
        "42",
        "null",
        "",
        "{} x",
        "not json",
        "{",
    ] {
        let token = mint_raw(header, payload);
        assert_refused(&v, &token, AuthErrorKind::Malformed);
        // The JWS stage does not read the payload: it only needs a signature.
        let jws = v.verify_signature(&token).unwrap();
        assert_eq!(jws.payload(), payload.as_bytes());
    }
}

#[test]
fn duplicate_header_members_are_refused_as_malformed() {
    let v = validator();
    assert_jws_accepted(&v, &mint_raw(r#"{"alg":"HS256","x":1,"y":2}"#, &payload()));
    for header in [
        // Last-member-wins parsers would read HS256 and accept it.
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","\u0061lg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","x":1,"x":2}"#,
        r#"{"alg":"HS256","x":1,"\u0078":1}"#,
    ] {
        assert_jws_refused(&v, &mint_raw(header, &payload()), AuthErrorKind::Malformed);
    }
}

#[test]
fn duplicate_claims_are_refused_as_malformed() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    accepted(
        &v,
        &mint_raw(header, &payload_with_leading(r#""x":1,"y":2,"#)),
    );
    let past = now() - 3600;
    for members in [
        r#""sub":"mallory","#.to_owned(),
        r#""\u0073ub":"mallory","#.to_owned(),
        r#""x":1,"x":2,"#.to_owned(),
        r#""x":{"a":1},"x":{"a":1},"#.to_owned(),
        // An expired exp hidden by a later one.
        format!(r#""exp":{past},"#),
    ] {
        let token = mint_raw(header, &payload_with_leading(&members));
        assert_refused(&v, &token, AuthErrorKind::Malformed);
    }
}

// Duplicates are refused at every depth: serde_json keeps the last one,
// other parsers the first, and two readers must never see different claims.
#[test]
fn duplicate_members_inside_a_claim_object_are_refused_as_malformed() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let single = mint_raw(
        header,
        &payload_with_leading(r#""grants":{"admin":false,"read":true},"#),
    );
    accepted(&v, &single);
    let doubled = mint_raw(
        header,
        &payload_with_leading(r#""grants":{"admin":false,"admin":true},"#),
    );
    assert_refused(&v, &doubled, AuthErrorKind::Malformed);
}

#[test]
fn duplicate_claims_are_refused_whatever_the_claims_type() {
    let v = validator();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let ok = mint_raw(header, &payload_with_leading(r#""x":1,"#));
    assert_eq!(v.validate::<OnlySub>(&ok).unwrap().claims().sub, "alice");
    assert!(v.validate::<StandardClaims>(&ok).is_ok());
    let dup = mint_raw(header, &payload_with_leading(r#""x":1,"x":2,"#));
    for err in [
        v.validate::<OnlySub>(&dup).unwrap_err(),
        v.validate::<StandardClaims>(&dup).unwrap_err(),
    ] {
        assert_eq!(err.kind(), AuthErrorKind::Malformed, "{err}");
    }
}

// Found by the differential fuzz target: a header member this crate does
// not read held `4e2222…2` (an exponent no f64 reaches), which jwt-guard
// skipped unread and `jsonwebtoken` refused. A number JSON parsers cannot
// represent is refused wherever it is, read or not: two verifiers must not
// disagree on whether a token is well-formed.
#[test]
fn a_number_out_of_range_is_refused_even_in_members_not_read() {
    let v = validator();
    let huge = format!("4e2{}", "2".repeat(200));
    for header in [
        format!(r#"{{"alg":"HS256","x":{huge}}}"#),
        format!(r#"{{"alg":"HS256","x":[-{huge}]}}"#),
        format!(r#"{{"alg":"HS256","x":{{"y":{huge}}}}}"#),
    ] {
        assert_jws_refused(&v, &mint_raw(&header, &payload()), AuthErrorKind::Malformed);
    }
    // In the claims, into `Value`, `StandardClaims`, and a type that
    // ignores what it does not name.
    #[derive(Deserialize)]
    struct Narrow {
        #[allow(dead_code)]
        sub: String,
    }
    for members in [
        format!(r#""x":{huge},"#),
        format!(r#""x":[{huge}],"#),
        format!(r#""x":{{"y":{huge}}},"#),
    ] {
        let token = mint_raw(r#"{"alg":"HS256"}"#, &payload_with_leading(&members));
        assert_refused(&v, &token, AuthErrorKind::Malformed);
        for error in [
            v.validate::<StandardClaims>(&token).err(),
            v.validate::<Narrow>(&token).err(),
        ] {
            assert_eq!(
                error.map(|e| e.kind()),
                Some(AuthErrorKind::Malformed),
                "{members}"
            );
        }
    }
    // Large, but a number: still a token.
    let header = r#"{"alg":"HS256","x":1e308}"#;
    assert_jws_accepted(
        &v,
        &mint_raw(header, &payload_with_leading(r#""x":-1e308,"#)),
    );
}
