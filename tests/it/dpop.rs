//! DPoP proofs (RFC 9449 §4.3) checked by `DpopVerifier`: proofs minted
//! here, at test time, with keys made here; each refusal rule has its case.

use aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::dpop::{DpopVerifier, ProofRequest};
use jwt_guard::{Algorithm, AuthErrorKind, ConfigErrorKind, SigningKey};
use serde_json::{Value, json};

use crate::support::keys::{ec_key, ed25519_key, rsa_key};
use crate::support::{now, unique_id};

const URL: &str = "https://api.example/v1/me";
const TOKEN: &str = "an-access-token";

fn es256() -> SigningKey {
    SigningKey::from_ec_pem(
        Algorithm::ES256,
        ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING).private_pem,
    )
    .unwrap()
}

fn ath(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The header and claims of a good proof by `key` for `GET URL` with
/// [`TOKEN`], to be spoilt by each test.
fn parts(key: &SigningKey) -> (Value, Value) {
    let header = json!({
        "typ": "dpop+jwt",
        "alg": key.algorithm().as_str(),
        "jwk": key.public_jwk().unwrap(),
    });
    let claims = json!({
        "jti": unique_id(),
        "htm": "GET",
        "htu": URL,
        "iat": now(),
        "ath": ath(TOKEN),
    });
    (header, claims)
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    key.sign_jws(header.to_string().as_bytes(), claims.to_string().as_bytes())
        .unwrap()
}

fn request() -> ProofRequest<'static> {
    ProofRequest::new("GET", URL).unwrap().access_token(TOKEN)
}

/// Asserts that `proof` is refused as `invalid_dpop_proof`, and that the
/// description repeats neither the proof nor the token.
fn refused(proof: &str, request: &ProofRequest<'_>, why: &str) {
    let error = DpopVerifier::default()
        .verify(proof, request)
        .expect_err(why);
    assert_eq!(error.kind(), AuthErrorKind::InvalidDpopProof, "{why}");
    assert_eq!(error.error_code(), Some("invalid_dpop_proof"));
    assert_eq!(error.status(), 401);
    let described = format!("{error} {error:?}");
    assert!(!described.contains(TOKEN), "{why}: {described}");
    if let Some(signature) = proof.rsplit('.').next().filter(|s| s.len() > 8) {
        assert!(!described.contains(signature), "{why}: {described}");
    }
}

#[test]
fn a_good_proof_is_accepted_with_its_key_thumbprint() {
    let rsa = SigningKey::from_rsa_pem(Algorithm::PS256, rsa_key().0.private_pem).unwrap();
    let ed = SigningKey::from_ed_pem(ed25519_key().private_pem).unwrap();
    for key in [es256(), ed, rsa] {
        let (header, claims) = parts(&key);
        let proof = sign(&key, &header, &claims);
        let verified = DpopVerifier::default()
            .verify(&proof, &request())
            .unwrap_or_else(|e| panic!("{}: {e}", key.algorithm()));
        assert_eq!(verified.jkt(), key.thumbprint().unwrap());
        assert_eq!(verified.jti(), claims["jti"]);
        assert_eq!(
            verified.issued_at().as_secs(),
            claims["iat"].as_i64().unwrap()
        );
        assert_eq!(verified.nonce(), None);
    }
}

#[test]
fn the_uri_is_compared_in_normal_form_without_query_or_fragment() {
    let key = es256();
    let (header, mut claims) = parts(&key);
    claims["htu"] = json!("HTTPS://API.example:443/v1/me?page=2#top");
    let proof = sign(&key, &header, &claims);
    let request = ProofRequest::from_parts("GET", "https", "api.example", "/v1/me?x=1")
        .unwrap()
        .access_token(TOKEN);
    assert!(DpopVerifier::default().verify(&proof, &request).is_ok());
}

#[test]
fn a_proof_for_another_request_is_refused() {
    let key = es256();
    let (header, claims) = parts(&key);
    let proof = sign(&key, &header, &claims);
    let other_method = ProofRequest::new("POST", URL).unwrap().access_token(TOKEN);
    refused(&proof, &other_method, "another method");
    for url in [
        "https://api.example/v1/admin",
        "http://api.example/v1/me",
        "https://api.example:8443/v1/me",
        "https://evil.example/v1/me",
    ] {
        let other = ProofRequest::new("GET", url).unwrap().access_token(TOKEN);
        refused(&proof, &other, url);
    }
    let other_token = ProofRequest::new("GET", URL)
        .unwrap()
        .access_token("another-access-token");
    refused(&proof, &other_token, "another access token");
    // The method is compared as sent: methods are case-sensitive.
    let (header, mut claims) = parts(&key);
    claims["htm"] = json!("get");
    refused(
        &sign(&key, &header, &claims),
        &request(),
        "htm in lower case",
    );
}

#[test]
fn a_proof_without_the_access_token_hash_is_refused_with_a_token() {
    let key = es256();
    let (header, mut claims) = parts(&key);
    claims.as_object_mut().unwrap().remove("ath");
    let proof = sign(&key, &header, &claims);
    refused(&proof, &request(), "no ath");
    // Without an access token (a login's proof), none is needed.
    let login = ProofRequest::new("GET", URL).unwrap();
    assert!(DpopVerifier::default().verify(&proof, &login).is_ok());
}

#[test]
fn stale_and_future_proofs_are_refused() {
    let key = es256();
    for (iat, why) in [
        (json!(now() - 61), "61 s old"),
        (json!(now() + 10), "10 s ahead"),
        (json!("now"), "iat a string"),
        (json!(-1), "iat negative"),
        (Value::Null, "iat null"),
    ] {
        let (header, mut claims) = parts(&key);
        claims["iat"] = iat;
        refused(&sign(&key, &header, &claims), &request(), why);
    }
    let (header, mut claims) = parts(&key);
    claims.as_object_mut().unwrap().remove("iat");
    refused(&sign(&key, &header, &claims), &request(), "no iat");
    // Within the window: 50 s old, 3 s ahead.
    for iat in [now() - 50, now() + 3] {
        let (header, mut claims) = parts(&key);
        claims["iat"] = json!(iat);
        let proof = sign(&key, &header, &claims);
        assert!(DpopVerifier::default().verify(&proof, &request()).is_ok());
    }
    // A verifier allowing older proofs takes the 61-second-old one.
    let (header, mut claims) = parts(&key);
    claims["iat"] = json!(now() - 61);
    let lenient = DpopVerifier::builder()
        .max_age(std::time::Duration::from_secs(120))
        .build()
        .unwrap();
    assert!(
        lenient
            .verify(&sign(&key, &header, &claims), &request())
            .is_ok()
    );
}

