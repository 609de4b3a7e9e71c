//! Several trusted issuers in one validator (`TrustedIssuers`): the token's
//! `iss` picks the validator, which alone verifies it; unknown issuers are
//! refused; issuers come and go while serving, cached tokens included.

use axum::Router;
use axum::routing::get;
use jwt_guard::verify::TrustedIssuers;
use std::time::Duration;

use jwt_guard::{
    Algorithm, AuthErrorKind, ClaimMapping, ConfigErrorKind, JwtLayer, KeySet, SharedKeys,
    SigningKey, StandardClaims, Validator, ValidatorBuilder, VerifyingKey,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{claims, client, serve};

const A: &str = "https://a.test";
const B: &str = "https://b.test";
const SECRET_A: &[u8] = b"secret-of-issuer-a-0123456789abcdef";
const SECRET_B: &[u8] = b"secret-of-issuer-b-0123456789abcdef";

fn issuer(iss: &str, aud: &str, secret: &[u8]) -> Validator {
    Validator::builder()
        .issuer(iss)
        .audience(aud)
        .key(
            VerifyingKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .with_kid("k1"),
        )
        .build()
        .unwrap()
}

fn two_issuers() -> TrustedIssuers {
    let issuers = TrustedIssuers::new();
    issuers.insert(issuer(A, "api-a", SECRET_A)).unwrap();
    let b = Validator::builder()
        .issuer(B)
        .audience("api-b")
        .key(
            VerifyingKey::hmac(Algorithm::HS256, SECRET_B)
                .unwrap()
                .with_kid("k1"),
        )
        .claim_mapping(ClaimMapping::new().roles("realm_access.roles"))
        .build()
        .unwrap();
    issuers.insert(b).unwrap();
    issuers
}

fn token(secret: &[u8], iss: Value, aud: &str) -> String {
    let mut claims = claims("alice", &["from-roles"]);
    claims["iss"] = iss;
    claims["aud"] = json!(aud);
    claims["realm_access"] = json!({ "roles": ["from-realm"] });
    SigningKey::hmac(Algorithm::HS256, secret)
        .unwrap()
        .with_kid("k1")
        .sign("JWT", &claims)
        .unwrap()
}

fn refusal(validator: &Validator, token: &str) -> AuthErrorKind {
    validator
        .validate::<StandardClaims>(token)
        .unwrap_err()
        .kind()
}

#[test]
fn each_issuer_verifies_its_own_tokens_with_its_own_rules() {
    let validator = Validator::builder()
        .trusted_issuers(two_issuers())
        .build()
        .unwrap();
    let from_a = validator
        .validate::<StandardClaims>(&token(SECRET_A, json!(A), "api-a"))
        .unwrap();
    assert_eq!(from_a.registered().issuer(), Some(A));
    assert_eq!(from_a.claims().roles, ["from-roles"]);
    // B maps its roles from elsewhere.
    let from_b = validator
        .validate::<StandardClaims>(&token(SECRET_B, json!(B), "api-b"))
        .unwrap();
    assert_eq!(from_b.registered().issuer(), Some(B));
    assert_eq!(from_b.claims().roles, ["from-realm"]);

    // Signed with A's key, claiming B: verified with B's keys alone.
    assert_eq!(
        refusal(&validator, &token(SECRET_A, json!(B), "api-b")),
        AuthErrorKind::InvalidSignature
    );
    // Each issuer's audiences.
    assert_eq!(
        refusal(&validator, &token(SECRET_A, json!(A), "api-b")),
        AuthErrorKind::InvalidAudience
    );
    // Unknown, absent, or not text.
    assert_eq!(
        refusal(
            &validator,
            &token(SECRET_A, json!("https://c.test"), "api-a")
        ),
        AuthErrorKind::InvalidIssuer
    );
    assert_eq!(
        refusal(&validator, &token(SECRET_A, Value::Null, "api-a")),
        AuthErrorKind::MissingClaim
    );
    assert_eq!(
        refusal(&validator, &token(SECRET_A, json!(7), "api-a")),
        AuthErrorKind::InvalidClaim
    );
    // The JWS-level entry point picks the issuer too.
    assert!(
        validator
            .verify_signature(&token(SECRET_B, json!(B), "api-b"))
            .is_ok()
    );
    assert!(
        validator
            .verify_signature(&token(SECRET_A, json!(B), "api-b"))
            .is_err()
    );
}

/// A payload hiding a second `iss` (duplicate members) is refused, whichever
/// one picked the issuer.
#[test]
fn a_second_iss_cannot_pick_one_issuer_and_pass_as_another() {
    let validator = Validator::builder()
        .trusted_issuers(two_issuers())
        .build()
        .unwrap();
    let now = crate::support::now();
    let payload = format!(
        r#"{{"sub":"mallory","iss":"{A}","aud":"api-a","exp":{},"iss":"{B}"}}"#,
        now + 300
    );
    let signer = SigningKey::hmac(Algorithm::HS256, SECRET_A)
        .unwrap()
        .with_kid("k1");
    let token = signer
        .sign_jws(br#"{"alg":"HS256","kid":"k1"}"#, payload.as_bytes())
        .unwrap();
    assert_eq!(refusal(&validator, &token), AuthErrorKind::Malformed);
}

/// Keys, issuers, audiences and rules belong to each issuer's validator:
/// the one that picks among them refuses every one of them, so that no
/// rule is set where it would silently not apply.
#[test]
fn a_validator_of_trusted_issuers_takes_no_rules_of_its_own() {
    type Setting = fn(ValidatorBuilder) -> ValidatorBuilder;
    let issuers = two_issuers();
    let settings: [(&str, Setting); 10] = [
        ("key", |b| {
            b.key(VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap())
        }),
        ("shared keys", |b| {
            b.shared_keys(SharedKeys::new(
                KeySet::new([VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap()]).unwrap(),
            ))
        }),
        ("issuer", |b| b.issuer(A)),
        ("audience", |b| b.audience("api-a")),
        ("leeway", |b| b.leeway(Duration::from_secs(5))),
        ("exp optional", |b| b.require_exp(false)),
        ("typ", |b| b.require_type("at+jwt")),
        ("crit", |b| b.understand_crit("exp-ext")),
        ("mapping", |b| {
            b.claim_mapping(ClaimMapping::new().roles("realm_access.roles"))
        }),
        ("length", |b| b.max_token_len(31)),
    ];
    for (name, setting) in settings {
        let refused = setting(Validator::builder().trusted_issuers(issuers.clone()))
            .build()
            .unwrap_err();
        assert_eq!(refused.kind(), ConfigErrorKind::InvalidSetting, "{name}");
    }
    // The defaults, and a length limit that can hold a token, build.
    let validator = Validator::builder()
        .trusted_issuers(issuers.clone())
        .max_token_len(4096)
        .build()
        .unwrap();
    assert_eq!(validator.leeway(), Duration::from_secs(600));
}

/// A validator that itself picks among issuers cannot be one of them: it
/// names no issuer of its own.
#[test]
fn a_validator_of_trusted_issuers_is_not_a_trusted_issuer() {
    let picker = Validator::builder()
        .trusted_issuers(two_issuers())
        .build()
        .unwrap();
    let other = TrustedIssuers::new();
    assert_eq!(
        other.insert(picker).unwrap_err().kind(),
        ConfigErrorKind::InvalidSetting
    );
    assert!(other.issuers().is_empty());
}

#[test]
fn trusted_issuers_are_checked_when_configured() {
    let issuers = two_issuers();
    let no_issuer = Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        issuers.insert(no_issuer).unwrap_err().kind(),
        ConfigErrorKind::InvalidSetting
    );
    let two = Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap())
        .issuer(A)
        .issuer(B)
        .build()
        .unwrap();
    assert_eq!(
        issuers.insert(two).unwrap_err().kind(),
        ConfigErrorKind::InvalidSetting
    );
    assert_eq!(issuers.issuers(), [A, B]);
}

