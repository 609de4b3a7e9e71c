//! The issuer's refusal rules, each on the embedded store and on a real
//! `redis-server`: a forged refresh token does not kill its family, the
//! grace period covers the previous token only, logout-all refuses refresh
//! tokens issued before it and not after, reserved claims are refused.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis::RedisServer;
use jwt_guard::issue::{Grant, IssueErrorKind, Issuer};
use jwt_guard::store::redis::{RedisConfig, RedisStore};
use jwt_guard::store::{MemoryStore, RefreshStore};
use jwt_guard::{Algorithm, SigningKey, StandardClaims, Validator};

fn issuer(store: Arc<dyn RefreshStore>, grace: Duration) -> Issuer {
    Issuer::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, common::SECRET).unwrap())
        .issuer(common::ISSUER)
        .audience(common::AUDIENCE)
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

#[tokio::test]
async fn logout_all_refuses_earlier_refresh_tokens_but_not_later_ones() {
    let (stores, _redis) = stores().await;
    for (name, store) in stores {
        let issuer = issuer(store.clone(), Duration::ZERO);
        let validator = issuer.validator().build().unwrap();
        let before = issuer.issue(&Grant::new("dave")).await.unwrap();
        issuer.logout_all("dave").await.unwrap();
        let after = issuer.issue(&Grant::new("dave")).await.unwrap();
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
        // later one (same second, later microsecond) is not.
        for (pair, revoked) in [(&before, true), (&after, false)] {
            let verified = validator
                .validate::<StandardClaims>(pair.access_token())
                .unwrap();
            let status = match store.check(&verified.registered().token_ref()) {
                jwt_guard::store::Lookup::Ready(result) => result.unwrap(),
                jwt_guard::store::Lookup::Pending(future) => future.await.unwrap(),
                _ => unreachable!(),
            };
            assert_eq!(
                status == jwt_guard::store::TokenStatus::Revoked,
                revoked,
                "{name}"
            );
        }
    }
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
            .signing_key(SigningKey::hmac(Algorithm::HS256, common::SECRET).unwrap())
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
            .signing_key(SigningKey::hmac(Algorithm::HS256, common::SECRET).unwrap())
            .issuer(common::ISSUER)
            .audience(common::AUDIENCE)
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