#[test]
fn required_claims_must_be_there_as_strings() {
    let key = es256();
    for name in ["jti", "htm", "htu"] {
        let (header, mut claims) = parts(&key);
        claims.as_object_mut().unwrap().remove(name);
        refused(&sign(&key, &header, &claims), &request(), name);
        claims[name] = json!(7);
        refused(&sign(&key, &header, &claims), &request(), name);
    }
    let (header, mut claims) = parts(&key);
    claims["jti"] = json!("");
    refused(&sign(&key, &header, &claims), &request(), "empty jti");
    claims["jti"] = json!("j".repeat(257));
    refused(&sign(&key, &header, &claims), &request(), "jti over 256");
    claims["jti"] = json!(unique_id());
    claims["htu"] = json!("/v1/me");
    refused(&sign(&key, &header, &claims), &request(), "relative htu");
    claims["htu"] = json!(URL);
    claims["nonce"] = json!(1);
    refused(&sign(&key, &header, &claims), &request(), "nonce a number");
}

#[test]
fn the_type_must_be_dpop_jwt() {
    let key = es256();
    for typ in [json!("JWT"), json!("at+jwt"), Value::Null, json!(1)] {
        let (mut header, claims) = parts(&key);
        header["typ"] = typ.clone();
        refused(&sign(&key, &header, &claims), &request(), &typ.to_string());
    }
    let (mut header, claims) = parts(&key);
    header.as_object_mut().unwrap().remove("typ");
    refused(&sign(&key, &header, &claims), &request(), "no typ");
    // A media type's case and prefix do not matter (RFC 7515 §4.1.9).
    for typ in ["DPoP+JWT", "application/dpop+jwt"] {
        let (mut header, claims) = parts(&key);
        header["typ"] = json!(typ);
        let proof = sign(&key, &header, &claims);
        assert!(DpopVerifier::default().verify(&proof, &request()).is_ok());
    }
}

#[test]
fn unsigned_hmac_and_unlisted_algorithms_are_refused() {
    let key = es256();
    let (mut header, claims) = parts(&key);
    header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    refused(&unsigned, &request(), "alg none");
    // An HMAC proof "keyed" by a symmetric JWK it carries proves nothing.
    let secret = b"a-secret-of-at-least-thirty-two-bytes!";
    let hmac = SigningKey::hmac(Algorithm::HS256, secret).unwrap();
    let (_, claims) = parts(&key);
    let header = json!({
        "typ": "dpop+jwt", "alg": "HS256",
        "jwk": { "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret) },
    });
    refused(&sign(&hmac, &header, &claims), &request(), "HS256");
    // EdDSA, not among this verifier's algorithms.
    let ed = SigningKey::from_ed_pem(ed25519_key().private_pem).unwrap();
    let (header, claims) = parts(&ed);
    let proof = sign(&ed, &header, &claims);
    let only_es256 = DpopVerifier::builder()
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let error = only_es256.verify(&proof, &request()).unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::InvalidDpopProof);
    assert!(DpopVerifier::default().verify(&proof, &request()).is_ok());
}

#[test]
fn the_key_must_be_public_fit_the_algorithm_and_have_signed() {
    let key = es256();
    // A private key in the header: refused, even though it verifies.
    let (mut header, claims) = parts(&key);
    header["jwk"]["d"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
    refused(&sign(&key, &header, &claims), &request(), "jwk with d");
    let (mut header, claims) = parts(&key);
    header.as_object_mut().unwrap().remove("jwk");
    refused(&sign(&key, &header, &claims), &request(), "no jwk");
    let (mut header, claims) = parts(&key);
    header["jwk"] = json!("not an object");
    refused(&sign(&key, &header, &claims), &request(), "jwk a string");
    // Another key's jwk: the signature does not verify with it.
    let other = es256();
    let (mut header, claims) = parts(&key);
    header["jwk"] = other.public_jwk().unwrap();
    refused(&sign(&key, &header, &claims), &request(), "another key");
    // An Ed25519 jwk under ES256.
    let ed = SigningKey::from_ed_pem(ed25519_key().private_pem).unwrap();
    let (mut header, claims) = parts(&key);
    header["jwk"] = ed.public_jwk().unwrap();
    refused(
        &sign(&key, &header, &claims),
        &request(),
        "EdDSA jwk for ES256",
    );
    // A tampered signature.
    let (header, claims) = parts(&key);
    let proof = sign(&key, &header, &claims);
    let (input, signature) = proof.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes));
    refused(&tampered, &request(), "tampered signature");
}

#[test]
fn malformed_proofs_are_refused() {
    let key = es256();
    let (mut header, claims) = parts(&key);
    header["crit"] = json!(["exp"]);
    refused(&sign(&key, &header, &claims), &request(), "crit");
    // A member twice: two readers could see two different proofs.
    let (header, claims) = parts(&key);
    let text = claims.to_string();
    let doubled = text.replacen('{', r#"{"htu":"https://evil.example/v1/me","#, 1);
    let proof = key
        .sign_jws(header.to_string().as_bytes(), doubled.as_bytes())
        .unwrap();
    refused(&proof, &request(), "htu twice");
    for proof in [
        "",
        "a.b",
        "a.b.c.d",
        "!!.e30.e30",
        &format!("{}x", sign(&key, &header, &claims)),
        &"a".repeat(9 * 1024),
    ] {
        refused(proof, &request(), &format!("{:.20}", proof));
    }
}

#[test]
fn a_verifier_allows_asymmetric_algorithms_only() {
    for (algorithms, why) in [
        (vec![], "none"),
        (vec![Algorithm::ES256, Algorithm::HS256], "HS256"),
    ] {
        let error = DpopVerifier::builder()
            .algorithms(algorithms)
            .build()
            .expect_err(why);
        assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting, "{why}");
    }
    for max_age in [0, 601] {
        let error = DpopVerifier::builder()
            .max_age(std::time::Duration::from_secs(max_age))
            .build()
            .unwrap_err();
        assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting);
    }
    let error = DpopVerifier::builder()
        .leeway(std::time::Duration::from_secs(61))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting);
    // An algorithm named twice is allowed once.
    let verifier = DpopVerifier::builder()
        .algorithms([Algorithm::ES256, Algorithm::EdDSA, Algorithm::ES256])
        .build()
        .unwrap();
    assert_eq!(verifier.algorithms(), [Algorithm::ES256, Algorithm::EdDSA]);
}

