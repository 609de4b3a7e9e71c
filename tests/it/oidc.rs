//! Against a real OpenID Provider, panva's `oidc-provider` (npm), started on
//! loopback: client-credentials tokens (`at+jwt`, for an audience through a
//! resource indicator) verified by discovery; `scope` as permissions; a key
//! rotation picked up on the first token of the new key; the provider down
//! at start (503, then recovery without restart); two providers as two
//! issuers, whose keys do not cross; RSA keys published without `alg`.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::keys::RemoteJwks;
use jwt_guard::verify::TrustedIssuers;
use jwt_guard::{
    Algorithm, ClaimMapping, Claims, JwtLayer, RequirePermission, SigningKey, StandardClaims,
    Validator,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::keys::ec_key;
use crate::support::oidc::{self, AUDIENCE, Provider};
use crate::support::{client, eventually, serve};

jwt_guard::permission!(DocsRead = "docs:read");
jwt_guard::permission!(DocsWrite = "docs:write");

/// A service on `validator`: `/me`, `/read` (`docs:read`), `/write` (`docs:write`).
async fn service(validator: Validator) -> String {
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Claims<StandardClaims>| async move {
                axum::Json(json!({
                    "sub": claims.sub,
                    "iss": claims.registered().issuer(),
                    "permissions": claims.permissions,
                }))
            }),
        )
        .route(
            "/read",
            get(|_: RequirePermission<DocsRead>| async { "read" }),
        )
        .route(
            "/write",
            get(|_: RequirePermission<DocsWrite>| async { "written" }),
        )
        .layer(JwtLayer::<StandardClaims>::new(validator));
    serve(app).await
}

