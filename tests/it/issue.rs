//! The issuer's refusal rules, each on the embedded store and on a real
//! `redis-server`: a forged refresh token does not kill its family, the
//! grace period covers the previous token only, logout-all refuses refresh
//! tokens issued before it and not after, reserved claims are refused.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::support::redis::RedisServer;
use crate::support::{AUDIENCE, ISSUER, SECRET};
use jwt_guard::issue::{Grant, IssueErrorKind, Issuer};
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::store::{MemoryStore, RefreshStore, RevocationStore};
use jwt_guard::{Algorithm, SigningKey, StandardClaims, Validator};

fn issuer(store: Arc<dyn RefreshStore>, grace: Duration) -> Issuer {
    Issuer::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .reuse_grace(grace)
        .shared_store(store)
        .build()
        .unwrap()
}

async fn stores() -> (Vec<(&'static str, Arc<dyn RefreshStore>)>, RedisServer) {
    let redis = RedisServer::start();
    let store = RedisStore::new(RedisConfig::url(redis.url())).unwrap();
    store.ready(Duration::from_secs(5)).await.unwrap();
    (
        vec![
            ("memory", Arc::new(MemoryStore::new())),
            ("redis", Arc::new(store)),
        ],
        redis,
    )
}

fn kind(result: Result<impl Sized, jwt_guard::issue::IssueError>) -> IssueErrorKind {
    match result {
        Ok(_) => panic!("accepted"),
        Err(error) => error.kind(),
    }
}

#[tokio::test]
async fn a_forged_secret_is_unknown_and_does_not_revoke_the_family() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = issuer(store, Duration::ZERO);
        let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
        // The subject and family are readable; the secret is what counts.
        let token = pair.refresh_token().as_str();
        let (head, secret) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", "A".repeat(secret.len()));
        assert_eq!(
            kind(issuer.refresh(&forged).await),
            IssueErrorKind::UnknownGrant,
            "{name}"
        );
        // The real token still works: nothing was revoked.
        assert!(issuer.refresh(token).await.is_ok(), "{name}");
    }
}

#[tokio::test]
async fn the_grace_period_covers_the_previous_token_only() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = issuer(store, Duration::from_secs(10));
        let first = issuer.issue(&Grant::new("bob")).await.unwrap();
        let second = issuer
            .refresh(first.refresh_token().as_str())
            .await
            .unwrap();
        // The answer was lost: the client retries with the first token.
        let retried = issuer
            .refresh(first.refresh_token().as_str())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let third = issuer
            .refresh(retried.refresh_token().as_str())
            .await
            .unwrap();
        // Two rotations later the first token is outside the grace: reuse.
        assert_eq!(
            kind(issuer.refresh(first.refresh_token().as_str()).await),
            IssueErrorKind::ReusedGrant,
            "{name}"
        );
        assert_eq!(
            kind(issuer.refresh(third.refresh_token().as_str()).await),
            IssueErrorKind::RevokedGrant,
            "{name}"
        );
        // The successor the lost answer carried is spent too.
        assert!(
            issuer
                .refresh(second.refresh_token().as_str())
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn without_grace_the_previous_token_is_reuse() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = issuer(store, Duration::ZERO);
        let first = issuer.issue(&Grant::new("carol")).await.unwrap();
        issuer
            .refresh(first.refresh_token().as_str())
            .await
            .unwrap();
        assert_eq!(
            kind(issuer.refresh(first.refresh_token().as_str()).await),
            IssueErrorKind::ReusedGrant,
            "{name}"
        );
    }
}

/// What `store` says of `token` after `validator` verified it.
async fn status(
    store: &dyn RevocationStore,
    validator: &Validator,
    token: &str,
) -> jwt_guard::store::TokenStatus {
    let verified = validator.validate::<StandardClaims>(token).unwrap();
    match store.check(&verified.registered().token_ref()) {
        jwt_guard::store::Lookup::Ready(result) => result.unwrap(),
        jwt_guard::store::Lookup::Pending(future) => future.await.unwrap(),
        _ => unreachable!(),
    }
}

/// The whole second a token's `iat` claim names.
fn iat_of(validator: &Validator, token: &str) -> i64 {
    let verified = validator.validate::<StandardClaims>(token).unwrap();
    verified.registered().issued_at().unwrap().as_secs()
}