#[tokio::test]
async fn a_dpop_credential_is_refused_by_a_pipeline_without_dpop() {
    use jwt_guard::auth::{Authenticator, Credential};
    use jwt_guard::{StandardClaims, Validator, VerifyingKey};

    let secret = b"a-secret-of-at-least-thirty-two-bytes!";
    let validator = Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, secret).unwrap())
        .build()
        .unwrap();
    let key = es256();
    let token = SigningKey::hmac(Algorithm::HS256, secret)
        .unwrap()
        .sign(
            "at+jwt",
            &json!({
                "sub": "alice", "exp": now() + 300, "jti": unique_id(),
                "cnf": { "jkt": key.thumbprint().unwrap() },
            }),
        )
        .unwrap();
    let (header, mut claims) = parts(&key);
    claims["ath"] = json!(ath(&token));
    let proof = sign(&key, &header, &claims);
    let credential = || Credential::dpop(&token, &proof, ProofRequest::new("GET", URL).unwrap());
    let without = Authenticator::<StandardClaims>::builder(validator.clone()).build();
    let error = without.authenticate(credential()).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::KeyBinding);
    let with = Authenticator::<StandardClaims>::builder(validator)
        .dpop(DpopVerifier::default())
        .build();
    let claims = with.authenticate(credential()).await.unwrap();
    assert_eq!(
        claims.registered().dpop_jkt(),
        Some(key.thumbprint().unwrap().as_str())
    );
}

#[test]
fn a_request_uri_that_is_not_http_is_an_invalid_request() {
    for uri in ["/v1/me", "ftp://api.example/x", "https://u@api.example/"] {
        let error = ProofRequest::new("GET", uri).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidRequest, "{uri}");
    }
}

/// A good proof for `GET URL` with [`TOKEN`].
fn proof() -> String {
    let key = es256();
    let (header, claims) = parts(&key);
    sign(&key, &header, &claims)
}

#[tokio::test]
async fn a_proof_is_accepted_once_then_refused_as_replayed() {
    let store = jwt_guard::store::MemoryStore::new();
    let verifier = DpopVerifier::default();
    let proof = proof();
    verifier
        .verify_once(&proof, &request(), &store)
        .await
        .unwrap();
    let error = verifier
        .verify_once(&proof, &request(), &store)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::InvalidDpopProof);
    assert_eq!(error.description(), "the DPoP proof was used before");
    // Another proof of the same key and request is another use.
    verifier
        .verify_once(&self::proof(), &request(), &store)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_store_without_a_replay_cache_refuses_with_503() {
    /// A store that implements only what it must.
    struct Bare;
    impl jwt_guard::store::RevocationStore for Bare {
        fn check(&self, _: &jwt_guard::store::TokenRef<'_>) -> jwt_guard::store::Lookup {
            jwt_guard::store::Lookup::Ready(Ok(jwt_guard::store::TokenStatus::Active))
        }
        fn revoke_token<'a>(
            &'a self,
            _: &'a str,
            _: Option<&'a str>,
            _: std::time::SystemTime,
        ) -> jwt_guard::store::BoxFuture<'a, Result<(), jwt_guard::store::StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn revoke_subject<'a>(
            &'a self,
            _: &'a str,
            _: std::time::SystemTime,
        ) -> jwt_guard::store::BoxFuture<'a, Result<(), jwt_guard::store::StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }
    let error = DpopVerifier::default()
        .verify_once(&proof(), &request(), &Bare)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::StoreUnavailable);
    assert_eq!(error.status(), 503);
}

#[cfg(feature = "redis")]
mod in_redis {
    use std::time::{Duration, Instant};

    use jwt_guard::store::redis::{RedisConfig, RedisStore};

    use super::*;
    use crate::support::redis::{RedisCluster, RedisServer};

    async fn ready(config: RedisConfig) -> RedisStore {
        let store = RedisStore::new(config).unwrap();
        store.ready(Duration::from_secs(15)).await.unwrap();
        store
    }

    /// A proof used on one instance is refused on the other, and on the
    /// first again.
    async fn replay_is_refused_across(a: &RedisStore, b: &RedisStore) {
        let verifier = DpopVerifier::default();
        for (first, second) in [(a, b), (b, a)] {
            let proof = proof();
            verifier
                .verify_once(&proof, &request(), first)
                .await
                .unwrap();
            for store in [second, first] {
                let error = verifier
                    .verify_once(&proof, &request(), store)
                    .await
                    .unwrap_err();
                assert_eq!(error.kind(), AuthErrorKind::InvalidDpopProof);
            }
        }
    }

    #[tokio::test]
    async fn a_proof_replayed_to_another_instance_is_refused() {
        let redis = RedisServer::start();
        let a = ready(RedisConfig::url(redis.url())).await;
        let b = ready(RedisConfig::url(redis.url()).direct(true)).await;
        replay_is_refused_across(&a, &b).await;
        // The entry lives as long as the proof could be accepted, no longer.
        let keys = redis.cli(&["--scan", "--pattern", "*d:*"]);
        let key = keys.lines().next().expect("a proof key");
        let ttl: u64 = redis.cli(&["PTTL", key]).trim().parse().unwrap();
        let window = DpopVerifier::default().replay_window();
        assert!(
            ttl <= window.as_millis() as u64 && ttl > window.as_millis() as u64 - 5_000,
            "{ttl} ms"
        );
    }

