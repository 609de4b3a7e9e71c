//! jwt-guard in a fleet: tokens its `Issuer` signs, verified the moment
//! they are issued by the JWT libraries other services use (node
//! `jsonwebtoken`, `jose`, PyJWT, python-jose, and a verifier on the JDK's
//! own `Mac` and `Signature` standing in for jjwt), every check on; and
//! tokens those libraries sign in their own default shapes, verified here.
//!
//! Each case prints an `interop:` line (library, version, direction,
//! algorithm, result): `.ci/run` collects them, the README's table is made
//! from them.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED_SIGNING};
use jwt_guard::issue::{Grant, Issuer};
use jwt_guard::store::MemoryStore;
use jwt_guard::{
    Algorithm, ClaimMapping, HasRoles, SigningKey, StandardClaims, Validator, VerifyingKey,
};
use serde_json::{Value, json};

use crate::support::interop::{self, Driver};
use crate::support::keys::{ec_key, ed25519_key};
use crate::support::unique_id;

const ISSUER: &str = "https://auth.fleet.test";
const AUDIENCE: &str = "orders-api";
/// The text secret every service of the fleet holds.
const SECRET: &str = "fleet-shared-secret-0123456789-abcdef";

/// The libraries each driver drives.
const LIBRARIES: [(&str, &[&str]); 3] = [
    ("node", &["jsonwebtoken", "jose"]),
    ("python", &["pyjwt", "python-jose"]),
    ("java", &["jdk"]),
];

/// The 64-byte secret a Spring service would hold: jjwt picks HS512 for it.
const SECRET_64: &str = "fleet-shared-secret-of-sixty-four-bytes-for-hs512-0123456789abcd";

fn driver(language: &str) -> Result<Driver, String> {
    match language {
        "node" => interop::node(),
        "python" => interop::python(),
        "java" => interop::java(),
        _ => unreachable!(),
    }
}

/// Prints one result line of the README's table.
fn report(library: &str, version: &Value, direction: &str, alg: Algorithm, result: &str) {
    let version = version.as_str().unwrap_or("?");
    println!("interop: {library} {version} | {direction} | {alg} | {result}");
}

fn issuer(key: SigningKey) -> Issuer {
    Issuer::builder()
        .signing_key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .access_ttl(Duration::from_secs(90))
        .shared_store(Arc::new(MemoryStore::new()))
        .build()
        .unwrap()
}

/// The issuer's keys as the other services hold them: the shared secret,
/// or the issuer's JWKS.
fn key_material(alg: Algorithm, issuer: &Issuer) -> (&'static str, Value) {
    match alg {
        Algorithm::HS256 => ("secret", json!(SECRET)),
        _ => ("jwks", issuer.jwks()),
    }
}

/// A library that does not implement `alg` at all: neither node
/// `jsonwebtoken` 9 nor python-jose 3.5 has EdDSA (`Unknown key type
/// "ed25519"`), so there is nothing to interoperate with.
fn unsupported(library: &str, alg: Algorithm) -> bool {
    matches!(library, "jsonwebtoken" | "python-jose") && alg == Algorithm::EdDSA
}

#[tokio::test]
async fn tokens_the_issuer_signs_verify_at_once_in_every_library() {
    let issuers = [
        (
            Algorithm::HS256,
            issuer(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap()),
        ),
        (
            Algorithm::ES256,
            issuer(
                SigningKey::from_ec_pem(
                    Algorithm::ES256,
                    ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING).private_pem,
                )
                .unwrap(),
            ),
        ),
        (
            Algorithm::ES512,
            issuer(
                SigningKey::from_ec_pem(
                    Algorithm::ES512,
                    ec_key(&ECDSA_P521_SHA512_FIXED_SIGNING).private_pem,
                )
                .unwrap(),
            ),
        ),
        (
            Algorithm::EdDSA,
            issuer(SigningKey::from_ed_pem(ed25519_key().private_pem).unwrap()),
        ),
    ];
    for (language, libraries) in LIBRARIES {
        let test = "tokens_the_issuer_signs_verify_at_once_in_every_library";
        let Some(mut driver) = interop::or_skip(driver(language), test) else {
            continue;
        };
        let versions = driver.versions();
        for library in libraries {
            for (alg, issuer) in &issuers {
                if unsupported(library, *alg) {
                    report(
                        library,
                        &versions[library],
                        "jwt-guard → it",
                        *alg,
                        "not supported by the library",
                    );
                    continue;
                }
                let (material, key) = key_material(*alg, issuer);
                // Several logins, each verified the moment it is issued:
                // a date later than the current whole second shows at once.
                for _ in 0..5 {
                    let sub = unique_id();
                    let login = issuer.issue(&Grant::new(&sub).role("user")).await.unwrap();
                    let mut request = json!({
                        "op": "verify", "lib": library, "alg": alg.to_string(),
                        "token": login.access_token(),
                        "issuer": ISSUER, "audience": AUDIENCE,
                    });
                    request[material] = key.clone();
                    let answer = driver.call(&request);
                    assert_eq!(
                        answer["ok"], true,
                        "{library} {alg} refused a fresh token: {}",
                        answer["error"]
                    );
                    assert_eq!(answer["payload"]["sub"], sub.as_str(), "{library} {alg}");
                    assert_eq!(
                        answer["payload"]["roles"],
                        json!(["user"]),
                        "{library} {alg}"
                    );
                }
                report(
                    library,
                    &versions[library],
                    "jwt-guard → it",
                    *alg,
                    "accepted at once",
                );
            }
        }
    }
}

