//! The same layer wraps a tonic server: a real gRPC client against the
//! standard health service and a hand-written service, over loopback.
//! Guards per server, per service (one among several), and per method (the
//! `RequestClaimsExt` helpers in handlers).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::support::*;
use jwt_guard::grpc::RequestClaimsExt;
use jwt_guard::{AnyOf, JwtLayer, RequireLayer, StandardClaims};
use tonic::Code;
use tonic::server::NamedService;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_prost::ProstCodec;
use tower::{Layer, Service, ServiceBuilder};

jwt_guard::role!(Admin = "admin");
jwt_guard::role!(Ops = "ops");
jwt_guard::permission!(WriteDocs = "docs:write");

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

// A second service, `test.Accounts`, written by hand as tonic's code
// generator would write it, whose handlers use the `RequestClaimsExt`
// helpers. Its messages reuse `HealthCheckRequest` (one string field).

type Message = HealthCheckRequest;
type Handler = fn(&tonic::Request<Message>) -> Result<String, tonic::Status>;

/// `Whoami`: any valid token.
fn whoami(request: &tonic::Request<Message>) -> Result<String, tonic::Status> {
    Ok(request.claims::<StandardClaims>()?.sub.clone())
}

/// `Greet`: anyone; names the caller when a valid token came.
fn greet(request: &tonic::Request<Message>) -> Result<String, tonic::Status> {
    Ok(match request.optional_claims::<StandardClaims>()? {
        Some(claims) => format!("hello {}", claims.sub),
        None => "hello stranger".to_owned(),
    })
}

/// `Delete`: role `admin`.
fn delete(request: &tonic::Request<Message>) -> Result<String, tonic::Status> {
    let admin = request.require_role::<Admin, StandardClaims>()?;
    Ok(format!("deleted by {}", admin.sub))
}

/// `Dashboard`: role `admin` or `ops`.
fn dashboard(request: &tonic::Request<Message>) -> Result<String, tonic::Status> {
    let user = request.require_role::<AnyOf<(Admin, Ops)>, StandardClaims>()?;
    Ok(format!("dashboard for {}", user.sub))
}

/// `Write`: permission `docs:write`.
fn write(request: &tonic::Request<Message>) -> Result<String, tonic::Status> {
    request.require_permission::<WriteDocs, StandardClaims>()?;
    Ok("written".to_owned())
}

#[derive(Clone)]
struct Accounts;

impl NamedService for Accounts {
    const NAME: &'static str = "test.Accounts";
}

impl Service<http::Request<tonic::body::Body>> for Accounts {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let handler: Handler = match request.uri().path() {
            "/test.Accounts/Whoami" => whoami,
            "/test.Accounts/Greet" => greet,
            "/test.Accounts/Delete" => delete,
            "/test.Accounts/Dashboard" => dashboard,
            "/test.Accounts/Write" => write,
            _ => return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) }),
        };
        let method = tower::service_fn(move |request: tonic::Request<Message>| {
            std::future::ready(
                handler(&request).map(|service| tonic::Response::new(Message { service })),
            )
        });
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Message, Message>::default());
            Ok(grpc.unary(method, request).await)
        })
    }
}

async fn listen() -> (tokio_stream::wrappers::TcpListenerStream, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        url,
    )
}

async fn health_service()
-> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    health
}

/// One optional layer for the whole server; role `ops` for the health
/// service only; `test.Accounts` guarded per method by its handlers.
async fn serve_two_services() -> Channel {
    let health = health_service().await;
    let (incoming, url) = listen().await;
    let layer = JwtLayer::<StandardClaims>::builder(validator())
        .optional(true)
        .realm("grpc-test")
        .build();
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(RequireLayer::<StandardClaims>::new::<Ops>().layer(health))
            .add_service(Accounts)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    connect(&url).await
}