    #[tokio::test]
    async fn a_proof_replayed_on_a_cluster_is_refused() {
        let cluster = RedisCluster::start(3);
        let a = ready(RedisConfig::cluster(cluster.urls())).await;
        let b = ready(RedisConfig::cluster(cluster.urls()).direct(true)).await;
        replay_is_refused_across(&a, &b).await;
    }

    #[tokio::test]
    async fn with_redis_down_a_proof_is_refused_with_503_fast() {
        let redis = RedisServer::start();
        let store = ready(RedisConfig::url(redis.url())).await;
        redis.kill();
        let start = Instant::now();
        let error = DpopVerifier::default()
            .verify_once(&proof(), &request(), &store)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::StoreUnavailable);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
}

/// The layer over real HTTP: `Authorization: DPoP` with a `DPoP` proof.
#[cfg(feature = "axum")]
mod over_http {
    use axum::Router;
    use axum::routing::get;
    use jwt_guard::store::MemoryStore;
    use jwt_guard::{Claims, JwtLayer, StandardClaims, Validator, VerifyingKey};
    use reqwest::StatusCode;
    use reqwest::header::WWW_AUTHENTICATE;

    use super::*;
    use crate::support::{client, serve};

    const SECRET: &[u8] = b"dpop-test-secret-0123456789abcdef-0123";

    /// An access token, bound to `key` when given.
    fn access_token(key: Option<&SigningKey>) -> String {
        let mut claims = json!({
            "sub": "alice", "iss": "issuer", "exp": now() + 300, "iat": now(), "jti": unique_id(),
        });
        if let Some(key) = key {
            claims["cnf"] = json!({ "jkt": key.thumbprint().unwrap() });
        }
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .sign("at+jwt", &claims)
            .unwrap()
    }

    /// A proof by `key` for `method url` with `token`.
    fn proof_for(key: &SigningKey, method: &str, url: &str, token: &str) -> String {
        let (header, mut claims) = parts(key);
        claims["htm"] = json!(method);
        claims["htu"] = json!(url);
        claims["ath"] = json!(ath(token));
        sign(key, &header, &claims)
    }

    async fn me(claims: Claims<StandardClaims>) -> String {
        let bound = claims.registered().dpop_jkt().is_some();
        format!("{} {bound}", claims.sub)
    }

    /// `/v1/me` (nested under `/v1`) behind a layer taking DPoP, required
    /// or not; the base URL.
    async fn service(required: bool) -> String {
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .issuer("issuer")
            .build()
            .unwrap();
        let layer = JwtLayer::<StandardClaims>::builder(validator)
            .store(MemoryStore::new())
            .dpop(DpopVerifier::default())
            .dpop_required(required)
            .build();
        let api = Router::new().route("/me", get(me)).layer(layer);
        serve(Router::new().nest("/v1", api)).await
    }

    async fn get_with(url: &str, authorization: &str, proofs: &[&str]) -> reqwest::Response {
        let mut request = client().get(url).header("authorization", authorization);
        for proof in proofs {
            request = request.header("dpop", *proof);
        }
        request.send().await.unwrap()
    }

