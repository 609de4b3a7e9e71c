//! Per-request, in-process cost of jwt-guard next to its peers.
//!
//! Groups:
//!
//! - `request/*`: one GET `/` through an axum `Router`, driven as a tower
//!   `Service` (no sockets, no hyper). Every contender gets the same request
//!   (built the same way each iteration), the same HS256 token and the same
//!   harness (`Router::clone` + `ServiceExt::oneshot` on a current-thread tokio
//!   runtime), so the difference is the auth layer / extractor.
//!   - `request/bare`: no auth at all (the floor).
//!   - `request/jwt-guard`: `JwtLayer` + `Claims` extractor, in-memory revocation
//!     store, default settings (verified-token cache on: with one token, every
//!     request after the first is a cache hit).
//!   - `request/jwt-guard-nocache`: the same with `token_cache_bytes(0)`, so the
//!     signature and parse are paid on every request, as the peers do.
//!   - `request/jwt-authorizer`: jwt-authorizer 0.15 layer + `JwtClaims` on axum 0.7.
//!   - `request/axum-jwt-auth`: axum-jwt-auth 0.7 `Claims` extractor (it has no layer).
//! - `verify/*`: signature + claims check only, no HTTP.
//!   - `verify/jwt-guard/{HS256,RS256,ES256,EdDSA}`: `Validator::validate`.
//!   - `verify/jsonwebtoken/{...}`: plain `jsonwebtoken::decode` (v11, aws-lc-rs),
//!     as a floor for what jwt-guard adds on top of the library it builds on.
//!
//! Tokens and keys are minted at start-up (never stored). Before anything is
//! measured, every contender is checked: 200 (and the expected body) for the
//! valid token, 401 for a token signed with another key and for garbage.

use std::convert::Infallible;
use std::fmt::Debug;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::KeyPair as _;
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

/// HMAC secret shared by every HS256 contender. ASCII because jwt-authorizer
/// only takes the secret as `&str`; 46 bytes (jwt-guard wants >= 32).
const SECRET: &str = "jwt-guard-peers/bench/hs256-secret/0123456789";
/// A different secret, to mint a well-formed token that must be refused.
const OTHER_SECRET: &str = "jwt-guard-peers/bench/other-secret/0123456789";
const ISSUER: &str = "bench";
const AUDIENCE: &str = "bench-api";
const SUBJECT: &str = "bench-user";
/// Not a JWT at all.
const GARBAGE: &str = "Bearer not-a-jwt";

// ---------------------------------------------------------------------------
// Claims and minting
// ---------------------------------------------------------------------------

/// The claims of every bench token. The peers deserialize into this type; its
/// fields are not `Option`, so a token missing any of them is refused at
/// deserialization (the peers' validators cannot all require `iss`, `aud`,
/// `iat`, `jti` to be present).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BenchClaims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: String,
    roles: Vec<String>,
}

fn bench_claims() -> BenchClaims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    BenchClaims {
        sub: SUBJECT.to_owned(),
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: format!("bench-{now}"),
        roles: vec!["user".to_owned()],
    }
}

fn mint(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey) -> String {
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &bench_claims(), key).expect("mint token")
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).expect("header value")
}

/// One signing algorithm's material: a private key to mint with, the public key
/// as a PEM (SPKI "PUBLIC KEY"), and a token minted with it.
struct KeyMaterial {
    name: &'static str,
    alg: jsonwebtoken::Algorithm,
    /// PEM of the public key (for asymmetric algorithms) or the raw secret (HS256).
    verify_key: Vec<u8>,
    token: String,
}

fn pem(tag: &str, der: &[u8]) -> Vec<u8> {
    pem::encode(&pem::Pem::new(tag, der.to_vec())).into_bytes()
}

fn hs256_material() -> KeyMaterial {
    let alg = jsonwebtoken::Algorithm::HS256;
    let token = mint(
        alg,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    );
    KeyMaterial {
        name: "HS256",
        alg,
        verify_key: SECRET.as_bytes().to_vec(),
        token,
    }
}

