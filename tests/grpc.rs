//! The same layer wraps a tonic server: a real gRPC client against the
//! standard health service, over loopback.

mod common;

use common::*;
use jwt_guard::{JwtLayer, RequireLayer, StandardClaims};
use tonic::Code;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::ServiceBuilder;

/// Serves the health service behind the layer and a role guard for `ops`.
async fn serve_health() -> String {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layers = ServiceBuilder::new()
        .layer(JwtLayer::<StandardClaims>::new(validator()))
        .layer(RequireLayer::<StandardClaims>::any_role(["ops"]))
        .into_inner();
    tokio::spawn(async move {
        Server::builder()
            .layer(layers)
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

async fn check(url: &str, token: Option<&str>) -> Result<ServingStatus, tonic::Status> {
    let channel = Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let response = HealthClient::new(channel).check(request).await?;
    Ok(response.into_inner().status())
}

#[tokio::test]
async fn grpc_without_token_is_unauthenticated() {
    let url = serve_health().await;
    let status = check(&url, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

#[tokio::test]
async fn grpc_with_invalid_token_is_unauthenticated_without_leaking_it() {
    let url = serve_health().await;
    let mut expired = claims("olga", &["ops"]);
    expired["exp"] = serde_json::json!(now() - 3600);
    let token = mint(&expired);
    let status = check(&url, Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the token has expired");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!format!("{status:?}").contains(signature));
}

#[tokio::test]
async fn grpc_without_the_role_is_permission_denied() {
    let url = serve_health().await;
    let status = check(&url, Some(&token("bob", &["user"])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

#[tokio::test]
async fn grpc_with_the_role_reaches_the_service() {
    let url = serve_health().await;
    let status = check(&url, Some(&token("olga", &["ops"]))).await.unwrap();
    assert_eq!(status, ServingStatus::Serving);
}