    fn challenges(response: &reqwest::Response) -> Vec<String> {
        response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// Asserts a 401 with `error` in the body and a challenge of `scheme`
    /// carrying it; the body and headers repeat no token or proof.
    async fn refused(response: reqwest::Response, error: &str, scheme: &str, secrets: &[&str]) {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenges = challenges(&response);
        assert!(
            challenges
                .iter()
                .any(|c| c.starts_with(scheme) && c.contains(&format!("error=\"{error}\""))),
            "{challenges:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{body}");
        let text = format!("{body} {challenges:?}");
        for secret in secrets {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[tokio::test]
    async fn a_bound_token_with_its_proof_passes_once() {
        let base = service(false).await;
        let url = format!("{base}/v1/me");
        let key = es256();
        let token = access_token(Some(&key));
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "alice true");
        // The same proof again: a replay.
        let response = get_with(&url, &format!("DPoP {token}"), &[&proof]).await;
        refused(response, "invalid_dpop_proof", "DPoP", &[&token, &proof]).await;
        // A fresh proof: passes again.
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("dpop {token}"), &[&proof]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_bound_token_sent_as_bearer_is_refused() {
        let base = service(false).await;
        let url = format!("{base}/v1/me");
        let key = es256();
        let token = access_token(Some(&key));
        let response = get_with(&url, &format!("Bearer {token}"), &[]).await;
        refused(response, "invalid_token", "Bearer", &[&token]).await;
        // Even with a good proof beside it.
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("Bearer {token}"), &[&proof]).await;
        refused(response, "invalid_token", "Bearer", &[&token]).await;
        // An unbound token still passes as a bearer token where DPoP is
        // only allowed, with both challenges offered on refusals.
        let plain = access_token(None);
        let response = get_with(&url, &format!("Bearer {plain}"), &[]).await;
        assert_eq!(response.text().await.unwrap(), "alice false");
        let response = client().get(&url).send().await.unwrap();
        let challenges = challenges(&response);
        assert!(challenges[0].starts_with("Bearer realm="), "{challenges:?}");
        assert!(
            challenges[1].starts_with("DPoP realm=")
                && challenges[1].contains("algs=\"ES256 ")
                && challenges[1].contains(" EdDSA ")
                && challenges[1].contains(" Ed25519\""),
            "{challenges:?}"
        );
    }

    #[tokio::test]
    async fn a_proof_for_another_request_key_or_token_is_refused() {
        let base = service(false).await;
        let url = format!("{base}/v1/me");
        let key = es256();
        let token = access_token(Some(&key));
        let other_key = es256();
        for (proof, why) in [
            (proof_for(&key, "POST", &url, &token), "another method"),
            (
                proof_for(&key, "GET", &format!("{base}/v1/admin"), &token),
                "another URL",
            ),
            (
                proof_for(&key, "GET", &format!("{base}/me"), &token),
                "the path without the nest",
            ),
            (
                proof_for(&key, "GET", &url, &access_token(Some(&key))),
                "another token",
            ),
            (proof_for(&other_key, "GET", &url, &token), "another key"),
        ] {
            let response = get_with(&url, &format!("DPoP {token}"), &[&proof]).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
            refused(response, "invalid_dpop_proof", "DPoP", &[&token, &proof]).await;
        }
        // No proof, or two.
        let response = get_with(&url, &format!("DPoP {token}"), &[]).await;
        refused(response, "invalid_dpop_proof", "DPoP", &[&token]).await;
        let (a, b) = (
            proof_for(&key, "GET", &url, &token),
            proof_for(&key, "GET", &url, &token),
        );
        let response = get_with(&url, &format!("DPoP {token}"), &[&a, &b]).await;
        refused(response, "invalid_dpop_proof", "DPoP", &[&token, &a]).await;
        // The query is no part of what a proof names.
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(
            &format!("{url}?page=2"),
            &format!("DPoP {token}"),
            &[&proof],
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_unbound_token_with_the_dpop_scheme_is_refused() {
        let base = service(false).await;
        let url = format!("{base}/v1/me");
        let key = es256();
        let token = access_token(None);
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("DPoP {token}"), &[&proof]).await;
        refused(response, "invalid_token", "Bearer", &[&token, &proof]).await;
    }

    #[tokio::test]
    async fn where_dpop_is_required_a_bearer_token_is_refused_with_the_dpop_challenge() {
        let base = service(true).await;
        let url = format!("{base}/v1/me");
        let token = access_token(None);
        let response = get_with(&url, &format!("Bearer {token}"), &[]).await;
        let challenges = challenges(&response);
        assert_eq!(challenges.len(), 1, "{challenges:?}");
        refused(response, "invalid_token", "DPoP realm=", &[&token]).await;
        let key = es256();
        let token = access_token(Some(&key));
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn behind_a_proxy_the_public_origin_is_what_a_proof_names() {
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap();
        let layer = JwtLayer::<StandardClaims>::builder(validator)
            .dpop_public_origin(http::uri::Scheme::HTTPS, "api.example".parse().unwrap())
            .dpop(DpopVerifier::default())
            .build();
        let base = serve(Router::new().route("/me", get(me)).layer(layer)).await;
        let url = format!("{base}/me");
        let key = es256();
        let token = access_token(Some(&key));
        let public = proof_for(&key, "GET", "https://api.example/me", &token);
        let response = get_with(&url, &format!("DPoP {token}"), &[&public]).await;
        assert_eq!(response.status(), StatusCode::OK);
        // The URI the request itself names is not the public one.
        let local = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("DPoP {token}"), &[&local]).await;
        refused(response, "invalid_dpop_proof", "DPoP", &[&token, &local]).await;
    }

    #[tokio::test]
    async fn a_host_header_cannot_move_the_path_a_proof_names() {
        let base = service(false).await;
        let host = base.trim_start_matches("http://").to_owned();
        let key = es256();
        let token = access_token(Some(&key));
        // A proof for `/`, sent to `/v1/me` with a Host that would cut the
        // path off (`…?`), or put another in front of it (`…/x`).
        for (forged_host, names) in [
            (format!("{host}?"), format!("http://{host}/")),
            (format!("{host}#"), format!("http://{host}/")),
            (format!("{host}/x"), format!("http://{host}/x/v1/me")),
        ] {
            let proof = proof_for(&key, "GET", &names, &token);
            let response = client()
                .get(format!("{base}/v1/me"))
                .header("host", &forged_host)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", &proof)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "Host: {forged_host}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{body}");
        }
    }

    /// A layer trusting `proxies`' forwarded headers; its base URL (served
    /// with the connection's address, as `dpop_trusted_proxies` asks).
    async fn behind(proxies: &[&str]) -> String {
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap();
        let layer = JwtLayer::<StandardClaims>::builder(validator)
            .dpop(DpopVerifier::default())
            .dpop_trusted_proxies(proxies.iter().map(|p| p.parse().unwrap()))
            .build();
        serve(Router::new().route("/me", get(me)).layer(layer)).await
    }

    async fn forwarded(
        url: &str,
        token: &str,
        proof: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = client()
            .get(url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    #[tokio::test]
    async fn forwarded_headers_name_the_uri_only_from_trusted_proxies() {
        let key = es256();
        let token = access_token(Some(&key));
        let public = "https://api.example/me";
        let headers = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "api.example"),
        ];

        // The test client connects from 127.0.0.1: a trusted proxy here.
        let base = behind(&["127.0.0.0/8"]).await;
        let url = format!("{base}/me");
        let proof = proof_for(&key, "GET", public, &token);
        let response = forwarded(&url, &token, &proof, &headers).await;
        assert_eq!(response.status(), StatusCode::OK);
        let local = proof_for(&key, "GET", &url, &token);
        let response = forwarded(&url, &token, &local, &headers).await;
        refused(response, "invalid_dpop_proof", "DPoP", &[&token, &local]).await;
        // Without the headers, the request's own URI.
        let local = proof_for(&key, "GET", &url, &token);
        assert_eq!(
            forwarded(&url, &token, &local, &[]).await.status(),
            StatusCode::OK
        );
        // Only the scheme forwarded: the request's own host.
        let host = url.trim_start_matches("http://");
        let https_local = proof_for(&key, "GET", &format!("https://{host}"), &token);
        let response = forwarded(&url, &token, &https_local, &headers[..1]).await;
        assert_eq!(response.status(), StatusCode::OK);
        // A proxy that appends to a client's header: which host is unknown.
        let proof = proof_for(&key, "GET", public, &token);
        let appended = [("x-forwarded-host", "evil.example, api.example")];
        let response = forwarded(&url, &token, &proof, &appended).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");

        // From an address no proxy has: the headers are the client's own
        // words, and ignored.
        let base = behind(&["10.0.0.0/8"]).await;
        let url = format!("{base}/me");
        let proof = proof_for(&key, "GET", public, &token);
        let response = forwarded(&url, &token, &proof, &headers).await;
        refused(response, "invalid_dpop_proof", "DPoP", &[&token, &proof]).await;
        let local = proof_for(&key, "GET", &url, &token);
        assert_eq!(
            forwarded(&url, &token, &local, &headers).await.status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn without_dpop_configured_the_scheme_is_not_taken_and_bound_tokens_are_refused() {
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap();
        let layer = JwtLayer::<StandardClaims>::new(validator);
        let base = serve(Router::new().route("/me", get(me)).layer(layer)).await;
        let url = format!("{base}/me");
        let key = es256();
        let token = access_token(Some(&key));
        let proof = proof_for(&key, "GET", &url, &token);
        let response = get_with(&url, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "no token taken: {body}");
        let response = get_with(&url, &format!("Bearer {token}"), &[]).await;
        refused(response, "invalid_token", "Bearer", &[&token]).await;
    }
}

/// Proofs made by panva's `dpop` (npm, `interop/node`), the library Node
/// clients make them with, against the layer over real HTTP: two instances
/// sharing one `redis-server`.
#[cfg(all(feature = "axum", feature = "redis"))]
mod from_node {
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use jwt_guard::store::redis::{RedisConfig, RedisStore};
    use jwt_guard::{Claims, JwtLayer, StandardClaims, Validator, VerifyingKey};
    use reqwest::StatusCode;

    use super::*;
    use crate::support::dpop;
    use crate::support::interop::{Driver, node, or_skip};
    use crate::support::redis::RedisServer;
    use crate::support::serve;

    const SECRET: &[u8] = b"dpop-node-secret-0123456789abcdef-0123";
    const ORIGIN: &str = "api.public.test";

    fn bound_token(jkt: &str) -> String {
        let claims = json!({
            "sub": "alice", "exp": now() + 300, "iat": now(), "jti": unique_id(),
            "cnf": { "jkt": jkt },
        });
        SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .sign("at+jwt", &claims)
            .unwrap()
    }

    async fn instance(redis: &RedisServer) -> String {
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap();
        let store = RedisStore::new(RedisConfig::url(redis.url())).unwrap();
        store.ready(Duration::from_secs(10)).await.unwrap();
        // Both instances behind one public origin, as behind a load
        // balancer: a proof names the same URL on either.
        let layer = JwtLayer::<StandardClaims>::builder(validator)
            .store(store)
            .dpop(DpopVerifier::default())
            .dpop_public_origin(http::uri::Scheme::HTTPS, ORIGIN.parse().unwrap())
            .build();
        let api = Router::new().route(
            "/me",
            get(|claims: Claims<StandardClaims>| async move { claims.sub.clone() }),
        );
        serve(Router::new().nest("/api", api.layer(layer))).await
    }

    fn proof(node: &mut Driver, key: &Value, htm: &str, htu: &str, token: &str) -> String {
        node.dpop_proof(key, (htm, htu), json!({ "access_token": token }))
    }

    #[tokio::test]
    async fn proofs_made_by_the_dpop_package_are_checked_on_every_instance() {
        let Some(mut node) = or_skip(node(), "dpop::from_node") else {
            return;
        };
        let versions = node.versions();
        let redis = RedisServer::start();
        let (a, b) = (instance(&redis).await, instance(&redis).await);
        let (me_a, me_b) = (format!("{a}/api/me"), format!("{b}/api/me"));
        let public = format!("https://{ORIGIN}/api/me");
        let refused = dpop::refused();
        for alg in ["ES256", "Ed25519", "PS256", "RS256"] {
            let key = node.dpop_key(alg);
            let token = bound_token(key["jkt"].as_str().unwrap());
            let bound = format!("DPoP {token}");
            // Accepted once; the same proof again is refused on this
            // instance and on the other (the replay cache is in Redis).
            let good = proof(&mut node, &key, "GET", &public, &token);
            assert_eq!(
                dpop::ask(&me_a, &bound, Some(&good)).await.0,
                StatusCode::OK,
                "{alg}"
            );
            assert_eq!(
                dpop::ask(&me_a, &bound, Some(&good)).await,
                refused,
                "{alg} replayed"
            );
            assert_eq!(
                dpop::ask(&me_b, &bound, Some(&good)).await,
                refused,
                "{alg} replayed on b"
            );
            let for_b = proof(&mut node, &key, "GET", &public, &token);
            assert_eq!(
                dpop::ask(&me_b, &bound, Some(&for_b)).await.0,
                StatusCode::OK,
                "{alg}"
            );
            // No proof, or the token as a bearer token.
            assert_eq!(
                dpop::ask(&me_a, &bound, None).await,
                refused,
                "{alg} no proof"
            );
            let (status, error, _) = dpop::ask(&me_a, &format!("Bearer {token}"), None).await;
            assert_eq!(
                (status, error),
                (StatusCode::UNAUTHORIZED, json!("invalid_token"))
            );
            // A proof for another method, URL (the listener's own address
            // among them) or token, or by another key.
            let other_key = node.dpop_key(alg);
            let other_url = format!("https://{ORIGIN}/api/other");
            for (proof, why) in [
                (proof(&mut node, &key, "POST", &public, &token), "method"),
                (proof(&mut node, &key, "GET", &other_url, &token), "URL"),
                (proof(&mut node, &key, "GET", &me_a, &token), "origin"),
                (
                    proof(&mut node, &key, "GET", &public, &bound_token("x")),
                    "token",
                ),
                (proof(&mut node, &other_key, "GET", &public, &token), "key"),
            ] {
                let answer = dpop::ask(&me_a, &bound, Some(&proof)).await;
                assert_eq!(answer, refused, "{alg}: a proof for another {why}");
            }
            eprintln!(
                "dpop: dpop {} {alg} proofs | checked on two instances: ok",
                versions["dpop"].as_str().unwrap_or("?")
            );
        }
    }
}

/// Server nonces (RFC 9449 §9) with proofs made by panva's `dpop`: a proof
/// without a current nonce is refused with `use_dpop_nonce` and a fresh
/// nonce in `DPoP-Nonce`, with which the client's next proof passes.
#[cfg(feature = "axum")]
mod nonces_from_node {
    use axum::Router;
    use axum::routing::get;
    use jwt_guard::dpop::DpopNonces;
    use jwt_guard::store::MemoryStore;
    use jwt_guard::{Claims, JwtLayer, StandardClaims, Validator, VerifyingKey};
    use reqwest::StatusCode;

    use super::*;
    use crate::support::interop::{node, or_skip};
    use crate::support::{client, serve};

    const SECRET: &[u8] = b"dpop-nonce-test-secret-0123456789abcdef";
    const NONCE_SECRET: &[u8] = b"the-instances-shared-nonce-secret-0123";

    #[tokio::test]
    async fn a_proof_without_a_current_nonce_gets_one_and_passes_with_it() {
        let Some(mut node) = or_skip(node(), "dpop::nonces_from_node") else {
            return;
        };
        let validator = Validator::builder()
            .key(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap();
        let verifier = DpopVerifier::builder()
            .nonces(DpopNonces::new(NONCE_SECRET).unwrap())
            .build()
            .unwrap();
        let layer = JwtLayer::<StandardClaims>::builder(validator)
            .store(MemoryStore::new())
            .dpop(verifier)
            .build();
        let api = Router::new().route(
            "/me",
            get(|claims: Claims<StandardClaims>| async move { claims.sub.clone() }),
        );
        let url = format!("{}/me", serve(api.layer(layer)).await);
        let key = node.dpop_key("ES256");
        let claims = json!({
            "sub": "alice", "exp": now() + 300, "iat": now(), "jti": unique_id(),
            "cnf": { "jkt": key["jkt"] },
        });
        let token = SigningKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .sign("at+jwt", &claims)
            .unwrap();
        let mut proof = |nonce: Option<&str>| {
            let options = json!({ "access_token": token, "nonce": nonce });
            node.dpop_proof(&key, ("GET", &url), options)
        };
        let send = async |proof: &str| {
            client()
                .get(&url)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .send()
                .await
                .unwrap()
        };
        // Asserts `use_dpop_nonce`; returns the nonce handed out.
        let needs_nonce = async |response: reqwest::Response| {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.starts_with("DPoP ") && challenge.contains(r#"error="use_dpop_nonce""#),
                "{challenge}"
            );
            let nonce = response.headers()["dpop-nonce"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "use_dpop_nonce");
            nonce
        };

        let nonce = needs_nonce(send(&proof(None)).await).await;
        assert_eq!(send(&proof(Some(&nonce))).await.status(), StatusCode::OK);
        // The nonce again, in a new proof: still current.
        assert_eq!(send(&proof(Some(&nonce))).await.status(), StatusCode::OK);
        // Another server's nonce, or a made-up one.
        let foreign = DpopNonces::new(b"another-deployments-secret-0123456789")
            .unwrap()
            .issue();
        needs_nonce(send(&proof(Some(&foreign))).await).await;
        needs_nonce(send(&proof(Some("made-up"))).await).await;
    }
}

/// The issuer binds a session to the key of the proof its login came with
/// (RFC 9449 §5): access tokens carry `cnf.jkt`, refresh tokens rotate
/// only with a proof of that key.
mod issuing {
    use jwt_guard::StandardClaims;
    use jwt_guard::dpop::VerifiedProof;
    use jwt_guard::issue::{Grant, IssueErrorKind, Issuer};
    use jwt_guard::store::MemoryStore;

    use super::*;

    const TOKEN_URL: &str = "https://auth.example/auth/refresh";

    fn issuer() -> Issuer {
        Issuer::builder()
            .signing_key(
                SigningKey::hmac(Algorithm::HS256, b"dpop-issuer-secret-0123456789abcdef").unwrap(),
            )
            .issuer("auth")
            .audience("api")
            .store(MemoryStore::new())
            .build()
            .unwrap()
    }

    /// A verified proof by `key` for `POST TOKEN_URL`, with no access token
    /// (a token endpoint).
    fn verified(key: &SigningKey) -> VerifiedProof {
        let (header, mut claims) = parts(key);
        claims["htm"] = json!("POST");
        claims["htu"] = json!(TOKEN_URL);
        claims.as_object_mut().unwrap().remove("ath");
        let request = ProofRequest::new("POST", TOKEN_URL).unwrap();
        DpopVerifier::default()
            .verify(&sign(key, &header, &claims), &request)
            .unwrap()
    }

    fn bound_key(issuer: &Issuer, access_token: &str) -> Option<String> {
        let validator = issuer.validator().build().unwrap();
        let verified = validator.validate::<StandardClaims>(access_token).unwrap();
        verified.registered().dpop_jkt().map(str::to_owned)
    }

    #[tokio::test]
    async fn a_login_with_a_proof_issues_tokens_bound_to_its_key() {
        let issuer = issuer();
        let key = es256();
        let login = issuer
            .issue(&Grant::new("alice").bind_to(&verified(&key)))
            .await
            .unwrap();
        assert_eq!(login.token_type(), "DPoP");
        assert_eq!(login.response().token_type, "DPoP");
        let jkt = key.thumbprint().unwrap();
        assert_eq!(
            bound_key(&issuer, login.access_token()).as_deref(),
            Some(jkt.as_str())
        );

        let refreshed = issuer
            .refresh_with_proof(login.refresh_token().as_str(), &verified(&key))
            .await
            .unwrap();
        assert_eq!(refreshed.token_type(), "DPoP");
        assert_eq!(
            bound_key(&issuer, refreshed.access_token()).as_deref(),
            Some(jkt.as_str())
        );

        // Without a proof, nothing changes.
        let plain = issuer.issue(&Grant::new("bob")).await.unwrap();
        assert_eq!(plain.token_type(), "Bearer");
        assert_eq!(bound_key(&issuer, plain.access_token()), None);
    }

    #[tokio::test]
    async fn a_bound_refresh_token_rotates_only_with_a_proof_of_its_key() {
        let issuer = issuer();
        let key = es256();
        let thief = SigningKey::from_ed_pem(ed25519_key().private_pem).unwrap();
        let login = issuer
            .issue(&Grant::new("alice").bind_to(&verified(&key)))
            .await
            .unwrap();
        let token = login.refresh_token().as_str();

        // Without a proof, or with another key's: unknown, and nothing spent.
        let error = issuer.refresh(token).await.unwrap_err();
        assert_eq!(error.kind(), IssueErrorKind::UnknownGrant);
        let error = issuer
            .refresh_with_proof(token, &verified(&thief))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), IssueErrorKind::UnknownGrant);
        let rotated = issuer
            .refresh_with_proof(token, &verified(&key))
            .await
            .expect("the holder of the key still rotates it");

        // The spent token again, with the key: reuse, the session revoked.
        let error = issuer
            .refresh_with_proof(token, &verified(&key))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), IssueErrorKind::ReusedGrant);
        let error = issuer
            .refresh_with_proof(rotated.refresh_token().as_str(), &verified(&key))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), IssueErrorKind::RevokedGrant);
    }