fn rs256_material() -> KeyMaterial {
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen");
    let private: Pkcs8V1Der<'static> = pair.as_der().expect("rsa pkcs8");
    let public = pair.public_key().as_der().expect("rsa spki");
    let alg = jsonwebtoken::Algorithm::RS256;
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(&pem("PRIVATE KEY", private.as_ref()))
        .expect("rsa pem");
    KeyMaterial {
        name: "RS256",
        alg,
        verify_key: pem("PUBLIC KEY", public.as_ref()),
        token: mint(alg, &signing),
    }
}

fn es256_material() -> KeyMaterial {
    let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .expect("p256 keygen");
    let private = pair.to_pkcs8v1().expect("p256 pkcs8");
    let public = pair.public_key().as_der().expect("p256 spki");
    let alg = jsonwebtoken::Algorithm::ES256;
    let signing = jsonwebtoken::EncodingKey::from_ec_pem(&pem("PRIVATE KEY", private.as_ref()))
        .expect("ec pem");
    KeyMaterial {
        name: "ES256",
        alg,
        verify_key: pem("PUBLIC KEY", public.as_ref()),
        token: mint(alg, &signing),
    }
}

fn eddsa_material() -> KeyMaterial {
    let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().expect("ed25519 keygen");
    let private = pair.to_pkcs8v1().expect("ed25519 pkcs8");
    let public = pair.public_key().as_der().expect("ed25519 spki");
    let alg = jsonwebtoken::Algorithm::EdDSA;
    let signing = jsonwebtoken::EncodingKey::from_ed_pem(&pem("PRIVATE KEY", private.as_ref()))
        .expect("ed pem");
    KeyMaterial {
        name: "EdDSA",
        alg,
        verify_key: pem("PUBLIC KEY", public.as_ref()),
        token: mint(alg, &signing),
    }
}

// ---------------------------------------------------------------------------
// Harness shared by every request contender
// ---------------------------------------------------------------------------

/// The one request every contender gets: `GET /`, empty body, optional
/// `Authorization` header. Generic over the body type only because axum 0.7
/// and 0.8 have distinct `Body` types; the construction is identical.
fn request<B: Default>(authorization: Option<&HeaderValue>) -> Request<B> {
    let mut req = Request::new(B::default());
    *req.uri_mut() = Uri::from_static("/");
    if let Some(value) = authorization {
        req.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    req
}

/// Sends one request and returns the status and the collected body.
async fn send<S, B, RB>(svc: &S, authorization: Option<&HeaderValue>) -> (StatusCode, Bytes)
where
    S: Service<Request<B>, Response = Response<RB>, Error = Infallible> + Clone,
    B: Default,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: Debug,
{
    let resp = svc
        .clone()
        .oneshot(request::<B>(authorization))
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

/// Refuses to benchmark a contender that does not accept the valid token and
/// refuse the bad ones, so the bench never silently measures a rejection.
fn check<S, B, RB>(rt: &Runtime, name: &str, svc: &S, valid: &HeaderValue, expect_auth: bool)
where
    S: Service<Request<B>, Response = Response<RB>, Error = Infallible> + Clone,
    B: Default,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: Debug,
{
    rt.block_on(async {
        let (status, body) = send(svc, Some(valid)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{name}: valid token refused (body {body:?})"
        );
        assert_eq!(body, SUBJECT.as_bytes(), "{name}: unexpected body");
        if !expect_auth {
            return;
        }
        let forged = bearer(&mint(
            jsonwebtoken::Algorithm::HS256,
            &jsonwebtoken::EncodingKey::from_secret(OTHER_SECRET.as_bytes()),
        ));
        let garbage = HeaderValue::from_static(GARBAGE);
        for (what, header) in [
            ("wrong-key token", Some(&forged)),
            ("garbage token", Some(&garbage)),
            ("no token", None),
        ] {
            let (status, body) = send(svc, header).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{name}: {what} got {status} (body {body:?})"
            );
        }
    });
}

/// Registers one contender: per iteration, clone the router (an `Arc` bump),
/// build the request, `oneshot` it, drop the response.
fn bench_service<S, B, RB>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    id: &str,
    svc: S,
    authorization: Option<HeaderValue>,
) where
    S: Service<Request<B>, Response = Response<RB>, Error = Infallible> + Clone,
    B: Default,
{
    group.bench_function(id, |b| {
        b.to_async(rt).iter(|| {
            let svc = svc.clone();
            let req = request::<B>(authorization.as_ref());
            async move { black_box(svc.oneshot(req).await.unwrap()) }
        })
    });
}

