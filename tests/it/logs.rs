//! Every rejection is logged once at debug with its reason, and no log line
//! (at any level) contains the token or its signature.

use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use jwt_guard::{Claims, JwtLayer, RequireRole, StandardClaims};
use serde_json::json;
use tower::ServiceExt;

jwt_guard::role!(Admin = "admin");

async fn call(app: &Router, token: &str, path: &str) -> http::StatusCode {
    let request = http::Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

/// Runs `work` on a runtime of this thread with every event and span
/// captured; returns what was logged.
fn logged(work: impl std::future::Future<Output = ()>) -> String {
    let captured = Captured::default();
    tracing::subscriber::with_default(captured.subscriber(), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work);
    });
    captured.text()
}

#[test]
fn rejections_are_logged_with_reason_and_subject_but_never_the_token() {
    let mut expired = claims("alice", &[]);
    expired["exp"] = json!(now() - 3600);
    let expired = mint(&expired);
    let valid_user = token("bob", &["user"]);
    let (head, _) = valid_user.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(43));
    let mut duplicate = claims("carol", &[]).to_string();
    duplicate.insert_str(1, r#""sub":"mallory","#);
    let duplicate = mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &duplicate);

    let logs = logged(async {
        let app = Router::new()
            .route(
                "/me",
                get(|c: Claims<StandardClaims>| async move { c.sub.clone() }),
            )
            .route("/admin", get(|_: RequireRole<Admin>| async { "admin" }))
            .layer(JwtLayer::<StandardClaims>::new(validator()));
        assert_eq!(call(&app, &expired, "/me").await, 401);
        assert_eq!(call(&app, &forged, "/me").await, 401);
        assert_eq!(call(&app, &duplicate, "/me").await, 401);
        assert_eq!(call(&app, &valid_user, "/admin").await, 403);
        assert_eq!(call(&app, &valid_user, "/me").await, 200);
    });

    assert_eq!(
        logs.matches("jwt-guard rejected a request").count(),
        4,
        "{logs}"
    );
    assert!(logs.contains("reason=Expired"), "{logs}");
    assert!(logs.contains("reason=InvalidSignature"), "{logs}");
    assert!(logs.contains("reason=Malformed"), "{logs}");
    assert!(logs.contains("reason=InsufficientScope"), "{logs}");
    assert!(logs.contains(r#"sub="alice""#), "{logs}");
    assert!(logs.contains(r#"sub="bob""#), "{logs}");
    for token in [&expired, &forged, &duplicate, &valid_user] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(token.as_str()), "a log line holds a token");
        assert!(!logs.contains(signature), "a log line holds a signature");
        let payload = token.split('.').nth(1).unwrap();
        assert!(
            !logs.contains(payload),
            "a log line holds a token's payload"
        );
    }
}

/// Claims types of this test only, so that what is logged "once" was not
/// logged by another test of this binary first: one a layer verifies, one
/// that no layer of this process ever does.
#[derive(Clone, serde::Deserialize)]
struct OrderClaims {
    #[allow(dead_code, reason = "deserialized, never read: only its type matters")]
    sub: String,
}

#[derive(Clone, serde::Deserialize)]
struct UnlayeredClaims {
    #[allow(dead_code, reason = "never deserialized: only its type matters")]
    sub: String,
}

impl jwt_guard::HasRoles for UnlayeredClaims {
    fn has_role(&self, _: &str) -> bool {
        false
    }
}

#[test]
fn a_guard_of_another_claims_type_is_a_generic_500_logged_once_at_error_naming_both_types() {
    let token = token("alice", &["admin"]);
    let logs = logged(async {
        // The layer verifies `OrderClaims`; the guard asks for a type
        // no layer verifies. And a route outside the layer.
        let app = Router::new()
            .route(
                "/admin",
                get(|_: RequireRole<Admin, UnlayeredClaims>| async { "admin" }),
            )
            .layer(JwtLayer::<OrderClaims>::new(validator()))
            .route("/bare", get(|_: Claims<OrderClaims>| async { "never" }));
        for path in ["/admin", "/admin", "/bare", "/bare"] {
            let request = http::Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 500, "{path}");
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                body,
                json!({
                    "error": "server_error",
                    "error_description": "the server could not authenticate the request",
                }),
                "{path}"
            );
        }
        // Anonymous behind an optional layer is the client's case (401),
        // whatever types the extractor and the layer name.
        let optional = Router::new()
            .route(
                "/admin",
                get(|_: RequireRole<Admin, UnlayeredClaims>| async { "admin" }),
            )
            .layer(
                JwtLayer::<OrderClaims>::builder(validator())
                    .optional(true)
                    .build(),
            );
        let request = http::Request::get("/admin").body(Body::empty()).unwrap();
        let response = optional.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 401);
    });
    let errors: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains("jwt-guard is misconfigured"))
        .collect();
    assert_eq!(errors.len(), 2, "once per mistake: {logs}");
    assert!(
        errors[0].contains("asks for claims of type `it::logs::UnlayeredClaims`")
            && errors[0].contains("`it::logs::OrderClaims`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("no verified claims of type `it::logs::OrderClaims`"),
        "{}",
        errors[1]
    );
}