    #[tokio::test]
    async fn an_unbound_refresh_token_does_not_rotate_with_a_proof() {
        let issuer = issuer();
        let login = issuer.issue(&Grant::new("alice")).await.unwrap();
        let token = login.refresh_token().as_str();
        let error = issuer
            .refresh_with_proof(token, &verified(&es256()))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), IssueErrorKind::UnknownGrant);
        let refreshed = issuer.refresh(token).await.unwrap();
        assert_eq!(refreshed.token_type(), "Bearer");
    }

    #[tokio::test]
    async fn a_grant_cannot_set_the_confirmation_claim_itself() {
        let grant = Grant::new("alice").claim("cnf", json!({ "jkt": "someone-else" }));
        let error = issuer().issue(&grant).await.unwrap_err();
        assert_eq!(error.kind(), IssueErrorKind::InvalidClaims);
    }
}

/// DPoP over gRPC: the same layer wraps a tonic server, and a real tonic
/// client sends `authorization: DPoP <token>` and `dpop: <proof>` metadata.
/// A gRPC call is an HTTP/2 `POST` of `/package.Service/Method`: that is
/// the `htm` and the `htu`'s path, the channel's `:authority` its
/// authority. Proofs made by panva's `dpop` package (Node).
#[cfg(feature = "tonic")]
mod over_grpc {
    use jwt_guard::store::MemoryStore;
    use jwt_guard::{JwtLayer, StandardClaims};
    use tonic::Code;
    use tonic::transport::{Channel, Server};
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;
    use crate::support::interop::{Driver, node, or_skip};
    use crate::support::{claims, mint, validator};

