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

#[test]
fn rejections_are_logged_with_reason_and_subject_but_never_the_token() {
    let captured = Captured::default();
    let subscriber = captured.subscriber();

    let mut expired = claims("alice", &[]);
    expired["exp"] = json!(now() - 3600);
    let expired = mint(&expired);
    let valid_user = token("bob", &["user"]);
    let (head, _) = valid_user.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(43));
    let mut duplicate = claims("carol", &[]).to_string();
    duplicate.insert_str(1, r#""sub":"mallory","#);
    let duplicate = mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &duplicate);

    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
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
    });

    let logs = captured.text();
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