// ---------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------

fn bare_router() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { SUBJECT }))
}

fn jwt_guard_hs256_validator() -> jwt_guard::Validator {
    jwt_guard_validator(
        jwt_guard::Key::hmac(jwt_guard::Algorithm::HS256, SECRET.as_bytes())
            .expect("jwt-guard hmac key"),
    )
}

fn jwt_guard_validator(key: jwt_guard::Key) -> jwt_guard::Validator {
    jwt_guard::Validator::builder()
        .key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("jwt-guard validator")
}

/// jwt-guard's layer + `Claims` extractor with an in-memory revocation store.
/// `token_cache_bytes`: `None` keeps the default verified-token cache (16 MiB),
/// so with one token every request after the first is a cache hit (signature
/// and parse skipped; time claims and revocation still checked); `Some(0)`
/// turns the cache off, so every request pays the full verification like the
/// peers do.
fn jwt_guard_router(token_cache_bytes: Option<usize>) -> axum::Router {
    use jwt_guard::{Claims, JwtLayer, StandardClaims, store::MemoryStore};

    let mut builder =
        JwtLayer::<StandardClaims>::builder(jwt_guard_hs256_validator()).store(MemoryStore::new());
    if let Some(bytes) = token_cache_bytes {
        builder = builder.token_cache_bytes(bytes);
    }
    let layer = builder.build();
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|c: Claims<StandardClaims>| async move { c.sub.clone() }),
        )
        .layer(layer)
}

/// jwt-authorizer 0.15 on axum 0.7. Strictest it allows: HS256 only, `iss` and
/// `aud` pinned, `exp` required and checked, `nbf` checked, no leeway. It cannot
/// require `iss`/`aud`/`nbf` to be present (its `Validation` only ever requires
/// `exp`); `BenchClaims` does that at deserialization.
fn jwt_authorizer_router(rt: &Runtime) -> axum07::Router {
    use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, Validation};

    let validation = Validation::new()
        .iss(&[ISSUER])
        .aud(&[AUDIENCE])
        .exp(true)
        .nbf(true)
        .leeway(0)
        .algs(vec![jsonwebtoken9::Algorithm::HS256]);
    let authorizer: Authorizer<BenchClaims> = rt
        .block_on(
            JwtAuthorizer::from_secret(SECRET)
                .validation(validation)
                .build(),
        )
        .expect("jwt-authorizer");
    axum07::Router::new()
        .route(
            "/",
            axum07::routing::get(|JwtClaims(c): JwtClaims<BenchClaims>| async move { c.sub }),
        )
        .layer(authorizer.into_layer())
}

/// axum-jwt-auth 0.7 (an extractor over a `LocalDecoder`, no layer). It takes a
/// raw jsonwebtoken 10 `Validation`, so everything jsonwebtoken can check is on.
fn axum_jwt_auth_router() -> axum::Router {
    use axum_jwt_auth::{Claims, Decoder, LocalDecoder};
    use jsonwebtoken10 as jwt10;

    let mut validation = jwt10::Validation::new(jwt10::Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.leeway = 0;
    let decoder = LocalDecoder::builder()
        .keys(vec![jwt10::DecodingKey::from_secret(SECRET.as_bytes())])
        .validation(validation)
        .build()
        .expect("axum-jwt-auth decoder");
    let decoder: Decoder<BenchClaims> = Arc::new(decoder);
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|c: Claims<BenchClaims>| async move { c.claims.sub }),
        )
        .with_state(decoder)
}

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn install_crypto_provider() {
    // jsonwebtoken 11 panics at first use when both of its backends end up
    // enabled through feature unification; pin aws-lc-rs (jwt-guard's default).
    // An error only means a provider is installed already.
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}

