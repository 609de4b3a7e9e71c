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
//!   - `request/jwt-guard+memory`, `request/jwt-guard+redis-mirror`,
//!     `request/jwt-guard+redis-direct`: `request/jwt-guard` (cache on) with a
//!     `MemoryStore`, a `RedisStore` in mirror mode and one in direct mode, each
//!     holding 10 000 other revoked `jti`s and 5 other subjects' cut-offs. The
//!     Redis stores use a redis-server the bench starts on a free loopback port.
//!   - `request/jwt-authorizer`: jwt-authorizer 0.15 layer + `JwtClaims` on axum 0.7.
//!   - `request/axum-jwt-auth`: axum-jwt-auth 0.7 `Claims` extractor (it has no layer).
//! - `verify/*`: signature + claims check only, no HTTP.
//!   - `verify/jwt-guard/{HS256,RS256,PS256,ES256,ES384,ES512,EdDSA}`:
//!     `Validator::validate`.
//!   - `verify/crypto/{...}`: the bare aws-lc-rs verify of the token's signing
//!     input with the key parsed once: the floor.
//!   - `verify/jsonwebtoken/{...}`: plain `jsonwebtoken::decode` (v11, aws-lc-rs;
//!     no ES512), as a reference.
//! - `revoke/*`: one token revocation through a Redis store, on a server
//!   without replicas and on a master with a replica, with and without the
//!   replica wait (see `revocations`).
//! - `roundtrip/redis-mget`: a bare `MGET` of the two keys a direct check reads,
//!   on one multiplexed connection and the same runtime: the cost of one round
//!   trip, to read `request/jwt-guard+redis-direct` against.
//!
//! Interleaved (alternating batches, three runs, median of the three):
//! `request/over-bare` and `verify/over-crypto/<alg>`, the small differences
//! criterion's one-after-another timings drift past.
//!
//! Then, outside criterion (see `support/extras.rs`), `propagation/redis-mirror`
//! (revocation on one mirror to `Revoked` on another: p50/p90/p99/max) and
//! `mirror/memory-per-entry` (live heap per revoked token with 1 000 000 in the
//! mirror), printed and written to `<criterion dir>/jwt-guard-extra.json`.
//!
//! Tokens and keys are minted at start-up (never stored). Before anything is
//! measured, every contender is checked: 200 (and the expected body) for the
//! valid token, 401 for a token signed with another key and for garbage, and
//! the contenders with a store 401 (`Revoked`) for a revoked token. The Redis
//! contenders are checked again after they were measured.

use std::convert::Infallible;
use std::fmt::Debug;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::KeyPair as _;
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

#[path = "support/contenders.rs"]
mod contenders;
#[path = "support/extras.rs"]
mod extras;
#[path = "support/redis_server.rs"]
mod redis_server;
use contenders::*;

/// Counts live heap bytes for `mirror/memory-per-entry` only (off otherwise).
#[global_allocator]
static ALLOC: extras::CountingAlloc = extras::CountingAlloc;

/// A different secret, to mint a well-formed token that must be refused.
const OTHER_SECRET: &str = "jwt-guard-peers/bench/other-secret/0123456789";
/// Not a JWT at all.
const GARBAGE: &str = "Bearer not-a-jwt";
/// The `jti` of a token that is valid but revoked in every store.
const REVOKED_JTI: &str = "bench-revoked";
/// Other tokens' revocations held by every store while it is measured.
const OTHER_REVOCATIONS: usize = 10_000;
/// Other subjects cut off in every store while it is measured.
const OTHER_CUTOFFS: usize = 5;

/// A valid token (right key, claims) whose `jti` is the revoked one.
fn mint_revoked() -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &bench_claims_with_jti(Some(REVOKED_JTI)),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("mint revoked token")
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).expect("header value")
}

/// One signing algorithm's material: the public key as a PEM (SPKI "PUBLIC
/// KEY") or the raw secret, a token minted with it, and the bare crypto
/// verifier of that key (the floor `verify/crypto/*` measures).
struct KeyMaterial {
    name: &'static str,
    /// `None` for ES512, which jsonwebtoken lacks (minted by jwt-guard).
    alg: Option<jsonwebtoken::Algorithm>,
    guard_alg: jwt_guard::Algorithm,
    /// PEM of the public key (for asymmetric algorithms) or the raw secret (HS256).
    verify_key: Vec<u8>,
    token: String,
    bare: BareVerifier,
}

/// aws-lc-rs with the key parsed once: what a verification costs at least.
/// Unboxed like jwt-guard's own, so that neither pays an extra indirection.
#[allow(clippy::large_enum_variant)]
enum BareVerifier {
    Hmac(aws_lc_rs::hmac::Key),
    Public(aws_lc_rs::signature::ParsedPublicKey),
}

impl BareVerifier {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => aws_lc_rs::hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

impl KeyMaterial {
    /// The token's signing input and decoded signature, for the bare verifier.
    fn signed_parts(&self) -> (&[u8], Vec<u8>) {
        use base64::Engine as _;
        let (input, signature) = self.token.rsplit_once('.').expect("compact JWS");
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .expect("base64url signature");
        (input.as_bytes(), signature)
    }

    fn guard_key(&self) -> jwt_guard::VerifyingKey {
        use jwt_guard::VerifyingKey;
        use jwt_guard::keys::KeyFamily;
        match self.guard_alg.family() {
            KeyFamily::Hmac => VerifyingKey::hmac(self.guard_alg, &self.verify_key),
            KeyFamily::Rsa => VerifyingKey::from_rsa_pem(self.guard_alg, &self.verify_key),
            KeyFamily::Ec => VerifyingKey::from_ec_pem(self.guard_alg, &self.verify_key),
            _ => VerifyingKey::from_ed_pem(&self.verify_key),
        }
        .expect("jwt-guard key")
    }
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
        alg: Some(alg),
        guard_alg: jwt_guard::Algorithm::HS256,
        verify_key: SECRET.as_bytes().to_vec(),
        token,
        bare: BareVerifier::Hmac(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            SECRET.as_bytes(),
        )),
    }
}