    const CHECK: &str = "/grpc.health.v1.Health/Check";

    /// The health service behind a layer taking DPoP; its URL.
    async fn serve() -> String {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let layer = JwtLayer::<StandardClaims>::builder(validator())
            .store(MemoryStore::new())
            .dpop(DpopVerifier::default())
            .build();
        tokio::spawn(async move {
            Server::builder()
                .layer(layer)
                .add_service(health)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        url
    }

    async fn check(
        channel: &Channel,
        authorization: &str,
        proof: Option<&str>,
    ) -> Result<(), tonic::Status> {
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        });
        let metadata = request.metadata_mut();
        metadata.insert("authorization", authorization.parse().unwrap());
        if let Some(proof) = proof {
            metadata.insert("dpop", proof.parse().unwrap());
        }
        HealthClient::new(channel.clone())
            .check(request)
            .await
            .map(drop)
    }

    fn proof(node: &mut Driver, key: &Value, htm: &str, htu: &str, token: &str) -> String {
        node.dpop_proof(key, (htm, htu), json!({ "access_token": token }))
    }

    /// A refusal: UNAUTHENTICATED, with a DPoP challenge in its metadata,
    /// and nothing of the token or the proof.
    fn assert_refused(
        result: Result<(), tonic::Status>,
        token: &str,
        proof: Option<&str>,
        why: &str,
    ) {
        let status = result.expect_err(why);
        assert_eq!(status.code(), Code::Unauthenticated, "{why}: {status:?}");
        let challenge = status
            .metadata()
            .get("www-authenticate")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(challenge.contains("DPoP"), "{why}: {challenge}");
        let shown = format!("{status:?}");
        for secret in [Some(token), proof].into_iter().flatten() {
            assert!(
                !shown.contains(secret.rsplit('.').next().unwrap()),
                "{why}: {shown}"
            );
        }
    }