fn requests(c: &mut Criterion) {
    install_crypto_provider();
    let rt = runtime();
    let hs256 = hs256_material();
    let valid = bearer(&hs256.token);

    let bare = bare_router();
    let jwt_guard = jwt_guard_router(None);
    let jwt_guard_nocache = jwt_guard_router(Some(0));
    let jwt_authorizer = jwt_authorizer_router(&rt);
    let axum_jwt_auth = axum_jwt_auth_router();

    check::<_, axum::body::Body, _>(&rt, "bare", &bare, &valid, false);
    check::<_, axum::body::Body, _>(&rt, "jwt-guard", &jwt_guard, &valid, true);
    check::<_, axum::body::Body, _>(&rt, "jwt-guard-nocache", &jwt_guard_nocache, &valid, true);
    check::<_, axum07::body::Body, _>(&rt, "jwt-authorizer", &jwt_authorizer, &valid, true);
    check::<_, axum::body::Body, _>(&rt, "axum-jwt-auth", &axum_jwt_auth, &valid, true);

    let mut group = c.benchmark_group("request");
    bench_service::<_, axum::body::Body, _>(&mut group, &rt, "bare", bare, Some(valid.clone()));
    bench_service::<_, axum::body::Body, _>(
        &mut group,
        &rt,
        "jwt-guard",
        jwt_guard,
        Some(valid.clone()),
    );
    bench_service::<_, axum::body::Body, _>(
        &mut group,
        &rt,
        "jwt-guard-nocache",
        jwt_guard_nocache,
        Some(valid.clone()),
    );
    bench_service::<_, axum07::body::Body, _>(
        &mut group,
        &rt,
        "jwt-authorizer",
        jwt_authorizer,
        Some(valid.clone()),
    );
    bench_service::<_, axum::body::Body, _>(
        &mut group,
        &rt,
        "axum-jwt-auth",
        axum_jwt_auth,
        Some(valid),
    );
    group.finish();
}

fn verify(c: &mut Criterion) {
    install_crypto_provider();
    let materials = [
        hs256_material(),
        rs256_material(),
        es256_material(),
        eddsa_material(),
    ];

    let mut group = c.benchmark_group("verify");
    for m in &materials {
        // jwt-guard
        let key = match m.alg {
            jsonwebtoken::Algorithm::HS256 => {
                jwt_guard::Key::hmac(jwt_guard::Algorithm::HS256, &m.verify_key)
            }
            jsonwebtoken::Algorithm::RS256 => {
                jwt_guard::Key::from_rsa_pem(jwt_guard::Algorithm::RS256, &m.verify_key)
            }
            jsonwebtoken::Algorithm::ES256 => {
                jwt_guard::Key::from_ec_pem(jwt_guard::Algorithm::ES256, &m.verify_key)
            }
            jsonwebtoken::Algorithm::EdDSA => jwt_guard::Key::from_ed_pem(&m.verify_key),
            other => unreachable!("no bench key for {other:?}"),
        }
        .expect("jwt-guard key");
        let validator = jwt_guard_validator(key);
        validator
            .validate::<jwt_guard::StandardClaims>(&m.token)
            .unwrap_or_else(|e| panic!("jwt-guard refused the {} token: {e:?}", m.name));
        assert!(
            validator
                .validate::<jwt_guard::StandardClaims>("not-a-jwt")
                .is_err()
        );
        group.bench_function(format!("jwt-guard/{}", m.name), |b| {
            b.iter(|| validator.validate::<jwt_guard::StandardClaims>(black_box(&m.token)))
        });

        // plain jsonwebtoken 11, same checks, as the floor
        let decoding = match m.alg {
            jsonwebtoken::Algorithm::HS256 => jsonwebtoken::DecodingKey::from_secret(&m.verify_key),
            jsonwebtoken::Algorithm::RS256 => {
                jsonwebtoken::DecodingKey::from_rsa_pem(&m.verify_key).expect("rsa")
            }
            jsonwebtoken::Algorithm::ES256 => {
                jsonwebtoken::DecodingKey::from_ec_pem(&m.verify_key).expect("ec")
            }
            jsonwebtoken::Algorithm::EdDSA => {
                jsonwebtoken::DecodingKey::from_ed_pem(&m.verify_key).expect("ed")
            }
            other => unreachable!("no bench key for {other:?}"),
        };
        let mut validation = jsonwebtoken::Validation::new(m.alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        jsonwebtoken::decode::<BenchClaims>(&m.token, &decoding, &validation)
            .unwrap_or_else(|e| panic!("jsonwebtoken refused the {} token: {e}", m.name));
        group.bench_function(format!("jsonwebtoken/{}", m.name), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<BenchClaims>(black_box(&m.token), &decoding, &validation)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, requests, verify);
criterion_main!(benches);