#[tokio::test]
async fn logout_all_refuses_earlier_refresh_tokens_but_not_later_ones() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = issuer(store.clone(), Duration::ZERO);
        let validator = issuer.validator().build().unwrap();
        // Until the tokens before and after the cut-off share one whole
        // second (almost always the first time): that is the case whole
        // seconds alone cannot tell apart.
        let mut attempt = 0;
        let (before, after) = loop {
            attempt += 1;
            let before = issuer.issue(&Grant::new("dave")).await.unwrap();
            issuer.logout_all("dave").await.unwrap();
            let after = issuer.issue(&Grant::new("dave")).await.unwrap();
            if iat_of(&validator, before.access_token()) == iat_of(&validator, after.access_token())
            {
                break (before, after);
            }
            assert!(attempt < 10, "{name}: never two tokens in one second");
        };
        assert_eq!(
            kind(issuer.refresh(before.refresh_token().as_str()).await),
            IssueErrorKind::RevokedGrant,
            "{name}"
        );
        assert!(
            issuer.refresh(after.refresh_token().as_str()).await.is_ok(),
            "{name}"
        );
        // The access tokens: the earlier one is revoked in the store, the
        // later one (same second, later microsecond: `iat_us`) is not.
        for (pair, revoked) in [(&before, true), (&after, false)] {
            let status = status(&*store, &validator, pair.access_token()).await;
            assert_eq!(
                status == jwt_guard::store::TokenStatus::Revoked,
                revoked,
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn logout_all_refuses_a_foreign_token_from_the_cut_offs_second_even_a_later_fraction() {
    let (stores, _redis) = stores().await;
    let validator = crate::support::validator();
    for (name, store) in stores {
        let issuer = issuer(store.clone(), Duration::ZERO);
        let sub = crate::support::unique_id();
        // The cut-off's whole second, known when it did not change during
        // the call.
        let second = loop {
            let start = SystemTime::now();
            issuer.logout_all(&sub).await.unwrap();
            let end = SystemTime::now();
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
            if secs(start) == secs(end) {
                break secs(start);
            }
        };
        // Tokens of another system, without `iat_us`: whole or fractional,
        // any `iat` in that second (even its last microsecond, surely after
        // the cut-off) is refused; the next second is not.
        let foreign = |iat: serde_json::Value| {
            let mut claims = crate::support::claims(&sub, &[]);
            claims["iat"] = iat;
            crate::support::mint(&claims)
        };
        for (iat, revoked) in [
            (json!(second - 1), true),
            (json!(second), true),
            (json!(second as f64 + 0.999_999), true),
            (json!(second + 1), false),
        ] {
            let status = status(&*store, &validator, &foreign(iat.clone())).await;
            assert_eq!(
                status == jwt_guard::store::TokenStatus::Revoked,
                revoked,
                "{name}: iat {iat}"
            );
        }
    }
}

#[tokio::test]
async fn issued_dates_are_whole_seconds_and_exp_is_iat_plus_the_lifetime_exactly() {
    let issuer = Issuer::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .access_ttl(Duration::from_secs(90))
        .store(MemoryStore::new())
        .build()
        .unwrap();
    for _ in 0..20 {
        let pair = issuer.issue(&Grant::new("erin")).await.unwrap();
        let payload = pair.access_token().split('.').nth(1).unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        for claim in ["iat", "nbf", "exp", "iat_us"] {
            assert!(payload[claim].is_u64(), "{claim} is {}", payload[claim]);
        }
        let iat = payload["iat"].as_u64().unwrap();
        assert_eq!(payload["nbf"], iat);
        assert_eq!(payload["exp"].as_u64().unwrap() - iat, 90);
        assert_eq!(payload["iat_us"].as_u64().unwrap() / 1_000_000, iat);
    }
    // A lifetime `exp` cannot say exactly is refused.
    let error = Issuer::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .access_ttl(Duration::from_millis(90_500))
        .store(MemoryStore::new())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("whole seconds"), "{error}");
    // `iat_us` is the issuer's: a grant cannot set it.
    assert!(
        issuer
            .issue(&Grant::new("erin").claim("iat_us", 1))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn access_tokens_carry_the_rfc_9068_shape() {
    let issuer = issuer(Arc::new(MemoryStore::new()), Duration::ZERO);
    let pair = issuer
        .issue(
            &Grant::new("erin")
                .roles(["admin"])
                .permission("docs:write")
                .claim("tenant", "acme"),
        )
        .await
        .unwrap();
    let verified = issuer
        .validator()
        .build()
        .unwrap()
        .validate::<StandardClaims>(pair.access_token())
        .unwrap();
    let header = verified.header();
    assert_eq!(header.typ(), Some("at+jwt"));
    assert_eq!(header.kid(), Some(issuer.active_kid().as_str()));
    let claims = verified.claims();
    assert_eq!(claims.roles, ["admin"]);
    assert_eq!(claims.permissions, ["docs:write"]);
    assert_eq!(claims.extra["tenant"], "acme");
    assert_eq!(claims.sid.as_deref(), Some(pair.session_id()));
    let jti = claims.jti.as_deref().unwrap();
    assert_eq!(jti.len(), 22, "128 random bits, base64url");
    let iat = claims.iat.unwrap();
    assert_eq!(claims.nbf, Some(iat));
    assert_eq!(
        claims.exp.unwrap().as_secs(),
        iat.saturating_add(Duration::from_secs(900)).as_secs()
    );
    // A validator for another audience refuses it.
    let other = Validator::builder()
        .shared_keys(issuer.verification_keys())
        .audience("another-api")
        .build()
        .unwrap();
    assert!(
        other
            .validate::<StandardClaims>(pair.access_token())
            .is_err()
    );
}

#[tokio::test]
async fn reserved_claims_and_bad_settings_are_refused() {
    let issuer = issuer(Arc::new(MemoryStore::new()), Duration::ZERO);
    for name in [
        "sub", "exp", "iat", "jti", "sid", "iss", "aud", "nbf", "roles",
    ] {
        assert_eq!(
            kind(issuer.issue(&Grant::new("frank").claim(name, "x")).await),
            IssueErrorKind::InvalidClaims,
            "{name}"
        );
    }
    assert_eq!(
        kind(issuer.issue(&Grant::new("")).await),
        IssueErrorKind::InvalidClaims
    );
    let base = || {
        Issuer::builder()
            .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer("i")
            .audience("a")
            .store(MemoryStore::new())
    };
    assert!(base().build().is_ok());
    assert!(base().access_ttl(Duration::ZERO).build().is_err());
    assert!(
        base()
            .access_ttl(Duration::from_secs(25 * 3600))
            .build()
            .is_err()
    );
    assert!(
        base()
            .reuse_grace(Duration::from_secs(120))
            .build()
            .is_err()
    );
    assert!(base().issuer("").build().is_err());
    assert!(
        Issuer::builder()
            .issuer("i")
            .audience("a")
            .store(MemoryStore::new())
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn a_rotated_key_keeps_verifying_until_its_tokens_expire() {
    let issuer = issuer(Arc::new(MemoryStore::new()), Duration::ZERO);
    let validator = issuer.validator().build().unwrap();
    let old = issuer.issue(&Grant::new("gina")).await.unwrap();
    let old_kid = issuer.active_kid();
    issuer
        .rotate_key(
            SigningKey::hmac(Algorithm::HS256, b"another-secret-0123456789abcdef-xyz").unwrap(),
        )
        .unwrap();
    assert_ne!(issuer.active_kid(), old_kid);
    let new = issuer.issue(&Grant::new("gina")).await.unwrap();
    // The same validator, built before the rotation, follows it.
    assert!(
        validator
            .validate::<StandardClaims>(old.access_token())
            .is_ok()
    );
    let verified = validator
        .validate::<StandardClaims>(new.access_token())
        .unwrap();
    assert_eq!(verified.header().kid(), Some(issuer.active_kid().as_str()));
    // Another algorithm, or the active key's own kid, is refused.
    assert!(
        issuer
            .rotate_key(
                SigningKey::hmac(Algorithm::HS384, b"another-secret-0123456789abcdef-xyz").unwrap()
            )
            .is_err()
    );
    let same = SigningKey::hmac(Algorithm::HS256, b"yet-another-secret-0123456789abcdef")
        .unwrap()
        .with_kid(issuer.active_kid());
    assert!(issuer.rotate_key(same).is_err());
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused_on_every_store() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = Issuer::builder()
            .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .refresh_ttl(Duration::from_secs(1))
            .shared_store(store)
            .build()
            .unwrap();
        let pair = issuer.issue(&Grant::new("hank")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            kind(issuer.refresh(pair.refresh_token().as_str()).await),
            IssueErrorKind::ExpiredGrant,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_give_exactly_one_success_round_after_round() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = issuer(store, Duration::ZERO);
        for round in 0..150 {
            let pair = issuer.issue(&Grant::new("ivan")).await.unwrap();
            let token = pair.refresh_token().as_str().to_owned();
            let attempts: Vec<_> = (0..10)
                .map(|_| {
                    let issuer = issuer.clone();
                    let token = token.clone();
                    tokio::spawn(async move { issuer.refresh(&token).await.is_ok() })
                })
                .collect();
            let mut successes = 0;
            for attempt in attempts {
                successes += usize::from(attempt.await.unwrap());
            }
            assert_eq!(successes, 1, "{name}, round {round}");
        }
    }
}

#[tokio::test]
async fn another_issuer_sharing_the_store_cannot_redeem_a_refresh_token() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let a = issuer(store.clone(), Duration::ZERO);
        let b = Issuer::builder()
            .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer(ISSUER)
            .audience("another-api")
            .shared_store(store)
            .build()
            .unwrap();
        let pair = a.issue(&Grant::new("judy").role("admin")).await.unwrap();
        assert_eq!(
            kind(b.refresh(pair.refresh_token().as_str()).await),
            IssueErrorKind::UnknownGrant,
            "{name}"
        );
        // Nothing happened to the session at its own issuer.
        assert!(
            a.refresh(pair.refresh_token().as_str()).await.is_ok(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_session_stops_rotating_at_its_limit() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = Issuer::builder()
            .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .max_rotations(2)
            .shared_store(store)
            .build()
            .unwrap();
        let mut pair = issuer.issue(&Grant::new("kim")).await.unwrap();
        for _ in 0..2 {
            pair = issuer.refresh(pair.refresh_token().as_str()).await.unwrap();
        }
        assert_eq!(
            kind(issuer.refresh(pair.refresh_token().as_str()).await),
            IssueErrorKind::ExpiredGrant,
            "{name}"
        );
    }
}

#[test]
fn a_store_that_would_forget_logout_all_too_early_is_refused() {
    let build = |retention_days: u64| {
        Issuer::builder()
            .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer("i")
            .audience("a")
            .refresh_ttl(Duration::from_secs(7 * 24 * 3600))
            .store(
                MemoryStore::builder()
                    .subject_retention(Duration::from_secs(retention_days * 24 * 3600))
                    .build(),
            )
            .build()
    };
    let error = build(1).unwrap_err();
    assert!(error.to_string().contains("subject retention"), "{error}");
    assert!(build(8).is_ok());
}

#[tokio::test]
async fn a_family_revocation_that_fails_halfway_is_retried_not_forgotten() {
    // Room for one revoked token: revoking a family with two access tokens fails.
    let store = MemoryStore::builder().max_entries(1).build();
    let issuer = issuer(Arc::new(store.clone()), Duration::ZERO);
    let validator = issuer.validator().build().unwrap();
    let first = issuer.issue(&Grant::new("liam")).await.unwrap();
    let second = issuer
        .refresh(first.refresh_token().as_str())
        .await
        .unwrap();
    let claims = validator
        .validate::<StandardClaims>(second.access_token())
        .unwrap();
    let sid = claims.registered().session_id().unwrap();
    assert!(store.revoke_family("liam", sid).await.is_err());
    // A retry fails again rather than reporting a revocation that did not
    // happen: the family is not marked revoked while a token escaped.
    assert!(store.revoke_family("liam", sid).await.is_err());
    let status = |token: &str| {
        let verified = validator.validate::<StandardClaims>(token).unwrap();
        match store.check(&verified.registered().token_ref()) {
            jwt_guard::store::Lookup::Ready(result) => result.unwrap(),
            _ => unreachable!("the memory store answers at once"),
        }
    };
    assert_eq!(
        status(first.access_token()),
        jwt_guard::store::TokenStatus::Revoked
    );
    assert_eq!(
        status(second.access_token()),
        jwt_guard::store::TokenStatus::Active
    );
}

#[tokio::test]
async fn debug_output_hides_the_tokens() {
    let issuer = issuer(Arc::new(MemoryStore::new()), Duration::ZERO);
    let pair = issuer.issue(&Grant::new("mia")).await.unwrap();
    let shown = format!("{pair:?} {issuer:?}");
    assert!(!shown.contains(pair.access_token()));
    assert!(!shown.contains(pair.refresh_token().as_str()));
    let signature = pair.access_token().rsplit('.').next().unwrap();
    assert!(!shown.contains(signature));
}
