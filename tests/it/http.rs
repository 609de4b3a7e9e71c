//! The layer and extractors over real HTTP: status codes, RFC 6750
//! challenges, token sources, optional auth, revocation and its failures,
//! gRPC-shaped refusals, and that no refusal leaks the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::support::*;
use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use jwt_guard::store::{
    BoxFuture, Lookup, MemoryStore, RevocationStore, StoreError, StoreErrorKind, TokenRef,
};
use jwt_guard::{
    AuthError, AuthErrorKind, Claims, JwtLayer, RequireLayer, RequirePermission, RequireRole,
    StandardClaims,
};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::{Value, json};

jwt_guard::role!(Admin = "admin");
jwt_guard::permission!(WriteDocs = "docs:write");

async fn me(claims: Claims<StandardClaims>) -> axum::Json<Value> {
    axum::Json(json!({ "sub": claims.sub, "roles": claims.roles }))
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/admin", get(|_: RequireRole<Admin>| async { "admin" }))
        .route(
            "/docs",
            get(|_: RequirePermission<WriteDocs>| async { "docs" }),
        )
        .route(
            "/public",
            get(|claims: Option<Claims<StandardClaims>>| async move {
                claims.map_or_else(|| "anonymous".to_owned(), |c| c.sub.clone())
            }),
        )
}

async fn serve_with(layer: JwtLayer<StandardClaims>) -> String {
    serve(routes().layer(layer)).await
}

async fn serve_default() -> (String, MemoryStore) {
    let store = MemoryStore::new();
    let layer = JwtLayer::<StandardClaims>::builder(validator())
        .store(store.clone())
        .realm("tests")
        .build();
    (serve_with(layer).await, store)
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn get_with(url: &str, token: Option<&str>) -> Answer {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    answer(request).await
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let challenge = headers
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    Answer {
        status,
        challenge,
        headers,
        body,
    }
}

/// Asserts a 401 `invalid_token` that does not leak the token.
fn assert_invalid_token(answer: &Answer, token: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let challenge = answer.challenge.as_deref().unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("error_description="), "{challenge}");
    assert_eq!(answer.json()["error"], "invalid_token");
    assert!(answer.json()["error_description"].is_string());
    assert_no_token_leak(token, &answer.headers, &answer.body);
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_typed_claims() {
    let (url, _) = serve_default().await;
    let answer = get_with(&format!("{url}/me"), Some(&token("alice", &["user"]))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"sub": "alice", "roles": ["user"]}));
}