/// RS256 and PS256 with one 2048-bit key.
fn rsa_materials() -> [KeyMaterial; 2] {
    use aws_lc_rs::signature::{
        ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    };
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen");
    let private: Pkcs8V1Der<'static> = pair.as_der().expect("rsa pkcs8");
    let public = pair.public_key().as_der().expect("rsa spki");
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(&pem("PRIVATE KEY", private.as_ref()))
        .expect("rsa pem");
    let material = |name, alg, guard_alg, params| KeyMaterial {
        name,
        alg: Some(alg),
        guard_alg,
        verify_key: pem("PUBLIC KEY", public.as_ref()),
        token: mint(alg, &signing),
        bare: BareVerifier::Public(
            ParsedPublicKey::new(params, public.as_ref()).expect("parsed rsa key"),
        ),
    };
    [
        material(
            "RS256",
            jsonwebtoken::Algorithm::RS256,
            jwt_guard::Algorithm::RS256,
            &RSA_PKCS1_2048_8192_SHA256,
        ),
        material(
            "PS256",
            jsonwebtoken::Algorithm::PS256,
            jwt_guard::Algorithm::PS256,
            &RSA_PSS_2048_8192_SHA256,
        ),
    ]
}

/// An EC key of `guard_alg`'s curve; minted by jsonwebtoken where it has
/// the algorithm, else by jwt-guard.
fn ec_material(name: &'static str, guard_alg: jwt_guard::Algorithm) -> KeyMaterial {
    use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, ParsedPublicKey};
    let (signing_alg, verify_alg, alg): (_, &'static dyn sig::VerificationAlgorithm, _) =
        match guard_alg {
            jwt_guard::Algorithm::ES256 => (
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &sig::ECDSA_P256_SHA256_FIXED,
                Some(jsonwebtoken::Algorithm::ES256),
            ),
            jwt_guard::Algorithm::ES384 => (
                &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
                &sig::ECDSA_P384_SHA384_FIXED,
                Some(jsonwebtoken::Algorithm::ES384),
            ),
            _ => (
                &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
                &sig::ECDSA_P521_SHA512_FIXED,
                None,
            ),
        };
    let pair = EcdsaKeyPair::generate(signing_alg).expect("ec keygen");
    let private = pem("PRIVATE KEY", pair.to_pkcs8v1().expect("ec pkcs8").as_ref());
    let public = pair.public_key().as_der().expect("ec spki");
    let token = match alg {
        Some(alg) => mint(
            alg,
            &jsonwebtoken::EncodingKey::from_ec_pem(&private).expect("ec pem"),
        ),
        None => jwt_guard::SigningKey::from_ec_pem(guard_alg, &private)
            .expect("jwt-guard ec key")
            .sign("JWT", &bench_claims())
            .expect("mint token"),
    };
    KeyMaterial {
        name,
        alg,
        guard_alg,
        verify_key: pem("PUBLIC KEY", public.as_ref()),
        token,
        bare: BareVerifier::Public(
            ParsedPublicKey::new(verify_alg, pair.public_key().as_ref()).expect("parsed ec key"),
        ),
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
        alg: Some(alg),
        guard_alg: jwt_guard::Algorithm::EdDSA,
        verify_key: pem("PUBLIC KEY", public.as_ref()),
        token: mint(alg, &signing),
        bare: BareVerifier::Public(
            aws_lc_rs::signature::ParsedPublicKey::new(
                &aws_lc_rs::signature::ED25519,
                pair.public_key().as_ref(),
            )
            .expect("parsed ed25519 key"),
        ),
    }
}