    #[tokio::test]
    async fn a_bound_token_passes_a_grpc_call_only_with_its_proof() {
        let Some(mut node) = or_skip(node(), "dpop::over_grpc") else {
            return;
        };
        let url = serve().await;
        let channel = Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let key = node.dpop_key("ES256");
        let mut bound = claims("svc", &[]);
        bound["cnf"] = json!({ "jkt": key["jkt"] });
        let token = mint(&bound);
        let dpop = format!("DPoP {token}");
        let htu = format!("{url}{CHECK}");

        let good = proof(&mut node, &key, "POST", &htu, &token);
        check(&channel, &dpop, Some(&good))
            .await
            .expect("a good proof");
        assert_refused(
            check(&channel, &dpop, Some(&good)).await,
            &token,
            Some(&good),
            "replayed",
        );
        assert_refused(check(&channel, &dpop, None).await, &token, None, "no proof");
        let get = proof(&mut node, &key, "GET", &htu, &token);
        assert_refused(
            check(&channel, &dpop, Some(&get)).await,
            &token,
            Some(&get),
            "GET",
        );
        let other = proof(
            &mut node,
            &key,
            "POST",
            &format!("{url}/grpc.health.v1.Health/Watch"),
            &token,
        );
        assert_refused(
            check(&channel, &dpop, Some(&other)).await,
            &token,
            Some(&other),
            "another method",
        );
        let bearer = check(&channel, &format!("Bearer {token}"), None)
            .await
            .unwrap_err();
        assert_eq!(bearer.code(), Code::Unauthenticated);
        assert!(!format!("{bearer:?}").contains(token.rsplit('.').next().unwrap()));
    }
}