async fn get_with(
    base: &str,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// The validator a service trusting `remote`'s issuer would build: the
/// provider's space-separated `scope` read as the permissions.
fn validator(remote: &RemoteJwks) -> Validator {
    Validator::builder()
        .remote_jwks(remote)
        .audience(AUDIENCE)
        .require_type("at+jwt")
        .claim_mapping(ClaimMapping::new().permissions("scope"))
        .build()
        .unwrap()
}

async fn discovered(provider: &Provider) -> RemoteJwks {
    let remote = RemoteJwks::discover(&provider.issuer)
        .cooldown(Duration::from_millis(200))
        .build()
        .unwrap();
    remote.ready(Duration::from_secs(10)).await.unwrap();
    remote
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_real_provider_verify_by_discovery_and_its_rotation_is_followed() {
    let test = "tokens_of_a_real_provider_verify_by_discovery_and_its_rotation_is_followed";
    let Some(mut provider) = oidc::start(test, &oidc::config()) else {
        return;
    };
    let remote = discovered(&provider).await;
    let base = service(validator(&remote)).await;

    let token = provider.token("docs:read");
    assert_eq!(header(&token)["typ"], "at+jwt");
    let (status, _, body) = get_with(&base, "/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["iss"], provider.issuer.as_str());
    assert_eq!(me["sub"], oidc::CLIENT_ID);
    // `scope` is read as the permissions.
    assert_eq!(me["permissions"], json!(["docs:read"]));
    assert_eq!(get_with(&base, "/read", &token).await.0, StatusCode::OK);
    let (status, headers, _) = get_with(&base, "/write", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    // A rotation at the provider: the first token of the new key passes.
    let kid = provider.rotate();
    let rotated = provider.token("docs:read docs:write");
    assert_eq!(header(&rotated)["kid"], kid.as_str());
    assert_ne!(header(&rotated)["kid"], header(&token)["kid"]);
    assert_eq!(get_with(&base, "/write", &rotated).await.0, StatusCode::OK);
    // The old key is still published: its token still passes.
    assert_eq!(get_with(&base, "/read", &token).await.0, StatusCode::OK);
}

/// The provider is down when the service starts: not ready, 503 with
/// `Retry-After` (never 401); once it is up, the service recovers by
/// itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_at_start_is_503_until_it_comes_up() {
    let test = "a_provider_down_at_start_is_503_until_it_comes_up";
    let port = crate::support::ports::free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let remote = RemoteJwks::discover(&issuer)
        .refresh_interval(Duration::from_secs(2))
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let base = service(validator(&remote)).await;
    // A token naming the issuer, from a key nobody published.
    let stranger = SigningKey::from_ec_pem(
        Algorithm::ES256,
        ec_key(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING).private_pem,
    )
    .unwrap()
    .with_kid("stranger")
    .sign(
        "at+jwt",
        &json!({ "iss": issuer, "aud": AUDIENCE, "sub": "x", "exp": crate::support::now() + 60 }),
    )
    .unwrap();
    let (status, headers, _) = get_with(&base, "/me", &stranger).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(!remote.is_ready());

    let mut config = oidc::config();
    config["port"] = json!(port);
    let Some(mut provider) = oidc::start(test, &config) else {
        return;
    };
    assert_eq!(provider.issuer, issuer);
    remote.ready(Duration::from_secs(20)).await.unwrap();
    let token = provider.token("docs:read");
    assert_eq!(get_with(&base, "/read", &token).await.0, StatusCode::OK);
    // Keys are held now: a token of a key nobody published is a 401.
    assert_eq!(
        get_with(&base, "/me", &stranger).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Two providers as two issuers of one service: each one's tokens pass,
/// and a token naming one issuer but signed by another provider's key
/// (a third provider claiming the second's issuer) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_are_two_issuers_whose_keys_do_not_cross() {
    let test = "two_providers_are_two_issuers_whose_keys_do_not_cross";
    let mut a_config = oidc::config();
    a_config["issuer_path"] = json!("/tenant-a");
    let Some(mut a) = oidc::start(test, &a_config) else {
        return;
    };
    let mut b_config = oidc::config();
    b_config["issuer_path"] = json!("/tenant-b");
    b_config["alg"] = json!("EdDSA");
    let Some(mut b) = oidc::start(test, &b_config) else {
        return;
    };
    let (remote_a, remote_b) = (discovered(&a).await, discovered(&b).await);
    let issuers = TrustedIssuers::new();
    issuers.insert(validator(&remote_a)).unwrap();
    issuers.insert(validator(&remote_b)).unwrap();
    let base = service(
        Validator::builder()
            .trusted_issuers(issuers.clone())
            .build()
            .unwrap(),
    )
    .await;

    let tokens = [
        (a.issuer.clone(), a.token("docs:read")),
        (b.issuer.clone(), b.token("docs:read")),
    ];
    for (provider, token) in tokens {
        let (status, _, body) = get_with(&base, "/me", &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["iss"],
            provider.as_str()
        );
    }

    // A third provider, at its own address, claiming to be b.
    let mut rogue_config = oidc::config();
    rogue_config["issuer"] = json!(b.issuer);
    let Some(mut rogue) = oidc::start(test, &rogue_config) else {
        return;
    };
    let forged = rogue.token("docs:read docs:write");
    assert_eq!(
        get_with(&base, "/write", &forged).await.0,
        StatusCode::UNAUTHORIZED
    );

    // b removed while serving: its tokens are refused from then on.
    let from_b = b.token("docs:read");
    assert_eq!(get_with(&base, "/read", &from_b).await.0, StatusCode::OK);
    issuers.remove(&b.issuer);
    assert_eq!(
        get_with(&base, "/read", &from_b).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with(&base, "/read", &a.token("docs:read")).await.0,
        StatusCode::OK
    );
}

/// RSA keys the provider publishes without `alg`: RS256 by default, and
/// PS256 once the source is told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_keys_published_without_alg_verify_the_algorithm_configured() {
    let test = "rsa_keys_published_without_alg_verify_the_algorithm_configured";
    for (alg, told) in [("RS256", None), ("PS256", Some(Algorithm::PS256))] {
        let mut config = oidc::config();
        config["alg"] = json!(alg);
        config["jwk_alg"] = json!(false);
        let Some(mut provider) = oidc::start(test, &config) else {
            return;
        };
        let mut builder = RemoteJwks::discover(&provider.issuer);
        if let Some(told) = told {
            builder = builder.rsa_algorithm(told);
        }
        let remote = builder.build().unwrap();
        remote.ready(Duration::from_secs(10)).await.unwrap();
        assert!(
            remote.shared_keys().load().is_some(),
            "ready returned before the keys were loaded"
        );
        let base = service(validator(&remote)).await;
        let token = provider.token("docs:read");
        assert_eq!(header(&token)["alg"], alg);
        assert_eq!(
            get_with(&base, "/read", &token).await.0,
            StatusCode::OK,
            "{alg}"
        );
    }
}

/// The quickstart binary with `OIDC_ISSUER_URL` instead of `JWT_SECRET`:
/// 503 with `Retry-After` while its provider is not up yet, then the
/// provider's tokens pass, without a restart.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_trusts_a_provider_named_by_oidc_issuer_url() {
    let test = "the_quickstart_trusts_a_provider_named_by_oidc_issuer_url";
    let port = crate::support::ports::free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let quickstart = crate::support::example::start(
        "quickstart",
        &[("OIDC_ISSUER_URL", &issuer), ("JWT_AUDIENCE", AUDIENCE)],
        "/public",
    )
    .await;
    let any = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k"}"#),
        URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"{issuer}"}}"#)),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    );
    let (status, headers, _) = get_with(&quickstart.url, "/me", &any).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");

    let mut config = oidc::config();
    config["port"] = json!(port);
    let Some(mut provider) = oidc::start(test, &config) else {
        return;
    };
    let token = provider.token("docs:read");
    let url = quickstart.url.clone();
    eventually(
        "the quickstart accepts the provider's token",
        Duration::from_secs(30),
        async || get_with(&url, "/me", &token).await.0 == StatusCode::OK,
    )
    .await;
    let (_, _, body) = get_with(&quickstart.url, "/me", &token).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["sub"],
        oidc::CLIENT_ID
    );
}