/// Every algorithm `verify/*` measures.
fn materials() -> Vec<KeyMaterial> {
    let [rs256, ps256] = rsa_materials();
    vec![
        hs256_material(),
        rs256,
        ps256,
        ec_material("ES256", jwt_guard::Algorithm::ES256),
        ec_material("ES384", jwt_guard::Algorithm::ES384),
        ec_material("ES512", jwt_guard::Algorithm::ES512),
        eddsa_material(),
    ]
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

/// A contender with a store must refuse the valid-but-revoked token: 401,
/// and the error the layer puts in the response says `Revoked`.
fn check_revoked(rt: &Runtime, name: &str, svc: &axum::Router, revoked: &HeaderValue) {
    rt.block_on(async {
        let resp = svc
            .clone()
            .oneshot(request::<axum::body::Body>(Some(revoked)))
            .await
            .unwrap();
        let status = resp.status();
        let kind = resp
            .extensions()
            .get::<jwt_guard::AuthError>()
            .map(jwt_guard::AuthError::kind);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{name}: revoked token got {status} (body {body:?})"
        );
        match kind {
            Some(kind) => assert_eq!(
                kind,
                jwt_guard::AuthErrorKind::Revoked,
                "{name}: revoked token refused for another reason (body {body:?})"
            ),
            None => assert!(
                String::from_utf8_lossy(&body).contains("revoked"),
                "{name}: revoked token refused for another reason (body {body:?})"
            ),
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
// Benchmarks
// ---------------------------------------------------------------------------

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A one-worker runtime for background tasks the measured loop must not starve.
fn background_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("background tokio runtime")
}

/// Fills a store with the revocations every store contender holds: 10 000
/// other tokens (of 100 other subjects), 5 other subjects' cut-offs, and last
/// the bench's revoked token (so a mirror that has it has everything).
async fn populate(store: &dyn jwt_guard::store::RevocationStore) {
    let until = SystemTime::now() + Duration::from_secs(2 * 3600);
    for i in 0..OTHER_REVOCATIONS {
        let sub = format!("other-user-{}", i % 100);
        store
            .revoke_token(&extras::random_jti(), Some(&sub), until)
            .await
            .expect("revoke another token");
    }
    let now = SystemTime::now();
    for i in 0..OTHER_CUTOFFS {
        store
            .revoke_subject(&format!("cut-off-user-{i}"), now)
            .await
            .expect("cut off another subject");
    }
    store
        .revoke_token(REVOKED_JTI, Some(SUBJECT), until)
        .await
        .expect("revoke the bench's revoked token");
}

/// `INFO commandstats` as (command, calls).
async fn command_calls(conn: &mut redis::aio::MultiplexedConnection) -> Vec<(String, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Sends `n` valid requests through the direct contender and reports how
/// many Redis commands each one cost (the target: one round trip, one `MGET`).
fn count_direct_commands(
    rt: &Runtime,
    svc: &axum::Router,
    valid: &HeaderValue,
    conn: &mut redis::aio::MultiplexedConnection,
) {
    const N: u64 = 1000;
    let id = "request/jwt-guard+redis-direct/commands";
    let mode = extras::mode_for(id);
    if mode == extras::Mode::Skip {
        return;
    }
    let (before, after) = rt.block_on(async {
        let before = command_calls(conn).await;
        for _ in 0..N {
            let (status, _) = send::<_, axum::body::Body, _>(svc, Some(valid)).await;
            assert_eq!(status, StatusCode::OK);
        }
        (before, command_calls(conn).await)
    });
    let mut per_request: Vec<(String, f64)> = after
        .iter()
        .filter_map(|(name, calls)| {
            let was = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, c)| *c);
            // the first INFO is counted in the second reading
            let delta = calls - was - u64::from(name == "info");
            (delta > 0).then(|| (name.clone(), delta as f64 / N as f64))
        })
        .collect();
    per_request.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: f64 = per_request.iter().map(|(_, n)| n).sum();
    let detail = per_request
        .iter()
        .map(|(name, n)| format!("{} {n:.2}", name.to_uppercase()))
        .collect::<Vec<_>>()
        .join(", ");
    extras::report(
        mode,
        id,
        format!("{id}: {total:.2} Redis commands per request ({detail}; {N} requests)"),
        serde_json::json!({
            "per_request": total,
            "by_command": per_request
                .iter()
                .map(|(name, n)| (name.clone(), serde_json::Value::from(*n)))
                .collect::<serde_json::Map<_, _>>(),
        }),
    );
}

/// One operation of a contender, as a boxed future (the boxing costs every
/// contender the same).
type Op<'a> = Box<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

fn router_op<'a>(svc: &axum::Router, authorization: &HeaderValue) -> Op<'a> {
    service_op::<_, axum::body::Body>(svc, authorization)
}

/// One request to `svc`, as `bench_service` sends it.
fn service_op<'a, S, B>(svc: &S, authorization: &HeaderValue) -> Op<'a>
where
    S: Service<Request<B>, Error = Infallible> + Clone + 'a,
    S::Future: 'a,
    B: Default + 'a,
{
    let (svc, authorization) = (svc.clone(), authorization.clone());
    Box::new(move || {
        let svc = svc.clone();
        let req = request::<B>(Some(&authorization));
        Box::pin(async move {
            black_box(svc.oneshot(req).await.unwrap());
        })
    })
}

/// `request/over-bare`: each contender's time per request over the bare
/// route's, measured interleaved (alternating batches of 1000), three
/// times; the median of the three is reported. Criterion's own
/// contender-after-contender timings drift by more than these differences.
fn request_over_bare(rt: &Runtime, contenders: &[(&str, Op<'_>)]) {
    let id = "request/over-bare";
    let mode = extras::mode_for(id);
    if mode == extras::Mode::Skip {
        return;
    }
    let rounds = if mode == extras::Mode::Bench { 150 } else { 3 };
    let ops: Vec<(usize, Op<'_>)> = contenders
        .iter()
        .map(|(_, op)| -> (usize, Op<'_>) { (1000, Box::new(|| op())) })
        .collect();
    let runs: Vec<Vec<f64>> = (0..3).map(|_| interleaved(rt, &ops, rounds)).collect();
    let bare = median3(runs.iter().map(|run| run[0]));
    let mut fields = serde_json::json!({ "bare_us": bare, "rounds": rounds, "runs": runs });
    let mut line = format!("{id}: bare {bare:.3} µs;");
    for (i, (name, _)) in contenders.iter().enumerate().skip(1) {
        let over = median3(runs.iter().map(|run| run[i] - run[0]));
        fields[*name] = over.into();
        line.push_str(&format!(" {name} {over:+.3} µs;"));
    }
    line.push_str(&format!(
        " (medians of 3 runs of {rounds} interleaved batches of 1000)"
    ));
    extras::report(mode, id, line, fields);
}

fn mget_op<'a>(conn: &redis::aio::MultiplexedConnection, keys: &'a [String]) -> Op<'a> {
    let conn = conn.clone();
    Box::new(move || {
        let mut conn = conn.clone();
        Box::pin(async move {
            black_box(
                redis::cmd("MGET")
                    .arg(keys)
                    .query_async::<redis::Value>(&mut conn)
                    .await
                    .unwrap(),
            );
        })
    })
}

/// Median time per operation of each contender, measured in alternation so
/// that a noisy phase of the machine hits all of them alike: `rounds` rounds,
/// each one batch (of the contender's batch size) of every contender in turn.
fn interleaved(rt: &Runtime, ops: &[(usize, Op<'_>)], rounds: usize) -> Vec<f64> {
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); ops.len()];
    rt.block_on(async {
        for round in 0..rounds + rounds / 10 {
            for ((batch, op), times) in ops.iter().zip(&mut times) {
                let start = Instant::now();
                for _ in 0..*batch {
                    op().await;
                }
                // the first tenth warms up
                if round >= rounds / 10 {
                    times.push(start.elapsed().as_secs_f64() * 1e6 / *batch as f64);
                }
            }
        }
    });
    times.into_iter().map(median).collect()
}

/// The median of `values` (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The two store targets, measured interleaved (criterion measures one
/// contender after another, and on a shared machine the phases differ by
/// more than the 0.2 µs at stake): mirror vs memory per request, and the
/// direct contender's extra time over memory in bare `MGET` round trips.
fn compare_stores(
    rt: &Runtime,
    routers: [&axum::Router; 3],
    valid: &HeaderValue,
    conn: &redis::aio::MultiplexedConnection,
    keys: &[String],
) {
    let over_memory = "request/jwt-guard+redis-mirror/over-memory";
    let round_trips = "request/jwt-guard+redis-direct/round-trips";
    let modes = [extras::mode_for(over_memory), extras::mode_for(round_trips)];
    if modes.iter().all(|m| *m == extras::Mode::Skip) {
        return;
    }
    let rounds = if modes.contains(&extras::Mode::Bench) {
        400
    } else {
        10
    };
    let [memory, mirror, direct] = routers;
    let ops = [
        (1000, router_op(memory, valid)),
        (1000, router_op(mirror, valid)),
        (20, router_op(direct, valid)),
        (20, mget_op(conn, keys)),
    ];
    let [memory, mirror, direct, mget] = interleaved(rt, &ops, rounds)[..] else {
        unreachable!()
    };
    if modes[0] != extras::Mode::Skip {
        let over = mirror - memory;
        extras::report(
            modes[0],
            over_memory,
            format!(
                "{over_memory}: {over:+.3} µs per request (mirror {mirror:.3} µs, memory \
                 {memory:.3} µs; medians of {rounds} interleaved batches of 1000)"
            ),
            serde_json::json!({
                "over_us": over,
                "mirror_us": mirror,
                "memory_us": memory,
                "rounds": rounds,
            }),
        );
    }
    if modes[1] != extras::Mode::Skip {
        let trips = (direct - memory) / mget;
        extras::report(
            modes[1],
            round_trips,
            format!(
                "{round_trips}: {trips:.2} bare MGET round trips per request ((direct \
                 {direct:.1} µs − memory {memory:.1} µs) / MGET {mget:.1} µs; medians of \
                 {rounds} interleaved batches of 20)"
            ),
            serde_json::json!({
                "round_trips": trips,
                "direct_us": direct,
                "memory_us": memory,
                "mget_us": mget,
                "rounds": rounds,
            }),
        );
    }
}

fn requests(c: &mut Criterion) {
    use jwt_guard::store::MemoryStore;
    use jwt_guard::store::redis::{RedisConfig, RedisStore};

    install_crypto_provider();
    let rt = runtime();
    let hs256 = hs256_material();
    let valid = bearer(&hs256.token);
    let revoked = bearer(&mint_revoked());

    let bare = bare_router();
    let jwt_guard = jwt_guard_router(MemoryStore::new(), None);
    let jwt_guard_nocache = jwt_guard_router(MemoryStore::new(), Some(0));
    let jwt_authorizer = jwt_authorizer_router(&rt);
    let axum_jwt_auth = axum_jwt_auth_router();

    // The store contenders. One redis-server for both Redis stores, each
    // under its own key prefix (so each holds exactly its own revocations).
    let redis = redis_server::RedisServer::start();
    let memory_store = MemoryStore::new();
    rt.block_on(populate(&memory_store));
    // The mirror's task (subscription, health checks renewing its lease)
    // runs on a runtime of its own, as it would beside a server's request
    // tasks: criterion's loop on `rt` never yields, and a mirror whose task
    // starved would let its lease lapse and answer 503 mid-measurement.
    let background = background_runtime();
    let (mirror_store, direct_store) = {
        let (mirror, writer) = {
            let _enter = background.enter();
            let mirror = RedisStore::new(RedisConfig::url(redis.url()).prefix("bench-mirror:"))
                .expect("mirror store");
            // The mirror is filled the way revocations reach it in production:
            // another instance revokes, Redis publishes, the mirror applies.
            let writer = RedisStore::new(RedisConfig::url(redis.url()).prefix("bench-mirror:"))
                .expect("writer store");
            (mirror, writer)
        };
        let _enter = rt.enter();
        let direct = RedisStore::new(
            RedisConfig::url(redis.url())
                .prefix("bench-direct:")
                .direct(true),
        )
        .expect("direct store");
        rt.block_on(async {
            let within = Duration::from_secs(10);
            mirror.ready(within).await.expect("mirror ready");
            writer.ready(within).await.expect("writer ready");
            direct.ready(within).await.expect("direct ready");
            populate(&writer).await;
            populate(&direct).await;
            let deadline = Instant::now() + within;
            while mirror.mirror_len() < OTHER_REVOCATIONS + 1 {
                assert!(
                    Instant::now() < deadline,
                    "the mirror did not receive every revocation"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        drop(writer);
        (mirror, direct)
    };
    assert_eq!(memory_store.len(), OTHER_REVOCATIONS + 1);
    assert_eq!(mirror_store.mirror_len(), OTHER_REVOCATIONS + 1);
    let mut conn = rt.block_on(async {
        let client = redis::Client::open(redis.url()).expect("redis client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection");
        let size: usize = redis::cmd("DBSIZE")
            .query_async(&mut conn)
            .await
            .expect("DBSIZE");
        // Each prefix's revocations, cut-offs and revocation log.
        assert_eq!(
            size,
            2 * (OTHER_REVOCATIONS + 1 + OTHER_CUTOFFS + 1),
            "keys in Redis"
        );
        conn
    });
    let resyncs = mirror_store.mirror_resyncs();
    let jwt_guard_memory = jwt_guard_router(memory_store, None);
    let jwt_guard_mirror = jwt_guard_router(mirror_store.clone(), None);
    let jwt_guard_direct = jwt_guard_router(direct_store, None);
    let stored = [
        ("jwt-guard+memory", &jwt_guard_memory),
        ("jwt-guard+redis-mirror", &jwt_guard_mirror),
        ("jwt-guard+redis-direct", &jwt_guard_direct),
    ];

    check::<_, axum::body::Body, _>(&rt, "bare", &bare, &valid, false);
    check::<_, axum::body::Body, _>(&rt, "jwt-guard", &jwt_guard, &valid, true);
    check::<_, axum::body::Body, _>(&rt, "jwt-guard-nocache", &jwt_guard_nocache, &valid, true);
    check::<_, axum07::body::Body, _>(&rt, "jwt-authorizer", &jwt_authorizer, &valid, true);
    check::<_, axum::body::Body, _>(&rt, "axum-jwt-auth", &axum_jwt_auth, &valid, true);
    for (name, svc) in stored {
        check::<_, axum::body::Body, _>(&rt, name, svc, &valid, true);
        check_revoked(&rt, name, svc, &revoked);
    }
    count_direct_commands(&rt, &jwt_guard_direct, &valid, &mut conn);
    // The two keys a direct check of the valid token reads.
    let keys = [
        format!(
            "bench-direct:{{{}}}:t:{}",
            base64_url(SUBJECT),
            bench_claims().jti
        ),
        format!("bench-direct:{{{}}}:c", base64_url(SUBJECT)),
    ];
    compare_stores(
        &rt,
        [&jwt_guard_memory, &jwt_guard_mirror, &jwt_guard_direct],
        &valid,
        &conn,
        &keys,
    );

    request_over_bare(
        &rt,
        &[
            ("bare", router_op(&bare, &valid)),
            ("jwt-guard", router_op(&jwt_guard, &valid)),
            ("jwt-guard-nocache", router_op(&jwt_guard_nocache, &valid)),
            (
                "jwt-authorizer",
                service_op::<_, axum07::body::Body>(&jwt_authorizer, &valid),
            ),
            ("axum-jwt-auth", router_op(&axum_jwt_auth, &valid)),
        ],
    );

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
    for (name, svc) in stored {
        bench_service::<_, axum::body::Body, _>(
            &mut group,
            &rt,
            name,
            svc.clone(),
            Some(valid.clone()),
        );
    }
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
        Some(valid.clone()),
    );
    group.finish();

    // One round trip, for scale: the MGET a direct check sends, bare.
    let mut group = c.benchmark_group("roundtrip");
    group.bench_function("redis-mget", |b| {
        b.to_async(&rt).iter(|| {
            let mut conn = conn.clone();
            let keys = &keys;
            async move {
                black_box(
                    redis::cmd("MGET")
                        .arg(&keys[..])
                        .query_async::<redis::Value>(&mut conn)
                        .await
                        .unwrap(),
                )
            }
        })
    });
    group.finish();

    // Still the same answers after being measured (the mirror never lost
    // Redis, so nothing was measured answering 503).
    for (name, svc) in stored {
        check::<_, axum::body::Body, _>(&rt, name, svc, &valid, false);
        check_revoked(&rt, name, svc, &revoked);
    }
    assert!(
        mirror_store.is_mirror_synced(),
        "the mirror lost Redis while measured"
    );
    assert_eq!(
        mirror_store.mirror_resyncs(),
        resyncs,
        "the mirror resynchronised while measured"
    );
    drop(conn);

    drop((
        jwt_guard_memory,
        jwt_guard_mirror,
        jwt_guard_direct,
        mirror_store,
    ));
    drop(rt);
    drop(redis);
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn verify(c: &mut Criterion) {
    install_crypto_provider();
    let materials = materials();

    let mut group = c.benchmark_group("verify");
    for m in &materials {
        // jwt-guard
        let validator = jwt_guard_validator(m.guard_key());
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

        // the signature alone, key parsed once: the floor
        let (input, signature) = m.signed_parts();
        assert!(m.bare.verify(input, &signature), "bare {} verify", m.name);
        group.bench_function(format!("crypto/{}", m.name), |b| {
            b.iter(|| m.bare.verify(black_box(input), black_box(&signature)))
        });

        // plain jsonwebtoken 11, same checks, as a reference
        let Some(alg) = m.alg else { continue };
        let decoding = match alg {
            jsonwebtoken::Algorithm::HS256 => jsonwebtoken::DecodingKey::from_secret(&m.verify_key),
            jsonwebtoken::Algorithm::RS256 | jsonwebtoken::Algorithm::PS256 => {
                jsonwebtoken::DecodingKey::from_rsa_pem(&m.verify_key).expect("rsa")
            }
            jsonwebtoken::Algorithm::ES256 | jsonwebtoken::Algorithm::ES384 => {
                jsonwebtoken::DecodingKey::from_ec_pem(&m.verify_key).expect("ec")
            }
            jsonwebtoken::Algorithm::EdDSA => {
                jsonwebtoken::DecodingKey::from_ed_pem(&m.verify_key).expect("ed")
            }
            other => unreachable!("no bench key for {other:?}"),
        };
        let mut validation = jsonwebtoken::Validation::new(alg);
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
    verify_over_crypto(&materials);
}

/// `verify/over-crypto`: each algorithm's `Validator::validate` against the
/// bare verify of the same signing input, measured interleaved (alternating
/// batches), three times; the median of the three medians is reported.
fn verify_over_crypto(materials: &[KeyMaterial]) {
    let id = "verify/over-crypto";
    let mode = extras::mode_for(id);
    if mode == extras::Mode::Skip {
        return;
    }
    let rounds = if mode == extras::Mode::Bench { 150 } else { 3 };
    for m in materials {
        let validator = jwt_guard_validator(m.guard_key());
        let (input, signature) = m.signed_parts();
        let batch = if m.name.starts_with("HS") { 2000 } else { 40 };
        let runs: Vec<[f64; 2]> = (0..3)
            .map(|_| {
                let [validate, bare] = interleaved_sync(
                    [
                        &|| {
                            black_box(
                                validator
                                    .validate::<jwt_guard::StandardClaims>(black_box(&m.token))
                                    .is_ok(),
                            );
                        },
                        &|| {
                            black_box(m.bare.verify(black_box(input), black_box(&signature)));
                        },
                    ],
                    batch,
                    rounds,
                );
                [validate, bare]
            })
            .collect();
        let validate = median3(runs.iter().map(|r| r[0]));
        let bare = median3(runs.iter().map(|r| r[1]));
        let over = median3(runs.iter().map(|r| (r[0] - r[1]) / r[1] * 100.0));
        extras::report(
            mode,
            &format!("{id}/{}", m.name),
            format!(
                "{id}/{}: validate {validate:.3} µs, bare verify {bare:.3} µs, {over:+.1} % \
                 (medians of 3 runs of {rounds} interleaved batches of {batch})",
                m.name
            ),
            serde_json::json!({
                "validate_us": validate,
                "crypto_us": bare,
                "over_percent": over,
                "runs": runs,
            }),
        );
    }
}

/// The median of the runs' values.
fn median3(values: impl Iterator<Item = f64>) -> f64 {
    median(values.collect())
}

/// As [`interleaved`], for synchronous operations: median µs per call of each.
fn interleaved_sync<const N: usize>(ops: [&dyn Fn(); N], batch: usize, rounds: usize) -> [f64; N] {
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for round in 0..rounds + rounds / 10 {
        for (op, times) in ops.iter().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..batch {
                op();
            }
            // the first tenth warms up
            if round >= rounds / 10 {
                times.push(start.elapsed().as_secs_f64() * 1e6 / batch as f64);
            }
        }
    }
    times.map(median)
}

/// Issuing: a login (a new refresh family and its first pair) and a refresh
/// (an atomic rotation and a new access token), HS256, in-memory store. No
/// peer issues tokens, so there is nothing to set beside them.
fn issue(c: &mut Criterion) {
    use jwt_guard::issue::{Grant, Issuer};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = Issuer::builder()
        .signing_key(jwt_guard::SigningKey::hmac(jwt_guard::Algorithm::HS256, SECRET).expect("key"))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        // Every login iteration starts a family that lives for days: room
        // for all of them, in a short measurement.
        .store(
            jwt_guard::store::MemoryStore::builder()
                .max_families(10_000_000)
                .build(),
        )
        .build()
        .expect("issuer");
    let grant = Grant::new("alice").roles(["admin", "user"]);
    let mut group = c.benchmark_group("issue");
    group
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(3));
    group.bench_function("login", |b| {
        b.iter(|| {
            runtime
                .block_on(issuer.issue(black_box(&grant)))
                .expect("issued")
        })
    });
    // A refresh of a session that has just logged in: each iteration gets
    // its own, as a client refreshes once per access-token lifetime.
    group.bench_function("refresh", |b| {
        b.iter_batched(
            || {
                runtime
                    .block_on(issuer.issue(&grant))
                    .expect("issued")
                    .refresh_token()
                    .clone()
            },
            |token| {
                runtime
                    .block_on(issuer.refresh(black_box(token.as_str())))
                    .expect("rotated")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// `revoke/*`: the latency of one token revocation through a direct-mode
/// `RedisStore` (the script's round trip, and the replica wait where there
/// is one), each a fresh `jti`, on a current-thread runtime:
///
/// - `revoke/redis`: a server without replicas, defaults
///   (`ReplicaAck::FromTopology` reads `INFO replication` every 5 s and
///   then does not wait);
/// - `revoke/redis+replica-no-wait`: a server with one replica,
///   `ReplicaAck::Never` (the write is acknowledged by the master alone);
/// - `revoke/redis+replica-wait`: the same server, defaults: each
///   revocation is acknowledged once the replica holds it (`WAIT 1`), on a
///   connection of its own.
///
/// Checked first: the waiting contender's revocation is on the replica
/// when it returns, and `WAIT` was sent once per revocation by it and
/// never by the others (`INFO commandstats`).
fn revocations(c: &mut Criterion) {
    use jwt_guard::store::RevocationStore;
    use jwt_guard::store::redis::{RedisConfig, RedisStore, ReplicaAck};

    let rt = runtime();
    let alone = redis_server::RedisServer::start();
    let master = redis_server::RedisServer::start();
    let replica = redis_server::RedisServer::replica_of(&master);
    let _enter = rt.enter();
    let store = |config: RedisConfig| {
        let store = RedisStore::new(config.direct(true)).expect("store");
        rt.block_on(store.ready(Duration::from_secs(10)))
            .expect("store ready");
        store
    };
    let contenders = [
        ("redis", store(RedisConfig::url(alone.url()))),
        (
            "redis+replica-no-wait",
            store(RedisConfig::url(master.url()).replica_ack(ReplicaAck::Never)),
        ),
        ("redis+replica-wait", store(RedisConfig::url(master.url()))),
    ];
    let until = SystemTime::now() + Duration::from_secs(3600);
    let mut next = 0u64;
    let mut revoke = |store: &RedisStore| {
        next += 1;
        let jti = format!("revoke-bench-{next}");
        rt.block_on(store.revoke_token(&jti, Some("revoke-bench"), until))
            .expect("revoked");
        jti
    };
    let waits = |server: &redis_server::RedisServer| -> u64 {
        let stats = server.cli(&["INFO", "commandstats"]);
        stats
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_wait:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse().expect("WAIT calls"))
    };
    // A replica that has just come online is sometimes counted by `WAIT`
    // only after its once-a-second `REPLCONF ACK` (seen here: the first
    // revocations took three to five 200 ms slices). The bench measures the
    // steady state: it starts once a revocation needs one `WAIT`.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = waits(&master);
        revoke(&contenders[2].1);
        if waits(&master) - before == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never acknowledged at once"
        );
    }
    for (name, store) in &contenders {
        let before = (waits(&alone), waits(&master));
        let jti = revoke(store);
        let after = (waits(&alone), waits(&master));
        let waited = after.0 - before.0 + after.1 - before.1;
        if *name == "redis+replica-wait" {
            assert_eq!(waited, 1, "{name}: one WAIT per revocation");
            let keys = replica.cli(&["--scan", "--pattern", "*"]);
            assert!(
                keys.lines().any(|key| key.ends_with(&format!(":t:{jti}"))),
                "{name}: the revocation is on the replica when it returns"
            );
        } else {
            assert_eq!(waited, 0, "{name}: no WAIT");
        }
    }
    let mut group = c.benchmark_group("revoke");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    for (name, store) in &contenders {
        group.bench_function(*name, |b| b.iter(|| revoke(store)));
    }
    group.finish();
}

/// The measurements that are not criterion timings (see `support/extras.rs`);
/// last, the 1 000 000-entry memory one.
fn extra_measurements(_: &mut Criterion) {
    extras::propagation();
    extras::mirror_memory();
    token_cache_memory();
}

/// `cache/resident-memory`: 1 000 000 distinct valid tokens, each minted
/// and authenticated once through a `JwtLayer`'s authenticator with the
/// default 16 MiB token cache, none kept by the bench; the process's
/// resident memory (`/proc/self/statm`) after, minus before, against the
/// budget. The cache's own weighing is an estimate; this checks it holds.
fn token_cache_memory() {
    use jwt_guard::auth::Credential;
    use jwt_guard::{JwtLayer, StandardClaims};

    let id = "cache/resident-memory";
    let mode = extras::mode_for(id);
    if mode == extras::Mode::Skip {
        return;
    }
    let tokens = if mode == extras::Mode::Bench {
        1_000_000
    } else {
        20_000
    };
    const BUDGET: usize = 16 * 1024 * 1024;
    let rt = runtime();
    let layer = JwtLayer::<StandardClaims>::builder(jwt_guard_hs256_validator())
        .token_cache_bytes(BUDGET)
        .build();
    let authenticator = layer.authenticator().clone();
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let mint = |i: usize| {
        let claims = bench_claims_with_jti(Some(&format!("cache-{i:08}")));
        jsonwebtoken::encode(&header, &claims, &key).expect("mint")
    };
    let pass = |range: std::ops::Range<usize>| {
        rt.block_on(async {
            for i in range {
                let token = mint(i);
                authenticator
                    .authenticate(Credential::bearer(token.as_str()))
                    .await
                    .expect("a valid token");
            }
        })
    };
    // Warm the allocator and the runtime before the first reading.
    pass(0..1000);
    let before = extras::resident_bytes();
    pass(1000..tokens);
    let after = extras::resident_bytes();
    let grown = after.saturating_sub(before);
    let token_len = mint(0).len();
    extras::report(
        mode,
        id,
        format!(
            "{id}: resident memory +{:.1} MiB after {tokens} distinct tokens ({token_len} bytes \
             each) through a 16 MiB token cache: {:.0} % of the budget",
            grown as f64 / 1048576.0,
            grown as f64 / BUDGET as f64 * 100.0
        ),
        serde_json::json!({
            "resident_growth_bytes": grown,
            "budget_bytes": BUDGET,
            "tokens": tokens,
            "token_len": token_len,
        }),
    );
}

// ---------------------------------------------------------------------------
// DPoP: the cost of a proof per request
// ---------------------------------------------------------------------------

/// Makes the revocation store of a DPoP contender.
type MakeStore<'a> = &'a dyn Fn() -> std::sync::Arc<dyn jwt_guard::store::RevocationStore>;

/// The URL every DPoP bench request names (`Host` header and path `/`).
const DPOP_HOST: &str = "bench.local";

/// A proof by `key` for `GET http://bench.local/` with `access_token`, made
/// now with a fresh `jti`.
fn dpop_proof(key: &jwt_guard::SigningKey, access_token: &str, jti: u64) -> HeaderValue {
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let ath = {
        use base64::Engine as _;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    };
    let header = serde_json::json!({
        "typ": "dpop+jwt",
        "alg": key.algorithm().as_str(),
        "jwk": key.public_jwk().expect("a public key"),
    });
    let claims = serde_json::json!({
        "jti": format!("bench-proof-{jti}"),
        "htm": "GET",
        "htu": format!("http://{DPOP_HOST}/"),
        "iat": now,
        "ath": ath,
    });
    let proof = key
        .sign_jws(header.to_string().as_bytes(), claims.to_string().as_bytes())
        .expect("a proof");
    HeaderValue::from_str(&proof).expect("a proof is a header value")
}

/// `GET /` to `DPOP_HOST` with `authorization` and, when given, a `DPoP`
/// proof.
fn dpop_request(
    authorization: &HeaderValue,
    proof: Option<HeaderValue>,
) -> Request<axum::body::Body> {
    let mut req = request::<axum::body::Body>(Some(authorization));
    req.headers_mut()
        .insert(http::header::HOST, HeaderValue::from_static(DPOP_HOST));
    if let Some(proof) = proof {
        req.headers_mut().insert("dpop", proof);
    }
    req
}

/// `dpop/*`: jwt-guard's layer taking DPoP (`JwtLayerBuilder::dpop`,
/// defaults, token cache on), per request: a bearer token (no proof), and
/// a token bound to an ES256 and to an Ed25519 key, each request with a
/// fresh proof (made outside the timing by `iter_batched`'s setup): the
/// proof's parse, signature and thumbprint, `htm`/`htu`/`iat`/`ath`, and
/// its single use recorded in a `MemoryStore`, or in Redis through a
/// mirror-mode `RedisStore` (one round trip per proof, on loopback; the
/// store's tasks on a runtime of their own). `roundtrip/redis-mget` is the
/// round trip's scale.
fn dpop(c: &mut Criterion) {
    use jwt_guard::dpop::DpopVerifier;
    use jwt_guard::store::MemoryStore;
    use jwt_guard::store::redis::{RedisConfig, RedisStore};
    use jwt_guard::{Algorithm, Claims, JwtLayer, SigningKey, StandardClaims};

    install_crypto_provider();
    let rt = runtime();
    let router = |store: MakeStore<'_>| {
        let layer = JwtLayer::<StandardClaims>::builder(contenders::jwt_guard_hs256_validator())
            .shared_store(store())
            .dpop(DpopVerifier::default())
            .build();
        axum::Router::new()
            .route(
                "/",
                axum::routing::get(|c: Claims<StandardClaims>| async move { c.sub.clone() }),
            )
            .layer(layer)
    };
    let memory = || -> std::sync::Arc<dyn jwt_guard::store::RevocationStore> {
        // Room for every proof a run makes (each kept for its window).
        std::sync::Arc::new(MemoryStore::builder().max_dpop_proofs(4_000_000).build())
    };
    let redis = redis_server::RedisServer::start();
    // The mirror's task on a runtime of its own, as in `requests`: the
    // memory-store contenders' loops on `rt` never yield, and a mirror
    // starved there lets its lease lapse (503).
    let background = background_runtime();
    let redis_store = {
        let _enter = background.enter();
        RedisStore::new(RedisConfig::url(redis.url()).prefix("bench-dpop:")).expect("redis store")
    };
    rt.block_on(redis_store.ready(Duration::from_secs(10)))
        .expect("redis store ready");
    let on_redis = {
        let store = redis_store.clone();
        move || -> std::sync::Arc<dyn jwt_guard::store::RevocationStore> {
            std::sync::Arc::new(store.clone())
        }
    };

    let signer = SigningKey::hmac(Algorithm::HS256, SECRET.as_bytes()).expect("hmac key");
    let es256 = {
        let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
        .expect("ec keygen");
        let pem = pem("PRIVATE KEY", pair.to_pkcs8v1().expect("pkcs8").as_ref());
        SigningKey::from_ec_pem(Algorithm::ES256, &pem).expect("es256 key")
    };
    let ed25519 = {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().expect("ed25519 keygen");
        let pem = pem("PRIVATE KEY", pair.to_pkcs8v1().expect("pkcs8").as_ref());
        SigningKey::from_ed_pem(&pem).expect("ed25519 key")
    };
    let token_for = |key: Option<&SigningKey>| {
        let mut claims = serde_json::to_value(bench_claims()).expect("claims");
        if let Some(key) = key {
            claims["cnf"] = serde_json::json!({ "jkt": key.thumbprint().expect("thumbprint") });
        }
        signer.sign("at+jwt", &claims).expect("token")
    };

    let jti = std::cell::Cell::new(0u64);
    let next = || {
        jti.set(jti.get() + 1);
        jti.get()
    };
    let mut group = c.benchmark_group("dpop");
    let bearer = bearer(&token_for(None));
    let svc = router(&memory);
    let status = |req: Request<axum::body::Body>| {
        rt.block_on(async { svc.clone().oneshot(req).await.unwrap().status() })
    };
    assert_eq!(status(dpop_request(&bearer, None)), StatusCode::OK);
    group.bench_function("jwt-guard/bearer", |b| {
        b.to_async(&rt).iter(|| {
            let svc = svc.clone();
            let req = dpop_request(&bearer, None);
            async move { black_box(svc.oneshot(req).await.unwrap()) }
        })
    });
    let contenders: [(&str, &SigningKey, MakeStore<'_>); 3] = [
        ("jwt-guard/ES256", &es256, &memory),
        ("jwt-guard/EdDSA", &ed25519, &memory),
        ("jwt-guard+redis/ES256", &es256, &on_redis),
    ];
    for (id, key, store) in contenders {
        let token = token_for(Some(key));
        let authorization = HeaderValue::from_str(&format!("DPoP {token}")).expect("header");
        let svc = router(store);
        let status = |req: Request<axum::body::Body>| {
            rt.block_on(async { svc.clone().oneshot(req).await.unwrap().status() })
        };
        // Checked first: a fresh proof passes, the same proof again and the
        // token without one are refused.
        let proof = dpop_proof(key, &token, next());
        assert_eq!(
            status(dpop_request(&authorization, Some(proof.clone()))),
            StatusCode::OK,
            "{id}"
        );
        assert_eq!(
            status(dpop_request(&authorization, Some(proof))),
            StatusCode::UNAUTHORIZED,
            "{id}"
        );
        assert_eq!(
            status(dpop_request(&authorization, None)),
            StatusCode::UNAUTHORIZED,
            "{id}"
        );
        group.bench_function(id, |b| {
            b.to_async(&rt).iter_batched(
                || dpop_request(&authorization, Some(dpop_proof(key, &token, next()))),
                |req| {
                    let svc = svc.clone();
                    async move {
                        let response = svc.oneshot(req).await.unwrap();
                        debug_assert_eq!(response.status(), StatusCode::OK);
                        black_box(response)
                    }
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    drop(redis_store);
    drop(background);
}

criterion_group!(
    benches,
    requests,
    verify,
    issue,
    revocations,
    dpop,
    extra_measurements
);
criterion_main!(benches);