/// Behind the layer, with its cache of verified tokens: removing an issuer
/// refuses its next request, putting it back accepts it, and replacing its
/// keys refuses a token of the old key although it was cached.
#[tokio::test]
async fn issuers_change_while_serving_and_the_cache_follows() {
    let issuers = two_issuers();
    let validator = Validator::builder()
        .trusted_issuers(issuers.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|claims: jwt_guard::Claims<StandardClaims>| async move {
                claims.registered().issuer().unwrap_or_default().to_owned()
            }),
        )
        .layer(JwtLayer::<StandardClaims>::new(validator));
    let url = format!("{}/me", serve(app).await);
    let get = async |token: &str| {
        let response = client().get(&url).bearer_auth(token).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    };
    let from_a = token(SECRET_A, json!(A), "api-a");
    let from_b = token(SECRET_B, json!(B), "api-b");
    assert_eq!(get(&from_a).await, (StatusCode::OK, A.to_owned()));
    assert_eq!(get(&from_b).await, (StatusCode::OK, B.to_owned()));

    assert!(issuers.remove(B).is_some());
    assert_eq!(get(&from_b).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&from_a).await.0, StatusCode::OK);
    issuers.insert(issuer(B, "api-b", SECRET_B)).unwrap();
    assert_eq!(get(&from_b).await.0, StatusCode::OK);

    // A rotates to a new secret: its old token, cached, is refused.
    let rotated = b"secret-of-issuer-a-rotated-456789abcdef";
    assert!(
        issuers
            .insert(issuer(A, "api-a", rotated))
            .unwrap()
            .is_some()
    );
    assert_eq!(get(&from_a).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&token(rotated, json!(A), "api-a")).await.0,
        StatusCode::OK
    );
}