#[tokio::test]
async fn tokens_the_other_libraries_sign_in_their_default_shape_are_accepted() {
    let validator = |alg: Algorithm, secret: &str| {
        Validator::builder()
            .key(VerifyingKey::hmac(alg, secret).unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap()
    };
    for (language, libraries) in LIBRARIES {
        let test = "tokens_the_other_libraries_sign_in_their_default_shape_are_accepted";
        let Some(mut driver) = interop::or_skip(driver(language), test) else {
            continue;
        };
        let versions = driver.versions();
        for library in libraries {
            // jjwt's shape: HS512 for a 64-byte secret, no `typ`, `aud`
            // as an array.
            let (alg, secret) = match *library {
                "jdk" => (Algorithm::HS512, SECRET_64),
                _ => (Algorithm::HS256, SECRET),
            };
            let sub = unique_id();
            let answer = driver.call(&json!({
                "op": "mint", "lib": library, "alg": alg.to_string(), "secret": secret,
                "issuer": ISSUER, "audience": AUDIENCE, "sub": sub,
            }));
            assert_eq!(answer["ok"], true, "{library}: {}", answer["error"]);
            let token = answer["token"].as_str().unwrap();
            let verified = validator(alg, secret)
                .validate::<StandardClaims>(token)
                .unwrap_or_else(|e| panic!("{library}'s token refused: {e}"));
            assert_eq!(verified.claims().sub, sub, "{library}");
            report(
                library,
                &versions[library],
                "it → jwt-guard",
                alg,
                "accepted",
            );
        }
    }
}

#[tokio::test]
async fn tokens_of_existing_systems_are_accepted_with_their_claims_mapped() {
    let validator = |mapping: ClaimMapping| {
        Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .claim_mapping(mapping)
            .build()
            .unwrap()
    };
    // (driver, library that signs, shape, mapping, subject, role, permission)
    let cases = [
        (
            "node",
            "jsonwebtoken",
            "gyan-ghar",
            ClaimMapping::new().subject("id").roles("role"),
            None,
            Some("admin"),
            None,
        ),
        (
            "node",
            "jsonwebtoken",
            "classmatefinder",
            ClaimMapping::new().subject("userId").numeric_subject(true),
            Some("42"),
            None,
            None,
        ),
        (
            "python",
            "python-jose",
            "keycloak",
            // `sub` is Keycloak's stable user id: kept as the subject.
            ClaimMapping::new()
                .roles("realm_access.roles")
                .permissions("scope"),
            Some("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
            Some("admin"),
            Some("orders:read"),
        ),
    ];
    let test = "tokens_of_existing_systems_are_accepted_with_their_claims_mapped";
    for (language, library, shape, mapping, subject, role, permission) in cases {
        let Some(mut driver) = interop::or_skip(driver(language), test) else {
            continue;
        };
        let versions = driver.versions();
        let sub = unique_id();
        let answer = driver.call(&json!({
            "op": "mint", "lib": library, "alg": "HS256", "secret": SECRET,
            "issuer": ISSUER, "audience": AUDIENCE, "sub": sub, "shape": shape,
        }));
        assert_eq!(answer["ok"], true, "{shape}: {}", answer["error"]);
        let token = answer["token"].as_str().unwrap();
        let verified = validator(mapping)
            .validate::<StandardClaims>(token)
            .unwrap_or_else(|e| panic!("{shape} refused: {e}"));
        let claims = verified.claims();
        assert_eq!(claims.sub, subject.unwrap_or(&sub), "{shape}");
        assert_eq!(verified.registered().sub(), Some(claims.sub.as_str()));
        if let Some(role) = role {
            assert!(claims.has_role(role), "{shape}: {:?}", claims.roles);
        }
        if let Some(permission) = permission {
            assert!(claims.has_permission(permission), "{shape}");
        }
        let result = format!("{shape} claims accepted, mapped");
        report(
            library,
            &versions[library],
            "it → jwt-guard",
            Algorithm::HS256,
            &result,
        );
    }
}

#[tokio::test]
async fn every_library_checks_what_this_suite_relies_on() {
    // The verifiers above run with their checks on: each refuses a token
    // for another audience, an expired one, one not yet valid, and a bad
    // signature. (An `nbf` half a second ahead is refused by the Node
    // libraries, which compare with the current whole second, and accepted
    // by PyJWT and python-jose: why the issuer writes whole seconds.)
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let signed = |claims: Value| {
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .sign("JWT", &claims)
            .unwrap()
    };
    let base = |edit: Value| {
        let mut claims = json!({
            "sub": "alice", "iss": ISSUER, "aud": AUDIENCE,
            "iat": now.floor(), "exp": now.floor() + 300.0,
        });
        for (name, value) in edit.as_object().unwrap() {
            claims[name] = value.clone();
        }
        signed(claims)
    };
    let good = base(json!({}));
    let (head, _) = good.rsplit_once('.').unwrap();
    let cases = [
        ("another audience", base(json!({"aud": "another-api"}))),
        (
            "another issuer",
            base(json!({"iss": "https://elsewhere.test"})),
        ),
        ("without exp", {
            let mut claims = json!({
                "sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now.floor(),
            });
            claims["nbf"] = json!(now.floor());
            signed(claims)
        }),
        ("expired", base(json!({"exp": now.floor() - 60.0}))),
        // An hour ahead: a driver's start-up (the JDK compiles its source
        // first) cannot make it valid before it is checked.
        (
            "not yet valid",
            base(json!({"nbf": now.floor() + 3600.0, "exp": now.floor() + 7200.0})),
        ),
        ("bad signature", format!("{head}.{}", "A".repeat(43))),
    ];
    let es256 = issuer(
        SigningKey::from_ec_pem(
            Algorithm::ES256,
            ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING).private_pem,
        )
        .unwrap(),
    );
    let forged_es256 = SigningKey::from_ec_pem(
        Algorithm::ES256,
        ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING).private_pem,
    )
    .unwrap()
    .with_kid(es256.active_kid().as_str())
    .sign(
        "at+jwt",
        &json!({
            "sub": "mallory", "iss": ISSUER, "aud": AUDIENCE,
            "iat": now.floor(), "exp": now.floor() + 300.0,
        }),
    )
    .unwrap();
    for (language, libraries) in LIBRARIES {
        let test = "every_library_checks_what_this_suite_relies_on";
        let Some(mut driver) = interop::or_skip(driver(language), test) else {
            continue;
        };
        for library in libraries {
            let verify = |driver: &mut Driver, token: &str| {
                driver.call(&json!({
                    "op": "verify", "lib": library, "alg": "HS256", "token": token,
                    "secret": SECRET, "issuer": ISSUER, "audience": AUDIENCE,
                }))
            };
            assert_eq!(verify(&mut driver, &good)["ok"], true, "{library}");
            for (what, token) in &cases {
                let answer = verify(&mut driver, token);
                assert_eq!(answer["ok"], false, "{library} accepted a token {what}");
            }
            // Through the issuer's JWKS: a token signed by another key under
            // the issuer's `kid` is refused.
            let verify_es256 = |driver: &mut Driver, token: &str| {
                driver.call(&json!({
                    "op": "verify", "lib": library, "alg": "ES256", "token": token,
                    "jwks": es256.jwks(), "issuer": ISSUER, "audience": AUDIENCE,
                }))
            };
            let genuine = es256.issue(&Grant::new("alice")).await.unwrap();
            assert_eq!(
                verify_es256(&mut driver, genuine.access_token())["ok"],
                true,
                "{library}"
            );
            let answer = verify_es256(&mut driver, &forged_es256);
            assert_eq!(
                answer["ok"], false,
                "{library} accepted a forged ES256 token"
            );
        }
    }
}