/// No layer for the server: the health service has its own `JwtLayer` and
/// role guard, `test.Accounts` has none.
async fn serve_with_a_layer_on_one_service() -> Channel {
    let health = health_service().await;
    let (incoming, url) = listen().await;
    let guarded = ServiceBuilder::new()
        .layer(JwtLayer::<StandardClaims>::new(validator()))
        .layer(RequireLayer::<StandardClaims>::new::<Ops>())
        .service(health);
    tokio::spawn(async move {
        Server::builder()
            .add_service(guarded)
            .add_service(Accounts)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    connect(&url).await
}

async fn connect(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn with_token<M>(message: M, token: Option<&str>) -> tonic::Request<M> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

async fn health(channel: &Channel, token: Option<&str>) -> Result<ServingStatus, tonic::Status> {
    let request = with_token(
        HealthCheckRequest {
            service: String::new(),
        },
        token,
    );
    let response = HealthClient::new(channel.clone()).check(request).await?;
    Ok(response.into_inner().status())
}

/// Calls `/test.Accounts/{method}`.
async fn accounts(
    channel: &Channel,
    method: &str,
    token: Option<&str>,
) -> Result<String, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = format!("/test.Accounts/{method}").parse().unwrap();
    let request = with_token(
        Message {
            service: String::new(),
        },
        token,
    );
    let response = grpc
        .unary(request, path, ProstCodec::<Message, Message>::default())
        .await?;
    Ok(response.into_inner().service)
}

/// Nothing of the token, in the message, the metadata or anywhere else.
fn assert_no_token_in(status: &tonic::Status, token: &str) {
    let signature = token.rsplit('.').next().unwrap();
    let shown = format!("{status:?} {}", status.message());
    assert!(!shown.contains(signature), "{shown}");
    assert!(!shown.contains(token), "{shown}");
}

#[tokio::test]
async fn service_guard_refuses_one_service_while_the_other_answers() {
    let channel = serve_two_services().await;
    let bob = token("bob", &["user"]);
    let status = health(&channel, Some(&bob)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_no_token_in(&status, &bob);
    assert_eq!(
        accounts(&channel, "Whoami", Some(&bob)).await.unwrap(),
        "bob"
    );
    let olga = token("olga", &["ops"]);
    assert_eq!(
        health(&channel, Some(&olga)).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn service_guard_refuses_an_anonymous_call_with_unauthenticated() {
    let channel = serve_two_services().await;
    let status = health(&channel, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "no bearer token in the request");
}

#[tokio::test]
async fn jwt_layer_on_one_service_guards_it_alone() {
    let channel = serve_with_a_layer_on_one_service().await;
    assert_eq!(
        health(&channel, None).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let bob = token("bob", &["user"]);
    assert_eq!(
        health(&channel, Some(&bob)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        health(&channel, Some(&token("olga", &["ops"])))
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    // The other service has no layer: its handler's helper refuses with
    // INTERNAL, and a message that names nothing of the server (the fix
    // is in its logs).
    let status = accounts(&channel, "Whoami", Some(&bob)).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_eq!(
        status.message(),
        "the server could not authenticate the request"
    );
    assert_no_token_in(&status, &bob);
}

#[tokio::test]
async fn claims_helper_answers_unauthenticated_for_an_anonymous_call() {
    let channel = serve_two_services().await;
    let status = accounts(&channel, "Whoami", None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "no bearer token in the request");
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="grpc-test""#
    );
    assert_eq!(
        accounts(&channel, "Whoami", Some(&token("alice", &[])))
            .await
            .unwrap(),
        "alice"
    );
}

#[tokio::test]
async fn optional_claims_helper_lets_anonymous_calls_through() {
    let channel = serve_two_services().await;
    assert_eq!(
        accounts(&channel, "Greet", None).await.unwrap(),
        "hello stranger"
    );
    assert_eq!(
        accounts(&channel, "Greet", Some(&token("bob", &[])))
            .await
            .unwrap(),
        "hello bob"
    );
}

#[tokio::test]
async fn optional_layer_still_refuses_an_invalid_token() {
    let channel = serve_two_services().await;
    let mut expired = claims("bob", &["admin"]);
    expired["exp"] = serde_json::json!(now() - 3600);
    let expired = mint(&expired);
    for method in ["Greet", "Whoami", "Delete"] {
        let status = accounts(&channel, method, Some(&expired))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{method}: {status:?}");
        assert_eq!(status.message(), "the token has expired");
        assert_no_token_in(&status, &expired);
    }
}

#[tokio::test]
async fn method_guard_refuses_a_missing_role_with_permission_denied() {
    let channel = serve_two_services().await;
    let bob = token("bob", &["user"]);
    let status = accounts(&channel, "Delete", Some(&bob)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.message(),
        "the token lacks a required role or permission"
    );
    let challenge = status.metadata().get("www-authenticate").unwrap();
    let challenge = challenge.to_str().unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="admin""#), "{challenge}");
    assert_no_token_in(&status, &bob);
    // Another method of the same service lets bob in.
    assert_eq!(
        accounts(&channel, "Whoami", Some(&bob)).await.unwrap(),
        "bob"
    );
}

#[tokio::test]
async fn method_guard_lets_the_role_through() {
    let channel = serve_two_services().await;
    assert_eq!(
        accounts(&channel, "Delete", Some(&token("alice", &["admin"])))
            .await
            .unwrap(),
        "deleted by alice"
    );
    assert_eq!(
        accounts(&channel, "Dashboard", Some(&token("olga", &["ops"])))
            .await
            .unwrap(),
        "dashboard for olga"
    );
    let status = accounts(&channel, "Dashboard", Some(&token("bob", &["user"])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn method_guard_for_an_anonymous_call_is_unauthenticated() {
    let channel = serve_two_services().await;
    let status = accounts(&channel, "Delete", None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

#[tokio::test]
async fn permission_guard_checks_the_permissions_claim() {
    let channel = serve_two_services().await;
    let mut writer = claims("wendy", &[]);
    writer["permissions"] = serde_json::json!(["docs:write"]);
    assert_eq!(
        accounts(&channel, "Write", Some(&mint(&writer)))
            .await
            .unwrap(),
        "written"
    );
    // A role of the same name is not the permission.
    let status = accounts(&channel, "Write", Some(&token("rolf", &["docs:write"])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}