#[tokio::test]
async fn missing_token_is_401_with_a_realm_challenge_and_no_error_code() {
    let (url, _) = serve_default().await;
    let answer = get_with(&format!("{url}/me"), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge.as_deref(), Some(r#"Bearer realm="tests""#));
    assert!(answer.json()["error_description"].is_string());
}

#[tokio::test]
async fn bad_tokens_are_401_invalid_token_and_never_500() {
    let (url, _) = serve_default().await;
    let now = now();
    let mut expired = claims("alice", &[]);
    expired["exp"] = json!(now - 3600);
    let mut early = claims("alice", &[]);
    early["nbf"] = json!(now + 3600);
    let mut no_iss = claims("alice", &[]);
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut no_aud = claims("alice", &[]);
    no_aud.as_object_mut().unwrap().remove("aud");
    let good = token("alice", &[]);
    let tampered = {
        let (head, _) = good.rsplit_once('.').unwrap();
        format!("{head}.{}", "A".repeat(43))
    };
    let huge = {
        let mut c = claims("alice", &[]);
        c["padding"] = json!("x".repeat(20 * 1024));
        mint(&c)
    };
    let cases = [
        ("expired", mint(&expired)),
        ("nbf an hour ahead", mint(&early)),
        ("no iss", mint(&no_iss)),
        ("no aud", mint(&no_aud)),
        ("tampered signature", tampered),
        ("20 KB token", huge),
        (
            "unknown crit",
            mint_raw(
                r#"{"alg":"HS256","crit":["urn:x"],"urn:x":1}"#,
                &claims("alice", &[]).to_string(),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none"}"#),
                b64(&claims("alice", &[]).to_string())
            ),
        ),
        ("garbage", "not-a-token".to_owned()),
        ("three dots", "a.b.c.d".to_owned()),
    ];
    for (name, token) in cases {
        let answer = get_with(&format!("{url}/me"), Some(&token)).await;
        assert_invalid_token(&answer, &token);
        eprintln!("{name}: {}", answer.json()["error_description"]);
    }
}

#[tokio::test]
async fn hs512_token_on_an_hs256_key_is_refused() {
    let (url, _) = serve_default().await;
    let hs512 = jwt_guard::SigningKey::hmac(jwt_guard::Algorithm::HS512, SECRET)
        .unwrap()
        .sign("JWT", &claims("alice", &[]))
        .unwrap();
    assert_invalid_token(&get_with(&format!("{url}/me"), Some(&hs512)).await, &hs512);
}

#[tokio::test]
async fn two_authorization_headers_or_an_empty_token_are_400_invalid_request() {
    let (url, _) = serve_default().await;
    let token = token("alice", &[]);
    let two = client()
        .get(format!("{url}/me"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"));
    let answer = answer(two).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer
            .challenge
            .as_deref()
            .unwrap()
            .contains(r#"error="invalid_request""#)
    );
    assert_eq!(answer.json()["error"], "invalid_request");

    let empty = client()
        .get(format!("{url}/me"))
        .header(AUTHORIZATION, "Bearer ");
    let answer = self::answer(empty).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let (url, _) = serve_default().await;
    let token = token("alice", &[]);
    let request = client()
        .get(format!("{url}/me"))
        .header(AUTHORIZATION, format!("bEaReR {token}"));
    assert_eq!(answer(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_role_is_403_insufficient_scope_naming_the_scope() {
    let (url, _) = serve_default().await;
    let user = token("bob", &["user"]);
    let answer = get_with(&format!("{url}/admin"), Some(&user)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.challenge.as_deref().unwrap();
    assert!(challenge.contains(r#"error="insufficient_scope""#));
    assert!(challenge.contains(r#"scope="admin""#));
    assert_eq!(answer.json()["error"], "insufficient_scope");

    let admin = token("alice", &["admin"]);
    assert_eq!(
        get_with(&format!("{url}/admin"), Some(&admin)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn permission_guard_reads_permissions_and_scope() {
    let (url, _) = serve_default().await;
    let mut with_scope = claims("carol", &[]);
    with_scope["scope"] = json!("docs:read docs:write");
    let mut with_array = claims("dave", &[]);
    with_array["permissions"] = json!(["docs:write"]);
    let mut without = claims("erin", &[]);
    without["scope"] = json!("docs:read");
    for (claims, status) in [
        (with_scope, StatusCode::OK),
        (with_array, StatusCode::OK),
        (without, StatusCode::FORBIDDEN),
    ] {
        let answer = get_with(&format!("{url}/docs"), Some(&mint(&claims))).await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
}

#[tokio::test]
async fn route_layer_guard_refuses_without_the_role() {
    let guarded = Router::new()
        .route("/ops", get(|| async { "ops" }))
        .route_layer(RequireLayer::<StandardClaims>::any_role(["ops", "admin"]))
        .layer(JwtLayer::<StandardClaims>::new(validator()));
    let url = serve(guarded).await;
    let answer = get_with(&format!("{url}/ops"), Some(&token("bob", &["user"]))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.challenge.unwrap().contains(r#"scope="ops admin""#));
    let answer = get_with(&format!("{url}/ops"), Some(&token("olga", &["ops"]))).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = get_with(&format!("{url}/ops"), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn optional_auth_lets_anonymous_through_but_refuses_bad_tokens() {
    let layer = JwtLayer::<StandardClaims>::builder(validator())
        .optional(true)
        .build();
    let url = serve_with(layer).await;
    let anonymous = get_with(&format!("{url}/public"), None).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    let named = get_with(&format!("{url}/public"), Some(&token("alice", &[]))).await;
    assert_eq!(
        (named.status, named.body.as_str()),
        (StatusCode::OK, "alice")
    );
    let mut expired = claims("alice", &[]);
    expired["exp"] = json!(now() - 3600);
    let bad = mint(&expired);
    assert_invalid_token(&get_with(&format!("{url}/public"), Some(&bad)).await, &bad);
    // A handler that requires claims still answers 401 to an anonymous request.
    let me = get_with(&format!("{url}/me"), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.challenge.as_deref(), Some(r#"Bearer realm="api""#));
}

#[tokio::test]
async fn claims_extractor_without_the_layer_is_a_500_that_names_nothing_internal() {
    // The fix is logged at error (tests/it/logs.rs); the client learns
    // nothing of the application's types.
    let url = serve(routes()).await;
    let answer = get_with(&format!("{url}/me"), Some(&token("alice", &[]))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.json()["error"], "server_error");
    for internal in ["JwtLayer", "StandardClaims", "jwt_guard"] {
        assert!(!answer.body.contains(internal), "{}", answer.body);
    }
}

#[tokio::test]
async fn cookie_and_query_sources_work_only_when_enabled() {
    let token = token("alice", &[]);
    let plain = serve_with(JwtLayer::new(validator())).await;
    let cookie_request = |url: &str| {
        client()
            .get(format!("{url}/me"))
            .header("cookie", format!("theme=dark; access_token={token}"))
    };
    assert_eq!(
        answer(cookie_request(&plain)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with(&format!("{plain}/me?access_token={token}"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let layer = JwtLayer::<StandardClaims>::builder(validator())
        .cookie("access_token")
        .query_param("access_token")
        .build();
    let url = serve_with(layer).await;
    assert_eq!(answer(cookie_request(&url)).await.status, StatusCode::OK);
    assert_eq!(
        get_with(&format!("{url}/me?access_token={token}"), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoked_token_is_refused_even_when_cached() {
    let (url, store) = serve_default().await;
    let token = token("alice", &[]);
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&token)).await.status,
        StatusCode::OK
    );
    revoke(&store, &token).await;
    let answer = get_with(&format!("{url}/me"), Some(&token)).await;
    assert_invalid_token(&answer, &token);
    assert_eq!(
        answer.json()["error_description"],
        "the token has been revoked"
    );
}

#[tokio::test]
async fn logout_everywhere_refuses_older_tokens_of_the_subject_only() {
    let (url, store) = serve_default().await;
    let mut old = claims("alice", &[]);
    old["iat"] = json!(now() - 10);
    let old = mint(&old);
    let bob = token("bob", &[]);
    store
        .revoke_subject("alice", SystemTime::now())
        .await
        .unwrap();
    assert_invalid_token(&get_with(&format!("{url}/me"), Some(&old)).await, &old);
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&bob)).await.status,
        StatusCode::OK
    );
    let mut fresh = claims("alice", &[]);
    fresh["iat"] = json!(now() + 1);
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&mint(&fresh)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_without_a_usable_jti_can_still_be_revoked_on_their_own() {
    let layer = JwtLayer::<StandardClaims>::new(validator());
    let revoker = layer.revoker();
    let url = serve_with(layer).await;
    // No `jti`, and an empty one: both get an id derived from the token.
    for edit in [
        |c: &mut serde_json::Value| drop(c.as_object_mut().unwrap().remove("jti")),
        |c: &mut serde_json::Value| c["jti"] = json!(""),
    ] {
        let mut no_jti = claims("alice", &[]);
        edit(&mut no_jti);
        let token = mint(&no_jti);
        assert_eq!(
            get_with(&format!("{url}/me"), Some(&token)).await.status,
            StatusCode::OK
        );
        let verified = validator().validate::<StandardClaims>(&token).unwrap();
        assert!(verified.registered().token_id().starts_with("sha256:"));
        revoker.revoke_token(verified.registered()).await.unwrap();
        assert_invalid_token(&get_with(&format!("{url}/me"), Some(&token)).await, &token);
        // Another token of the same subject, also without a usable jti, is untouched.
        let mut other = no_jti.clone();
        other["exp"] = json!(now() + 301);
        assert_eq!(
            get_with(&format!("{url}/me"), Some(&mint(&other)))
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn cached_token_is_refused_once_it_expires() {
    let validator = validator_builder().leeway(Duration::ZERO).build().unwrap();
    let url = serve_with(JwtLayer::new(validator)).await;
    let mut short = claims("alice", &[]);
    short["exp"] = json!(now() + 2);
    let token = mint(&short);
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&token)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let answer = get_with(&format!("{url}/me"), Some(&token)).await;
    assert_invalid_token(&answer, &token);
    assert_eq!(answer.json()["error_description"], "the token has expired");
}

/// A store that answers after a round trip, counting its lookups.
#[derive(Clone, Default)]
struct SlowStore {
    inner: MemoryStore,
    lookups: Arc<AtomicUsize>,
    fail: bool,
}

impl RevocationStore for SlowStore {
    fn check(&self, token: &TokenRef<'_>) -> Lookup {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let answer = match self.inner.check(token) {
            Lookup::Ready(answer) => answer,
            _ => unreachable!("the memory store answers at once"),
        };
        let fail = self.fail;
        Lookup::Pending(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if fail {
                Err(StoreError::new(StoreErrorKind::Timeout))
            } else {
                answer
            }
        }))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        sub: Option<&'a str>,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.revoke_token(jti, sub, until)
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        before: SystemTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.revoke_subject(sub, before)
    }
}

#[tokio::test]
async fn unreachable_store_answers_503_with_retry_after_by_default() {
    let url = serve_with(
        JwtLayer::<StandardClaims>::builder(validator())
            .store(FailingStore)
            .build(),
    )
    .await;
    let token = token("alice", &[]);
    let answer = get_with(&format!("{url}/me"), Some(&token)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key(RETRY_AFTER));
    assert_no_token_leak(&token, &answer.headers, &answer.body);
}

#[tokio::test]
async fn fail_open_is_an_explicit_opt_in() {
    let layer = JwtLayer::<StandardClaims>::builder(validator())
        .store(FailingStore)
        .fail_open(true)
        .build();
    let url = serve_with(layer).await;
    let answer = get_with(&format!("{url}/me"), Some(&token("alice", &[]))).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn forged_tokens_never_reach_the_store() {
    let store = SlowStore::default();
    let lookups = store.lookups.clone();
    let url = serve_with(
        JwtLayer::<StandardClaims>::builder(validator())
            .store(store)
            .build(),
    )
    .await;
    let good = token("alice", &[]);
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(43));
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&forged)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(lookups.load(Ordering::SeqCst), 0);
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&good)).await.status,
        StatusCode::OK
    );
    assert_eq!(lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn asynchronous_store_answers_gate_the_request() {
    let store = SlowStore::default();
    let url = serve_with(
        JwtLayer::<StandardClaims>::builder(validator())
            .store(store.clone())
            .build(),
    )
    .await;
    let token = token("alice", &[]);
    assert_eq!(
        get_with(&format!("{url}/me"), Some(&token)).await.status,
        StatusCode::OK
    );
    revoke(&store, &token).await;
    assert_invalid_token(&get_with(&format!("{url}/me"), Some(&token)).await, &token);

    let failing = SlowStore {
        fail: true,
        ..SlowStore::default()
    };
    let url = serve_with(
        JwtLayer::<StandardClaims>::builder(validator())
            .store(failing)
            .build(),
    )
    .await;
    let answer = get_with(&format!("{url}/me"), Some(&token)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key(RETRY_AFTER));
}

#[tokio::test]
async fn grpc_requests_get_grpc_status_instead_of_http_errors() {
    let store = MemoryStore::new();
    let app = routes().layer(
        JwtLayer::<StandardClaims>::builder(validator())
            .store(store)
            .build(),
    );
    let url = serve(app).await;
    let grpc = |token: Option<String>, path: &str| {
        let mut request = client()
            .post(format!("{url}{path}"))
            .header("content-type", "application/grpc");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        request
    };
    let answer = answer(grpc(None, "/me")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["grpc-status"], "16");
    let answer = self::answer(grpc(Some("junk".into()), "/me")).await;
    assert_eq!(answer.headers["grpc-status"], "16");

    let url_fail = serve(
        routes().layer(
            JwtLayer::<StandardClaims>::builder(validator())
                .store(FailingStore)
                .build(),
        ),
    )
    .await;
    let answer = self::answer(
        client()
            .post(format!("{url_fail}/me"))
            .header("content-type", "application/grpc+proto")
            .header(AUTHORIZATION, format!("Bearer {}", token("alice", &[]))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["grpc-status"], "14");
}

#[tokio::test]
async fn rejection_response_can_be_replaced() {
    let layer = JwtLayer::<StandardClaims>::builder(validator())
        .on_rejection(|error: &AuthError, _headers: &http::HeaderMap| {
            let mut response =
                http::Response::new(Bytes::from(format!("custom: {:?}", error.kind())));
            *response.status_mut() = error.status();
            response
        })
        .build();
    let url = serve_with(layer).await;
    let answer = get_with(&format!("{url}/me"), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body, "custom: MissingToken");
    let forbidden = get_with(&format!("{url}/admin"), Some(&token("bob", &[]))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.body, "custom: InsufficientScope");
}

#[tokio::test]
async fn rejection_carries_the_error_in_response_extensions() {
    use tower::ServiceExt;
    let app = routes().layer(JwtLayer::<StandardClaims>::new(validator()));
    let response = app
        .oneshot(
            http::Request::get("/me")
                .header("authorization", "Bearer x.y.z")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let error = response.extensions().get::<AuthError>().unwrap();
    assert_eq!(error.kind(), AuthErrorKind::Malformed);
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Revokes `token` in `store` for ten minutes, as a logout would.
async fn revoke(store: &dyn RevocationStore, token: &str) {
    let verified = validator().validate::<StandardClaims>(token).unwrap();
    store
        .revoke_token(
            verified.registered().token_id(),
            verified.registered().sub(),
            SystemTime::now() + Duration::from_secs(600),
        )
        .await
        .unwrap();
}

/// gyan-ghar's claims, as a user would first write their type.
#[derive(Clone, serde::Deserialize)]
struct GyanGharClaims {
    id: String,
    #[allow(dead_code, reason = "deserialized to check its presence, never read")]
    email: String,
    role: String,
}

#[tokio::test]
async fn custom_claims_that_do_not_fit_name_the_claim_and_type_never_the_value() {
    let url = serve(
        Router::new()
            .route(
                "/me",
                get(|c: Claims<GyanGharClaims>| async move { format!("{} {}", c.id, c.role) }),
            )
            .layer(JwtLayer::<GyanGharClaims>::new(validator())),
    )
    .await;
    let shaped = |edit: Value| {
        let mut claims = claims("u1", &[]);
        claims["id"] = json!("u1");
        claims["email"] = json!("asha@example.in");
        claims["role"] = json!("admin");
        for (name, value) in edit.as_object().unwrap() {
            claims[name] = value.clone();
        }
        mint(&claims)
    };
    let ok = get_with(&format!("{url}/me"), Some(&shaped(json!({})))).await;
    assert_eq!((ok.status, ok.body.as_str()), (StatusCode::OK, "u1 admin"));
    for (edit, why) in [
        (
            json!({"role": ["secret-admin"]}),
            "the `role` claim: expected a string, found an array",
        ),
        (
            json!({"id": 424_242}),
            "the `id` claim: expected a string, found an integer",
        ),
        (
            json!({"email": null}),
            "the `email` claim: expected a string, found null",
        ),
    ] {
        let token = shaped(edit);
        let answer = get_with(&format!("{url}/me"), Some(&token)).await;
        assert_invalid_token(&answer, &token);
        let description = answer.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            description,
            format!("the token's claims do not have the expected shape: {why}")
        );
        assert!(answer.challenge.as_deref().unwrap().contains(why));
        assert!(!answer.body.contains("secret") && !answer.body.contains("424"));
    }
}