/// DPoP-bound tokens of a real provider (`oidc-provider`, whose token
/// endpoint binds a client-credentials token to the key of the request's
/// proof), with proofs made by panva's `dpop`, against two quickstart
/// binaries (`OIDC_ISSUER_URL`) that share one `redis-server` and one
/// `PUBLIC_ORIGIN`, as two instances behind one load balancer: every rule
/// of RFC 9449 §4.3 and §7, and a proof replayed to the other instance.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_bound_tokens_of_a_real_provider_pass_the_quickstart_only_with_their_proof() {
    use crate::support::dpop;
    use crate::support::redis::RedisServer;

    let test = "dpop_bound_tokens_of_a_real_provider_pass_the_quickstart_only_with_their_proof";
    let Some(mut provider) = oidc::start(test, &oidc::config()) else {
        return;
    };
    const ORIGIN: &str = "https://api.public.test";
    let redis = RedisServer::start();
    let env = [
        ("OIDC_ISSUER_URL", provider.issuer.as_str()),
        ("JWT_AUDIENCE", AUDIENCE),
        ("REDIS_URL", &redis.url()),
        ("PUBLIC_ORIGIN", ORIGIN),
    ];
    let a = crate::support::example::start("quickstart", &env, "/public").await;
    let b = crate::support::example::start("quickstart", &env, "/public").await;
    let (key, jkt) = provider.dpop_key("ES256");
    let token = provider.dpop_token("docs:read", key);
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["cnf"]["jkt"], jkt, "the provider bound the token");
    let me = format!("{ORIGIN}/me");

    let ask = async |instance: &str, authorization: &str, proof: Option<&str>| {
        dpop::ask(&format!("{instance}/me"), authorization, proof).await
    };
    let dpop = format!("DPoP {token}");
    let refused = dpop::refused();

    // A good proof: accepted once, then refused on this instance and on
    // the other one (the replay cache is in Redis).
    let good = provider.dpop_proof(key, ("GET", &me), Some(&token), 0);
    let (status, ..) = ask(&a.url, &dpop, Some(&good)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ask(&a.url, &dpop, Some(&good)).await, refused, "replayed");
    assert_eq!(
        ask(&b.url, &dpop, Some(&good)).await,
        refused,
        "replayed elsewhere"
    );
    let for_b = provider.dpop_proof(key, ("GET", &me), Some(&token), 0);
    assert_eq!(ask(&b.url, &dpop, Some(&for_b)).await.0, StatusCode::OK);

    // The token without a proof, or as a bearer token.
    assert_eq!(ask(&a.url, &dpop, None).await, refused, "no proof");
    let (status, error, _) = ask(&a.url, &format!("Bearer {token}"), None).await;
    assert_eq!(
        (status, error),
        (StatusCode::UNAUTHORIZED, json!("invalid_token"))
    );

    // Proofs for another method, URL (the listener's own address: the
    // public origin overrides it), token or key, and a stale one.
    let (other_key, _) = provider.dpop_key("ES256");
    let other_token = provider.dpop_token("docs:read", key);
    let own_address = format!("{}/me", a.url);
    let admin = format!("{ORIGIN}/admin");
    for (proof, why) in [
        (
            provider.dpop_proof(key, ("POST", &me), Some(&token), 0),
            "method",
        ),
        (
            provider.dpop_proof(key, ("GET", &admin), Some(&token), 0),
            "URL",
        ),
        (
            provider.dpop_proof(key, ("GET", &own_address), Some(&token), 0),
            "origin",
        ),
        (
            provider.dpop_proof(key, ("GET", &me), Some(&other_token), 0),
            "token",
        ),
        (
            provider.dpop_proof(other_key, ("GET", &me), Some(&token), 0),
            "key",
        ),
        (
            provider.dpop_proof(key, ("GET", &me), Some(&token), 120),
            "stale iat",
        ),
    ] {
        assert_eq!(
            ask(&a.url, &dpop, Some(&proof)).await,
            refused,
            "another {why}"
        );
    }

    // Proofs no client library makes: unsigned, HMAC, a private key.
    for (proof, why) in dpop::forged_proofs(&me, &token) {
        assert_eq!(ask(&a.url, &dpop, Some(&proof)).await, refused, "{why}");
    }
    eprintln!("dpop: oidc-provider DPoP-bound token, dpop proofs, two quickstarts: ok");
}
